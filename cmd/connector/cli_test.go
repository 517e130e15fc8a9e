package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

// connectorBin is the connector built once for the tests that run it as a user would.
var connectorBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "connector-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	connectorBin = filepath.Join(dir, "connector")
	out, err := exec.Command("go", "build", "-o", connectorBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building connector: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServe runs `connector serve` with args and waits until it listens.
func startServe(t *testing.T, dir string, port int, args ...string) *bytes.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args = append([]string{"serve", "--listen", "127.0.0.1:" + strconv.Itoa(port)}, args...)
	cmd := exec.CommandContext(ctx, connectorBin, args...)
	cmd.Dir = dir
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("serve log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return &logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not listen on %d", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runConnector runs the binary and returns its exit code and combined output.
func runConnector(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(connectorBin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestREADMEWalkthrough runs the README's command-line walkthrough literally (with the
// binary for "go run ./cmd/connector" and a free port instead of 3305).
func TestREADMEWalkthrough(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	begin := strings.Index(text, "<!-- walkthrough:begin -->")
	end := strings.Index(text, "<!-- walkthrough:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md has no walkthrough markers")
	}
	var cmds [][]string
	for _, line := range strings.Split(text[begin:end], "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "go run ./cmd/connector "); ok {
			cmds = append(cmds, strings.Fields(rest))
		}
	}
	if len(cmds) != 2 || cmds[0][0] != "serve" || cmds[1][0] != "send" {
		t.Fatalf("walkthrough should be serve then send, got %q", cmds)
	}
	dir := t.TempDir()
	payload := bytes.Repeat([]byte("ODETTE FTP README walkthrough\r\n"), 5000)
	if err := os.WriteFile(filepath.Join(dir, "README.md"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startServe(t, dir, port, cmds[0][1:]...)
	code, out := runConnector(t, dir, append(cmds[1], "--remote-port", strconv.Itoa(port))...)
	if code != exitOK {
		t.Fatalf("send exit %d:\n%s", code, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "inbox", "README.MD"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d octets, sent %d", len(got), len(payload))
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startServe(t, dir, port, "--ssid", "SERVER", "--password", "SRVPW", "--partner-ssid", "CLIENT", "--partner-password", "CLIPW", "--inbox", "in")
	base := []string{"send", "--remote-host", "127.0.0.1", "--remote-port", strconv.Itoa(port), "--ssid", "CLIENT", "--partner-ssid", "SERVER"}

	code, out := runConnector(t, dir, append(base, "--password", "WRONG", "a.txt")...)
	if code != exitRefused || !strings.Contains(out, "ESID 04") {
		t.Errorf("wrong password: exit %d, want %d with ESID 04:\n%s", code, exitRefused, out)
	}
	code, out = runConnector(t, dir, append(base[:len(base)-2], "--password", "CLIPW", "--partner-ssid", "SERVER", "--ssid", "NOBODY", "a.txt")...)
	if code != exitRefused || !strings.Contains(out, "ESID 03") {
		t.Errorf("unknown SSID: exit %d, want %d with ESID 03:\n%s", code, exitRefused, out)
	}
	code, out = runConnector(t, dir, "send", "--bogus")
	if code != exitUsage {
		t.Errorf("bad flag: exit %d, want %d:\n%s", code, exitUsage, out)
	}
	code, out = runConnector(t, dir, append(base, "--password", "CLIPW")...)
	if code != exitUsage || !strings.Contains(out, "no files") {
		t.Errorf("no files: exit %d, want %d:\n%s", code, exitUsage, out)
	}
	closed := freePort(t)
	code, out = runConnector(t, dir, "send", "--remote-host", "127.0.0.1", "--remote-port", strconv.Itoa(closed),
		"--ssid", "CLIENT", "--password", "CLIPW", "--partner-ssid", "SERVER", "a.txt")
	if code != exitFailure {
		t.Errorf("connection refused: exit %d, want %d:\n%s", code, exitFailure, out)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "in")); len(entries) != 0 {
		t.Errorf("refused sessions left files in the inbox: %v", entries)
	}
}

// TestMutualTLSSendAndReceive sends a file over mutual TLS and fetches another one the
// responder has queued, as the README describes.
func TestMutualTLSSendAndReceive(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, certtest.Options{CommonName: "Test Root"})
	server := ca.Issue(t, certtest.Options{CommonName: "localhost", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}})
	client := ca.Issue(t, certtest.Options{CommonName: "CLIENT"})
	srvCert, srvKey := server.WriteFiles(t, dir, "server")
	cliCert, cliKey := client.WriteFiles(t, dir, "client")
	caFile := filepath.Join(dir, "ca.pem")
	certtest.WriteFile(t, caFile, ca.CertPEM())

	outbox := filepath.Join(dir, "outbox")
	if err := os.MkdirAll(outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	sent := bytes.Repeat([]byte("TLS "), 100000)
	if err := os.WriteFile(filepath.Join(dir, "order.edi"), sent, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startServe(t, dir, port, "--ssid", "SERVER", "--password", "SRVPW", "--partner-ssid", "CLIENT", "--partner-password", "CLIPW",
		"--inbox", "inbox", "--outbox", "outbox", "--tls-cert", srvCert, "--tls-key", srvKey, "--client-ca", caFile)
	common := []string{"--remote-host", "127.0.0.1", "--remote-port", strconv.Itoa(port), "--tls", "--ca", caFile,
		"--ssid", "CLIENT", "--password", "CLIPW", "--partner-ssid", "SERVER", "--partner-password", "SRVPW"}

	// Without a client certificate the responder refuses the TLS handshake.
	code, out := runConnector(t, dir, append([]string{"send"}, append(common, "order.edi")...)...)
	if code != exitFailure {
		t.Fatalf("send without client certificate: exit %d, want %d:\n%s", code, exitFailure, out)
	}
	mtls := append(common, "--tls-cert", cliCert, "--tls-key", cliKey)
	code, out = runConnector(t, dir, append([]string{"send"}, append(mtls, "order.edi")...)...)
	if code != exitOK {
		t.Fatalf("send: exit %d:\n%s", code, out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "inbox", "ORDER.EDI")); err != nil || !bytes.Equal(got, sent) {
		t.Fatalf("inbox/ORDER.EDI: %v (len %d, want %d)", err, len(got), len(sent))
	}
	// A file queued on the responder's side is fetched with receive.
	queued := bytes.Repeat([]byte{0, 1, 2, 3, 0xff}, 40000)
	if err := os.WriteFile(filepath.Join(outbox, "queued.bin"), queued, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = runConnector(t, dir, append([]string{"receive", "--download-directory", "received"}, mtls...)...)
	if code != exitOK {
		t.Fatalf("receive: exit %d:\n%s", code, out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "received", "QUEUED.BIN")); err != nil || !bytes.Equal(got, queued) {
		t.Fatalf("received/QUEUED.BIN: %v (len %d, want %d)", err, len(got), len(queued))
	}
	if _, err := os.Stat(filepath.Join(outbox, "sent", "queued.bin")); err != nil {
		t.Errorf("queued file not moved to outbox/sent: %v", err)
	}
}

func TestCertInspect(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, certtest.Options{CommonName: "Inspect Root"})
	leaf := ca.Issue(t, certtest.Options{CommonName: "PARTNER", KeyType: certtest.RSA2048})
	certFile, _ := leaf.WriteFiles(t, dir, "partner")
	caFile := filepath.Join(dir, "ca.pem")
	certtest.WriteFile(t, caFile, ca.CertPEM())
	code, out := runConnector(t, dir, "cert", "inspect", "--trust", caFile, certFile)
	if code != exitOK || !strings.Contains(out, "PARTNER") || !strings.Contains(out, "SHA-256") {
		t.Fatalf("cert inspect: exit %d:\n%s", code, out)
	}
	code, out = runConnector(t, dir, "cert", "inspect", filepath.Join(dir, "missing.pem"))
	if code == exitOK {
		t.Fatalf("inspect of a missing file succeeded:\n%s", out)
	}
}

// TestSecuredTransferCLI sends a signed, compressed and encrypted file with a signed
// receipt and secure authentication between two connector processes.
func TestSecuredTransferCLI(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, certtest.Options{CommonName: "Security Root", KeyType: certtest.RSA2048})
	server := ca.Issue(t, certtest.Options{CommonName: "SERVER", KeyType: certtest.RSA2048})
	client := ca.Issue(t, certtest.Options{CommonName: "CLIENT", KeyType: certtest.RSA2048})
	srvCert, srvKey := server.WriteFiles(t, dir, "server")
	cliCert, cliKey := client.WriteFiles(t, dir, "client")
	payload := bytes.Repeat([]byte("UNB+UNOC:3+SENDER+RECEIVER'\r\n"), 20000)
	if err := os.WriteFile(filepath.Join(dir, "delfor.edi"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startServe(t, dir, port, "--ssid", "SERVER", "--password", "SRVPW", "--partner-ssid", "CLIENT", "--partner-password", "CLIPW",
		"--inbox", "inbox", "--security-cert", srvCert, "--security-key", srvKey, "--partner-cert", cliCert,
		"--secure-auth", "--require-signed", "--require-encrypted")
	args := []string{"send", "--remote-host", "127.0.0.1", "--remote-port", strconv.Itoa(port),
		"--ssid", "CLIENT", "--password", "CLIPW", "--partner-ssid", "SERVER", "--partner-password", "SRVPW",
		"--security-cert", cliCert, "--security-key", cliKey, "--partner-cert", srvCert, "--secure-auth",
		"--cipher-suite", "4", "--file-compression", "--signed-receipt"}

	// The responder refuses an unsigned, unencrypted file (SFNA 17 or 20).
	code, out := runConnector(t, dir, append(args, "delfor.edi")...)
	if code != exitRefused || !strings.Contains(out, "SFNA") {
		t.Fatalf("plain file to a responder requiring security: exit %d, want %d:\n%s", code, exitRefused, out)
	}
	code, out = runConnector(t, dir, append(args, "--security", "both", "delfor.edi")...)
	if code != exitOK {
		t.Fatalf("secured send: exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "EERP received") || !strings.Contains(out, "signed=true") {
		t.Errorf("no end response reported:\n%s", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "inbox", "DELFOR.EDI"))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("inbox/DELFOR.EDI: %v (len %d, want %d)", err, len(got), len(payload))
	}
}

// TestDemo runs the README's first quick-start command: two connectors from the embedded
// example exchange a file each way over OFTP/TLS through localfs plugin processes.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	code, out := runConnector(t, dir, "demo", "--once", "--dir", "demo",
		"--port-a", strconv.Itoa(freePort(t)), "--port-b", strconv.Itoa(freePort(t)))
	if code != exitOK {
		t.Fatalf("demo: exit %d:\n%s", code, out)
	}
	for _, p := range []string{"b/inbox/O0013EXAMPLEA/HELLO-FROM-A.TXT", "a/inbox/O0013EXAMPLEB/HELLO-FROM-B.TXT"} {
		data, err := os.ReadFile(filepath.Join(dir, "demo", p))
		if err != nil || !bytes.HasPrefix(data, []byte("Hello from partner")) {
			t.Errorf("%s: %v %q", p, err, data)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil || !strings.Contains(string(readme), "go run ./cmd/connector demo") {
		t.Errorf("README quick start does not show the demo command")
	}
}

// TestSendWithConfig calls a partner described in a configuration file, as
// `connector send --config CONFIG --partner NAME` does.
func TestSendWithConfig(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	startServe(t, dir, port, "--ssid", "SERVER", "--password", "SRVPW", "--partner-ssid", "CLIENT", "--partner-password", "CLIPW", "--inbox", "inbox")
	cfg := fmt.Sprintf(`
identity {
  ssid     = "CLIENT"
  password = "CLIPW"
}
partner "server" {
  ssid     = "SERVER"
  password = "SRVPW"
  address  = "127.0.0.1:%d"
  tls      = false
  credit   = 7
}
`, port)
	if err := os.WriteFile(filepath.Join(dir, "c.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("CONFIGURED "), 30000)
	if err := os.WriteFile(filepath.Join(dir, "orders.txt"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runConnector(t, dir, "send", "--config", "c.hcl", "--partner", "server", "--trail", "orders.txt")
	if code != exitOK {
		t.Fatalf("send --config: exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "credit=7") || !strings.Contains(out, "cmd=SSID") {
		t.Errorf("partner settings or PI trail missing from the log:\n%s", out)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "inbox", "ORDERS.TXT")); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("inbox/ORDERS.TXT: %v", err)
	}
	code, out = runConnector(t, dir, "send", "--config", "c.hcl", "--partner", "server", "--ssid", "OTHER", "orders.txt")
	if code != exitUsage || !strings.Contains(out, "--ssid") {
		t.Errorf("--ssid with --config: exit %d, want %d:\n%s", code, exitUsage, out)
	}
	code, out = runConnector(t, dir, "send", "--config", "c.hcl", "--partner", "nobody", "orders.txt")
	if code != exitUsage || !strings.Contains(out, "nobody") {
		t.Errorf("unknown partner: exit %d, want %d:\n%s", code, exitUsage, out)
	}
}
