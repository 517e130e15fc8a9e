package cms

import (
	"crypto/sha256"
	"hash"
	"io"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// fileSource generates size octets of EDI-like text without holding them: a block of
// test data repeated with a counter stamped into each copy, so that no two blocks are
// equal and compression works as on real files.
type fileSource struct {
	block []byte
	size  int64
	off   int64
}

func newFileSource(size int64) *fileSource {
	return &fileSource{block: testData(64<<10, 77), size: size}
}

func (s *fileSource) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && s.off < s.size {
		i := int(s.off % int64(len(s.block)))
		if i == 0 {
			copy(s.block, strconv.AppendInt(nil, s.off, 16))
		}
		k := copy(p[n:], s.block[i:])
		if rem := s.size - s.off; int64(k) > rem {
			k = int(rem)
		}
		n += k
		s.off += int64(k)
	}
	return n, nil
}

// heapSampler records the peak heap in use, sampling at most every step octets.
type heapSampler struct {
	step, next int64
	peak       uint64
	peakEarly  uint64 // peak over the first eighth of the stream
	early      int64
}

func (h *heapSampler) observe(done int64) {
	if done < h.next {
		return
	}
	h.next = done + h.step
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.peak = max(h.peak, ms.HeapInuse)
	if done <= h.early {
		h.peakEarly = max(h.peakEarly, ms.HeapInuse)
	}
}

// roundTripStream signs, compresses and encrypts size generated octets into a pipe and
// reads them back on the other side, never holding the file. It returns the SHA-256
// of what went in and what came out, and the heap sampler.
func roundTripStream(tb testing.TB, size int64, suite Suite) (in, out []byte, hs *heapSampler) {
	tb.Helper()
	pr, pw := io.Pipe()
	inHash := sha256.New()
	go func() {
		p := protection(suite, true, true, true)
		p.CompressionLevel = 1 // deflate dominates the cost; the memory profile is the same
		w, err := NewFileWriter(pw, p)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		if _, err := io.CopyBuffer(io.MultiWriter(w, inHash), newFileSource(size), make([]byte, 64<<10)); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(w.Close())
	}()
	fr, err := NewFileReader(pr, verification(true, true, true))
	if err != nil {
		tb.Fatal(err)
	}
	hs = &heapSampler{step: 4 << 20, early: size / 8}
	outHash := sha256.New()
	total, err := copyObserved(outHash, fr, hs)
	if err != nil {
		tb.Fatal(err)
	}
	if total != size {
		tb.Fatalf("read back %d octets, want %d", total, size)
	}
	return inHash.Sum(nil), outHash.Sum(nil), hs
}

func copyObserved(dst hash.Hash, src io.Reader, hs *heapSampler) (int64, error) {
	buf := make([]byte, 64<<10)
	var total int64
	for {
		n, err := src.Read(buf)
		dst.Write(buf[:n])
		total += int64(n)
		hs.observe(total)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// envMiB reads a size in MiB from the environment.
func envMiB(tb testing.TB, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || n > 2048 {
		tb.Fatalf("%s=%q: want 1 to 2048 MiB", name, v)
	}
	return n
}

// TestMemoryDoesNotGrowWithFileSize streams a large file through all three layers and
// back (256 MiB, or CMS_MEMTEST_MIB; under the race detector 32 MiB unless set) and
// checks that the heap stays flat: bounded, and no larger at the end than early on.
func TestMemoryDoesNotGrowWithFileSize(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	def := int64(256)
	if raceEnabled {
		def = 32 // the race detector slows flate tenfold; keep the test well under a minute
	}
	size := envMiB(t, "CMS_MEMTEST_MIB", def) << 20
	in, out, hs := roundTripStream(t, size, SuiteAES256SHA256)
	if string(in) != string(out) {
		t.Fatal("plaintext differs after the round trip")
	}
	const limit = 48 << 20
	t.Logf("%d MiB: peak heap %.1f MiB, first eighth %.1f MiB", size>>20, float64(hs.peak)/(1<<20), float64(hs.peakEarly)/(1<<20))
	if hs.peak > limit {
		t.Fatalf("peak heap %d MiB exceeds %d MiB for a streamed file", hs.peak>>20, limit>>20)
	}
	if hs.peak > hs.peakEarly+16<<20 {
		t.Fatalf("heap grew from %d MiB to %d MiB while streaming", hs.peakEarly>>20, hs.peak>>20)
	}
}

// BenchmarkLargeFile round-trips one file of CMS_BENCH_MIB MiB (default 256, up to
// 2048) per iteration and reports the peak heap.
func BenchmarkLargeFile(b *testing.B) {
	testIdentity(b, "alice")
	testIdentity(b, "bob")
	size := envMiB(b, "CMS_BENCH_MIB", 256) << 20
	b.SetBytes(size)
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		_, _, hs := roundTripStream(b, size, SuiteAES256SHA256)
		peak = max(peak, hs.peak)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
