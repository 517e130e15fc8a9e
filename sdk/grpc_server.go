package sdk

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ChunkSize is the size of the file chunks streamed between the connector
// and a plugin: large enough to amortise per-message costs, far below gRPC's
// 4 MiB message limit.
const ChunkSize = 1 << 20

// recvAhead is how many chunks a plugin receives ahead of its sink.
const recvAhead = 4

// cleanupTimeout bounds an Abort run after the caller went away.
const cleanupTimeout = 30 * time.Second

// server serves one Plugin's capabilities over gRPC.
type server struct {
	pb.UnimplementedPluginServer
	p Plugin
	// codec decodes sink chunks into pooled buffers; nil when the server
	// was not built with it.
	codec *chunkCodec
	// dp receives the pipes of data-plane transfers; nil without a data plane.
	dp *pipeInbox
	// bufs holds pipeBufSize buffers for data-plane transfers.
	bufs sync.Pool

	// inflight counts running calls so that a plugin whose host died can
	// let Abort finish before it exits.
	inflight sync.WaitGroup
}

func (s *server) register(g *grpc.Server) {
	pb.RegisterPluginServer(g, s)
	if s.p.Sink != nil {
		pb.RegisterSinkServer(g, &sinkServer{s: s})
	}
	if s.p.Source != nil {
		pb.RegisterSourceServer(g, &sourceServer{s: s})
	}
	if s.p.Keys != nil {
		pb.RegisterKeysServer(g, &keysServer{s: s})
	}
}

func (s *server) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	info := s.p.Info()
	resp := &pb.DescribeResponse{
		Name: info.Name, Version: info.Version,
		Sink: info.Capabilities.Sink, Source: info.Capabilities.Source,
		Watch: info.Capabilities.Watch, Keys: info.Capabilities.Keys,
		DataPlane: s.dp != nil && s.dp.available(),
	}
	for _, a := range info.Schema.Attributes {
		pa := &pb.Attribute{Name: a.Name, Type: a.Type, Required: a.Required, Sensitive: a.Sensitive, Description: a.Description}
		if a.Default != nil {
			b, err := json.Marshal(a.Default)
			if err != nil {
				return nil, status.Errorf(codes.Internal, "default of attribute %q does not encode to JSON: %v", a.Name, err)
			}
			pa.DefaultJson = b
		}
		resp.Attributes = append(resp.Attributes, pa)
	}
	return resp, nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	if s.p.Configure == nil {
		return &pb.ConfigureResponse{}, nil
	}
	if err := s.p.Configure(ctx, req.ConfigJson); err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{}, nil
}

type sinkServer struct {
	pb.UnimplementedSinkServer
	s *server
}

func (ss *sinkServer) Write(stream grpc.BidiStreamingServer[pb.SinkRequest, pb.SinkResponse]) error {
	ss.s.inflight.Add(1)
	defer ss.s.inflight.Done()
	ctx := stream.Context()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return status.Error(codes.InvalidArgument, "sink stream must start with open")
	}
	if first.Transfer != 0 {
		return ss.writePiped(stream, open, first.Transfer)
	}
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
	// Receive (TLS, framing, decoding) on one goroutine while the sink
	// writes on this one; at most recvAhead chunks wait in between.
	type received struct {
		msg *pb.SinkRequest
		err error
	}
	queue := make(chan received, recvAhead)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			msg, err := stream.Recv()
			select {
			case queue <- received{msg, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		r := <-queue
		msg, err := r.msg, r.err
		if err != nil {
			abort()
			if err == io.EOF {
				return status.Error(codes.InvalidArgument, "sink stream ended without commit or abort")
			}
			return err
		}
		switch m := msg.Msg.(type) {
		case *pb.SinkRequest_Chunk:
			_, err := w.Write(m.Chunk)
			if ss.s.codec != nil {
				ss.s.codec.release(m.Chunk)
			}
			if err != nil {
				abort()
				return toStatus(err)
			}
		case *pb.SinkRequest_Commit:
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
		default:
			abort()
			return status.Error(codes.InvalidArgument, "unexpected message in sink stream")
		}
	}
}

type sourceServer struct {
	pb.UnimplementedSourceServer
	s *server
}

func (ss *sourceServer) List(ctx context.Context, _ *pb.ListRequest) (*pb.ListResponse, error) {
	files, err := ss.s.p.Source.List(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ListResponse{Files: make([]*pb.OutgoingFile, 0, len(files))}
	for _, f := range files {
		resp.Files = append(resp.Files, outgoingToProto(f))
	}
	return resp, nil
}

func (ss *sourceServer) Watch(_ *pb.WatchRequest, stream grpc.ServerStreamingServer[pb.OutgoingFile]) error {
	w, ok := ss.s.p.Source.(Watcher)
	if !ok {
		return toStatus(ErrUnsupported)
	}
	err := w.Watch(stream.Context(), func(f OutgoingFile) error { return stream.Send(outgoingToProto(f)) })
	return toStatus(err)
}

func (ss *sourceServer) Read(req *pb.ReadRequest, stream grpc.ServerStreamingServer[pb.ReadResponse]) error {
	ss.s.inflight.Add(1)
	defer ss.s.inflight.Done()
	if req.Offset < 0 {
		return toStatus(Permanent(errors.New("negative read offset")))
	}
	if req.Transfer != 0 {
		return ss.readPiped(req, stream)
	}
	r, err := ss.s.p.Source.Open(stream.Context(), req.Id, req.Offset)
	if err != nil {
		return toStatus(err)
	}
	defer r.Close()
	if err := stream.Send(&pb.ReadResponse{Msg: &pb.ReadResponse_Opened{Opened: &pb.Opened{}}}); err != nil {
		return err
	}
	buf := make([]byte, ChunkSize)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if serr := stream.Send(&pb.ReadResponse{Msg: &pb.ReadResponse_Chunk{Chunk: buf[:n]}}); serr != nil {
				return serr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return toStatus(err)
		}
	}
}

func (ss *sourceServer) Ack(ctx context.Context, req *pb.AckRequest) (*pb.AckResponse, error) {
	if err := ss.s.p.Source.Ack(ctx, req.Id, receiptFromProto(req.Receipt)); err != nil {
		return nil, toStatus(err)
	}
	return &pb.AckResponse{}, nil
}

func (ss *sourceServer) Nack(ctx context.Context, req *pb.NackRequest) (*pb.NackResponse, error) {
	reason := NackReason{Code: int(req.ReasonCode), Text: req.Reason, Permanent: req.Permanent}
	if err := ss.s.p.Source.Nack(ctx, req.Id, reason); err != nil {
		return nil, toStatus(err)
	}
	return &pb.NackResponse{}, nil
}

type keysServer struct {
	pb.UnimplementedKeysServer
	s *server
}

func (ks *keysServer) Certificate(ctx context.Context, req *pb.CertificateRequest) (*pb.CertificateResponse, error) {
	chain, err := ks.s.p.Keys.Certificate(ctx, req.KeyId)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.CertificateResponse{}
	for _, c := range chain {
		resp.Chain = append(resp.Chain, c.Raw)
	}
	return resp, nil
}

func (ks *keysServer) Sign(ctx context.Context, req *pb.SignRequest) (*pb.SignResponse, error) {
	h, err := hashFromProto(req.Hash)
	if err != nil {
		return nil, toStatus(err)
	}
	sig, err := ks.s.p.Keys.Sign(ctx, req.KeyId, req.Digest, h, req.Pss)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SignResponse{Signature: sig}, nil
}

func (ks *keysServer) Decrypt(ctx context.Context, req *pb.DecryptRequest) (*pb.DecryptResponse, error) {
	h, err := hashFromProto(req.Hash)
	if err != nil {
		return nil, toStatus(err)
	}
	key, err := ks.s.p.Keys.Decrypt(ctx, req.KeyId, req.WrappedKey, req.Oaep, h)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.DecryptResponse{Key: key}, nil
}

// hashFromProto accepts the crypto.Hash values the connector uses; 0 means
// none (PKCS #1 v1.5 decryption, raw signatures).
func hashFromProto(v uint32) (crypto.Hash, error) {
	h := crypto.Hash(v)
	switch h {
	case 0, crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return h, nil
	}
	return 0, &RemoteError{Message: "unsupported hash algorithm", Advice: AdvicePermanent, kind: ErrUnsupported}
}

// parseChain decodes a DER certificate chain.
func parseChain(ders [][]byte) ([]*x509.Certificate, error) {
	out := make([]*x509.Certificate, 0, len(ders))
	for _, d := range ders {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			return nil, Permanent(err)
		}
		out = append(out, c)
	}
	return out, nil
}
