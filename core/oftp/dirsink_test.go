package oftp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func TestReceivedFileNameFormatAndOverwrite(t *testing.T) {
	p := newPair(t)
	p.srvOpts.ReceivedFileNameFormat = "%Originator%_%VirtualFileName%_%VirtualFileDate:yyyyMMdd-HHmmss.ffff%.dat"
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	src := randomFile(t, 2000, 1)
	f := outgoing("NAMED", src, oftp.FormatUnstructured, 0)
	f.Date, f.Counter = time.Date(2026, 11, 27, 4, 5, 6, 0, time.UTC), 42
	if _, err := c.SendFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(p.inbox, "O0013CLIENT_NAMED_20261127-040506.0042.dat")
	sameFile(t, src, want)
	// The same name again is refused (create-only) and the first file stays.
	f.Counter = 42
	src2 := randomFile(t, 3000, 2)
	f2 := outgoing("NAMED", src2, oftp.FormatUnstructured, 0)
	f2.Date, f2.Counter = f.Date, f.Counter
	_, err := c.SendFile(ctx, f2)
	assertReason(t, err, "SFNA", 13, false)
	sameFile(t, src, want)
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
}

func TestDirectoryReceiverKeepsFailedFiles(t *testing.T) {
	dir, tmp := t.TempDir(), t.TempDir()
	d := &oftp.DirectoryReceiver{Dir: dir, TempDir: tmp, DeleteOnError: false}
	dec, err := d.Accept(context.Background(), &oftp.IncomingFile{DatasetName: "BAD", Originator: "X", Stamp: oftp.Stamp{Date: "20261127", Time: "0000000001"}, Format: oftp.FormatUnstructured})
	if err != nil {
		t.Fatal(err)
	}
	dec.Sink.Write([]byte("partial"))
	if err := dec.Sink.Abort(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("download directory holds %v", ents)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".failed") {
		t.Fatalf("temp directory holds %v", ents)
	}
	// With DeleteOnError nothing remains.
	d.DeleteOnError = true
	dec, err = d.Accept(context.Background(), &oftp.IncomingFile{DatasetName: "BAD2", Originator: "X", Stamp: oftp.Stamp{Date: "20261127", Time: "0000000002"}, Format: oftp.FormatUnstructured})
	if err != nil {
		t.Fatal(err)
	}
	dec.Sink.Abort(context.Background())
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Fatalf("temp directory holds %v", ents)
	}
	// A name that exists already is refused at SFID time.
	os.WriteFile(filepath.Join(dir, "TAKEN"), []byte("x"), 0o644)
	_, err = d.Accept(context.Background(), &oftp.IncomingFile{DatasetName: "TAKEN"})
	var re *oftp.ReasonError
	if !errors.As(err, &re) || re.Code != oftp.ReasonDuplicateFile {
		t.Fatalf("got %v", err)
	}
	// Path traversal in the dataset name stays inside the directory.
	dec, err = d.Accept(context.Background(), &oftp.IncomingFile{DatasetName: "../../ESCAPE", Stamp: oftp.Stamp{Date: "20261127", Time: "0000000003"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.Sink.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "_.._ESCAPE")); err != nil {
		ents, _ := os.ReadDir(dir)
		t.Fatalf("sanitized file missing: %v", ents)
	}
}
