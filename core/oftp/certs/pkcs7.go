package certs

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// oidSignedData is id-signedData (RFC 5652 §5.1).
var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

type pkcs7ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type pkcs7SignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo asn1.RawValue
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue
}

// ErrPKCS7 marks input that is not a DER PKCS#7 / CMS SignedData with certificates.
var ErrPKCS7 = errors.New("certs: not a PKCS#7 certificate bundle")

// ParsePKCS7Certificates returns the certificates of a "certs-only" PKCS#7
// SignedData (.p7b / .p7c, DER), the form in which Odette publishes its TSL
// signing certificates and many CAs their chains. Signatures in the bundle,
// if any, are not checked: the result is a list of certificates, nothing more.
// BER indefinite-length encodings are not accepted.
//
// cms.ParseCertificates reads the same structure, BER included, for OFTP
// certificate exchange; certs keeps this small DER reader so that loading
// certificates does not depend on the CMS library. FuzzPKCS7 checks that the two
// read bundles alike.
func ParsePKCS7Certificates(der []byte) ([]*x509.Certificate, error) {
	var ci pkcs7ContentInfo
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPKCS7, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: trailing data", ErrPKCS7)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: content type %s is not signedData", ErrPKCS7, ci.ContentType)
	}
	var sd pkcs7SignedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: SignedData: %v", ErrPKCS7, err)
	}
	if len(sd.Certificates.Bytes) == 0 {
		return nil, ErrNoCertificate
	}
	// The SET OF CertificateChoices holds plain certificates back to back;
	// other choices (attribute certificates) make the parse fail.
	certs, err := x509.ParseCertificates(sd.Certificates.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPKCS7, err)
	}
	return certs, nil
}
