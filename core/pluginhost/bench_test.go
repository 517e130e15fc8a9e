package pluginhost

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
)

// benchFileSize is one benchmark operation: a file streamed and committed.
// Run with -benchtime=16x to move 1 GiB per sub-benchmark.
const benchFileSize = 64 << 20

// writeBenchFile streams benchFileSize bytes from a 1 MiB pattern (so data
// generation costs nothing) in 1 MiB writes and commits.
func writeBenchFile(b *testing.B, s sdk.Sink, name string, pattern []byte) {
	ctx := context.Background()
	w, err := s.Open(ctx, sdk.FileMeta{ObjectName: name})
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < benchFileSize; n += len(pattern) {
		if _, err := w.Write(pattern); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
}

func benchPattern() []byte {
	p := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(p)
	return p
}

// BenchmarkSinkLocalfs compares the localfs sink called in process with the
// same sink behind a plugin process (gRPC over mutual TLS), in one run.
func BenchmarkSinkLocalfs(b *testing.B) {
	pattern := benchPattern()
	run := func(b *testing.B, dir string, s sdk.Sink) {
		b.SetBytes(benchFileSize)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			name := "bench.bin"
			writeBenchFile(b, s, name, pattern)
			b.StopTimer()
			_ = os.Remove(filepath.Join(dir, name))
			_ = os.Remove(filepath.Join(dir, name+localfs.SidecarSuffix))
			b.StartTimer()
		}
	}
	b.Run("in-process", func(b *testing.B) {
		dir := b.TempDir()
		st, err := localfs.Open(localfs.Options{Path: dir, Sidecar: true})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		run(b, dir, st.Sink())
	})
	b.Run("plugin-process", func(b *testing.B) {
		bin, sum := localfsBinary(b)
		dir := b.TempDir()
		h := New(Options{})
		defer h.Close()
		p, err := h.Start(context.Background(), Spec{Name: "bench", Path: bin, SHA256: sum, Config: dirConfig(b, dir)})
		if err != nil {
			b.Fatal(err)
		}
		run(b, dir, p.Sink())
	})
}

// transports are the two ways file bytes reach a plugin process: pipes
// passed over the data-plane socket, and gRPC chunk messages (the path of
// plugins built with an older SDK).
var transports = []struct {
	name string
	opts Options
}{
	{"data-plane", Options{}},
	{"grpc-chunks", Options{NoDataPlane: true}},
}

// BenchmarkSinkLocalfsRatio alternates the in-process and the plugin
// process write file by file, so load changes on a shared machine hit both
// alike, and reports the plugin's throughput relative to in-process. The
// plugin takes the bytes through the data plane.
func BenchmarkSinkLocalfsRatio(b *testing.B) { benchSinkRatio(b, Options{}) }

// BenchmarkSinkLocalfsChunksRatio is BenchmarkSinkLocalfsRatio with the
// bytes as gRPC chunks over mutual TLS, the path of plugins built with an
// older SDK.
func BenchmarkSinkLocalfsChunksRatio(b *testing.B) { benchSinkRatio(b, Options{NoDataPlane: true}) }

func benchSinkRatio(b *testing.B, opts Options) {
	pattern := benchPattern()
	bin, sum := localfsBinary(b)
	inDir, plDir := b.TempDir(), b.TempDir()
	st, err := localfs.Open(localfs.Options{Path: inDir, Sidecar: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h := New(opts)
	defer h.Close()
	p, err := h.Start(context.Background(), Spec{Name: "bench", Path: bin, SHA256: sum, Config: dirConfig(b, plDir)})
	if err != nil {
		b.Fatal(err)
	}
	if p.DataPlane() == opts.NoDataPlane {
		b.Fatalf("data plane in use: %v, want %v", p.DataPlane(), !opts.NoDataPlane)
	}
	var inProc, plugin time.Duration
	timed := func(dir string, s sdk.Sink) time.Duration {
		start := time.Now()
		writeBenchFile(b, s, "bench.bin", pattern)
		d := time.Since(start)
		_ = os.Remove(filepath.Join(dir, "bench.bin"))
		_ = os.Remove(filepath.Join(dir, "bench.bin"+localfs.SidecarSuffix))
		return d
	}
	b.SetBytes(2 * benchFileSize)
	for b.Loop() {
		inProc += timed(inDir, st.Sink())
		plugin += timed(plDir, p.Sink())
	}
	b.ReportMetric(float64(inProc)/float64(plugin), "plugin/in-process")
	b.ReportMetric(float64(benchFileSize)*float64(b.N)/plugin.Seconds()/1e6, "plugin-MB/s")
	b.ReportMetric(float64(benchFileSize)*float64(b.N)/inProc.Seconds()/1e6, "in-process-MB/s")
}

// BenchmarkTransport streams to a sink that stores nothing, in a plugin
// process: the cost of the transport alone.
func BenchmarkTransport(b *testing.B) {
	pattern := benchPattern()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			opts := tr.opts
			opts.Executable = func() (string, error) { return exe, nil }
			opts.Builtins = testBuiltins()
			h := New(opts)
			defer h.Close()
			p, err := h.Start(context.Background(), Spec{Name: "discard", Builtin: "discard"})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchFileSize)
			b.ReportAllocs()
			for b.Loop() {
				writeBenchFile(b, p.Sink(), "x", pattern)
			}
		})
	}
}

// BenchmarkPluginStart measures starting a plugin process up to a
// configured, described plugin (handshake, mutual TLS, Describe, Configure)
// and stopping it.
func BenchmarkPluginStart(b *testing.B) {
	bin, sum := localfsBinary(b)
	dir := b.TempDir()
	h := New(Options{})
	defer h.Close()
	b.ReportAllocs()
	for b.Loop() {
		p, err := h.Start(context.Background(), Spec{Name: "bench", Path: bin, SHA256: sum, Config: dirConfig(b, dir)})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p.Close()
		b.StartTimer()
	}
}
