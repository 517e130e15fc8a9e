package filesec

import (
	"bytes"
	"errors"
	"testing"
)

// records collects decoded V records as the session stores them (CR-LF after each).
type records struct{ bytes.Buffer }

func (r *records) EndRecord() error { _, err := r.WriteString("\r\n"); return err }

func encodeV(t testing.TB, local []byte, lrecl, chunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	e, err := newVEncoder(&out, lrecl)
	if err != nil {
		t.Fatal(err)
	}
	for len(local) > 0 {
		k := min(chunk, len(local))
		if _, err := e.Write(local[:k]); err != nil {
			t.Fatal(err)
		}
		local = local[k:]
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestVRecordPrefixes(t *testing.T) {
	local := []byte("AB\r\n\nCDE\nlast\r")
	// AB, (empty), CDE, "last\r": an unterminated last line keeps its CR as data.
	want := []byte("\x00\x02AB\x00\x00\x00\x03CDE\x00\x05last\r")
	for chunk := 1; chunk <= len(local); chunk++ {
		if got := encodeV(t, local, 10, chunk); !bytes.Equal(got, want) {
			t.Fatalf("chunk %d: %q, want %q", chunk, got, want)
		}
	}
	var r records
	d := newVDecoder(&r, 10)
	for _, b := range want { // one octet at a time
		if _, err := d.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != "AB\r\n\r\nCDE\r\nlast\r\r\n" {
		t.Fatalf("decoded %q", got)
	}
}

func TestVRecordErrors(t *testing.T) {
	var out bytes.Buffer
	e, _ := newVEncoder(&out, 3)
	if _, err := e.Write([]byte("ABCD\n")); !errors.Is(err, ErrVRecord) {
		t.Fatalf("long record: %v", err)
	}
	if _, err := newVEncoder(&out, 70000); !errors.Is(err, ErrVRecord) {
		t.Fatalf("record length beyond 2 octets: %v", err)
	}
	for _, in := range [][]byte{{0x00}, {0x00, 0x05, 'A'}, {0x00, 0x04, 'A', 'B', 'C', 'D', 0x00, 0x09}} {
		var r records
		d := newVDecoder(&r, 5)
		_, err := d.Write(in)
		if err == nil {
			err = d.Close()
		}
		if !errors.Is(err, ErrVRecord) {
			t.Fatalf("%x: %v", in, err)
		}
	}
}

// FuzzVRecords feeds arbitrary octets to the prefix decoder (it must fail cleanly and
// never hold more than the current octet) and checks that encoding any local text
// decodes back to its records.
func FuzzVRecords(f *testing.F) {
	f.Add([]byte("\x00\x02AB\x00\x00"), uint16(10))
	f.Add([]byte("line one\r\nline two\nthree"), uint16(80))
	f.Add([]byte{0xff, 0xff, 1, 2}, uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, lrecl uint16) {
		var r records
		d := newVDecoder(&r, int(lrecl))
		_, err := d.Write(in)
		if err == nil {
			_ = d.Close()
		}
		if r.Len() > len(in)+2*len(in) {
			t.Fatalf("decoded %d octets from %d", r.Len(), len(in))
		}
		// Round trip of the input taken as local text.
		var enc bytes.Buffer
		e, err := newVEncoder(&enc, maxVRecord)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Write(in); err != nil {
			return // a line longer than 65535 octets cannot be a V record
		}
		if err := e.Close(); err != nil {
			return
		}
		var back records
		d = newVDecoder(&back, 0)
		if _, err := d.Write(enc.Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		// Expected: every record's data followed by CR-LF.
		var want bytes.Buffer
		var cur []byte
		for i := 0; i < len(in); i++ {
			switch {
			case in[i] == '\n':
				if n := len(cur); n > 0 && cur[n-1] == '\r' {
					cur = cur[:n-1]
				}
				want.Write(cur)
				want.WriteString("\r\n")
				cur = cur[:0]
			default:
				cur = append(cur, in[i])
			}
		}
		if len(cur) > 0 {
			want.Write(cur)
			want.WriteString("\r\n")
		}
		if !bytes.Equal(back.Bytes(), want.Bytes()) {
			t.Fatalf("round trip of %q gave %q, want %q", in, back.Bytes(), want.Bytes())
		}
	})
}

func BenchmarkVRecords(b *testing.B) {
	var local bytes.Buffer
	for local.Len() < 4<<20 {
		local.WriteString("UNB+UNOC:3+O0013SENDER+O0013RECEIVER+260127:0305+1'\r\n")
	}
	in := local.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var enc bytes.Buffer
		e, _ := newVEncoder(&enc, 1024)
		e.Write(in)
		e.Close()
		var r records
		d := newVDecoder(&r, 1024)
		if _, err := d.Write(enc.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
