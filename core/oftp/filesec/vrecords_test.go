package filesec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/oftp2/connector/core/oftp/cms"
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
	d := cms.NewVRecordDecoder(&r, 10)
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
	if _, err := newVEncoder(&out, 0); !errors.Is(err, ErrVRecord) {
		t.Fatalf("record length 0: %v", err)
	}
}

// TestRecordData checks what the hash of a V file sees: the data of every record,
// without line ends, whatever the chunking.
func TestRecordData(t *testing.T) {
	local := []byte("AB\r\n\nCDE\r\r\nlast\r")
	for chunk := 1; chunk <= len(local); chunk++ {
		var data bytes.Buffer
		l := &lineRecords{dst: recordData{&data}}
		for p := local; len(p) > 0; {
			k := min(chunk, len(p))
			if _, err := l.Write(p[:k]); err != nil {
				t.Fatal(err)
			}
			p = p[k:]
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if got := data.String(); got != "ABCDE\rlast\r" {
			t.Fatalf("chunk %d: %q", chunk, got)
		}
	}
}

// FuzzVRecords takes arbitrary octets as the local text of a V file: encoding fails
// exactly when a line is longer than the maximum record length, and otherwise decodes
// back to its records, whose data is what the file hash covers. The prefix decoder
// itself is fuzzed in package cms (FuzzVRecordDecoder).
func FuzzVRecords(f *testing.F) {
	f.Add([]byte("\x00\x02AB\x00\x00"), uint16(10))
	f.Add([]byte("line one\r\nline two\nthree"), uint16(80))
	f.Add([]byte{0xff, 0xff, 1, 2}, uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, lrecl uint16) {
		limit := int(lrecl)
		if limit == 0 {
			limit = cms.MaxVRecord
		}
		// Expected: the lines without LF or the CR right before it; an unterminated
		// last line counts when it is not empty.
		var want, data bytes.Buffer
		var cur []byte
		longest := 0
		end := func() {
			longest = max(longest, len(cur))
			want.Write(cur)
			want.WriteString("\r\n")
			data.Write(cur)
			cur = cur[:0]
		}
		for _, c := range in {
			if c != '\n' {
				cur = append(cur, c)
				continue
			}
			if n := len(cur); n > 0 && cur[n-1] == '\r' {
				cur = cur[:n-1]
			}
			end()
		}
		if len(cur) > 0 {
			end()
		}
		var enc bytes.Buffer
		e, err := newVEncoder(&enc, limit)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = e.Write(in); err == nil {
			err = e.Close()
		}
		if err != nil {
			if !errors.Is(err, ErrVRecord) || longest <= limit {
				t.Fatalf("encoding with lines of at most %d octets, maximum %d: %v", longest, limit, err)
			}
			return
		}
		if longest > limit {
			t.Fatalf("a line of %d octets passed the maximum %d", longest, limit)
		}
		var back records
		d := cms.NewVRecordDecoder(&back, limit)
		if _, err := d.Write(enc.Bytes()); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Bytes(), want.Bytes()) {
			t.Fatalf("round trip of %q gave %q, want %q", in, back.Bytes(), want.Bytes())
		}
		var hashed bytes.Buffer
		l := &lineRecords{dst: recordData{&hashed}}
		if _, err := l.Write(in); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(hashed.Bytes(), data.Bytes()) {
			t.Fatalf("record data of %q is %q, want %q", in, hashed.Bytes(), data.Bytes())
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
		d := cms.NewVRecordDecoder(&r, 1024)
		if _, err := d.Write(enc.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
