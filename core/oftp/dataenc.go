package oftp

import (
	"fmt"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// literalEncoder is the uncompressed case of wire.DataEncoder with a tighter inner loop:
// whole 63-octet subrecords are written with one header store and one copy. Its
// buffers are identical to wire.DataEncoder's (FuzzLiteralEncoder compares them), so
// buffer compression, the rarer case, stays with the codec.
type literalEncoder struct {
	size    int
	buf     []byte
	litHdr  int // header of the open subrecord, -1 if none
	lastHdr int // header of the current record's last subrecord, -1 if none
}

const (
	subrecordMax = 63
	subrecordEoR = 0x80
)

func newLiteralEncoder(bufSize int) *literalEncoder {
	bufSize = min(max(bufSize, 3), wire.MaxBufferSize)
	e := &literalEncoder{size: bufSize, buf: make([]byte, 1, bufSize)}
	e.buf[0] = wire.CodeDATA
	e.litHdr, e.lastHdr = -1, -1
	return e
}

// Reset starts a new file.
func (e *literalEncoder) Reset() {
	e.buf = e.buf[:1]
	e.litHdr, e.lastHdr = -1, -1
}

func (e *literalEncoder) emit(emit func([]byte) error) error {
	err := emit(e.buf)
	e.buf = e.buf[:1]
	e.litHdr, e.lastHdr = -1, -1
	return err
}

// Write appends p to the current record and ends the record when endOfRecord; full
// buffers go to emit only when more data follows (see wire.DataEncoder.Write).
func (e *literalEncoder) Write(p []byte, endOfRecord bool, emit func([]byte) error) error {
	for len(p) > 0 {
		if e.litHdr >= 0 && len(e.buf) < e.size {
			have := int(e.buf[e.litHdr])
			if have < subrecordMax {
				k := min(subrecordMax-have, e.size-len(e.buf), len(p))
				e.buf = append(e.buf, p[:k]...)
				e.buf[e.litHdr] += byte(k)
				p = p[k:]
				continue
			}
		}
		if e.size-len(e.buf) < 2 {
			if err := e.emit(emit); err != nil {
				return err
			}
		}
		// Whole subrecords while they fit: header and data in one step.
		n := len(e.buf)
		for len(p) >= subrecordMax && e.size-n >= subrecordMax+1 {
			b := e.buf[:n+subrecordMax+1]
			b[n] = subrecordMax
			copy(b[n+1:], p[:subrecordMax])
			e.litHdr, e.lastHdr = n, n
			n += subrecordMax + 1
			p = p[subrecordMax:]
			e.buf = b
		}
		if len(p) == 0 {
			break
		}
		if e.size-len(e.buf) < 2 {
			if err := e.emit(emit); err != nil {
				return err
			}
		}
		e.litHdr = len(e.buf)
		e.lastHdr = e.litHdr
		e.buf = append(e.buf, 0)
	}
	if !endOfRecord {
		return nil
	}
	if e.lastHdr < 0 {
		if len(e.buf) >= e.size {
			if err := e.emit(emit); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, subrecordEoR)
	} else {
		e.buf[e.lastHdr] |= subrecordEoR
	}
	e.litHdr, e.lastHdr = -1, -1
	return nil
}

// Flush emits the pending buffer and starts afresh.
func (e *literalEncoder) Flush(emit func([]byte) error) error {
	var err error
	if len(e.buf) > 1 {
		err = e.emit(emit)
	}
	e.Reset()
	return err
}

// decodeLiteral walks the subrecords of an uncompressed DATA payload like
// wire.DecodeData, but moves the data down over the headers in place and calls fn once
// per record end and once for the rest of the buffer, with all data of that stretch.
// The payload is modified. Errors are *wire.DecodeError with the same reasons as the
// codec's: 06 for a compressed subrecord, 07 for a subrecord past the end.
func decodeLiteral(payload []byte, fn func(data []byte, endOfRecord bool) error) error {
	w := 0
	for i := 0; i < len(payload); {
		h := payload[i]
		i++
		if h&0x40 != 0 {
			return &wire.DecodeError{Command: "DATA", Field: "DATABUF", Reason: wire.ReasonInvalidData,
				Err: fmt.Errorf("subrecord header at %d: %w", i-1, wire.ErrCompression)}
		}
		n := int(h & subrecordMax)
		if n > len(payload)-i {
			return &wire.DecodeError{Command: "DATA", Field: "DATABUF", Reason: wire.ReasonLength,
				Err: fmt.Errorf("subrecord header at %d: %d octets, only %d left: %w", i-1, n, len(payload)-i, wire.ErrLength)}
		}
		w += copy(payload[w:], payload[i:i+n])
		i += n
		if h&subrecordEoR != 0 {
			if err := fn(payload[:w], true); err != nil {
				return err
			}
			// fn is done with the data; the rest of the buffer packs from the start.
			w = 0
		}
	}
	if w > 0 {
		return fn(payload[:w], false)
	}
	return nil
}
