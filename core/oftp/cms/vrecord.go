package cms

import (
	"errors"
	"fmt"
	"io"
)

// MaxVRecord is the longest V-format record a 2-octet length prefix can describe
// (RFC 5024 §6.5; PROTOCOL.md §13 item 10: 65535, not SFIDLRECL's 65536).
const MaxVRecord = 0xffff

// ErrVRecord reports V-format record length prefixes (RFC 5024 §6.5) that are broken
// or describe a record longer than the announced maximum.
var ErrVRecord = errors.New("cms: invalid V record structure")

// RecordSink receives V-format records: the data of a record in one or more writes,
// then EndRecord.
type RecordSink interface {
	io.Writer
	EndRecord() error
}

// limitRecord turns a maximum record length into the bound a 2-octet prefix allows:
// 0, negative or larger values mean MaxVRecord.
func limitRecord(maxRecord int) int {
	if maxRecord <= 0 || maxRecord > MaxVRecord {
		return MaxVRecord
	}
	return maxRecord
}

// VRecordWriter writes V-format records with the 2-octet big-endian length prefixes
// RFC 5024 §6.5 requires before signing, compression or encryption (step 1 of §6.1).
// It is a RecordSink: the length is known only at the end of a record, so the current
// record (at most its maximum length) is held until EndRecord writes it, prefix and
// data in one Write.
type VRecordWriter struct {
	w       io.Writer
	max     int
	rec     []byte // 2 prefix octets + record data
	records int64
}

// NewVRecordWriter returns a writer of length-prefixed records to w that refuses
// records longer than maxRecord (0: MaxVRecord).
func NewVRecordWriter(w io.Writer, maxRecord int) *VRecordWriter {
	maxRecord = limitRecord(maxRecord)
	return &VRecordWriter{w: w, max: maxRecord, rec: make([]byte, 2, 2+min(maxRecord, 4096))}
}

// Write adds p to the current record; a record growing beyond the maximum fails with
// ErrVRecord and leaves the record as it was.
func (v *VRecordWriter) Write(p []byte) (int, error) {
	if len(v.rec)-2+len(p) > v.max {
		return 0, fmt.Errorf("%w: record %d is longer than %d", ErrVRecord, v.records+1, v.max)
	}
	v.rec = append(v.rec, p...)
	return len(p), nil
}

// EndRecord writes the current record, possibly empty, preceded by its length.
func (v *VRecordWriter) EndRecord() error {
	n := len(v.rec) - 2
	v.rec[0], v.rec[1] = byte(n>>8), byte(n)
	if _, err := v.w.Write(v.rec); err != nil {
		return err
	}
	v.records++
	v.rec = v.rec[:2]
	return nil
}

// WriteRecord writes rec as the rest of the current record and ends it.
func (v *VRecordWriter) WriteRecord(rec []byte) error {
	if _, err := v.Write(rec); err != nil {
		return err
	}
	return v.EndRecord()
}

// Records returns how many records have been written.
func (v *VRecordWriter) Records() int64 { return v.records }

// VRecordDecoder strips the length prefixes from the plaintext of a secured V-format
// file and hands the records to a RecordSink. Input may come in any chunking; record
// data is passed on as it arrives, never buffered, so memory does not depend on the
// record length.
type VRecordDecoder struct {
	dst     RecordSink
	max     int
	hdr     [2]byte
	nhdr    int
	left    int // octets of the current record still to come
	inRec   bool
	records int64
}

// NewVRecordDecoder returns a decoder into dst that refuses records longer than
// maxRecord (0: MaxVRecord).
func NewVRecordDecoder(dst RecordSink, maxRecord int) *VRecordDecoder {
	return &VRecordDecoder{dst: dst, max: limitRecord(maxRecord)}
}

// Write accepts the prefixed form in any chunking. Broken prefixes fail with
// ErrVRecord; errors of the sink are returned as they are.
func (d *VRecordDecoder) Write(p []byte) (int, error) {
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
			if d.left > d.max {
				return 0, fmt.Errorf("%w: record %d of %d octets exceeds %d", ErrVRecord, d.records+1, d.left, d.max)
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

func (d *VRecordDecoder) end() error {
	d.inRec = false
	d.records++
	return d.dst.EndRecord()
}

// Close reports input that ends inside a prefix or a record (ErrVRecord and
// io.ErrUnexpectedEOF); at a record boundary it returns nil.
func (d *VRecordDecoder) Close() error {
	if d.inRec || d.nhdr != 0 {
		return fmt.Errorf("%w: file ends inside record %d: %w", ErrVRecord, d.records+1, io.ErrUnexpectedEOF)
	}
	return nil
}

// Records returns how many complete records have been handed to the sink.
func (d *VRecordDecoder) Records() int64 { return d.records }
