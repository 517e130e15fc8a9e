package cms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

// stageGoroutines counts the goroutines running a hand-off between layers.
func stageGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte("cms.(*stageWriter).run")) + bytes.Count(buf, []byte("cms.(*stageReader).run"))
}

// noStagesLeft fails unless every hand-off goroutine has ended. A goroutine that
// has signalled its end may still be on its way out, hence the wait.
func noStagesLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for stageGoroutines() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := stageGoroutines(); n > 0 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d stage goroutines left:\n%s", n, buf[:runtime.Stack(buf, true)])
	}
}

// TestFileWriterConcurrentMatchesSequential: without encryption the output is
// deterministic (fixed clock, PKCS #1 v1.5 signatures), so running the layers
// concurrently must give exactly the octets of running them one after the other.
func TestFileWriterConcurrentMatchesSequential(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	// Sizes around and well beyond the hand-off buffers.
	sizes := []int{0, 1, stageBufSize - 1, stageBufSize, 3*stageBufSize + 17, 4 << 20}
	if raceEnabled {
		sizes = sizes[:5] // zlib is slow under the race detector
	}
	for _, size := range sizes {
		data := testData(size, 11)
		for _, mask := range []int{1, 2, 3} {
			sign, compress := mask&1 != 0, mask&2 != 0
			t.Run(fmt.Sprintf("%d/sign=%v,compress=%v", size, sign, compress), func(t *testing.T) {
				p := protection(SuiteAES256SHA256, sign, compress, false)
				p.ChunkSize = 0
				conc := protect(t, data, p)
				p.Sequential = true
				seq := protect(t, data, p)
				if !bytes.Equal(conc, seq) {
					t.Fatalf("concurrent output (%d octets) differs from sequential (%d)", len(conc), len(seq))
				}
			})
		}
	}
	noStagesLeft(t)
}

// TestFileConcurrentCrossModes: a file written concurrently opens sequentially and
// the other way round, for every combination of layers and across many hand-offs.
func TestFileConcurrentCrossModes(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	n := 3<<20 + 5 // a dozen hand-offs
	if raceEnabled {
		n = stageBufSize*stageBuffers + 5
	}
	data := testData(n, 12)
	for mask := 1; mask < 8; mask++ {
		sign, compress, encrypt := mask&1 != 0, mask&2 != 0, mask&4 != 0
		for _, seqWrite := range []bool{false, true} {
			t.Run(fmt.Sprintf("sign=%v,compress=%v,encrypt=%v,seqwrite=%v", sign, compress, encrypt, seqWrite), func(t *testing.T) {
				p := protection(SuiteAES256SHA256, sign, compress, encrypt)
				p.Sequential = seqWrite
				wire := protect(t, data, p)
				got, _, err := open(wire, verification(sign, compress, encrypt)) // both read modes
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("plaintext differs (%d vs %d octets)", len(got), len(data))
				}
			})
		}
	}
	noStagesLeft(t)
}

// failingWriter accepts limit octets, then fails.
type failingWriter struct {
	limit int
	err   error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, w.err
	}
	w.limit -= len(p)
	return len(p), nil
}

// TestFileWriterDestinationFails: when dst fails, on the encrypting goroutine, the
// caller's Write or Close returns that error and every stage ends.
func TestFileWriterDestinationFails(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(2<<20, 13)
	errDst := errors.New("destination gone")
	// The file compresses to about 270 KiB.
	for _, limit := range []int{0, 100, 2000, 30 << 10, 150 << 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			w, err := NewFileWriter(&failingWriter{limit: limit, err: errDst}, protection(SuiteAES256SHA256, true, true, true))
			if err != nil {
				if errors.Is(err, errDst) {
					noStagesLeft(t)
					return // writing the headers failed
				}
				t.Fatal(err)
			}
			var werr error
			for i := 0; i < len(data) && werr == nil; i += 64 << 10 {
				_, werr = w.Write(data[i : i+64<<10])
			}
			cerr := w.Close()
			if !errors.Is(cerr, errDst) {
				t.Fatalf("Close: %v", cerr)
			}
			if werr != nil && !errors.Is(werr, errDst) {
				t.Fatalf("Write: %v", werr)
			}
			if _, err := w.Write([]byte("more")); !errors.Is(err, errDst) {
				t.Fatalf("Write after the failure: %v", err)
			}
			noStagesLeft(t)
		})
	}
}

// TestFileWriterAbort: an aborted file is not a valid file, later calls report the
// cause, and the stages end.
func TestFileWriterAbort(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(1<<20, 14)
	var buf bytes.Buffer
	w, err := NewFileWriter(&buf, protection(SuiteAES256SHA256, true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	errSource := errors.New("source failed")
	w.Abort(errSource)
	noStagesLeft(t)
	if _, err := w.Write(data[:10]); !errors.Is(err, errSource) {
		t.Fatalf("Write after Abort: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errSource) {
		t.Fatalf("Close after Abort: %v", err)
	}
	if _, _, err := open(buf.Bytes(), verification(true, true, true)); err == nil {
		t.Fatal("an aborted file opened")
	}
	// Abort after a successful Close changes nothing.
	buf.Reset()
	w, err = NewFileWriter(&buf, protection(SuiteAES256SHA256, true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Abort(errSource)
	if got, _, err := open(buf.Bytes(), verification(true, true, true)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file closed before Abort: %v", err)
	}
	noStagesLeft(t)
}

// blockingWriter accepts free octets, then blocks every write until release is
// closed.
type blockingWriter struct {
	free    int
	entered chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if len(p) <= w.free {
		w.free -= len(p)
		return len(p), nil
	}
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	return len(p), nil
}

// TestFileWriterContextCanceled: the end of the context stops a writer whose
// destination has stalled; the caller's Write does not wait for it.
func TestFileWriterContextCanceled(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	dst := &blockingWriter{free: 100 << 10, entered: make(chan struct{}, 1), release: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := NewFileWriterContext(ctx, dst, protection(SuiteAES256SHA256, true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	data := testData(64<<10, 15)
	errc := make(chan error, 1)
	go func() {
		// Writes until the hand-offs are full and the writer waits for dst.
		for {
			if _, err := w.Write(data); err != nil {
				errc <- err
				return
			}
		}
	}()
	<-dst.entered
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Write after cancel: %v", err)
	}
	close(dst.release) // the stalled write to dst returns
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close after cancel: %v", err)
	}
	noStagesLeft(t)
}

// TestFileWriterSignerFailsConcurrently: a signing failure at Close is reported with
// the suite, and the compressing and encrypting stages end.
func TestFileWriterSignerFailsConcurrently(t *testing.T) {
	alice := testIdentity(t, "alice")
	testIdentity(t, "bob")
	p := protection(Suite3DESSHA1, true, true, true)
	p.Signer = &kmsSigner{inner: alice.key}
	w, err := NewFileWriter(io.Discard, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(testData(1<<20, 16)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, errKMSNoSHA1) {
		t.Fatalf("Close: %v", err)
	}
	noStagesLeft(t)
}

// TestFileReaderSourceFails: a failure of src while decrypting ahead reaches the
// caller as a decryption failure wrapping it, after the data before it, exactly as
// when reading sequentially.
func TestFileReaderSourceFails(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(2<<20, 17)
	wire := protect(t, data, protection(SuiteAES256SHA256, true, true, true))
	errNet := errors.New("connection lost")
	for _, seq := range []bool{false, true} {
		src := io.MultiReader(bytes.NewReader(wire[:len(wire)/2]), &failingReader{err: errNet})
		v := verification(true, true, true)
		v.Sequential = seq
		fr, err := NewFileReader(src, v)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, fr)
		if !errors.Is(err, errNet) || !errors.Is(err, ErrDecryption) {
			t.Fatalf("sequential=%v: %v", seq, err)
		}
		if n == 0 || n >= int64(len(data)) {
			t.Fatalf("sequential=%v: %d octets before the failure", seq, n)
		}
		if res := fr.Result(); res.Err == nil || res.Signer != nil {
			t.Fatalf("sequential=%v: result %+v", seq, res)
		}
		fr.Close()
	}
	noStagesLeft(t)
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }

// TestFileReaderCloseMidFile: a reader abandoned in the middle of a file whose source
// still blocks ends its read-ahead once the source is closed.
func TestFileReaderCloseMidFile(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(4<<20, 18)
	wire := protect(t, data, protection(SuiteAES256SHA256, true, true, true))
	pr, pw := io.Pipe()
	go func() {
		pw.Write(wire[:len(wire)/2]) // then blocks: no more is read once Close ran
	}()
	fr, err := NewFileReader(pr, verification(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(fr, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	pr.CloseWithError(errors.New("transfer aborted"))
	fr.Close()
	noStagesLeft(t)
	if _, err := fr.Read(make([]byte, 10)); err == nil || err == io.EOF {
		t.Fatalf("Read after Close: %v", err)
	}
}

// TestFileReaderContextCanceled: the end of the context fails the reader; the file
// read so far is not reported as verified.
func TestFileReaderContextCanceled(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(2<<20, 19)
	wire := protect(t, data, protection(SuiteAES256SHA256, true, true, true))
	ctx, cancel := context.WithCancel(context.Background())
	fr, err := NewFileReaderContext(ctx, bytes.NewReader(wire), verification(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(fr, make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, fr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel: %v", err)
	}
	if res := fr.Result(); res.Err == nil || res.Signer != nil {
		t.Fatalf("result %+v", res)
	}
	fr.Close()
	noStagesLeft(t)
}

// BenchmarkStageWriter measures one hand-off alone: copying into pooled buffers and
// the goroutine switch.
func BenchmarkStageWriter(b *testing.B) {
	data := benchData()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		p := newPipeline(context.Background())
		s := newStageWriter(p, io.Discard, func() error { return nil })
		for i := 0; i < benchSize; i += 64 << 10 {
			if _, err := s.Write(data[i : i+64<<10]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		p.wait()
		s.release()
	}
}

// BenchmarkStageReader measures one read-ahead hand-off alone.
func BenchmarkStageReader(b *testing.B) {
	data := benchData()
	buf := make([]byte, 64<<10)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		p := newPipeline(context.Background())
		s := newStageReader(p, bytes.NewReader(data))
		if n, err := io.CopyBuffer(io.Discard, s, buf); err != nil || n != benchSize {
			b.Fatal(n, err)
		}
		p.wait()
		s.release()
	}
}
