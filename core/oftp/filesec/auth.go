package filesec

import (
	"context"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// Challenge implements oftp.SecureAuthenticator: 20 random octets in an
// EnvelopedData for the partner's authentication certificate (RFC 5024 §4.2.4), with
// the content cipher of the partner's suite. Errors end the session with ESID 11.
func (s *Security) Challenge(ctx context.Context, partnerSSID string) (challenge, expected []byte, err error) {
	p, err := s.partner(partnerSSID)
	if err != nil {
		return nil, nil, err
	}
	list, err := s.usable(ctx, p, certs.PurposeSessionAuthentication)
	if err != nil {
		return nil, nil, err
	}
	suite := p.cfg.Outgoing.Suite
	if !suite.Valid() {
		suite = DefaultSuite
	}
	expected, auch, err := cms.NewChallenge(list[0], suite, s.cfg.Rand)
	if err != nil {
		return nil, nil, err
	}
	return auch, expected, nil
}

// Respond implements oftp.SecureAuthenticator: it decrypts a challenge addressed to
// our authentication certificate.
func (s *Security) Respond(ctx context.Context, partnerSSID string, challenge []byte) ([]byte, error) {
	kp, err := s.own(certs.PurposeSessionAuthentication)
	if err != nil {
		return nil, err
	}
	dec, err := kp.Decrypter()
	if err != nil {
		return nil, err
	}
	return cms.OpenChallenge(challenge, dec, kp.Leaf, s.cfg.Rand)
}
