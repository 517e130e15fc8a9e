package oftp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// testPKI makes a throwaway CA and a server certificate for 127.0.0.1.
func testPKI(t testing.TB) (server tls.Certificate, roots *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "OFTP test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "O0013SERVER"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, roots
}

func TestTLSBothDirections(t *testing.T) {
	cert, roots := testPKI(t)
	p := newPair(t)
	p.srvOpts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	p.cliOpts.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	srvFile := randomFile(t, 1<<20, 31)
	src := randomFile(t, 1<<20, 32)
	ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: outgoing("TLSBACK", srvFile, oftp.FormatUnstructured, 0)}}}
	p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
	ctx := testCtx(t)
	c := p.dial(ctx)
	if _, err := c.SendFile(ctx, outgoing("TLSFORTH", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReceiveFiles(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	sameFile(t, src, filepath.Join(p.inbox, "TLSFORTH"))
	sameFile(t, srvFile, filepath.Join(p.cliInbox, "TLSBACK"))
}

func TestTLSUntrustedServer(t *testing.T) {
	cert, _ := testPKI(t)
	_, otherRoots := testPKI(t)
	p := newPair(t)
	p.srvOpts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	p.cliOpts.TLSConfig = &tls.Config{RootCAs: otherRoots}
	p.start(nil)
	_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
	var ue x509.UnknownAuthorityError
	if !errors.As(err, &ue) {
		t.Fatalf("got %v, want an unknown authority error", err)
	}
	if err := p.serverEnd(); err == nil {
		t.Fatal("server session succeeded without TLS")
	}
}
