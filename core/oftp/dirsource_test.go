package oftp_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func TestDirectoryOutbox(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.edi", "a_order.txt", ".partial.tmp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	box := &oftp.DirectoryOutbox{Dir: dir, RetryDelay: time.Minute, Clock: func() time.Time { return now },
		Template: oftp.OutgoingFile{Format: oftp.FormatUnstructured, Description: "from the outbox"}}
	ctx := context.Background()

	first, err := box.Next(ctx)
	if err != nil || first == nil {
		t.Fatalf("Next: %v %v", first, err)
	}
	if first.File.DatasetName != "A-ORDER.TXT" || first.File.Description != "from the outbox" || first.File.Size != int64(len("a_order.txt")) {
		t.Fatalf("first file %+v", first.File)
	}
	second, _ := box.Next(ctx)
	if second == nil || second.File.DatasetName != "B.EDI" {
		t.Fatalf("second file %+v", second)
	}
	if third, _ := box.Next(ctx); third != nil {
		t.Fatalf("hidden file or a file in flight offered: %+v", third.File)
	}

	// A refusal "do not retry" is final; a temporary failure waits for RetryDelay.
	box.Done(ctx, first, oftp.TransferResult{}, &oftp.ReasonError{Cmd: "SFNA", Code: 13})
	box.Done(ctx, second, oftp.TransferResult{}, &oftp.ReasonError{Cmd: "EFNA", Code: 12})
	if _, err := os.Stat(filepath.Join(dir, "failed", "a_order.txt")); err != nil {
		t.Errorf("refused file not in failed/: %v", err)
	}
	if again, _ := box.Next(ctx); again != nil {
		t.Fatalf("file offered again before its retry delay: %+v", again.File)
	}
	now = now.Add(2 * time.Minute)
	again, _ := box.Next(ctx)
	if again == nil || again.File.DatasetName != "B.EDI" {
		t.Fatalf("file not offered after its retry delay: %+v", again)
	}
	box.Done(ctx, again, oftp.TransferResult{}, nil)
	if _, err := os.Stat(filepath.Join(dir, "sent", "b.edi")); err != nil {
		t.Errorf("accepted file not in sent/: %v", err)
	}
	if left, _ := box.Next(ctx); left != nil {
		t.Fatalf("outbox not empty: %+v", left.File)
	}
}
