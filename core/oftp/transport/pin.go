package transport

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/oftp2/connector/core/oftp/certs"
)

// PinKind says what a Pin's digest covers.
type PinKind int

const (
	// PinCertificate pins the SHA-256 of the whole DER certificate: exactly
	// one certificate is accepted (what "accept this server certificate" means).
	PinCertificate PinKind = iota
	// PinPublicKey pins the SHA-256 of the SubjectPublicKeyInfo: a renewed
	// certificate with the same key is still accepted.
	PinPublicKey
)

// Pin accepts one specific server certificate even when it does not chain to
// a trusted root (a partner's self-signed certificate, exchanged out of band).
type Pin struct {
	Kind   PinKind
	SHA256 [32]byte
}

// PinOf returns the certificate pin of cert.
func PinOf(cert *x509.Certificate) Pin {
	return Pin{Kind: PinCertificate, SHA256: sha256.Sum256(cert.Raw)}
}

// PublicKeyPinOf returns the public key pin of cert.
func PublicKeyPinOf(cert *x509.Certificate) Pin {
	return Pin{Kind: PinPublicKey, SHA256: sha256.Sum256(cert.RawSubjectPublicKeyInfo)}
}

// ParsePin reads the forms users copy from certificate viewers and tools:
//
//	sha256:AB:CD:...           certificate fingerprint (hex, colons optional)
//	spki-sha256:AB:CD:...      public key fingerprint (hex)
//	pin-sha256:BASE64          public key fingerprint (base64, as in HPKP)
func ParsePin(s string) (Pin, error) {
	kind, val, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Pin{}, fmt.Errorf("transport: pin %q: want sha256:HEX, spki-sha256:HEX or pin-sha256:BASE64", s)
	}
	var p Pin
	var raw []byte
	var err error
	switch strings.ToLower(kind) {
	case "sha256":
		p.Kind = PinCertificate
		raw, err = hex.DecodeString(strings.ReplaceAll(val, ":", ""))
	case "spki-sha256":
		p.Kind = PinPublicKey
		raw, err = hex.DecodeString(strings.ReplaceAll(val, ":", ""))
	case "pin-sha256":
		p.Kind = PinPublicKey
		raw, err = base64.StdEncoding.DecodeString(strings.Trim(val, `"`))
	default:
		return Pin{}, fmt.Errorf("transport: pin %q: unknown kind %q", s, kind)
	}
	if err != nil {
		return Pin{}, fmt.Errorf("transport: pin %q: %w", s, err)
	}
	if len(raw) != sha256.Size {
		return Pin{}, fmt.Errorf("transport: pin %q: digest has %d bytes, want 32", s, len(raw))
	}
	copy(p.SHA256[:], raw)
	return p, nil
}

// String renders the pin in the form ParsePin reads.
func (p Pin) String() string {
	if p.Kind == PinPublicKey {
		return "spki-sha256:" + certs.FormatFingerprint(p.SHA256[:])
	}
	return "sha256:" + certs.FormatFingerprint(p.SHA256[:])
}

// Matches reports whether cert is the pinned certificate (or carries the pinned key).
func (p Pin) Matches(cert *x509.Certificate) bool {
	var sum [32]byte
	if p.Kind == PinPublicKey {
		sum = sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	} else {
		sum = sha256.Sum256(cert.Raw)
	}
	return subtle.ConstantTimeCompare(sum[:], p.SHA256[:]) == 1
}
