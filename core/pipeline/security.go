package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/filesec"
)

// partnerNeedsSecurity reports whether a partner uses OFTP 2.0 security services.
func partnerNeedsSecurity(p *config.Partner) bool {
	s := p.Security
	return s.Level != config.SecurityNone || s.FileCompression || s.SignedReceipts || s.SecureAuthentication
}

// SecurityFromConfig builds the OFTP 2.0 security layer (CMS file services, signed
// receipts, secure authentication) of a configuration: our key pair from the identity's
// keys block, and for each partner its certificate and agreed settings. It returns nil
// when no partner uses security services.
func SecurityFromConfig(cfg *config.Config, log *slog.Logger, clock func() time.Time) (*filesec.Security, error) {
	needed := false
	for _, p := range cfg.Partners {
		needed = needed || partnerNeedsSecurity(p)
	}
	if !needed {
		return nil, nil
	}
	var id filesec.Identity
	if name := cfg.Identity.Keys; name != "" {
		k := cfg.KeyPair(name)
		switch {
		case k == nil:
			return nil, fmt.Errorf("pipeline: identity keys %q not found", name)
		case k.Local == nil:
			return nil, fmt.Errorf("pipeline: identity keys %q are served by plugin %q; private key operations through key plugins are not wired into sessions yet", name, k.Plugin)
		case k.Local.KeyPassword.IsSet():
			return nil, fmt.Errorf("pipeline: identity keys %q: password-protected PEM keys are not supported here; use an unencrypted key file with restricted permissions", name)
		}
		kp, err := certs.LoadKeyPair(k.Local.CertFile, k.Local.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("pipeline: identity keys %q: %w", name, err)
		}
		id = filesec.SingleIdentity(kp)
	}
	fc := filesec.Config{Identity: id, Logger: log, Clock: clock}
	for _, p := range cfg.Partners {
		fp := &filesec.Partner{SSIDCode: p.SSID, SFIDCodes: []string{p.SFID}}
		s := p.Security
		if s.CertificateFile != "" {
			cs, err := certs.LoadCertificates(s.CertificateFile)
			if err != nil {
				return nil, fmt.Errorf("pipeline: partner %q certificate: %w", p.Name, err)
			}
			fp.Certificates = cs
		}
		fp.Outgoing = filesec.Protection{
			Level:         filesec.Level(s.Level),
			Suite:         cms.Suite(s.CipherSuite),
			Compress:      s.FileCompression,
			SignedReceipt: s.SignedReceipts,
		}
		fp.AcceptUnsignedReceipts = s.AcceptUnsignedReceipts
		fp.SHA1Receipts = s.SHA1ReceiptCompat
		fc.Partners = append(fc.Partners, fp)
	}
	sec, err := filesec.New(fc)
	if err != nil {
		return nil, fmt.Errorf("pipeline: security: %w", err)
	}
	return sec, nil
}

var errNoSecurity = errors.New("no security layer is configured")
