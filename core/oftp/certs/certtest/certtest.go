// Package certtest builds certificate authorities, certificates, CRLs and
// PKCS#12 bundles for tests of packages that use OFTP security. Everything is
// generated in process with the standard library; nothing is read from disk.
//
// With Options.Rand and Options.Clock set, serial numbers, validity periods
// and ECDSA/Ed25519 keys are reproducible. RSA key generation and ECDSA
// signatures always use the system's secure randomness (the standard library
// ignores a caller's reader there), so only Ed25519 certificates are
// byte-for-byte reproducible.
package certtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"software.sslmate.com/src/go-pkcs12"
)

// KeyType selects the key algorithm of a generated certificate.
type KeyType int

const (
	// ECDSAP256 is the default: fast to generate.
	ECDSAP256 KeyType = iota
	// RSA2048 is what OFTP file encryption and secure authentication need.
	RSA2048
	// Ed25519 gives fully reproducible certificates.
	Ed25519
)

// Options describes a certificate to generate. Zero values get sensible
// defaults: a one-year validity starting an hour before Clock(), ECDSA P-256,
// and key usage suitable for the certificate's role.
type Options struct {
	CommonName   string
	Organization string
	KeyType      KeyType
	// NotBefore and NotAfter override the default validity.
	NotBefore, NotAfter time.Time
	// KeyUsage overrides the default key usage; set NoKeyUsage to omit the extension.
	KeyUsage   x509.KeyUsage
	NoKeyUsage bool
	// ExtKeyUsage is copied as is; nil omits the extension.
	ExtKeyUsage []x509.ExtKeyUsage
	DNSNames    []string
	IPAddresses []net.IP
	Emails      []string
	// CRLDistributionPoints are URLs written into the certificate.
	CRLDistributionPoints []string
	// MaxPathLen limits how many intermediates a CA may have below it; zero
	// means unlimited.
	MaxPathLen int
	// Clock and Rand make output reproducible; nil means time.Now and crypto/rand.
	Clock func() time.Time
	Rand  io.Reader
}

func (o *Options) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

func (o *Options) rand() io.Reader {
	if o.Rand != nil {
		return o.Rand
	}
	return rand.Reader
}

// CA is a certificate authority that issues certificates and CRLs.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the CA's issuers up to, but not including, the root.
	Chain []*x509.Certificate

	opts   Options
	mu     sync.Mutex
	serial int64
}

// Leaf is an issued certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the intermediates from the leaf's issuer up to, but not including, the root.
	Chain []*x509.Certificate
}

// GenerateKey makes a key of type kt, reproducibly from r for ECDSA and Ed25519.
func GenerateKey(kt KeyType, r io.Reader) (crypto.Signer, error) {
	switch kt {
	case RSA2048:
		return rsa.GenerateKey(r, 2048)
	case Ed25519:
		seed := make([]byte, ed25519.SeedSize)
		if _, err := io.ReadFull(r, seed); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	default:
		// Read a scalar from r and retry in the (negligible) case it is out of range.
		for {
			d := make([]byte, 32)
			if _, err := io.ReadFull(r, d); err != nil {
				return nil, err
			}
			k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
			if err == nil {
				return k, nil
			}
		}
	}
}

func name(o Options, def string) pkix.Name {
	n := pkix.Name{CommonName: o.CommonName}
	if n.CommonName == "" {
		n.CommonName = def
	}
	if o.Organization != "" {
		n.Organization = []string{o.Organization}
	}
	return n
}

func (o *Options) template(serial int64, def string) *x509.Certificate {
	now := o.now()
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = now.Add(-time.Hour)
	}
	if na.IsZero() {
		na = nb.Add(365 * 24 * time.Hour)
	}
	t := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               name(*o, def),
		NotBefore:             nb,
		NotAfter:              na,
		ExtKeyUsage:           o.ExtKeyUsage,
		DNSNames:              o.DNSNames,
		IPAddresses:           o.IPAddresses,
		EmailAddresses:        o.Emails,
		CRLDistributionPoints: o.CRLDistributionPoints,
	}
	return t
}

// NewCA creates a self-signed root CA.
func NewCA(tb testing.TB, opts Options) *CA {
	tb.Helper()
	key, err := GenerateKey(opts.KeyType, opts.rand())
	if err != nil {
		tb.Fatalf("certtest: CA key: %v", err)
	}
	t := opts.template(1, "OFTP Test Root CA")
	caTemplate(t, opts)
	setKU(t, opts, x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature)
	der, err := x509.CreateCertificate(opts.rand(), t, t, key.Public(), key)
	if err != nil {
		tb.Fatalf("certtest: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("certtest: %v", err)
	}
	return &CA{Cert: cert, Key: key, opts: opts, serial: 1}
}

func caTemplate(t *x509.Certificate, o Options) {
	t.IsCA = true
	t.BasicConstraintsValid = true
	t.MaxPathLen = -1
	if o.MaxPathLen > 0 {
		t.MaxPathLen = o.MaxPathLen
	}
}

func setKU(t *x509.Certificate, o Options, def x509.KeyUsage) {
	switch {
	case o.NoKeyUsage:
		t.KeyUsage = 0
	case o.KeyUsage != 0:
		t.KeyUsage = o.KeyUsage
	default:
		t.KeyUsage = def
	}
}

func (ca *CA) nextSerial() int64 {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.serial++
	return ca.serial
}

func (ca *CA) sign(tb testing.TB, t *x509.Certificate, pub crypto.PublicKey, r io.Reader) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(r, t, ca.Cert, pub, ca.Key)
	if err != nil {
		tb.Fatalf("certtest: issue %s: %v", t.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("certtest: %v", err)
	}
	return cert
}

// NewIntermediate issues a subordinate CA.
func (ca *CA) NewIntermediate(tb testing.TB, opts Options) *CA {
	tb.Helper()
	if opts.Clock == nil {
		opts.Clock = ca.opts.Clock
	}
	key, err := GenerateKey(opts.KeyType, opts.rand())
	if err != nil {
		tb.Fatalf("certtest: intermediate key: %v", err)
	}
	t := opts.template(ca.nextSerial(), "OFTP Test Intermediate CA")
	caTemplate(t, opts)
	setKU(t, opts, x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature)
	cert := ca.sign(tb, t, key.Public(), opts.rand())
	return &CA{Cert: cert, Key: key, Chain: append([]*x509.Certificate{cert}, ca.Chain...), opts: opts, serial: 1}
}

// Issue creates an end-entity certificate. The default key usage is
// digitalSignature + nonRepudiation, plus keyEncipherment for RSA keys: what
// an OFTP partner certificate used for everything carries.
func (ca *CA) Issue(tb testing.TB, opts Options) *Leaf {
	tb.Helper()
	if opts.Clock == nil {
		opts.Clock = ca.opts.Clock
	}
	key, err := GenerateKey(opts.KeyType, opts.rand())
	if err != nil {
		tb.Fatalf("certtest: leaf key: %v", err)
	}
	t := opts.template(ca.nextSerial(), "oftp.test")
	def := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	if opts.KeyType == RSA2048 {
		def |= x509.KeyUsageKeyEncipherment
	}
	setKU(t, opts, def)
	cert := ca.sign(tb, t, key.Public(), opts.rand())
	return &Leaf{Cert: cert, Key: key, Chain: append([]*x509.Certificate(nil), ca.Chain...)}
}

// SelfSigned creates a self-signed end-entity certificate (not a CA), the
// kind partners exchange and pin.
func SelfSigned(tb testing.TB, opts Options) *Leaf {
	tb.Helper()
	key, err := GenerateKey(opts.KeyType, opts.rand())
	if err != nil {
		tb.Fatalf("certtest: key: %v", err)
	}
	t := opts.template(1, "oftp.test")
	t.BasicConstraintsValid = true
	def := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	if opts.KeyType == RSA2048 {
		def |= x509.KeyUsageKeyEncipherment
	}
	setKU(t, opts, def)
	der, err := x509.CreateCertificate(opts.rand(), t, t, key.Public(), key)
	if err != nil {
		tb.Fatalf("certtest: self-signed: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatalf("certtest: %v", err)
	}
	return &Leaf{Cert: cert, Key: key}
}

// Revoked names a certificate to list on a CRL.
type Revoked struct {
	Cert   *x509.Certificate
	At     time.Time // zero: the CRL's ThisUpdate
	Reason int       // RFC 5280 CRLReason code
}

// CRLOptions describes a CRL. Zero ThisUpdate means Clock()-1h; zero
// NextUpdate means ThisUpdate + 7 days.
type CRLOptions struct {
	Number                 int64
	ThisUpdate, NextUpdate time.Time
	Revoked                []Revoked
}

// CRL issues a DER CRL signed by the CA.
func (ca *CA) CRL(tb testing.TB, opts CRLOptions) []byte {
	tb.Helper()
	this := opts.ThisUpdate
	if this.IsZero() {
		this = ca.opts.now().Add(-time.Hour)
	}
	next := opts.NextUpdate
	if next.IsZero() {
		next = this.Add(7 * 24 * time.Hour)
	}
	num := opts.Number
	if num == 0 {
		num = 1
	}
	tmpl := &x509.RevocationList{Number: big.NewInt(num), ThisUpdate: this, NextUpdate: next}
	for _, r := range opts.Revoked {
		at := r.At
		if at.IsZero() {
			at = this
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: r.Cert.SerialNumber, RevocationTime: at, ReasonCode: r.Reason,
		})
	}
	der, err := x509.CreateRevocationList(ca.opts.rand(), tmpl, ca.Cert, ca.Key)
	if err != nil {
		tb.Fatalf("certtest: CRL: %v", err)
	}
	return der
}

// CertPEM returns the CA certificate as PEM.
func (ca *CA) CertPEM() []byte { return PEMCerts(ca.Cert) }

// CertPEM returns the leaf followed by its intermediates, as PEM.
func (l *Leaf) CertPEM() []byte { return PEMCerts(append([]*x509.Certificate{l.Cert}, l.Chain...)...) }

// KeyPEM returns the private key as PKCS#8 PEM.
func (l *Leaf) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		panic("certtest: marshal key: " + err.Error()) // only our own key types reach here
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLSCertificate returns the leaf and chain for crypto/tls.
func (l *Leaf) TLSCertificate() tls.Certificate { return l.KeyPair().TLSCertificate() }

// KeyPair returns the leaf as a certs.KeyPair.
func (l *Leaf) KeyPair() *certs.KeyPair {
	return &certs.KeyPair{Leaf: l.Cert, Chain: l.Chain, Key: l.Key}
}

// PKCS12 encodes the leaf, its key and chain as a modern (AES-256, PBKDF2)
// PKCS#12 bundle.
func (l *Leaf) PKCS12(tb testing.TB, password string) []byte {
	tb.Helper()
	data, err := pkcs12.Modern.Encode(l.Key, l.Cert, l.Chain, password)
	if err != nil {
		tb.Fatalf("certtest: PKCS#12: %v", err)
	}
	return data
}

// WriteFiles writes the leaf (with chain) and key as PEM files into dir and
// returns their paths.
func (l *Leaf) WriteFiles(tb testing.TB, dir, base string) (certPath, keyPath string) {
	tb.Helper()
	certPath = filepath.Join(dir, base+".crt")
	keyPath = filepath.Join(dir, base+".key")
	WriteFile(tb, certPath, l.CertPEM())
	WriteFile(tb, keyPath, l.KeyPEM())
	return certPath, keyPath
}

// WriteFile writes data to path with owner-only permissions.
func WriteFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatalf("certtest: %v", err)
	}
}

// PEMCerts encodes certificates as consecutive PEM blocks.
func PEMCerts(cs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// FixedClock returns a clock that always reads t.
func FixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }
