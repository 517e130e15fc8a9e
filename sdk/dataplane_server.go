package sdk

import (
	"context"
	"fmt"
	"io"
	"os"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pipeAhead is how many pipe buffers a plugin reads ahead of its sink.
const pipeAhead = 2

func (s *server) pipeBuf() *[]byte {
	if b, ok := s.bufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, pipeBufSize)
	return &b
}

func (s *server) claim(ctx context.Context, kind byte, id uint64) (*os.File, error) {
	if s.dp == nil {
		return nil, Permanent(fmt.Errorf("%w: the plugin has no data plane", ErrDataPlane))
	}
	return s.dp.claim(ctx, kind, id)
}

// writePiped serves a sink write whose bytes come through a pipe. The stream
// carries open (done), then commit with the byte count or abort; the pipe
// ends (EOF) before either is sent.
func (ss *sinkServer) writePiped(stream grpc.BidiStreamingServer[pb.SinkRequest, pb.SinkResponse], open *pb.FileMeta, transfer uint64) error {
	ctx := stream.Context()
	pipe, err := ss.s.claim(ctx, transferSink, transfer)
	if err != nil {
		return toStatus(err)
	}
	// Closing our end tells a connector still writing (EPIPE) that the
	// plugin gave up; the stream's status says why.
	defer pipe.Close()
	w, err := ss.s.p.Sink.Open(ctx, metaFromProto(open))
	if err != nil {
		return toStatus(err)
	}
	abort := func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = w.Abort(actx)
	}
	if err := stream.Send(&pb.SinkResponse{Msg: &pb.SinkResponse_Opened{Opened: &pb.Opened{}}}); err != nil {
		abort()
		return err
	}
	// The control message comes while (or after) the pipe is read. Anything
	// but commit stops the reading at once.
	type received struct {
		msg *pb.SinkRequest
		err error
	}
	ctrl := make(chan received, 1)
	go func() {
		msg, err := stream.Recv()
		if err != nil || msg.GetCommit() == nil {
			interruptPipe(pipe)
		}
		ctrl <- received{msg, err}
	}()
	stop := context.AfterFunc(ctx, func() { interruptPipe(pipe) })
	defer stop()

	// One goroutine empties the pipe while this one writes to the sink;
	// at most pipeAhead buffers wait in between.
	type filled struct {
		bp  *[]byte
		n   int
		err error
	}
	full := make(chan filled, pipeAhead)
	free := make(chan *[]byte, pipeAhead+1)
	for range pipeAhead + 1 {
		free <- ss.s.pipeBuf()
	}
	quit := make(chan struct{})
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		for {
			var bp *[]byte
			select {
			case bp = <-free:
			case <-quit:
				return
			}
			k, err := readFull(pipe, *bp)
			select {
			case full <- filled{bp, k, err}:
			case <-quit:
				ss.s.bufs.Put(bp)
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		close(quit)
		interruptPipe(pipe)
		<-reading
		for range pipeAhead + 1 {
			select {
			case bp := <-free:
				ss.s.bufs.Put(bp)
			case f := <-full:
				ss.s.bufs.Put(f.bp)
			default:
			}
		}
	}()
	var n int64
	for {
		f := <-full
		if f.n > 0 {
			if _, err := w.Write((*f.bp)[:f.n]); err != nil {
				free <- f.bp
				abort()
				return toStatus(err)
			}
			n += int64(f.n)
		}
		free <- f.bp
		if f.err != nil {
			// io.EOF, or interrupted by abort, a broken stream or cancellation.
			break
		}
	}
	var r received
	select {
	case r = <-ctrl:
	case <-ctx.Done():
		abort()
		return toStatus(ctx.Err())
	}
	if r.err != nil {
		abort()
		if r.err == io.EOF {
			return status.Error(codes.InvalidArgument, "sink stream ended without commit or abort")
		}
		return r.err
	}
	switch m := r.msg.Msg.(type) {
	case *pb.SinkRequest_Commit:
		if m.Commit.Size != n {
			abort()
			return toStatus(Retryable(fmt.Errorf("%w: the pipe delivered %d bytes, the connector wrote %d", ErrDataPlane, n, m.Commit.Size)))
		}
		ref, err := w.Commit(ctx)
		if err != nil {
			abort()
			return toStatus(err)
		}
		return stream.Send(&pb.SinkResponse{Msg: &pb.SinkResponse_Committed{Committed: refToProto(ref)}})
	case *pb.SinkRequest_Abort:
		if err := w.Abort(ctx); err != nil {
			return toStatus(err)
		}
		return stream.Send(&pb.SinkResponse{Msg: &pb.SinkResponse_Aborted{Aborted: &pb.Aborted{}}})
	}
	abort()
	return status.Error(codes.InvalidArgument, "unexpected message in sink stream")
}

// readPiped serves a source read into a pipe: opened, the bytes through the
// pipe, then done with their count once the pipe is closed.
func (ss *sourceServer) readPiped(req *pb.ReadRequest, stream grpc.ServerStreamingServer[pb.ReadResponse]) error {
	ctx := stream.Context()
	pipe, err := ss.s.claim(ctx, transferSource, req.Transfer)
	if err != nil {
		return toStatus(err)
	}
	defer pipe.Close()
	r, err := ss.s.p.Source.Open(ctx, req.Id, req.Offset)
	if err != nil {
		return toStatus(err)
	}
	defer r.Close()
	if err := stream.Send(&pb.ReadResponse{Msg: &pb.ReadResponse_Opened{Opened: &pb.Opened{}}}); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { interruptPipe(pipe) })
	defer stop()
	bp := ss.s.pipeBuf()
	defer ss.s.bufs.Put(bp)
	buf := *bp
	var n int64
	for {
		k, rerr := readFull(r, buf)
		if k > 0 {
			if _, err := pipe.Write(buf[:k]); err != nil {
				if ctx.Err() != nil {
					return toStatus(ctx.Err())
				}
				// The connector closed its end: it stopped reading.
				return status.Error(codes.Canceled, "the connector closed the data pipe")
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return toStatus(rerr)
		}
	}
	if err := pipe.Close(); err != nil {
		return toStatus(Retryable(fmt.Errorf("%w: close pipe: %v", ErrDataPlane, err)))
	}
	return stream.Send(&pb.ReadResponse{Msg: &pb.ReadResponse_Done{Done: &pb.ReadDone{Size: n}}})
}
