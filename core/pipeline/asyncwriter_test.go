package pipeline

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/oftp2/connector/sdk"
)

// memWriter is an in-memory sdk.SinkWriter that fails after failAfter octets when set.
type memWriter struct {
	buf       bytes.Buffer
	failAfter int
	committed bool
	aborted   bool
}

var errDisk = errors.New("disk full")

func (m *memWriter) Write(p []byte) (int, error) {
	if m.failAfter > 0 && m.buf.Len()+len(p) > m.failAfter {
		return 0, errDisk
	}
	return m.buf.Write(p)
}

func (m *memWriter) Commit(context.Context) (sdk.ObjectRef, error) {
	m.committed = true
	return sdk.ObjectRef{Size: int64(m.buf.Len())}, nil
}

func (m *memWriter) Abort(context.Context) error { m.aborted = true; return nil }

func TestAsyncWriterPassesEveryOctet(t *testing.T) {
	data := pattern(5*asyncChunk+12345, 7)
	m := &memWriter{}
	a := newAsyncWriter(m)
	for p, step := data, 1; len(p) > 0; step = step*3 + 1 {
		k := min(step%(2*asyncChunk)+1, len(p))
		if n, err := a.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		p = p[k:]
	}
	ref, err := a.Commit(context.Background())
	if err != nil || !m.committed || ref.Size != int64(len(data)) || !bytes.Equal(m.buf.Bytes(), data) {
		t.Fatalf("Commit = %+v, %v; inner got %d octets, want %d", ref, err, m.buf.Len(), len(data))
	}
}

func TestAsyncWriterReportsInnerFailure(t *testing.T) {
	m := &memWriter{failAfter: 2 * asyncChunk}
	a := newAsyncWriter(m)
	chunk := make([]byte, asyncChunk)
	var err error
	for i := 0; i < 4*asyncDepth && err == nil; i++ {
		_, err = a.Write(chunk)
	}
	if _, cerr := a.Commit(context.Background()); !errors.Is(cerr, errDisk) {
		t.Fatalf("Commit after a failed write = %v, want %v (last write: %v)", cerr, errDisk, err)
	}
	if m.committed || !m.aborted {
		t.Fatalf("inner writer committed=%v aborted=%v, want abort only", m.committed, m.aborted)
	}
}

func TestAsyncWriterAbortDiscards(t *testing.T) {
	m := &memWriter{}
	a := newAsyncWriter(m)
	if _, err := a.Write(make([]byte, 3*asyncChunk+1)); err != nil {
		t.Fatal(err)
	}
	if err := a.Abort(context.Background()); err != nil || !m.aborted || m.committed {
		t.Fatalf("Abort = %v, aborted=%v committed=%v", err, m.aborted, m.committed)
	}
}
