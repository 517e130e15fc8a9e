// Package pluginhost runs the connector's plugins as separate processes over
// hashicorp/go-plugin (gRPC only, automatic mutual TLS, a handshake cookie,
// negotiated protocol version) and hands the rest of the connector plain
// sdk.Sink, sdk.Source and sdk.Keys values. A plugin that dies is restarted
// on the next call; its failures are *PluginError values.
package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/oftp2/connector/sdk"
)

// Spec says which plugin to run. Exactly one of Builtin, Path and Reattach
// is set.
type Spec struct {
	// Name is the plugin's name in the configuration, used in logs and errors.
	Name string
	// Builtin names a bundled plugin, served by the connector's own executable.
	Builtin string
	// Path is a third-party plugin executable, Args its arguments. A
	// relative Path is taken from Options.PluginDir.
	Path string
	Args []string
	// SHA256 is the hex checksum Path must have; required with Path.
	SHA256 string
	// Config is the plugin's configuration as JSON, sent after every start.
	Config []byte
	// Reattach attaches to a plugin a developer started in debug mode (see
	// sdk.DebugEnv) instead of starting a process. Such a plugin is not
	// restarted when it dies, and the connection has no TLS.
	Reattach *sdk.ReattachInfo
	// Env is added to the plugin's environment. Third-party plugins see only
	// a minimal environment (PATH, HOME, TMPDIR, LANG, TZ) plus Env and
	// Options.Env, so the connector's own secrets do not leak into them;
	// bundled plugins inherit the connector's environment.
	Env []string
}

// passedEnv lists the host variables third-party plugins inherit.
func passedEnv() []string { return []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} }

// Options configure a Host.
type Options struct {
	// Logger receives the host's and the plugins' log lines; nil discards.
	Logger *slog.Logger
	// Executable returns the program that serves bundled plugins when run as
	// "PROGRAM plugin serve NAME"; nil means os.Executable.
	Executable func() (string, error)
	// StartTimeout bounds a plugin's handshake; 0 means 20 seconds.
	StartTimeout time.Duration
	// Env is added to every plugin's environment, after the host's own.
	Env []string
	// PluginDir holds third-party plugin executables; relative Spec.Path
	// values name files in it.
	PluginDir string
	// Builtins are the plugins the executable serves itself; Spec.Builtin
	// must name one of them. The program that links them in supplies the
	// set, and serves the same set for "PROGRAM plugin serve NAME".
	Builtins Builtins
	// NoDataPlane keeps file bytes on the gRPC stream as chunk messages even
	// for plugins that can take them through pipes (see sdk.DataPlane).
	NoDataPlane bool

	// noPdeathsig leaves the plugin's own parent watch as the only guard
	// against orphans, so tests can check that guard alone.
	noPdeathsig bool
}

// Host starts and tracks plugins. Close stops them all.
type Host struct {
	opts Options

	mu      sync.Mutex
	plugins []*Plugin
	closed  bool
}

// New returns a Host.
func New(opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Executable == nil {
		opts.Executable = os.Executable
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 20 * time.Second
	}
	return &Host{opts: opts}
}

// Start launches the plugin, negotiates the protocol, asks it to describe
// itself and configures it with spec.Config.
func (h *Host) Start(ctx context.Context, spec Spec) (*Plugin, error) {
	if spec.Name == "" {
		spec.Name = spec.Builtin
	}
	set := 0
	for _, ok := range []bool{spec.Builtin != "", spec.Path != "", spec.Reattach != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return nil, &PluginError{Plugin: spec.Name, Op: "start", Err: errors.New("exactly one of a bundled plugin name, an executable path and reattach information is needed")}
	}
	if spec.Builtin != "" && h.opts.Builtins[spec.Builtin] == nil {
		return nil, &PluginError{Plugin: spec.Name, Op: "start", Err: fmt.Errorf("%w: %q (bundled: %v)", ErrUnknownBuiltin, spec.Builtin, h.opts.Builtins.Names())}
	}
	if spec.Path != "" {
		sum, err := hex.DecodeString(spec.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, &PluginError{Plugin: spec.Name, Op: "start", Err: fmt.Errorf("%w: configure the executable's SHA-256 as 64 hex digits (got %q)", ErrChecksum, spec.SHA256)}
		}
	}
	spec.Config = bytes.Clone(spec.Config)
	if spec.Path != "" && !filepath.IsAbs(spec.Path) {
		if h.opts.PluginDir == "" {
			return nil, &PluginError{Plugin: spec.Name, Op: "start", Err: fmt.Errorf("%w: relative executable path %q needs a plugin directory", ErrStart, spec.Path)}
		}
		clean := filepath.Clean(spec.Path)
		if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return nil, &PluginError{Plugin: spec.Name, Op: "start", Err: fmt.Errorf("%w: executable path %q leaves the plugin directory", ErrStart, spec.Path)}
		}
		spec.Path = filepath.Join(h.opts.PluginDir, clean)
	}
	p := &Plugin{host: h, spec: spec, log: h.opts.Logger.With("plugin", spec.Name)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, &PluginError{Plugin: spec.Name, Op: "start", Err: errors.New("plugin host is closed")}
	}
	h.plugins = append(h.plugins, p)
	h.mu.Unlock()
	if _, err := p.instance(ctx); err != nil {
		h.forget(p)
		return nil, err
	}
	return p, nil
}

// Builtins returns the bundled plugins the host can start (Options.Builtins).
func (h *Host) Builtins() Builtins { return h.opts.Builtins }

func (h *Host) forget(p *Plugin) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.plugins {
		if q == p {
			h.plugins = append(h.plugins[:i], h.plugins[i+1:]...)
			return
		}
	}
}

// Close stops every plugin the host started.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	ps := h.plugins
	h.plugins = nil
	h.mu.Unlock()
	for _, p := range ps {
		p.Close()
	}
	return nil
}

// Plugin is a running plugin; its process is replaced when it dies.
type Plugin struct {
	host *Host
	spec Spec
	log  *slog.Logger

	mu     sync.Mutex
	cur    *instance
	info   sdk.Info
	closed bool
}

// instance is one plugin process.
type instance struct {
	client *plugin.Client
	remote *sdk.RemotePlugin
	pid    int
	dp     *sdk.DataPlane // nil when file bytes travel as chunks
}

// stop kills the process and closes its data plane.
func (i *instance) stop() {
	i.client.Kill()
	if i.dp != nil {
		i.dp.Close()
	}
}

// Name returns the plugin's configured name.
func (p *Plugin) Name() string { return p.spec.Name }

// Info returns what the plugin said about itself at its last start.
func (p *Plugin) Info() sdk.Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info
}

// PID returns the process id of the current plugin process, 0 when none runs.
func (p *Plugin) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.client.Exited() {
		return 0
	}
	return p.cur.pid
}

// DataPlane reports whether the current process takes file bytes through
// pipes (sdk.DataPlane) rather than gRPC chunks.
func (p *Plugin) DataPlane() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur != nil && p.cur.dp != nil
}

// Close stops the plugin process.
func (p *Plugin) Close() {
	p.mu.Lock()
	p.closed = true
	cur := p.cur
	p.cur = nil
	p.mu.Unlock()
	if cur != nil {
		cur.stop()
	}
}

// instance returns the running process, starting one when there is none or
// the previous one died.
func (p *Plugin) instance(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, &PluginError{Plugin: p.spec.Name, Op: "start", Err: errors.New("plugin is closed")}
	}
	if p.cur != nil && !p.cur.client.Exited() {
		return p.cur, nil
	}
	if p.cur != nil {
		p.log.Warn("plugin process exited; starting a new one", "pid", p.cur.pid)
		p.cur.stop()
		p.cur = nil
	}
	inst, info, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.cur, p.info = inst, info
	return inst, nil
}

// start launches one process and brings it to the configured state.
func (p *Plugin) start(ctx context.Context) (*instance, sdk.Info, error) {
	began := time.Now()
	opts := p.host.opts
	if p.spec.Reattach != nil {
		return p.attach(ctx, began)
	}
	var cmd *exec.Cmd
	var secure *plugin.SecureConfig
	if p.spec.Builtin != "" {
		exe, err := opts.Executable()
		if err != nil {
			return nil, sdk.Info{}, &PluginError{Plugin: p.spec.Name, Op: "start", Err: fmt.Errorf("%w: locate the connector executable: %v", ErrStart, err)}
		}
		cmd = exec.Command(exe, "plugin", "serve", p.spec.Builtin)
	} else {
		sum, _ := hex.DecodeString(p.spec.SHA256)
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
		cmd = exec.Command(p.spec.Path, p.spec.Args...)
	}
	skipHostEnv := p.spec.Path != ""
	if skipHostEnv {
		for _, k := range passedEnv() {
			if v, ok := os.LookupEnv(k); ok {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
	}
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Env = append(cmd.Env, p.spec.Env...)
	if !opts.noPdeathsig {
		bindToParent(cmd)
	}
	// The data plane's socket is inherited like stdin; a plugin built with
	// an older SDK ignores it and Describe tells that.
	var dp *sdk.DataPlane
	if !opts.NoDataPlane {
		var err error
		if dp, err = sdk.NewDataPlane(); err != nil {
			p.log.Debug("no data plane; file bytes travel over gRPC", "error", err)
		} else {
			dp.Attach(cmd)
		}
	}

	stderr := &tailBuffer{max: 4 << 10}
	transport := sdk.NewHostTransport()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: transport.PluginSets,
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      skipHostEnv,
		GRPCDialOptions:  transport.DialOptions,
		StartTimeout:     opts.StartTimeout,
		Logger:           newSlogAdapter(p.log),
		Stderr:           stderr,
		SyncStdout: lineWriter(func(line string) {
			p.log.Warn("plugin wrote to stdout; plugins must log to stderr", "line", line)
		}),
		SyncStderr: lineWriter(func(line string) { logPluginLine(p.log, line) }),
	})
	fail := func(err error) (*instance, sdk.Info, error) {
		client.Kill()
		if dp != nil {
			dp.Close()
		}
		pe := &PluginError{Plugin: p.spec.Name, Op: "start", Err: err}
		var inner *PluginError
		if errors.As(err, &inner) {
			pe = inner
		}
		if tail := strings.TrimSpace(stderr.String()); tail != "" && pe.Stderr == "" {
			pe.Stderr = tail
		}
		return nil, sdk.Info{}, pe
	}
	rpc, err := client.Client()
	if dp != nil {
		dp.Started()
	}
	if err != nil {
		return fail(p.startError(err, cmd.Path))
	}
	return p.handshake(ctx, client, rpc, dp, began, fail)
}

// attach connects to a plugin running in debug mode.
func (p *Plugin) attach(ctx context.Context, began time.Time) (*instance, sdk.Info, error) {
	r := p.spec.Reattach
	fail := func(err error) (*instance, sdk.Info, error) {
		return nil, sdk.Info{}, &PluginError{Plugin: p.spec.Name, Op: "attach", Err: err}
	}
	transport := sdk.NewHostTransport()
	set, ok := transport.PluginSets[r.ProtocolVersion]
	if !ok {
		return fail(fmt.Errorf("%w: the plugin speaks protocol %d, the connector %d", ErrIncompatible, r.ProtocolVersion, sdk.ProtocolVersion))
	}
	var addr net.Addr
	var err error
	switch r.Network {
	case "unix":
		addr, err = net.ResolveUnixAddr("unix", r.Addr)
	case "tcp":
		addr, err = net.ResolveTCPAddr("tcp", r.Addr)
	default:
		err = fmt.Errorf("unknown network %q", r.Network)
	}
	if err != nil {
		return fail(err)
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		Reattach: &plugin.ReattachConfig{
			Protocol: plugin.ProtocolGRPC, ProtocolVersion: r.ProtocolVersion, Addr: addr, Pid: r.Pid, Test: true,
		},
		Plugins:          set,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCDialOptions:  transport.DialOptions,
		Logger:           newSlogAdapter(p.log),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return fail(fmt.Errorf("%w: %v", ErrStart, err))
	}
	return p.handshake(ctx, client, rpc, nil, began, func(err error) (*instance, sdk.Info, error) {
		client.Kill()
		var pe *PluginError
		if errors.As(err, &pe) {
			return nil, sdk.Info{}, pe
		}
		return fail(err)
	})
}

// handshake dispenses the plugin, describes and configures it.
func (p *Plugin) handshake(ctx context.Context, client *plugin.Client, rpc plugin.ClientProtocol, dp *sdk.DataPlane, began time.Time,
	fail func(error) (*instance, sdk.Info, error)) (*instance, sdk.Info, error) {
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrStart, err))
	}
	remote, ok := raw.(*sdk.RemotePlugin)
	if !ok {
		return fail(fmt.Errorf("%w: unexpected plugin client %T", ErrStart, raw))
	}
	if dp != nil {
		remote.OfferDataPlane(dp)
	}
	info, err := remote.Describe(ctx)
	if err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	if dp != nil && !remote.DataPlane() {
		dp.Close()
		dp = nil
	}
	if len(p.spec.Config) > 0 {
		if err := remote.Configure(ctx, p.spec.Config); err != nil {
			return fail(&PluginError{Plugin: p.spec.Name, Op: "configure", Err: err})
		}
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	p.log.Info("plugin started", "name", info.Name, "version", info.Version,
		"protocol", client.NegotiatedVersion(), "pid", pid, "data_plane", dp != nil, "start_ms", time.Since(began).Milliseconds())
	return &instance{client: client, remote: remote, pid: pid, dp: dp}, info, nil
}

// startError explains a failed handshake in the user's terms.
func (p *Plugin) startError(err error, path string) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		have, herr := fileChecksum(path)
		if herr != nil {
			have = "unreadable (" + herr.Error() + ")"
		}
		return fmt.Errorf("%w: %s has SHA-256 %s, the configuration pins %s", ErrChecksum, path, have, p.spec.SHA256)
	case strings.Contains(msg, "incompatible API version"), strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("%w: the connector speaks plugin protocol %d; rebuild the plugin with a matching SDK (%s)", ErrIncompatible, sdk.ProtocolVersion, msg)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		line, _, _ := strings.Cut(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n")
		if strings.TrimSpace(line) == "" {
			return fmt.Errorf("%w: the process exited without completing the handshake", ErrStart)
		}
		return fmt.Errorf("%w: it printed %q before the handshake", ErrStdout, line)
	case strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("%w: the process exited during the handshake", ErrStart)
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%w: no handshake within %v", ErrStart, p.host.opts.StartTimeout)
	}
	return fmt.Errorf("%w: %v", ErrStart, err)
}

// fault turns an error from a call on inst into a *PluginError. When the
// connection broke, it waits briefly for the process to be reaped so the
// error can say the plugin died, and makes sure the next call restarts it.
func (p *Plugin) fault(inst *instance, op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if !errors.Is(err, sdk.ErrConnection) {
			return &PluginError{Plugin: p.spec.Name, Op: op, Err: err}
		}
	}
	if !errors.Is(err, sdk.ErrConnection) && !inst.client.Exited() {
		return &PluginError{Plugin: p.spec.Name, Op: op, Err: err}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !inst.client.Exited() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if inst.client.Exited() {
		p.log.Error("plugin process died", "op", op, "pid", inst.pid, "error", err)
		return &PluginError{Plugin: p.spec.Name, Op: op, Err: fmt.Errorf("%w (pid %d): %v", ErrExited, inst.pid, err)}
	}
	// A live process we cannot talk to is of no use: replace it.
	p.log.Error("lost connection to plugin; stopping it", "op", op, "pid", inst.pid, "error", err)
	inst.client.Kill()
	return &PluginError{Plugin: p.spec.Name, Op: op, Err: err}
}

// Describe asks the running plugin to describe itself.
func (p *Plugin) Describe(ctx context.Context) (info sdk.Info, err error) {
	err = p.call(ctx, "describe", true, func(inst *instance) error {
		info, err = inst.remote.Describe(ctx)
		return err
	})
	return info, err
}

// Configure sends a new configuration and keeps it for later restarts.
// Errors naming an attribute are *sdk.ConfigError inside the *PluginError.
func (p *Plugin) Configure(ctx context.Context, configJSON []byte) error {
	inst, err := p.instance(ctx)
	if err != nil {
		return err
	}
	if err := inst.remote.Configure(ctx, configJSON); err != nil {
		return p.fault(inst, "configure", err)
	}
	p.mu.Lock()
	p.spec.Config = bytes.Clone(configJSON)
	p.mu.Unlock()
	return nil
}

func (p *Plugin) require(op string, has func(sdk.Capabilities) bool) error {
	if !has(p.Info().Capabilities) {
		return &PluginError{Plugin: p.spec.Name, Op: op, Err: ErrCapability}
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// logPluginLine logs a line the plugin wrote to its redirected stderr,
// keeping the level and message of hclog-style JSON lines.
func logPluginLine(l *slog.Logger, line string) {
	var entry map[string]any
	if json.Unmarshal([]byte(line), &entry) != nil {
		l.Info(line)
		return
	}
	msg, _ := entry["@message"].(string)
	level, _ := entry["@level"].(string)
	delete(entry, "@message")
	delete(entry, "@level")
	delete(entry, "@timestamp")
	args := make([]any, 0, 2*len(entry))
	for k, v := range entry {
		args = append(args, k, v)
	}
	args = maskArgs(args)
	switch level {
	case "trace", "debug":
		l.Debug(msg, args...)
	case "warn":
		l.Warn(msg, args...)
	case "error":
		l.Error(msg, args...)
	default:
		l.Info(msg, args...)
	}
}
