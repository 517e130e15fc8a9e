package pipeline

import (
	"context"
	"sync"

	"github.com/oftp2/connector/sdk"
)

// Upload pipelining: the session hands received octets to a goroutine that feeds the
// sink, so that receiving from the partner and uploading to the plugin overlap. Memory
// is bounded by asyncDepth buffers of asyncChunk octets per transfer.
const (
	asyncChunk = sdk.ChunkSize
	asyncDepth = 4
)

// asyncWriter is a sdk.SinkWriter that writes to another one from a goroutine. The
// first error of the inner writer is returned by the next Write, and by Commit.
type asyncWriter struct {
	w    sdk.SinkWriter
	cur  []byte
	free chan []byte
	work chan []byte
	done chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

func newAsyncWriter(w sdk.SinkWriter) *asyncWriter {
	a := &asyncWriter{w: w, free: make(chan []byte, asyncDepth), work: make(chan []byte, asyncDepth), done: make(chan struct{})}
	for range asyncDepth - 1 {
		a.free <- make([]byte, 0, asyncChunk)
	}
	a.cur = make([]byte, 0, asyncChunk)
	go a.run()
	return a
}

func (a *asyncWriter) run() {
	defer close(a.done)
	for b := range a.work {
		if a.failed() == nil {
			if _, err := a.w.Write(b); err != nil {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
		}
		a.free <- b[:0]
	}
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	if err := a.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(a.cur[len(a.cur):cap(a.cur)], p)
		a.cur = a.cur[:len(a.cur)+k]
		p = p[k:]
		if len(a.cur) == cap(a.cur) {
			a.work <- a.cur
			a.cur = <-a.free
			if err := a.failed(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// drain hands over what is buffered and waits until the goroutine is done.
func (a *asyncWriter) drain(flush bool) error {
	if !a.closed {
		a.closed = true
		if flush && len(a.cur) > 0 && a.failed() == nil {
			a.work <- a.cur
		}
		close(a.work)
	}
	<-a.done
	return a.failed()
}

func (a *asyncWriter) Commit(ctx context.Context) (sdk.ObjectRef, error) {
	if err := a.drain(true); err != nil {
		_ = a.w.Abort(ctx)
		return sdk.ObjectRef{}, err
	}
	return a.w.Commit(ctx)
}

func (a *asyncWriter) Abort(ctx context.Context) error {
	_ = a.drain(false)
	return a.w.Abort(ctx)
}
