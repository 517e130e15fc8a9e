package cms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

func TestCertificateFileWithOpenSSL(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")

	p7, err := openssl(t, "crl2pkcs7", "-nocrl", "-certfile", alice.certPath, "-certfile", bob.certPath, "-outform", "DER")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(p7)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(alice.cert) || !certs[1].Equal(bob.cert) {
		t.Fatalf("parsed %d certificates", len(certs))
	}

	ours := CertificatesOnly(certs)
	out, err := openssl(t, "pkcs7", "-inform", "DER", "-in", writeTemp(t, "certs.p7", ours), "-print_certs", "-noout")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "CN = alice") || !strings.Contains(string(out), "CN = bob") {
		t.Fatalf("openssl sees:\n%s", out)
	}
	back, err := ParseCertificates(ours)
	if err != nil || len(back) != 2 {
		t.Fatalf("round trip: %d, %v", len(back), err)
	}
	for n := 0; n < len(ours); n += 97 {
		if _, err := ParseCertificates(ours[:n]); err == nil {
			t.Fatalf("truncated to %d accepted", n)
		}
	}
	if _, err := ParseCertificates(append(append([]byte{}, ours...), 0)); err == nil {
		t.Fatal("trailing octet accepted")
	}
}

// TestCertificateFileWithCRL reads a bundle that also carries a CRL, as
// `openssl crl2pkcs7` writes it from a CRL and certificates: the CRL is skipped.
// Without certificates the file is refused.
func TestCertificateFileWithCRL(t *testing.T) {
	alice := testIdentity(t, "alice")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "crl issuer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	crlPath := writeTemp(t, "ca.crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}))
	withCRL, err := openssl(t, "crl2pkcs7", "-in", crlPath, "-certfile", alice.certPath, "-outform", "DER")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCertificates(withCRL)
	if err != nil || len(got) != 1 || !got[0].Equal(alice.cert) {
		t.Fatalf("bundle with CRL: %d certificates, %v", len(got), err)
	}
	crlOnly, err := openssl(t, "crl2pkcs7", "-in", crlPath, "-outform", "DER")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCertificates(crlOnly); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("bundle without certificates: %v", err)
	}
	if _, err := ParseCertificates(CertificatesOnly(nil)); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("empty certificate set: %v", err)
	}
}

// certsOnlyWith builds a certs-only SignedData around the given CertificateChoices
// octets, with indefinite lengths when indefinite is set (as streaming encoders write it).
func certsOnlyWith(choices []byte, indefinite bool) []byte {
	if !indefinite {
		sd := ber.Sequence(mustMarshal(1), ber.SetOf(), ber.Sequence(mustMarshal(oidData)),
			ber.DER(ber.ClassContext, 0, true, choices), ber.SetOf())
		return ber.Sequence(mustMarshal(oidSignedData), ber.Explicit(0, sd))
	}
	open := func(b []byte, class ber.Class, tag uint32) []byte {
		return ber.AppendHeader(b, class, tag, true, -1)
	}
	b := open(nil, ber.ClassUniversal, ber.TagSequence)
	b = append(b, mustMarshal(oidSignedData)...)
	b = open(b, ber.ClassContext, 0)
	b = open(b, ber.ClassUniversal, ber.TagSequence)
	b = append(b, mustMarshal(1)...)
	b = append(b, ber.SetOf()...)
	b = append(b, ber.Sequence(mustMarshal(oidData))...)
	b = open(b, ber.ClassContext, 0)
	b = append(b, choices...)
	b = append(b, 0, 0)
	b = append(b, ber.SetOf()...)
	return append(b, 0, 0, 0, 0, 0, 0)
}

// TestCertificateFileStrict: in a certificate file the certificates are the content,
// so one that does not parse, another certificate format or too many of them fail the
// file instead of being skipped. BER with indefinite lengths is read like DER.
func TestCertificateFileStrict(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	both := append(append([]byte{}, alice.cert.Raw...), bob.cert.Raw...)
	for _, indefinite := range []bool{false, true} {
		got, err := ParseCertificates(certsOnlyWith(both, indefinite))
		if err != nil || len(got) != 2 || !got[0].Equal(alice.cert) || !got[1].Equal(bob.cert) {
			t.Fatalf("indefinite %v: %d certificates, %v", indefinite, len(got), err)
		}
	}
	damaged := ber.Sequence(mustMarshal(1))                        // a SEQUENCE that is no certificate
	attrCert := ber.DER(ber.ClassContext, 2, true, ber.Sequence()) // v2AttrCert choice
	many := bytes.Repeat(alice.cert.Raw, maxCerts+1)
	for name, choices := range map[string][]byte{
		"damaged certificate":   append(append([]byte{}, alice.cert.Raw...), damaged...),
		"attribute certificate": append(append([]byte{}, alice.cert.Raw...), attrCert...),
		"too many":              many,
	} {
		for _, indefinite := range []bool{false, true} {
			if got, err := ParseCertificates(certsOnlyWith(choices, indefinite)); err == nil {
				t.Errorf("%s (indefinite %v): %d certificates accepted", name, indefinite, len(got))
			}
		}
	}
	if got, err := ParseCertificates(certsOnlyWith(bytes.Repeat(alice.cert.Raw, maxCerts), false)); err != nil || len(got) != maxCerts {
		t.Fatalf("%d certificates: %d, %v", maxCerts, len(got), err)
	}
}
