package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// ErrTSLSignature marks a TSL whose XML signature is missing, does not
// verify, or was made by a certificate that is not a trusted TSL signer.
var ErrTSLSignature = errors.New("certs: TSL signature check failed")

// ParseSignedTSL verifies the list's enveloped XML signature (XMLDSig, as
// Odette signs its TSL) and parses only the signed content, so nothing
// outside the signature can add trust anchors. The signing certificate
// carried in the signature must be one of signers (Odette publishes its TSL
// signing certificates separately) and valid at time at.
func ParseSignedTSL(r io.Reader, signers []*x509.Certificate, at time.Time) (*TSL, error) {
	if len(signers) == 0 {
		return nil, fmt.Errorf("%w: no trusted TSL signer certificates configured", ErrTSLSignature)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxTSLSize+1))
	if err != nil {
		return nil, fmt.Errorf("certs: TSL: %w", err)
	}
	if len(data) > MaxTSLSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrTSL, MaxTSLSize)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTSL, err)
	}
	if doc.Root() == nil {
		return nil, fmt.Errorf("%w: no root element", ErrTSL)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: signers})
	vc.IdAttribute = "Id" // ETSI TS 119 612 names the list's ID attribute "Id"
	vc.Clock = dsig.NewFakeClockAt(at)
	signed, err := vc.Validate(doc.Root())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTSLSignature, err)
	}
	out := etree.NewDocument()
	out.SetRoot(signed)
	verified, err := out.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("certs: TSL: %w", err)
	}
	return ParseTSL(bytes.NewReader(verified))
}
