package wire

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func benchSFID() SFID {
	return SFID{DatasetName: "DELFOR.2024-01", Stamp: stamp20, Destination: "O0013BRAVO", Originator: "O0013ALPHA",
		Format: FormatVariable, MaxRecordSize: 2048, FileSize: 12345, OriginalSize: 12000, Security: 3, Cipher: 2,
		Enveloped: true, SignedReceipt: true, Description: "Lieferabruf Werk Köln"}
}

func benchEERP() EERP {
	return EERP{DatasetName: "DELFOR.2024-01", Stamp: stamp20, Destination: "O0013ALPHA", Originator: "O0013BRAVO",
		Hash: hashSHA, Signature: bytes.Repeat([]byte{0x30}, 1200)}
}

func benchEncode(b *testing.B, c Command) {
	buf, err := Encode(nil, c, Level20)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, err = Encode(buf[:0], c, Level20)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchDecode(b *testing.B, c Command) {
	buf, err := Encode(nil, c, Level20)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf, Level20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSFID(b *testing.B) { s := benchSFID(); benchEncode(b, &s) }
func BenchmarkDecodeSFID(b *testing.B) { benchDecode(b, benchSFID()) }
func BenchmarkEncodeEERP(b *testing.B) { e := benchEERP(); benchEncode(b, &e) }
func BenchmarkDecodeEERP(b *testing.B) { benchDecode(b, benchEERP()) }

// benchContent is 1 MiB of file data: random for the plain case, and random data with
// runs of spaces and zeros (like padded fixed records) for the compressed case.
func benchContent(runs bool) []byte {
	r := rand.New(rand.NewPCG(1, 1))
	out := make([]byte, 0, 1<<20)
	for len(out) < 1<<20 {
		for k := 0; k < 100; k++ {
			out = append(out, byte(r.Uint32()))
		}
		if runs {
			out = append(out, bytes.Repeat([]byte{' '}, 20+r.IntN(100))...)
		}
	}
	return out[:1<<20]
}

func BenchmarkDataEncoder(b *testing.B) {
	for _, c := range []struct {
		name     string
		compress bool
	}{{"plain", false}, {"compressed", true}} {
		b.Run(c.name, func(b *testing.B) {
			content := benchContent(c.compress)
			e := NewDataEncoder(4096, c.compress)
			emit := func([]byte) error { return nil }
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				// 80-octet records, written as the session hands them over.
				for off := 0; off < len(content); off += 8192 {
					chunk := content[off:min(off+8192, len(content))]
					for i := 0; i < len(chunk); i += 80 {
						if err := e.Write(chunk[i:min(i+80, len(chunk))], true, emit); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := e.Flush(emit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeData(b *testing.B) {
	for _, c := range []struct {
		name     string
		compress bool
	}{{"plain", false}, {"compressed", true}} {
		b.Run(c.name, func(b *testing.B) {
			content := benchContent(c.compress)
			var bufs [][]byte
			e := NewDataEncoder(4096, c.compress)
			if err := e.Write(content, true, collect(&bufs)); err != nil {
				b.Fatal(err)
			}
			if err := e.Flush(collect(&bufs)); err != nil {
				b.Fatal(err)
			}
			var n int
			fn := func(d []byte, _ bool) error { n += len(d); return nil }
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				n = 0
				for _, buf := range bufs {
					if err := DecodeData(buf[1:], c.compress, fn); err != nil {
						b.Fatal(err)
					}
				}
				if n != len(content) {
					b.Fatalf("decoded %d octets", n)
				}
			}
		})
	}
}

func BenchmarkReader(b *testing.B) {
	oeb := bytes.Repeat([]byte{'D'}, 4096)
	stream := append(AppendSTH(nil, len(oeb)), oeb...)
	r := NewReader(&cycleReader{data: stream})
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.ReadBuffer(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	oeb := bytes.Repeat([]byte{'D'}, 4096)
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(oeb) + STHLength))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteBuffer(oeb); err != nil {
			b.Fatal(err)
		}
	}
}
