package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/oftp2/connector/sdk"
)

// pemKeys implements sdk.Keys over a directory of PEM files.
type pemKeys struct {
	log *slog.Logger

	mu   sync.RWMutex
	keys map[string]pemKey
}

type pemKey struct {
	signer crypto.Signer
	chain  []*x509.Certificate
}

// Configure loads every ID.key/ID.crt pair of the configured directory.
func (k *pemKeys) Configure(_ context.Context, configJSON []byte) error {
	var cfg struct {
		Dir string `json:"dir"`
	}
	if err := json.Unmarshal(configJSON, &cfg); err != nil {
		return &sdk.ConfigError{Message: err.Error()}
	}
	if cfg.Dir == "" {
		return &sdk.ConfigError{Attribute: "dir", Message: "is required"}
	}
	crts, err := filepath.Glob(filepath.Join(cfg.Dir, "*.crt"))
	if err != nil || len(crts) == 0 {
		return &sdk.ConfigError{Attribute: "dir", Message: fmt.Sprintf("no ID.crt files in %s", cfg.Dir)}
	}
	keys := map[string]pemKey{}
	for _, crt := range crts {
		id := strings.TrimSuffix(filepath.Base(crt), ".crt")
		key, err := loadKey(strings.TrimSuffix(crt, ".crt")+".key", crt)
		if err != nil {
			return &sdk.ConfigError{Attribute: "dir", Message: fmt.Sprintf("key %q: %v", id, err)}
		}
		keys[id] = key
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	k.log.Info("keys loaded", "count", len(keys), "dir", cfg.Dir)
	return nil
}

func loadKey(keyFile, crtFile string) (pemKey, error) {
	crtPEM, err := os.ReadFile(crtFile)
	if err != nil {
		return pemKey{}, err
	}
	var chain []*x509.Certificate
	for block, rest := pem.Decode(crtPEM); block != nil; block, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return pemKey{}, err
		}
		chain = append(chain, c)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return pemKey{}, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil || len(chain) == 0 {
		return pemKey{}, errors.New("no PEM data")
	}
	var parsed any
	if parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			if parsed, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
				return pemKey{}, errors.New("unsupported private key format")
			}
		}
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return pemKey{}, errors.New("private key cannot sign")
	}
	return pemKey{signer: signer, chain: chain}, nil
}

func (k *pemKeys) get(id string) (pemKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.keys == nil {
		return pemKey{}, sdk.ErrNotConfigured
	}
	key, ok := k.keys[id]
	if !ok {
		return pemKey{}, fmt.Errorf("key %q: %w", id, sdk.ErrNotFound)
	}
	return key, nil
}

func (k *pemKeys) Certificate(_ context.Context, keyID string) ([]*x509.Certificate, error) {
	key, err := k.get(keyID)
	return key.chain, err
}

func (k *pemKeys) Sign(_ context.Context, keyID string, digest []byte, hash crypto.Hash, pss bool) ([]byte, error) {
	key, err := k.get(keyID)
	if err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts = hash
	if _, isRSA := key.signer.(*rsa.PrivateKey); isRSA && pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
	}
	sig, err := key.signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("sign with %q: %w", keyID, err))
	}
	return sig, nil
}

func (k *pemKeys) Decrypt(_ context.Context, keyID string, wrapped []byte, oaep bool, hash crypto.Hash) ([]byte, error) {
	key, err := k.get(keyID)
	if err != nil {
		return nil, err
	}
	priv, ok := key.signer.(*rsa.PrivateKey)
	if !ok {
		if _, ec := key.signer.(*ecdsa.PrivateKey); ec {
			return nil, fmt.Errorf("decrypt with ECDSA key %q: %w", keyID, sdk.ErrUnsupported)
		}
		return nil, fmt.Errorf("decrypt with %q: %w", keyID, sdk.ErrUnsupported)
	}
	var out []byte
	if oaep {
		out, err = rsa.DecryptOAEP(hash.New(), nil, priv, wrapped, nil)
	} else {
		//lint:ignore SA1019 OFTP cipher suites 01 and 02 wrap content keys with PKCS #1 v1.5 (RFC 5024 §10.2).
		out, err = rsa.DecryptPKCS1v15(nil, priv, wrapped)
	}
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("decrypt with %q: %w", keyID, err))
	}
	return out, nil
}
