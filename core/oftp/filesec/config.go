package filesec

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// Level is the file security level, SFIDSEC.
type Level int

// Security levels (RFC 5024 §5.3.3).
const (
	LevelNone      Level = 0
	LevelEncrypted Level = 1
	LevelSigned    Level = 2
	LevelBoth      Level = 3
)

// Encrypted reports whether files at this level are encrypted.
func (l Level) Encrypted() bool { return l == LevelEncrypted || l == LevelBoth }

// Signed reports whether files at this level are signed.
func (l Level) Signed() bool { return l == LevelSigned || l == LevelBoth }

func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelEncrypted:
		return "encrypted"
	case LevelSigned:
		return "signed"
	case LevelBoth:
		return "both"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel reads "none", "encrypted", "signed" or "both" (or the SFIDSEC digits).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "0", "00", "":
		return LevelNone, nil
	case "encrypted", "1", "01":
		return LevelEncrypted, nil
	case "signed", "2", "02":
		return LevelSigned, nil
	case "both", "signed+encrypted", "encrypted+signed", "3", "03":
		return LevelBoth, nil
	}
	return 0, fmt.Errorf("filesec: unknown security level %q (none, encrypted, signed, both)", s)
}

// Protection is how files to a partner are sent.
type Protection struct {
	Level Level
	// Suite is SFIDCIPH; it also selects the receipt hash. Default suite 02 when a
	// service needs one.
	Suite cms.Suite
	// Compress applies CMS CompressedData (SFIDCOMP 1).
	Compress bool
	// SignedReceipt asks for a signed EERP/NERP (SFIDSIGN Y).
	SignedReceipt bool
}

func (p Protection) any() bool { return p.Level != LevelNone || p.Compress || p.SignedReceipt }

// Acceptance is what we accept from a partner; violations are refused at SFID time
// with SFNA 15-20.
type Acceptance struct {
	RequireEncryption bool // unencrypted files: SFNA 17
	RefuseEncryption  bool // encrypted files: SFNA 16
	RequireSignature  bool // unsigned files: SFNA 20
	RefuseSignature   bool // signed files: SFNA 19
	RefuseCompression bool // compressed files: SFNA 18
	// Suites lists the cipher suites accepted (SFNA 15 for others); all of 01-06 when
	// empty.
	Suites []cms.Suite
}

// Partner is what we know about one partner: its certificates and policies.
type Partner struct {
	// SSIDCode identifies the partner in SSID (secure authentication).
	SSIDCode string
	// SFIDCodes are the partner's codes in files (SFIDORIG of what it sends, SFIDDEST
	// of what we send); SSIDCode when empty.
	SFIDCodes []string
	// Certificates serve every purpose; the lists below, when set, replace them for
	// one purpose. Several certificates may be valid at once during a roll-over.
	Certificates           []*x509.Certificate
	EncryptionCertificates []*x509.Certificate
	SigningCertificates    []*x509.Certificate
	ReceiptCertificates    []*x509.Certificate
	AuthCertificates       []*x509.Certificate

	// Outgoing is the default protection of files we send to the partner.
	Outgoing Protection
	// Incoming is what we accept from the partner.
	Incoming Acceptance
	// AcceptUnsignedReceipts accepts an unsigned EERP/NERP for a file that asked for
	// a signed one (the RFC lets the recipient send it); otherwise it is reported as a
	// failed receipt.
	AcceptUnsignedReceipts bool
	// SHA1Receipts accepts receipts hashed and signed with SHA-1 whatever the suite,
	// and makes our receipts to this partner use SHA-1: some deployed stacks do so.
	// Each use is logged.
	SHA1Receipts bool
}

func (p *Partner) codes() []string {
	if len(p.SFIDCodes) == 0 {
		return []string{p.SSIDCode}
	}
	return p.SFIDCodes
}

// Identity is our own key material, per purpose. Keys are reached only through
// crypto.Signer and crypto.Decrypter, so they may live in an HSM or KMS.
type Identity struct {
	Signing    *certs.KeyPair // file signatures
	Decryption *certs.KeyPair // decryption of files sent to us (RSA)
	Receipt    *certs.KeyPair // signed EERP/NERP
	Auth       *certs.KeyPair // secure authentication (RSA)
}

// SingleIdentity uses one key pair for every purpose, as most installations do.
func SingleIdentity(kp *certs.KeyPair) Identity {
	return Identity{Signing: kp, Decryption: kp, Receipt: kp, Auth: kp}
}

// Events are optional callbacks; they run on session goroutines and must not block.
type Events struct {
	// CertificateReceived decides about a certificate a partner sent in an
	// ODETTE_CERTIFICATE_* file. A nil error accepts it; an error refuses the file
	// (EFNA 99 with the error as text). Nil accepts certificates that validate.
	CertificateReceived func(ctx context.Context, ev CertificateEvent) error
	// Receipt reports every received end response for a file we sent with a
	// signed receipt request, with the verification outcome.
	Receipt func(ReceiptEvent)
}

// Config configures a Security.
type Config struct {
	Identity Identity
	Partners []*Partner
	// Default is used for a peer whose code matches no partner (e.g. a client that
	// talks to one server); nil refuses such peers.
	Default *Partner
	// Trust validates partner certificates (chain, validity, usage, revocation). When
	// nil, certificates are checked for validity period and key usage only: they are
	// trusted because they were configured.
	Trust *certs.TrustStore
	// SpoolDir, when set, makes secured sends restartable: the protected form of a
	// file is written there before SFID (see spool.go); otherwise it is produced
	// while the session sends it and a broken transfer starts again from zero.
	SpoolDir string
	// MaxRemembered bounds the remembered file hashes per direction (default 100000).
	MaxRemembered int
	// ChunkSize is the CMS OCTET STRING chunk size (cms default when zero).
	ChunkSize int
	// CompressionLevel is the zlib level, 1 to 9 (cms.DefaultCompressionLevel when
	// zero).
	CompressionLevel int
	Clock            func() time.Time
	Rand             io.Reader
	Logger           *slog.Logger
	Events           Events
}

// Security implements the OFTP 2.0 security services for sessions. It is safe for
// concurrent use by several sessions.
type Security struct {
	cfg Config
	log *slog.Logger

	mu       sync.RWMutex
	partners []*partnerState
	byCode   map[string]*partnerState
	deflt    *partnerState

	sent     *memo // files we sent with SFIDSIGN=Y
	received *memo // files we received with SFIDSIGN=Y
	counter  uint32
}

// New checks cfg and returns a Security.
func New(cfg Config) (*Security, error) {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxRemembered <= 0 {
		cfg.MaxRemembered = 100000
	}
	if cfg.CompressionLevel < 0 || cfg.CompressionLevel > 9 {
		return nil, fmt.Errorf("filesec: compression level %d, want 1 to 9 (0 for the default)", cfg.CompressionLevel)
	}
	s := &Security{cfg: cfg, log: cfg.Logger.With("component", "filesec"), byCode: map[string]*partnerState{},
		sent: newMemo(cfg.MaxRemembered), received: newMemo(cfg.MaxRemembered)}
	for _, p := range cfg.Partners {
		if p == nil || p.SSIDCode == "" {
			return nil, errors.New("filesec: partner without SSID code")
		}
		ps := newPartnerState(p)
		s.partners = append(s.partners, ps)
		for _, c := range append([]string{p.SSIDCode}, p.codes()...) {
			if _, dup := s.byCode[c]; dup && s.byCode[c] != ps {
				return nil, fmt.Errorf("filesec: code %q belongs to two partners", c)
			}
			s.byCode[c] = ps
		}
	}
	if cfg.Default != nil {
		s.deflt = newPartnerState(cfg.Default)
	}
	for _, kp := range []*certs.KeyPair{cfg.Identity.Decryption, cfg.Identity.Auth} {
		if kp != nil {
			if _, err := kp.Decrypter(); err != nil {
				return nil, fmt.Errorf("filesec: %w", err)
			}
		}
	}
	return s, nil
}

// Install sets the session hooks in o: transforms, secure authentication (when
// o.SecureAuthentication is set and no Authenticator is given) and end response
// signing and verification.
func (s *Security) Install(o *oftp.Options) {
	o.OutgoingTransform = s
	o.IncomingTransform = s
	o.EndResponseSigner = s
	o.EndResponseVerifier = s
	if o.Authenticator == nil {
		o.Authenticator = s
	}
}

func (s *Security) now() time.Time { return s.cfg.Clock() }

// partner finds the partner for any of codes (the first that matches).
func (s *Security) partner(codes ...string) (*partnerState, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range codes {
		if p := s.byCode[strings.TrimSpace(c)]; p != nil {
			return p, nil
		}
	}
	if s.deflt != nil {
		return s.deflt, nil
	}
	return nil, fmt.Errorf("%w: no security settings for %q", ErrUnknownPartner, codes)
}

// Partner returns the current certificates of the partner known under code, for
// inspection (after certificate exchanges).
func (s *Security) Partner(code string) (Partner, bool) {
	p, err := s.partner(code)
	if err != nil {
		return Partner{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := *p.cfg
	out.Certificates = nil
	out.EncryptionCertificates = p.list(certs.PurposeFileEncryption)
	out.SigningCertificates = p.list(certs.PurposeFileSigning)
	out.ReceiptCertificates = p.list(certs.PurposeReceiptSigning)
	out.AuthCertificates = p.list(certs.PurposeSessionAuthentication)
	return out, true
}

// validate checks a partner certificate for purpose now.
func (s *Security) validate(ctx context.Context, c *x509.Certificate, p certs.Purpose) error {
	if s.cfg.Trust != nil {
		_, err := s.cfg.Trust.Validate(ctx, c, p, s.now())
		return err
	}
	if err := certs.CheckValidity(c, s.now()); err != nil {
		return err
	}
	return certs.CheckPurpose(c, p)
}

// usable returns the partner's certificates for purpose that validate, newest first,
// and the first validation error when none does.
func (s *Security) usable(ctx context.Context, p *partnerState, purpose certs.Purpose) ([]*x509.Certificate, error) {
	s.mu.RLock()
	list := p.list(purpose)
	s.mu.RUnlock()
	var ok []*x509.Certificate
	var first error
	for _, c := range list {
		if err := s.validate(ctx, c, purpose); err != nil {
			s.log.Warn("partner certificate not usable", "partner", p.cfg.SSIDCode, "purpose", purpose.String(),
				"cert", certs.CertName(c), "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		ok = append(ok, c)
	}
	if len(ok) == 0 {
		if first == nil {
			first = fmt.Errorf("%w for %v", ErrNoCertificate, purpose)
		}
		return nil, fmt.Errorf("partner %s: %w", p.cfg.SSIDCode, first)
	}
	sortNewestFirst(ok)
	return ok, nil
}

// own returns our key pair for purpose, checked for validity.
func (s *Security) own(purpose certs.Purpose) (*certs.KeyPair, error) {
	var kp *certs.KeyPair
	switch purpose {
	case certs.PurposeFileSigning:
		kp = s.cfg.Identity.Signing
	case certs.PurposeFileEncryption:
		kp = s.cfg.Identity.Decryption
	case certs.PurposeReceiptSigning:
		kp = s.cfg.Identity.Receipt
	case certs.PurposeSessionAuthentication:
		kp = s.cfg.Identity.Auth
	}
	if kp == nil {
		return nil, fmt.Errorf("%w: no own key for %v", ErrNoCertificate, purpose)
	}
	if err := certs.CheckValidity(kp.Leaf, s.now()); err != nil {
		return nil, fmt.Errorf("own certificate: %w", err)
	}
	if err := certs.CheckPurpose(kp.Leaf, purpose); err != nil {
		return nil, fmt.Errorf("own certificate: %w", err)
	}
	return kp, nil
}

func suiteAllowed(a Acceptance, s cms.Suite) bool {
	if !s.Valid() {
		return false
	}
	if len(a.Suites) == 0 {
		return true
	}
	for _, x := range a.Suites {
		if x == s {
			return true
		}
	}
	return false
}

// Errors.
var (
	// ErrUnknownPartner: no security settings for the peer.
	ErrUnknownPartner = errors.New("filesec: unknown partner")
	// ErrNoCertificate: no usable certificate or key for the purpose.
	ErrNoCertificate = errors.New("filesec: no usable certificate")
	// ErrRestart: a secured file cannot resume at a restart point (see package doc).
	ErrRestart = errors.New("filesec: a secured file is always sent from the start")
	// ErrReceiptUnsigned: an end response without signature for a file that asked for
	// a signed one.
	ErrReceiptUnsigned = errors.New("filesec: end response is not signed although a signed receipt was requested")
)
