package oftp

import (
	"bytes"
	"encoding/binary"
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
