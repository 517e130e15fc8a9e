package sdk

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
)

// KeySigner is a crypto.Signer and crypto.Decrypter backed by a Keys
// implementation, local or remote. It lets code written for the standard
// library (CMS, TLS) use a key that lives in a plugin.
type KeySigner struct {
	ctx   context.Context
	keys  Keys
	keyID string
	chain []*x509.Certificate
}

var (
	_ crypto.Signer    = (*KeySigner)(nil)
	_ crypto.Decrypter = (*KeySigner)(nil)
)

// NewKeySigner fetches keyID's certificate chain and returns a signer for it.
// ctx bounds every later Sign and Decrypt call, since the crypto interfaces
// carry no context of their own.
func NewKeySigner(ctx context.Context, keys Keys, keyID string) (*KeySigner, error) {
	chain, err := keys.Certificate(ctx, keyID)
	if err != nil {
		return nil, fmt.Errorf("certificate of key %q: %w", keyID, err)
	}
	if len(chain) == 0 {
		return nil, Permanent(fmt.Errorf("key %q has no certificate", keyID))
	}
	return &KeySigner{ctx: ctx, keys: keys, keyID: keyID, chain: chain}, nil
}

// Public returns the leaf certificate's public key.
func (s *KeySigner) Public() crypto.PublicKey { return s.chain[0].PublicKey }

// Certificate returns the key's certificate chain, leaf first.
func (s *KeySigner) Certificate() []*x509.Certificate { return s.chain }

// Sign signs digest; *rsa.PSSOptions selects RSASSA-PSS. rand is unused: the
// plugin supplies its own randomness.
func (s *KeySigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, errors.New("sign: no hash given")
	}
	_, pss := opts.(*rsa.PSSOptions)
	return s.keys.Sign(s.ctx, s.keyID, digest, opts.HashFunc(), pss)
}

// Decrypt unwraps msg; *rsa.OAEPOptions selects OAEP with its hash, nil or
// *rsa.PKCS1v15DecryptOptions selects PKCS #1 v1.5.
func (s *KeySigner) Decrypt(_ io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	switch o := opts.(type) {
	case *rsa.OAEPOptions:
		if len(o.Label) > 0 {
			return nil, Permanent(fmt.Errorf("decrypt: OAEP labels: %w", ErrUnsupported))
		}
		return s.keys.Decrypt(s.ctx, s.keyID, msg, true, o.Hash)
	//lint:ignore SA1019 OFTP cipher suites 01 and 02 wrap content keys with PKCS #1 v1.5 (RFC 5024 §10.2).
	case nil, *rsa.PKCS1v15DecryptOptions:
		return s.keys.Decrypt(s.ctx, s.keyID, msg, false, 0)
	}
	return nil, Permanent(fmt.Errorf("decrypt: options %T: %w", opts, ErrUnsupported))
}
