package oftp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// encodeBoth feeds the same writes to wire.DataEncoder and literalEncoder and returns
// the buffers each emitted.
func encodeBoth(bufSize int, writes [][]byte, eors []bool) (want, got [][]byte, err error) {
	ref := wire.NewDataEncoder(bufSize, false)
	fast := newLiteralEncoder(bufSize)
	collect := func(dst *[][]byte) func([]byte) error {
		return func(b []byte) error { *dst = append(*dst, append([]byte(nil), b...)); return nil }
	}
	for i, w := range writes {
		if err := ref.Write(w, eors[i], collect(&want)); err != nil {
			return nil, nil, err
		}
		if err := fast.Write(w, eors[i], collect(&got)); err != nil {
			return nil, nil, err
		}
	}
	if err := ref.Flush(collect(&want)); err != nil {
		return nil, nil, err
	}
	if err := fast.Flush(collect(&got)); err != nil {
		return nil, nil, err
	}
	return want, got, nil
}

func compareEncoders(t *testing.T, bufSize int, writes [][]byte, eors []bool) {
	t.Helper()
	want, got, err := encodeBoth(bufSize, writes, eors)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("buffer size %d: %d buffers, codec made %d", bufSize, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(want[i], got[i]) {
			t.Fatalf("buffer size %d: buffer %d differs\n got %x\nwant %x", bufSize, i, got[i], want[i])
		}
	}
}

func TestLiteralEncoderMatchesCodec(t *testing.T) {
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for _, size := range []int{3, 4, 64, 65, 66, 128, 129, 4096, 65535, 99999} {
		for _, chunk := range []int{1, 62, 63, 64, 127, 1000, 70000} {
			var writes [][]byte
			var eors []bool
			for off := 0; off < len(data); off += chunk {
				writes = append(writes, data[off:min(off+chunk, len(data))])
				eors = append(eors, (off/chunk)%7 == 3)
			}
			writes = append(writes, nil, nil)
			eors = append(eors, true, true)
			t.Run(fmt.Sprint(size, "/", chunk), func(t *testing.T) { compareEncoders(t, size, writes, eors) })
		}
	}
}

// FuzzLiteralEncoder checks the fast encoder against the codec's for any sequence of
// writes and record ends.
func FuzzLiteralEncoder(f *testing.F) {
	f.Add(uint16(128), []byte{0, 10, 1, 200, 0, 63, 1, 0})
	f.Add(uint16(4096), []byte{0, 255, 0, 255, 1, 1})
	f.Fuzz(func(t *testing.T, size uint16, script []byte) {
		bufSize := int(size)%2000 + 3
		var writes [][]byte
		var eors []bool
		data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 400)
		for i := 0; i+1 < len(script); i += 2 {
			n := int(binary.BigEndian.Uint16([]byte{script[i] & 0x3f, script[i+1]})) % len(data)
			writes = append(writes, data[:n])
			eors = append(eors, script[i]&0x80 != 0)
		}
		compareEncoders(t, bufSize, writes, eors)
	})
}

// pieces is what a decoder reports, merged: the data of each record and whether it ended.
func pieces(dec func([]byte, func([]byte, bool) error) error, payload []byte) ([]Record, int) {
	var out []Record
	open := false
	err := dec(payload, func(data []byte, eor bool) error {
		if !open {
			out = append(out, Record{})
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
		var de *wire.DecodeError
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

// Record is a decoded record for the comparison.
type Record struct {
	Data  []byte
	Ended bool
}

func compareDecoders(t *testing.T, payload []byte) {
	t.Helper()
	want, wcode := pieces(func(p []byte, fn func([]byte, bool) error) error { return wire.DecodeData(p, false, fn) }, append([]byte(nil), payload...))
	got, gcode := pieces(decodeLiteral, append([]byte(nil), payload...))
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

func TestDecodeLiteralMatchesCodec(t *testing.T) {
	ref := newLiteralEncoder(4096)
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
		compareDecoders(t, b[1:])
	}
	compareDecoders(t, []byte{0x80, 0x80, 0x01, 'x', 0x81, 'y'})
	compareDecoders(t, []byte{0x05, 'a'})
	compareDecoders(t, []byte{0x41, 'a'})
}

func FuzzDecodeLiteral(f *testing.F) {
	f.Add([]byte{0x83, 'a', 'b', 'c', 0x00, 0x80})
	f.Add([]byte{0x3f})
	f.Fuzz(func(t *testing.T, payload []byte) { compareDecoders(t, payload) })
}
