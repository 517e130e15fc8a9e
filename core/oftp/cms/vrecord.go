package cms

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// MaxVRecord is the longest V-format record a 2-octet length prefix can describe
// (RFC 5024 §6.5; PROTOCOL.md §13 item 10: 65535, not SFIDLRECL's 65536).
const MaxVRecord = 0xffff

// VRecordWriter writes V-format records with the 2-octet big-endian length prefixes
// RFC 5024 §6.5 requires before signing, compression or encryption (step 1 of §6.1).
type VRecordWriter struct {
	w io.Writer
}

// NewVRecordWriter returns a writer of length-prefixed records to w.
func NewVRecordWriter(w io.Writer) *VRecordWriter { return &VRecordWriter{w: w} }

// WriteRecord writes one record preceded by its length.
func (v *VRecordWriter) WriteRecord(rec []byte) error {
	if len(rec) > MaxVRecord {
		return fmt.Errorf("cms: V record of %d octets exceeds %d", len(rec), MaxVRecord)
	}
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(rec)))
	if _, err := v.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := v.w.Write(rec)
	return err
}

// VRecordReader splits the plaintext of a secured V-format file back into records.
type VRecordReader struct {
	r   *bufio.Reader
	buf []byte
	n   int64
}

// NewVRecordReader reads length-prefixed records from r.
func NewVRecordReader(r io.Reader) *VRecordReader {
	return &VRecordReader{r: bufio.NewReader(r), buf: make([]byte, MaxVRecord)}
}

// Next returns the next record, valid until the following call; io.EOF at a clean
// end, io.ErrUnexpectedEOF when the stream stops inside a record.
func (v *VRecordReader) Next() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(v.r, hdr[:1]); err != nil {
		return nil, err // io.EOF between records is the clean end
	}
	if _, err := io.ReadFull(v.r, hdr[1:]); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(v.r, v.buf[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("cms: V record %d: %w", v.n+1, err)
	}
	v.n++
	return v.buf[:n], nil
}

// Records returns how many records Next has returned.
func (v *VRecordReader) Records() int64 { return v.n }
