package ber

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// walk reads every element below the current level, streaming strings, and returns a
// textual trace so that tests can compare structures.
func walk(r *Reader, sb *strings.Builder, depth int) error {
	for {
		h, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		sb.WriteString(strings.Repeat(" ", depth))
		if h.Class == ClassUniversal && h.Tag == TagOctetString {
			b, err := r.Bytes(1 << 16)
			if err != nil {
				return err
			}
			sb.WriteString("OCTETS " + hex.EncodeToString(b) + "\n")
			continue
		}
		if h.Constructed {
			sb.WriteString(h.String()[:strings.Index(h.String(), " len")] + "\n")
			if err := r.Enter(); err != nil {
				return err
			}
			if err := walk(r, sb, depth+1); err != nil {
				return err
			}
			continue
		}
		b, err := r.Bytes(1 << 16)
		if err != nil {
			return err
		}
		sb.WriteString("PRIM " + hex.EncodeToString(b) + "\n")
	}
}

func TestReaderIndefiniteAndChunkedStrings(t *testing.T) {
	// SEQUENCE (indefinite) { OID 1.2.3, [0] (indefinite) { OCTET STRING constructed
	// (indefinite) { "ab", constructed definite { "c" }, "" } }, INTEGER 5 }
	in := unhex(t, `30 80
	   06 02 2a 03
	   a0 80
	     24 80
	       04 02 61 62
	       24 03 04 01 63
	       04 00
	     00 00
	   00 00
	   02 01 05
	 00 00`)
	r := NewReader(bytes.NewReader(in), 0)
	var sb strings.Builder
	if err := walk(r, &sb, 0); err != nil {
		t.Fatal(err)
	}
	want := "[UNIVERSAL 16] constructed\n PRIM 2a03\n [CONTEXT 0] constructed\n  OCTETS 616263\n PRIM 05\n"
	if sb.String() != want {
		t.Fatalf("walk:\n%s\nwant:\n%s", sb.String(), want)
	}
	if err := r.ExpectEOF(); err != nil {
		t.Fatal(err)
	}
	if r.Offset() != int64(len(in)) {
		t.Fatalf("offset %d, want %d", r.Offset(), len(in))
	}
}

func TestReaderRawAndToDER(t *testing.T) {
	in := unhex(t, `30 80 02 01 07 24 80 04 01 41 04 01 42 00 00 00 00 ff`)
	r := NewReader(bytes.NewReader(in), 0)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	raw, err := r.Raw(100)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, in[:len(in)-1]) {
		t.Fatalf("raw %x", raw)
	}
	der, err := ToDER(raw, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "30 07 02 01 07 04 02 41 42"); !bytes.Equal(der, want) {
		t.Fatalf("der %x, want %x", der, want)
	}
	if err := r.ExpectEOF(); err == nil {
		t.Fatal("trailing octet not reported")
	}
	if _, err := ToDER(raw, 5); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
}

func TestReaderRejects(t *testing.T) {
	cases := map[string]string{
		"truncated header":           "30",
		"truncated length":           "30 82 01",
		"truncated content":          "04 05 01 02",
		"missing EOC":                "30 80 02 01 01",
		"primitive indefinite":       "04 80 00 00",
		"child overruns parent":      "30 03 04 05 00 00 00 00 00",
		"EOC in definite":            "30 02 00 00",
		"EOC at top level":           "00 00",
		"indefinite overruns parent": "30 04 30 80 02 01",
		"huge length":                "04 88 ff ff ff ff ff ff ff ff",
		"long tag":                   "1f ff ff ff ff 7f 00",
		"reserved length":            "04 ff",
		"bad chunk tag":              "24 80 02 01 00 00 00",
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			in := unhex(t, h)
			r := NewReader(bytes.NewReader(in), 0)
			var sb strings.Builder
			err := walk(r, &sb, 0)
			if err == nil {
				err = r.ExpectEOF()
			}
			if err == nil {
				t.Fatalf("accepted %s", h)
			}
		})
	}
}

func TestReaderBoundsAllocation(t *testing.T) {
	// A declared length of 2^40 must not be allocated by Bytes.
	in := unhex(t, "04 85 01 00 00 00 00")
	r := NewReader(bytes.NewReader(in), 0)
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Bytes(1 << 20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestReaderDeepNesting(t *testing.T) {
	in := bytes.Repeat([]byte{0x30, 0x80}, MaxDepth+5)
	r := NewReader(bytes.NewReader(in), 0)
	var sb strings.Builder
	if err := walk(r, &sb, 0); err == nil {
		t.Fatal("deep nesting accepted")
	}
}

func TestStringWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewStringWriter(&buf, ClassContext, 0, 7)
	payload := []byte(strings.Repeat("0123456789", 5))
	for i := 0; i < len(payload); i += 3 {
		if _, err := w.Write(payload[i:min(i+3, len(payload))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 0)
	h, err := r.Expect(ClassContext, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Indefinite() {
		t.Fatal("want indefinite")
	}
	got, err := r.Bytes(1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %q", got)
	}
	if err := r.ExpectEOF(); err != nil {
		t.Fatal(err)
	}
}

func TestAppendHeaderMatchesEncodingASN1(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255, 256, 65535, 65536, 1 << 24} {
		content := make([]byte, n)
		want, err := asn1.Marshal(content)
		if err != nil {
			t.Fatal(err)
		}
		got := DER(ClassUniversal, TagOctetString, false, content)
		if !bytes.Equal(got, want) {
			t.Fatalf("n=%d: header %x, want %x", n, got[:min(8, len(got))], want[:min(8, len(want))])
		}
	}
	hi := AppendHeader(nil, ClassContext, 200, true, 3)
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(append(hi, 1, 2, 3), &rv); err != nil || rv.Tag != 200 || rv.Class != 2 {
		t.Fatalf("high tag: %v %+v", err, rv)
	}
}

// FuzzBERReader walks arbitrary input and checks that the reader never panics, that
// DER it produces is stable, and that whatever encoding/asn1 accepts it accepts too.
func FuzzBERReader(f *testing.F) {
	for _, s := range []string{
		"30 80 06 02 2a 03 a0 80 24 80 04 02 61 62 24 03 04 01 63 04 00 00 00 00 00 02 01 05 00 00",
		"30 07 02 01 07 04 02 41 42",
		"24 80 04 01 41 24 80 04 01 42 00 00 00 00",
		"1f 81 00 00",
		"30 03 04 05 00",
		"04 85 01 00 00 00 00",
	} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 64)
		var sb strings.Builder
		walkErr := walk(r, &sb, 0)
		if walkErr == nil {
			walkErr = r.ExpectEOF()
		}
		der, err := ToDER(in, 1<<16)
		if err == nil {
			again, err := ToDER(der, 1<<16)
			if err != nil {
				t.Fatalf("DER output not readable: %v", err)
			}
			if !bytes.Equal(again, der) {
				t.Fatalf("DER not stable: %x vs %x", again, der)
			}
		}
		var rv asn1.RawValue
		if rest, err := asn1.Unmarshal(in, &rv); err == nil && len(rest) == 0 && !rv.IsCompound && len(in) < 1<<16 && (rv.Class != 0 || rv.Tag != 0) {
			if walkErr != nil {
				t.Fatalf("encoding/asn1 accepts %x, reader says %v", in, walkErr)
			}
		}
	})
}
