package filesec_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/filesec"
)

const (
	clientCode = "O0013CLIENT"
	serverCode = "O0013SERVER"
)

// keys are generated once per test binary: RSA key generation dominates otherwise.
type keys struct {
	ca, otherCA                 *certtest.CA
	client, server              *certtest.Leaf // issued by ca, used for everything incl. TLS
	client2                     *certtest.Leaf // the client's next certificate (roll-over)
	intruder                    *certtest.Leaf // issued by otherCA
	expired, notYetValid, revok *certtest.Leaf // issued by ca
	crl                         []byte
}

var (
	keysOnce sync.Once
	theKeys  *keys
)

func testKeys(t testing.TB) *keys {
	keysOnce.Do(func() {
		now := time.Now()
		k := &keys{}
		k.ca = certtest.NewCA(t, certtest.Options{CommonName: "OFTP Test CA"})
		k.otherCA = certtest.NewCA(t, certtest.Options{CommonName: "Other CA"})
		rsa := func(ca *certtest.CA, cn string, nb, na time.Time) *certtest.Leaf {
			return ca.Issue(t, certtest.Options{CommonName: cn, KeyType: certtest.RSA2048, NotBefore: nb, NotAfter: na,
				DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
		}
		k.client = rsa(k.ca, clientCode, time.Time{}, time.Time{})
		k.server = rsa(k.ca, serverCode, time.Time{}, time.Time{})
		k.client2 = rsa(k.ca, clientCode, now.Add(-time.Minute), now.Add(2*365*24*time.Hour))
		k.intruder = rsa(k.otherCA, clientCode, time.Time{}, time.Time{})
		k.expired = rsa(k.ca, clientCode, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		k.notYetValid = rsa(k.ca, clientCode, now.Add(24*time.Hour), now.Add(48*time.Hour))
		k.revok = rsa(k.ca, clientCode, time.Time{}, time.Time{})
		k.crl = k.ca.CRL(t, certtest.CRLOptions{Revoked: []certtest.Revoked{{Cert: k.revok.Cert, Reason: 1}}})
		theKeys = k
	})
	if theKeys == nil {
		t.Fatal("test keys unavailable")
	}
	return theKeys
}

// trust returns a store with the test CA and its CRL.
func trust(t testing.TB, k *keys) *certs.TrustStore {
	ts := certs.NewTrustStore(certs.TrustOptions{})
	ts.AddRoots(k.ca.Cert)
	if err := ts.AddCRLBytes(k.crl); err != nil {
		t.Fatal(err)
	}
	return ts
}

// newSecurity builds the security of one side.
func newSecurity(t testing.TB, own *certtest.Leaf, partner *filesec.Partner, mod func(*filesec.Config)) *filesec.Security {
	t.Helper()
	cfg := filesec.Config{
		Identity: filesec.SingleIdentity(own.KeyPair()),
		Partners: []*filesec.Partner{partner},
		Trust:    trust(t, testKeys(t)),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := filesec.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pairSecurity gives both sides security for each other with default policies.
func pairSecurity(t testing.TB) (cli, srv *filesec.Security) {
	k := testKeys(t)
	cli = newSecurity(t, k.client, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}}, nil)
	srv = newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{k.client.Cert}}, nil)
	return cli, srv
}

// harness is a TLS responder on 127.0.0.1 and the options of an initiator.
type harness struct {
	t        testing.TB
	srv      *oftp.Server
	addr     string
	cliOpts  oftp.Options
	srvOpts  oftp.Options
	cliInbox string
	srvInbox string
	outbox   *oftp.SliceOutbox
	ends     chan error

	logs lockedBuffer

	mu      sync.Mutex
	cliEnds []oftp.EndResponseEvent // received by the client
	srvEnds []oftp.EndResponseEvent // received by the server
	srvRes  []oftp.TransferResult
}

func newHarness(t testing.TB, cliSec, srvSec *filesec.Security, secureAuth bool) *harness {
	t.Helper()
	k := testKeys(t)
	h := &harness{t: t, ends: make(chan error, 4), outbox: &oftp.SliceOutbox{}}
	h.cliInbox, h.srvInbox = t.TempDir(), t.TempDir()
	// Both sides log into one buffer, shown when the test fails.
	log := slog.New(slog.NewTextHandler(&h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("session logs:\n%s", h.logs.String())
		}
	})

	so := oftp.DefaultOptions()
	so.SSIDCode, so.Password = serverCode, "SERVPW"
	so.DownloadDirectory = h.srvInbox
	so.Timeout = 60 * time.Second
	so.SecureAuthentication = secureAuth
	so.NERPOnFailure = true
	so.Logger = log.With("side", "server")
	so.TLSConfig = &tls.Config{Certificates: []tls.Certificate{k.server.TLSCertificate()}, MinVersion: tls.VersionTLS12}
	so.Events.SessionEnd = func(_ oftp.SessionInfo, err error) { h.ends <- err }
	so.Events.EndResponse = func(e oftp.EndResponseEvent) {
		if e.Direction == oftp.Incoming {
			h.mu.Lock()
			h.srvEnds = append(h.srvEnds, e)
			h.mu.Unlock()
		}
	}
	so.Events.EndTransfer = func(r oftp.TransferResult) {
		h.mu.Lock()
		h.srvRes = append(h.srvRes, r)
		h.mu.Unlock()
	}
	if srvSec != nil {
		srvSec.Install(&so)
	}
	h.srvOpts = so

	co := oftp.DefaultOptions()
	co.SSIDCode, co.Password = clientCode, "CLIEPW"
	co.PartnerSSIDCode, co.PartnerPassword = serverCode, "SERVPW"
	co.DownloadDirectory = h.cliInbox
	co.Timeout = 60 * time.Second
	co.SecureAuthentication = secureAuth
	co.NERPOnFailure = true
	co.Logger = log.With("side", "client")
	roots := x509.NewCertPool()
	roots.AddCert(k.ca.Cert)
	co.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	co.Events.EndResponse = func(e oftp.EndResponseEvent) {
		if e.Direction == oftp.Incoming {
			h.mu.Lock()
			h.cliEnds = append(h.cliEnds, e)
			h.mu.Unlock()
		}
	}
	if cliSec != nil {
		cliSec.Install(&co)
	}
	h.cliOpts = co
	return h
}

// wrapClientConn runs the session without TLS and wraps the client's connection, so
// that a test can cut or rewrite the octets on the wire.
func (h *harness) wrapClientConn(wrap func(net.Conn) net.Conn) {
	h.srvOpts.TLSConfig, h.cliOpts.TLSConfig = nil, nil
	h.cliOpts.Dialer = dialerFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrap(c), nil
	})
}

func (h *harness) start() {
	h.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	h.addr = l.Addr().String()
	h.srv = &oftp.Server{Options: h.srvOpts, Partners: oftp.Partners{
		clientCode: {SSIDCode: clientCode, Password: "CLIEPW", Outbox: h.outbox},
	}}
	go h.srv.Serve(l)
	h.t.Cleanup(func() { h.srv.Close() })
}

func (h *harness) dial(ctx context.Context) (*oftp.Client, error) {
	c, err := oftp.Dial(ctx, h.addr, h.cliOpts)
	if err == nil {
		h.t.Cleanup(func() { c.Disconnect() })
	}
	return c, err
}

func (h *harness) serverEnd() error {
	h.t.Helper()
	select {
	case err := <-h.ends:
		return err
	case <-time.After(150 * time.Second):
		h.t.Fatal("server session did not end")
		return nil
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
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

// memSource serves content from memory.
func memSource(content []byte) oftp.Source {
	return oftp.SourceFunc(func(_ context.Context, off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content[off:])), nil
	})
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// visible lists the files of dir that a user would see.
func visible(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name()[0] != '.' {
			names = append(names, e.Name())
		}
	}
	return names
}
