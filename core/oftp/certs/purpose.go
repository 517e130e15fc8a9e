package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// Purpose is what a certificate is about to be used for. The OFTP purposes
// follow the certificate types of OFTP 2.0 products (session authentication,
// file encryption/decryption, file signing/verification, receipt signing); the
// TLS purposes cover the transport (RFC 5024 §2.3).
//
// Key usage rules follow RFC 5280 §4.2.1.3: when the key usage extension is
// absent the key is unrestricted; when present it must contain the bits
// listed below. Extended key usage is checked only for the TLS purposes:
// RFC 5024 defines no EKU for CMS use, and certificates issued for OFTP
// commonly carry TLS EKUs while also signing and decrypting files, so
// enforcing EKU there would refuse certificates partners already exchange.
type Purpose int

const (
	// PurposeTLSServer: the responder's TLS certificate. Key usage (if present)
	// must include digitalSignature, because only ECDHE and TLS 1.3 suites are
	// offered and the server signs the key exchange. EKU (if present) must
	// include serverAuth or anyExtendedKeyUsage.
	PurposeTLSServer Purpose = iota + 1
	// PurposeTLSClient: the initiator's TLS client certificate. Key usage (if
	// present) must include digitalSignature. EKU: the certificate must carry
	// id-kp-clientAuth (1.3.6.1.5.5.7.3.2), or anyExtendedKeyUsage, or no EKU
	// extension at all; any other EKU list (e.g. serverAuth only) is refused,
	// as the Odette interoperability tests require.
	PurposeTLSClient
	// PurposeSessionAuthentication: OFTP secure authentication (AUCH/AURP,
	// RFC 5024 §4.2.3): the challenge is a CMS EnvelopedData encrypted to the
	// partner's RSA key, so the key must be RSA and key usage (if present)
	// must include keyEncipherment.
	PurposeSessionAuthentication
	// PurposeFileEncryption: CMS EnvelopedData for files (SFIDSEC 01/03):
	// RSA key transport (cipher suites 01..06 use RSA_PKCS1_15), so the key
	// must be RSA and key usage (if present) must include keyEncipherment.
	// Used both for the partner's certificate (encrypt) and our own (decrypt).
	PurposeFileEncryption
	// PurposeFileSigning: CMS SignedData over files (SFIDSEC 02/03). Key usage
	// (if present) must include digitalSignature or contentCommitment
	// (nonRepudiation), the S/MIME rule of RFC 3850 §4.4.2.
	PurposeFileSigning
	// PurposeReceiptSigning: signed EERP/NERP (SFIDSIGN=Y), non-repudiation of
	// receipt. Same rule as PurposeFileSigning.
	PurposeReceiptSigning
)

// Purposes lists every purpose in a stable order.
var Purposes = []Purpose{
	PurposeTLSServer, PurposeTLSClient, PurposeSessionAuthentication,
	PurposeFileEncryption, PurposeFileSigning, PurposeReceiptSigning,
}

var purposeNames = map[Purpose]string{
	PurposeTLSServer:             "TLS server",
	PurposeTLSClient:             "TLS client",
	PurposeSessionAuthentication: "OFTP session authentication",
	PurposeFileEncryption:        "file encryption/decryption",
	PurposeFileSigning:           "file signing",
	PurposeReceiptSigning:        "receipt (EERP/NERP) signing",
}

func (p Purpose) String() string {
	if s, ok := purposeNames[p]; ok {
		return s
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// CheckPurpose reports whether cert's key usage, extended key usage and key
// type allow purpose p. A refusal is a *ValidationError with ReasonWrongUsage.
func CheckPurpose(cert *x509.Certificate, p Purpose) error {
	var problem string
	switch p {
	case PurposeTLSServer:
		problem = needKU(cert, x509.KeyUsageDigitalSignature)
		if problem == "" {
			problem = needEKU(cert, x509.ExtKeyUsageServerAuth)
		}
	case PurposeTLSClient:
		problem = needKU(cert, x509.KeyUsageDigitalSignature)
		if problem == "" {
			problem = needEKU(cert, x509.ExtKeyUsageClientAuth)
		}
	case PurposeSessionAuthentication, PurposeFileEncryption:
		if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok {
			problem = "has key type " + keyTypeName(cert) + ", but OFTP encryption needs RSA (key transport)"
		} else {
			problem = needKU(cert, x509.KeyUsageKeyEncipherment)
		}
	case PurposeFileSigning, PurposeReceiptSigning:
		problem = needKU(cert, x509.KeyUsageDigitalSignature, x509.KeyUsageContentCommitment)
	default:
		return fmt.Errorf("certs: unknown purpose %d", int(p))
	}
	if problem == "" {
		return nil
	}
	return &ValidationError{
		Reason: ReasonWrongUsage,
		Name:   CertName(cert),
		Detail: "cannot be used for " + p.String() + ": it " + problem,
		Cert:   cert,
	}
}

// needKU returns "" if the key usage extension is absent or contains any of
// the wanted bits, otherwise a description of the gap.
func needKU(cert *x509.Certificate, anyOf ...x509.KeyUsage) string {
	if cert.KeyUsage == 0 {
		return ""
	}
	var names []string
	for _, ku := range anyOf {
		if cert.KeyUsage&ku != 0 {
			return ""
		}
		names = append(names, keyUsageName(ku))
	}
	return "has key usage " + describeKeyUsage(cert.KeyUsage) + " without " + strings.Join(names, " or ")
}

// needEKU returns "" if the EKU extension is absent, lists want, or lists
// anyExtendedKeyUsage.
func needEKU(cert *x509.Certificate, want x509.ExtKeyUsage) string {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return ""
	}
	for _, e := range cert.ExtKeyUsage {
		if e == want || e == x509.ExtKeyUsageAny {
			return ""
		}
	}
	return "has extended key usage " + describeExtKeyUsage(cert) + " without " + extKeyUsageName(want)
}

// FitPurposes returns the purposes cert's key usage allows.
func FitPurposes(cert *x509.Certificate) []Purpose {
	var out []Purpose
	for _, p := range Purposes {
		if CheckPurpose(cert, p) == nil {
			out = append(out, p)
		}
	}
	return out
}

var keyUsageNames = []struct {
	ku   x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "nonRepudiation"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func keyUsageName(ku x509.KeyUsage) string {
	for _, k := range keyUsageNames {
		if k.ku == ku {
			return k.name
		}
	}
	return fmt.Sprintf("keyUsage(%d)", int(ku))
}

func describeKeyUsage(ku x509.KeyUsage) string {
	if ku == 0 {
		return "(none)"
	}
	var names []string
	for _, k := range keyUsageNames {
		if ku&k.ku != 0 {
			names = append(names, k.name)
		}
	}
	return strings.Join(names, ", ")
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "anyExtendedKeyUsage",
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

func extKeyUsageName(e x509.ExtKeyUsage) string {
	if s, ok := extKeyUsageNames[e]; ok {
		return s
	}
	return fmt.Sprintf("extKeyUsage(%d)", int(e))
}

func describeExtKeyUsage(cert *x509.Certificate) string {
	var names []string
	for _, e := range cert.ExtKeyUsage {
		names = append(names, extKeyUsageName(e))
	}
	for _, oid := range cert.UnknownExtKeyUsage {
		names = append(names, oid.String())
	}
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
