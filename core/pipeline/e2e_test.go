package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/transport"
	"github.com/oftp2/connector/core/pluginhost"
	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
)

// testBuiltins are the bundled plugins, as cmd/connector links them in.
func testBuiltins() pluginhost.Builtins { return pluginhost.Builtins{localfs.Name: localfs.New} }

// The test binary doubles as the connector executable: run as
// "TESTBINARY plugin serve NAME" it serves a bundled plugin in its own process, exactly
// as the connector re-executes itself.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "plugin" && os.Args[2] == "serve" {
		if err := testBuiltins().Serve(os.Args[3]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort returns a port on 127.0.0.1 that was free a moment ago. It is taken below
// the kernel's ephemeral range (32768 and up), so that outgoing connections of other
// tests cannot grab it before the listener binds.
func freePort(t testing.TB) int {
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

// pki is a test CA and a server certificate for 127.0.0.1, written to dir.
type pki struct {
	caFile, certFile, keyFile string
}

func newPKI(t testing.TB, dir string) pki {
	t.Helper()
	ca := certtest.NewCA(t, certtest.Options{CommonName: "Pipeline Test CA"})
	leaf := ca.Issue(t, certtest.Options{
		CommonName: "localhost", DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	certFile, keyFile := leaf.WriteFiles(t, dir, "server")
	caFile := filepath.Join(dir, "ca.pem")
	certtest.WriteFile(t, caFile, ca.CertPEM())
	return pki{caFile: caFile, certFile: certFile, keyFile: keyFile}
}

// nodeSpec describes one connector of a test: its identity, the one partner it knows,
// and where that partner listens.
type nodeSpec struct {
	name, ssid, password string
	port                 int
	peer                 string // partner label
	peerSSID, peerPW     string
	peerPort             int // 0: the partner only calls us
	extra                string
	identityExtra        string // added to the identity block
	peerExtra            string // added to the partner block
	poll                 string // outbound poll interval, default 1s
}

func (s nodeSpec) hcl(dir string, k pki) string {
	addr := ""
	if s.peerPort != 0 {
		addr = fmt.Sprintf("address = \"127.0.0.1:%d\"\n  ca_file = %q\n  server_name = \"localhost\"", s.peerPort, k.caFile)
	}
	return fmt.Sprintf(`
connector {
  state_dir = %[1]q
}
listener "main" {
  address = "127.0.0.1:%[2]d"
  tls {
    cert_file = %[3]q
    key_file  = %[4]q
  }
}
identity {
  ssid     = %[5]q
  password = %[6]q
  %[14]s
}
partner %[7]q {
  ssid     = %[8]q
  password = %[9]q
  tls      = true
  %[10]s
  %[15]s
}
plugin "inbox" {
  builtin = "localfs"
  config {
    path        = %[11]q
    create_dirs = true
  }
}
plugin "outbox" {
  builtin = "localfs"
  config {
    path        = %[12]q
    create_dirs = true
  }
}
inbound "all" {
  sink        = plugin.inbox
  object_name = "%%Originator%%/%%VirtualFileName%%"
}
outbound "out" {
  source  = plugin.outbox
  partner = partner.%[7]s
  poll    = %[16]q
  retry {
    max_attempts = 5
    backoff      = "1s"
    max_backoff  = "2s"
  }
}
%[13]s
`, filepath.Join(dir, "state"), s.port, k.certFile, k.keyFile, s.ssid, s.password, s.peer, s.peerSSID, s.peerPW,
		addr, filepath.Join(dir, "inbox"), filepath.Join(dir, "outbox"), s.extra, s.identityExtra, s.peerExtra, cmp.Or(s.poll, "1s"))
}

// node is one running connector: configuration, plugin processes, pipeline.
type node struct {
	dir  string
	cfg  *config.Config
	host *pluginhost.Host
	set  *PluginSet
	p    *Pipeline
	logs *syncBuffer
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

// nodeStart is one connector of startNodes.
type nodeStart struct {
	dir   string
	spec  nodeSpec
	tweak func(*Options)
}

func startNode(t *testing.T, dir string, spec nodeSpec, k pki, tweak func(*Options)) *node {
	t.Helper()
	return startNodes(t, k, nodeStart{dir, spec, tweak})[0]
}

// startNodes starts connectors; their plugin processes start concurrently, which is
// most of the time a start takes.
func startNodes(t *testing.T, k pki, starts ...nodeStart) []*node {
	t.Helper()
	ctx := context.Background()
	nodes := make([]*node, len(starts))
	diags := make([]hcl.Diagnostics, len(starts))
	var wg sync.WaitGroup
	for i, st := range starts {
		if err := os.MkdirAll(st.dir, 0o750); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(st.dir, "connector.hcl")
		if err := os.WriteFile(path, []byte(st.spec.hcl(st.dir, k)), 0o640); err != nil {
			t.Fatal(err)
		}
		cfg, d := config.Load(path, config.Options{})
		if d.HasErrors() {
			t.Fatalf("config: %v", d)
		}
		logs := &syncBuffer{}
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", st.spec.name)
		n := &node{dir: st.dir, cfg: cfg, host: pluginhost.New(pluginhost.Options{Logger: log, Builtins: testBuiltins()}), logs: logs}
		nodes[i] = n
		t.Cleanup(func() { n.host.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.set, diags[i] = StartPlugins(ctx, cfg, n.host)
		}()
	}
	wg.Wait()
	for i, st := range starts {
		n := nodes[i]
		if diags[i].HasErrors() {
			t.Fatalf("%s plugins: %v", st.spec.name, diags[i])
		}
		log := slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", st.spec.name)
		opts := Options{Config: n.cfg, Plugins: n.set, Logger: log, RetryInterval: 500 * time.Millisecond, ShutdownTimeout: 10 * time.Second}
		if st.tweak != nil {
			st.tweak(&opts)
		}
		p, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		n.p = p
		name := st.spec.name
		t.Cleanup(func() {
			if err := p.Shutdown(context.Background()); err != nil {
				t.Errorf("%s: shutdown: %v", name, err)
			}
			if t.Failed() {
				t.Logf("%s log:\n%s", name, n.logs.String())
			}
		})
	}
	return nodes
}

// drop puts a file into the node's outbox the way users should: written under a
// hidden name, then renamed, so that a half-written file is never listed.
func (n *node) drop(t testing.TB, name string, data []byte) {
	t.Helper()
	out := filepath.Join(n.dir, "outbox")
	tmp := filepath.Join(out, "."+name+".part")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(out, name)); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// visible lists the non-hidden regular files under dir, relative, without sidecars.
func visible(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && !strings.HasSuffix(d.Name(), ".json") {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func sameFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes (sha256 %x), want %d bytes (sha256 %x)", path, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// faultDialer drops the connection at the next write once armed: the partner has
// answered, but the session breaks before we can say anything more.
type faultDialer struct {
	armed atomic.Bool
	fired atomic.Bool
}

func (d *faultDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &faultConn{Conn: c, d: d}, nil
}

type faultConn struct {
	net.Conn
	d *faultDialer
}

func (c *faultConn) Write(p []byte) (int, error) {
	if c.d.armed.Load() && c.d.fired.CompareAndSwap(false, true) {
		c.Conn.Close()
		return 0, errors.New("test: connection dropped")
	}
	return c.Conn.Write(p)
}

// twoNodes starts A (sends) and B (receives), each knowing the other.
func twoNodes(t *testing.T, tweakA, tweakB func(*Options)) (a, b *node) {
	t.Helper()
	dir := t.TempDir()
	k := newPKI(t, dir)
	pa, pb := freePort(t), freePort(t)
	nodes := startNodes(t, k,
		nodeStart{filepath.Join(dir, "a"), nodeSpec{name: "A", ssid: "OACME", password: "PWA", port: pa,
			peer: "b", peerSSID: "OBETA", peerPW: "PWB", peerPort: pb}, tweakA},
		nodeStart{filepath.Join(dir, "b"), nodeSpec{name: "B", ssid: "OBETA", password: "PWB", port: pb,
			peer: "a", peerSSID: "OACME", peerPW: "PWA", peerPort: pa}, tweakB})
	a, b = nodes[0], nodes[1]
	return a, b
}

// Files pass both ways through real plugin processes over TLS, each is acknowledged by
// EERP and moved to sent/.
func TestEndToEndBothDirections(t *testing.T) {
	a, b := twoNodes(t, nil, nil)
	toB := pattern(3<<20+17, 1)
	toA := pattern(200<<10, 2)
	a.drop(t, "ORDERS.EDI", toB)
	b.drop(t, "INVOIC.EDI", toA)
	waitFor(t, "file at B", 30*time.Second, func() bool { return exists(filepath.Join(b.dir, "inbox/OACME/ORDERS.EDI")) })
	waitFor(t, "file at A", 30*time.Second, func() bool { return exists(filepath.Join(a.dir, "inbox/OBETA/INVOIC.EDI")) })
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/ORDERS.EDI"), toB)
	sameFile(t, filepath.Join(a.dir, "inbox/OBETA/INVOIC.EDI"), toA)
	waitFor(t, "A's EERP", 30*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/ORDERS.EDI")) })
	waitFor(t, "B's EERP", 30*time.Second, func() bool { return exists(filepath.Join(b.dir, "outbox/sent/INVOIC.EDI")) })
	for _, n := range []*node{a, b} {
		waitFor(t, "nothing owed or expected", 10*time.Second, func() bool {
			exp, _ := n.p.Store().ExpectedFiles(context.Background())
			return len(exp) == 0
		})
	}
	if got := visible(t, filepath.Join(b.dir, "inbox")); len(got) != 1 {
		t.Errorf("B's inbox holds %v, want one file", got)
	}
}

// The session breaks right after the partner's EFPA: the EERP stays owed at B and
// reaches A in a later session, which B opens.
func TestDeferredEERPInLaterSession(t *testing.T) {
	fd := &faultDialer{}
	var accepted atomic.Bool
	a, b := twoNodes(t, func(o *Options) {
		o.Dialer = fd
		o.Events.EndTransfer = func(r oftp.TransferResult) {
			if r.Direction == oftp.Outgoing && r.Err == nil {
				accepted.Store(true)
				fd.armed.Store(true)
			}
		}
	}, func(o *Options) {
		o.RetryInterval = time.Hour // B calls A only when the test says so
	})
	data := pattern(100<<10, 3)
	a.drop(t, "DELFOR.EDI", data)
	waitFor(t, "file at B", 30*time.Second, func() bool { return exists(filepath.Join(b.dir, "inbox/OACME/DELFOR.EDI")) })
	waitFor(t, "EFPA at A", 10*time.Second, accepted.Load)
	waitFor(t, "broken session", 10*time.Second, fd.fired.Load)
	ctx := context.Background()
	waitFor(t, "EERP owed at B", 10*time.Second, func() bool {
		owed, _ := b.p.Store().Owed(ctx, "a")
		return len(owed) == 1
	})
	if exists(filepath.Join(a.dir, "outbox/sent/DELFOR.EDI")) {
		t.Fatal("file acknowledged although no EERP was sent")
	}
	if err := b.p.CallPartner(ctx, "a"); err != nil {
		t.Fatalf("B calls A: %v", err)
	}
	waitFor(t, "A's EERP", 10*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/DELFOR.EDI")) })
	owed, _ := b.p.Store().Owed(ctx, "a")
	if len(owed) != 0 {
		t.Errorf("B still owes %d end responses", len(owed))
	}
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/DELFOR.EDI"), data)
}

// The sink plugin process is killed in the middle of a file: the partner gets EFNA
// (it may send again), nothing partial is visible, the plugin is restarted and the
// file arrives once.
func TestSinkPluginKilledMidFile(t *testing.T) {
	var refusal atomic.Pointer[oftp.ReasonError]
	var b *node
	var killed atomic.Bool
	a, bb := twoNodes(t, func(o *Options) {
		o.Events.EndTransfer = func(r oftp.TransferResult) {
			var re *oftp.ReasonError
			if r.Direction == oftp.Outgoing && errors.As(r.Err, &re) {
				refusal.Store(re)
			}
		}
	}, func(o *Options) {
		o.Events.Progress = func(info oftp.TransferInfo, octets int64) {
			if info.Direction == oftp.Incoming && octets > 1<<20 && killed.CompareAndSwap(false, true) {
				pid := b.set.Plugin("inbox").PID()
				if pid == 0 {
					panic("no inbox plugin process")
				}
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					panic(err)
				}
			}
		}
	})
	b = bb
	data := pattern(8<<20, 4)
	a.drop(t, "BIG.DAT", data)
	final := filepath.Join(b.dir, "inbox/OACME/BIG.DAT")
	waitFor(t, "file at B after the retry", 60*time.Second, func() bool { return exists(final) })
	if !killed.Load() {
		t.Fatal("the plugin was never killed")
	}
	re := refusal.Load()
	if re == nil || re.Cmd != "EFNA" || re.Code != oftp.ReasonAccessMethodFailure {
		t.Fatalf("A saw %v, want EFNA 12", re)
	}
	sameFile(t, final, data)
	waitFor(t, "A's EERP", 30*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/BIG.DAT")) })
	if got := visible(t, filepath.Join(b.dir, "inbox")); len(got) != 1 || got[0] != "OACME/BIG.DAT" {
		t.Errorf("B's inbox holds %v, want only OACME/BIG.DAT", got)
	}
}

// A file offered again with the same identity after it was committed is refused with
// SFNA 13 and stored once.
func TestDuplicateRefused(t *testing.T) {
	_, b := twoNodes(t, nil, nil)
	addr := b.p.Addrs()[0].String()
	opts := oftp.DefaultOptions()
	opts.SSIDCode, opts.Password = "OACME", "PWA"
	opts.PartnerSSIDCode, opts.PartnerPassword = "OBETA", "PWB"
	tlsCfg, err := (&transport.ClientTLS{ServerName: "localhost", RootFiles: []string{filepath.Join(filepath.Dir(b.dir), "ca.pem")}}).Config()
	if err != nil {
		t.Fatal(err)
	}
	opts.TLSConfig = tlsCfg
	ctx := context.Background()
	data := pattern(10<<10, 5)
	send := func() error {
		c, err := oftp.Dial(ctx, addr, opts)
		if err != nil {
			return err
		}
		defer c.Disconnect()
		f := &oftp.OutgoingFile{DatasetName: "DUP.TXT", Stamp: oftp.NewStamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 7),
			Source: oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })}
		_, err = c.SendFile(ctx, f)
		_ = c.Logoff(ctx)
		return err
	}
	if err := send(); err != nil {
		t.Fatalf("first send: %v", err)
	}
	err = send()
	var re *oftp.ReasonError
	if !errors.As(err, &re) || re.Cmd != "SFNA" || re.Code != oftp.ReasonDuplicateFile || re.Retry {
		t.Fatalf("second send: %v, want SFNA 13 without retry", err)
	}
	if got := visible(t, filepath.Join(b.dir, "inbox")); len(got) != 1 {
		t.Errorf("B's inbox holds %v, want one file", got)
	}
}

// A file the sink can never store (its object exists already) is refused for good:
// at SFID (SFNA 12 without retry) when the sink sees the clash at Open, or by EFNA and
// a NERP when it sees it at Commit. Either way the sender's source moves the file to
// failed/ with the reason, and the existing object is left alone.
func TestPermanentRefusalWhenObjectExists(t *testing.T) {
	a, b := twoNodes(t, nil, nil)
	existing := filepath.Join(b.dir, "inbox/OACME/CLASH.TXT")
	if err := os.MkdirAll(filepath.Dir(existing), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(existing, []byte("older file"), 0o640); err != nil {
		t.Fatal(err)
	}
	a.drop(t, "CLASH.TXT", []byte("newer file"))
	failed := filepath.Join(a.dir, "outbox/failed/CLASH.TXT")
	waitFor(t, "NERP moving the file to failed/", 30*time.Second, func() bool { return exists(failed) })
	reason, err := os.ReadFile(failed + ".reason.json")
	if err != nil {
		t.Fatal(err)
	}
	if !(strings.Contains(string(reason), `"Code": 12`) || strings.Contains(string(reason), `"Code": 22`)) ||
		!strings.Contains(string(reason), `"Permanent": true`) {
		t.Errorf("reason recorded: %s, want a permanent SFNA 12 or NERP 22", reason)
	}
	sameFile(t, existing, []byte("older file"))
}

// When the sink fails for good at Commit, the sender gets EFNA and then a NERP, which
// settles the file at its source (failed/ with NERP reason 22) and stops the retries.
func TestNERPAfterPermanentCommitFailure(t *testing.T) {
	var efna atomic.Int32
	a, _ := twoNodes(t, func(o *Options) {
		o.Events.EndTransfer = func(r oftp.TransferResult) {
			var re *oftp.ReasonError
			if r.Direction == oftp.Outgoing && errors.As(r.Err, &re) && re.Cmd == "EFNA" {
				efna.Add(1)
			}
		}
	}, func(o *Options) {
		o.Plugins = commitFailsPlugins{o.Plugins}
	})
	a.drop(t, "LATE.TXT", []byte("cannot be stored"))
	failed := filepath.Join(a.dir, "outbox/failed/LATE.TXT")
	waitFor(t, "NERP moving the file to failed/", 30*time.Second, func() bool { return exists(failed) })
	reason, err := os.ReadFile(failed + ".reason.json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reason), `"Code": 22`) {
		t.Errorf("reason recorded: %s, want NERP code 22", reason)
	}
	if n := efna.Load(); n < 1 {
		t.Errorf("sender saw %d EFNA, want at least 1", n)
	}
	time.Sleep(2500 * time.Millisecond) // longer than the retry backoff
	if n := efna.Load(); n > 2 {
		t.Errorf("sender kept retrying after the NERP: %d EFNA", n)
	}
}

type commitFailsPlugins struct{ Plugins }

func (c commitFailsPlugins) Sink(context.Context, string) (sdk.Sink, error) {
	return failingSink{}, nil
}

type failingSink struct{}

func (failingSink) Open(context.Context, sdk.FileMeta) (sdk.SinkWriter, error) {
	return &permanentCommit{}, nil
}

type permanentCommit struct{ memWriter }

func (p *permanentCommit) Commit(context.Context) (sdk.ObjectRef, error) {
	return sdk.ObjectRef{}, sdk.Permanent(fmt.Errorf("quota exceeded: %w", sdk.ErrExists))
}

// Shutdown in the middle of a transfer lets it finish within the shutdown timeout: the
// file arrives whole, and no new session starts afterwards.
func TestShutdownFinishesRunningTransfer(t *testing.T) {
	var a *node
	shutdownErr := make(chan error, 1)
	var once sync.Once
	aa, b := twoNodes(t, func(o *Options) {
		o.Events.Progress = func(info oftp.TransferInfo, octets int64) {
			if info.Direction == oftp.Outgoing && octets > 1<<20 {
				once.Do(func() { go func() { shutdownErr <- a.p.Shutdown(context.Background()) }() })
			}
		}
	}, nil)
	a = aa
	data := pattern(12<<20, 6)
	a.drop(t, "LARGE.DAT", data)
	select {
	case err := <-shutdownErr:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("shutdown did not return")
	}
	// Shutdown returned after the session ended: the file is complete at B.
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/LARGE.DAT"), data)
	a.drop(t, "AFTER.DAT", []byte("not sent: A is stopped"))
	time.Sleep(1500 * time.Millisecond)
	if exists(filepath.Join(b.dir, "inbox/OACME/AFTER.DAT")) {
		t.Error("a stopped connector still sent a file")
	}
}

// Files signed, compressed and encrypted with signed receipts travel both ways through
// the plugin processes; each side verifies with the other's certificate.
func TestEndToEndWithFileSecurity(t *testing.T) {
	dir := t.TempDir()
	k := newPKI(t, dir)
	ca := certtest.NewCA(t, certtest.Options{CommonName: "OFTP Test CA"})
	keyFiles := map[string][2]string{}
	for _, n := range []string{"a", "b"} {
		leaf := ca.Issue(t, certtest.Options{CommonName: "OFTP " + n, KeyType: certtest.RSA2048})
		c, kf := leaf.WriteFiles(t, dir, "oftp-"+n)
		keyFiles[n] = [2]string{c, kf}
	}
	sec := func(self, peer string) (string, string, string) {
		keys := fmt.Sprintf("keys \"own\" {\n  local {\n    cert_file = %q\n    key_file = %q\n  }\n}\n", keyFiles[self][0], keyFiles[self][1])
		partner := fmt.Sprintf(`security {
    level            = "both"
    cipher_suite     = "aes256-sha256"
    file_compression = true
    signed_receipts  = true
    certificate_file = %q
  }`, keyFiles[peer][0])
		return keys, "keys = keys.own", partner
	}
	pa, pb := freePort(t), freePort(t)
	tweak := func(o *Options) {
		s, err := SecurityFromConfig(o.Config, o.Logger, nil)
		if err != nil || s == nil {
			t.Fatalf("security: %v", err)
		}
		o.Security = s
	}
	ka, ia, sa := sec("a", "b")
	kb, ib, sb := sec("b", "a")
	a := startNode(t, filepath.Join(dir, "a"), nodeSpec{name: "A", ssid: "OACME", password: "PWA", port: pa,
		peer: "b", peerSSID: "OBETA", peerPW: "PWB", peerPort: pb, extra: ka, identityExtra: ia, peerExtra: sa}, k, tweak)
	b := startNode(t, filepath.Join(dir, "b"), nodeSpec{name: "B", ssid: "OBETA", password: "PWB", port: pb,
		peer: "a", peerSSID: "OACME", peerPW: "PWA", peerPort: pa, extra: kb, identityExtra: ib, peerExtra: sb}, k, tweak)
	toB := pattern(2<<20+5, 11)
	toA := []byte(strings.Repeat("UNH+1+INVOIC:D:96A:UN'\r\n", 3000))
	a.drop(t, "SECURE.EDI", toB)
	b.drop(t, "ANSWER.EDI", toA)
	waitFor(t, "A's EERP", 60*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/SECURE.EDI")) })
	waitFor(t, "B's EERP", 60*time.Second, func() bool { return exists(filepath.Join(b.dir, "outbox/sent/ANSWER.EDI")) })
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/SECURE.EDI"), toB)
	sameFile(t, filepath.Join(a.dir, "inbox/OBETA/ANSWER.EDI"), toA)
	meta, err := os.ReadFile(filepath.Join(b.dir, "inbox/OACME/SECURE.EDI.meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Encrypted": true`, `"Signed": true`, `"Compressed": true`, `"SignedReceiptRequested": true`} {
		if !strings.Contains(string(meta), want) {
			t.Errorf("sidecar lacks %s:\n%s", want, meta)
		}
	}
}

type unavailableSink struct {
	Plugins
	opens *atomic.Int32
}

func (u unavailableSink) Sink(context.Context, string) (sdk.Sink, error) { return u, nil }

func (u unavailableSink) Open(context.Context, sdk.FileMeta) (sdk.SinkWriter, error) {
	u.opens.Add(1)
	return nil, sdk.Retryable(errors.New("storage is down"))
}

// A temporary refusal (SFNA with retry) is retried with back-off up to max_attempts;
// then the source is told the file was not delivered.
func TestRetriesThenGivesUp(t *testing.T) {
	var opens atomic.Int32
	var refusals atomic.Int32
	a, _ := twoNodes(t, func(o *Options) {
		o.Events.EndTransfer = func(r oftp.TransferResult) {
			var re *oftp.ReasonError
			if r.Direction == oftp.Outgoing && errors.As(r.Err, &re) && re.Cmd == "SFNA" && re.Retry {
				refusals.Add(1)
			}
		}
	}, func(o *Options) {
		o.Plugins = unavailableSink{Plugins: o.Plugins, opens: &opens}
	})
	a.drop(t, "LATER.TXT", []byte("some day"))
	failed := filepath.Join(a.dir, "outbox/failed/LATER.TXT")
	waitFor(t, "the source told after the last attempt", 60*time.Second, func() bool { return exists(failed) })
	if n := refusals.Load(); n != 5 {
		t.Errorf("%d refusals with retry, want max_attempts = 5", n)
	}
	if n := opens.Load(); n != 5 {
		t.Errorf("sink opened %d times, want 5", n)
	}
	reason, _ := os.ReadFile(failed + ".reason.json")
	if !strings.Contains(string(reason), "gave up after 5 attempts") {
		t.Errorf("reason: %s", reason)
	}
}

// flakyStore fails CommitReceived once, as a crash right after the sink's commit would.
type flakyStore struct {
	Store
	fail atomic.Bool
}

func (f *flakyStore) CommitReceived(ctx context.Context, key FileKey, object string, owed Owed) error {
	if f.fail.CompareAndSwap(true, false) {
		return errors.New("test: state lost")
	}
	return f.Store.CommitReceived(ctx, key, object, owed)
}

// The sink committed a file but its record was lost (a crash in between): the sender's
// retry finds the object under the recorded name, gets SFNA 13, and the EERP follows.
// The file is stored once.
func TestCommitWithoutStateRecovers(t *testing.T) {
	a, b := twoNodes(t, nil, func(o *Options) {
		fs, err := OpenFileStore(o.Config.Connector.StateDir, FileStoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fs.Close() })
		st := &flakyStore{Store: fs}
		st.fail.Store(true)
		o.Store = st
	})
	data := pattern(300<<10, 8)
	a.drop(t, "ONCE.DAT", data)
	waitFor(t, "A's EERP", 30*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/ONCE.DAT")) })
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/ONCE.DAT"), data)
	if got := visible(t, filepath.Join(b.dir, "inbox")); len(got) != 1 {
		t.Errorf("B's inbox holds %v, want one file", got)
	}
	if !strings.Contains(b.logs.String(), "stored by an interrupted earlier attempt") {
		t.Error("the recovery path was not taken")
	}
}

// The source plugin process is killed while a file streams out of it: the session is
// interrupted, the plugin restarts and the file is sent again and arrives once.
func TestSourcePluginKilledMidFile(t *testing.T) {
	var killed atomic.Bool
	var a *node
	aa, b := twoNodes(t, func(o *Options) {
		o.Events.Progress = func(info oftp.TransferInfo, octets int64) {
			if info.Direction == oftp.Outgoing && octets > 1<<20 && killed.CompareAndSwap(false, true) {
				if pid := a.set.Plugin("outbox").PID(); pid != 0 {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}, nil)
	a = aa
	data := pattern(6<<20, 12)
	a.drop(t, "SRC.DAT", data)
	waitFor(t, "A's EERP after the retry", 60*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/SRC.DAT")) })
	if !killed.Load() {
		t.Fatal("the source plugin was never killed")
	}
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/SRC.DAT"), data)
	if !strings.Contains(a.logs.String(), "will retry") {
		t.Error("the first attempt did not fail; the kill came too late to test anything")
	}
	if got := visible(t, filepath.Join(b.dir, "inbox")); len(got) != 1 {
		t.Errorf("B's inbox holds %v, want one file", got)
	}
}

// A partner we cannot call collects its files itself: B calls A on its schedule, A's
// responder hands over the queued file, and B's EERP comes back for A's source.
func TestScheduledCallCollectsFiles(t *testing.T) {
	dir := t.TempDir()
	k := newPKI(t, dir)
	pa, pb := freePort(t), freePort(t)
	a := startNode(t, filepath.Join(dir, "a"), nodeSpec{name: "A", ssid: "OACME", password: "PWA", port: pa,
		peer: "b", peerSSID: "OBETA", peerPW: "PWB"}, k, nil) // no address: A never calls B
	b := startNode(t, filepath.Join(dir, "b"), nodeSpec{name: "B", ssid: "OBETA", password: "PWB", port: pb,
		peer: "a", peerSSID: "OACME", peerPW: "PWA", peerPort: pa, peerExtra: "schedule {\n    every = \"10s\"\n  }"}, k, nil)
	data := pattern(500<<10, 13)
	a.drop(t, "PICKUP.DAT", data)
	waitFor(t, "B's scheduled call collecting the file", 40*time.Second, func() bool {
		return exists(filepath.Join(b.dir, "inbox/OACME/PICKUP.DAT"))
	})
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/PICKUP.DAT"), data)
	waitFor(t, "A's EERP", 30*time.Second, func() bool { return exists(filepath.Join(a.dir, "outbox/sent/PICKUP.DAT")) })
}

// watchSource is an in-process source that lists nothing and pushes its one file
// through Watch, as a source with change notifications does.
type watchSource struct {
	file  sdk.OutgoingFile
	data  []byte
	push  chan struct{}
	acked chan string
}

func (w *watchSource) List(context.Context) ([]sdk.OutgoingFile, error) { return nil, nil }

func (w *watchSource) Open(_ context.Context, id string, offset int64) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(w.data[offset:])), nil
}

func (w *watchSource) Ack(_ context.Context, id string, _ sdk.Receipt) error {
	w.acked <- id
	return nil
}

func (w *watchSource) Nack(context.Context, string, sdk.NackReason) error { return nil }

func (w *watchSource) Watch(ctx context.Context, fn func(sdk.OutgoingFile) error) error {
	select {
	case <-w.push:
		if err := fn(w.file); err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ctx.Done()
	return ctx.Err()
}

type watchPlugins struct {
	Plugins
	src *watchSource
}

func (w watchPlugins) Source(_ context.Context, name string) (sdk.Source, error) { return w.src, nil }
func (w watchPlugins) CanWatch(string) bool                                      { return true }

// A source that can watch pushes its files: they are sent at once, not at the next poll
// (an hour away here), and acknowledged after the EERP.
func TestWatchingSourceSendsWithoutPolling(t *testing.T) {
	dir := t.TempDir()
	k := newPKI(t, dir)
	pa, pb := freePort(t), freePort(t)
	data := pattern(64<<10, 14)
	src := &watchSource{
		file:  sdk.OutgoingFile{ID: "pushed-1", Meta: sdk.FileMeta{DatasetName: "PUSHED.DAT", Size: int64(len(data)), DateTime: time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)}},
		data:  data,
		push:  make(chan struct{}),
		acked: make(chan string, 1),
	}
	nodes := startNodes(t, k,
		nodeStart{filepath.Join(dir, "a"), nodeSpec{name: "A", ssid: "OACME", password: "PWA", port: pa,
			peer: "b", peerSSID: "OBETA", peerPW: "PWB", peerPort: pb, poll: "1h"}, func(o *Options) {
			o.Plugins = watchPlugins{Plugins: o.Plugins, src: src}
		}},
		nodeStart{filepath.Join(dir, "b"), nodeSpec{name: "B", ssid: "OBETA", password: "PWB", port: pb,
			peer: "a", peerSSID: "OACME", peerPW: "PWA", peerPort: pa}, nil})
	b := nodes[1]
	close(src.push)
	select {
	case id := <-src.acked:
		if id != "pushed-1" {
			t.Fatalf("acknowledged %q", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pushed file was not sent and acknowledged")
	}
	sameFile(t, filepath.Join(b.dir, "inbox/OACME/PUSHED.DAT"), data)
}
