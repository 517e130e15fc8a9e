package cms

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// recordList collects decoded records.
type recordList struct {
	recs [][]byte
	cur  []byte
}

func (l *recordList) Write(p []byte) (int, error) { l.cur = append(l.cur, p...); return len(p), nil }

func (l *recordList) EndRecord() error {
	l.recs = append(l.recs, append([]byte{}, l.cur...))
	l.cur = l.cur[:0]
	return nil
}

// decodeV decodes in with writes of chunk octets and closes the decoder.
func decodeV(in []byte, maxRecord, chunk int) (*recordList, error) {
	var l recordList
	d := NewVRecordDecoder(&l, maxRecord)
	for len(in) > 0 {
		k := min(chunk, len(in))
		if _, err := d.Write(in[:k]); err != nil {
			return &l, err
		}
		in = in[k:]
	}
	return &l, d.Close()
}

func TestVRecordsThroughProtection(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	recs := [][]byte{[]byte("HEADER"), {}, bytes.Repeat([]byte{'x'}, MaxVRecord), []byte("TRAILER")}
	var plain bytes.Buffer
	vw := NewVRecordWriter(&plain, 0)
	for _, r := range recs {
		if err := vw.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := vw.WriteRecord(make([]byte, MaxVRecord+1)); !errors.Is(err, ErrVRecord) {
		t.Fatalf("record of 65536 octets: %v", err)
	}
	if vw.Records() != int64(len(recs)) {
		t.Fatalf("writer count %d", vw.Records())
	}
	if got := binary.BigEndian.Uint16(plain.Bytes()); got != 6 {
		t.Fatalf("first prefix %d", got)
	}
	wire := protect(t, plain.Bytes(), protection(SuiteAES256SHA256, true, true, true))
	fr, err := NewFileReader(bytes.NewReader(wire), verification(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	var got recordList
	d := NewVRecordDecoder(&got, 0)
	if _, err := io.Copy(d, fr); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("end: %v", err)
	}
	if len(got.recs) != len(recs) || d.Records() != int64(len(recs)) {
		t.Fatalf("%d records, count %d", len(got.recs), d.Records())
	}
	for i, want := range recs {
		if !bytes.Equal(got.recs[i], want) {
			t.Fatalf("record %d: %d octets", i, len(got.recs[i]))
		}
	}
	// A cut inside a record or inside a prefix is not a clean end.
	for _, in := range [][]byte{{0, 5, 'a', 'b'}, {0}} {
		_, err := decodeV(in, 0, len(in))
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrVRecord) {
			t.Fatalf("truncated %x: %v", in, err)
		}
	}
}

func TestVRecordDecoderChunking(t *testing.T) {
	in := []byte("\x00\x02AB\x00\x00\x00\x03CDE\x00\x05last\r")
	want := [][]byte{[]byte("AB"), {}, []byte("CDE"), []byte("last\r")}
	for chunk := 1; chunk <= len(in); chunk++ {
		l, err := decodeV(in, 10, chunk)
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		if len(l.recs) != len(want) {
			t.Fatalf("chunk %d: %d records", chunk, len(l.recs))
		}
		for i := range want {
			if !bytes.Equal(l.recs[i], want[i]) {
				t.Fatalf("chunk %d: record %d is %q, want %q", chunk, i, l.recs[i], want[i])
			}
		}
	}
}

func TestVRecordLimits(t *testing.T) {
	// Truncated prefix, truncated record, record beyond the maximum of 5.
	for _, in := range [][]byte{{0x00}, {0x00, 0x05, 'A'}, {0x00, 0x04, 'A', 'B', 'C', 'D', 0x00, 0x09}} {
		if _, err := decodeV(in, 5, len(in)); !errors.Is(err, ErrVRecord) {
			t.Fatalf("%x: %v", in, err)
		}
	}
	// The writer refuses a record that grows beyond its maximum, piece by piece too,
	// and keeps what it had.
	var out bytes.Buffer
	w := NewVRecordWriter(&out, 3)
	if _, err := w.Write([]byte("AB")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("CD")); !errors.Is(err, ErrVRecord) {
		t.Fatalf("long record: %v", err)
	}
	if err := w.EndRecord(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRecord([]byte("ABCD")); !errors.Is(err, ErrVRecord) {
		t.Fatalf("long whole record: %v", err)
	}
	if got := out.String(); got != "\x00\x02AB" {
		t.Fatalf("wrote %q", got)
	}
	// Maxima a 2-octet prefix cannot carry mean 65535.
	for _, m := range []int{0, -1, MaxVRecord + 1} {
		out.Reset()
		if err := NewVRecordWriter(&out, m).WriteRecord(make([]byte, MaxVRecord)); err != nil {
			t.Fatalf("maximum %d: %v", m, err)
		}
		if _, err := decodeV(out.Bytes(), m, 4096); err != nil {
			t.Fatalf("maximum %d: %v", m, err)
		}
	}
}

// errSink fails every write, as a full disk would.
type errSink struct{}

var errSinkFull = errors.New("sink full")

func (errSink) Write([]byte) (int, error) { return 0, errSinkFull }
func (errSink) EndRecord() error          { return errSinkFull }

func TestVRecordSinkErrors(t *testing.T) {
	for _, in := range [][]byte{{0, 1, 'a'}, {0, 0}} {
		_, err := NewVRecordDecoder(errSink{}, 0).Write(in)
		if !errors.Is(err, errSinkFull) || errors.Is(err, ErrVRecord) {
			t.Fatalf("%x: %v", in, err)
		}
	}
	if err := NewVRecordWriter(errSink{}, 0).WriteRecord([]byte("a")); !errors.Is(err, errSinkFull) {
		t.Fatalf("writer: %v", err)
	}
}

// FuzzVRecordDecoder feeds arbitrary octets to the decoder: it fails cleanly with
// ErrVRecord, never hands out more than it read or a record longer than the maximum,
// does not depend on the chunking, and what it accepts re-encodes to the input.
func FuzzVRecordDecoder(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c', 0, 0}, uint16(0))
	f.Add([]byte{0xff, 0xff, 1}, uint16(0))
	f.Add([]byte("\x00\x02AB\x00\x00"), uint16(10))
	f.Fuzz(func(t *testing.T, in []byte, maxRecord uint16) {
		whole, err := decodeV(in, int(maxRecord), len(in))
		if err != nil && !errors.Is(err, ErrVRecord) {
			t.Fatalf("error outside ErrVRecord: %v", err)
		}
		limit := limitRecord(int(maxRecord))
		total := len(whole.cur)
		for _, r := range whole.recs {
			if len(r) > limit {
				t.Fatalf("record of %d octets beyond %d", len(r), limit)
			}
			total += len(r)
		}
		if total > len(in) {
			t.Fatalf("decoded %d octets from %d", total, len(in))
		}
		bytewise, err2 := decodeV(in, int(maxRecord), 1)
		if (err == nil) != (err2 == nil) || len(bytewise.recs) != len(whole.recs) {
			t.Fatalf("chunking changes the result: %v / %v, %d / %d records", err, err2, len(whole.recs), len(bytewise.recs))
		}
		if err != nil {
			return
		}
		var out bytes.Buffer
		vw := NewVRecordWriter(&out, int(maxRecord))
		for _, r := range whole.recs {
			if err := vw.WriteRecord(r); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("records do not re-encode to the input")
		}
	})
}

func BenchmarkVRecords(b *testing.B) {
	rec := []byte("UNB+UNOC:3+O0013SENDER+O0013RECEIVER+260127:0305+1'")
	n := (4 << 20) / (len(rec) + 2)
	var enc bytes.Buffer
	b.SetBytes(int64(n * (len(rec) + 2)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		enc.Reset()
		w := NewVRecordWriter(&enc, 1024)
		for j := 0; j < n; j++ {
			if err := w.WriteRecord(rec); err != nil {
				b.Fatal(err)
			}
		}
		d := NewVRecordDecoder(discardRecords{}, 1024)
		if _, err := d.Write(enc.Bytes()); err != nil {
			b.Fatal(err)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

type discardRecords struct{}

func (discardRecords) Write(p []byte) (int, error) { return len(p), nil }
func (discardRecords) EndRecord() error            { return nil }
