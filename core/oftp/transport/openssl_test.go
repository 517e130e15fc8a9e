package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/transport"
)

// OpenSSL is an independent TLS implementation: these tests show that our
// configurations interoperate with it, and refuse what they should refuse
// from a client we did not write. OpenSSL checks certificates against the
// real clock, so this PKI is not pinned to a fixed time.

type realPKI struct {
	dir                   string
	caFile                string
	clientCert, clientKey string
	trust                 *certs.TrustStore
	server                *certtest.Leaf
	client                *certtest.Leaf
}

func newRealPKI(t *testing.T) *realPKI {
	t.Helper()
	ca := certtest.NewCA(t, certtest.Options{CommonName: "Interop CA"})
	p := &realPKI{dir: t.TempDir()}
	p.server = ca.Issue(t, certtest.Options{DNSNames: []string{"oftp.example.com"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	p.client = ca.Issue(t, certtest.Options{CommonName: "O0013000OPENSSL", KeyType: certtest.RSA2048,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	p.caFile = filepath.Join(p.dir, "ca.pem")
	certtest.WriteFile(t, p.caFile, ca.CertPEM())
	p.clientCert, p.clientKey = p.client.WriteFiles(t, p.dir, "client")
	p.trust = certs.NewTrustStore(certs.TrustOptions{})
	p.trust.AddRoots(ca.Cert)
	return p
}

// sClient runs openssl s_client against addr and returns the first line the
// server sent, or the tool's output and error if the handshake failed.
func sClient(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	openssl := requireTool(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, append([]string{"s_client", "-connect", addr, "-quiet", "-verify_return_error"}, args...)...)
	stdin, err := cmd.StdinPipe() // held open: s_client must not quit before reading
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, rerr := bufio.NewReader(stdout).ReadString('\n')
	if rerr == nil {
		cmd.Process.Kill()
		cmd.Wait()
		return strings.TrimSpace(line), nil
	}
	werr := cmd.Wait()
	return "", errors.Join(werr, errors.New(stderr.String()))
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (scripts/deps.d installs it): %v", name, err)
	}
	return p
}

func TestOpenSSLClientAgainstOurServer(t *testing.T) {
	p := newRealPKI(t)
	cfg, err := (&transport.ServerTLS{Certificate: p.server.KeyPair(), ClientAuth: transport.RequireClientCert, ClientTrust: p.trust}).Config()
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, cfg)
	base := []string{"-servername", "oftp.example.com", "-CAfile", p.caFile}

	for _, v := range []string{"-tls1_2", "-tls1_3"} {
		greeting, err := sClient(t, srv.addr, append(base, v, "-cert", p.clientCert, "-key", p.clientKey)...)
		if err != nil || greeting != "hello O0013000OPENSSL" {
			t.Fatalf("%s mutual TLS: %q %v", v, greeting, err)
		}
		if err := srv.handshakeErr(t); err != nil {
			t.Fatalf("%s server: %v", v, err)
		}
	}

	// Refusals: TLS 1.1, a TLS 1.2 suite without forward secrecy, no client certificate.
	for _, c := range []struct {
		name   string
		args   []string
		server string
	}{
		{"tls1.1", []string{"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}, "unsupported versions"},
		{"static RSA", []string{"-tls1_2", "-cipher", "AES128-GCM-SHA256"}, "no cipher suite supported by both"},
		{"no client certificate", []string{"-tls1_2"}, "client didn't provide a certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sClient(t, srv.addr, append(base, c.args...)...)
			if err == nil {
				t.Fatal("openssl got through")
			}
			if serr := srv.handshakeErr(t); serr == nil || !strings.Contains(serr.Error(), c.server) {
				t.Fatalf("server: %v (client: %v)", serr, err)
			}
		})
	}
}

func TestOurClientAgainstOpenSSLServer(t *testing.T) {
	openssl := requireTool(t, "openssl")
	p := newRealPKI(t)
	serverCert, serverKey := p.server.WriteFiles(t, p.dir, "server")
	addr := closedPort(t)
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", "127.0.0.1:"+port, "-cert", serverCert, "-key", serverKey,
		"-Verify", "1", "-CAfile", p.caFile, "-verify_return_error", "-rev", "-naccept", "1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	cfg, err := (&transport.ClientTLS{Trust: p.trust, CertFile: p.clientCert, KeyFile: p.clientKey}).ConfigFor(addr)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := transport.NewDialer("")
	var conn net.Conn
	for i := 0; ; i++ { // wait for s_server to listen
		conn, err = d.DialContext(context.Background(), "tcp", addr)
		if err == nil || i == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("s_server did not start: %v\n%s", err, out.String())
	}
	defer conn.Close()
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake with openssl: %v\n%s", err, out.String())
	}
	// s_server -rev answers each line reversed: a full round trip.
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tc.Write([]byte("SSID from Go\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(tc)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no answer from openssl: %v\n%s", err, out.String())
		}
		if strings.TrimSpace(line) == "oG morf DISS" {
			break
		}
	}
	// And openssl verified our client certificate: read its log once it has
	// exited (-naccept 1), so every line is flushed.
	tc.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	if !strings.Contains(out.String(), "CN = O0013000OPENSSL") {
		t.Fatalf("openssl did not see our client certificate:\n%s", out.String())
	}
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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
