package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fuzzSeeds returns the golden frames and the distinct captured exchange buffers.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, c := range goldenCases() {
		b, err := Encode(nil, c.cmd, c.levels[0])
		if err != nil {
			t.Fatal(err)
		}
		seeds["golden-"+c.name] = b
	}
	seen := map[string]bool{}
	for _, c := range readCaptures(t) {
		for _, f := range c.frames {
			oeb := f.stb[STHLength:]
			if len(oeb) > 512 || seen[string(oeb)] {
				continue // keep the corpus small: the large DATA buffers add nothing
			}
			seen[string(oeb)] = true
			seeds[fmt.Sprintf("capture-%s-%d", captureID(c.name), f.no)] = oeb
		}
	}
	return seeds
}

// writeCorpus rewrites a committed seed corpus directory (go test -update).
func writeCorpus(t testing.TB, target string, entries map[string]string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range entries {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func corpusBytes(b []byte) string { return fmt.Sprintf("[]byte(%q)\n", b) }

// TestWriteFuzzCorpus regenerates the committed seed corpora from the golden frames and
// the captures when run with -update; otherwise it checks that they exist.
func TestWriteFuzzCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	if *update {
		dec := map[string]string{}
		rd := map[string]string{}
		data := map[string]string{}
		for name, oeb := range seeds {
			dec[name] = corpusBytes(oeb)
			stb := append(AppendSTH(nil, len(oeb)), oeb...)
			rd[name] = corpusBytes(append(stb, AppendSTH(nil, 1)...)) // and a cut second buffer
			if oeb[0] == CodeDATA {
				data[name] = corpusBytes(oeb[1:]) + "bool(true)\n"
				data[name+"-plain"] = corpusBytes(oeb[1:]) + "bool(false)\n"
			}
		}
		writeCorpus(t, "FuzzDecode", dec)
		writeCorpus(t, "FuzzReader", rd)
		writeCorpus(t, "FuzzDecodeData", data)
	}
	for _, target := range []string{"FuzzDecode", "FuzzReader", "FuzzDecodeData"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if len(files) < 4 {
			t.Errorf("seed corpus for %s has %d entries (go test -update -run TestWriteFuzzCorpus)", target, len(files))
		}
	}
}

// FuzzDecode: Decode never panics, errors are *DecodeError, and whatever decodes and
// re-encodes decodes to the same value again.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, oeb []byte) {
		for _, l := range allLevels {
			c, err := Decode(oeb, l)
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) || c != nil {
					t.Fatalf("at %s: %T %v with %#v", l, err, err, c)
				}
				continue
			}
			b, err := Encode(nil, c, l)
			if err != nil {
				// Decode accepts more than Encode sends (lower case, 0x8D, other layouts).
				var ee *EncodeError
				if !errors.As(err, &ee) {
					t.Fatalf("at %s: Encode error %T %v", l, err, err)
				}
				continue
			}
			c2, err := Decode(b, l)
			if err != nil {
				t.Fatalf("at %s: %#v encoded to %x, which does not decode: %v", l, c, b, err)
			}
			if !reflect.DeepEqual(c, c2) {
				t.Fatalf("at %s: %#v re-decoded as %#v", l, c, c2)
			}
		}
	})
}

// FuzzReader: the STB reader never panics, never returns more than the limit, and every
// buffer it returns is exactly the bytes its header announced.
func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(append(AppendSTH(nil, len(s)), s...))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		for _, limit := range []int{MaxBufferSize, 128, 1} {
			r := NewReader(bytes.NewReader(stream))
			r.SetMaxBuffer(limit)
			off := 0
			for {
				b, err := r.ReadBuffer()
				if err != nil {
					var de *DecodeError
					if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &de) {
						t.Fatalf("error %T %v", err, err)
					}
					if err == io.EOF && off != len(stream) {
						t.Fatalf("io.EOF at %d of %d", off, len(stream))
					}
					break
				}
				if len(b) == 0 || len(b) > limit {
					t.Fatalf("buffer of %d octets with limit %d", len(b), limit)
				}
				sth := AppendSTH(nil, len(b))
				if stream[off]>>4 != 1 || !bytes.Equal(stream[off+1:off+4], sth[1:]) ||
					!bytes.Equal(stream[off+4:off+4+len(b)], b) {
					t.Fatalf("buffer at %d does not match the stream", off)
				}
				off += STHLength + len(b)
			}
		}
	})
}

// FuzzDecodeData: DecodeData never panics, and the records it yields survive a round
// trip through DataEncoder.
func FuzzDecodeData(f *testing.F) {
	for name, s := range fuzzSeeds(f) {
		if s[0] == CodeDATA {
			f.Add(s[1:], true)
			f.Add(s[1:], name == "golden-data_compressed")
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, compression bool) {
		var recs []record
		var cur []byte
		have := false
		err := DecodeData(payload, compression, func(d []byte, eor bool) error {
			if len(d) > 63 {
				t.Fatalf("piece of %d octets", len(d))
			}
			cur = append(cur, d...)
			have = true
			if eor {
				recs = append(recs, record{data: cur})
				cur, have = nil, false
			}
			return nil
		})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || (de.Reason != ReasonLength && de.Reason != ReasonInvalidData) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		if have {
			recs = append(recs, record{data: cur, open: true})
		}
		for _, size := range []int{len(payload) + 1, 131} {
			enc := NewDataEncoder(size, compression)
			var bufs [][]byte
			for _, r := range recs {
				if err := enc.Write(r.data, !r.open, collect(&bufs)); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Flush(collect(&bufs)); err != nil {
				t.Fatal(err)
			}
			got := decodeRecords(t, bufs, compression)
			if len(got) != len(recs) {
				t.Fatalf("size %d: %d records, want %d", size, len(got), len(recs))
			}
			for i := range got {
				if !bytes.Equal(got[i].data, recs[i].data) || got[i].open != recs[i].open {
					t.Fatalf("size %d: record %d differs", size, i)
				}
			}
		}
	})
}
