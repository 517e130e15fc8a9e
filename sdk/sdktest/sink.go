package sdktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/sdk"
)

// SinkConfig describes a sink under test.
type SinkConfig struct {
	// Sink is the implementation under test, configured and ready.
	Sink sdk.Sink
	// Fetch opens a committed object by name, bypassing the sink (reading the
	// directory, the bucket...). It returns an error matching sdk.ErrNotFound
	// when no object of that name is visible.
	Fetch func(ctx context.Context, name string) (io.ReadCloser, error)
	// Visible, when set, lists every object name a reader of the storage can
	// see; the suite checks that aborted or failed writes leave none behind.
	Visible func(ctx context.Context) ([]string, error)
	// Prefix starts every object name the suite uses, so that runs can share
	// storage. Empty means "sdktest/".
	Prefix string
	// LargeSize is the size of the streamed large file; 0 means 64 MiB.
	LargeSize int64
	// Concurrency is the number of files written at once; 0 means 8.
	Concurrency int
}

func (c *SinkConfig) defaults(t *testing.T) {
	t.Helper()
	if c.Sink == nil || c.Fetch == nil {
		t.Fatal("sdktest: SinkConfig needs Sink and Fetch")
	}
	if c.Prefix == "" {
		c.Prefix = "sdktest/"
	}
	if c.LargeSize == 0 {
		c.LargeSize = 64 << 20
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
}

// RunSink runs the sink conformance suite.
func RunSink(t *testing.T, cfg SinkConfig) {
	cfg.defaults(t)
	run := fmt.Sprintf("%s%d-", cfg.Prefix, time.Now().UnixNano())
	name := func(t *testing.T) string {
		return run + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	}
	meta := func(n string) sdk.FileMeta {
		return sdk.FileMeta{
			Partner: "sdktest", DatasetName: "SDKTEST.DATA", DateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Ticker: 7,
			Originator: "O0013000000SDKTEST", Destination: "O0013000000CONNECT", Format: sdk.FormatUnstructured,
			Description: "conformance suite", ObjectName: n, Attributes: map[string]string{"suite": "sdktest"},
		}
	}

	t.Run("Sink", func(t *testing.T) { runSink(t, cfg, name, meta) })
}

func runSink(t *testing.T, cfg SinkConfig, name func(*testing.T) string, meta func(string) sdk.FileMeta) {
	t.Run("RoundTrip", func(t *testing.T) {
		ctx := context.Background()
		n := name(t)
		body := []byte("UNB+UNOC:3+SENDER+RECEIVER'\n")
		ref := writeObject(t, cfg.Sink, meta(n), bytes.NewReader(body), 7)
		if ref.Name != n {
			t.Errorf("ObjectRef.Name = %q, want %q", ref.Name, n)
		}
		if ref.Size != int64(len(body)) {
			t.Errorf("ObjectRef.Size = %d, want %d", ref.Size, len(body))
		}
		sum := sha256.Sum256(body)
		if ref.SHA256Hex != "" && ref.SHA256Hex != hex.EncodeToString(sum[:]) {
			t.Errorf("ObjectRef.SHA256Hex = %s, want %x", ref.SHA256Hex, sum)
		}
		if got := fetchDigest(t, cfg, ctx, n); got != hex.EncodeToString(sum[:]) {
			t.Errorf("stored content digest %s, want %x", got, sum)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		n := name(t)
		ref := writeObject(t, cfg.Sink, meta(n), bytes.NewReader(nil), 1)
		if ref.Size != 0 {
			t.Errorf("ObjectRef.Size = %d, want 0", ref.Size)
		}
		sum := sha256.Sum256(nil)
		if got := fetchDigest(t, cfg, context.Background(), n); got != hex.EncodeToString(sum[:]) {
			t.Errorf("stored empty object has digest %s", got)
		}
	})

	t.Run("LargeStreamed", func(t *testing.T) {
		n := name(t)
		// An odd buffer size exercises chunk boundaries.
		ref := writeObject(t, cfg.Sink, meta(n), DataReader(1, cfg.LargeSize), 100<<10+3)
		want := Digest(1, cfg.LargeSize)
		if ref.Size != cfg.LargeSize {
			t.Errorf("ObjectRef.Size = %d, want %d", ref.Size, cfg.LargeSize)
		}
		if ref.SHA256Hex != "" && ref.SHA256Hex != want {
			t.Errorf("ObjectRef.SHA256Hex = %s, want %s", ref.SHA256Hex, want)
		}
		if got := fetchDigest(t, cfg, context.Background(), n); got != want {
			t.Errorf("stored digest %s, want %s", got, want)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		base := name(t)
		const size = 1<<20 + 17
		var wg sync.WaitGroup
		errs := make(chan error, cfg.Concurrency)
		for i := range cfg.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := fmt.Sprintf("%s-%d", base, i)
				w, err := cfg.Sink.Open(context.Background(), meta(n))
				if err != nil {
					errs <- fmt.Errorf("open %s: %w", n, err)
					return
				}
				if _, err := io.CopyBuffer(w, DataReader(uint64(100+i), size), make([]byte, 64<<10)); err != nil {
					_ = w.Abort(context.Background())
					errs <- fmt.Errorf("write %s: %w", n, err)
					return
				}
				if _, err := w.Commit(context.Background()); err != nil {
					errs <- fmt.Errorf("commit %s: %w", n, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range cfg.Concurrency {
			n := fmt.Sprintf("%s-%d", base, i)
			if got, want := fetchDigest(t, cfg, context.Background(), n), Digest(uint64(100+i), size); got != want {
				t.Errorf("%s: digest %s, want %s", n, got, want)
			}
		}
	})

	t.Run("AbortLeavesNothing", func(t *testing.T) {
		ctx := context.Background()
		n := name(t)
		before := visible(t, cfg, ctx)
		w, err := cfg.Sink.Open(ctx, meta(n))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := io.Copy(w, DataReader(2, 3<<20)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := w.Abort(ctx); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		assertAbsent(t, cfg, ctx, n)
		assertNoNewObjects(t, cfg, ctx, before)
		if _, err := w.Commit(ctx); err == nil {
			t.Error("Commit after Abort succeeded")
		}
	})

	t.Run("CreateOnly", func(t *testing.T) {
		ctx := context.Background()
		n := name(t)
		writeObject(t, cfg.Sink, meta(n), strings.NewReader("first"), 5)
		err := tryWrite(ctx, cfg.Sink, meta(n), strings.NewReader("second, longer"))
		if !errors.Is(err, sdk.ErrExists) {
			t.Fatalf("second write of %s: error %v, want one matching sdk.ErrExists", n, err)
		}
		if !sdk.IsPermanent(err) {
			t.Errorf("ErrExists error %v does not advise against retrying", err)
		}
		sum := sha256.Sum256([]byte("first"))
		if got := fetchDigest(t, cfg, ctx, n); got != hex.EncodeToString(sum[:]) {
			t.Error("the existing object was overwritten")
		}
	})

	t.Run("DuplicateRace", func(t *testing.T) {
		// Two writers of the same name opened before either commits: exactly
		// one commit wins.
		ctx := context.Background()
		n := name(t)
		w1, err := cfg.Sink.Open(ctx, meta(n))
		if err != nil {
			t.Fatalf("Open 1: %v", err)
		}
		w2, err := cfg.Sink.Open(ctx, meta(n))
		if err != nil {
			_ = w1.Abort(ctx)
			t.Fatalf("Open 2: %v", err)
		}
		if _, err := io.WriteString(w1, "one"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w2, "two!"); err != nil {
			t.Fatal(err)
		}
		if _, err := w1.Commit(ctx); err != nil {
			t.Fatalf("Commit 1: %v", err)
		}
		_, err = w2.Commit(ctx)
		if !errors.Is(err, sdk.ErrExists) {
			t.Fatalf("Commit 2: %v, want sdk.ErrExists", err)
		}
		sum := sha256.Sum256([]byte("one"))
		if got := fetchDigest(t, cfg, ctx, n); got != hex.EncodeToString(sum[:]) {
			t.Error("the losing writer replaced the object")
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		n := name(t)
		before := visible(t, cfg, context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		w, err := cfg.Sink.Open(ctx, meta(n))
		if err != nil {
			cancel()
			t.Fatalf("Open: %v", err)
		}
		if _, err := io.Copy(w, DataReader(3, 1<<20)); err != nil {
			cancel()
			t.Fatalf("Write: %v", err)
		}
		cancel()
		// Writes may still be buffered; Commit must fail.
		_, _ = io.Copy(w, DataReader(4, 1<<20))
		_, err = w.Commit(context.Background())
		if err == nil {
			t.Fatal("Commit after the Open context was cancelled succeeded")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Commit error %v does not match context.Canceled", err)
		}
		_ = w.Abort(context.Background())
		assertAbsent(t, cfg, context.Background(), n)
		assertNoNewObjects(t, cfg, context.Background(), before)
	})

	t.Run("OpenCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		w, err := cfg.Sink.Open(ctx, meta(name(t)))
		if err == nil {
			_, err = w.Commit(context.Background())
		}
		if err == nil {
			t.Fatal("a write with a cancelled context was committed")
		}
	})
}

// writeObject writes r through s with bufSize-sized writes and commits.
func writeObject(t *testing.T, s sdk.Sink, meta sdk.FileMeta, r io.Reader, bufSize int) sdk.ObjectRef {
	t.Helper()
	ctx := context.Background()
	w, err := s.Open(ctx, meta)
	if err != nil {
		t.Fatalf("Open(%s): %v", meta.ObjectName, err)
	}
	if _, err := io.CopyBuffer(onlyWriter{w}, r, make([]byte, bufSize)); err != nil {
		_ = w.Abort(ctx)
		t.Fatalf("Write(%s): %v", meta.ObjectName, err)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit(%s): %v", meta.ObjectName, err)
	}
	return ref
}

// onlyWriter hides optional interfaces so CopyBuffer uses the buffer size.
type onlyWriter struct{ io.Writer }

func tryWrite(ctx context.Context, s sdk.Sink, meta sdk.FileMeta, r io.Reader) error {
	w, err := s.Open(ctx, meta)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Abort(ctx)
		return err
	}
	_, err = w.Commit(ctx)
	return err
}

func fetchDigest(t *testing.T, cfg SinkConfig, ctx context.Context, name string) string {
	t.Helper()
	rc, err := cfg.Fetch(ctx, name)
	if err != nil {
		t.Fatalf("Fetch(%s): %v", name, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("Fetch(%s): read: %v", name, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func assertAbsent(t *testing.T, cfg SinkConfig, ctx context.Context, name string) {
	t.Helper()
	rc, err := cfg.Fetch(ctx, name)
	if err == nil {
		rc.Close()
		t.Errorf("%s is visible after an aborted write", name)
		return
	}
	if !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Fetch(%s) of an absent object: %v, want sdk.ErrNotFound", name, err)
	}
}

func visible(t *testing.T, cfg SinkConfig, ctx context.Context) map[string]bool {
	t.Helper()
	if cfg.Visible == nil {
		return nil
	}
	names, err := cfg.Visible(ctx)
	if err != nil {
		t.Fatalf("Visible: %v", err)
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func assertNoNewObjects(t *testing.T, cfg SinkConfig, ctx context.Context, before map[string]bool) {
	t.Helper()
	if cfg.Visible == nil {
		return
	}
	for n := range visible(t, cfg, ctx) {
		if !before[n] {
			t.Errorf("new visible object %q after a write that did not commit", n)
		}
	}
}
