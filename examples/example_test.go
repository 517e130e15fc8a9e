package examples

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/pipeline"
	"github.com/oftp2/connector/core/pluginhost"
	"github.com/oftp2/connector/plugins/localfs/localfs"
)

// bundled are the plugins the connector binary links in.
func bundled() pluginhost.Builtins { return pluginhost.Builtins{localfs.Name: localfs.New} }

// The test binary doubles as the connector executable for bundled plugins, which the
// plugin host runs as "EXECUTABLE plugin serve NAME" in their own processes.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" {
		if err := bundled().Serve(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort picks a free port below the kernel's ephemeral range, so that outgoing
// connections of other tests cannot take it before the listener binds.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runSide runs one side of the example as `connector run -var side=SIDE` does, in
// this process, with its plugins in their own processes.
func runSide(t *testing.T, side string, vars map[string]string) {
	t.Helper()
	vars["side"] = side
	cfg, diags := config.Load("connector.hcl", config.Options{Vars: vars})
	if diags.HasErrors() {
		t.Fatalf("side %s: %v", side, diags)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil)).With("side", side)
	host := pluginhost.New(pluginhost.Options{Logger: log, Builtins: bundled()})
	ctx := context.Background()
	set, diags := pipeline.StartPlugins(ctx, cfg, host)
	if diags.HasErrors() {
		host.Close()
		t.Fatalf("side %s plugins: %v", side, diags)
	}
	p, err := pipeline.New(pipeline.Options{Config: cfg, Plugins: set, Logger: log, ShutdownTimeout: 10 * time.Second})
	if err != nil {
		host.Close()
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		host.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(context.Background()); err != nil {
			t.Errorf("side %s shutdown: %v", side, err)
		}
		host.Close()
		if t.Failed() {
			t.Logf("side %s log:\n%s", side, logs.String())
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExampleConfiguration runs examples/connector.hcl exactly as shipped (ports moved
// to free ones): a file dropped into a/outbox lands in b/inbox and, after b's EERP,
// moves to a/outbox/sent; and the other way round.
func TestExampleConfiguration(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"connector.hcl", "tls/EXAMPLE-ca.pem", "tls/EXAMPLE-server.pem", "tls/EXAMPLE-server.key"} {
		copyFile(t, f, filepath.Join(dir, f))
	}
	t.Chdir(dir)
	vars := func() map[string]string { return map[string]string{} }
	pa, pb := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	a, b := vars(), vars()
	for _, v := range []map[string]string{a, b} {
		v["port_a"], v["port_b"] = pa, pb
	}
	runSide(t, "a", a)
	runSide(t, "b", b)

	hello := []byte("UNB+UNOC:3+O0013EXAMPLEA+O0013EXAMPLEB'\r\nUNZ+1+1'\r\n")
	drop := func(side, name string, data []byte) {
		tmp := filepath.Join(side, "outbox", "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(side, "outbox", name)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "outboxes", func() bool {
		_, ea := os.Stat("a/outbox")
		_, eb := os.Stat("b/outbox")
		return ea == nil && eb == nil
	})
	drop("a", "HELLO.EDI", hello)
	drop("b", "REPLY.EDI", []byte("thanks\n"))

	waitFor(t, "HELLO.EDI in b/inbox", func() bool { _, err := os.Stat("b/inbox/O0013EXAMPLEA/HELLO.EDI"); return err == nil })
	got, err := os.ReadFile("b/inbox/O0013EXAMPLEA/HELLO.EDI")
	if err != nil || !bytes.Equal(got, hello) {
		t.Fatalf("b/inbox/O0013EXAMPLEA/HELLO.EDI = %q, %v; want %q", got, err, hello)
	}
	waitFor(t, "EERP moving a/outbox/HELLO.EDI to sent", func() bool { _, err := os.Stat("a/outbox/sent/HELLO.EDI"); return err == nil })
	waitFor(t, "REPLY.EDI in a/inbox", func() bool { _, err := os.Stat("a/inbox/O0013EXAMPLEB/REPLY.EDI"); return err == nil })
	waitFor(t, "EERP moving b/outbox/REPLY.EDI to sent", func() bool { _, err := os.Stat("b/outbox/sent/REPLY.EDI"); return err == nil })
	if _, err := os.Stat("a/outbox/HELLO.EDI"); err == nil {
		t.Error("a/outbox/HELLO.EDI is still waiting after its EERP")
	}
}
