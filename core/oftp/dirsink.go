package oftp

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PartialDirName is the directory inside the download directory that holds files while
// they are received, when no TempDir is set.
const PartialDirName = ".oftp-partial"

// DirectoryReceiver is the built-in Receiver: it accepts every file and stores it in a
// download directory. Data goes to a temporary file in TempDir first; Commit syncs it and
// moves it into place atomically, so a file in Dir is always complete. Without Overwrite
// an existing file is never replaced (create-only, by hard link).
//
// NameFormat may use the macros of the seed reference: %VirtualFileName%,
// %VirtualFileDate% (default layout yyyyMMddHHmmssffff, or %VirtualFileDate:LAYOUT% with
// yyyy yy MM dd HH mm ss and f..ffff for the counter), %Originator%, %Destination%,
// %UserData%, %CurrentTime% (yyyyMMddHHmmss) and %GUID%. The expanded name is one file
// name: path separators and other unsafe characters become "_".
//
// Interrupted transfers keep their partial data in TempDir (default: the hidden
// PartialDirName directory inside Dir) when restart was agreed; a later SFID for the same
// file (originator, name, date, time) resumes from it.
type DirectoryReceiver struct {
	Dir           string
	TempDir       string
	NameFormat    string
	Overwrite     bool
	DeleteOnError bool
	Clock         func() time.Time
	Rand          io.Reader
}

// Accept implements Receiver.
func (d *DirectoryReceiver) Accept(ctx context.Context, f *IncomingFile) (Decision, error) {
	dir := d.Dir
	if dir == "" {
		dir = "."
	}
	tmpDir := d.TempDir
	if tmpDir == "" {
		// A hidden directory next to the files: same file system for the atomic move,
		// and no partial file among the received ones.
		tmpDir = filepath.Join(dir, PartialDirName)
	}
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return Decision{}, &ReasonError{Code: ReasonAccessMethodFailure, Retry: true, Err: err}
	}
	name, err := d.FileName(f)
	if err != nil {
		return Decision{}, &ReasonError{Code: ReasonInvalidFilename, Err: err}
	}
	final := filepath.Join(dir, name)
	if !d.Overwrite {
		if _, err := os.Lstat(final); err == nil {
			return Decision{}, &ReasonError{Code: ReasonDuplicateFile, Text: "file exists in download directory",
				Err: fmt.Errorf("%s exists", final)}
		}
	}
	id := sha256.Sum256([]byte(f.Originator + "\x00" + f.DatasetName + "\x00" + f.Stamp.Date + f.Stamp.Time))
	tmp := filepath.Join(tmpDir, ".oftp-"+hex.EncodeToString(id[:12])+".part")
	sink := &dirSink{tmp: tmp, final: final, overwrite: d.Overwrite, deleteOnError: d.DeleteOnError}
	if d.TempDir == "" {
		sink.ownDir = tmpDir
	}
	var dec Decision
	if f.RestartPosition > 0 {
		pos, octets, size, err := resumePoint(tmp, f)
		if err == nil && pos > 0 {
			fh, err := os.OpenFile(tmp, os.O_WRONLY, 0)
			if err == nil {
				if err = fh.Truncate(size); err == nil {
					_, err = fh.Seek(size, io.SeekStart)
				}
				if err == nil {
					sink.f = fh
					dec.RestartPosition, dec.RestartOctets = pos, octets
				} else {
					fh.Close()
				}
			}
		}
	}
	if sink.f == nil {
		fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return Decision{}, &ReasonError{Code: ReasonAccessMethodFailure, Retry: true, Err: err}
		}
		sink.f = fh
	}
	dec.Sink = sink
	return dec, nil
}

// resumePoint finds how much of a partial file can be kept: whole 1 KiB blocks for
// unstructured files, whole records for F, and whole CR-LF terminated records for V.
// It returns the restart position, the record octets before it and the file length to
// keep.
func resumePoint(tmp string, f *IncomingFile) (pos, octets, size int64, err error) {
	st, err := os.Stat(tmp)
	if err != nil {
		return 0, 0, 0, err
	}
	have := st.Size()
	switch {
	case f.Unstructured():
		pos = min(have/1024, f.RestartPosition)
		return pos, pos * 1024, pos * 1024, nil
	case f.Format == FormatFixed:
		pos = min(have/int64(f.MaxRecordSize), f.RestartPosition)
		size = pos * int64(f.MaxRecordSize)
		return pos, size, size, nil
	}
	// V: records end with CR-LF; count them up to the proposal.
	fh, err := os.Open(tmp)
	if err != nil {
		return 0, 0, 0, err
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 64<<10)
	var off int64
	for pos < f.RestartPosition {
		line, err := br.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			off += int64(len(line))
			line, err = br.ReadSlice('\n')
		}
		if err != nil {
			break
		}
		off += int64(len(line))
		size = off
		pos++
	}
	return pos, size - 2*pos, size, nil
}

// FileName expands NameFormat for f and makes it a safe single file name.
func (d *DirectoryReceiver) FileName(f *IncomingFile) (string, error) {
	format := d.NameFormat
	if format == "" {
		format = DefaultReceivedFileNameFormat
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(format, '%')
		if i < 0 {
			b.WriteString(format)
			break
		}
		j := strings.IndexByte(format[i+1:], '%')
		if j < 0 {
			b.WriteString(format)
			break
		}
		b.WriteString(format[:i])
		macro := format[i+1 : i+1+j]
		format = format[i+2+j:]
		v, ok, err := d.expand(macro, f)
		if err != nil {
			return "", err
		}
		if !ok {
			b.WriteString("%" + macro + "%")
			continue
		}
		b.WriteString(v)
	}
	return sanitizeFileName(b.String()), nil
}

func (d *DirectoryReceiver) expand(macro string, f *IncomingFile) (string, bool, error) {
	name, arg, _ := strings.Cut(macro, ":")
	switch name {
	case "VirtualFileName":
		return f.DatasetName, true, nil
	case "VirtualFileDate":
		if arg == "" {
			arg = "yyyyMMddHHmmssffff"
		}
		return formatStamp(f.Stamp, arg), true, nil
	case "Originator":
		return f.Originator, true, nil
	case "Destination":
		return f.Destination, true, nil
	case "UserData":
		return f.UserData, true, nil
	case "CurrentTime":
		now := time.Now
		if d.Clock != nil {
			now = d.Clock
		}
		return now().Format("20060102150405"), true, nil
	case "GUID":
		r := d.Rand
		if r == nil {
			r = rand.Reader
		}
		var u [16]byte
		if _, err := io.ReadFull(r, u[:]); err != nil {
			return "", false, err
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		h := hex.EncodeToString(u[:])
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true, nil
	}
	return "", false, nil
}

// formatStamp renders a stamp with .NET-style layout letters as the seed uses them.
func formatStamp(s Stamp, layout string) string {
	date := s.Date + strings.Repeat("0", max(0, 8-len(s.Date)))
	tm := s.Time + strings.Repeat("0", max(0, 10-len(s.Time)))
	tokens := []struct{ tok, val string }{
		{"yyyy", date[0:4]}, {"ffff", tm[6:10]}, {"fff", tm[6:9]}, {"yy", date[2:4]},
		{"MM", date[4:6]}, {"dd", date[6:8]}, {"HH", tm[0:2]}, {"mm", tm[2:4]}, {"ss", tm[4:6]},
		{"ff", tm[6:8]}, {"f", tm[6:7]},
	}
	var b strings.Builder
outer:
	for len(layout) > 0 {
		for _, t := range tokens {
			if strings.HasPrefix(layout, t.tok) {
				b.WriteString(t.val)
				layout = layout[len(t.tok):]
				continue outer
			}
		}
		b.WriteByte(layout[0])
		layout = layout[1:]
	}
	return b.String()
}

// sanitizeFileName keeps a received name inside the download directory: no separators,
// no "." or "..", no control characters, no leading dots (hidden files) and at most 200
// octets.
func sanitizeFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '/' || r == '\\' || r == ':' || r < 0x20 || r == 0x7f:
			b.WriteByte('_')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimSpace(b.String())
	s = strings.TrimLeft(s, ".")
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		s = "_"
	}
	return s
}

// dirSink writes one file of a DirectoryReceiver.
type dirSink struct {
	f             *os.File
	tmp, final    string
	ownDir        string // our default partial directory, removed when empty
	overwrite     bool
	deleteOnError bool
	done          bool
}

func (s *dirSink) Write(p []byte) (int, error) { return s.f.Write(p) }

func (s *dirSink) Location() string { return s.final }

// Commit makes the file visible: fsync, then an atomic link (create-only) or rename.
func (s *dirSink) Commit(ctx context.Context) error {
	if s.done {
		return errors.New("oftp: sink already finished")
	}
	s.done = true
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		s.fail()
		return err
	}
	if err := s.f.Close(); err != nil {
		s.fail()
		return err
	}
	if s.overwrite {
		if err := os.Rename(s.tmp, s.final); err != nil {
			s.fail()
			return err
		}
	} else {
		if err := os.Link(s.tmp, s.final); err != nil {
			s.fail()
			if errors.Is(err, fs.ErrExist) {
				return &ReasonError{Code: ReasonDuplicateFile, Text: "file exists in download directory", Err: err}
			}
			return err
		}
		_ = os.Remove(s.tmp)
	}
	syncDir(filepath.Dir(s.final))
	s.tidy()
	return nil
}

// tidy removes the default partial directory when nothing else is in it (os.Remove
// fails on a non-empty directory, which is what we want).
func (s *dirSink) tidy() {
	if s.ownDir != "" {
		_ = os.Remove(s.ownDir)
	}
}

// Abort drops the data, or keeps it as .failed in the temp directory.
func (s *dirSink) Abort(ctx context.Context) error {
	if s.done {
		return nil
	}
	s.done = true
	s.f.Close()
	return s.fail()
}

// Suspend keeps the partial file for a restart.
func (s *dirSink) Suspend(ctx context.Context) error {
	if s.done {
		return nil
	}
	s.done = true
	if err := s.f.Sync(); err != nil {
		s.f.Close()
		return err
	}
	return s.f.Close()
}

func (s *dirSink) fail() error {
	if s.deleteOnError {
		err := os.Remove(s.tmp)
		s.tidy()
		return err
	}
	return os.Rename(s.tmp, s.tmp+".failed")
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
