package filesec

import (
	"bytes"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/oftp/cms"
)

// ErrVRecord reports a V file whose record length prefixes (RFC 5024 §6.5) are
// broken or exceed the announced maximum record length. It is cms.ErrVRecord: the
// prefixes are written and read by package cms.
var ErrVRecord = cms.ErrVRecord

// lineRecords cuts the local form of a V file (one record per line, LF or CR-LF
// terminated, as oftp.Format describes) into records for dst: the data of each line
// without its line end, then EndRecord. A CR is dropped only right before an LF; an
// unterminated last line is a record too. Nothing is buffered here.
type lineRecords struct {
	dst     cms.RecordSink
	pending bool // a CR held back at a chunk end
	open    bool // data of an unended record has been written
}

// newVEncoder returns the writer that turns the local form of a V file into records
// with length prefixes for dst; lines longer than lrecl fail with ErrVRecord.
func newVEncoder(dst io.Writer, lrecl int) (*lineRecords, error) {
	if lrecl <= 0 || lrecl > cms.MaxVRecord {
		return nil, fmt.Errorf("%w: maximum record length %d outside 1..%d", ErrVRecord, lrecl, cms.MaxVRecord)
	}
	return &lineRecords{dst: cms.NewVRecordWriter(dst, lrecl)}, nil
}

var cr = []byte{'\r'}

func (l *lineRecords) data(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	l.open = true
	_, err := l.dst.Write(p)
	return err
}

// Write accepts local octets in any chunking.
func (l *lineRecords) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if l.pending {
			l.pending = false
			if i != 0 {
				if err := l.data(cr); err != nil {
					return 0, err
				}
			}
		}
		if i < 0 {
			seg := p
			if seg[len(seg)-1] == '\r' {
				seg = seg[:len(seg)-1]
				l.pending = true
			}
			if err := l.data(seg); err != nil {
				return 0, err
			}
			break
		}
		seg := p[:i]
		if len(seg) > 0 && seg[len(seg)-1] == '\r' {
			seg = seg[:len(seg)-1]
		}
		if err := l.data(seg); err != nil {
			return 0, err
		}
		l.open = false
		if err := l.dst.EndRecord(); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// Close ends an unterminated last line as a record.
func (l *lineRecords) Close() error {
	if l.pending {
		l.pending = false
		if err := l.data(cr); err != nil {
			return err
		}
	}
	if l.open {
		l.open = false
		return l.dst.EndRecord()
	}
	return nil
}

// recordData is a RecordSink that keeps only the record data: the hash for a signed
// receipt covers the data of every record, not the line ends of the local form.
type recordData struct{ io.Writer }

func (recordData) EndRecord() error { return nil }
