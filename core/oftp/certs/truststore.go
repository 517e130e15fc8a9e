package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"sync"
	"time"
)

// UntrustedPolicy decides what happens when a certificate does not chain to
// a trusted root (the FailOnUntrustedCert setting of OFTP products).
type UntrustedPolicy int

const (
	// FailOnUntrusted refuses untrusted certificates. The default.
	FailOnUntrusted UntrustedPolicy = iota
	// WarnOnUntrusted reports untrusted certificates through
	// TrustOptions.OnUntrusted and the logger, and lets the operation go on.
	// Expired, not-yet-valid, revoked and wrongly used certificates are still
	// refused: those are never a matter of local trust configuration.
	WarnOnUntrusted
)

// RevocationMode decides how missing revocation information is treated.
type RevocationMode int

const (
	// RevocationIfAvailable checks every CRL that is loaded or can be fetched
	// from the certificate's CRL distribution points; a certificate without
	// reachable CRL passes. The default.
	RevocationIfAvailable RevocationMode = iota
	// RevocationRequired refuses a certificate whose issuer's CRL cannot be
	// obtained (ReasonCRLUnavailable; downgraded to a warning by WarnOnUntrusted).
	RevocationRequired
	// RevocationOff skips revocation checks.
	RevocationOff
)

// UntrustedEvent describes a certificate that was accepted only because
// WarnOnUntrusted is set.
type UntrustedEvent struct {
	Cert    *x509.Certificate
	Purpose Purpose
	Err     *ValidationError
}

// TrustOptions configures a TrustStore.
type TrustOptions struct {
	Untrusted  UntrustedPolicy
	Revocation RevocationMode
	// OnUntrusted is called for every certificate accepted under
	// WarnOnUntrusted. It must not block.
	OnUntrusted func(UntrustedEvent)
	// CRLFetcher fetches CRLs from distribution point URLs; nil means only
	// CRLs added with AddCRL are used.
	CRLFetcher *CRLFetcher
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// TrustStore holds what a connector trusts: root CAs (for instance imported
// from the Odette TSL), intermediates, partner certificates trusted directly
// (exchanged out of band, possibly self-signed) and CRLs. It is safe for
// concurrent use.
type TrustStore struct {
	opts TrustOptions

	mu            sync.RWMutex
	roots         []*x509.Certificate
	intermediates []*x509.Certificate
	partners      []*x509.Certificate
	crls          map[string]*crlEntry // by issuer RawSubject
}

// crlEntry is a CRL whose signature was verified against signer, indexed by
// serial number so a lookup does not scan the list.
type crlEntry struct {
	crl     *x509.RevocationList
	signer  []byte // Raw of the CA certificate that verified it
	revoked map[string]x509.RevocationListEntry
}

func newCRLEntry(crl *x509.RevocationList, signer *x509.Certificate) *crlEntry {
	e := &crlEntry{crl: crl, signer: signer.Raw, revoked: make(map[string]x509.RevocationListEntry, len(crl.RevokedCertificateEntries))}
	for _, r := range crl.RevokedCertificateEntries {
		if r.SerialNumber != nil {
			e.revoked[serialKey(r.SerialNumber)] = r
		}
	}
	return e
}

// NewTrustStore returns an empty store.
func NewTrustStore(opts TrustOptions) *TrustStore {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &TrustStore{opts: opts, crls: make(map[string]*crlEntry)}
}

// Now returns the store's clock reading.
func (s *TrustStore) Now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock()
	}
	return time.Now()
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if bytes.Equal(x.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// addNew appends to *list the certificates it does not hold yet and returns how
// many it added.
func addNew(list *[]*x509.Certificate, certs []*x509.Certificate) int {
	added := 0
	for _, c := range certs {
		if !containsCert(*list, c) {
			*list = append(*list, c)
			added++
		}
	}
	return added
}

// AddRoots adds trust anchors. Duplicates are ignored.
func (s *TrustStore) AddRoots(certs ...*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addNew(&s.roots, certs)
}

// AddIntermediates adds CA certificates that may complete a chain but are not
// trusted on their own.
func (s *TrustStore) AddIntermediates(certs ...*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addNew(&s.intermediates, certs)
}

// AddPartners adds end-entity certificates trusted as they are, without a
// chain (a partner's self-signed certificate, or one received by OFTP
// certificate exchange and confirmed by fingerprint). Validity period, usage
// and revocation are still checked.
func (s *TrustStore) AddPartners(certs ...*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	addNew(&s.partners, certs)
}

// LoadRootsFile adds every certificate in a PEM or DER file as a root.
func (s *TrustStore) LoadRootsFile(path string) error {
	certs, err := LoadCertificates(path)
	if err != nil {
		return err
	}
	s.AddRoots(certs...)
	return nil
}

// Roots returns a copy of the trust anchors.
func (s *TrustStore) Roots() []*x509.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*x509.Certificate(nil), s.roots...)
}

// Partners returns a copy of the directly trusted partner certificates.
func (s *TrustStore) Partners() []*x509.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]*x509.Certificate(nil), s.partners...)
}

// CertPool returns the roots as an x509.CertPool.
func (s *TrustStore) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range s.Roots() {
		p.AddCert(c)
	}
	return p
}

// caCandidates returns the CA certificates with the given subject.
func (s *TrustStore) caCandidates(rawSubject []byte) []*x509.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*x509.Certificate
	for _, list := range [][]*x509.Certificate{s.roots, s.intermediates} {
		for _, c := range list {
			if bytes.Equal(c.RawSubject, rawSubject) {
				out = append(out, c)
			}
		}
	}
	return out
}

// AddCRL verifies crl's signature against a CA in the store and keeps it for
// revocation checks, replacing an older CRL from the same issuer. A CRL whose
// signature does not verify is refused with ReasonCRLInvalid; one from a CA
// the store does not hold is refused with ErrCRLIssuerUnknown (add an issuing
// CA with AddIntermediates before its CRL).
func (s *TrustStore) AddCRL(crl *x509.RevocationList) error {
	cands := s.caCandidates(crl.RawIssuer)
	if len(cands) == 0 {
		return fmt.Errorf("%w: %s", ErrCRLIssuerUnknown, crl.Issuer)
	}
	var sigErr error
	for _, ca := range cands {
		if sigErr = crl.CheckSignatureFrom(ca); sigErr == nil {
			s.storeCRL(newCRLEntry(crl, ca))
			return nil
		}
	}
	return &ValidationError{
		Reason: ReasonCRLInvalid,
		Name:   cands[0].Subject.CommonName,
		Detail: "issued a CRL whose signature does not verify",
		Cert:   cands[0],
		Err:    sigErr,
	}
}

func (s *TrustStore) storeCRL(e *crlEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := string(e.crl.RawIssuer)
	if old, ok := s.crls[key]; ok && newerCRL(old.crl, e.crl) {
		return
	}
	s.crls[key] = e
}

// newerCRL reports whether a is newer than b (by CRL number, then thisUpdate).
func newerCRL(a, b *x509.RevocationList) bool {
	if a.Number != nil && b.Number != nil && a.Number.Cmp(b.Number) != 0 {
		return a.Number.Cmp(b.Number) > 0
	}
	return a.ThisUpdate.After(b.ThisUpdate)
}

// AddCRLBytes parses a DER or PEM ("X509 CRL") CRL and adds it; see AddCRL.
func (s *TrustStore) AddCRLBytes(data []byte) error {
	crl, err := ParseCRL(data)
	if err != nil {
		return err
	}
	return s.AddCRL(crl)
}

// LoadCRLFile reads a DER or PEM CRL file and adds it; see AddCRL.
func (s *TrustStore) LoadCRLFile(path string) error {
	_, err := loadFile(path, func(data []byte) (struct{}, error) { return struct{}{}, s.AddCRLBytes(data) })
	return err
}

// Verdict is the outcome of a successful validation.
type Verdict struct {
	// Chain runs from the validated certificate to its trust anchor; for a
	// directly trusted partner certificate it holds that certificate only.
	Chain []*x509.Certificate
	// Partner is true when the certificate is trusted as a partner certificate.
	Partner bool
	// Trusted is false only when WarnOnUntrusted let an untrusted certificate pass.
	Trusted bool
	// RevocationChecked is true when a CRL covered every certificate in Chain
	// below the anchor.
	RevocationChecked bool
	// Warnings lists problems WarnOnUntrusted downgraded.
	Warnings []*ValidationError
}

// Validate checks cert for purpose at time at (zero means the store's clock):
// validity period, key usage, chain to a trusted root or partner
// certificate, and revocation. See ValidateChain.
func (s *TrustStore) Validate(ctx context.Context, cert *x509.Certificate, p Purpose, at time.Time) (*Verdict, error) {
	return s.ValidateChain(ctx, []*x509.Certificate{cert}, p, at)
}

// ValidateChain validates chain[0] using chain[1:] as untrusted
// intermediates (as a TLS peer presents them). Refusals are *ValidationError.
func (s *TrustStore) ValidateChain(ctx context.Context, chain []*x509.Certificate, p Purpose, at time.Time) (*Verdict, error) {
	return s.validate(ctx, chain, p, at, true, true)
}

// validate is ValidateChain with switches for Describe, which must neither
// touch the network nor fire callbacks, and may skip the usage check.
func (s *TrustStore) validate(ctx context.Context, chain []*x509.Certificate, p Purpose, at time.Time, online, checkUsage bool) (*Verdict, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, ErrNoCertificate
	}
	if at.IsZero() {
		at = s.Now()
	}
	leaf := chain[0]
	if err := checkValidity(leaf, at); err != nil {
		return nil, err
	}
	if checkUsage {
		if err := CheckPurpose(leaf, p); err != nil {
			return nil, err
		}
	}
	v := &Verdict{Trusted: true}
	s.mu.RLock()
	partner := containsCert(s.partners, leaf)
	s.mu.RUnlock()
	if partner {
		v.Partner = true
		v.Chain = []*x509.Certificate{leaf}
	} else {
		verified, err := s.buildChain(chain, at)
		if err != nil {
			if err.Reason != ReasonUntrusted || s.opts.Untrusted != WarnOnUntrusted {
				return nil, err
			}
			s.warn(v, leaf, p, err, online)
			v.Trusted = false
			v.Chain = []*x509.Certificate{leaf}
		} else {
			v.Chain = verified
		}
	}
	if s.opts.Revocation == RevocationOff {
		return v, nil
	}
	checked, err := s.checkRevocation(ctx, v.Chain, chain, at, online)
	if err != nil {
		if err.Reason == ReasonCRLUnavailable && s.opts.Untrusted == WarnOnUntrusted {
			s.warn(v, err.Cert, p, err, online)
			return v, nil
		}
		return nil, err
	}
	v.RevocationChecked = checked
	return v, nil
}

func (s *TrustStore) warn(v *Verdict, cert *x509.Certificate, p Purpose, err *ValidationError, online bool) {
	v.Warnings = append(v.Warnings, err)
	if !online {
		return
	}
	s.opts.Logger.Warn("accepting certificate despite failed check (WarnOnUntrusted)",
		"certificate", CertName(cert), "purpose", p.String(), "reason", err.Error())
	if s.opts.OnUntrusted != nil {
		s.opts.OnUntrusted(UntrustedEvent{Cert: cert, Purpose: p, Err: err})
	}
}

// CheckValidity reports whether at lies within cert's validity period, with
// an error saying when it expired or when it starts.
func CheckValidity(cert *x509.Certificate, at time.Time) error {
	if err := checkValidity(cert, at); err != nil {
		return err
	}
	return nil
}

// checkValidity gives the validity period errors their own clear message.
func checkValidity(cert *x509.Certificate, at time.Time) *ValidationError {
	if at.Before(cert.NotBefore) {
		return &ValidationError{
			Reason: ReasonNotYetValid, Name: CertName(cert), Cert: cert,
			Detail: fmt.Sprintf("is not valid before %s (%s)", cert.NotBefore.UTC().Format(time.DateOnly), relDays(cert.NotBefore.Sub(at), "from now")),
		}
	}
	if at.After(cert.NotAfter) {
		return &ValidationError{
			Reason: ReasonExpired, Name: CertName(cert), Cert: cert,
			Detail: fmt.Sprintf("expired on %s (%s)", cert.NotAfter.UTC().Format(time.DateOnly), relDays(at.Sub(cert.NotAfter), "ago")),
		}
	}
	return nil
}

// relDays renders a duration as whole days ("3 days ago"), or hours below a day.
func relDays(d time.Duration, suffix string) string {
	days := int(math.Floor(d.Hours() / 24))
	switch {
	case days >= 2:
		return fmt.Sprintf("%d days %s", days, suffix)
	case days == 1:
		return "1 day " + suffix
	}
	h := int(d.Hours())
	if h == 1 {
		return "1 hour " + suffix
	}
	return fmt.Sprintf("%d hours %s", h, suffix)
}

// buildChain verifies chain[0] against the roots with x509's path building
// (signatures, CA flags, name constraints, chain validity at time at). EKU is
// handled by CheckPurpose, so any EKU is let through here.
func (s *TrustStore) buildChain(chain []*x509.Certificate, at time.Time) ([]*x509.Certificate, *ValidationError) {
	leaf := chain[0]
	s.mu.RLock()
	roots := x509.NewCertPool()
	for _, c := range s.roots {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	for _, c := range s.intermediates {
		inter.AddCert(c)
	}
	nroots := len(s.roots)
	s.mu.RUnlock()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err == nil {
		return chains[0], nil
	}
	ve := &ValidationError{Reason: ReasonUntrusted, Name: CertName(leaf), Cert: leaf}
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case nroots == 0:
		ve.Detail = "cannot be checked: the trust store has no root certificates"
	case errors.As(err, &ua):
		if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
			ve.Detail = "is self-signed and not in the trust store"
		} else {
			ve.Detail = fmt.Sprintf("was issued by %q, which does not chain to any of the %d trusted roots", leaf.Issuer.String(), nroots)
		}
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		ve.Reason = ReasonExpired
		ve.Detail = fmt.Sprintf("has an issuing CA %q that is expired or not yet valid", ci.Cert.Subject.String())
		if sub := checkValidity(ci.Cert, at); sub != nil {
			ve.Reason = sub.Reason
			ve.Detail = fmt.Sprintf("has an issuing CA %q that %s", ci.Cert.Subject.String(), sub.Detail)
		}
		ve.Cert = ci.Cert
	default:
		ve.Detail = "does not chain to a trusted root"
		ve.Err = err
	}
	return nil, ve
}

// checkRevocation checks every certificate of the verified chain below the
// anchor against its issuer's CRL. presented helps find the issuer of a
// partner certificate. It reports whether every certificate was covered.
func (s *TrustStore) checkRevocation(ctx context.Context, verified, presented []*x509.Certificate, at time.Time, online bool) (bool, *ValidationError) {
	all := true
	last := len(verified) - 1
	if len(verified) == 1 {
		last = 1 // a partner certificate or untrusted leaf: check it if its issuer is known
	}
	for i := 0; i < last && i < len(verified); i++ {
		cert := verified[i]
		issuer := s.findIssuer(cert, verified, presented, i)
		if issuer == nil {
			all = false
			continue
		}
		crl, err := s.crlFor(ctx, cert, issuer, at, online)
		if err != nil {
			return false, err
		}
		if crl == nil {
			all = false
			if s.opts.Revocation == RevocationRequired {
				return false, &ValidationError{Reason: ReasonCRLUnavailable, Name: CertName(cert), Cert: cert,
					Detail: fmt.Sprintf("cannot be checked for revocation: no CRL from %q is available", issuer.Subject.String())}
			}
			continue
		}
		if e, ok := crl.revoked[serialKey(cert.SerialNumber)]; ok && !e.RevocationTime.After(at) {
			detail := "was revoked on " + e.RevocationTime.UTC().Format(time.DateOnly)
			if r, ok := crlReasons[e.ReasonCode]; ok && e.ReasonCode != 0 {
				detail += " (reason: " + r + ")"
			}
			return false, &ValidationError{Reason: ReasonRevoked, Name: CertName(cert), Cert: cert, Detail: detail}
		}
	}
	return all, nil
}

// serialKey is the map key of a serial number (sign included: negative
// serials exist in old certificates).
func serialKey(n *big.Int) string {
	if n == nil {
		return ""
	}
	if n.Sign() < 0 {
		return "-" + string(n.Bytes())
	}
	return string(n.Bytes())
}

func (s *TrustStore) findIssuer(cert *x509.Certificate, verified, presented []*x509.Certificate, i int) *x509.Certificate {
	if i+1 < len(verified) {
		return verified[i+1]
	}
	for _, list := range [][]*x509.Certificate{presented, s.caCandidates(cert.RawIssuer)} {
		for _, c := range list {
			if bytes.Equal(c.RawSubject, cert.RawIssuer) && cert.CheckSignatureFrom(c) == nil {
				return c
			}
		}
	}
	return nil
}

// crlFor returns a usable CRL from issuer for cert: a stored one, or one
// fetched from cert's distribution points. A nil CRL and nil error mean none
// is available.
func (s *TrustStore) crlFor(ctx context.Context, cert, issuer *x509.Certificate, at time.Time, online bool) (*crlEntry, *ValidationError) {
	s.mu.RLock()
	e := s.crls[string(issuer.RawSubject)]
	s.mu.RUnlock()
	if e != nil && !bytes.Equal(e.signer, issuer.Raw) && e.crl.CheckSignatureFrom(issuer) != nil {
		e = nil // same subject, different key: not this issuer's CRL
	}
	if (e == nil || crlStale(e.crl, at)) && online && s.opts.CRLFetcher != nil {
		for _, url := range cert.CRLDistributionPoints {
			fetched, err := s.opts.CRLFetcher.Fetch(ctx, url)
			if err != nil {
				s.opts.Logger.Warn("CRL download failed", "url", url, "error", err)
				continue
			}
			if !bytes.Equal(fetched.RawIssuer, issuer.RawSubject) || fetched.CheckSignatureFrom(issuer) != nil {
				return nil, &ValidationError{Reason: ReasonCRLInvalid, Name: CertName(cert), Cert: cert,
					Detail: fmt.Sprintf("has a CRL at %s that is not signed by its issuer %q", url, issuer.Subject.String())}
			}
			e = newCRLEntry(fetched, issuer)
			s.storeCRL(e)
			break
		}
	}
	if e == nil {
		return nil, nil
	}
	if crlStale(e.crl, at) {
		return nil, &ValidationError{Reason: ReasonCRLExpired, Name: CertName(cert), Cert: cert,
			Detail: fmt.Sprintf("cannot be checked for revocation: the CRL from %q expired on %s", issuer.Subject.String(), e.crl.NextUpdate.UTC().Format(time.DateOnly))}
	}
	return e, nil
}

func crlStale(crl *x509.RevocationList, at time.Time) bool {
	return !crl.NextUpdate.IsZero() && at.After(crl.NextUpdate)
}

// crlReasons names the RFC 5280 §5.3.1 CRLReason codes.
var crlReasons = map[int]string{
	0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
	4: "superseded", 5: "cessationOfOperation", 6: "certificateHold",
	8: "removeFromCRL", 9: "privilegeWithdrawn", 10: "aACompromise",
}
