package sdk_test

import (
	"context"
	"testing"

	"github.com/oftp2/connector/sdk"
	"github.com/oftp2/connector/sdk/sdktest"
)

type countSink struct{}

func (countSink) Open(context.Context, sdk.FileMeta) (sdk.SinkWriter, error) {
	return &countWriter{}, nil
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *countWriter) Commit(context.Context) (sdk.ObjectRef, error) {
	return sdk.ObjectRef{Size: w.n}, nil
}
func (w *countWriter) Abort(context.Context) error { return nil }

// BenchmarkSinkStream measures the wire protocol alone (chunking, protobuf,
// gRPC over loopback TCP without TLS): 64 MiB per operation, 32 KiB writes
// as io.Copy makes them.
func BenchmarkSinkStream(b *testing.B) {
	const size = 64 << 20
	rp := sdktest.ServeGRPC(b, sdk.Plugin{Name: "count", Sink: countSink{}})
	buf := make([]byte, 32<<10)
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w, err := rp.Sink().Open(ctx, sdk.FileMeta{ObjectName: "x"})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; n < size; n += len(buf) {
			if _, err := w.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		ref, err := w.Commit(ctx)
		if err != nil || ref.Size != size {
			b.Fatalf("commit: %+v, %v", ref, err)
		}
	}
}
