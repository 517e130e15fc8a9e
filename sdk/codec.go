package sdk

import (
	"encoding/binary"
	"sync"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec chunkCodec falls back to
	"google.golang.org/grpc/mem"
)

// chunkCodec is gRPC's protobuf codec with a fast path for the messages
// that carry file bytes: a chunk is copied once, straight from gRPC's
// receive buffers into a pooled buffer, instead of being joined into one
// buffer and then copied again into a freshly allocated slice.
type chunkCodec struct {
	proto encoding.CodecV2
	pool  sync.Pool // *[]byte with capacity ChunkSize
}

func newChunkCodec() *chunkCodec {
	c := &chunkCodec{proto: encoding.GetCodecV2("proto")}
	c.pool.New = func() any { b := make([]byte, ChunkSize); return &b }
	return c
}

func (c *chunkCodec) Name() string { return "proto" }

func (c *chunkCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c *chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *pb.SinkRequest:
		if chunk, ok := c.decodeChunk(data); ok {
			m.Msg = &pb.SinkRequest_Chunk{Chunk: chunk}
			return nil
		}
	case *pb.ReadResponse:
		if chunk, ok := c.decodeChunk(data); ok {
			m.Msg = &pb.ReadResponse_Chunk{Chunk: chunk}
			return nil
		}
	}
	return c.proto.Unmarshal(data, v)
}

// chunkTag is field 2 with wire type 2 (bytes): the chunk of SinkRequest
// and of ReadResponse.
const chunkTag = 2<<3 | 2

// decodeChunk recognises a SinkRequest or ReadResponse that holds only a
// chunk of at most ChunkSize bytes and copies the chunk into a pooled
// buffer. Anything else is left to the protobuf codec.
func (c *chunkCodec) decodeChunk(data mem.BufferSlice) ([]byte, bool) {
	var head [1 + binary.MaxVarintLen64]byte
	n := copyPrefix(head[:], data)
	if n < 2 || head[0] != chunkTag {
		return nil, false
	}
	size, k := binary.Uvarint(head[1:n])
	if k <= 0 || size > ChunkSize || uint64(data.Len()) != uint64(1+k)+size {
		return nil, false
	}
	bp := c.pool.Get().(*[]byte)
	buf := (*bp)[:size]
	skip := 1 + k
	off := 0
	for _, b := range data {
		d := b.ReadOnlyData()
		if skip >= len(d) {
			skip -= len(d)
			continue
		}
		off += copy(buf[off:], d[skip:])
		skip = 0
	}
	return buf, true
}

// release returns a chunk from decodeChunk to the pool once the sink has
// written it. Chunks the protobuf codec made have another capacity and are
// left to the garbage collector.
func (c *chunkCodec) release(chunk []byte) {
	if cap(chunk) == ChunkSize {
		b := chunk[:ChunkSize]
		c.pool.Put(&b)
	}
}

// copyPrefix copies the first bytes of data into dst.
func copyPrefix(dst []byte, data mem.BufferSlice) int {
	n := 0
	for _, b := range data {
		if n == len(dst) {
			break
		}
		n += copy(dst[n:], b.ReadOnlyData())
	}
	return n
}
