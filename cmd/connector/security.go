package main

import (
	"crypto/x509"
	"flag"
	"log/slog"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/filesec"
)

// securityFlags configure the OFTP 2.0 security services (file signing, encryption,
// file compression, signed receipts, secure authentication) of send, receive and
// serve. They describe one partner, the one of --partner-ssid.
type securityFlags struct {
	cert, key             string
	p12, p12Password      string
	partnerCerts          multiFlag
	trustRoots, crls      multiFlag
	level                 string
	suite                 int
	fileCompression       bool
	signedReceipt         bool
	secureAuth            bool
	requireSigned         bool
	requireEncrypted      bool
	sha1Receipts          bool
	acceptUnsignedReceipt bool
	allowUntrusted        bool
	spoolDir              string
}

// newSecurityFlags registers the security flags on fs.
func newSecurityFlags(fs *flag.FlagSet) *securityFlags {
	f := &securityFlags{}
	f.register(fs)
	return f
}

func (f *securityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "security-cert", "", "our certificate for file signing, decryption, signed receipts and secure authentication (PEM or DER)")
	fs.StringVar(&f.key, "security-key", "", "the private key of --security-cert (PEM)")
	fs.StringVar(&f.p12, "security-p12", "", "our certificate and key as PKCS#12, instead of --security-cert/--security-key")
	fs.StringVar(&f.p12Password, "security-p12-password", envOr("OFTP_SECURITY_P12_PASSWORD", ""), "password of --security-p12 (env OFTP_SECURITY_P12_PASSWORD)")
	fs.Var(&f.partnerCerts, "partner-cert", "the partner's certificate (PEM or DER); repeat during a roll-over")
	fs.Var(&f.trustRoots, "trust-roots", "CA certificates (PEM) the partner's certificates must chain to; repeatable (default: trust --partner-cert as given)")
	fs.Var(&f.crls, "crl", "a certificate revocation list (PEM or DER) to check partner certificates against; repeatable")
	fs.StringVar(&f.level, "security", "none", "security of files we send: none, encrypted, signed or both")
	fs.IntVar(&f.suite, "cipher-suite", int(filesec.DefaultSuite), "cipher suite 1..6 (1 3DES/SHA-1, 2 AES-256/SHA-1, 3 3DES/SHA-256, 4 AES-256/SHA-256, 5 3DES/SHA-512, 6 AES-256/SHA-512)")
	fs.BoolVar(&f.fileCompression, "file-compression", false, "compress files we send (CMS CompressedData, SFIDCOMP)")
	fs.BoolVar(&f.signedReceipt, "signed-receipt", false, "ask for signed end responses for files we send")
	fs.BoolVar(&f.secureAuth, "secure-auth", false, "run OFTP secure authentication (both sides need certificates)")
	fs.BoolVar(&f.requireSigned, "require-signed", false, "refuse unsigned files from the partner (SFNA 20)")
	fs.BoolVar(&f.requireEncrypted, "require-encrypted", false, "refuse unencrypted files from the partner (SFNA 17)")
	fs.BoolVar(&f.sha1Receipts, "sha1-receipts", false, "accept and send SHA-1 receipt hashes whatever the cipher suite (partner compatibility)")
	fs.BoolVar(&f.acceptUnsignedReceipt, "accept-unsigned-receipts", false, "accept unsigned end responses to signed receipt requests")
	fs.StringVar(&f.spoolDir, "security-spool-dir", "", "write secured files to this directory before sending them: exact sizes and restartable transfers, at the cost of disk space")
	fs.BoolVar(&f.allowUntrusted, "allow-untrusted", false, "accept partner certificates that do not chain to --trust-roots, with a warning (never expired or revoked ones)")
}

// enabled reports whether any security setting was given.
func (f *securityFlags) enabled() bool {
	return f.cert != "" || f.key != "" || f.p12 != "" || len(f.partnerCerts) > 0 || f.level != "none" ||
		f.fileCompression || f.signedReceipt || f.secureAuth || f.requireSigned || f.requireEncrypted
}

// apply fills o with the security services; o must already carry the partner codes.
// It returns nil without changing o when no security flag was given.
func (f *securityFlags) apply(o *oftp.Options, log *slog.Logger) (*filesec.Security, error) {
	if !f.enabled() {
		return nil, nil
	}
	level, err := filesec.ParseLevel(f.level)
	if err != nil {
		return nil, usagef("--security: %v", err)
	}
	suite := cms.Suite(f.suite)
	if !suite.Valid() {
		return nil, usagef("--cipher-suite %d: want 1..6", f.suite)
	}
	var own *certs.KeyPair
	switch {
	case f.p12 != "" && (f.cert != "" || f.key != ""):
		return nil, usagef("--security-p12 replaces --security-cert and --security-key")
	case f.p12 != "":
		if own, err = certs.LoadPKCS12(f.p12, f.p12Password); err != nil {
			return nil, err
		}
	case f.cert != "" || f.key != "":
		if f.cert == "" || f.key == "" {
			return nil, usagef("--security-cert and --security-key go together")
		}
		if own, err = certs.LoadKeyPair(f.cert, f.key); err != nil {
			return nil, err
		}
	}
	var partnerCerts []*x509.Certificate
	for _, p := range f.partnerCerts {
		cs, err := certs.LoadCertificates(p)
		if err != nil {
			return nil, err
		}
		partnerCerts = append(partnerCerts, cs[0])
	}
	needOwn := level.Signed() || f.secureAuth || f.signedReceipt
	needPartner := level.Encrypted() || f.secureAuth || f.signedReceipt || f.requireSigned
	if needOwn && own == nil {
		return nil, usagef("--security %s, --signed-receipt and --secure-auth need --security-cert/--security-key or --security-p12", f.level)
	}
	if needPartner && len(partnerCerts) == 0 {
		return nil, usagef("encryption, signed receipts, --require-signed and --secure-auth need --partner-cert")
	}

	policy := certs.FailOnUntrusted
	if f.allowUntrusted {
		policy = certs.WarnOnUntrusted
	}
	trust := certs.NewTrustStore(certs.TrustOptions{Untrusted: policy, Logger: log})
	for _, r := range f.trustRoots {
		if err := trust.LoadRootsFile(r); err != nil {
			return nil, err
		}
	}
	if len(f.trustRoots) == 0 {
		// Without CAs the partner's certificates are trusted because we were given them.
		trust.AddPartners(partnerCerts...)
	}
	for _, c := range f.crls {
		if err := trust.LoadCRLFile(c); err != nil {
			return nil, err
		}
	}

	partner := &filesec.Partner{
		SSIDCode:     o.PartnerSSIDCode,
		Certificates: partnerCerts,
		Outgoing: filesec.Protection{Level: level, Suite: suite, Compress: f.fileCompression,
			SignedReceipt: f.signedReceipt},
		Incoming:               filesec.Acceptance{RequireSignature: f.requireSigned, RequireEncryption: f.requireEncrypted},
		SHA1Receipts:           f.sha1Receipts,
		AcceptUnsignedReceipts: f.acceptUnsignedReceipt,
	}
	if o.PartnerSFIDCode != "" && o.PartnerSFIDCode != o.PartnerSSIDCode {
		partner.SFIDCodes = []string{o.PartnerSSIDCode, o.PartnerSFIDCode}
	}
	cfg := filesec.Config{Trust: trust, Logger: log, SpoolDir: f.spoolDir}
	if own != nil {
		cfg.Identity = filesec.SingleIdentity(own)
	}
	if partner.SSIDCode == "" {
		cfg.Default = partner
	} else {
		cfg.Partners = []*filesec.Partner{partner}
	}
	sec, err := filesec.New(cfg)
	if err != nil {
		return nil, err
	}
	o.SecureAuthentication = f.secureAuth
	sec.Install(o)
	return sec, nil
}
