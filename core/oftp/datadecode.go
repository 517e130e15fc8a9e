package oftp

import (
	"fmt"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// subrecordMax and subrecordEoR are the subrecord header fields decodeLiteral reads.
const (
	subrecordMax = 63
	subrecordEoR = 0x80
)

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
