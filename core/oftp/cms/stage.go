package cms

import (
	"context"
	"errors"
	"io"
	"sync"
)

// The layers of one file run concurrently: each hand-off between two layers is a
// goroutine fed through a few pooled buffers. Compared with io.Pipe, whose writer waits
// until the reader has taken everything, the buffers let the slow layer (zlib) run
// while its neighbours hash, encrypt and frame the buffers before and after it, and
// they bound what a file holds in memory: stageBuffers * stageBufSize per hand-off.
const (
	stageBufSize = 256 << 10
	stageBuffers = 3
)

// stageBufs recycles hand-off buffers across files; it holds no file state.
var stageBufs = sync.Pool{New: func() any {
	b := make([]byte, stageBufSize)
	return &b
}}

// errStopped is the failure of a pipeline stopped by its owner without a cause.
var errStopped = errors.New("cms: file processing stopped")

// pipeline is the shared fate of the stages of one file: the first failure in any
// stage, or an abort by the owner, stops them all, and every later call reports that
// first error.
type pipeline struct {
	quit   chan struct{}
	once   sync.Once
	err    error // set before quit is closed
	wg     sync.WaitGroup
	stopCx func() bool
}

func newPipeline(ctx context.Context) *pipeline {
	p := &pipeline{quit: make(chan struct{})}
	if ctx != nil && ctx.Done() != nil {
		p.stopCx = context.AfterFunc(ctx, func() { p.fail(context.Cause(ctx)) })
	}
	return p
}

// fail records err as the pipeline's outcome unless one is recorded already.
func (p *pipeline) fail(err error) {
	if err == nil {
		err = errStopped
	}
	p.once.Do(func() {
		p.err = err
		close(p.quit)
	})
}

// failed returns the recorded failure, or nil while the pipeline runs.
func (p *pipeline) failed() error {
	select {
	case <-p.quit:
		return p.err
	default:
		return nil
	}
}

// wait returns once every stage goroutine has returned.
func (p *pipeline) wait() {
	p.wg.Wait()
	if p.stopCx != nil {
		p.stopCx()
	}
}

// stageWriter hands what is written to it to a goroutine that writes it to next. The
// writer fills a buffer, queues it and takes the next free one; the goroutine writes
// queued buffers in order and returns them. At the end of the input (Close) the
// goroutine calls finish, which closes the layers behind it.
type stageWriter struct {
	p      *pipeline
	work   chan *[]byte
	free   chan *[]byte
	done   chan struct{}
	cur    *[]byte
	closed bool
}

func newStageWriter(p *pipeline, next io.Writer, finish func() error) *stageWriter {
	s := &stageWriter{
		p:    p,
		work: make(chan *[]byte, stageBuffers),
		free: make(chan *[]byte, stageBuffers),
		done: make(chan struct{}),
	}
	for range stageBuffers {
		b := stageBufs.Get().(*[]byte)
		*b = (*b)[:0]
		s.free <- b
	}
	p.wg.Add(1)
	go s.run(next, finish)
	return s
}

func (s *stageWriter) run(next io.Writer, finish func() error) {
	defer s.p.wg.Done()
	defer close(s.done)
	for {
		select {
		case b, ok := <-s.work:
			if !ok {
				if err := finish(); err != nil {
					s.p.fail(err)
				}
				return
			}
			_, err := next.Write(*b)
			*b = (*b)[:0]
			s.free <- b // never blocks: there are only stageBuffers buffers
			if err != nil {
				s.p.fail(err)
				return
			}
		case <-s.p.quit:
			return
		}
	}
}

func (s *stageWriter) Write(p []byte) (int, error) {
	if err := s.p.failed(); err != nil {
		return 0, err
	}
	if s.closed {
		return 0, errors.New("cms: write after close")
	}
	total := 0
	for len(p) > 0 {
		if s.cur == nil {
			select {
			case s.cur = <-s.free:
			case <-s.p.quit:
				return total, s.p.err
			}
		}
		b := *s.cur
		k := copy(b[len(b):cap(b)], p)
		*s.cur = b[:len(b)+k]
		total += k
		p = p[k:]
		if len(*s.cur) == cap(*s.cur) {
			if err := s.send(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

func (s *stageWriter) send() error {
	select {
	case s.work <- s.cur:
		s.cur = nil
		return nil
	case <-s.p.quit:
		return s.p.err
	}
}

// Close hands on what is buffered, ends the input and waits until the goroutine has
// finished the layers behind it.
func (s *stageWriter) Close() error {
	if s.closed {
		return errors.New("cms: close after close")
	}
	s.closed = true
	var err error
	if s.cur != nil && len(*s.cur) > 0 {
		err = s.send()
	}
	if err == nil {
		close(s.work)
		<-s.done
		err = s.p.failed()
	}
	return err
}

// release returns the buffers to the pool once the goroutine has returned.
func (s *stageWriter) release() {
	<-s.done
	put := func(b *[]byte) {
		if b != nil {
			stageBufs.Put(b)
		}
	}
	put(s.cur)
	s.cur = nil
	for {
		select {
		case b, ok := <-s.work:
			if !ok {
				s.work = nil // closed and empty
				continue
			}
			put(b)
		case b := <-s.free:
			put(b)
		default:
			return
		}
	}
}

// stageReader reads src ahead on its own goroutine into a few pooled buffers, so that
// the layer reading from it (inflating, verifying) runs while src (decrypting) fills
// the next buffer. Errors from src, io.EOF included, are delivered in order after
// the data before them.
type stageReader struct {
	p    *pipeline
	work chan stageChunk
	free chan *[]byte
	done chan struct{}
	cur  stageChunk
	pos  int
	err  error
}

type stageChunk struct {
	b   *[]byte
	err error
}

func newStageReader(p *pipeline, src io.Reader) *stageReader {
	s := &stageReader{
		p:    p,
		work: make(chan stageChunk, stageBuffers),
		free: make(chan *[]byte, stageBuffers),
		done: make(chan struct{}),
	}
	for range stageBuffers {
		s.free <- stageBufs.Get().(*[]byte)
	}
	p.wg.Add(1)
	go s.run(src)
	return s
}

func (s *stageReader) run(src io.Reader) {
	defer s.p.wg.Done()
	defer close(s.done)
	for {
		var b *[]byte
		select {
		case b = <-s.free:
		case <-s.p.quit:
			return
		}
		buf := (*b)[:cap(*b)]
		n := 0
		var err error
		// Fill at least half a buffer, so that hand-offs stay rare even when src
		// returns small pieces.
		for n < len(buf)/2 && err == nil {
			var k int
			k, err = src.Read(buf[n:])
			n += k
		}
		*b = buf[:n]
		select {
		case s.work <- stageChunk{b: b, err: err}:
		case <-s.p.quit:
			s.free <- b
			return
		}
		if err != nil {
			return
		}
	}
}

func (s *stageReader) Read(p []byte) (int, error) {
	for s.cur.b == nil || s.pos == len(*s.cur.b) {
		if s.err != nil {
			return 0, s.err
		}
		if s.cur.b != nil {
			s.free <- s.cur.b
			s.cur.b = nil
		}
		select {
		case c := <-s.work:
			s.cur, s.pos = c, 0
			if c.err != nil {
				s.err = c.err
			}
		case <-s.p.quit:
			s.err = s.p.err
			return 0, s.err
		}
	}
	k := copy(p, (*s.cur.b)[s.pos:])
	s.pos += k
	return k, nil
}

// release returns the buffers to the pool once the goroutine has returned.
func (s *stageReader) release() {
	<-s.done
	if s.cur.b != nil {
		stageBufs.Put(s.cur.b)
		s.cur.b = nil
	}
	for {
		select {
		case c := <-s.work:
			stageBufs.Put(c.b)
		case b := <-s.free:
			stageBufs.Put(b)
		default:
			return
		}
	}
}
