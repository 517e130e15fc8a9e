package filesec_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/filesec"
)

func TestExchangeNames(t *testing.T) {
	for _, c := range []struct {
		name string
		kind filesec.ExchangeKind
		ok   bool
	}{
		{"ODETTE_CERTIFICATE_REQUEST", filesec.ExchangeRequest, true},
		{"odette_certificate_deliver ", filesec.ExchangeDeliver, true},
		{"ODETTE_CERTIFICATE_REPLACE", filesec.ExchangeReplace, true},
		{"ODETTE_CERTIFICATE", 0, false},
		{"INVOICE", 0, false},
	} {
		k, ok := filesec.KindOf(c.name)
		if ok != c.ok || (ok && k != c.kind) {
			t.Errorf("KindOf(%q) = %v, %v", c.name, k, ok)
		}
		if ok && k.FileName() != c.name && filesec.IsCertificateExchange(k.FileName()) != true {
			t.Errorf("FileName of %v", k)
		}
	}
}

func TestCertificatePayloads(t *testing.T) {
	k := testKeys(t)
	chain := []*x509.Certificate{k.client.Cert, k.ca.Cert}
	der, err := filesec.EncodeCertificates(chain[:1], filesec.PayloadDER)
	if err != nil {
		t.Fatal(err)
	}
	co, err := filesec.EncodeCertificates(chain, filesec.PayloadCertsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"der": der, "certs-only": co, "pem": certtest.PEMCerts(chain...)} {
		got, err := filesec.ParseCertificatePayload(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !got[0].Equal(k.client.Cert) {
			t.Fatalf("%s: first certificate is %s", name, got[0].Subject)
		}
	}
	if _, err := filesec.ParseCertificatePayload([]byte("not a certificate")); !errors.Is(err, filesec.ErrCertificatePayload) {
		t.Fatalf("garbage: %v", err)
	}
	// Certs-only SignedData in PEM, as openssl writes it with -outform PEM.
	for _, typ := range []string{"PKCS7", "CMS"} {
		got, err := filesec.ParseCertificatePayload(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: co}))
		if err != nil || len(got) != 2 || !got[1].Equal(k.ca.Cert) {
			t.Fatalf("PEM %s: %d certificates, %v", typ, len(got), err)
		}
	}
	for name, b := range map[string][]byte{
		"truncated certs-only":                    co[:len(co)-1],
		"certs-only in PEM with a trailing octet": pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: append(append([]byte{}, co...), 0)}),
		"oversized": make([]byte, filesec.MaxCertificatePayload+1),
	} {
		if _, err := filesec.ParseCertificatePayload(b); !errors.Is(err, filesec.ErrCertificatePayload) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestCertificatePayloadOpenSSL cross-checks the certs-only SignedData with OpenSSL in
// both directions (scripts/deps.d/20-openssl.sh installs it).
func TestCertificatePayloadOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed for the cross-check (scripts/deps.d/20-openssl.sh)")
	}
	k := testKeys(t)
	dir := t.TempDir()
	ours, err := filesec.EncodeCertificates([]*x509.Certificate{k.client.Cert, k.ca.Cert}, filesec.PayloadCertsOnly)
	if err != nil {
		t.Fatal(err)
	}
	oursPath := filepath.Join(dir, "ours.p7b")
	certtest.WriteFile(t, oursPath, ours)
	out, err := exec.Command(openssl, "pkcs7", "-inform", "DER", "-in", oursPath, "-print_certs").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs7: %v\n%s", err, out)
	}
	got, err := filesec.ParseCertificatePayload(out)
	if err != nil || len(got) != 2 || !got[0].Equal(k.client.Cert) || !got[1].Equal(k.ca.Cert) {
		t.Fatalf("openssl read back %d certificates, err %v\n%s", len(got), err, out)
	}
	pemPath := filepath.Join(dir, "in.pem")
	certtest.WriteFile(t, pemPath, certtest.PEMCerts(k.server.Cert))
	theirsPath := filepath.Join(dir, "theirs.p7b")
	if out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", pemPath, "-outform", "DER", "-out", theirsPath).CombinedOutput(); err != nil {
		t.Fatalf("openssl crl2pkcs7: %v\n%s", err, out)
	}
	theirs, err := os.ReadFile(theirsPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err = filesec.ParseCertificatePayload(theirs)
	if err != nil || len(got) != 1 || !got[0].Equal(k.server.Cert) {
		t.Fatalf("reading OpenSSL's certs-only: %v", err)
	}
}

// TestCertificateReplaceSession replaces the client's certificate over OFTP: the
// server trusts old and new until a file signed with the new one verified, then
// retires the old one.
func TestCertificateReplaceSession(t *testing.T) {
	k := testKeys(t)
	cli, _ := pairSecurity(t)
	var events []filesec.CertificateEvent
	srv := newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{k.client.Cert}},
		func(cfg *filesec.Config) {
			cfg.Events.CertificateReceived = func(_ context.Context, ev filesec.CertificateEvent) error {
				events = append(events, ev)
				return ev.Validation
			}
		})
	h := newHarness(t, cli, srv, false)
	f, err := filesec.CertificateFile(filesec.ExchangeReplace, k.client2.Cert, filesec.PayloadCertsOnly, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sendOne(t, h, f); err != nil {
		t.Fatalf("sending the certificate: %v", err)
	}
	if len(events) != 1 || events[0].Kind != filesec.ExchangeReplace || !events[0].Certificates[0].Equal(k.client2.Cert) {
		t.Fatalf("certificate events %+v", events)
	}
	p, _ := srv.Partner(clientCode)
	if len(p.SigningCertificates) != 2 {
		t.Fatalf("during the roll-over %d signing certificates are trusted, want old and new", len(p.SigningCertificates))
	}
	// A file signed with the old key is still accepted...
	h2 := newHarness(t, cli, srv, false)
	if _, err := sendOne(t, h2, secured("OLDKEY", filesec.LevelSigned, false, 100)); err != nil {
		t.Fatalf("old key during roll-over: %v", err)
	}
	// ... and the first one signed with the new key confirms it.
	cli2 := newSecurity(t, k.client2, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}}, nil)
	h3 := newHarness(t, cli2, srv, false)
	if _, err := sendOne(t, h3, secured("NEWKEY", filesec.LevelSigned, false, 100)); err != nil {
		t.Fatalf("new key: %v", err)
	}
	p, _ = srv.Partner(clientCode)
	if len(p.SigningCertificates) != 1 || !p.SigningCertificates[0].Equal(k.client2.Cert) {
		t.Fatalf("after confirmation the signing certificates are %d", len(p.SigningCertificates))
	}
	h4 := newHarness(t, cli, srv, false)
	_, err = sendOne(t, h4, secured("OLDKEY2", filesec.LevelSigned, false, 100))
	wantRefusal(t, err, "EFNA", 21)
	if got := readFile(t, filepath.Join(h.srvInbox, filesec.ReplaceFileName)); !bytes.Contains(got, k.client2.Cert.Raw) {
		t.Fatal("the certificate file was not stored")
	}
}

func TestCertificateRefused(t *testing.T) {
	k := testKeys(t)
	cli, srv := pairSecurity(t) // default decision: certificates must validate
	h := newHarness(t, cli, srv, false)
	f, err := filesec.CertificateFile(filesec.ExchangeDeliver, k.intruder.Cert, filesec.PayloadDER, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sendOne(t, h, f)
	wantRefusal(t, err, "EFNA", 99)
	wantNothingDelivered(t, h)
	p, _ := srv.Partner(clientCode)
	if len(p.SigningCertificates) != 1 || !p.SigningCertificates[0].Equal(k.client.Cert) {
		t.Fatal("a refused certificate changed the partner's certificates")
	}
}

func TestRolloverDue(t *testing.T) {
	k := testKeys(t)
	now := time.Now()
	r := filesec.Rollover{Current: k.client.Cert, Next: k.client2.Cert, Lead: 24 * time.Hour}
	due, at, err := r.Due(now)
	if err != nil || due {
		t.Fatalf("a year before expiry: due %v at %v, %v", due, at, err)
	}
	if want := k.client.Cert.NotAfter.Add(-24 * time.Hour); !at.Equal(want) {
		t.Fatalf("due at %v, want %v", at, want)
	}
	if due, _, _ := r.Due(k.client.Cert.NotAfter.Add(-time.Hour)); !due {
		t.Fatal("an hour before expiry the REPLACE is not due")
	}
	// The next certificate decides when it is valid later than the lead time.
	late := filesec.Rollover{Current: k.client.Cert, Next: k.notYetValid.Cert, Lead: 400 * 24 * time.Hour}
	if _, at, _ := late.Due(now); !at.Equal(k.notYetValid.Cert.NotBefore) {
		t.Fatalf("due at %v before the next certificate is valid", at)
	}
	gap := filesec.Rollover{Current: k.expired.Cert, Next: k.notYetValid.Cert}
	if _, _, err := gap.Due(now); !errors.Is(err, filesec.ErrNoOverlap) {
		t.Fatalf("no overlap: %v", err)
	}
}

// underscoreNames lets a certificate exchange file through our strict SFID encoder,
// which refuses '_' (outside the RFC 5024 String set) although deployed peers use these
// names: the file goes out with '-' and the connection puts the '_' back, so the
// receiving session sees exactly what those peers send. The session runs without TLS
// so that the octets can be rewritten.
type dialerFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func (f dialerFunc) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f(ctx, network, addr)
}
