package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// Journal file names in the state directory.
const (
	journalName = "pipeline.journal"
	lockName    = "pipeline.lock"
)

// maxJournalLine bounds one journal record; a longer line is corruption.
const maxJournalLine = 1 << 20

// DefaultReceivedRetention is how long the identity of a received file is kept for
// duplicate detection.
const DefaultReceivedRetention = 90 * 24 * time.Hour

// FileStore is a Store in a directory: an append-only journal of JSON lines (the ones
// that create obligations synced before the call returns), replayed at open and
// compacted when it has grown well beyond the live state. A lock file keeps a second connector off the directory.
type FileStore struct {
	mu      sync.Mutex
	dir     string
	f       *os.File
	lock    *os.File
	st      *state
	records int // lines in the journal
	now     func() time.Time
	keep    time.Duration
}

// FileStoreOptions tune a FileStore; the zero value is usable.
type FileStoreOptions struct {
	// Clock stamps records (default time.Now).
	Clock func() time.Time
	// ReceivedRetention bounds duplicate detection (DefaultReceivedRetention).
	ReceivedRetention time.Duration
}

type receivedRec struct {
	Object string    `json:"object"`
	At     time.Time `json:"at"`
}

type ownedKey struct {
	Partner string
	Key     FileKey
}

// state is the live content the journal describes.
type state struct {
	intents  map[FileKey]string // object names of files being received
	received map[FileKey]receivedRec
	owed     map[ownedKey]Owed
	expected map[FileKey]Expected
}

func newState() *state {
	return &state{intents: map[FileKey]string{}, received: map[FileKey]receivedRec{}, owed: map[ownedKey]Owed{}, expected: map[FileKey]Expected{}}
}

// record is one journal line.
type record struct {
	Op       string            `json:"op"`
	Key      *FileKey          `json:"key,omitempty"`
	Object   string            `json:"object,omitempty"`
	Partner  string            `json:"partner,omitempty"`
	Received *receivedRec      `json:"received,omitempty"`
	Owed     *Owed             `json:"owed,omitempty"`
	Expected *Expected         `json:"expected,omitempty"`
	Response *oftp.EndResponse `json:"response,omitempty"`
}

// Journal operations.
const (
	opReceiving = "receiving"
	opAborted   = "receiving-aborted"
	opReceived  = "received"
	opOwed      = "owed"
	opOwedSent  = "owed-sent"
	opExpect    = "expect"
	opAccepted  = "accepted"
	opUnexpect  = "unexpect"
	opRespond   = "respond"
	opSettled   = "settled"
)

// apply changes st by one record; it rejects records that lack their fields.
func (st *state) apply(r *record) error {
	switch r.Op {
	case opReceiving:
		if r.Key == nil || r.Object == "" {
			return errors.New("receiving record without key or object")
		}
		st.intents[*r.Key] = r.Object
	case opAborted:
		if r.Key == nil {
			return errors.New("receiving-aborted record without key")
		}
		delete(st.intents, *r.Key)
	case opReceived:
		if r.Key == nil || r.Received == nil {
			return errors.New("received record without key")
		}
		delete(st.intents, *r.Key)
		st.received[*r.Key] = *r.Received
		if r.Owed != nil {
			st.owed[ownedKey{r.Owed.Partner, r.Owed.Key}] = *r.Owed
		}
	case opOwed:
		if r.Owed == nil {
			return errors.New("owed record without response")
		}
		st.owed[ownedKey{r.Owed.Partner, r.Owed.Key}] = *r.Owed
	case opOwedSent:
		if r.Key == nil {
			return errors.New("owed-sent record without key")
		}
		delete(st.owed, ownedKey{r.Partner, *r.Key})
	case opExpect:
		if r.Expected == nil {
			return errors.New("expect record without file")
		}
		st.expected[r.Expected.Key] = *r.Expected
	case opAccepted:
		if r.Key == nil {
			return errors.New("accepted record without key")
		}
		if e, ok := st.expected[*r.Key]; ok {
			e.Accepted = true
			st.expected[*r.Key] = e
		}
	case opUnexpect:
		if r.Key == nil {
			return errors.New("unexpect record without key")
		}
		if e, ok := st.expected[*r.Key]; ok && e.Response == nil {
			delete(st.expected, *r.Key)
		}
	case opRespond:
		if r.Key == nil || r.Response == nil {
			return errors.New("respond record without key")
		}
		if e, ok := st.expected[*r.Key]; ok {
			resp := *r.Response
			e.Response = &resp
			st.expected[*r.Key] = e
		}
	case opSettled:
		if r.Key == nil {
			return errors.New("settled record without key")
		}
		delete(st.expected, *r.Key)
	default:
		return fmt.Errorf("unknown operation %q", r.Op)
	}
	return nil
}

// replay applies the journal in r to st and returns the number of records and the
// length of the well-formed prefix. A torn last line (a crash during an append) ends
// the replay without error; a bad line in the middle is corruption.
func replay(r io.Reader, st *state) (records int, good int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, rerr := readLine(br)
		if rerr == io.EOF && len(line) == 0 {
			return records, good, nil
		}
		torn := rerr == io.EOF // no final newline
		if rerr != nil && rerr != io.EOF {
			if errors.Is(rerr, errLineTooLong) {
				return records, good, fmt.Errorf("pipeline: journal record %d: %w", records+1, rerr)
			}
			return records, good, rerr
		}
		var rec record
		derr := json.Unmarshal(bytes.TrimSpace(line), &rec)
		if derr == nil {
			derr = st.apply(&rec)
		}
		if derr != nil {
			if torn {
				return records, good, nil
			}
			return records, good, fmt.Errorf("pipeline: journal record %d: %w", records+1, derr)
		}
		if torn {
			// A complete record without its newline: keep it, the next append adds one.
			return records + 1, good, nil
		}
		records++
		good += int64(len(line)) + 1
	}
}

var errLineTooLong = errors.New("record longer than 1 MiB")

// readLine reads one line without its newline, refusing lines above maxJournalLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxJournalLine+1 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

// OpenFileStore opens (creating it if needed) the store in dir.
func OpenFileStore(dir string, o FileStoreOptions) (*FileStore, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.ReceivedRetention <= 0 {
		o.ReceivedRetention = DefaultReceivedRetention
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("pipeline: state directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("pipeline: state lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("pipeline: state directory %s is in use by another connector: %w", dir, err)
	}
	s := &FileStore{dir: dir, lock: lock, st: newState(), now: o.Clock, keep: o.ReceivedRetention}
	path := filepath.Join(dir, journalName)
	if f, err := os.Open(path); err == nil {
		_, _, rerr := replay(f, s.st)
		f.Close()
		if rerr != nil {
			lock.Close()
			return nil, rerr
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("pipeline: journal: %w", err)
	}
	if err := s.compact(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// compact rewrites the journal as the live state (dropping received files older than
// the retention) and reopens it for appending. Called with mu held or before use.
func (s *FileStore) compact() error {
	cutoff := s.now().Add(-s.keep)
	for k, r := range s.st.received {
		if r.At.Before(cutoff) {
			delete(s.st.received, k)
		}
	}
	tmp := filepath.Join(s.dir, journalName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("pipeline: compact journal: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	n := 0
	var encErr error
	put := func(r *record) {
		if encErr == nil {
			encErr = enc.Encode(r)
			n++
		}
	}
	for _, k := range sortedKeys(s.st.received) {
		r := s.st.received[k]
		put(&record{Op: opReceived, Key: &k, Received: &r})
	}
	for _, k := range sortedKeys(s.st.intents) {
		put(&record{Op: opReceiving, Key: &k, Object: s.st.intents[k]})
	}
	for _, o := range s.sortedOwed("") {
		put(&record{Op: opOwed, Owed: &o})
	}
	for _, e := range s.sortedExpected() {
		put(&record{Op: opExpect, Expected: &e})
	}
	if encErr == nil {
		encErr = w.Flush()
	}
	if encErr == nil {
		encErr = f.Sync()
	}
	if cerr := f.Close(); encErr == nil {
		encErr = cerr
	}
	if encErr == nil {
		encErr = os.Rename(tmp, filepath.Join(s.dir, journalName))
	}
	if encErr == nil {
		encErr = syncDir(s.dir)
	}
	if encErr != nil {
		os.Remove(tmp)
		return fmt.Errorf("pipeline: compact journal: %w", encErr)
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, err = os.OpenFile(filepath.Join(s.dir, journalName), os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("pipeline: journal: %w", err)
	}
	s.records = n
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func sortedKeys[V any](m map[FileKey]V) []FileKey {
	keys := make([]FileKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func (s *FileStore) sortedOwed(partner string) []Owed {
	var out []Owed
	for k, o := range s.st.owed {
		if partner == "" || k.Partner == partner {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Key.String() < out[j].Key.String()
	})
	return out
}

func (s *FileStore) sortedExpected() []Expected {
	out := make([]Expected, 0, len(s.st.expected))
	for _, e := range s.st.expected {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Key.String() < out[j].Key.String()
	})
	return out
}

// durable tells the records that create an obligation (a file to answer, a response
// to send or to pass on) from those that only release one. Only the former are synced
// before the call returns: losing a release in a crash repeats a harmless step (an end
// response sent twice, a file offered again and answered SFNA 13), and the next synced
// record makes it durable anyway.
func durable(op string) bool {
	switch op {
	case opOwedSent, opAccepted, opUnexpect, opSettled, opAborted:
		return false
	}
	return true
}

// write appends r and applies it; see durable for when it syncs. Called with mu held.
func (s *FileStore) write(r *record) error {
	if s.f == nil {
		return errors.New("pipeline: store closed")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("pipeline: journal append: %w", err)
	}
	if durable(r.Op) {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("pipeline: journal sync: %w", err)
		}
	}
	if err := s.st.apply(r); err != nil {
		return err
	}
	s.records++
	live := len(s.st.intents) + len(s.st.received) + len(s.st.owed) + len(s.st.expected)
	if s.records > 2*live+1024 {
		return s.compact()
	}
	return nil
}

// Received implements Store.
func (s *FileStore) Received(_ context.Context, key FileKey) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.st.received[key]
	return ok, nil
}

// Receiving implements Store.
func (s *FileStore) Receiving(_ context.Context, key FileKey, object string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.st.intents[key]; ok {
		return prev, nil
	}
	return "", s.write(&record{Op: opReceiving, Key: &key, Object: object})
}

// ReceivingAborted implements Store.
func (s *FileStore) ReceivingAborted(_ context.Context, key FileKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.intents[key]; !ok {
		return nil
	}
	return s.write(&record{Op: opAborted, Key: &key})
}

// CommitReceived implements Store.
func (s *FileStore) CommitReceived(_ context.Context, key FileKey, object string, owed Owed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.received[key]; ok {
		return ErrDuplicate
	}
	if owed.Since.IsZero() {
		owed.Since = s.now()
	}
	return s.write(&record{Op: opReceived, Key: &key, Received: &receivedRec{Object: object, At: s.now()}, Owed: &owed})
}

// AddOwed implements Store.
func (s *FileStore) AddOwed(_ context.Context, owed Owed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if owed.Since.IsZero() {
		owed.Since = s.now()
	}
	return s.write(&record{Op: opOwed, Owed: &owed})
}

// Owed implements Store.
func (s *FileStore) Owed(_ context.Context, partner string) ([]Owed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if partner == "" {
		return nil, errors.New("pipeline: owed responses need a partner")
	}
	return s.sortedOwed(partner), nil
}

// OwedSent implements Store.
func (s *FileStore) OwedSent(_ context.Context, partner string, key FileKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.owed[ownedKey{partner, key}]; !ok {
		return nil
	}
	return s.write(&record{Op: opOwedSent, Partner: partner, Key: &key})
}

// Expect implements Store.
func (s *FileStore) Expect(_ context.Context, e Expected) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.st.expected[e.Key]; ok && prev.Response != nil {
		return nil // the answer is in already
	}
	if e.Since.IsZero() {
		e.Since = s.now()
	}
	return s.write(&record{Op: opExpect, Expected: &e})
}

// Accepted implements Store.
func (s *FileStore) Accepted(_ context.Context, key FileKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.st.expected[key]; !ok || e.Accepted {
		return nil
	}
	return s.write(&record{Op: opAccepted, Key: &key})
}

// Unexpect implements Store.
func (s *FileStore) Unexpect(_ context.Context, key FileKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.st.expected[key]; !ok || e.Response != nil {
		return nil
	}
	return s.write(&record{Op: opUnexpect, Key: &key})
}

// Respond implements Store.
func (s *FileStore) Respond(_ context.Context, er oftp.EndResponse) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := keyOfResponse(&er)
	e, ok := s.st.expected[key]
	if !ok {
		return false, nil
	}
	if e.Response != nil {
		return true, nil
	}
	return true, s.write(&record{Op: opRespond, Key: &key, Response: &er})
}

// Settled implements Store.
func (s *FileStore) Settled(_ context.Context, key FileKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.expected[key]; !ok {
		return nil
	}
	return s.write(&record{Op: opSettled, Key: &key})
}

// ExpectedFile implements Store.
func (s *FileStore) ExpectedFile(_ context.Context, key FileKey) (Expected, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.st.expected[key]
	return e, ok, nil
}

// ExpectedFiles implements Store.
func (s *FileStore) ExpectedFiles(context.Context) ([]Expected, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedExpected(), nil
}

// Close releases the journal and the directory lock.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.f != nil {
		err = s.f.Close()
		s.f = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
	return err
}
