package filesec_test

import (
	"context"
	"io"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/filesec"
)

type discardSink struct{}

func (discardSink) Write(p []byte) (int, error)  { return len(p), nil }
func (discardSink) Commit(context.Context) error { return nil }
func (discardSink) Abort(context.Context) error  { return nil }

const benchSize = 8 << 20

func benchFile() *oftp.OutgoingFile {
	return &oftp.OutgoingFile{DatasetName: "BENCH", Format: oftp.FormatUnstructured, Size: benchSize,
		Originator: clientCode, Destination: serverCode,
		SecurityLevel: 3, CipherSuite: 4, Compressed: true, SignedReceipt: true,
		Source: oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) {
			return io.NopCloser(newPattern(benchSize)), nil
		})}
}

// BenchmarkProtect measures the outgoing pipeline alone: sign, compress, encrypt and
// hash the transmitted octets.
func BenchmarkProtect(b *testing.B) {
	cli, _ := pairSecurity(b)
	ctx := context.Background()
	buf := make([]byte, 256<<10)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g, err := cli.TransformOutgoing(ctx, benchFile())
		if err != nil {
			b.Fatal(err)
		}
		rc, err := g.Source.Open(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, rc, buf); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkVerify measures the incoming pipeline alone: decrypt, decompress, verify.
func BenchmarkVerify(b *testing.B) {
	cli, srv := pairSecurity(b)
	ctx := context.Background()
	g, err := cli.TransformOutgoing(ctx, benchFile())
	if err != nil {
		b.Fatal(err)
	}
	rc, err := g.Source.Open(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	wire, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		b.Fatal(err)
	}
	inc := &oftp.IncomingFile{DatasetName: "BENCH", Stamp: g.Stamp, Originator: clientCode, Destination: serverCode,
		Format: oftp.FormatUnstructured, SecurityLevel: 3, CipherSuite: 4, Compressed: true, Enveloped: true,
		SignedReceipt: true, PartnerSSID: clientCode}
	b.SetBytes(benchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink, err := srv.TransformIncoming(ctx, inc, discardSink{})
		if err != nil {
			b.Fatal(err)
		}
		for p := wire; len(p) > 0; {
			k := min(len(p), 64<<10)
			if _, err := sink.Write(p[:k]); err != nil {
				b.Fatal(err)
			}
			p = p[k:]
		}
		if err := sink.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = filesec.LevelBoth
