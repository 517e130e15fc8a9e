package sdktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/oftp2/connector/sdk"
)

// SourceConfig describes a source under test.
type SourceConfig struct {
	// Source is the implementation under test, configured and ready, with
	// nothing to send yet.
	Source sdk.Source
	// Put makes a file with the given name and content available for sending,
	// bypassing the source (writing into the outbox directory, the bucket...).
	Put func(ctx context.Context, name string, content io.Reader) error
	// LargeSize is the size of the streamed large file; 0 means 64 MiB.
	LargeSize int64
}

// RunSource runs the source conformance suite.
func RunSource(t *testing.T, cfg SourceConfig) {
	if cfg.Source == nil || cfg.Put == nil {
		t.Fatal("sdktest: SourceConfig needs Source and Put")
	}
	if cfg.LargeSize == 0 {
		cfg.LargeSize = 64 << 20
	}
	ctx := context.Background()
	run := fmt.Sprintf("sdktest-%d-", time.Now().UnixNano())
	put := func(t *testing.T, name string, content []byte) string {
		t.Helper()
		if err := cfg.Put(ctx, run+name, bytes.NewReader(content)); err != nil {
			t.Fatalf("Put(%s): %v", name, err)
		}
		return findID(t, cfg.Source, run+name)
	}

	t.Run("Source", func(t *testing.T) { runSource(t, cfg, ctx, run, put) })
}

func runSource(t *testing.T, cfg SourceConfig, ctx context.Context, run string, put func(*testing.T, string, []byte) string) {
	t.Run("ListOpenAck", func(t *testing.T) {
		body := []byte("0123456789abcdefghij")
		id := put(t, "ack.txt", body)
		if got := readAll(t, cfg.Source, id, 0); !bytes.Equal(got, body) {
			t.Errorf("Open(%s, 0) read %q, want %q", id, got, body)
		}
		if got := readAll(t, cfg.Source, id, 7); !bytes.Equal(got, body[7:]) {
			t.Errorf("Open(%s, 7) read %q, want %q", id, got, body[7:])
		}
		if got := readAll(t, cfg.Source, id, int64(len(body))); len(got) != 0 {
			t.Errorf("Open at the end read %q, want nothing", got)
		}
		if err := cfg.Source.Ack(ctx, id, sdk.Receipt{ReceivedAt: time.Now(), Reason: "EERP"}); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if listed(t, cfg.Source, id) {
			t.Errorf("%s is still listed after Ack", id)
		}
		if err := cfg.Source.Ack(ctx, id, sdk.Receipt{}); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("second Ack: %v, want sdk.ErrNotFound", err)
		}
	})

	t.Run("Nack", func(t *testing.T) {
		id := put(t, "nack.txt", []byte("refused"))
		if err := cfg.Source.Nack(ctx, id, sdk.NackReason{Code: 3, Text: "invalid file size", Permanent: true}); err != nil {
			t.Fatalf("Nack: %v", err)
		}
		if listed(t, cfg.Source, id) {
			t.Errorf("%s is still listed after Nack", id)
		}
		if err := cfg.Source.Nack(ctx, id, sdk.NackReason{}); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("second Nack: %v, want sdk.ErrNotFound", err)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		_, err := cfg.Source.Open(ctx, run+"no-such-file", 0)
		if !errors.Is(err, sdk.ErrNotFound) || !sdk.IsPermanent(err) {
			t.Errorf("Open of an unknown file: %v, want a permanent sdk.ErrNotFound", err)
		}
		if err := cfg.Source.Ack(ctx, run+"no-such-file", sdk.Receipt{}); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Ack of an unknown file: %v, want sdk.ErrNotFound", err)
		}
	})

	t.Run("OffsetBeyondEnd", func(t *testing.T) {
		id := put(t, "short.txt", []byte("short"))
		rc, err := cfg.Source.Open(ctx, id, 6)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if err == nil {
			t.Error("Open beyond the end of the file succeeded")
		}
		_ = cfg.Source.Nack(ctx, id, sdk.NackReason{Text: "test done"})
	})

	t.Run("LargeStreamed", func(t *testing.T) {
		name := run + "large.bin"
		if err := cfg.Put(ctx, name, DataReader(5, cfg.LargeSize)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		id := findID(t, cfg.Source, name)
		rc, err := cfg.Source.Open(ctx, id, 0)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if n != cfg.LargeSize || hex.EncodeToString(h.Sum(nil)) != Digest(5, cfg.LargeSize) {
			t.Errorf("read %d bytes with a different digest, want %d bytes of the original", n, cfg.LargeSize)
		}
		// A restart from an offset yields the tail.
		off := cfg.LargeSize - 1<<20 - 5
		rc, err = cfg.Source.Open(ctx, id, off)
		if err != nil {
			t.Fatalf("Open at %d: %v", off, err)
		}
		tail, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		orig := DataReader(5, cfg.LargeSize)
		if _, err := io.CopyN(io.Discard, orig, off); err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(orig)
		if !bytes.Equal(tail, want) {
			t.Errorf("restart at %d read %d bytes that differ from the original tail", off, len(tail))
		}
		if err := cfg.Source.Ack(ctx, id, sdk.Receipt{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Watch", func(t *testing.T) {
		w, ok := cfg.Source.(sdk.Watcher)
		if !ok {
			return // Watch is optional.
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		first := put(t, "watch-1.txt", []byte("one"))
		var got []string
		var added bool
		var second string
		err := w.Watch(wctx, func(f sdk.OutgoingFile) error {
			got = append(got, f.ID)
			if f.ID == first && !added {
				// A file that appears while watching is reported too.
				added = true
				if err := cfg.Put(ctx, run+"watch-2.txt", bytes.NewReader([]byte("two"))); err != nil {
					return err
				}
			}
			if added && (f.Meta.ObjectName == run+"watch-2.txt" || f.ID == run+"watch-2.txt") {
				second = f.ID
				cancel()
			}
			return nil
		})
		if errors.Is(err, sdk.ErrUnsupported) {
			return // a remote plugin without Watch
		}
		if second == "" {
			t.Fatalf("Watch reported %v and ended with %v; the file added while watching is missing", got, err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch ended with %v, want context.Canceled", err)
		}
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		if seen[first] != 1 || seen[second] != 1 {
			t.Errorf("Watch reported %v: each file exactly once", got)
		}
		for _, id := range []string{first, second} {
			if err := cfg.Source.Ack(ctx, id, sdk.Receipt{}); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		name := run + "cancel.bin"
		if err := cfg.Put(ctx, name, DataReader(6, 8<<20)); err != nil {
			t.Fatalf("Put: %v", err)
		}
		id := findID(t, cfg.Source, name)
		cctx, cancel := context.WithCancel(ctx)
		rc, err := cfg.Source.Open(cctx, id, 0)
		if err != nil {
			cancel()
			t.Fatalf("Open: %v", err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
			cancel()
			t.Fatalf("read: %v", err)
		}
		cancel()
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err == nil {
			t.Error("reading after the context was cancelled reached the end without an error")
		}
		if !listed(t, cfg.Source, id) {
			t.Error("a cancelled read removed the file from the list")
		}
		_ = cfg.Source.Ack(ctx, id, sdk.Receipt{})
	})
}

func findID(t *testing.T, s sdk.Source, name string) string {
	t.Helper()
	files, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, f := range files {
		if f.ID == name || f.Meta.ObjectName == name || f.Meta.DatasetName == name {
			return f.ID
		}
	}
	t.Fatalf("List does not show %s (%d files listed)", name, len(files))
	return ""
}

func listed(t *testing.T, s sdk.Source, id string) bool {
	t.Helper()
	files, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, f := range files {
		if f.ID == id {
			return true
		}
	}
	return false
}

func readAll(t *testing.T, s sdk.Source, id string, offset int64) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), id, offset)
	if err != nil {
		t.Fatalf("Open(%s, %d): %v", id, offset, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return b
}
