package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func testKey(n string) FileKey {
	return FileKey{Originator: "OACME", DatasetName: n, Date: "20260102", Time: "0304050007"}
}

func eerpFor(k FileKey) oftp.EndResponse {
	return oftp.EndResponse{DatasetName: k.DatasetName, Stamp: oftp.Stamp{Date: k.Date, Time: k.Time},
		Destination: k.Originator, Originator: "OBETA"}
}

// The store's promises hold across a reopen: received files, owed and expected end
// responses, and the order of owed responses.
func TestFileStoreSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	s, err := OpenFileStore(dir, FileStoreOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := testKey("ONE"), testKey("TWO")
	if err := s.CommitReceived(ctx, k1, "obj/one", Owed{Partner: "b", Key: k1, Response: eerpFor(k1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitReceived(ctx, k1, "obj/one", Owed{Partner: "b", Key: k1, Response: eerpFor(k1)}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second commit: %v, want ErrDuplicate", err)
	}
	if err := s.AddOwed(ctx, Owed{Partner: "b", Key: k2, Response: oftp.EndResponse{DatasetName: "TWO", Reason: 22}}); err != nil {
		t.Fatal(err)
	}
	out := testKey("OUT")
	out.Originator = "OBETA"
	if err := s.Expect(ctx, Expected{Partner: "b", Outbound: "o", Source: "src", ID: "out.txt", Key: out}); err != nil {
		t.Fatal(err)
	}
	if err := s.Accepted(ctx, out); err != nil {
		t.Fatal(err)
	}
	// An end response for a file we never sent is not recorded.
	if ok, err := s.Respond(ctx, eerpFor(testKey("NOPE"))); ok || err != nil {
		t.Fatalf("Respond(unknown) = %v, %v", ok, err)
	}
	er := oftp.EndResponse{DatasetName: "OUT", Stamp: oftp.Stamp{Date: out.Date, Time: out.Time}, Destination: "OBETA", Originator: "OACME"}
	if ok, err := s.Respond(ctx, er); !ok || err != nil {
		t.Fatalf("Respond = %v, %v", ok, err)
	}
	// Unexpect after the response arrived keeps the entry: the response must reach the source.
	if err := s.Unexpect(ctx, out); err != nil {
		t.Fatal(err)
	}
	kr := testKey("RECV")
	if prev, err := s.Receiving(ctx, kr, "first/name"); prev != "" || err != nil {
		t.Fatalf("Receiving = %q, %v", prev, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = OpenFileStore(dir, FileStoreOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, _ := s.Received(ctx, k1); !ok {
		t.Error("received file forgotten")
	}
	if prev, _ := s.Receiving(ctx, kr, "second/name"); prev != "first/name" {
		t.Errorf("object name of an interrupted receive = %q, want first/name", prev)
	}
	if err := s.ReceivingAborted(ctx, kr); err != nil {
		t.Fatal(err)
	}
	if prev, _ := s.Receiving(ctx, kr, "third/name"); prev != "" {
		t.Errorf("aborted receive still recorded as %q", prev)
	}
	if ok, _ := s.Received(ctx, k2); ok {
		t.Error("a file with only a NERP owed counts as received")
	}
	owed, _ := s.Owed(ctx, "b")
	if len(owed) != 2 || owed[0].Key != k1 || owed[1].Key != k2 || owed[1].Response.Reason != 22 {
		t.Fatalf("owed after reopen = %+v", owed)
	}
	exp, _ := s.ExpectedFiles(ctx)
	if len(exp) != 1 || !exp[0].Accepted || exp[0].Response == nil || exp[0].ID != "out.txt" {
		t.Fatalf("expected after reopen = %+v", exp)
	}
	if err := s.OwedSent(ctx, "b", k1); err != nil {
		t.Fatal(err)
	}
	if err := s.Settled(ctx, out); err != nil {
		t.Fatal(err)
	}
	owed, _ = s.Owed(ctx, "b")
	exp, _ = s.ExpectedFiles(ctx)
	if len(owed) != 1 || len(exp) != 0 {
		t.Fatalf("after sending and settling: owed %d, expected %d", len(owed), len(exp))
	}
}

// A second connector on the same state directory is refused.
func TestFileStoreLocksDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileStore(dir, FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := OpenFileStore(dir, FileStoreOptions{}); err == nil {
		s2.Close()
		t.Fatal("second store opened the same directory")
	}
}

// A crash in the middle of an append leaves a torn last line: it is dropped, the rest
// is kept. Corruption before the end is an error, not silent loss.
func TestFileStoreTornAndCorruptJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenFileStore(dir, FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	k := testKey("KEEP")
	if err := s.CommitReceived(ctx, k, "x", Owed{Partner: "b", Key: k, Response: eerpFor(k)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, journalName)
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(append([]byte(nil), good...), `{"op":"owed","owed":{"partner":"b","ke`...), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileStore(dir, FileStoreOptions{})
	if err != nil {
		t.Fatalf("torn journal: %v", err)
	}
	if ok, _ := s.Received(ctx, k); !ok {
		t.Error("record before the torn line lost")
	}
	s.Close()
	if err := os.WriteFile(path, append([]byte("{\"op\":\"bogus\"}\n"), good...), 0o640); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenFileStore(dir, FileStoreOptions{}); err == nil {
		s.Close()
		t.Fatal("corrupt journal accepted")
	} else if !strings.Contains(err.Error(), "record 1") {
		t.Errorf("error %q does not name the record", err)
	}
}

// The journal is compacted: many operations on few live entries keep it small.
func TestFileStoreCompacts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenFileStore(dir, FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := testKey("X")
	for i := 0; i < 700; i++ {
		if err := s.AddOwed(ctx, Owed{Partner: "b", Key: k, Response: eerpFor(k)}); err != nil {
			t.Fatal(err)
		}
		if err := s.OwedSent(ctx, "b", k); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, journalName))
	if n := bytes.Count(b, []byte("\n")); n >= 1000 {
		t.Fatalf("journal has %d lines for an empty state", n)
	}
}

// Received files older than the retention are forgotten at the next open.
func TestFileStoreRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := OpenFileStore(dir, FileStoreOptions{Clock: clock, ReceivedRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k := testKey("OLD")
	if err := s.CommitReceived(ctx, k, "x", Owed{Partner: "b", Key: k}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	now = now.Add(25 * time.Hour)
	s, err = OpenFileStore(dir, FileStoreOptions{Clock: clock, ReceivedRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ok, _ := s.Received(ctx, k); ok {
		t.Error("received file kept beyond the retention")
	}
}

// FuzzJournalReplay feeds arbitrary journals to the replay: it never panics, and what
// it accepts compacts to a journal that replays to the same state.
func FuzzJournalReplay(f *testing.F) {
	f.Add([]byte(`{"op":"received","key":{"orig":"A","dsn":"X","date":"20260101","time":"0000000001"},"received":{"object":"o","at":"2026-01-01T00:00:00Z"}}` + "\n"))
	f.Add([]byte(`{"op":"expect","expected":{"partner":"b","outbound":"o","source":"s","id":"f","key":{"orig":"A","dsn":"X","date":"1","time":"2"},"since":"2026-01-01T00:00:00Z"}}` + "\n" +
		`{"op":"respond","key":{"orig":"A","dsn":"X","date":"1","time":"2"},"response":{"DatasetName":"X","Reason":3}}` + "\n"))
	f.Add([]byte(`{"op":"owed","owed":{"partner":"b","key":{"orig":"A"},"response":{"Hash":"AAEC"}}}` + "\n" + `{"op":"owed-sent","partner":"b","key":{"orig":"A"}}`))
	f.Add([]byte("{\"op\":\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := newState()
		if _, _, err := replay(bytes.NewReader(data), st); err != nil {
			return
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, journalName), data, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileStore(dir, FileStoreOptions{ReceivedRetention: 1 << 62})
		if err != nil {
			t.Fatalf("replay accepted the journal but open failed: %v", err)
		}
		owed, exp := len(s.st.owed), len(s.st.expected)
		s.Close()
		s, err = OpenFileStore(dir, FileStoreOptions{ReceivedRetention: 1 << 62})
		if err != nil {
			t.Fatalf("compacted journal does not reopen: %v", err)
		}
		defer s.Close()
		if len(s.st.owed) != owed || len(s.st.expected) != exp {
			t.Fatalf("compaction changed the state: owed %d→%d, expected %d→%d", owed, len(s.st.owed), exp, len(s.st.expected))
		}
	})
}

// BenchmarkStoreCommitReceived measures the durable step on every received file.
func BenchmarkStoreCommitReceived(b *testing.B) {
	s, err := OpenFileStore(b.TempDir(), FileStoreOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := testKey("F" + strings.Repeat("X", i%7))
		k.Time = time.Duration(i).String()
		if err := s.CommitReceived(ctx, k, "o", Owed{Partner: "b", Key: k, Response: eerpFor(k)}); err != nil {
			b.Fatal(err)
		}
	}
}
