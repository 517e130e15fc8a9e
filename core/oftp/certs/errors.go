package certs

import (
	"crypto/x509"
	"errors"
)

// Reason classifies why a certificate was refused. Reason values are errors
// themselves so callers can test with errors.Is(err, certs.ReasonExpired).
type Reason int

// The reasons follow the failure list RFC 5024 §11 quotes from RFC 3850.
const (
	ReasonExpired        Reason = iota + 1 // validity period ended
	ReasonNotYetValid                      // validity period not started
	ReasonUntrusted                        // no chain to a trusted root, and not a trusted partner certificate
	ReasonRevoked                          // listed on the issuer's CRL
	ReasonWrongUsage                       // key usage / extended key usage does not allow the OFTP purpose
	ReasonCRLInvalid                       // CRL signature or encoding is bad
	ReasonCRLExpired                       // the only CRL available is past its nextUpdate
	ReasonCRLUnavailable                   // revocation was required but no CRL could be obtained
)

var reasonText = map[Reason]string{
	ReasonExpired:        "certificate expired",
	ReasonNotYetValid:    "certificate not yet valid",
	ReasonUntrusted:      "certificate not trusted",
	ReasonRevoked:        "certificate revoked",
	ReasonWrongUsage:     "certificate not usable for this purpose",
	ReasonCRLInvalid:     "invalid CRL",
	ReasonCRLExpired:     "CRL expired",
	ReasonCRLUnavailable: "no CRL available",
}

// Error returns a short description of the reason.
func (r Reason) Error() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return "certificate rejected"
}

// String is the same as Error.
func (r Reason) String() string { return r.Error() }

// ValidationError reports a refused certificate in terms a user can act on:
// "certificate for oftp.example.com expired on 2026-01-02 (25 days ago)".
type ValidationError struct {
	Reason Reason
	// Name is how the certificate is referred to: its first DNS name, its
	// common name, or its subject.
	Name string
	// Detail completes the sentence after the name, e.g. "expired on 2026-01-02".
	Detail string
	// Cert is the certificate the error is about (may be a chain member).
	Cert *x509.Certificate
	// Err is the underlying cause, if any (an x509 or CRL parse error).
	Err error
}

func (e *ValidationError) Error() string {
	s := "certificate for " + e.Name + " " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (e *ValidationError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ReasonX) true for a ValidationError with that reason.
func (e *ValidationError) Is(target error) bool {
	r, ok := target.(Reason)
	return ok && r == e.Reason
}

// Load errors.
var (
	// ErrNoCertificate means the input held no certificate.
	ErrNoCertificate = errors.New("certs: no certificate found")
	// ErrNoPrivateKey means the input held no private key.
	ErrNoPrivateKey = errors.New("certs: no private key found")
	// ErrKeyMismatch means a private key does not belong to the certificate it was paired with.
	ErrKeyMismatch = errors.New("certs: private key does not match the certificate's public key")
	// ErrEncryptedPEM means a PEM key is password-encrypted; legacy PEM
	// encryption is insecure and unsupported: convert the key to PKCS#12.
	ErrEncryptedPEM = errors.New("certs: encrypted PEM private keys are not supported; use a PKCS#12 file instead")
	// ErrUnsupportedKey means the key type cannot sign (and so cannot be used by OFTP).
	ErrUnsupportedKey = errors.New("certs: unsupported private key type")
	// ErrPKCS12Password means the PKCS#12 password is wrong (or the file's integrity check failed).
	ErrPKCS12Password = errors.New("certs: wrong PKCS#12 password (or the file is damaged)")
	// ErrTooLarge means an input exceeded MaxInputSize.
	ErrTooLarge = errors.New("certs: input too large")
	// ErrCRLIssuerUnknown means a CRL was issued by a CA that is not in the trust store,
	// so its signature cannot be checked.
	ErrCRLIssuerUnknown = errors.New("certs: CRL issuer is not in the trust store")
)
