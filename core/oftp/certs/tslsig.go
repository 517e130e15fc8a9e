package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// FetchTSL downloads a TSL (such as Odette's published list) and verifies
// its signature with ParseSignedTSL; a list fetched over the network is never
// used unverified. client nil means a client with a one-minute timeout that
// does not follow redirects (a redirect is reported as an error).
func FetchTSL(ctx context.Context, client *http.Client, url string, signers []*x509.Certificate, at time.Time) (*TSL, error) {
	if client == nil {
		client = &http.Client{
			Timeout: time.Minute,
			CheckRedirect: func(req *http.Request, _ []*http.Request) error {
				return fmt.Errorf("certs: TSL download redirected to %s; configure that URL instead", req.URL.Redacted())
			},
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("certs: TSL URL: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("certs: TSL download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("certs: TSL download %s: HTTP %s", req.URL.Redacted(), resp.Status)
	}
	return ParseSignedTSL(resp.Body, signers, at)
}
