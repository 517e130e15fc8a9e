package pluginhost

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
	"google.golang.org/grpc"
)

// The test binary doubles as the connector executable: run as
// "TESTBINARY plugin serve NAME" it serves a plugin, exactly as the
// connector re-executes itself for bundled plugins. Besides the real bundled
// plugins it serves misbehaving ones the tests need.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" {
		if err := testBuiltins().Serve(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(helperHostEnv) != "" {
		runHelperHost()
		return
	}
	os.Exit(m.Run())
}

func testBuiltins() Builtins {
	b := Builtins{localfs.Name: localfs.New}
	b["stdout"] = func() sdk.Plugin {
		// A plugin that prints to stdout before the handshake.
		fmt.Println("starting my plugin v1.0")
		return localfs.New()
	}
	b["chatty"] = func() sdk.Plugin {
		log := sdk.Logger(nil, slog.LevelInfo)
		log.Info("hello from the plugin", "password", "hunter2", "answer", 42)
		p := localfs.New()
		configure := p.Configure
		p.Configure = func(ctx context.Context, cfg []byte) error {
			// After the handshake stdout is captured; the host warns about it.
			fmt.Println("configured with", len(cfg), "bytes")
			return configure(ctx, cfg)
		}
		return p
	}
	b["olddp"] = func() sdk.Plugin {
		// A plugin built with an SDK that knows no data plane ignores the
		// socket it inherits.
		os.Unsetenv(sdk.DataPlaneEnv)
		return localfs.New()
	}
	b["discard"] = func() sdk.Plugin {
		return sdk.Plugin{Name: "discard", Version: "1", Sink: discardSink{}}
	}
	b["envprobe"] = func() sdk.Plugin {
		// Reports two environment variables through its version.
		return sdk.Plugin{Name: "envprobe", Version: os.Getenv("PLUGINHOST_TEST_SECRET") + "|" + os.Getenv("PLUGIN_EXTRA"), Sink: discardSink{}}
	}
	b["crash"] = func() sdk.Plugin {
		fmt.Fprintln(os.Stderr, "fatal: cannot open /var/lib/plugin/state.db: permission denied")
		os.Exit(2)
		return sdk.Plugin{}
	}
	b["future"] = func() sdk.Plugin {
		// A plugin built against a future SDK that speaks only protocol 99.
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  sdk.HandshakeConfig(),
			VersionedPlugins: map[int]plugin.PluginSet{99: {sdk.PluginName: futurePlugin{}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		os.Exit(0)
		return sdk.Plugin{}
	}
	return b
}

type futurePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (futurePlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (futurePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

// helperHostEnv makes the test binary act as a connector that starts the
// localfs plugin, prints the plugin's PID and waits to be killed.
const helperHostEnv = "PLUGINHOST_TEST_HELPER_HOST"

func runHelperHost() {
	exe, _ := os.Executable()
	h := New(Options{Executable: func() (string, error) { return exe, nil }, Builtins: testBuiltins()})
	if os.Getenv(helperHostEnv) == "parent-watch-only" {
		h.opts.noPdeathsig = true
	}
	p, err := h.Start(context.Background(), Spec{Name: "inbox", Builtin: localfs.Name})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(strconv.Itoa(p.PID()))
	time.Sleep(time.Hour)
}

// discardSink counts bytes and stores nothing: the transport alone.
type discardSink struct{}

func (discardSink) Open(context.Context, sdk.FileMeta) (sdk.SinkWriter, error) {
	return &discardWriter{}, nil
}

type discardWriter struct{ n int64 }

func (w *discardWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *discardWriter) Commit(context.Context) (sdk.ObjectRef, error) {
	return sdk.ObjectRef{Size: w.n}, nil
}
func (w *discardWriter) Abort(context.Context) error { return nil }
