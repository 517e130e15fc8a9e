package filesec

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// Certificate exchange (the "exchange_certificate" feature of OFTP 2.0 products and
// Odette's Security Certificate Exchange recommendation): certificates travel as
// ordinary virtual files with reserved dataset names.
//
// What we could verify: the three dataset names, and that one independent
// implementation sends one certificate in DER as an unsecured U file (SFIDSEC 00,
// SFIDENV 0) and accepts PEM, with the logical identification of a replaced
// certificate in SFIDDESC. What we could not verify: the Odette recommendation
// itself (not in our reference material), whether some products send a CMS
// SignedData "certs-only" (degenerate PKCS #7) instead, and the SFIDDESC syntax. So
// we read all three payload forms (DER certificate, PEM, certs-only SignedData in BER
// or DER, several certificates allowed) and send DER by default, certs-only on
// request.
const (
	RequestFileName = "ODETTE_CERTIFICATE_REQUEST"
	DeliverFileName = "ODETTE_CERTIFICATE_DELIVER"
	ReplaceFileName = "ODETTE_CERTIFICATE_REPLACE"
)

// MaxCertificatePayload bounds a received certificate file; certificate chains are a
// few KiB.
const MaxCertificatePayload = 256 << 10

// ExchangeKind is the meaning of a certificate exchange file.
type ExchangeKind int

// Kinds, as the seed's CertificateExchangeType numbers them.
const (
	// ExchangeRequest carries the sender's certificate and asks for ours back
	// (answered with a Deliver, possibly in a later session).
	ExchangeRequest ExchangeKind = iota
	// ExchangeReplace carries a certificate that replaces the sender's previous one.
	// Both stay trusted until the new one has been used (a file signature or receipt
	// that verified with it); encryption switches to the new one at once.
	ExchangeReplace
	// ExchangeDeliver carries an additional certificate (an answer to a request, or a
	// renewal); earlier ones stay valid until they expire.
	ExchangeDeliver
)

func (k ExchangeKind) String() string {
	switch k {
	case ExchangeRequest:
		return "request"
	case ExchangeReplace:
		return "replace"
	case ExchangeDeliver:
		return "deliver"
	}
	return fmt.Sprintf("ExchangeKind(%d)", int(k))
}

// FileName returns the reserved dataset name of the kind.
func (k ExchangeKind) FileName() string {
	switch k {
	case ExchangeRequest:
		return RequestFileName
	case ExchangeReplace:
		return ReplaceFileName
	}
	return DeliverFileName
}

// KindOf returns the exchange kind of a dataset name (case and trailing spaces
// ignored).
func KindOf(datasetName string) (ExchangeKind, bool) {
	switch strings.ToUpper(strings.TrimSpace(datasetName)) {
	case RequestFileName:
		return ExchangeRequest, true
	case ReplaceFileName:
		return ExchangeReplace, true
	case DeliverFileName:
		return ExchangeDeliver, true
	}
	return 0, false
}

// IsCertificateExchange reports whether a dataset name is a certificate exchange file.
func IsCertificateExchange(datasetName string) bool {
	_, ok := KindOf(datasetName)
	return ok
}

// PayloadFormat selects how certificates are written into an exchange file.
type PayloadFormat int

const (
	// PayloadDER is the certificate in DER (one certificate).
	PayloadDER PayloadFormat = iota
	// PayloadCertsOnly is a CMS SignedData without content and signers that carries
	// the certificates (RFC 5652 §5, "certs-only", as openssl crl2pkcs7 -nocrl
	// writes it).
	PayloadCertsOnly
)

// EncodeCertificates writes certificates as an exchange file payload.
func EncodeCertificates(cs []*x509.Certificate, f PayloadFormat) ([]byte, error) {
	if len(cs) == 0 {
		return nil, errors.New("filesec: no certificate to send")
	}
	switch f {
	case PayloadDER:
		if len(cs) != 1 {
			return nil, errors.New("filesec: a DER payload carries one certificate")
		}
		return append([]byte(nil), cs[0].Raw...), nil
	case PayloadCertsOnly:
		return cms.CertificatesOnly(cs), nil
	}
	return nil, fmt.Errorf("filesec: payload format %d", int(f))
}

// ErrCertificatePayload reports an exchange file that holds no readable certificate.
var ErrCertificatePayload = errors.New("filesec: certificate exchange file holds no certificate")

// ParseCertificatePayload reads the certificates of an exchange file: DER, PEM, or a
// certs-only CMS SignedData (BER or DER). It never reads beyond
// MaxCertificatePayload octets.
func ParseCertificatePayload(b []byte) ([]*x509.Certificate, error) {
	if len(b) > MaxCertificatePayload {
		return nil, fmt.Errorf("%w: %d octets exceed %d", ErrCertificatePayload, len(b), MaxCertificatePayload)
	}
	if bytes.Contains(b, []byte("-----BEGIN ")) {
		var out []*x509.Certificate
		rest := b
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", ErrCertificatePayload, err)
				}
				out = append(out, c)
			} else if blk.Type == "PKCS7" || blk.Type == "CMS" {
				cs, err := parseCertsOnly(blk.Bytes)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: no CERTIFICATE block", ErrCertificatePayload)
		}
		return out, nil
	}
	if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil
	}
	return parseCertsOnly(b)
}

// parseCertsOnly reads a certs-only SignedData with package cms, which takes BER and
// DER and refuses a file with a damaged certificate or none at all.
func parseCertsOnly(b []byte) ([]*x509.Certificate, error) {
	cs, err := cms.ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertificatePayload, err)
	}
	return cs, nil
}

// CertificateFile returns a virtual file that sends our certificate to a partner
// (the seed's exchange_certificate). destination is the partner's SFID code, empty
// for the session default. The file is sent unsecured, as format U.
func CertificateFile(kind ExchangeKind, cert *x509.Certificate, f PayloadFormat, destination string) (*oftp.OutgoingFile, error) {
	payload, err := EncodeCertificates([]*x509.Certificate{cert}, f)
	if err != nil {
		return nil, err
	}
	return &oftp.OutgoingFile{
		DatasetName: kind.FileName(),
		Destination: destination,
		Format:      oftp.FormatUnstructured,
		Size:        int64(len(payload)),
		Source: oftp.SourceFunc(func(_ context.Context, off int64) (io.ReadCloser, error) {
			if off > int64(len(payload)) {
				return nil, fmt.Errorf("filesec: restart at %d beyond the certificate file", off)
			}
			return io.NopCloser(bytes.NewReader(payload[off:])), nil
		}),
	}, nil
}

// CertificateEvent is a certificate a partner sent.
type CertificateEvent struct {
	Partner      string
	Kind         ExchangeKind
	Certificates []*x509.Certificate
	File         oftp.IncomingFile
	// Validation is the trust store's (or validity check's) verdict on the first
	// certificate; nil when it validated. With the default decision a failed
	// validation refuses the file.
	Validation error
}

// ErrCertificateRefused is the cause of an EFNA for a certificate we did not take.
var ErrCertificateRefused = errors.New("filesec: certificate refused")

// certificateSink collects a certificate exchange file (bounded) and decides at
// Commit; the next sink stores the file only when the certificate was accepted.
type certificateSink struct {
	s    *Security
	inc  oftp.IncomingFile
	kind ExchangeKind
	p    *partnerState
	next oftp.Sink
	buf  bytes.Buffer
	err  error
}

func (s *Security) certificateSink(_ context.Context, inc *oftp.IncomingFile, next oftp.Sink) (oftp.Sink, error) {
	kind, _ := KindOf(inc.DatasetName)
	p, err := s.partner(inc.Originator, inc.PartnerSSID)
	if err != nil {
		return nil, refuse(reasonUnspecified, err)
	}
	if inc.SecurityLevel != 0 || inc.Compressed {
		return nil, refuse(reasonUnspecified, errors.New("certificate exchange files travel unsecured"))
	}
	return &certificateSink{s: s, inc: *inc, kind: kind, p: p, next: next}, nil
}

func (c *certificateSink) Write(b []byte) (int, error) {
	if c.buf.Len()+len(b) > MaxCertificatePayload {
		c.err = fmt.Errorf("%w: more than %d octets", ErrCertificatePayload, MaxCertificatePayload)
		return 0, c.err
	}
	c.buf.Write(b)
	return c.next.Write(b)
}

func (c *certificateSink) Abort(ctx context.Context) error { return c.next.Abort(ctx) }

func (c *certificateSink) Location() string {
	if l, ok := c.next.(oftp.Locator); ok {
		return l.Location()
	}
	return ""
}

func (c *certificateSink) Commit(ctx context.Context) error {
	if err := c.s.receiveCertificate(ctx, c); err != nil {
		_ = c.next.Abort(context.WithoutCancel(ctx))
		return &oftp.ReasonError{Cmd: "EFNA", Code: reasonUnspecified, Text: "certificate not accepted", Err: err}
	}
	return c.next.Commit(ctx)
}

func (s *Security) receiveCertificate(ctx context.Context, c *certificateSink) error {
	if c.err != nil {
		return c.err
	}
	list, err := ParseCertificatePayload(c.buf.Bytes())
	if err != nil {
		return err
	}
	leaf := list[0]
	ev := CertificateEvent{Partner: c.p.cfg.SSIDCode, Kind: c.kind, Certificates: list, File: c.inc}
	if s.cfg.Trust != nil {
		_, ev.Validation = s.cfg.Trust.ValidateChain(ctx, list, certs.PurposeFileSigning, s.now())
	} else {
		ev.Validation = certs.CheckValidity(leaf, s.now())
	}
	if s.cfg.Events.CertificateReceived != nil {
		if err := s.cfg.Events.CertificateReceived(ctx, ev); err != nil {
			return fmt.Errorf("%w: %w", ErrCertificateRefused, err)
		}
	} else if ev.Validation != nil {
		return fmt.Errorf("%w: %w", ErrCertificateRefused, ev.Validation)
	}
	s.mu.Lock()
	all := map[certs.Purpose]bool{}
	for _, pu := range filePurposes {
		all[pu] = true
	}
	var old []*certEntry
	for _, e := range c.p.entries {
		if !bytes.Equal(e.cert.Raw, leaf.Raw) {
			old = append(old, e)
		}
	}
	e := c.p.add(leaf, all)
	if c.kind == ExchangeReplace {
		e.replaces = old
	}
	s.mu.Unlock()
	s.log.Info("partner certificate received", "partner", ev.Partner, "kind", c.kind.String(),
		"cert", certs.CertName(leaf), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	return nil
}

// Rollover decides when to announce our next certificate to partners with a
// REPLACE before the current one expires.
type Rollover struct {
	Current, Next *x509.Certificate
	// Lead is how long before Current expires the REPLACE goes out (default 30
	// days), so that partners have the new certificate while the old one still works.
	Lead time.Duration
}

// ErrNoOverlap reports a next certificate that starts only after the current one
// expired: partners would have no valid certificate of ours in between.
var ErrNoOverlap = errors.New("filesec: next certificate does not overlap the current one")

// Due reports whether the REPLACE should be sent at now, and when it is (was) due:
// Lead before Current expires, but not before Next becomes valid.
func (r Rollover) Due(now time.Time) (bool, time.Time, error) {
	if r.Current == nil || r.Next == nil {
		return false, time.Time{}, errors.New("filesec: roll-over needs the current and the next certificate")
	}
	if !r.Next.NotBefore.Before(r.Current.NotAfter) {
		return false, time.Time{}, ErrNoOverlap
	}
	lead := r.Lead
	if lead <= 0 {
		lead = 30 * 24 * time.Hour
	}
	at := r.Current.NotAfter.Add(-lead)
	if at.Before(r.Next.NotBefore) {
		at = r.Next.NotBefore
	}
	return !now.Before(at), at, nil
}
