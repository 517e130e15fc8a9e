package certs_test

import (
	"bytes"
	"crypto/x509"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

const describeDir = "testdata/describe"

var describeAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// writeDescribeInputs regenerates the certificates Describe is tested on.
// They are committed, because RSA keys cannot be generated reproducibly.
func writeDescribeInputs(t *testing.T) {
	rnd := mrand.NewChaCha8([32]byte{'d', 'e', 's', 'c', 'r', 'i', 'b', 'e'})
	clock := certtest.FixedClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	base := certtest.Options{KeyType: certtest.Ed25519, Rand: rnd, Clock: clock, Organization: "Example Automotive"}
	opt := func(mod func(*certtest.Options)) certtest.Options { o := base; mod(&o); return o }

	root := certtest.NewCA(t, opt(func(o *certtest.Options) {
		o.CommonName = "Example OFTP2 Root"
		o.NotBefore, o.NotAfter = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC)
	}))
	inter := root.NewIntermediate(t, opt(func(o *certtest.Options) {
		o.CommonName = "Example OFTP2 Issuing CA"
		o.MaxPathLen = 1
		o.NotBefore, o.NotAfter = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	}))
	rsaLeaf := inter.Issue(t, opt(func(o *certtest.Options) {
		o.KeyType = certtest.RSA2048
		o.CommonName = "O0013000000PARTNER"
		o.DNSNames = []string{"oftp.partner.example"}
		o.Emails = []string{"edi@partner.example"}
		o.CRLDistributionPoints = []string{"http://crl.example/issuing.crl"}
		o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}
		o.NotBefore, o.NotAfter = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	}))
	expired := certtest.SelfSigned(t, opt(func(o *certtest.Options) {
		o.CommonName = "old.partner.example"
		o.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		o.NotBefore, o.NotAfter = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	}))
	if err := os.MkdirAll(describeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	certtest.WriteFile(t, filepath.Join(describeDir, "root.pem"), root.CertPEM())
	certtest.WriteFile(t, filepath.Join(describeDir, "partner-chain.pem"), rsaLeaf.CertPEM())
	certtest.WriteFile(t, filepath.Join(describeDir, "expired-self-signed.pem"), certtest.PEMCerts(expired.Cert))
}

func TestDescribeGolden(t *testing.T) {
	if *update {
		if _, err := os.Stat(filepath.Join(describeDir, "root.pem")); os.IsNotExist(err) {
			writeDescribeInputs(t)
		}
	}
	load := func(name string) []*x509.Certificate {
		cs, err := certs.LoadCertificates(filepath.Join(describeDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	store := certs.NewTrustStore(certs.TrustOptions{Clock: certtest.FixedClock(describeAt)})
	if err := store.LoadRootsFile(filepath.Join(describeDir, "root.pem")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	chain := load("partner-chain.pem")
	if err := certs.Describe(&out, chain, store); err != nil {
		t.Fatal(err)
	}
	if got := certs.Inspect(store, chain[0], chain[1:]...); got != out.String() {
		t.Fatalf("Inspect differs from Describe:\n%s", got)
	}
	out.WriteString("\n---- without the issuing CA, against the same trust store ----\n\n")
	if err := certs.Describe(&out, chain[:1], store); err != nil {
		t.Fatal(err)
	}
	out.WriteString("\n---- expired self-signed certificate, no trust store ----\n\n")
	if err := certs.DescribeAt(&out, load("expired-self-signed.pem"), nil, describeAt); err != nil {
		t.Fatal(err)
	}
	out.WriteString("\n---- root certificate ----\n\n")
	if err := certs.Describe(&out, load("root.pem"), store); err != nil {
		t.Fatal(err)
	}

	golden := filepath.Join(describeDir, "describe.golden")
	if *update {
		certtest.WriteFile(t, golden, out.Bytes())
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("Describe output differs from %s (run with -update after checking):\n%s", golden, out.String())
	}
	for _, must := range []string{"213 days remaining", "expired 150 days ago", "RSA 2048-bit", "Fit for:", "NOT TRUSTED"} {
		if !strings.Contains(out.String(), must) {
			t.Errorf("output lacks %q", must)
		}
	}
}
