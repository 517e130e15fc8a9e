package pipeline

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/pluginhost"
	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
)

var benchSize = flag.Int64("pipeline.bench-size", 64<<20, "size of the file BenchmarkReceiveThroughPlugin sends (use 1073741824 for 1 GiB)")

var benchNoDataPlane = flag.Bool("pipeline.no-data-plane", false, "BenchmarkReceiveThroughPlugin: file bytes to the plugin as gRPC chunks instead of pipes")

// inprocPlugins serves a localfs store in this process, without gRPC.
type inprocPlugins struct{ sink sdk.Sink }

func (p inprocPlugins) Sink(context.Context, string) (sdk.Sink, error) { return p.sink, nil }
func (p inprocPlugins) Source(context.Context, string) (sdk.Source, error) {
	return nil, sdk.ErrUnsupported
}

// repeatReader yields n octets of a fixed pattern without holding them in memory.
type repeatReader struct {
	block []byte
	n     int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && r.n > 0 {
		c := copy(p[k:min(len(p), k+int(min(r.n, int64(len(r.block)))))], r.block)
		k += c
		r.n -= int64(c)
	}
	return k, nil
}

// benchReceiver is a pipeline that only receives, over plain TCP so that the plugin's
// share of the cost is not hidden behind TLS.
func benchReceiver(b *testing.B, dir string, plugins func(*config.Config) Plugins) (*Pipeline, string) {
	b.Helper()
	port := freePort(b)
	src := fmt.Sprintf(`
connector { state_dir = %q }
listener "plain" { address = "127.0.0.1:%d" }
identity {
  ssid     = "OBETA"
  password = "PWB"
}
partner "a" {
  ssid     = "OACME"
  password = "PWA"
  tls      = false
}
plugin "inbox" {
  builtin = "localfs"
  config {
    path        = %q
    create_dirs = true
    sidecar     = false
  }
}
inbound "all" {
  sink        = plugin.inbox
  object_name = "%%VirtualFileName%%-%%GUID%%"
}
`, filepath.Join(dir, "state"), port, filepath.Join(dir, "inbox"))
	cfg, diags := config.Parse(filepath.Join(dir, "connector.hcl"), []byte(src), config.Options{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	p, err := New(Options{Config: cfg, Plugins: plugins(cfg)})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, p.Addrs()[0].String()
}

// sendOne sends one file of size octets to addr and removes what arrived.
func sendOne(b *testing.B, addr, inbox string, size int64, n int) time.Duration {
	b.Helper()
	opts := oftp.DefaultOptions()
	opts.SSIDCode, opts.Password = "OACME", "PWA"
	opts.PartnerSSIDCode, opts.PartnerPassword = "OBETA", "PWB"
	ctx := context.Background()
	block := pattern(1<<20, 9)
	start := time.Now()
	c, err := oftp.Dial(ctx, addr, opts)
	if err != nil {
		b.Fatal(err)
	}
	f := &oftp.OutgoingFile{DatasetName: fmt.Sprintf("BENCH%d", n), Size: size,
		Source: oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) {
			return io.NopCloser(&repeatReader{block: block, n: size}), nil
		})}
	if _, err := c.SendFile(ctx, f); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	_ = c.Logoff(ctx)
	entries, _ := os.ReadDir(inbox)
	for _, e := range entries {
		os.Remove(filepath.Join(inbox, e.Name()))
	}
	return elapsed
}

// BenchmarkReceiveThroughPlugin receives the same file, in the same run, once into the
// localfs plugin running as its own process (gRPC streaming) and once into the same
// localfs code in process, and reports both rates and their ratio.
func BenchmarkReceiveThroughPlugin(b *testing.B) {
	dir := b.TempDir()
	log := slog.New(slog.DiscardHandler)
	host := pluginhost.New(pluginhost.Options{Logger: log, Builtins: testBuiltins(), NoDataPlane: *benchNoDataPlane})
	defer host.Close()
	_, viaPlugin := benchReceiver(b, filepath.Join(dir, "plugin"), func(cfg *config.Config) Plugins {
		set, diags := StartPlugins(context.Background(), cfg, host)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		return set
	})
	_, inProcess := benchReceiver(b, filepath.Join(dir, "inproc"), func(cfg *config.Config) Plugins {
		st, err := localfs.Open(localfs.Options{Path: filepath.Join(dir, "inproc", "inbox"), CreateDirs: true})
		if err != nil {
			b.Fatal(err)
		}
		return inprocPlugins{sink: st.Sink()}
	})
	size := *benchSize
	b.SetBytes(2 * size)
	b.ReportAllocs()
	var tPlugin, tInproc time.Duration
	n := 0
	for b.Loop() {
		n++
		// Alternate the order so that neither side always runs on a warm cache.
		if n%2 == 0 {
			tPlugin += sendOne(b, viaPlugin, filepath.Join(dir, "plugin", "inbox"), size, n)
			tInproc += sendOne(b, inProcess, filepath.Join(dir, "inproc", "inbox"), size, n)
		} else {
			tInproc += sendOne(b, inProcess, filepath.Join(dir, "inproc", "inbox"), size, n)
			tPlugin += sendOne(b, viaPlugin, filepath.Join(dir, "plugin", "inbox"), size, n)
		}
	}
	mb := float64(size) * float64(n) / 1e6
	b.ReportMetric(mb/tPlugin.Seconds(), "plugin-MB/s")
	b.ReportMetric(mb/tInproc.Seconds(), "inprocess-MB/s")
	b.ReportMetric(100*tInproc.Seconds()/tPlugin.Seconds(), "plugin-%-of-inprocess")
}
