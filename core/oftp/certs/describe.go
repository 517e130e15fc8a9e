package certs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
)

// Describe writes a plain-text explanation of certs for a user debugging a
// partner setup: names, validity, key, usages and the OFTP purposes they
// allow, fingerprints, and whether each certificate chains to trust (when
// trust is nil, the trust check is left out). Certificates after the first
// are used as intermediates when checking the ones before them, as in a chain
// file. The time is trust's clock, or now without a trust store.
func Describe(w io.Writer, certs []*x509.Certificate, trust *TrustStore) error {
	at := time.Now()
	if trust != nil {
		at = trust.Now()
	}
	return DescribeAt(w, certs, trust, at)
}

// DescribeAt is Describe at a given time.
func DescribeAt(w io.Writer, certs []*x509.Certificate, trust *TrustStore, at time.Time) error {
	if len(certs) == 0 {
		return ErrNoCertificate
	}
	bw := bufio.NewWriter(w)
	for i, c := range certs {
		if i > 0 {
			bw.WriteString("\n")
		}
		fmt.Fprintf(bw, "Certificate %d of %d: %s\n", i+1, len(certs), CertName(c))
		describeOne(bw, c, certs[i:], trust, at)
	}
	return bw.Flush()
}

func describeOne(w *bufio.Writer, c *x509.Certificate, chain []*x509.Certificate, trust *TrustStore, at time.Time) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-16s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	line("Subject", "%s", c.Subject.String())
	issuer := c.Issuer.String()
	if bytes.Equal(c.RawIssuer, c.RawSubject) {
		issuer += " (self-issued)"
	}
	line("Issuer", "%s", issuer)
	line("Serial", "%s", formatSerial(c.SerialNumber))
	line("Valid from", "%s", c.NotBefore.UTC().Format("2006-01-02 15:04:05 UTC"))
	line("Valid until", "%s (%s)", c.NotAfter.UTC().Format("2006-01-02 15:04:05 UTC"), validityNote(c, at))
	line("Public key", "%s", keyTypeName(c))
	line("Signature", "%s", c.SignatureAlgorithm.String())
	if c.KeyUsage == 0 {
		line("Key usage", "(extension absent: any)")
	} else {
		line("Key usage", "%s", describeKeyUsage(c.KeyUsage))
	}
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		line("Ext. key usage", "(extension absent: any)")
	} else {
		line("Ext. key usage", "%s", describeExtKeyUsage(c))
	}
	if c.BasicConstraintsValid && c.IsCA {
		switch {
		case c.MaxPathLenZero:
			line("CA", "yes (may issue end-entity certificates only)")
		case c.MaxPathLen > 0:
			line("CA", "yes (path length %d)", c.MaxPathLen)
		default:
			line("CA", "yes")
		}
	} else {
		line("CA", "no")
	}
	if sans := describeSANs(c); sans != "" {
		line("Names (SAN)", "%s", sans)
	}
	if len(c.CRLDistributionPoints) > 0 {
		line("CRL", "%s", strings.Join(c.CRLDistributionPoints, ", "))
	}
	sha1 := FingerprintSHA1(c)
	sha256 := FingerprintSHA256(c)
	spki := SPKIFingerprintSHA256(c)
	line("SHA-1", "%s", FormatFingerprint(sha1[:]))
	line("SHA-256", "%s", FormatFingerprint(sha256[:]))
	line("SPKI SHA-256", "%s", FormatFingerprint(spki[:]))

	if !(c.BasicConstraintsValid && c.IsCA) {
		var fit []string
		var unfit []string
		for _, p := range Purposes {
			err := CheckPurpose(c, p)
			if err == nil {
				fit = append(fit, p.String())
				continue
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				unfit = append(unfit, p.String()+": "+strings.TrimPrefix(ve.Detail, "cannot be used for "+p.String()+": "))
			}
		}
		if len(fit) == 0 {
			fit = []string{"(nothing)"}
		}
		line("Fit for", "%s", strings.Join(fit, ", "))
		for _, u := range unfit {
			line("Not fit for", "%s", u)
		}
	}
	line("Trust", "%s", describeTrust(c, chain, trust, at))
}

func formatSerial(n *big.Int) string {
	if n == nil {
		return "(none)"
	}
	b := n.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	s := FormatFingerprint(b)
	if n.Sign() < 0 {
		s = "-" + s
	}
	return s + " (" + n.String() + ")"
}

func validityNote(c *x509.Certificate, at time.Time) string {
	switch {
	case at.Before(c.NotBefore):
		return "not valid yet: starts in " + strings.TrimSuffix(relDays(c.NotBefore.Sub(at), ""), " ")
	case at.After(c.NotAfter):
		return "expired " + relDays(at.Sub(c.NotAfter), "ago")
	}
	return relDays(c.NotAfter.Sub(at), "remaining")
}

func describeSANs(c *x509.Certificate) string {
	var parts []string
	for _, d := range c.DNSNames {
		parts = append(parts, "DNS:"+d)
	}
	for _, ip := range c.IPAddresses {
		parts = append(parts, "IP:"+ip.String())
	}
	for _, e := range c.EmailAddresses {
		parts = append(parts, "email:"+e)
	}
	for _, u := range c.URIs {
		parts = append(parts, "URI:"+u.String())
	}
	return strings.Join(parts, ", ")
}

func describeTrust(c *x509.Certificate, chain []*x509.Certificate, trust *TrustStore, at time.Time) string {
	if trust == nil {
		return "not checked (no trust store configured)"
	}
	if c.BasicConstraintsValid && c.IsCA {
		for _, r := range trust.Roots() {
			if bytes.Equal(r.Raw, c.Raw) {
				return "trusted root in the trust store"
			}
		}
	}
	v, err := trust.validate(context.Background(), chain, 0, at, false, false)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return "NOT TRUSTED: " + ve.Detail
		}
		return "NOT TRUSTED: " + err.Error()
	}
	var b strings.Builder
	switch {
	case !v.Trusted:
		b.WriteString("accepted with warning (untrusted certificates allowed): " + v.Warnings[0].Detail)
	case v.Partner:
		b.WriteString("trusted as a partner certificate")
	default:
		b.WriteString("trusted: chains to root " + fmt.Sprintf("%q", v.Chain[len(v.Chain)-1].Subject.String()))
		if len(v.Chain) > 2 {
			var via []string
			for _, ic := range v.Chain[1 : len(v.Chain)-1] {
				via = append(via, fmt.Sprintf("%q", ic.Subject.String()))
			}
			b.WriteString(" via " + strings.Join(via, ", "))
		}
	}
	if v.RevocationChecked {
		b.WriteString("; not revoked (CRL checked)")
	} else if trust.opts.Revocation != RevocationOff {
		b.WriteString("; revocation not checked (no CRL loaded)")
	}
	return b.String()
}

// Inspect returns the Describe text for cert (and any chain certificates
// given after it), for logs and error reports.
func Inspect(trust *TrustStore, cert *x509.Certificate, chain ...*x509.Certificate) string {
	var b strings.Builder
	if err := Describe(&b, append([]*x509.Certificate{cert}, chain...), trust); err != nil {
		return "certificate: " + err.Error()
	}
	return b.String()
}
