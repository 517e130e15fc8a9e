package certs_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func TestValidateChainAndPeriod(t *testing.T) {
	clock := certtest.FixedClock(t0)
	ca := certtest.NewCA(t, certtest.Options{Clock: clock, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(5, 0, 0)})
	inter := ca.NewIntermediate(t, certtest.Options{NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(3, 0, 0)})
	good := inter.Issue(t, certtest.Options{DNSNames: []string{"oftp.example.com"}})
	expired := inter.Issue(t, certtest.Options{DNSNames: []string{"oftp.example.com"}, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	future := inter.Issue(t, certtest.Options{CommonName: "later", NotBefore: t0.AddDate(0, 0, 10), NotAfter: t0.AddDate(1, 0, 0)})
	other := certtest.NewCA(t, certtest.Options{CommonName: "Unknown CA", Clock: clock}).Issue(t, certtest.Options{CommonName: "stranger"})

	store := certs.NewTrustStore(certs.TrustOptions{Clock: clock})
	store.AddRoots(ca.Cert)
	ctx := context.Background()

	v, err := store.ValidateChain(ctx, []*x509.Certificate{good.Cert, inter.Cert}, certs.PurposeFileSigning, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Chain) != 3 || !v.Trusted || v.Partner {
		t.Fatalf("verdict %+v", v)
	}
	// Without the presented intermediate the chain cannot be built...
	if _, err := store.Validate(ctx, good.Cert, certs.PurposeFileSigning, time.Time{}); !errors.Is(err, certs.ReasonUntrusted) {
		t.Fatalf("missing intermediate: %v", err)
	}
	// ...unless the store knows it.
	store.AddIntermediates(inter.Cert)
	if _, err := store.Validate(ctx, good.Cert, certs.PurposeFileSigning, time.Time{}); err != nil {
		t.Fatal(err)
	}

	_, err = store.Validate(ctx, expired.Cert, certs.PurposeFileSigning, time.Time{})
	if !errors.Is(err, certs.ReasonExpired) {
		t.Fatalf("expired: %v", err)
	}
	if got, want := err.Error(), "certificate for oftp.example.com expired on 2026-01-02 (150 days ago)"; got != want {
		t.Fatalf("message\n got %q\nwant %q", got, want)
	}
	_, err = store.Validate(ctx, future.Cert, certs.PurposeFileSigning, time.Time{})
	if !errors.Is(err, certs.ReasonNotYetValid) || !strings.Contains(err.Error(), "is not valid before 2026-06-11 (10 days from now)") {
		t.Fatalf("not yet valid: %v", err)
	}
	_, err = store.Validate(ctx, other.Cert, certs.PurposeFileSigning, time.Time{})
	if !errors.Is(err, certs.ReasonUntrusted) || !strings.Contains(err.Error(), `was issued by "CN=Unknown CA", which does not chain to any of the 1 trusted roots`) {
		t.Fatalf("untrusted: %v", err)
	}
	// An explicit time overrides the clock.
	if _, err := store.Validate(ctx, expired.Cert, certs.PurposeFileSigning, time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("at a time it was valid: %v", err)
	}
}

func TestPartnerCertificateAndWarnMode(t *testing.T) {
	clock := certtest.FixedClock(t0)
	self := certtest.SelfSigned(t, certtest.Options{CommonName: "partner-self", Clock: clock})
	strict := certs.NewTrustStore(certs.TrustOptions{Clock: clock})
	_, err := strict.Validate(context.Background(), self.Cert, certs.PurposeFileSigning, time.Time{})
	if !errors.Is(err, certs.ReasonUntrusted) {
		t.Fatalf("strict: %v", err)
	}
	strict.AddPartners(self.Cert)
	v, err := strict.Validate(context.Background(), self.Cert, certs.PurposeFileSigning, time.Time{})
	if err != nil || !v.Partner {
		t.Fatalf("partner: %v %+v", err, v)
	}

	var events []certs.UntrustedEvent
	warn := certs.NewTrustStore(certs.TrustOptions{Clock: clock, Untrusted: certs.WarnOnUntrusted,
		OnUntrusted: func(e certs.UntrustedEvent) { events = append(events, e) }})
	warn.AddRoots(certtest.NewCA(t, certtest.Options{Clock: clock}).Cert)
	v, err = warn.Validate(context.Background(), self.Cert, certs.PurposeFileSigning, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Trusted || len(events) != 1 || !errors.Is(events[0].Err, certs.ReasonUntrusted) || events[0].Cert != self.Cert {
		t.Fatalf("warn verdict %+v events %+v", v, events)
	}
	// Warn mode does not excuse an expired certificate.
	old := certtest.SelfSigned(t, certtest.Options{Clock: clock, NotBefore: t0.AddDate(-2, 0, 0), NotAfter: t0.AddDate(-1, 0, 0)})
	if _, err := warn.Validate(context.Background(), old.Cert, certs.PurposeFileSigning, time.Time{}); !errors.Is(err, certs.ReasonExpired) {
		t.Fatalf("expired in warn mode: %v", err)
	}
}

func TestPurposeRules(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	type tc struct {
		name string
		opts certtest.Options
		ok   []certs.Purpose
	}
	all := certs.Purposes
	sig := []certs.Purpose{certs.PurposeTLSServer, certs.PurposeTLSClient, certs.PurposeFileSigning, certs.PurposeReceiptSigning}
	for _, c := range []tc{
		{"rsa default", certtest.Options{KeyType: certtest.RSA2048}, all},
		{"rsa no key usage", certtest.Options{KeyType: certtest.RSA2048, NoKeyUsage: true}, all},
		{"ecdsa cannot encrypt", certtest.Options{}, sig},
		{"rsa encipherment only", certtest.Options{KeyType: certtest.RSA2048, KeyUsage: x509.KeyUsageKeyEncipherment},
			[]certs.Purpose{certs.PurposeSessionAuthentication, certs.PurposeFileEncryption}},
		{"nonRepudiation only signs files", certtest.Options{KeyUsage: x509.KeyUsageContentCommitment},
			[]certs.Purpose{certs.PurposeFileSigning, certs.PurposeReceiptSigning}},
		{"clientAuth EKU", certtest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
			[]certs.Purpose{certs.PurposeTLSClient, certs.PurposeFileSigning, certs.PurposeReceiptSigning}},
		{"serverAuth EKU is no client cert", certtest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
			[]certs.Purpose{certs.PurposeTLSServer, certs.PurposeFileSigning, certs.PurposeReceiptSigning}},
		{"any EKU", certtest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, sig},
		{"emailProtection EKU", certtest.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}},
			[]certs.Purpose{certs.PurposeFileSigning, certs.PurposeReceiptSigning}},
	} {
		t.Run(c.name, func(t *testing.T) {
			leaf := ca.Issue(t, c.opts)
			got := certs.FitPurposes(leaf.Cert)
			if len(got) != len(c.ok) {
				t.Fatalf("fit %v, want %v", got, c.ok)
			}
			for i := range got {
				if got[i] != c.ok[i] {
					t.Fatalf("fit %v, want %v", got, c.ok)
				}
			}
		})
	}
	leaf := ca.Issue(t, certtest.Options{CommonName: "web", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	err := certs.CheckPurpose(leaf.Cert, certs.PurposeTLSClient)
	if !errors.Is(err, certs.ReasonWrongUsage) || err.Error() != "certificate for web cannot be used for TLS client: it has extended key usage serverAuth without clientAuth" {
		t.Fatalf("%v", err)
	}
}

func TestCRLRevocation(t *testing.T) {
	clock := certtest.FixedClock(t0)
	ca := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "Partner CA", NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(5, 0, 0)})
	revoked := ca.Issue(t, certtest.Options{CommonName: "revoked.example", NotBefore: t0.AddDate(0, 0, -10)})
	fine := ca.Issue(t, certtest.Options{CommonName: "fine.example"})
	crlDER := ca.CRL(t, certtest.CRLOptions{Revoked: []certtest.Revoked{{Cert: revoked.Cert, At: t0.Add(-48 * time.Hour), Reason: 1}}})

	store := certs.NewTrustStore(certs.TrustOptions{Clock: clock})
	store.AddRoots(ca.Cert)
	dir := t.TempDir()
	crlPath := filepath.Join(dir, "ca.crl")
	certtest.WriteFile(t, crlPath, crlDER)
	if err := store.LoadCRLFile(crlPath); err != nil {
		t.Fatal(err)
	}
	_, err := store.Validate(context.Background(), revoked.Cert, certs.PurposeFileSigning, time.Time{})
	if !errors.Is(err, certs.ReasonRevoked) || err.Error() != "certificate for revoked.example was revoked on 2026-05-30 (reason: keyCompromise)" {
		t.Fatalf("revoked: %v", err)
	}
	v, err := store.Validate(context.Background(), fine.Cert, certs.PurposeFileSigning, time.Time{})
	if err != nil || !v.RevocationChecked {
		t.Fatalf("fine: %v %+v", err, v)
	}
	// Before the revocation time the certificate was good.
	if _, err := store.Validate(context.Background(), revoked.Cert, certs.PurposeFileSigning, t0.Add(-72*time.Hour)); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	// After the CRL's nextUpdate it can no longer vouch for anything.
	if _, err := store.Validate(context.Background(), fine.Cert, certs.PurposeFileSigning, t0.AddDate(0, 0, 8)); !errors.Is(err, certs.ReasonCRLExpired) {
		t.Fatalf("stale CRL: %v", err)
	}

	// Cross-check the verdicts with OpenSSL's CRL checking.
	openssl := requireTool(t, "openssl")
	caPath := filepath.Join(dir, "ca.pem")
	certtest.WriteFile(t, caPath, ca.CertPEM())
	crlPEM := filepath.Join(dir, "crl.pem")
	run(t, openssl, "crl", "-inform", "DER", "-in", crlPath, "-out", crlPEM)
	for _, c := range []struct {
		leaf    *certtest.Leaf
		revoked bool
	}{{revoked, true}, {fine, false}} {
		lp := filepath.Join(dir, "leaf.pem")
		certtest.WriteFile(t, lp, certtest.PEMCerts(c.leaf.Cert))
		out, err := exec.Command(openssl, "verify", "-attime", "1780315200", "-crl_check", "-CAfile", caPath, "-CRLfile", crlPEM, lp).CombinedOutput()
		if (err != nil) != c.revoked || (c.revoked && !strings.Contains(string(out), "revoked")) {
			t.Fatalf("openssl disagrees for %s: %v\n%s", c.leaf.Cert.Subject.CommonName, err, out)
		}
	}
}

func TestCRLBadSignatureRefused(t *testing.T) {
	clock := certtest.FixedClock(t0)
	ca := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "Partner CA"})
	impostor := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "Partner CA"})
	leaf := ca.Issue(t, certtest.Options{})
	forged := impostor.CRL(t, certtest.CRLOptions{Revoked: []certtest.Revoked{{Cert: leaf.Cert}}})

	store := certs.NewTrustStore(certs.TrustOptions{Clock: clock})
	store.AddRoots(ca.Cert)
	err := store.AddCRLBytes(forged)
	if !errors.Is(err, certs.ReasonCRLInvalid) || !strings.Contains(err.Error(), "issued a CRL whose signature does not verify") {
		t.Fatalf("forged CRL: %v", err)
	}
	// Tampering with a genuine CRL breaks its signature too.
	good := ca.CRL(t, certtest.CRLOptions{})
	good[len(good)-1] ^= 1
	if err := store.AddCRLBytes(good); err == nil {
		t.Fatal("tampered CRL accepted")
	}
	// A CRL from an unknown CA cannot be checked at all.
	stranger := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "Other CA"})
	if err := store.AddCRLBytes(stranger.CRL(t, certtest.CRLOptions{})); !errors.Is(err, certs.ErrCRLIssuerUnknown) {
		t.Fatalf("unknown issuer: %v", err)
	}
	if _, err := store.Validate(context.Background(), leaf.Cert, certs.PurposeFileSigning, time.Time{}); err != nil {
		t.Fatalf("leaf must stay valid: %v", err)
	}
}

func TestCRLDistributionPointFetchAndCache(t *testing.T) {
	clock := certtest.FixedClock(t0)
	ca := certtest.NewCA(t, certtest.Options{Clock: clock})
	var crlDER atomic.Value
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(crlDER.Load().([]byte))
	}))
	defer srv.Close()
	url := srv.URL + "/ca.crl"
	revoked := ca.Issue(t, certtest.Options{CommonName: "gone", CRLDistributionPoints: []string{url}})
	fine := ca.Issue(t, certtest.Options{CommonName: "here", CRLDistributionPoints: []string{url}})
	crlDER.Store(ca.CRL(t, certtest.CRLOptions{Revoked: []certtest.Revoked{{Cert: revoked.Cert}}}))

	fetcher := &certs.CRLFetcher{Client: srv.Client(), Clock: clock}
	store := certs.NewTrustStore(certs.TrustOptions{Clock: clock, CRLFetcher: fetcher, Revocation: certs.RevocationRequired})
	store.AddRoots(ca.Cert)
	if _, err := store.Validate(context.Background(), revoked.Cert, certs.PurposeFileSigning, time.Time{}); !errors.Is(err, certs.ReasonRevoked) {
		t.Fatalf("revoked via distribution point: %v", err)
	}
	if v, err := store.Validate(context.Background(), fine.Cert, certs.PurposeFileSigning, time.Time{}); err != nil || !v.RevocationChecked {
		t.Fatalf("fine: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("CRL fetched %d times, want 1 (cached)", n)
	}

	// A distribution point serving a CRL signed by someone else is an error, not a pass.
	ca2 := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "CA two"})
	victim := ca2.Issue(t, certtest.Options{CRLDistributionPoints: []string{srv.URL + "/two.crl"}})
	crlDER.Store(certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "CA two"}).CRL(t, certtest.CRLOptions{}))
	store.AddRoots(ca2.Cert)
	if _, err := store.Validate(context.Background(), victim.Cert, certs.PurposeFileSigning, time.Time{}); !errors.Is(err, certs.ReasonCRLInvalid) {
		t.Fatalf("forged CRL from distribution point: %v", err)
	}

	// An unreachable distribution point: IfAvailable passes (revocation
	// unchecked), Required refuses.
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/gone.crl"
	down.Close()
	ca4 := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "CA four"})
	unreachable := ca4.Issue(t, certtest.Options{CRLDistributionPoints: []string{downURL}})
	lenient := certs.NewTrustStore(certs.TrustOptions{Clock: clock, CRLFetcher: &certs.CRLFetcher{Clock: clock}})
	lenient.AddRoots(ca4.Cert)
	if v, err := lenient.Validate(context.Background(), unreachable.Cert, certs.PurposeFileSigning, time.Time{}); err != nil || v.RevocationChecked {
		t.Fatalf("unreachable distribution point, if available: %v %+v", err, v)
	}
	store.AddRoots(ca4.Cert)
	if _, err := store.Validate(context.Background(), unreachable.Cert, certs.PurposeFileSigning, time.Time{}); !errors.Is(err, certs.ReasonCRLUnavailable) {
		t.Fatalf("unreachable distribution point, required: %v", err)
	}

	// RevocationRequired with no CRL anywhere refuses; warn mode lets it pass with a warning.
	ca3 := certtest.NewCA(t, certtest.Options{Clock: clock, CommonName: "CA three"})
	noCRL := ca3.Issue(t, certtest.Options{})
	store.AddRoots(ca3.Cert)
	if _, err := store.Validate(context.Background(), noCRL.Cert, certs.PurposeFileSigning, time.Time{}); !errors.Is(err, certs.ReasonCRLUnavailable) {
		t.Fatalf("no CRL, required: %v", err)
	}
	var warned []certs.UntrustedEvent
	warn := certs.NewTrustStore(certs.TrustOptions{Clock: clock, Revocation: certs.RevocationRequired, Untrusted: certs.WarnOnUntrusted,
		OnUntrusted: func(e certs.UntrustedEvent) { warned = append(warned, e) }})
	warn.AddRoots(ca3.Cert)
	v, err := warn.Validate(context.Background(), noCRL.Cert, certs.PurposeFileSigning, time.Time{})
	if err != nil || len(v.Warnings) != 1 || !errors.Is(v.Warnings[0], certs.ReasonCRLUnavailable) || len(warned) != 1 {
		t.Fatalf("no CRL, required, warn mode: %v %+v", err, v)
	}
}

func TestTrustStoreIgnoresDuplicates(t *testing.T) {
	a := certtest.NewCA(t, certtest.Options{CommonName: "A"})
	b := certtest.NewCA(t, certtest.Options{CommonName: "B"})
	store := certs.NewTrustStore(certs.TrustOptions{})
	store.AddRoots(a.Cert, a.Cert, b.Cert)
	store.AddRoots(b.Cert)
	store.AddPartners(b.Cert, b.Cert)
	store.AddPartners(a.Cert, b.Cert)
	roots, partners := store.Roots(), store.Partners()
	if len(roots) != 2 || !roots[0].Equal(a.Cert) || !roots[1].Equal(b.Cert) {
		t.Fatalf("%d roots", len(roots))
	}
	if len(partners) != 2 || !partners[0].Equal(b.Cert) || !partners[1].Equal(a.Cert) {
		t.Fatalf("%d partners", len(partners))
	}
}
