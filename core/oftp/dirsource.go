package oftp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// DirectoryOutbox offers every regular file of a directory to the partner, one virtual
// file each, named after the file (upper case, characters outside the OFTP set replaced).
// A file the partner accepted (EFPA) moves to Dir/sent; one it refused without retry
// (SFNA with retry N) moves to Dir/failed; anything else stays for the next session. Files whose name starts with "." are ignored, so writers can
// create them under a hidden name and rename them when complete.
type DirectoryOutbox struct {
	Dir string
	// Template supplies the fields of every OutgoingFile except DatasetName and Source
	// (format, record size, description, security).
	Template OutgoingFile

	// RetryDelay keeps a file that failed temporarily out of the following sessions for
	// this long, so a partner that keeps refusing it is not asked again at once (RFC 5024
	// §4.3.2 warns of SFID/SFNA loops). Default one minute.
	RetryDelay time.Duration
	// Clock defaults to time.Now.
	Clock func() time.Time

	mu      sync.Mutex
	pending map[string]time.Time // file name -> not before; handed out or waiting to retry
	paths   map[*OutboxItem]string
}

func (o *DirectoryOutbox) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

// Next implements Outbox.
func (o *DirectoryOutbox) Next(ctx context.Context) (*OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending == nil {
		o.pending = map[string]time.Time{}
		o.paths = map[*OutboxItem]string{}
	}
	now := o.now()
	entries, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("oftp: outbox: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if until, busy := o.pending[e.Name()]; busy && (until.IsZero() || now.Before(until)) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		path := filepath.Join(o.Dir, e.Name())
		f := o.Template
		f.DatasetName = DatasetNameFor(e.Name())
		f.Size = info.Size()
		f.OriginalSize = info.Size()
		f.Source = FileSource{Path: path, Format: f.Format, MaxRecordSize: f.MaxRecordSize}
		it := &OutboxItem{File: &f}
		o.pending[e.Name()] = time.Time{} // in flight until Done
		o.paths[it] = path
		return it, nil
	}
	return nil, nil
}

// Done implements Outbox.
func (o *DirectoryOutbox) Done(_ context.Context, item *OutboxItem, _ TransferResult, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	path, ok := o.paths[item]
	delete(o.paths, item)
	if !ok {
		return
	}
	name := filepath.Base(path)
	delete(o.pending, name)
	sub := "sent"
	if err != nil {
		var re *ReasonError
		// Only a refusal "do not retry" is final; EFNA, SFNA with retry and broken
		// sessions leave the file for a later session.
		if !errors.As(err, &re) || re.Cmd != "SFNA" || re.Retry {
			delay := o.RetryDelay
			if delay == 0 {
				delay = time.Minute
			}
			o.pending[name] = o.now().Add(delay)
			return
		}
		sub = "failed"
	}
	dir := filepath.Join(o.Dir, sub)
	if os.MkdirAll(dir, 0o750) == nil {
		_ = os.Rename(path, filepath.Join(dir, name))
	}
}

// DatasetNameFor derives a virtual file name from a local file name: upper case,
// characters outside the OFTP String set replaced by '-', at most 26 characters.
func DatasetNameFor(name string) string {
	b := []byte(strings.ToUpper(filepath.Base(name)))
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("/-.&()", c) >= 0:
		default:
			b[i] = '-'
		}
	}
	if len(b) > 26 {
		b = b[:26]
	}
	return string(b)
}
