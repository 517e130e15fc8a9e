package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
)

// cipherSuites are the TLS 1.2 suites offered and accepted: ECDHE key
// exchange (forward secrecy) with AEAD ciphers only. TLS 1.3 suites are not
// configurable in crypto/tls and are all forward secret.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
}

// CipherSuites returns the TLS 1.2 cipher suites this package allows.
func CipherSuites() []uint16 { return append([]uint16(nil), cipherSuites...) }

// ErrHostMismatch marks a server certificate that does not name the host dialled.
var ErrHostMismatch = errors.New("certificate does not match the host name")

// ErrPinMismatch marks a server certificate refused because pins were
// configured as the only trust and none matched.
var ErrPinMismatch = errors.New("certificate does not match any pinned fingerprint")

// CertificateError reports a partner certificate refused during the TLS
// handshake. Unwrap yields the *certs.ValidationError (or ErrHostMismatch /
// ErrPinMismatch), so errors.Is(err, certs.ReasonExpired) works.
type CertificateError struct {
	// Role is "server" when we are the client checking the responder, "client"
	// when we are the responder checking the initiator.
	Role string
	// Name is the host name dialled (Role "server") or the certificate's name.
	Name   string
	Detail string
	Err    error
}

func (e *CertificateError) Error() string {
	return "tls: partner certificate for " + e.Name + " " + e.Detail
}

// Unwrap returns the validation error.
func (e *CertificateError) Unwrap() error { return e.Err }

func certError(role, name string, leaf *x509.Certificate, err error) *CertificateError {
	ce := &CertificateError{Role: role, Name: name, Err: err}
	var ve *certs.ValidationError
	switch {
	case errors.As(err, &ve) && ve.Name == certs.CertName(leaf):
		ce.Detail = ve.Detail
		if ve.Err != nil {
			ce.Detail += " (" + ve.Err.Error() + ")"
		}
	case errors.As(err, &ve):
		// The problem is with a certificate of the chain, not the partner's own.
		ce.Detail = "has a refused chain certificate: " + ve.Error()
	default:
		ce.Detail = err.Error()
	}
	return ce
}

// ClientTLS configures the initiator's side of OFTP over TLS.
type ClientTLS struct {
	// ServerName is the partner host name the certificate must match (and
	// the SNI sent). ConfigFor fills it from the address being dialled.
	ServerName string
	// Trust holds trusted roots, partner certificates and CRLs. If nil, a
	// strict store is built from RootFiles.
	Trust *certs.TrustStore
	// RootFiles are PEM or DER files of trusted root certificates, added to Trust.
	RootFiles []string
	// SystemRoots also trusts the operating system's roots.
	SystemRoots bool
	// Pins accept specific server certificates even when they do not chain
	// to a trusted root. Validity period is still checked; host name is not
	// (the pin identifies the certificate). Pinning by itself does not refuse
	// other certificates that do chain to a trusted root unless PinOnly is set.
	Pins []Pin
	// PinOnly accepts only pinned certificates.
	PinOnly bool
	// Certificate is our client certificate for mutual TLS. Alternatively
	// CertFile+KeyFile (PEM or DER) or PKCS12File+PKCS12Password.
	Certificate    *certs.KeyPair
	CertFile       string
	KeyFile        string
	PKCS12File     string
	PKCS12Password string
	// MinVersion is tls.VersionTLS12 (default) or tls.VersionTLS13.
	MinVersion uint16
	// Clock is used for certificate checks; nil means Trust's clock or time.Now.
	Clock func() time.Time
	// Logger receives certificate warnings; nil discards them.
	Logger *slog.Logger
	// OnServerCertificate, if set, sees every server certificate with our
	// verdict (Err nil means accepted) and makes the final decision: return
	// nil to accept, an error to refuse. It lets an application ask a user,
	// or record what a partner presented.
	OnServerCertificate func(ServerCertificate) error
}

// ServerCertificate is what OnServerCertificate decides on.
type ServerCertificate struct {
	ServerName string
	// Chain is what the server presented, its own certificate first.
	Chain []*x509.Certificate
	// Err is our verdict: nil, or a *CertificateError.
	Err error
}

// ServerTLS configures the responder's side of OFTP over TLS.
type ServerTLS struct {
	// Certificate is the responder's certificate, or CertFile+KeyFile, or
	// PKCS12File+PKCS12Password.
	Certificate    *certs.KeyPair
	CertFile       string
	KeyFile        string
	PKCS12File     string
	PKCS12Password string
	// ClientAuth decides whether initiators must present a certificate.
	ClientAuth ClientAuthMode
	// ClientTrust validates client certificates; if nil, a strict store is
	// built from ClientCAFiles.
	ClientTrust   *certs.TrustStore
	ClientCAFiles []string
	// MinVersion is tls.VersionTLS12 (default) or tls.VersionTLS13.
	MinVersion uint16
	// Clock is used for certificate checks; nil means ClientTrust's clock or time.Now.
	Clock func() time.Time
	// Logger receives refused client certificates; nil discards them.
	Logger *slog.Logger
}

// ClientAuthMode selects mutual TLS on the responder.
type ClientAuthMode int

const (
	// NoClientCert does not ask for a client certificate (RFC 5024 §1.7: only
	// the responder needs one).
	NoClientCert ClientAuthMode = iota
	// OptionalClientCert asks for one and validates it if presented.
	OptionalClientCert
	// RequireClientCert refuses initiators without a valid client certificate.
	RequireClientCert
)

func minVersion(v uint16) (uint16, error) {
	switch v {
	case 0:
		return tls.VersionTLS12, nil
	case tls.VersionTLS12, tls.VersionTLS13:
		return v, nil
	}
	return 0, fmt.Errorf("transport: TLS version %s is not allowed; the minimum is TLS 1.2", tls.VersionName(v))
}

func loadKeyPair(kp *certs.KeyPair, certFile, keyFile, p12File, p12Password string) (*certs.KeyPair, error) {
	switch {
	case kp != nil:
		return kp, nil
	case p12File != "":
		return certs.LoadPKCS12(p12File, p12Password)
	case certFile != "" || keyFile != "":
		if certFile == "" || keyFile == "" {
			return nil, errors.New("transport: a certificate file needs its key file and vice versa")
		}
		return certs.LoadKeyPair(certFile, keyFile)
	}
	return nil, nil
}

func buildTrust(trust *certs.TrustStore, files []string, clock func() time.Time, logger *slog.Logger) (*certs.TrustStore, error) {
	if trust == nil {
		trust = certs.NewTrustStore(certs.TrustOptions{Clock: clock, Logger: logger})
	}
	for _, f := range files {
		if err := trust.LoadRootsFile(f); err != nil {
			return nil, fmt.Errorf("transport: trusted roots: %w", err)
		}
	}
	return trust, nil
}

func nowFunc(clock func() time.Time, trust *certs.TrustStore) func() time.Time {
	if clock != nil {
		return clock
	}
	if trust != nil {
		return trust.Now
	}
	return time.Now
}

// Config builds the client *tls.Config. ServerName must be set (or use ConfigFor).
func (c *ClientTLS) Config() (*tls.Config, error) {
	minV, err := minVersion(c.MinVersion)
	if err != nil {
		return nil, err
	}
	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := nowFunc(c.Clock, c.Trust)
	trust, err := buildTrust(c.Trust, c.RootFiles, now, logger)
	if err != nil {
		return nil, err
	}
	kp, err := loadKeyPair(c.Certificate, c.CertFile, c.KeyFile, c.PKCS12File, c.PKCS12Password)
	if err != nil {
		return nil, fmt.Errorf("transport: client certificate: %w", err)
	}
	if c.PinOnly && len(c.Pins) == 0 {
		return nil, errors.New("transport: PinOnly without any pin would refuse every server")
	}
	var system *x509.CertPool
	if c.SystemRoots {
		if system, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("transport: system roots: %w", err)
		}
	}
	v := &serverVerifier{serverName: c.ServerName, decide: c.OnServerCertificate, trust: trust, pins: append([]Pin(nil), c.Pins...), pinOnly: c.PinOnly, system: system, now: now, logger: logger}
	cfg := &tls.Config{
		ServerName: c.ServerName,
		MinVersion: minV,
		// Verification is done in VerifyConnection, with clear errors, pins
		// and our trust store; crypto/tls still checks the handshake signature.
		InsecureSkipVerify: true,
		VerifyConnection:   v.verify,
		CipherSuites:       CipherSuites(),
		Time:               now,
	}
	if kp != nil {
		cert := kp.TLSCertificate()
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// ConfigFor builds the client configuration for dialling addr ("host" or
// "host:port"), taking ServerName from it when not set.
func (c *ClientTLS) ConfigFor(addr string) (*tls.Config, error) {
	cc := *c
	if cc.ServerName == "" {
		host := addr
		if h, _, err := net.SplitHostPort(addr); err == nil {
			host = h
		}
		cc.ServerName = host
	}
	return cc.Config()
}

type serverVerifier struct {
	// serverName is used when the connection state has none (crypto/tls
	// does not report an IP address server name).
	serverName string
	decide     func(ServerCertificate) error
	trust      *certs.TrustStore
	pins       []Pin
	pinOnly    bool
	system     *x509.CertPool
	now        func() time.Time
	logger     *slog.Logger
}

func (v *serverVerifier) verify(cs tls.ConnectionState) error {
	err := v.check(cs)
	if v.decide == nil || len(cs.PeerCertificates) == 0 {
		return err
	}
	name := cs.ServerName
	if name == "" {
		name = v.serverName
	}
	if derr := v.decide(ServerCertificate{ServerName: name, Chain: cs.PeerCertificates, Err: err}); derr != nil {
		return derr
	}
	if err != nil {
		v.logger.Warn("server certificate accepted by the application despite a failed check", "server", name, "error", err.Error())
	}
	return nil
}

func (v *serverVerifier) check(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: partner sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	if cs.ServerName == "" {
		cs.ServerName = v.serverName
	}
	name := cs.ServerName
	if name == "" {
		name = certs.CertName(leaf)
	}
	at := v.now()
	for _, p := range v.pins {
		if p.Matches(leaf) {
			// A pinned certificate needs no chain or name match, but an
			// expired one is still refused.
			if err := certs.CheckValidity(leaf, at); err != nil {
				return certError("server", name, leaf, err)
			}
			return nil
		}
	}
	if v.pinOnly {
		fp := certs.FingerprintSHA256(leaf)
		return &CertificateError{Role: "server", Name: name, Err: ErrPinMismatch,
			Detail: "does not match any pinned fingerprint (it is sha256:" + certs.FormatFingerprint(fp[:]) + ")"}
	}
	if cs.ServerName == "" {
		return &CertificateError{Role: "server", Name: certs.CertName(leaf), Err: ErrHostMismatch,
			Detail: "cannot be checked: no server name is configured (set ServerName or use ConfigFor)"}
	}
	_, err := v.trust.ValidateChain(context.Background(), cs.PeerCertificates, certs.PurposeTLSServer, at)
	if err != nil && errors.Is(err, certs.ReasonUntrusted) && v.system != nil {
		_, serr := leaf.Verify(x509.VerifyOptions{Roots: v.system, Intermediates: pool(cs.PeerCertificates[1:]), CurrentTime: at,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if serr == nil {
			err = nil
		}
	}
	if err != nil {
		return certError("server", name, leaf, err)
	}
	if err := leaf.VerifyHostname(cs.ServerName); err != nil {
		names := leaf.DNSNames
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		detail := "does not match the host name " + cs.ServerName
		if len(names) > 0 {
			detail = "is for " + strings.Join(names, ", ") + ", not for " + cs.ServerName
		} else {
			detail += " (it has no DNS or IP names)"
		}
		return &CertificateError{Role: "server", Name: cs.ServerName, Err: ErrHostMismatch, Detail: detail}
	}
	return nil
}

func pool(cs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cs {
		p.AddCert(c)
	}
	return p
}

// Config builds the responder's *tls.Config.
func (s *ServerTLS) Config() (*tls.Config, error) {
	minV, err := minVersion(s.MinVersion)
	if err != nil {
		return nil, err
	}
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	kp, err := loadKeyPair(s.Certificate, s.CertFile, s.KeyFile, s.PKCS12File, s.PKCS12Password)
	if err != nil {
		return nil, fmt.Errorf("transport: server certificate: %w", err)
	}
	if kp == nil {
		return nil, errors.New("transport: the responder needs a certificate for TLS (RFC 5024 §1.7)")
	}
	now := nowFunc(s.Clock, s.ClientTrust)
	if err := certs.CheckPurpose(kp.Leaf, certs.PurposeTLSServer); err != nil {
		return nil, fmt.Errorf("transport: server certificate: %w", err)
	}
	if at := now(); at.After(kp.Leaf.NotAfter) {
		logger.Warn("server certificate has expired; partners will refuse it",
			"certificate", certs.CertName(kp.Leaf), "not_after", kp.Leaf.NotAfter)
	}
	cfg := &tls.Config{
		MinVersion:   minV,
		CipherSuites: CipherSuites(),
		Certificates: []tls.Certificate{kp.TLSCertificate()},
		Time:         now,
	}
	if s.ClientAuth == NoClientCert {
		return cfg, nil
	}
	if s.ClientTrust == nil && len(s.ClientCAFiles) == 0 {
		return nil, errors.New("transport: client certificates are requested but no ClientTrust or ClientCAFiles says which to accept")
	}
	trust, err := buildTrust(s.ClientTrust, s.ClientCAFiles, now, logger)
	if err != nil {
		return nil, err
	}
	// Go's own client-certificate check is replaced by ours: same trust store,
	// CRLs and the clientAuth EKU rule of certs.PurposeTLSClient.
	cfg.ClientAuth = tls.RequestClientCert
	if s.ClientAuth == RequireClientCert {
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil // RequireAnyClientCert already refused an empty one
		}
		leaf := cs.PeerCertificates[0]
		if _, err := trust.ValidateChain(context.Background(), cs.PeerCertificates, certs.PurposeTLSClient, now()); err != nil {
			ce := certError("client", certs.CertName(leaf), leaf, err)
			logger.Warn("refused client certificate", "error", ce.Error())
			return ce
		}
		return nil
	}
	return cfg, nil
}

// String summarises the configuration for logs; the PKCS#12 password is masked.
func (c ClientTLS) String() string {
	return fmt.Sprintf("ClientTLS{ServerName:%q RootFiles:%v SystemRoots:%t Pins:%d PinOnly:%t Cert:%s MinVersion:%s}",
		c.ServerName, c.RootFiles, c.SystemRoots, len(c.Pins), c.PinOnly, describeIdentity(c.Certificate, c.CertFile, c.PKCS12File, c.PKCS12Password), versionName(c.MinVersion))
}

// LogValue makes slog print String instead of the fields.
func (c ClientTLS) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String summarises the configuration for logs; the PKCS#12 password is masked.
func (s ServerTLS) String() string {
	return fmt.Sprintf("ServerTLS{Cert:%s ClientAuth:%d ClientCAFiles:%v MinVersion:%s}",
		describeIdentity(s.Certificate, s.CertFile, s.PKCS12File, s.PKCS12Password), s.ClientAuth, s.ClientCAFiles, versionName(s.MinVersion))
}

// LogValue makes slog print String instead of the fields.
func (s ServerTLS) LogValue() slog.Value { return slog.StringValue(s.String()) }

func describeIdentity(kp *certs.KeyPair, certFile, p12File, p12Password string) string {
	switch {
	case kp != nil:
		return certs.CertName(kp.Leaf)
	case p12File != "":
		pw := ""
		if p12Password != "" {
			pw = " password:xxxxx"
		}
		return p12File + pw
	case certFile != "":
		return certFile
	}
	return "none"
}

func versionName(v uint16) string {
	if v == 0 {
		return "TLS 1.2"
	}
	return tls.VersionName(v)
}
