package wire

import (
	"errors"
	"fmt"
	"testing"
)

// pieces is what a decoder reports, merged: the data of each record and whether it ended.
func packedPieces(dec func([]byte, func([]byte, bool) error) error, payload []byte) ([]packedRecord, int) {
	var out []packedRecord
	open := false
	err := dec(payload, func(data []byte, eor bool) error {
		if !open {
			out = append(out, packedRecord{})
			open = true
		}
		r := &out[len(out)-1]
		r.Data = append(r.Data, data...)
		if eor {
			r.Ended, open = true, false
		}
		return nil
	})
	code := 0
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			return nil, -1
		}
		code = de.Reason
	}
	// Drop a trailing empty open record: the two decoders report "no more data" differently.
	if n := len(out); n > 0 && !out[n-1].Ended && len(out[n-1].Data) == 0 {
		out = out[:n-1]
	}
	return out, code
}

// packedRecord is a decoded record for the comparison.
type packedRecord struct {
	Data  []byte
	Ended bool
}

func comparePacked(t *testing.T, payload []byte) {
	t.Helper()
	want, wcode := packedPieces(func(p []byte, fn func([]byte, bool) error) error { return DecodeData(p, false, fn) }, append([]byte(nil), payload...))
	got, gcode := packedPieces(DecodeDataPacked, append([]byte(nil), payload...))
	if wcode != gcode {
		t.Fatalf("error reason %d, codec says %d (payload %x)", gcode, wcode, payload)
	}
	if wcode != 0 {
		return // data before the error is irrelevant: the session aborts
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("records differ for %x\n got %v\nwant %v", payload, got, want)
	}
}

func TestDecodeDataPackedMatchesDecodeData(t *testing.T) {
	ref := NewDataEncoder(4096, false)
	var bufs [][]byte
	data := make([]byte, 20000)
	for i := range data {
		data[i] = byte(i)
	}
	for i := 0; i < 10; i++ {
		ref.Write(data[:i*997], i%3 == 0, func(b []byte) error { bufs = append(bufs, append([]byte(nil), b...)); return nil })
	}
	ref.Flush(func(b []byte) error { bufs = append(bufs, append([]byte(nil), b...)); return nil })
	for _, b := range bufs {
		comparePacked(t, b[1:])
	}
	comparePacked(t, []byte{0x80, 0x80, 0x01, 'x', 0x81, 'y'})
	comparePacked(t, []byte{0x05, 'a'})
	comparePacked(t, []byte{0x41, 'a'})
}

func FuzzDecodeDataPacked(f *testing.F) {
	f.Add([]byte{0x83, 'a', 'b', 'c', 0x00, 0x80})
	f.Add([]byte{0x3f})
	f.Fuzz(func(t *testing.T, payload []byte) { comparePacked(t, payload) })
}
