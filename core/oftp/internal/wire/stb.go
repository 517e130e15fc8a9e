package wire

import (
	"errors"
	"fmt"
	"io"
)

// STHLength is the size of the Stream Transmission Header (RFC 5024 §8.2).
const STHLength = 4

// sthVersion is octet 0 of every STH: version 1 in the high nibble, no flags.
const sthVersion = 0x10

// Reader reads Stream Transmission Buffers from a byte stream and returns the exchange
// buffers in them. It is not safe for concurrent use.
type Reader struct {
	r   io.Reader
	hdr [STHLength]byte
	buf []byte
	max int
}

// NewReader returns a Reader that accepts exchange buffers of up to MaxBufferSize octets
// until SetMaxBuffer lowers the limit.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, max: MaxBufferSize}
}

// SetMaxBuffer sets the largest exchange buffer accepted, normally the negotiated
// SSIDSDEB. Values outside 1..MaxBufferSize are clamped.
func (r *Reader) SetMaxBuffer(n int) {
	r.max = min(max(n, 1), MaxBufferSize)
}

// ReadBuffer reads one STB and returns its exchange buffer. The slice is valid until the
// next call. A header whose length exceeds the limit is refused with a *DecodeError
// (Reason 07) before anything beyond the header is read or allocated. At a clean end of
// stream between buffers it returns io.EOF; a stream that ends inside a buffer gives
// io.ErrUnexpectedEOF.
func (r *Reader) ReadBuffer() ([]byte, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return nil, err
	}
	// Only the version nibble is checked; flag bits are tolerated (§8.2 asks receivers
	// to be liberal, and no flag is defined).
	if r.hdr[0]>>4 != sthVersion>>4 {
		return nil, &DecodeError{Command: "STH", Field: "STHVER", Reason: ReasonUnspecified,
			Err: fmt.Errorf("octet 0x%02X is not an OFTP stream transmission header (version 1)", r.hdr[0])}
	}
	n := int(r.hdr[1])<<16 | int(r.hdr[2])<<8 | int(r.hdr[3])
	if n <= STHLength {
		return nil, &DecodeError{Command: "STH", Field: "STHLEN", Reason: ReasonLength,
			Err: detail(ErrLength, fmt.Sprintf("length %d leaves no exchange buffer", n))}
	}
	n -= STHLength
	if n > r.max {
		return nil, &DecodeError{Command: "STH", Field: "STHLEN", Reason: ReasonLength,
			Err: detail(ErrLength, fmt.Sprintf("exchange buffer of %d octets exceeds the limit of %d", n, r.max))}
	}
	if cap(r.buf) < n {
		// Grow geometrically so that a stream of slowly growing buffers settles quickly.
		r.buf = make([]byte, min(max(n, 2*cap(r.buf)), r.max))
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// Writer writes exchange buffers as Stream Transmission Buffers. It is not safe for
// concurrent use.
type Writer struct {
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// WriteBuffer writes STH and oeb with a single Write call, so that a buffer is never
// interleaved with another writer's bytes and TLS records are not split needlessly.
func (w *Writer) WriteBuffer(oeb []byte) error {
	if len(oeb) == 0 || len(oeb) > MaxBufferSize {
		return fmt.Errorf("wire: exchange buffer of %d octets: %w", len(oeb), ErrLength)
	}
	w.buf = AppendSTH(w.buf[:0], len(oeb))
	w.buf = append(w.buf, oeb...)
	_, err := w.w.Write(w.buf)
	return err
}

// AppendSTH appends the Stream Transmission Header for an exchange buffer of n octets.
func AppendSTH(dst []byte, n int) []byte {
	t := n + STHLength
	return append(dst, sthVersion, byte(t>>16), byte(t>>8), byte(t))
}
