package sdk

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	"google.golang.org/grpc"
)

// RemotePlugin is the connector's view of a running plugin process: its
// description, its configuration call and its capabilities as Go interfaces.
// The connector's plugin host obtains one from go-plugin's Dispense.
type RemotePlugin struct {
	plugin pb.PluginClient
	sink   pb.SinkClient
	source pb.SourceClient
	keys   pb.KeysClient
	// codec, when set, is the connection's chunk codec; readers return
	// consumed chunks to it.
	codec *chunkCodec
	// offered is the data plane given by OfferDataPlane; dp is set to it
	// once Describe finds that the plugin holds its end.
	offered atomic.Pointer[DataPlane]
	dp      atomic.Pointer[DataPlane]
}

// OfferDataPlane lets c move file bytes through pipes passed over d (whose
// other end the plugin process inherited) instead of gRPC chunks. It takes
// effect with the next Describe, and only if the plugin says it holds its
// end of d; otherwise chunks stay in use. The caller keeps d and closes it
// when the process ends.
func (c *RemotePlugin) OfferDataPlane(d *DataPlane) { c.offered.Store(d) }

// DataPlane reports whether file bytes travel through the data plane.
func (c *RemotePlugin) DataPlane() bool { return c.dp.Load() != nil }

// NewRemotePlugin wraps a gRPC connection to a plugin process. Connections
// made with HostTransport's options should use HostTransport.RemotePlugin.
func NewRemotePlugin(conn grpc.ClientConnInterface) *RemotePlugin {
	return &RemotePlugin{
		plugin: pb.NewPluginClient(conn),
		sink:   pb.NewSinkClient(conn),
		source: pb.NewSourceClient(conn),
		keys:   pb.NewKeysClient(conn),
	}
}

// Describe asks the plugin for its name, version, capabilities and schema.
func (c *RemotePlugin) Describe(ctx context.Context) (Info, error) {
	resp, err := c.plugin.Describe(ctx, &pb.DescribeRequest{})
	if err != nil {
		return Info{}, fromStatus(ctx, err)
	}
	info := Info{
		Name: resp.Name, Version: resp.Version,
		Capabilities: Capabilities{Sink: resp.Sink, Source: resp.Source, Watch: resp.Watch, Keys: resp.Keys},
	}
	if d := c.offered.Load(); d != nil && resp.DataPlane {
		c.dp.Store(d)
	} else {
		c.dp.Store(nil)
	}
	for _, a := range resp.Attributes {
		attr := Attribute{Name: a.Name, Type: a.Type, Required: a.Required, Sensitive: a.Sensitive, Description: a.Description}
		if len(a.DefaultJson) > 0 {
			if err := json.Unmarshal(a.DefaultJson, &attr.Default); err != nil {
				return Info{}, Permanent(fmt.Errorf("plugin sent an invalid default for attribute %q: %w", a.Name, err))
			}
		}
		info.Schema.Attributes = append(info.Schema.Attributes, attr)
	}
	return info, nil
}

// Configure sends the configuration; a *ConfigError comes back intact.
func (c *RemotePlugin) Configure(ctx context.Context, configJSON []byte) error {
	_, err := c.plugin.Configure(ctx, &pb.ConfigureRequest{ConfigJson: configJSON})
	return fromStatus(ctx, err)
}

// Sink returns the plugin's sink. Calls fail with ErrUnsupported when the
// plugin has none; Describe tells beforehand.
func (c *RemotePlugin) Sink() Sink { return remoteSink{c.sink, c.dp.Load()} }

// Source returns the plugin's source; it also implements Watcher.
func (c *RemotePlugin) Source() Source { return remoteSource{c.source, c.codec, c.dp.Load()} }

// Keys returns the plugin's key operations.
func (c *RemotePlugin) Keys() Keys { return remoteKeys{c.keys} }

type remoteSink struct {
	c  pb.SinkClient
	dp *DataPlane // nil: chunks
}

func (s remoteSink) Open(ctx context.Context, meta FileMeta) (SinkWriter, error) {
	if s.dp != nil {
		return s.openPiped(ctx, meta)
	}
	sctx, cancel := context.WithCancel(ctx)
	stream, err := s.c.Write(sctx)
	if err != nil {
		cancel()
		return nil, fromStatus(ctx, err)
	}
	w := &remoteWriter{ctx: ctx, stream: stream, cancel: cancel}
	if err := stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Open{Open: metaToProto(meta)}}); err != nil {
		return nil, w.fail(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, w.fail(err)
	}
	if resp.GetOpened() == nil {
		return nil, w.abandon(errors.New("plugin answered open with an unexpected message"))
	}
	w.buf = make([]byte, 0, ChunkSize)
	return w, nil
}

// remoteWriter buffers writes into ChunkSize messages.
type remoteWriter struct {
	ctx    context.Context
	stream grpc.BidiStreamingClient[pb.SinkRequest, pb.SinkResponse]
	cancel context.CancelFunc
	buf    []byte
	err    error // sticky: the first failure
	done   bool
}

// fail records the stream's real error and ends the stream. A failed Send
// reports io.EOF; the plugin's error is in the stream's status.
func (w *remoteWriter) fail(err error) error {
	if w.err != nil {
		return w.err
	}
	if err == io.EOF {
		if _, rerr := w.stream.Recv(); rerr != nil && rerr != io.EOF {
			err = rerr
		} else {
			err = errors.New("plugin closed the stream")
		}
	}
	return w.abandon(fromStatus(w.ctx, err))
}

// abandon ends the stream with err as the writer's final error.
func (w *remoteWriter) abandon(err error) error {
	w.err = err
	w.done = true
	w.cancel()
	return err
}

func (w *remoteWriter) send(chunk []byte) error {
	if err := w.stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Chunk{Chunk: chunk}}); err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *remoteWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, errors.New("write after commit or abort")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == 0 && len(p) >= ChunkSize {
			// Large writes go out without a copy.
			if err := w.send(p[:ChunkSize]); err != nil {
				return n, err
			}
			n += ChunkSize
			p = p[ChunkSize:]
			continue
		}
		// Gather up to one chunk; the rest of p goes round again, large parts uncopied.
		k := min(len(p), cap(w.buf)-len(w.buf))
		m, err := gather(&w.buf, p[:k], w.send)
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// gather copies p into *buf and hands the buffer to flush each time it is full; it
// returns how much of p was taken.
func gather(buf *[]byte, p []byte, flush func([]byte) error) (int, error) {
	n := 0
	for len(p) > 0 {
		b := *buf
		k := copy(b[len(b):cap(b)], p)
		*buf = b[:len(b)+k]
		n += k
		p = p[k:]
		if len(*buf) == cap(*buf) {
			if err := flush(*buf); err != nil {
				return n, err
			}
			*buf = (*buf)[:0]
		}
	}
	return n, nil
}

// flushGathered hands what gather holds to flush.
func flushGathered(buf *[]byte, flush func([]byte) error) error {
	if len(*buf) == 0 {
		return nil
	}
	if err := flush(*buf); err != nil {
		return err
	}
	*buf = (*buf)[:0]
	return nil
}

func (w *remoteWriter) Commit(ctx context.Context) (ObjectRef, error) {
	if w.err != nil {
		return ObjectRef{}, w.err
	}
	if w.done {
		return ObjectRef{}, errors.New("commit after commit or abort")
	}
	if err := flushGathered(&w.buf, w.send); err != nil {
		return ObjectRef{}, err
	}
	if err := w.stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Commit{Commit: &pb.CommitRequest{}}}); err != nil {
		return ObjectRef{}, w.fail(err)
	}
	resp, err := recvCtx(ctx, w.stream.Recv)
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

func (w *remoteWriter) Abort(ctx context.Context) error {
	if w.done {
		w.cancel()
		return nil
	}
	w.done = true
	defer w.cancel()
	if err := w.stream.Send(&pb.SinkRequest{Msg: &pb.SinkRequest_Abort{Abort: &pb.AbortRequest{}}}); err != nil {
		// The stream is gone; the plugin aborts on its side when it sees that.
		return nil
	}
	if _, err := recvCtx(ctx, w.stream.Recv); err != nil && err != io.EOF {
		return fromStatus(ctx, err)
	}
	return nil
}

// recvCtx waits for recv unless ctx ends first. The stream's own context
// still governs the stream; this only bounds the caller's wait.
func recvCtx[T any](ctx context.Context, recv func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return recv()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := recv()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

type remoteSource struct {
	c     pb.SourceClient
	codec *chunkCodec
	dp    *DataPlane // nil: chunks
}

func (s remoteSource) List(ctx context.Context) ([]OutgoingFile, error) {
	resp, err := s.c.List(ctx, &pb.ListRequest{})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	out := make([]OutgoingFile, 0, len(resp.Files))
	for _, f := range resp.Files {
		out = append(out, outgoingFromProto(f))
	}
	return out, nil
}

func (s remoteSource) Watch(ctx context.Context, fn func(OutgoingFile) error) error {
	stream, err := s.c.Watch(ctx, &pb.WatchRequest{})
	if err != nil {
		return fromStatus(ctx, err)
	}
	for {
		f, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fromStatus(ctx, err)
		}
		if err := fn(outgoingFromProto(f)); err != nil {
			return err
		}
	}
}

func (s remoteSource) Open(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	if s.dp != nil {
		return s.openPiped(ctx, id, offset)
	}
	sctx, cancel := context.WithCancel(ctx)
	stream, err := s.c.Read(sctx, &pb.ReadRequest{Id: id, Offset: offset})
	if err != nil {
		cancel()
		return nil, fromStatus(ctx, err)
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		if err == io.EOF {
			err = errors.New("plugin ended the read before opening the file")
		}
		return nil, fromStatus(ctx, err)
	}
	if first.GetOpened() == nil {
		cancel()
		return nil, errors.New("plugin answered read with an unexpected message")
	}
	return &remoteReader{ctx: ctx, stream: stream, cancel: cancel, codec: s.codec}, nil
}

type remoteReader struct {
	ctx    context.Context
	stream grpc.ServerStreamingClient[pb.ReadResponse]
	cancel context.CancelFunc
	codec  *chunkCodec
	chunk  []byte // the buffer being consumed
	cur    []byte // its unread part
	err    error
}

func (r *remoteReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		r.releaseChunk()
		if r.err != nil {
			return 0, r.err
		}
		msg, err := r.stream.Recv()
		if err != nil {
			r.err = fromStatus(r.ctx, err)
			r.cancel()
			continue
		}
		r.chunk = msg.GetChunk()
		r.cur = r.chunk
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

func (r *remoteReader) releaseChunk() {
	if r.chunk != nil && r.codec != nil {
		r.codec.release(r.chunk)
	}
	r.chunk, r.cur = nil, nil
}

func (r *remoteReader) Close() error {
	r.cancel()
	r.releaseChunk()
	if r.err == nil {
		r.err = errors.New("read from closed file")
	}
	return nil
}

func (s remoteSource) Ack(ctx context.Context, id string, receipt Receipt) error {
	_, err := s.c.Ack(ctx, &pb.AckRequest{Id: id, Receipt: receiptToProto(receipt)})
	return fromStatus(ctx, err)
}

func (s remoteSource) Nack(ctx context.Context, id string, reason NackReason) error {
	_, err := s.c.Nack(ctx, &pb.NackRequest{Id: id, Reason: reason.Text, ReasonCode: uint32(max(reason.Code, 0)), Permanent: reason.Permanent})
	return fromStatus(ctx, err)
}

type remoteKeys struct{ c pb.KeysClient }

func (k remoteKeys) Certificate(ctx context.Context, keyID string) ([]*x509.Certificate, error) {
	resp, err := k.c.Certificate(ctx, &pb.CertificateRequest{KeyId: keyID})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return parseChain(resp.Chain)
}

func (k remoteKeys) Sign(ctx context.Context, keyID string, digest []byte, hash crypto.Hash, pss bool) ([]byte, error) {
	resp, err := k.c.Sign(ctx, &pb.SignRequest{KeyId: keyID, Digest: digest, Hash: uint32(hash), Pss: pss})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return resp.Signature, nil
}

func (k remoteKeys) Decrypt(ctx context.Context, keyID string, wrappedKey []byte, oaep bool, hash crypto.Hash) ([]byte, error) {
	resp, err := k.c.Decrypt(ctx, &pb.DecryptRequest{KeyId: keyID, WrappedKey: wrappedKey, Oaep: oaep, Hash: uint32(hash)})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	return resp.Key, nil
}
