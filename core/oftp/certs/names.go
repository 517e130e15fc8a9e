package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
)

// CertName is the short name used for a certificate in messages: its first
// DNS name, else its common name, else its full subject.
func CertName(cert *x509.Certificate) string {
	if cert == nil {
		return "(no certificate)"
	}
	if len(cert.DNSNames) > 0 {
		return cert.DNSNames[0]
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName
	}
	if s := cert.Subject.String(); s != "" {
		return s
	}
	return "serial " + cert.SerialNumber.String()
}

func keyTypeName(cert *x509.Certificate) string {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return cert.PublicKeyAlgorithm.String()
}

// FingerprintSHA256 is the SHA-256 digest of the DER certificate.
func FingerprintSHA256(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.Raw) }

// FingerprintSHA1 is the SHA-1 digest of the DER certificate, still what many
// partners read to each other on the phone.
func FingerprintSHA1(cert *x509.Certificate) [20]byte { return sha1.Sum(cert.Raw) }

// SPKIFingerprintSHA256 is the SHA-256 digest of the DER SubjectPublicKeyInfo;
// it stays the same when a partner renews a certificate with the same key.
func SPKIFingerprintSHA256(cert *x509.Certificate) [32]byte {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// FormatFingerprint writes a digest as colon-separated upper-case hex, the
// form certificate viewers show.
func FormatFingerprint(sum []byte) string {
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}
