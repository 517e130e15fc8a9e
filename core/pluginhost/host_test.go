package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
	"github.com/oftp2/connector/sdk/sdktest"
)

// testHost returns a Host whose bundled plugins are served by this test
// binary, logging into the returned buffer.
func testHost(t testing.TB) (*Host, *syncBuffer) {
	t.Helper()
	return testHostWith(t, Options{})
}

// testHostWith is testHost with opts (Logger, Executable and Builtins are
// set here).
func testHostWith(t testing.TB, opts Options) (*Host, *syncBuffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts.Executable = func() (string, error) { return exe, nil }
	opts.Builtins = testBuiltins()
	h := New(opts)
	t.Cleanup(func() { h.Close() })
	return h, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func dirConfig(t testing.TB, dir string, extra ...any) []byte {
	m := map[string]any{"path": dir}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// localfsBinary builds plugins/localfs once per test run.
func localfsBinary(t testing.TB) (path, sum string) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pluginhost-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "localfs")
		out, err := exec.Command("go", "build", "-o", builtBin, "github.com/oftp2/connector/plugins/localfs").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin, fileSHA256(t, builtBin)
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fetcher(dir string) func(context.Context, string) (io.ReadCloser, error) {
	return func(_ context.Context, name string) (io.ReadCloser, error) {
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", name, sdk.ErrNotFound)
		}
		return f, err
	}
}

// visibleFiles lists the non-hidden files under dir.
func visibleFiles(t testing.TB, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestExternalPluginEndToEnd(t *testing.T) {
	bin, sum := localfsBinary(t)
	h, logs := testHost(t)
	inbox := t.TempDir()
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "inbox", Path: bin, SHA256: sum, Config: dirConfig(t, inbox)})
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info()
	if info.Name != localfs.Name || !info.Capabilities.Sink || !info.Capabilities.Source {
		t.Errorf("Info = %+v", info)
	}
	if len(info.Schema.Attributes) == 0 || info.Schema.Attributes[0].Name != "path" || !info.Schema.Attributes[0].Required {
		t.Errorf("schema = %+v", info.Schema)
	}

	const size = 64 << 20
	meta := sdk.FileMeta{Partner: "acme", DatasetName: "INVOICES", Originator: "O0013000000ACME", ObjectName: "acme/INVOICES.bin", Format: sdk.FormatUnstructured}
	w, err := p.Sink().Open(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, sdktest.DataReader(42, size)); err != nil {
		t.Fatal(err)
	}
	ref, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := sdktest.Digest(42, size)
	if ref.Size != size || ref.SHA256Hex != want {
		t.Errorf("ref = %+v, want size %d digest %s", ref, size, want)
	}
	if got := fileSHA256(t, filepath.Join(inbox, "acme", "INVOICES.bin")); got != want {
		t.Errorf("stored file digest %s, want %s", got, want)
	}
	side, err := os.ReadFile(filepath.Join(inbox, "acme", "INVOICES.bin"+localfs.SidecarSuffix))
	if err != nil || !bytes.Contains(side, []byte(`"DatasetName": "INVOICES"`)) {
		t.Errorf("sidecar %s, %v", side, err)
	}
	if !strings.Contains(logs.String(), `"plugin":"inbox"`) || !strings.Contains(logs.String(), "plugin started") {
		t.Errorf("host log lacks the plugin start line:\n%s", logs)
	}

	// The whole conformance suite through the host's wrappers, on the data
	// plane and on gRPC chunks.
	if !p.DataPlane() {
		t.Error("the plugin process did not take the data plane")
	}
	sdktest.RunSink(t, sdktest.SinkConfig{Sink: p.Sink(), Fetch: fetcher(inbox), LargeSize: 16 << 20})
	hc, _ := testHostWith(t, Options{NoDataPlane: true})
	chunks := t.TempDir()
	pc, err := hc.Start(ctx, Spec{Name: "inbox", Path: bin, SHA256: sum, Config: dirConfig(t, chunks)})
	if err != nil {
		t.Fatal(err)
	}
	if pc.DataPlane() {
		t.Error("data plane in use despite NoDataPlane")
	}
	sdktest.RunSink(t, sdktest.SinkConfig{Sink: pc.Sink(), Fetch: fetcher(chunks), LargeSize: 16 << 20})
}

func TestBuiltinPluginServedByOwnExecutable(t *testing.T) {
	h, _ := testHost(t)
	outbox := t.TempDir()
	if err := os.WriteFile(filepath.Join(outbox, "ORDERS.edi"), []byte("UNA:+.? '"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "outbox", Builtin: localfs.Name, Config: dirConfig(t, outbox)})
	if err != nil {
		t.Fatal(err)
	}
	files, err := p.Source().List(ctx)
	if err != nil || len(files) != 1 || files[0].ID != "ORDERS.edi" {
		t.Fatalf("List = %+v, %v", files, err)
	}
	if err := p.Source().Ack(ctx, "ORDERS.edi", sdk.Receipt{Reason: "EERP"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(outbox, localfs.SentDir, "ORDERS.edi")); err != nil {
		t.Errorf("acknowledged file not in sent/: %v", err)
	}
	// No keys capability: a clear, permanent error.
	_, err = p.Keys().Certificate(ctx, "k")
	if !errors.Is(err, ErrCapability) || !sdk.IsPermanent(err) || !strings.Contains(err.Error(), `"outbox"`) {
		t.Errorf("Keys on a sink/source plugin: %v", err)
	}
}

func TestPluginKilledMidFile(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testPluginKilledMidFile(t, tr.opts) })
	}
}

func testPluginKilledMidFile(t *testing.T, opts Options) {
	h, logs := testHostWith(t, opts)
	inbox := t.TempDir()
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "inbox", Builtin: localfs.Name, Config: dirConfig(t, inbox)})
	if err != nil {
		t.Fatal(err)
	}
	if p.DataPlane() == opts.NoDataPlane {
		t.Fatalf("DataPlane() = %v with NoDataPlane %v", p.DataPlane(), opts.NoDataPlane)
	}
	meta := sdk.FileMeta{ObjectName: "big.bin"}
	w, err := p.Sink().Open(ctx, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, sdktest.DataReader(1, 8<<20)); err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if pid == 0 {
		t.Fatal("no plugin PID")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Keep writing until the loss shows up; gRPC may buffer a little.
	var werr error
	chunk := make([]byte, 1<<20)
	for i := 0; i < 4096 && werr == nil; i++ {
		_, werr = w.Write(chunk)
	}
	if werr == nil {
		_, werr = w.Commit(ctx)
	}
	var pe *PluginError
	if !errors.As(werr, &pe) || pe.Plugin != "inbox" || !errors.Is(werr, ErrExited) {
		t.Fatalf("write after the plugin died: %v, want a *PluginError matching ErrExited", werr)
	}
	if !sdk.IsRetryable(werr) {
		t.Errorf("plugin death %v does not advise a retry", werr)
	}
	if _, err := w.Commit(ctx); err == nil {
		t.Error("Commit after the plugin died succeeded")
	}
	if names := visibleFiles(t, inbox); len(names) != 0 {
		t.Errorf("partial files visible after the crash: %v", names)
	}

	// The next Open runs on a fresh process and succeeds.
	w, err = p.Sink().Open(ctx, meta)
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	if _, err := io.Copy(w, sdktest.DataReader(2, 3<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if np := p.PID(); np == pid || np == 0 {
		t.Errorf("PID after restart = %d, before %d", np, pid)
	}
	if got := fileSHA256(t, filepath.Join(inbox, "big.bin")); got != sdktest.Digest(2, 3<<20) {
		t.Error("file written after the restart differs")
	}
	if !strings.Contains(logs.String(), "plugin process died") {
		t.Errorf("host log does not mention the death:\n%s", logs)
	}
}

func TestSourceRestartsAfterCrash(t *testing.T) {
	h, _ := testHost(t)
	outbox := t.TempDir()
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "outbox", Builtin: localfs.Name, Config: dirConfig(t, outbox)})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// List has no side effects: it runs on a fresh process without an error.
	files, err := p.Source().List(ctx)
	if err != nil || len(files) != 0 {
		t.Fatalf("List after the crash = %v, %v", files, err)
	}
	// Ack may have been applied before a crash: its failure is reported.
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for alive(pid) {
		time.Sleep(10 * time.Millisecond)
	}
	// Give go-plugin a moment to reap the process; either way the Ack must
	// not report success for a file that does not exist.
	err = p.Source().Ack(ctx, "nothing", sdk.Receipt{})
	if err == nil {
		t.Fatal("Ack of an unknown file on a dead plugin succeeded")
	}
	if !errors.Is(err, ErrExited) && !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("Ack on a dead plugin: %v", err)
	}
}

func TestWrongChecksum(t *testing.T) {
	bin, sum := localfsBinary(t)
	h, _ := testHost(t)
	wrong := strings.Repeat("ab", 32)
	_, err := h.Start(context.Background(), Spec{Name: "partner-s3", Path: bin, SHA256: wrong, Config: dirConfig(t, t.TempDir())})
	if !errors.Is(err, ErrChecksum) || !sdk.IsPermanent(err) {
		t.Fatalf("Start with a wrong checksum: %v", err)
	}
	for _, s := range []string{`"partner-s3"`, sum, wrong} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	_, err = h.Start(context.Background(), Spec{Name: "unpinned", Path: bin})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), `"unpinned"`) {
		t.Errorf("Start without a checksum: %v", err)
	}
}

func TestIncompatibleProtocol(t *testing.T) {
	h, _ := testHost(t)
	_, err := h.Start(context.Background(), Spec{Name: "newer", Builtin: "future"})
	if !errors.Is(err, ErrIncompatible) || !sdk.IsPermanent(err) || !strings.Contains(err.Error(), `"newer"`) {
		t.Fatalf("Start of a protocol-99 plugin: %v", err)
	}
	if !strings.Contains(err.Error(), "99") {
		t.Errorf("error does not name the plugin's version: %v", err)
	}
}

func TestConfigErrorNamesAttribute(t *testing.T) {
	h, _ := testHost(t)
	ctx := context.Background()
	for _, tc := range []struct {
		config []byte
		attr   string
	}{
		{dirConfig(t, filepath.Join(t.TempDir(), "missing")), "path"},
		{dirConfig(t, t.TempDir(), "permissions", "rwx"), "permissions"},
		{dirConfig(t, t.TempDir(), "create_dirs", "yes"), "create_dirs"},
		{dirConfig(t, t.TempDir(), "bucket", "x"), "bucket"},
	} {
		_, err := h.Start(ctx, Spec{Name: "inbox", Builtin: localfs.Name, Config: tc.config})
		var ce *sdk.ConfigError
		if !errors.As(err, &ce) || ce.Attribute != tc.attr {
			t.Errorf("config %s: %v, want a *sdk.ConfigError for %q", tc.config, err, tc.attr)
			continue
		}
		var pe *PluginError
		if !errors.As(err, &pe) || pe.Op != "configure" || !strings.Contains(err.Error(), `"inbox"`) || !sdk.IsPermanent(err) {
			t.Errorf("config %s: %v, want a permanent configure *PluginError naming the plugin", tc.config, err)
		}
	}
	// Reconfiguring a running plugin reports the same way.
	p, err := h.Start(ctx, Spec{Name: "inbox", Builtin: localfs.Name, Config: dirConfig(t, t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Configure(ctx, []byte(`{"path": ""}`))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || ce.Attribute != "path" {
		t.Errorf("Configure: %v", err)
	}
}

func TestPluginWritingToStdout(t *testing.T) {
	h, _ := testHost(t)
	_, err := h.Start(context.Background(), Spec{Name: "noisy", Builtin: "stdout"})
	if !errors.Is(err, ErrStdout) || !strings.Contains(err.Error(), `"noisy"`) || !strings.Contains(err.Error(), "starting my plugin v1.0") {
		t.Fatalf("Start of a plugin printing to stdout: %v", err)
	}
}

func TestPluginFailingToStart(t *testing.T) {
	h, _ := testHost(t)
	_, err := h.Start(context.Background(), Spec{Name: "broken", Builtin: "crash"})
	if !errors.Is(err, ErrStart) || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("Start of a crashing plugin: %v", err)
	}
	if !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("error does not show the plugin's stderr: %v", err)
	}
	_, err = h.Start(context.Background(), Spec{Name: "typo", Builtin: "no-such-plugin"})
	if !errors.Is(err, ErrUnknownBuiltin) || !sdk.IsPermanent(err) || !strings.Contains(err.Error(), localfs.Name) {
		t.Errorf("Start of an unknown bundled plugin: %v, want ErrUnknownBuiltin listing the bundled ones", err)
	}
	// A host that believes in a plugin its executable does not serve: the
	// process fails its handshake.
	exe, _ := os.Executable()
	ghost := New(Options{Executable: func() (string, error) { return exe, nil }, Builtins: Builtins{"ghost": localfs.New}})
	defer ghost.Close()
	if _, err := ghost.Start(context.Background(), Spec{Name: "ghost", Builtin: "ghost"}); !errors.Is(err, ErrStart) {
		t.Errorf("Start of a bundled plugin the executable does not serve: %v", err)
	}
	if err := testBuiltins().Serve("no-such-plugin"); !errors.Is(err, ErrUnknownBuiltin) {
		t.Errorf("Serve of an unknown bundled plugin: %v", err)
	}
}

func TestPluginLogsReachHostLogger(t *testing.T) {
	h, logs := testHost(t)
	if _, err := h.Start(context.Background(), Spec{Name: "talker", Builtin: "chatty", Config: dirConfig(t, t.TempDir())}); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "hello from the plugin") {
			found = true
			if !strings.Contains(line, `"plugin":"talker"`) {
				t.Errorf("plugin log line without the plugin's name: %s", line)
			}
			if strings.Contains(line, "hunter2") {
				t.Errorf("secret not masked: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("plugin log line missing from host log:\n%s", logs)
	}
	// Output on stdout after the handshake is logged as a warning.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "plugin wrote to stdout") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "plugin wrote to stdout") {
			if !strings.Contains(line, `"plugin":"talker"`) || !strings.Contains(line, "configured with") || !strings.Contains(line, `"level":"WARN"`) {
				t.Errorf("stdout warning: %s", line)
			}
			return
		}
	}
	t.Errorf("no warning about stdout output:\n%s", logs)
}

func TestNoOrphanAfterHostKilled(t *testing.T) {
	for _, mode := range []string{"pdeathsig", "parent-watch-only"} {
		t.Run(mode, func(t *testing.T) {
			exe, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), helperHostEnv+"="+mode)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				_ = cmd.Process.Kill()
				t.Fatalf("helper host: %v", err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil || pid <= 0 {
				_ = cmd.Process.Kill()
				t.Fatalf("helper host printed %q", line)
			}
			if !alive(pid) {
				t.Fatalf("plugin %d not running before the host was killed", pid)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			deadline := time.Now().Add(15 * time.Second)
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if alive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("plugin process %d outlived its SIGKILLed host", pid)
			}
		})
	}
}

// alive reports whether pid runs (a zombie awaiting its reaper counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func TestThirdPartyPluginsDoNotInheritEnvironment(t *testing.T) {
	t.Setenv("PLUGINHOST_TEST_SECRET", "s3cr3t")
	h, _ := testHost(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ext, err := h.Start(ctx, Spec{Name: "probe", Path: exe, Args: []string{"plugin", "serve", "envprobe"}, SHA256: fileSHA256(t, exe), Env: []string{"PLUGIN_EXTRA=given"}})
	if err != nil {
		t.Fatal(err)
	}
	if v := ext.Info().Version; v != "|given" {
		t.Errorf("third-party plugin environment: %q, want only the variables given to it", v)
	}
	builtin, err := h.Start(ctx, Spec{Name: "probe2", Builtin: "envprobe"})
	if err != nil {
		t.Fatal(err)
	}
	if v := builtin.Info().Version; v != "s3cr3t|" {
		t.Errorf("bundled plugin environment: %q, want the connector's", v)
	}
}

func TestAttachToDebugModePlugin(t *testing.T) {
	bin, _ := localfsBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), sdk.DebugEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		_ = cmd.Wait()
	}()
	var info *sdk.ReattachInfo
	sc := bufio.NewScanner(stderr)
	for info == nil && sc.Scan() {
		if strings.HasPrefix(sc.Text(), `{"network"`) {
			if info, err = sdk.ParseReattachInfo(sc.Text()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if info == nil {
		t.Fatalf("debug-mode plugin printed no reattach information: %v", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	h, _ := testHost(t)
	inbox := t.TempDir()
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "dev", Reattach: info, Config: dirConfig(t, inbox)})
	if err != nil {
		t.Fatal(err)
	}
	if p.PID() != cmd.Process.Pid {
		t.Errorf("attached to PID %d, plugin runs as %d", p.PID(), cmd.Process.Pid)
	}
	w, err := p.Sink().Open(ctx, sdk.FileMeta{ObjectName: "debug.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "attached"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(inbox, "debug.txt")); err != nil || string(b) != "attached" {
		t.Errorf("stored %q, %v", b, err)
	}
	if _, err := sdk.ParseReattachInfo(`{"network":"unix"}`); err == nil {
		t.Error("incomplete reattach information accepted")
	}
}

func TestPluginDirectory(t *testing.T) {
	bin, sum := localfsBinary(t)
	dir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "localfs"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Name != "localfs" || found[0].SHA256 != sum {
		t.Fatalf("Discover = %+v", found)
	}
	exe, _ := os.Executable()
	h := New(Options{PluginDir: dir, Executable: func() (string, error) { return exe, nil }})
	defer h.Close()
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "inbox", Path: "localfs", SHA256: sum, Config: dirConfig(t, t.TempDir())})
	if err != nil {
		t.Fatal(err)
	}
	if p.Info().Name != localfs.Name {
		t.Errorf("Info = %+v", p.Info())
	}
	if _, err := h.Start(ctx, Spec{Name: "escape", Path: "../localfs", SHA256: sum}); !errors.Is(err, ErrStart) {
		t.Errorf("path leaving the plugin directory: %v", err)
	}
}
