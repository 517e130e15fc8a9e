package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	"google.golang.org/grpc"
)

// pipeFailureWait bounds how long a connector whose pipe write failed waits
// for the plugin's status explaining it.
const pipeFailureWait = 30 * time.Second

// directWrite is the write size from which bytes go to the pipe without
// being gathered in the writer's buffer first.
const directWrite = 256 << 10

func (s remoteSink) openPiped(ctx context.Context, meta FileMeta) (SinkWriter, error) {
	id, pipe, err := s.dp.newTransfer(transferSink)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	stream, err := s.c.Write(sctx)
	if err != nil {
		cancel()
		pipe.Close()
		return nil, fromStatus(ctx, err)
	}
	w := &pipeWriter{ctx: ctx, stream: stream, cancel: cancel, pipe: pipe}
	// Cancellation closes the pipe: a blocked Write returns, and the plugin
	// sees the stream end.
	w.stop = context.AfterFunc(ctx, func() { pipe.Close() })
	if err := stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Open{Open: metaToProto(meta)}, Transfer: id}); err != nil {
		return nil, w.fail(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, w.fail(err)
	}
	if resp.GetOpened() == nil {
		return nil, w.abandon(errors.New("plugin answered open with an unexpected message"))
	}
	// The plugin's next word (its status when it fails, or the commit's
	// answer) may come while a write waits on a full pipe: it interrupts
	// the write, so a plugin that fails without closing its end of the pipe
	// cannot leave the connector waiting.
	w.resp = make(chan streamResult, 1)
	go func() {
		msg, err := stream.Recv()
		interruptPipe(pipe)
		w.resp <- streamResult{msg, err}
	}()
	return w, nil
}

type streamResult struct {
	msg *pb.SinkResponse
	err error
}

// pipeWriter writes a file into a data-plane pipe; Commit closes the pipe
// and tells the plugin how many bytes to expect.
type pipeWriter struct {
	ctx    context.Context
	stream grpc.BidiStreamingClient[pb.SinkRequest, pb.SinkResponse]
	cancel context.CancelFunc
	pipe   *os.File
	stop   func() bool
	resp   chan streamResult // the stream's next message, once opened
	buf    []byte            // gathers small writes; allocated on the first one
	n      int64             // bytes written to the pipe
	err    error
	done   bool
}

// closePipe ends the transfer's bytes: the plugin reads EOF.
func (w *pipeWriter) closePipe() {
	w.stop()
	w.pipe.Close()
}

// abandon ends the transfer with err as the writer's final error.
func (w *pipeWriter) abandon(err error) error {
	w.closePipe()
	w.err = err
	w.done = true
	w.cancel()
	return err
}

// next waits for the stream's next message.
func (w *pipeWriter) next(ctx context.Context) (*pb.SinkResponse, error) {
	if w.resp == nil {
		return w.stream.Recv()
	}
	select {
	case r := <-w.resp:
		w.resp = nil
		if r.err == nil {
			// Anything after this answer is the stream's end.
			w.resp = make(chan streamResult, 1)
			w.resp <- streamResult{nil, io.EOF}
		}
		return r.msg, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fail reports a failed stream operation with the plugin's status.
func (w *pipeWriter) fail(err error) error {
	if w.err != nil {
		return w.err
	}
	if err == io.EOF {
		if _, rerr := w.next(w.ctx); rerr != nil && rerr != io.EOF {
			err = rerr
		} else {
			err = errors.New("plugin closed the stream")
		}
	}
	return w.abandon(fromStatus(w.ctx, err))
}

// pipeFailed explains a failed pipe write. The plugin closed its end
// because it failed (its status says how) or died (the stream breaks too),
// or the caller's context ended and closed the pipe.
func (w *pipeWriter) pipeFailed(perr error) error {
	w.closePipe()
	if w.ctx.Err() != nil {
		return w.abandon(w.ctx.Err())
	}
	wctx, cancel := context.WithTimeout(w.ctx, pipeFailureWait)
	defer cancel()
	_, err := w.next(wctx)
	if err != nil && err != io.EOF && wctx.Err() == nil {
		return w.abandon(fromStatus(w.ctx, err))
	}
	return w.abandon(&RemoteError{Message: "plugin closed the data pipe: " + perr.Error(), Advice: AdviceRetry, kind: ErrConnection})
}

func (w *pipeWriter) writePipe(p []byte) error {
	if _, err := w.pipe.Write(p); err != nil {
		return w.pipeFailed(err)
	}
	w.n += int64(len(p))
	return nil
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errors.New("write after commit or abort")
	}
	if err := w.ctx.Err(); err != nil {
		// The pipe closes on cancellation, but asynchronously.
		return 0, w.abandon(err)
	}
	if len(p) >= directWrite {
		if err := flushGathered(&w.buf, w.writePipe); err != nil {
			return 0, err
		}
		if err := w.writePipe(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if w.buf == nil {
		// Only small writes are gathered; 1 MiB writes never need this.
		w.buf = make([]byte, 0, pipeBufSize)
	}
	return gather(&w.buf, p, w.writePipe)
}

func (w *pipeWriter) Commit(ctx context.Context) (ObjectRef, error) {
	if w.err != nil {
		return ObjectRef{}, w.err
	}
	if w.done {
		return ObjectRef{}, errors.New("commit after commit or abort")
	}
	if err := flushGathered(&w.buf, w.writePipe); err != nil {
		return ObjectRef{}, err
	}
	w.closePipe()
	if err := w.stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Commit{Commit: &pb.CommitRequest{Size: w.n}}}); err != nil {
		return ObjectRef{}, w.fail(err)
	}
	resp, err := w.next(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ObjectRef{}, w.abandon(ctx.Err())
		}
		return ObjectRef{}, w.fail(err)
	}
	w.done = true
	w.cancel()
	if resp.GetCommitted() == nil {
		return ObjectRef{}, errors.New("plugin answered commit with an unexpected message")
	}
	return refFromProto(resp.GetCommitted()), nil
}

func (w *pipeWriter) Abort(ctx context.Context) error {
	if w.done {
		w.cancel()
		return nil
	}
	w.done = true
	defer w.cancel()
	w.closePipe()
	if err := w.stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Abort{Abort: &pb.AbortRequest{}}}); err != nil {
		return nil // the plugin aborts when it sees the stream end
	}
	if _, err := w.next(ctx); err != nil && err != io.EOF {
		return fromStatus(ctx, err)
	}
	return nil
}

func (s remoteSource) openPiped(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	transfer, pipe, err := s.dp.newTransfer(transferSource)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	fail := func(err error) (io.ReadCloser, error) {
		cancel()
		pipe.Close()
		return nil, err
	}
	stream, err := s.c.Read(sctx, &pb.ReadRequest{Id: id, Offset: offset, Transfer: transfer})
	if err != nil {
		return fail(fromStatus(ctx, err))
	}
	first, err := stream.Recv()
	if err != nil {
		if err == io.EOF {
			err = errors.New("plugin ended the read before opening the file")
		}
		return fail(fromStatus(ctx, err))
	}
	if first.GetOpened() == nil {
		return fail(errors.New("plugin answered read with an unexpected message"))
	}
	r := &pipeReader{ctx: ctx, stream: stream, cancel: cancel, pipe: pipe}
	r.stop = context.AfterFunc(ctx, func() { pipe.Close() })
	return r, nil
}

// pipeReader reads a file from a data-plane pipe; at the pipe's end the
// stream confirms the byte count or reports the plugin's error.
type pipeReader struct {
	ctx    context.Context
	stream grpc.ServerStreamingClient[pb.ReadResponse]
	cancel context.CancelFunc
	pipe   *os.File
	stop   func() bool
	n      int64
	err    error
}

func (r *pipeReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	k, err := r.pipe.Read(p)
	r.n += int64(k)
	switch {
	case err == nil:
		return k, nil
	case err == io.EOF:
		r.err = r.finish()
	case r.ctx.Err() != nil:
		r.err = r.ctx.Err()
	default:
		r.err = &RemoteError{Message: "data pipe: " + err.Error(), Advice: AdviceRetry, kind: ErrConnection}
	}
	if r.err != io.EOF {
		r.close()
	}
	return k, r.err
}

// finish reads the stream's last message after the pipe ended.
func (r *pipeReader) finish() error {
	msg, err := r.stream.Recv()
	if err == io.EOF {
		return &RemoteError{Message: "plugin ended the read without confirming its length", Advice: AdviceRetry, kind: ErrConnection}
	}
	if err != nil {
		return fromStatus(r.ctx, err)
	}
	done := msg.GetDone()
	if done == nil {
		return Retryable(fmt.Errorf("%w: unexpected message after the pipe ended", ErrDataPlane))
	}
	if done.Size != r.n {
		return Retryable(fmt.Errorf("%w: the pipe delivered %d bytes, the plugin wrote %d", ErrDataPlane, r.n, done.Size))
	}
	return io.EOF
}

func (r *pipeReader) close() {
	r.stop()
	r.pipe.Close()
	r.cancel()
}

func (r *pipeReader) Close() error {
	r.close()
	if r.err == nil || r.err == io.EOF {
		r.err = errors.New("read from closed file")
	}
	return nil
}
