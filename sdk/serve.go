package sdk

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Serve runs p as a plugin process: it answers the connector's handshake on
// stdout and then serves gRPC until the connector stops it. Serve exits the
// process when it returns. Plugins must not write to stdout; log to stderr
// with the logger from Logger.
//
// A plugin outlives a crashed connector by at most a second: Serve watches
// its parent process and exits when it is gone, after letting running
// Abort calls finish.
func Serve(p Plugin) {
	if err := p.validate(); err != nil {
		fmt.Fprintf(os.Stderr, "plugin %q: %v\n", p.Name, err)
		os.Exit(1)
	}
	srv := &server{p: p}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       p.Name,
		Level:      hclog.Info,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	if os.Getenv(DebugEnv) != "" {
		os.Unsetenv(DataPlaneEnv)
		serveDebug(srv, logger)
		return
	}
	dp, err := inboxFromEnv()
	if err != nil {
		// The gRPC chunk path still works; the connector sees no data plane.
		logger.Warn("data plane unavailable; file bytes travel over gRPC", "error", err)
	}
	srv.dp = dp
	stop := make(chan struct{})
	go watchParent(os.Getppid(), time.Second, stop, func() {
		// The connector is gone: give in-flight streams (which now see a
		// cancelled context and abort) a moment to clean up, then exit.
		done := make(chan struct{})
		go func() { srv.inflight.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(cleanupTimeout):
		}
		os.Exit(3)
	})
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  HandshakeConfig(),
		VersionedPlugins: servePluginSets(srv),
		GRPCServer:       newGRPCServer(srv),
		Logger:           logger,
	})
	close(stop)
}

// watchParent calls gone once the process's parent is no longer ppid (it
// died and the process was re-parented).
func watchParent(ppid int, every time.Duration, stop <-chan struct{}, gone func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if os.Getppid() != ppid {
				gone()
				return
			}
		}
	}
}

func (p Plugin) validate() error {
	if p.Name == "" {
		return fmt.Errorf("plugin has no name")
	}
	if p.Sink == nil && p.Source == nil && p.Keys == nil {
		return fmt.Errorf("plugin offers no capability (sink, source or keys)")
	}
	seen := map[string]bool{}
	for _, a := range p.Schema.Attributes {
		switch a.Type {
		case TypeString, TypeNumber, TypeBool, TypeListString, TypeMapString:
		default:
			return fmt.Errorf("attribute %q has unknown type %q", a.Name, a.Type)
		}
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("attribute name %q is empty or repeated", a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

// Logger returns a structured logger for plugin code. It writes JSON lines to
// w (os.Stderr when nil) in the format the connector's host parses, so the
// lines appear in the connector's log under the plugin's name.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	if w == nil {
		w = os.Stderr
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevel(a.Value.Any()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevel(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "info"
	}
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}

// RegisterServices registers p's gRPC services on s. Serve does this for a
// plugin process; tests use it to exercise the wire protocol in process.
func RegisterServices(s *grpc.Server, p Plugin) error {
	if err := p.validate(); err != nil {
		return err
	}
	(&server{p: p}).register(s)
	return nil
}

// NewGRPCServer returns a gRPC server with p's services, the options of
// GRPCServerOptions and the codec a plugin process uses, plus opts.
func NewGRPCServer(p Plugin, opts ...grpc.ServerOption) (*grpc.Server, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	srv := &server{p: p}
	g := newGRPCServer(srv)(opts)
	srv.register(g)
	return g, nil
}

// NewGRPCServerWithDataPlane is NewGRPCServer for a plugin served in this
// process that also receives pipes over d, as a plugin process does over
// the socket it inherited. Tests use it to exercise the data plane without
// a process; the server owns d's plugin end and stops using it when d is
// closed.
func NewGRPCServerWithDataPlane(p Plugin, d *DataPlane, opts ...grpc.ServerOption) (*grpc.Server, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	child := d.takeChild()
	if child == nil {
		return nil, fmt.Errorf("%w: the plugin end of the data plane was already handed out", ErrDataPlane)
	}
	dp, err := inboxFromFile(child)
	if err != nil {
		return nil, err
	}
	srv := &server{p: p, dp: dp}
	g := newGRPCServer(srv)(opts)
	srv.register(g)
	return g, nil
}
