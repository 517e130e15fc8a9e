package cms

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// CertificatesOnly encodes certificates as a degenerate SignedData (no content, no
// signers), the usual form of a CMS certificate file (RFC 5024 §10.4, SFIDENV 1 with
// neither security nor compression), as `openssl crl2pkcs7 -nocrl` writes it.
func CertificatesOnly(certs []*x509.Certificate) []byte {
	var raws [][]byte
	for _, c := range certs {
		raws = append(raws, c.Raw)
	}
	sd := ber.Sequence(
		mustMarshal(1),
		ber.SetOf(), // no digest algorithms
		ber.Sequence(mustMarshal(oidData)),
		ber.DER(ber.ClassContext, 0, true, raws...),
		ber.SetOf(), // no signers
	)
	return ber.Sequence(mustMarshal(oidSignedData), ber.Explicit(0, sd))
}

// ErrNoCertificate reports a certificate file that holds no certificate.
var ErrNoCertificate = errors.New("cms: certificate file carries no certificate")

// ParseCertificates returns the certificates of a CMS certificate file (a degenerate
// SignedData, BER or DER). The file carries no signature: whether to trust what it
// holds is for the application to decide. A certificate that does not parse, another
// certificate format, more than 32 certificates or one beyond 64 KiB fail the whole
// file; so does a file without certificates (ErrNoCertificate).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	s, err := newSignedReader(ber.NewReader(bytes.NewReader(data), 4<<10), VerifyOptions{})
	if err != nil {
		return nil, fmt.Errorf("cms: certificate file: %w", err)
	}
	if s.content != nil {
		return nil, errors.New("cms: certificate file carries content")
	}
	certs, _, err := s.readTail(false, true)
	if err != nil {
		return nil, fmt.Errorf("cms: certificate file: %w", noEOF(err))
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	return certs, nil
}
