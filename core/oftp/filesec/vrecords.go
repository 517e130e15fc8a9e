package filesec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxVRecord is the longest V record a 2-octet length prefix can carry.
const maxVRecord = 0xffff

// ErrVRecord reports a V file whose record length prefixes (RFC 5024 §6.5) are
// broken or exceed the announced maximum record length.
var ErrVRecord = errors.New("filesec: invalid V record structure")

// vEncoder turns the local form of a V file (one record per line, LF or CR-LF
// terminated, as oftp.Format describes) into records with 2-octet big-endian length
// prefixes (RFC 5024 §6.5), written to dst. Only the current record is buffered.
type vEncoder struct {
	dst     io.Writer
	lrecl   int
	rec     []byte // 2 prefix octets + record data
	pending bool   // a CR held back at a chunk end
	records int64
}

func newVEncoder(dst io.Writer, lrecl int) (*vEncoder, error) {
	if lrecl <= 0 || lrecl > maxVRecord {
		return nil, fmt.Errorf("%w: maximum record length %d outside 1..%d", ErrVRecord, lrecl, maxVRecord)
	}
	return &vEncoder{dst: dst, lrecl: lrecl, rec: make([]byte, 2, 2+min(lrecl, 4096))}, nil
}

func (e *vEncoder) data(p []byte) error {
	if len(e.rec)-2+len(p) > e.lrecl {
		return fmt.Errorf("%w: record %d is longer than %d", ErrVRecord, e.records+1, e.lrecl)
	}
	e.rec = append(e.rec, p...)
	return nil
}

func (e *vEncoder) endRecord() error {
	n := len(e.rec) - 2
	e.rec[0], e.rec[1] = byte(n>>8), byte(n)
	if _, err := e.dst.Write(e.rec); err != nil {
		return err
	}
	e.records++
	e.rec = e.rec[:2]
	return nil
}

// Write accepts local octets in any chunking.
func (e *vEncoder) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if e.pending {
			e.pending = false
			if i != 0 {
				if err := e.data([]byte{'\r'}); err != nil {
					return 0, err
				}
			}
		}
		if i < 0 {
			seg := p
			if seg[len(seg)-1] == '\r' {
				seg = seg[:len(seg)-1]
				e.pending = true
			}
			if err := e.data(seg); err != nil {
				return 0, err
			}
			break
		}
		seg := p[:i]
		if len(seg) > 0 && seg[len(seg)-1] == '\r' {
			seg = seg[:len(seg)-1]
		}
		if err := e.data(seg); err != nil {
			return 0, err
		}
		if err := e.endRecord(); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// Close ends an unterminated last line as a record.
func (e *vEncoder) Close() error {
	if e.pending {
		e.pending = false
		if err := e.data([]byte{'\r'}); err != nil {
			return err
		}
	}
	if len(e.rec) > 2 {
		return e.endRecord()
	}
	return nil
}

// recordSink receives decoded V records: data in pieces, then the end of the record.
type recordSink interface {
	io.Writer
	EndRecord() error
}

// vDecoder strips the 2-octet length prefixes of a V file and hands the records to
// dst. It never buffers record data and refuses records longer than lrecl (or 65535
// when lrecl is 0).
type vDecoder struct {
	dst     recordSink
	lrecl   int
	hdr     [2]byte
	nhdr    int
	left    int // octets of the current record still to come
	inRec   bool
	records int64
}

func newVDecoder(dst recordSink, lrecl int) *vDecoder {
	if lrecl <= 0 || lrecl > maxVRecord {
		lrecl = maxVRecord
	}
	return &vDecoder{dst: dst, lrecl: lrecl}
}

// Write accepts the prefixed form in any chunking.
func (d *vDecoder) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !d.inRec {
			k := copy(d.hdr[d.nhdr:], p)
			d.nhdr += k
			p = p[k:]
			if d.nhdr < 2 {
				break
			}
			d.nhdr = 0
			d.left = int(d.hdr[0])<<8 | int(d.hdr[1])
			if d.left > d.lrecl {
				return 0, fmt.Errorf("%w: record %d of %d octets exceeds %d", ErrVRecord, d.records+1, d.left, d.lrecl)
			}
			d.inRec = true
			if d.left == 0 {
				if err := d.end(); err != nil {
					return 0, err
				}
			}
			continue
		}
		k := min(d.left, len(p))
		if _, err := d.dst.Write(p[:k]); err != nil {
			return 0, err
		}
		d.left -= k
		p = p[k:]
		if d.left == 0 {
			if err := d.end(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (d *vDecoder) end() error {
	d.inRec = false
	d.records++
	return d.dst.EndRecord()
}

// Close reports a file that ends inside a prefix or a record.
func (d *vDecoder) Close() error {
	if d.inRec || d.nhdr != 0 {
		return fmt.Errorf("%w: file ends inside record %d", ErrVRecord, d.records+1)
	}
	return nil
}
