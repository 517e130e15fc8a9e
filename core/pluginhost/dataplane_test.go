package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
	"github.com/oftp2/connector/sdk/sdktest"
)

// openFDs counts the connector process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// writeFile streams n bytes of seed into name and commits.
func writeFile(ctx context.Context, s sdk.Sink, name string, seed uint64, n int64) error {
	w, err := s.Open(ctx, sdk.FileMeta{ObjectName: name})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, sdktest.DataReader(seed, n)); err != nil {
		_ = w.Abort(ctx)
		return err
	}
	_, err = w.Commit(ctx)
	return err
}

// A plugin built with an older SDK does not announce the data plane: the
// connector keeps gRPC chunks for it and closes the socket it offered.
func TestDataPlaneFallbackForOlderPlugins(t *testing.T) {
	h, _ := testHost(t)
	dir := t.TempDir()
	ctx := context.Background()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := openFDs(t)
	p, err := h.Start(ctx, Spec{Name: "old", Builtin: "olddp", Config: dirConfig(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	if p.DataPlane() {
		t.Fatal("data plane in use with a plugin that did not announce it")
	}
	if err := writeFile(ctx, p.Sink(), "a.bin", 3, 5<<20); err != nil {
		t.Fatal(err)
	}
	if got := fileSHA256(t, filepath.Join(dir, "a.bin")); got != sdktest.Digest(3, 5<<20) {
		t.Error("stored file differs")
	}
	p.Close()
	waitFDs(t, before)
}

// waitFDs waits for the descriptor count to fall back to want; a plugin
// process's pipes to the connector close once it is reaped.
func waitFDs(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	got := openFDs(t)
	for got > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		got = openFDs(t)
	}
	if got > want {
		ents, _ := os.ReadDir("/proc/self/fd")
		var links []string
		for _, e := range ents {
			l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
			links = append(links, e.Name()+"->"+l)
		}
		t.Errorf("%d descriptors open, %d before: %v", got, want, links)
	}
}

// Every way a transfer ends, and a plugin process replaced after a crash,
// leaves no descriptor open in the connector.
func TestDataPlaneNoDescriptorLeak(t *testing.T) {
	h, _ := testHost(t)
	inbox, outbox := t.TempDir(), t.TempDir()
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(outbox, "ORDERS"), make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sink, err := h.Start(ctx, Spec{Name: "inbox", Builtin: localfs.Name, Config: dirConfig(t, inbox)})
	if err != nil {
		t.Fatal(err)
	}
	src, err := h.Start(ctx, Spec{Name: "outbox", Builtin: localfs.Name, Config: dirConfig(t, outbox)})
	if err != nil {
		t.Fatal(err)
	}
	if !sink.DataPlane() || !src.DataPlane() {
		t.Fatal("plugins without the data plane")
	}
	// Dropped files would be closed by their finalizers; without
	// collections a leak stays visible.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if err := writeFile(ctx, sink.Sink(), "warm", 1, 1<<10); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	for i := range 30 {
		name := fmt.Sprint("f", i)
		switch i % 5 {
		case 0:
			if err := writeFile(ctx, sink.Sink(), name, uint64(i), 2<<20+int64(i)); err != nil {
				t.Fatal(err)
			}
		case 1:
			w, err := sink.Sink().Open(ctx, sdk.FileMeta{ObjectName: name})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(w, sdktest.DataReader(1, 1<<20))
			if err := w.Abort(ctx); err != nil {
				t.Fatal(err)
			}
		case 2:
			cctx, cancel := context.WithCancel(ctx)
			w, err := sink.Sink().Open(cctx, sdk.FileMeta{ObjectName: name})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(w, sdktest.DataReader(1, 1<<20))
			cancel()
			if _, err := w.Write(make([]byte, 1<<20)); !errors.Is(err, context.Canceled) {
				t.Errorf("write after cancel: %v", err)
			}
			_ = w.Abort(ctx)
		case 3:
			r, err := src.Source().Open(ctx, "ORDERS", 0)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != 3<<20 {
				t.Fatalf("read %d, %v", n, err)
			}
			r.Close()
		case 4:
			r, err := src.Source().Open(ctx, "ORDERS", 0)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = r.Read(make([]byte, 10))
			r.Close()
		}
	}
	waitFDs(t, before)
	// A crash mid-file: the next call runs on a new process with a new
	// socket; the old one's descriptors are gone.
	w, err := sink.Sink().Open(ctx, sdk.FileMeta{ObjectName: "crash"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(w, sdktest.DataReader(1, 1<<20))
	if err := syscall.Kill(sink.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var werr error
	for i := 0; i < 4096 && werr == nil; i++ {
		_, werr = w.Write(make([]byte, 1<<20))
	}
	if !errors.Is(werr, ErrExited) || !sdk.IsRetryable(werr) {
		t.Errorf("write to a killed plugin: %v", werr)
	}
	if err := writeFile(ctx, sink.Sink(), "after", 2, 1<<20); err != nil {
		t.Fatal(err)
	}
	if !sink.DataPlane() {
		t.Error("restarted plugin without the data plane")
	}
	waitFDs(t, before)
}

// A source plugin killed while the connector reads a file: the read fails
// with the same retryable ErrExited on both transports.
func TestSourceKilledMidRead(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			h, _ := testHostWith(t, tr.opts)
			outbox := t.TempDir()
			f, err := os.Create(filepath.Join(outbox, "BIG"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, sdktest.DataReader(5, 64<<20)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			ctx := context.Background()
			p, err := h.Start(ctx, Spec{Name: "outbox", Builtin: localfs.Name, Config: dirConfig(t, outbox)})
			if err != nil {
				t.Fatal(err)
			}
			r, err := p.Source().Open(ctx, "BIG", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, r)
			if !errors.Is(err, ErrExited) || !sdk.IsRetryable(err) {
				t.Fatalf("read from a killed plugin: %v, want a retryable ErrExited", err)
			}
		})
	}
}

// Transfers running at once each get their own pipe: files written and read
// concurrently arrive intact.
func TestDataPlaneConcurrentTransfers(t *testing.T) {
	h, _ := testHost(t)
	dir := t.TempDir()
	ctx := context.Background()
	for i := range 4 {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint("OUT", i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, sdktest.DataReader(uint64(100+i), 4<<20+int64(i))); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	p, err := h.Start(ctx, Spec{Name: "both", Builtin: localfs.Name, Config: dirConfig(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- writeFile(ctx, p.Sink(), fmt.Sprint("in/", i), uint64(i), 3<<20+int64(i))
		}()
	}
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := p.Source().Open(ctx, fmt.Sprint("OUT", i), 0)
			if err != nil {
				errs <- err
				return
			}
			defer r.Close()
			errs <- sameBytes(r, sdktest.DataReader(uint64(100+i), 4<<20+int64(i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i := range 8 {
		if got := fileSHA256(t, filepath.Join(dir, "in", fmt.Sprint(i))); got != sdktest.Digest(uint64(i), 3<<20+int64(i)) {
			t.Errorf("file %d differs", i)
		}
	}
}

// sameBytes compares two streams without holding them.
func sameBytes(a, b io.Reader) error {
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	var off int64
	for {
		na, ea := io.ReadFull(a, ba)
		nb, eb := io.ReadFull(b, bb)
		if na != nb || string(ba[:na]) != string(bb[:nb]) {
			return fmt.Errorf("streams differ after offset %d", off)
		}
		off += int64(na)
		if ea != nil || eb != nil {
			if (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF) {
				return nil
			}
			return fmt.Errorf("at %d: %v / %v", off, ea, eb)
		}
	}
}

// The source conformance suite through a plugin process on both transports.
func TestSourceConformanceThroughHost(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			h, _ := testHostWith(t, tr.opts)
			outbox := t.TempDir()
			p, err := h.Start(context.Background(), Spec{Name: "outbox", Builtin: localfs.Name, Config: dirConfig(t, outbox)})
			if err != nil {
				t.Fatal(err)
			}
			if p.DataPlane() == tr.opts.NoDataPlane {
				t.Fatalf("DataPlane() = %v with NoDataPlane %v", p.DataPlane(), tr.opts.NoDataPlane)
			}
			sdktest.RunSource(t, sdktest.SourceConfig{Source: p.Source(), Put: func(_ context.Context, name string, r io.Reader) error {
				// Producers drop files atomically: a hidden name, then rename.
				tmp := filepath.Join(outbox, ".put-"+name)
				f, err := os.Create(tmp)
				if err != nil {
					return err
				}
				if _, err := io.Copy(f, r); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
				return os.Rename(tmp, filepath.Join(outbox, name))
			}})
		})
	}
}
