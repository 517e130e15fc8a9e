package cms

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestVRecordsThroughProtection(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	recs := [][]byte{[]byte("HEADER"), {}, bytes.Repeat([]byte{'x'}, MaxVRecord), []byte("TRAILER")}
	var plain bytes.Buffer
	vw := NewVRecordWriter(&plain)
	for _, r := range recs {
		if err := vw.WriteRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := vw.WriteRecord(make([]byte, MaxVRecord+1)); err == nil {
		t.Fatal("record of 65536 octets accepted")
	}
	if got := binary.BigEndian.Uint16(plain.Bytes()); got != 6 {
		t.Fatalf("first prefix %d", got)
	}
	wire := protect(t, plain.Bytes(), protection(SuiteAES256SHA256, true, true, true))
	fr, err := NewFileReader(bytes.NewReader(wire), verification(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	vr := NewVRecordReader(fr)
	for i, want := range recs {
		got, err := vr.Next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d: %d octets, %v", i, len(got), err)
		}
	}
	if _, err := vr.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	if vr.Records() != int64(len(recs)) {
		t.Fatalf("count %d", vr.Records())
	}
	// A cut inside a record is not a clean end.
	vr = NewVRecordReader(bytes.NewReader([]byte{0, 5, 'a', 'b'}))
	if _, err := vr.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated record: %v", err)
	}
	vr = NewVRecordReader(bytes.NewReader([]byte{0}))
	if _, err := vr.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated prefix: %v", err)
	}
}

func FuzzVRecordReader(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c', 0, 0})
	f.Add([]byte{0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		vr := NewVRecordReader(bytes.NewReader(in))
		var out bytes.Buffer
		vw := NewVRecordWriter(&out)
		for {
			rec, err := vr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			if err := vw.WriteRecord(rec); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out.Bytes(), in) {
			t.Fatalf("records do not re-encode to the input")
		}
	})
}
