package transport_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/transport"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// pki is a small partner PKI at a fixed time.
type pki struct {
	clock  func() time.Time
	ca     *certtest.CA
	server *certtest.Leaf
	client *certtest.Leaf
	trust  *certs.TrustStore
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{clock: certtest.FixedClock(t0)}
	p.ca = certtest.NewCA(t, certtest.Options{CommonName: "Partner CA", Clock: p.clock, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(5, 0, 0)})
	p.server = p.ca.Issue(t, certtest.Options{CommonName: "oftp.example.com", DNSNames: []string{"oftp.example.com"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	p.client = p.ca.Issue(t, certtest.Options{CommonName: "O0013000INITIATOR", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	p.trust = certs.NewTrustStore(certs.TrustOptions{Clock: p.clock})
	p.trust.AddRoots(p.ca.Cert)
	return p
}

// tlsServer accepts TLS connections on 127.0.0.1, greets each peer with the
// common name of its client certificate (or "anonymous"), then echoes lines.
// Handshake errors are delivered on errs.
type tlsServer struct {
	addr string
	errs chan error
}

func startTLSServer(t *testing.T, cfg *tls.Config) *tlsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: ln.Addr().String(), errs: make(chan error, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				if err := tc.Handshake(); err != nil {
					s.errs <- err
					return
				}
				s.errs <- nil
				who := "anonymous"
				if pc := tc.ConnectionState().PeerCertificates; len(pc) > 0 {
					who = pc[0].Subject.CommonName
				}
				io.WriteString(tc, "hello "+who+"\n")
				io.Copy(tc, tc)
			}()
		}
	}()
	return s
}

func (s *tlsServer) handshakeErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("server saw no handshake")
		return nil
	}
}

// talk connects with cfg, reads the greeting and echoes one line. TLS 1.3
// clients learn about a refused client certificate only when reading, so
// errors from the exchange are returned too.
func talk(addr string, cfg *tls.Config) (greeting string, state tls.ConnectionState, err error) {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		return "", state, err
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		return "", state, err
	}
	state = c.ConnectionState()
	r := bufio.NewReader(c)
	greeting, err = r.ReadString('\n')
	if err != nil {
		return "", state, err
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", state, err
	}
	echo, err := r.ReadString('\n')
	if err != nil {
		return "", state, err
	}
	if echo != "ping\n" {
		return "", state, errors.New("bad echo " + echo)
	}
	return strings.TrimSpace(greeting), state, nil
}

func serverConfig(t *testing.T, p *pki, mode transport.ClientAuthMode) *tls.Config {
	t.Helper()
	cfg, err := (&transport.ServerTLS{Certificate: p.server.KeyPair(), ClientAuth: mode, ClientTrust: p.trust, Clock: p.clock}).Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func clientConfig(t *testing.T, c transport.ClientTLS) *tls.Config {
	t.Helper()
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServer(t, serverConfig(t, p, transport.RequireClientCert))
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: p.client.KeyPair()})
		cfg.MaxVersion = v
		greeting, st, err := talk(srv.addr, cfg)
		if err != nil {
			t.Fatalf("%s: %v", tls.VersionName(v), err)
		}
		if err := srv.handshakeErr(t); err != nil {
			t.Fatalf("server: %v", err)
		}
		if greeting != "hello O0013000INITIATOR" || st.Version != v {
			t.Fatalf("%s: greeting %q version %x", tls.VersionName(v), greeting, st.Version)
		}
		if v == tls.VersionTLS12 && !slices.Contains(transport.CipherSuites(), st.CipherSuite) {
			t.Fatalf("TLS 1.2 suite %s is not forward secret AEAD", tls.CipherSuiteName(st.CipherSuite))
		}
	}
	// ConfigFor takes the server name from the address; 127.0.0.1 is in the certificate.
	cfg, err := (&transport.ClientTLS{Trust: p.trust, Certificate: p.client.KeyPair()}).ConfigFor(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := talk(srv.addr, cfg); err != nil {
		t.Fatalf("ConfigFor: %v", err)
	}
	srv.handshakeErr(t)
}

func TestClientCertificateRequired(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServer(t, serverConfig(t, p, transport.RequireClientCert))
	_, _, err := talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust}))
	if err == nil {
		t.Fatal("client without certificate got through")
	}
	serr := srv.handshakeErr(t)
	if serr == nil || !strings.Contains(serr.Error(), "client didn't provide a certificate") {
		t.Fatalf("server: %v", serr)
	}

	// Optional: an anonymous initiator is let in.
	opt := startTLSServer(t, serverConfig(t, p, transport.OptionalClientCert))
	greeting, _, err := talk(opt.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust}))
	if err != nil || greeting != "hello anonymous" {
		t.Fatalf("optional: %q %v", greeting, err)
	}
}

func TestClientCertificateEKU(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServer(t, serverConfig(t, p, transport.RequireClientCert))

	serverOnly := p.ca.Issue(t, certtest.Options{CommonName: "web-cert", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	_, _, err := talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: serverOnly.KeyPair()}))
	if err == nil {
		t.Fatal("client certificate without clientAuth accepted")
	}
	serr := srv.handshakeErr(t)
	var ce *transport.CertificateError
	if !errors.As(serr, &ce) || !errors.Is(serr, certs.ReasonWrongUsage) {
		t.Fatalf("server: %v", serr)
	}
	if want := "tls: partner certificate for web-cert cannot be used for TLS client: it has extended key usage serverAuth without clientAuth"; serr.Error() != want {
		t.Fatalf("message\n got %q\nwant %q", serr.Error(), want)
	}

	// No EKU extension at all is accepted, as is clientAuth among others.
	for _, eku := range [][]x509.ExtKeyUsage{nil, {x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}} {
		c := p.ca.Issue(t, certtest.Options{CommonName: "ok-client", ExtKeyUsage: eku})
		if _, _, err := talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: c.KeyPair()})); err != nil {
			t.Fatalf("EKU %v: %v", eku, err)
		}
		if err := srv.handshakeErr(t); err != nil {
			t.Fatalf("EKU %v: server %v", eku, err)
		}
	}

	// A client certificate from an unknown CA is refused too.
	stranger := certtest.NewCA(t, certtest.Options{CommonName: "Stranger CA", Clock: p.clock}).Issue(t, certtest.Options{CommonName: "intruder"})
	talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: stranger.KeyPair()}))
	if serr := srv.handshakeErr(t); !errors.Is(serr, certs.ReasonUntrusted) {
		t.Fatalf("stranger: %v", serr)
	}
}

func TestServerCertificateRefused(t *testing.T) {
	p := newPKI(t)
	issue := func(o certtest.Options) *certtest.Leaf {
		o.DNSNames = []string{"oftp.example.com"}
		return p.ca.Issue(t, o)
	}
	stranger := certtest.NewCA(t, certtest.Options{CommonName: "Stranger CA", Clock: p.clock})
	cases := []struct {
		name   string
		leaf   *certtest.Leaf
		reason error
		msg    string
	}{
		{"expired", issue(certtest.Options{NotBefore: t0.AddDate(-1, 0, 0), NotAfter: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}),
			certs.ReasonExpired, "tls: partner certificate for oftp.example.com expired on 2026-01-02 (150 days ago)"},
		{"not yet valid", issue(certtest.Options{NotBefore: t0.AddDate(0, 0, 3)}),
			certs.ReasonNotYetValid, "tls: partner certificate for oftp.example.com is not valid before 2026-06-04 (3 days from now)"},
		{"untrusted", stranger.Issue(t, certtest.Options{DNSNames: []string{"oftp.example.com"}}),
			certs.ReasonUntrusted, `tls: partner certificate for oftp.example.com was issued by "CN=Stranger CA", which does not chain to any of the 1 trusted roots`},
		{"other host", p.ca.Issue(t, certtest.Options{DNSNames: []string{"other.example.com"}}),
			transport.ErrHostMismatch, "tls: partner certificate for oftp.example.com is for other.example.com, not for oftp.example.com"},
		{"revoked", func() *certtest.Leaf {
			l := issue(certtest.Options{})
			if err := p.trust.AddCRLBytes(p.ca.CRL(t, certtest.CRLOptions{Revoked: []certtest.Revoked{{Cert: l.Cert, Reason: 1}}})); err != nil {
				t.Fatal(err)
			}
			return l
		}(), certs.ReasonRevoked, "tls: partner certificate for oftp.example.com was revoked on 2026-06-01 (reason: keyCompromise)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			scfg, err := (&transport.ServerTLS{Certificate: c.leaf.KeyPair(), Clock: p.clock}).Config()
			if err != nil {
				t.Fatal(err)
			}
			srv := startTLSServer(t, scfg)
			_, _, err = talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust}))
			var ce *transport.CertificateError
			if !errors.As(err, &ce) || !errors.Is(err, c.reason) {
				t.Fatalf("got %v", err)
			}
			if err.Error() != c.msg {
				t.Fatalf("message\n got %q\nwant %q", err.Error(), c.msg)
			}
			// The responder sees the initiator's alert.
			if serr := srv.handshakeErr(t); serr == nil {
				t.Fatal("server handshake succeeded")
			}
		})
	}
}

func TestPinnedServerCertificate(t *testing.T) {
	p := newPKI(t)
	self := certtest.SelfSigned(t, certtest.Options{CommonName: "partner.local", DNSNames: []string{"partner.local"}, Clock: p.clock})
	scfg, err := (&transport.ServerTLS{Certificate: self.KeyPair(), Clock: p.clock}).Config()
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, scfg)
	empty := certs.NewTrustStore(certs.TrustOptions{Clock: p.clock})

	pin, err := transport.ParsePin(transport.PinOf(self.Cert).String())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []transport.ClientTLS{
		{ServerName: "127.0.0.1", Trust: empty, Pins: []transport.Pin{pin}},
		{ServerName: "127.0.0.1", Trust: empty, Pins: []transport.Pin{transport.PublicKeyPinOf(self.Cert)}, PinOnly: true},
	} {
		if _, _, err := talk(srv.addr, clientConfig(t, c)); err != nil {
			t.Fatalf("pinned: %v", err)
		}
		srv.handshakeErr(t)
	}

	wrong := transport.PinOf(p.server.Cert)
	_, _, err = talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "partner.local", Trust: empty, Pins: []transport.Pin{wrong}}))
	if !errors.Is(err, certs.ReasonUntrusted) {
		t.Fatalf("wrong pin, chain fallback: %v", err)
	}
	srv.handshakeErr(t)
	_, _, err = talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "partner.local", Trust: p.trust, Pins: []transport.Pin{wrong}, PinOnly: true}))
	if !errors.Is(err, transport.ErrPinMismatch) || !strings.Contains(err.Error(), "does not match any pinned fingerprint (it is sha256:") {
		t.Fatalf("wrong pin, pin only: %v", err)
	}
	srv.handshakeErr(t)

	// Pinning does not excuse expiry.
	old := certtest.SelfSigned(t, certtest.Options{CommonName: "partner.local", Clock: p.clock, NotBefore: t0.AddDate(-2, 0, 0), NotAfter: t0.AddDate(0, 0, -1)})
	ocfg, err := (&transport.ServerTLS{Certificate: old.KeyPair(), Clock: p.clock}).Config()
	if err != nil {
		t.Fatal(err)
	}
	osrv := startTLSServer(t, ocfg)
	_, _, err = talk(osrv.addr, clientConfig(t, transport.ClientTLS{ServerName: "partner.local", Trust: empty, Pins: []transport.Pin{transport.PinOf(old.Cert)}}))
	if !errors.Is(err, certs.ReasonExpired) {
		t.Fatalf("expired pinned: %v", err)
	}
}

func TestOnServerCertificateDecides(t *testing.T) {
	p := newPKI(t)
	self := certtest.SelfSigned(t, certtest.Options{CommonName: "partner.local", Clock: p.clock})
	scfg, err := (&transport.ServerTLS{Certificate: self.KeyPair(), Clock: p.clock}).Config()
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, scfg)
	var seen []transport.ServerCertificate
	accept := func(sc transport.ServerCertificate) error { seen = append(seen, sc); return nil }
	if _, _, err := talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "partner.local", Trust: p.trust, OnServerCertificate: accept})); err != nil {
		t.Fatalf("application accepted: %v", err)
	}
	srv.handshakeErr(t)
	if len(seen) != 1 || !errors.Is(seen[0].Err, certs.ReasonUntrusted) || !seen[0].Chain[0].Equal(self.Cert) || seen[0].ServerName != "partner.local" {
		t.Fatalf("event %+v", seen)
	}

	good := startTLSServer(t, serverConfig(t, p, transport.NoClientCert))
	veto := errors.New("not this partner today")
	_, _, err = talk(good.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust,
		OnServerCertificate: func(sc transport.ServerCertificate) error {
			if sc.Err != nil {
				t.Errorf("valid certificate reported as %v", sc.Err)
			}
			return veto
		}}))
	if !errors.Is(err, veto) {
		t.Fatalf("application refused: %v", err)
	}
}

func TestOldTLSRefused(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServer(t, serverConfig(t, p, transport.NoClientCert))
	old := &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11, InsecureSkipVerify: true}
	if _, _, err := talk(srv.addr, old); err == nil {
		t.Fatal("TLS 1.1 client got through")
	}
	serr := srv.handshakeErr(t)
	if serr == nil || !strings.Contains(serr.Error(), "unsupported versions") {
		t.Fatalf("server: %v", serr)
	}
	// A TLS 1.2 client offering only suites without forward secrecy is refused.
	rsaKx := &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}
	if _, _, err := talk(srv.addr, rsaKx); err == nil {
		t.Fatal("RSA key exchange accepted")
	}
	srv.handshakeErr(t)

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		if _, err := (&transport.ClientTLS{MinVersion: v}).Config(); err == nil {
			t.Fatalf("client config with minimum %s", tls.VersionName(v))
		}
		if _, err := (&transport.ServerTLS{Certificate: p.server.KeyPair(), MinVersion: v}).Config(); err == nil {
			t.Fatalf("server config with minimum %s", tls.VersionName(v))
		}
	}
}

func TestConfigFromFiles(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	p12 := dir + "/server.p12"
	certtest.WriteFile(t, p12, p.server.PKCS12(t, "changeit"))
	caFile := dir + "/ca.pem"
	certtest.WriteFile(t, caFile, p.ca.CertPEM())
	clientCert, clientKey := p.client.WriteFiles(t, dir, "client")

	if _, err := (&transport.ServerTLS{PKCS12File: p12, PKCS12Password: "nope"}).Config(); !errors.Is(err, certs.ErrPKCS12Password) {
		t.Fatalf("wrong password: %v", err)
	}
	scfg, err := (&transport.ServerTLS{PKCS12File: p12, PKCS12Password: "changeit", ClientAuth: transport.RequireClientCert, ClientCAFiles: []string{caFile}, Clock: p.clock}).Config()
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, scfg)
	ccfg := clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", RootFiles: []string{caFile}, CertFile: clientCert, KeyFile: clientKey, Clock: p.clock})
	greeting, _, err := talk(srv.addr, ccfg)
	if err != nil || greeting != "hello O0013000INITIATOR" {
		t.Fatalf("%q %v", greeting, err)
	}
	if err := srv.handshakeErr(t); err != nil {
		t.Fatal(err)
	}
	if _, err := (&transport.ServerTLS{}).Config(); err == nil {
		t.Fatal("server without certificate")
	}
	if _, err := (&transport.ServerTLS{Certificate: p.server.KeyPair(), ClientAuth: transport.RequireClientCert}).Config(); err == nil {
		t.Fatal("client certificates required with nothing to check them against")
	}
	if _, err := (&transport.ServerTLS{Certificate: p.client.KeyPair()}).Config(); !errors.Is(err, certs.ReasonWrongUsage) {
		t.Fatalf("clientAuth-only certificate as server certificate: %v", err)
	}
	if _, err := (&transport.ClientTLS{CertFile: clientCert}).Config(); err == nil {
		t.Fatal("certificate without key")
	}
}

func TestSystemRootsDoNotTrustStrangers(t *testing.T) {
	p := newPKI(t)
	self := certtest.SelfSigned(t, certtest.Options{CommonName: "oftp.example.com", DNSNames: []string{"oftp.example.com"}, Clock: p.clock})
	scfg, err := (&transport.ServerTLS{Certificate: self.KeyPair(), Clock: p.clock}).Config()
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, scfg)
	_, _, err = talk(srv.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, SystemRoots: true}))
	if !errors.Is(err, certs.ReasonUntrusted) {
		t.Fatalf("self-signed with system roots: %v", err)
	}
	// The partner CA still works alongside the system roots.
	srv2 := startTLSServer(t, serverConfig(t, p, transport.NoClientCert))
	if _, _, err := talk(srv2.addr, clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, SystemRoots: true})); err != nil {
		t.Fatal(err)
	}
}

func TestNoServerNameFailsClosed(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServer(t, serverConfig(t, p, transport.NoClientCert))
	_, _, err := talk(srv.addr, clientConfig(t, transport.ClientTLS{Trust: p.trust}))
	if !errors.Is(err, transport.ErrHostMismatch) {
		t.Fatalf("no server name: %v", err)
	}
}

func TestParsePin(t *testing.T) {
	p := newPKI(t)
	pin := transport.PublicKeyPinOf(p.server.Cert)
	for _, s := range []string{pin.String(), strings.ToLower(strings.ReplaceAll(pin.String(), ":", ""))[:len("spki-sha256")] + ":" + strings.ReplaceAll(strings.TrimPrefix(pin.String(), "spki-sha256:"), ":", "")} {
		got, err := transport.ParsePin(s)
		if err != nil || got != pin || !got.Matches(p.server.Cert) || got.Matches(p.client.Cert) {
			t.Fatalf("%q: %v", s, err)
		}
	}
	for _, bad := range []string{"", "sha256", "md5:00", "sha256:zz", "sha256:0011", "pin-sha256:!!"} {
		if _, err := transport.ParsePin(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigStringsMaskPasswords(t *testing.T) {
	c := transport.ClientTLS{ServerName: "oftp.example.com", PKCS12File: "id.p12", PKCS12Password: "hunter2"}
	s := transport.ServerTLS{PKCS12File: "srv.p12", PKCS12Password: "hunter2", ClientAuth: transport.RequireClientCert}
	var logged strings.Builder
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	logger.Info("tls", "client", c, "server", s)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", s), fmt.Sprintf("%v", &c), logged.String()} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "xxxxx") {
			t.Fatalf("password not masked: %s", out)
		}
	}
}
