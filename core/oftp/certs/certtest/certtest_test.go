package certtest_test

import (
	"bytes"
	"crypto/x509"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

func TestReproducibleEd25519(t *testing.T) {
	gen := func() (*certtest.CA, *certtest.Leaf) {
		o := certtest.Options{KeyType: certtest.Ed25519, Rand: mrand.NewChaCha8([32]byte{1}), Clock: certtest.FixedClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
		ca := certtest.NewCA(t, o)
		return ca, ca.Issue(t, o)
	}
	ca1, l1 := gen()
	ca2, l2 := gen()
	if !bytes.Equal(ca1.Cert.Raw, ca2.Cert.Raw) || !bytes.Equal(l1.Cert.Raw, l2.Cert.Raw) || !bytes.Equal(l1.KeyPEM(), l2.KeyPEM()) {
		t.Fatal("same seed and clock gave different certificates")
	}
}

func TestChainVerifiesWithX509(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	inter := ca.NewIntermediate(t, certtest.Options{})
	leaf := inter.Issue(t, certtest.Options{KeyType: certtest.RSA2048, DNSNames: []string{"a.example"}})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	inters := x509.NewCertPool()
	for _, c := range leaf.Chain {
		inters.AddCert(c)
	}
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: "a.example", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	if leaf.Cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Fatal("RSA leaf lacks keyEncipherment by default")
	}
}

func TestPKCS12AndCRL(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	leaf := ca.Issue(t, certtest.Options{})
	kp, err := certs.ParsePKCS12(leaf.PKCS12(t, "pw"), "pw")
	if err != nil || !kp.Leaf.Equal(leaf.Cert) {
		t.Fatalf("PKCS#12: %v", err)
	}
	crl, err := x509.ParseRevocationList(ca.CRL(t, certtest.CRLOptions{Number: 7, Revoked: []certtest.Revoked{{Cert: leaf.Cert, Reason: 4}}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatal(err)
	}
	if crl.Number.Int64() != 7 || len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 || crl.RevokedCertificateEntries[0].ReasonCode != 4 {
		t.Fatalf("CRL content: %+v", crl)
	}
}
