package sdk

import (
	"context"
	"testing"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// FuzzDecodeStatus feeds arbitrary google.rpc.Status bytes, as a misbehaving
// plugin could send them, through the error decoding.
func FuzzDecodeStatus(f *testing.F) {
	for _, err := range []error{
		&ConfigError{Attribute: "path", Message: "missing"},
		Retryable(ErrExists),
		Permanent(ErrNotFound),
		ErrUnsupported,
	} {
		st, _ := status.FromError(toStatus(err))
		b, _ := proto.Marshal(st.Proto())
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var sp spb.Status
		if proto.Unmarshal(b, &sp) != nil {
			return
		}
		err := fromStatus(context.Background(), status.FromProto(&sp).Err())
		if sp.Code != int32(codes.OK) && err == nil {
			t.Fatalf("status %v decoded to no error", &sp)
		}
		if err != nil {
			_ = err.Error()
			_ = AdviceOf(err)
		}
	})
}

// FuzzDecodeMessages decodes arbitrary bytes as the messages a plugin or
// the host receives and converts them to the SDK's types.
func FuzzDecodeMessages(f *testing.F) {
	m, _ := proto.Marshal(metaToProto(FileMeta{DatasetName: "INVOICES", ObjectName: "a/b", Ticker: 9, RecordSize: 80, Attributes: map[string]string{"k": "v"}}))
	f.Add(m)
	d, _ := proto.Marshal(&pb.DescribeResponse{Name: "x", Attributes: []*pb.Attribute{{Name: "path", Type: "string", DefaultJson: []byte(`"/tmp"`)}}})
	f.Add(d)
	det, _ := anypb.New(&pb.ErrorDetail{Kind: pb.ErrorDetail_KIND_CONFIG, Attribute: "a"})
	s, _ := proto.Marshal(&spb.Status{Code: 3, Message: "m", Details: []*anypb.Any{det}})
	f.Add(s)
	f.Fuzz(func(t *testing.T, b []byte) {
		var fm pb.FileMeta
		if proto.Unmarshal(b, &fm) == nil {
			got := metaFromProto(&fm)
			_ = metaToProto(got)
		}
		var req pb.SinkRequest
		if proto.Unmarshal(b, &req) == nil {
			_ = metaFromProto(req.GetOpen())
		}
		var of pb.OutgoingFile
		if proto.Unmarshal(b, &of) == nil {
			_ = outgoingFromProto(&of)
		}
		var ref pb.ObjectRef
		if proto.Unmarshal(b, &ref) == nil {
			_ = refFromProto(&ref)
		}
		var cr pb.CertificateResponse
		if proto.Unmarshal(b, &cr) == nil {
			_, _ = parseChain(cr.Chain)
		}
	})
}

// FuzzChunkCodec checks the sink chunk fast path against protobuf: same
// result whenever it accepts, never a panic, whatever the buffer split.
func FuzzChunkCodec(f *testing.F) {
	chunk, _ := proto.Marshal(&pb.SinkRequest{Msg: &pb.SinkRequest_Chunk{Chunk: []byte("UNB+UNOC:3")}})
	f.Add(chunk, uint8(3))
	open, _ := proto.Marshal(&pb.SinkRequest{Msg: &pb.SinkRequest_Open{Open: &pb.FileMeta{ObjectName: "x"}}})
	f.Add(open, uint8(1))
	f.Add([]byte{0x12, 0x80}, uint8(1))
	f.Add([]byte{0x12, 0x05, 1, 2}, uint8(2))
	c := newChunkCodec()
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		// Present b as gRPC does: several receive buffers.
		var data mem.BufferSlice
		step := int(split)%7 + 1
		for i := 0; i < len(b); i += step {
			data = append(data, mem.SliceBuffer(b[i:min(i+step, len(b))]))
		}
		var got pb.SinkRequest
		gotErr := c.Unmarshal(data, &got)
		var want pb.SinkRequest
		wantErr := proto.Unmarshal(b, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("codec error %v, protobuf error %v", gotErr, wantErr)
		}
		if gotErr == nil && !proto.Equal(&got, &want) {
			t.Fatalf("codec decoded %v, protobuf %v", &got, &want)
		}
		if ch := got.GetChunk(); ch != nil {
			c.release(ch)
		}
		// ReadResponse has the same chunk field.
		var gotR, wantR pb.ReadResponse
		gotErr = c.Unmarshal(data, &gotR)
		wantErr = proto.Unmarshal(b, &wantR)
		if (gotErr == nil) != (wantErr == nil) || (gotErr == nil && !proto.Equal(&gotR, &wantR)) {
			t.Fatalf("ReadResponse: codec %v (%v), protobuf %v (%v)", &gotR, gotErr, &wantR, wantErr)
		}
	})
}
