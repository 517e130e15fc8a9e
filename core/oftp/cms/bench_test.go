package cms

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha256"
	"crypto/x509"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// Benchmarks run each CMS layer and, next to them, the raw primitive it is built on,
// over the same 4 MiB of EDI-like text, so that the overhead of the layer is the
// ratio of the two.

const benchSize = 4 << 20

// benchData is built on first use, not when every test binary starts.
var benchData = sync.OnceValue(func() []byte { return testData(benchSize, 42) })

func BenchmarkRawSHA256(b *testing.B) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		sha256.Sum256(benchData())
	}
}

func benchCBC(b *testing.B, block cipher.Block) {
	iv := make([]byte, block.BlockSize())
	buf := make([]byte, benchSize)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, benchData())
	}
}

func BenchmarkRawAES256CBC(b *testing.B) {
	block, _ := aes.NewCipher(make([]byte, 32))
	benchCBC(b, block)
}

func BenchmarkRaw3DESCBC(b *testing.B) {
	block, _ := des.NewTripleDESCipher(make([]byte, 24))
	benchCBC(b, block)
}

func BenchmarkRawZlibCompress(b *testing.B) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	// At the level CompressedData uses, so that the ratio of the two is the layer's
	// overhead.
	zw, _ := zlib.NewWriterLevel(io.Discard, DefaultCompressionLevel)
	for b.Loop() {
		zw.Reset(io.Discard)
		zw.Write(benchData())
		zw.Close()
	}
}

func BenchmarkRawZlibDecompress(b *testing.B) {
	var comp bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&comp, DefaultCompressionLevel)
	zw.Write(benchData())
	zw.Close()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		zr, _ := zlib.NewReader(bytes.NewReader(comp.Bytes()))
		io.Copy(io.Discard, zr)
	}
}

// writeBench writes benchData through w in 64 KiB pieces. Callers build benchData
// before b.Loop so that its one-time construction is not measured.
func writeBench(b *testing.B, w io.WriteCloser) {
	for i := 0; i < benchSize; i += 64 << 10 {
		if _, err := w.Write(benchData()[i : i+64<<10]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}

func readBench(b *testing.B, r io.Reader) {
	n, err := io.CopyBuffer(io.Discard, r, make([]byte, 64<<10))
	if err != nil || n != benchSize {
		b.Fatalf("read %d: %v", n, err)
	}
}

func BenchmarkSignedWriterSHA256(b *testing.B) {
	alice := testIdentity(b, "alice")
	opts := SignOptions{Signers: []Signer{alice.signer(crypto.SHA256)}}
	benchData()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewSignedWriter(io.Discard, opts)
		if err != nil {
			b.Fatal(err)
		}
		writeBench(b, w)
	}
}

func BenchmarkSignedReaderSHA256(b *testing.B) {
	alice := testIdentity(b, "alice")
	sd := mustSigned(b, benchData(), SignOptions{Signers: []Signer{alice.signer(crypto.SHA256)}})
	opts := VerifyOptions{Trusted: []*x509.Certificate{alice.cert}}
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		sr, err := NewSignedReader(bytes.NewReader(sd), opts)
		if err != nil {
			b.Fatal(err)
		}
		readBench(b, sr)
	}
}

func benchEnvelopedWriter(b *testing.B, c Cipher) {
	bob := testIdentity(b, "bob")
	opts := EnvelopeOptions{Recipients: []*x509.Certificate{bob.cert}, Cipher: c}
	benchData()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewEnvelopedWriter(io.Discard, opts)
		if err != nil {
			b.Fatal(err)
		}
		writeBench(b, w)
	}
}

func BenchmarkEnvelopedWriterAES256(b *testing.B) { benchEnvelopedWriter(b, AES256) }
func BenchmarkEnvelopedWriter3DES(b *testing.B)   { benchEnvelopedWriter(b, DES3) }

func BenchmarkEnvelopedReaderAES256(b *testing.B) {
	bob := testIdentity(b, "bob")
	env := mustEnveloped(b, benchData(), EnvelopeOptions{Recipients: []*x509.Certificate{bob.cert}, Cipher: AES256})
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		er, err := NewEnvelopedReader(bytes.NewReader(env), bob.decrypt())
		if err != nil {
			b.Fatal(err)
		}
		readBench(b, er)
	}
}

func BenchmarkCompressedWriter(b *testing.B) {
	benchData()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewCompressedWriter(io.Discard, CompressOptions{})
		if err != nil {
			b.Fatal(err)
		}
		writeBench(b, w)
	}
}

func BenchmarkCompressedReader(b *testing.B) {
	comp := mustCompressed(b, benchData())
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		cr, err := NewCompressedReader(bytes.NewReader(comp))
		if err != nil {
			b.Fatal(err)
		}
		readBench(b, cr)
	}
}

// BenchmarkFileWriterAll signs, compresses and encrypts with the layers running
// concurrently (the default); ...Sequential runs them on one goroutine.
func BenchmarkFileWriterAll(b *testing.B)           { benchFileWriterAll(b, false) }
func BenchmarkFileWriterAllSequential(b *testing.B) { benchFileWriterAll(b, true) }

func benchFileWriterAll(b *testing.B, sequential bool) {
	testIdentity(b, "alice")
	testIdentity(b, "bob")
	p := protection(SuiteAES256SHA256, true, true, true)
	p.ChunkSize = 0
	p.Sequential = sequential
	benchData()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewFileWriter(io.Discard, p)
		if err != nil {
			b.Fatal(err)
		}
		writeBench(b, w)
	}
}

// BenchmarkFileReaderAll decrypts ahead on its own goroutine while inflating and
// verifying (the default); ...Sequential runs every layer on one goroutine.
func BenchmarkFileReaderAll(b *testing.B)           { benchFileReaderAll(b, false) }
func BenchmarkFileReaderAllSequential(b *testing.B) { benchFileReaderAll(b, true) }

func benchFileReaderAll(b *testing.B, sequential bool) {
	testIdentity(b, "alice")
	testIdentity(b, "bob")
	p := protection(SuiteAES256SHA256, true, true, true)
	p.ChunkSize = 0
	wire := protect(b, benchData(), p)
	v := verification(true, true, true)
	v.Sequential = sequential
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		fr, err := NewFileReader(bytes.NewReader(wire), v)
		if err != nil {
			b.Fatal(err)
		}
		readBench(b, fr)
		fr.Close()
	}
}

// mixedData is half random, half EDI text in alternating 2 KiB pieces: it compresses
// to about half, so hashing and encryption weigh next to zlib as they do for
// binary attachments.
var mixedData = sync.OnceValue(func() []byte {
	text := testData(benchSize, 43)
	r := mrand.NewChaCha8([32]byte{5, 0, 2, 4})
	out := make([]byte, benchSize)
	for i := 0; i < benchSize; i += 4096 {
		r.Read(out[i : i+2048])
		copy(out[i+2048:i+4096], text[i:])
	}
	return out
})

// BenchmarkFileWriterMixed: where concurrency pays, on data that compresses to half.
func BenchmarkFileWriterMixed(b *testing.B)           { benchFileWriterMixed(b, false) }
func BenchmarkFileWriterMixedSequential(b *testing.B) { benchFileWriterMixed(b, true) }

func benchFileWriterMixed(b *testing.B, sequential bool) {
	testIdentity(b, "alice")
	testIdentity(b, "bob")
	p := protection(SuiteAES256SHA256, true, true, true)
	p.ChunkSize = 0
	p.Sequential = sequential
	data := mixedData()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		w, err := NewFileWriter(io.Discard, p)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < benchSize; i += 64 << 10 {
			if _, err := w.Write(data[i : i+64<<10]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFileReaderMixed(b *testing.B)           { benchFileReaderMixed(b, false) }
func BenchmarkFileReaderMixedSequential(b *testing.B) { benchFileReaderMixed(b, true) }

func benchFileReaderMixed(b *testing.B, sequential bool) {
	testIdentity(b, "alice")
	testIdentity(b, "bob")
	p := protection(SuiteAES256SHA256, true, true, true)
	p.ChunkSize = 0
	wire := protect(b, mixedData(), p)
	v := verification(true, true, true)
	v.Sequential = sequential
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		fr, err := NewFileReader(bytes.NewReader(wire), v)
		if err != nil {
			b.Fatal(err)
		}
		readBench(b, fr)
		fr.Close()
	}
}

// BenchmarkBERChunkedString measures the tokenizer alone on a constructed OCTET STRING
// of 16 KiB chunks, the shape of every streamed layer.
func BenchmarkBERChunkedString(b *testing.B) {
	var buf bytes.Buffer
	sw := ber.NewStringWriter(&buf, ber.ClassUniversal, ber.TagOctetString, 16<<10)
	sw.Write(benchData())
	sw.Close()
	enc := buf.Bytes()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		r := ber.NewReader(bytes.NewReader(enc), 0)
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
		sr, err := r.StringReader()
		if err != nil {
			b.Fatal(err)
		}
		readBench(b, sr)
	}
}
