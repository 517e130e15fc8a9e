package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// servePiped serves p in this process with the data plane (when withDP) and
// returns a connected client that has described the plugin. The plugin's
// end of the socket pair is used by the server exactly as a plugin process
// uses the one it inherits.
func servePiped(t testing.TB, p Plugin, offer, serve bool) *RemotePlugin {
	t.Helper()
	dp, err := NewDataPlane()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var srv *grpc.Server
	if serve {
		srv, err = NewGRPCServerWithDataPlane(p, dp)
	} else {
		// A plugin built with an SDK that knows no data plane.
		srv, err = NewGRPCServer(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	transport := NewHostTransport()
	conn, err := grpc.NewClient(ln.Addr().String(), append(transport.DialOptions, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		dp.Close()
	})
	rp := transport.RemotePlugin(conn)
	if offer {
		rp.OfferDataPlane(dp)
	}
	if _, err := rp.Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rp
}

// memSink keeps committed objects in memory and records aborts.
type memSink struct {
	mu      sync.Mutex
	objects map[string][]byte
	aborts  int
	failAt  int64 // a Write reaching this many bytes fails (0: never)
	block   chan struct{}
}

func newMemSink() *memSink { return &memSink{objects: map[string][]byte{}} }

func (s *memSink) Open(_ context.Context, meta FileMeta) (SinkWriter, error) {
	return &memWriter{s: s, name: meta.ObjectName}, nil
}

type memWriter struct {
	s    *memSink
	name string
	buf  bytes.Buffer
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.s.block != nil {
		<-w.s.block
	}
	if w.s.failAt > 0 && int64(w.buf.Len()+len(p)) >= w.s.failAt {
		return 0, Permanent(errors.New("disk quota exceeded"))
	}
	return w.buf.Write(p)
}

func (w *memWriter) Commit(context.Context) (ObjectRef, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if _, ok := w.s.objects[w.name]; ok {
		return ObjectRef{}, ErrExists
	}
	w.s.objects[w.name] = w.buf.Bytes()
	sum := sha256.Sum256(w.buf.Bytes())
	return ObjectRef{Name: w.name, Size: int64(w.buf.Len()), SHA256Hex: fmt.Sprintf("%x", sum)}, nil
}

func (w *memWriter) Abort(context.Context) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.aborts++
	return nil
}

func (s *memSink) get(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.objects[name]
	return b, ok
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

func TestDataPlaneNegotiation(t *testing.T) {
	for _, tc := range []struct {
		name         string
		offer, serve bool
	}{
		{"both", true, true},
		{"host-without", false, true},
		{"plugin-without", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newMemSink()
			rp := servePiped(t, Plugin{Name: "mem", Sink: sink}, tc.offer, tc.serve)
			if got, want := rp.DataPlane(), tc.offer && tc.serve; got != want {
				t.Fatalf("DataPlane() = %v, want %v", got, want)
			}
			w, err := rp.Sink().Open(context.Background(), FileMeta{ObjectName: "f"})
			if err != nil {
				t.Fatal(err)
			}
			if _, isPipe := w.(*pipeWriter); isPipe != rp.DataPlane() {
				t.Errorf("writer %T with DataPlane() = %v", w, rp.DataPlane())
			}
			data := pattern(3<<20 + 17)
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			ref, err := w.Commit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := sink.get("f"); !bytes.Equal(got, data) || ref.Size != int64(len(data)) {
				t.Errorf("stored %d bytes (ref %d), want %d", len(got), ref.Size, len(data))
			}
		})
	}
}

// A connector whose byte count differs from what came through the pipe gets
// no commit: the plugin aborts.
func TestDataPlaneCommitChecksByteCount(t *testing.T) {
	for _, delta := range []int64{+1, -1} {
		t.Run(fmt.Sprint(delta), func(t *testing.T) {
			sink := newMemSink()
			rp := servePiped(t, Plugin{Name: "mem", Sink: sink}, true, true)
			w, err := rp.Sink().Open(context.Background(), FileMeta{ObjectName: "f"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(pattern(2 << 20)); err != nil {
				t.Fatal(err)
			}
			w.(*pipeWriter).n += delta // as if bytes had been lost or invented on the way
			_, err = w.Commit(context.Background())
			if err == nil || !strings.Contains(err.Error(), "pipe delivered") || !IsRetryable(err) {
				t.Fatalf("Commit with a wrong byte count: %v, want a retryable data-plane error", err)
			}
			if _, ok := sink.get("f"); ok {
				t.Error("object committed despite the byte count mismatch")
			}
			sink.mu.Lock()
			aborts := sink.aborts
			sink.mu.Unlock()
			if aborts != 1 {
				t.Errorf("%d aborts, want 1", aborts)
			}
		})
	}
}

// A sink failing mid-file closes the pipe; the connector's blocked write
// gets EPIPE and reports the plugin's own error, not a broken connection.
func TestDataPlaneSinkFailureMidFile(t *testing.T) {
	sink := newMemSink()
	sink.failAt = 5 << 20
	rp := servePiped(t, Plugin{Name: "mem", Sink: sink}, true, true)
	w, err := rp.Sink().Open(context.Background(), FileMeta{ObjectName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	chunk := pattern(1 << 20)
	var werr error
	for i := 0; i < 64 && werr == nil; i++ {
		_, werr = w.Write(chunk)
	}
	if werr == nil {
		_, werr = w.Commit(context.Background())
	}
	if werr == nil || !strings.Contains(werr.Error(), "disk quota exceeded") || !IsPermanent(werr) || errors.Is(werr, ErrConnection) {
		t.Fatalf("write into a failing sink: %v, want the sink's permanent error", werr)
	}
	if _, ok := sink.get("f"); ok {
		t.Error("failed file committed")
	}
}

// A sink that fails while the plugin's read-ahead buffers and the pipe are
// all full: the read-ahead stops too and the call ends with the sink's
// error instead of hanging.
func TestDataPlaneSinkFailsWithReadAheadFull(t *testing.T) {
	sink := newMemSink()
	sink.failAt = 1
	sink.block = make(chan struct{})
	rp := servePiped(t, Plugin{Name: "mem", Sink: sink}, true, true)
	w, err := rp.Sink().Open(context.Background(), FileMeta{ObjectName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		chunk := pattern(1 << 20)
		for i := 0; i < 256; i++ {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
			written.Add(1)
		}
		done <- nil
	}()
	// The sink holds one buffer, the read-ahead the others, the pipe one
	// more: then the connector's writes stop.
	for written.Load() < pipeAhead+2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(sink.block)
	werr := <-done
	if werr == nil || !strings.Contains(werr.Error(), "disk quota exceeded") {
		t.Fatalf("write into a failing sink: %v", werr)
	}
}

// Cancelling the upload's context unblocks a write stuck on a full pipe.
func TestDataPlaneCancelUnblocksWrite(t *testing.T) {
	sink := newMemSink()
	sink.block = make(chan struct{})
	defer close(sink.block)
	rp := servePiped(t, Plugin{Name: "mem", Sink: sink}, true, true)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := rp.Sink().Open(ctx, FileMeta{ObjectName: "f"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		chunk := pattern(1 << 20)
		for {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("write after cancel: %v", err)
	}
}

// memSource serves files from memory; "broken" fails after 3 MiB.
type memSource struct{ files map[string][]byte }

func (s memSource) List(context.Context) ([]OutgoingFile, error) { return nil, nil }
func (s memSource) Open(_ context.Context, id string, offset int64) (io.ReadCloser, error) {
	if id == "broken" {
		return io.NopCloser(io.MultiReader(bytes.NewReader(pattern(3<<20)), errReader{})), nil
	}
	b, ok := s.files[id]
	if !ok {
		return nil, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b[min(offset, int64(len(b))):])), nil
}
func (s memSource) Ack(context.Context, string, Receipt) error     { return nil }
func (s memSource) Nack(context.Context, string, NackReason) error { return nil }
func (errReader) Read([]byte) (int, error)                         { return 0, Retryable(errors.New("object store timeout")) }

type errReader struct{}

func TestDataPlaneSourceRead(t *testing.T) {
	data := pattern(5<<20 + 3)
	rp := servePiped(t, Plugin{Name: "mem", Source: memSource{map[string][]byte{"a": data}}}, true, true)
	ctx := context.Background()
	r, err := rp.Source().Open(ctx, "a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*pipeReader); !ok {
		t.Fatalf("reader %T, want the data plane's", r)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data[1000:]) {
		t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(data)-1000)
	}
	r.Close()
	if _, err := rp.Source().Open(ctx, "missing", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("open of a missing file: %v", err)
	}
	r, err = rp.Source().Open(ctx, "broken", 0)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if err == nil || !strings.Contains(err.Error(), "object store timeout") || !IsRetryable(err) {
		t.Errorf("read of a failing source: %d bytes, %v", n, err)
	}
	r.Close()
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// Every way a transfer can end closes both ends of its pipe, on the
// connector's side and on the plugin's (both live in this process here).
func TestDataPlaneNoDescriptorLeak(t *testing.T) {
	sink := newMemSink()
	sink.failAt = 3 << 20
	rp := servePiped(t, Plugin{Name: "mem", Sink: sink, Source: memSource{map[string][]byte{"a": pattern(2 << 20)}}}, true, true)
	ctx := context.Background()
	small := pattern(64 << 10)
	// Warm up gRPC's connection and goroutines before counting.
	w, _ := rp.Sink().Open(ctx, FileMeta{ObjectName: "warm"})
	_, _ = w.Write(small)
	_, _ = w.Commit(ctx)
	// An *os.File that is dropped unclosed is closed by its finalizer
	// sooner or later; without collections, a leak stays visible.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFDs(t)
	for i := range 36 {
		name := fmt.Sprint("f", i)
		switch i % 6 {
		case 0: // committed
			w, err := rp.Sink().Open(ctx, FileMeta{ObjectName: name})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(small)
			if _, err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		case 1: // aborted
			w, err := rp.Sink().Open(ctx, FileMeta{ObjectName: name})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(small)
			if err := w.Abort(ctx); err != nil {
				t.Fatal(err)
			}
		case 2: // cancelled mid-file
			cctx, cancel := context.WithCancel(ctx)
			w, err := rp.Sink().Open(cctx, FileMeta{ObjectName: name})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(small)
			cancel()
			_, _ = w.Write(small)
			_ = w.Abort(ctx)
		case 3: // the sink fails mid-file
			w, err := rp.Sink().Open(ctx, FileMeta{ObjectName: name})
			if err != nil {
				t.Fatal(err)
			}
			for k := 0; k < 8; k++ {
				if _, err := w.Write(pattern(1 << 20)); err != nil {
					break
				}
			}
			_ = w.Abort(ctx)
		case 4: // source read to the end
			r, err := rp.Source().Open(ctx, "a", 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatal(err)
			}
			r.Close()
		case 5: // source closed early
			r, err := rp.Source().Open(ctx, "a", 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = r.Read(make([]byte, 100))
			r.Close()
		}
	}
	// The plugin's side finishes each call on its own goroutine; give it
	// a moment to close its ends.
	deadline := time.Now().Add(10 * time.Second)
	after := openFDs(t)
	for after > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		after = openFDs(t)
	}
	if after > before {
		t.Errorf("%d descriptors open after 36 transfers, %d before", after, before)
	}
}

// A pipe whose gRPC call never comes is closed after a while; one that
// arrives twice, or for the wrong kind of call, is refused.
func TestPipeInbox(t *testing.T) {
	deliveries := make(chan func(func(byte, uint64, *os.File)), 8)
	stopped := make(chan struct{})
	in := newPipeInbox(func(deliver func(byte, uint64, *os.File)) error {
		for {
			select {
			case d := <-deliveries:
				d(deliver)
			case <-stopped:
				return errors.New("closed")
			}
		}
	}, func() error { close(stopped); return nil })
	send := func(kind byte, id uint64) *os.File {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		deliveries <- func(deliver func(byte, uint64, *os.File)) { deliver(kind, id, r); close(done) }
		<-done
		return w
	}
	ctx := context.Background()
	w := send(transferSink, 1)
	defer w.Close()
	f, err := in.claim(ctx, transferSink, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	w2 := send(transferSource, 2)
	defer w2.Close()
	if _, err := in.claim(ctx, transferSink, 2); !errors.Is(err, ErrDataPlane) || !IsPermanent(err) {
		t.Errorf("claim of the wrong kind: %v", err)
	}
	// A claim waits for a pipe still on its way.
	got := make(chan error, 1)
	go func() {
		f, err := in.claim(ctx, transferSink, 3)
		if err == nil {
			f.Close()
		}
		got <- err
	}()
	for {
		in.mu.Lock()
		_, waiting := in.waiting[3]
		in.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	w3 := send(transferSink, 3)
	defer w3.Close()
	if err := <-got; err != nil {
		t.Errorf("claim before arrival: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := in.claim(cctx, transferSink, 4); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled claim: %v", err)
	}
	if !in.available() {
		t.Error("inbox unavailable before its socket closed")
	}
	_ = in.close()
	for in.available() {
		time.Sleep(time.Millisecond)
	}
	if _, err := in.claim(ctx, transferSink, 5); !errors.Is(err, ErrDataPlane) || !IsRetryable(err) {
		t.Errorf("claim after the socket closed: %v", err)
	}
}

// parseTransfer closes nothing itself, so a message with several
// descriptors hands all of them back.
func TestParseTransfer(t *testing.T) {
	msg := encodeTransfer(transferSink, 42)
	kind, id, fds, err := parseTransfer(msg, syscall.UnixRights(7, 8))
	if err != nil || kind != transferSink || id != 42 || len(fds) != 2 || fds[0] != 7 || fds[1] != 8 {
		t.Errorf("parseTransfer = %d %d %v %v", kind, id, fds, err)
	}
	for _, bad := range [][]byte{nil, msg[:9], append(bytes.Clone(msg), 0), {2, 1, 0, 0, 0, 0, 0, 0, 0, 1}, {1, 3, 0, 0, 0, 0, 0, 0, 0, 1}, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, fds, err := parseTransfer(bad, syscall.UnixRights(9)); err == nil || len(fds) != 1 {
			t.Errorf("parseTransfer(%x) = %v, %v; want an error and the descriptor back", bad, fds, err)
		}
	}
}

// FuzzParseTransfer decodes arbitrary data-plane messages and ancillary
// data, as a misbehaving peer could send them.
func FuzzParseTransfer(f *testing.F) {
	f.Add(encodeTransfer(transferSink, 1), syscall.UnixRights(5))
	f.Add(encodeTransfer(transferSource, 1<<40), syscall.UnixRights(5, 6, 7))
	f.Add([]byte{1, 1}, []byte{})
	f.Add([]byte{}, []byte{16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg, oob []byte) {
		kind, id, fds, err := parseTransfer(msg, oob)
		if len(fds) > len(oob)/4 {
			t.Fatalf("%d descriptors from %d bytes of ancillary data", len(fds), len(oob))
		}
		if err == nil && (id == 0 || (kind != transferSink && kind != transferSource)) {
			t.Fatalf("accepted kind %d id %d", kind, id)
		}
		if err == nil && !bytes.Equal(encodeTransfer(kind, id), msg) {
			t.Fatalf("message %x decoded to kind %d id %d", msg, kind, id)
		}
	})
}

// discardSink stores nothing: the transport alone.
type discardSink struct{}

func (discardSink) Open(context.Context, FileMeta) (SinkWriter, error) { return &discardWriter{}, nil }

type discardWriter struct{ n int64 }

func (w *discardWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *discardWriter) Commit(context.Context) (ObjectRef, error) {
	return ObjectRef{Size: w.n}, nil
}
func (w *discardWriter) Abort(context.Context) error { return nil }

// BenchmarkDataPlanePipeSize streams 64 MiB per operation in 1 MiB writes
// through the data plane with the kernel's default pipe buffer and with the
// enlarged one (F_SETPIPE_SZ), and through gRPC chunks for comparison
// (loopback TCP without TLS, both ends in this process).
func BenchmarkDataPlanePipeSize(b *testing.B) {
	const size = 64 << 20
	buf := pattern(1 << 20)
	for _, bc := range []struct {
		name     string
		dp       bool
		pipeSize int
	}{
		{"pipe-64KiB", true, 64 << 10},
		{"pipe-1MiB", true, 1 << 20},
		{"grpc-chunks", false, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rp := servePiped(b, Plugin{Name: "discard", Sink: discardSink{}}, bc.dp, true)
			if bc.dp {
				rp.dp.Load().pipeSize = bc.pipeSize
			}
			ctx := context.Background()
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				w, err := rp.Sink().Open(ctx, FileMeta{ObjectName: "x"})
				if err != nil {
					b.Fatal(err)
				}
				for n := 0; n < size; n += len(buf) {
					if _, err := w.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				if ref, err := w.Commit(ctx); err != nil || ref.Size != size {
					b.Fatalf("commit: %+v, %v", ref, err)
				}
			}
		})
	}
}
