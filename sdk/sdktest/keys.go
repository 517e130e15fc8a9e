package sdktest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 signatures for cipher suites 01 and 02
	_ "crypto/sha512"
	"errors"
	"testing"

	"github.com/oftp2/connector/sdk"
)

// KeysConfig describes a key plugin under test.
type KeysConfig struct {
	// Keys is the implementation under test, configured and ready.
	Keys sdk.Keys
	// KeyIDs names the keys to exercise; RSA and ECDSA keys are supported.
	KeyIDs []string
	// Unsupported lists operations the keys cannot perform, from "sign-sha1",
	// "sign-pkcs1v15", "sign-pss", "decrypt-pkcs1v15", "decrypt-oaep". The
	// suite then requires a permanent error matching sdk.ErrUnsupported
	// instead of a result.
	Unsupported []string
}

func (c KeysConfig) unsupported(op string) bool {
	for _, u := range c.Unsupported {
		if u == op {
			return true
		}
	}
	return false
}

// RunKeys runs the key conformance suite: every signature verifies against
// the returned certificate with the standard library, every unwrapped key
// equals the one wrapped with the certificate's public key.
func RunKeys(t *testing.T, cfg KeysConfig) {
	if cfg.Keys == nil || len(cfg.KeyIDs) == 0 {
		t.Fatal("sdktest: KeysConfig needs Keys and KeyIDs")
	}
	t.Run("Keys", func(t *testing.T) { runKeys(t, cfg) })
}

func runKeys(t *testing.T, cfg KeysConfig) {
	ctx := context.Background()
	for _, id := range cfg.KeyIDs {
		t.Run(id, func(t *testing.T) {
			chain, err := cfg.Keys.Certificate(ctx, id)
			if err != nil {
				t.Fatalf("Certificate: %v", err)
			}
			if len(chain) == 0 {
				t.Fatal("Certificate returned an empty chain")
			}
			switch pub := chain[0].PublicKey.(type) {
			case *rsa.PublicKey:
				runRSA(t, cfg, id, pub)
			case *ecdsa.PublicKey:
				runECDSA(t, cfg, id, pub)
			default:
				t.Fatalf("unsupported public key type %T", pub)
			}
			// The crypto.Signer adapter signs through the same path.
			signer, err := sdk.NewKeySigner(ctx, cfg.Keys, id)
			if err != nil {
				t.Fatalf("NewKeySigner: %v", err)
			}
			digest := sha256Digest([]byte("signer adapter"))
			sig, err := signer.Sign(rand.Reader, digest, crypto.SHA256)
			if cfg.unsupported("sign-pkcs1v15") && isRSA(signer.Public()) {
				expectUnsupported(t, "KeySigner.Sign", err)
			} else if err != nil {
				t.Errorf("KeySigner.Sign: %v", err)
			} else if !verify(signer.Public(), digest, sig, crypto.SHA256, false) {
				t.Error("KeySigner signature does not verify")
			}
		})
	}
	t.Run("UnknownKey", func(t *testing.T) {
		_, err := cfg.Keys.Certificate(ctx, "sdktest-no-such-key")
		if !errors.Is(err, sdk.ErrNotFound) || !sdk.IsPermanent(err) {
			t.Errorf("Certificate of an unknown key: %v, want a permanent sdk.ErrNotFound", err)
		}
		_, err = cfg.Keys.Sign(ctx, "sdktest-no-such-key", sha256Digest(nil), crypto.SHA256, false)
		if !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("Sign with an unknown key: %v, want sdk.ErrNotFound", err)
		}
	})
}

func isRSA(pub crypto.PublicKey) bool { _, ok := pub.(*rsa.PublicKey); return ok }

func runRSA(t *testing.T, cfg KeysConfig, id string, pub *rsa.PublicKey) {
	ctx := context.Background()
	for _, tc := range []struct {
		op   string
		hash crypto.Hash
		pss  bool
	}{
		{"sign-pkcs1v15", crypto.SHA256, false},
		{"sign-pkcs1v15", crypto.SHA512, false},
		{"sign-sha1", crypto.SHA1, false},
		{"sign-pss", crypto.SHA256, true},
	} {
		digest := hashOf(tc.hash, []byte("conformance "+tc.op))
		sig, err := cfg.Keys.Sign(ctx, id, digest, tc.hash, tc.pss)
		if cfg.unsupported(tc.op) || (tc.pss && cfg.unsupported("sign-pss")) {
			expectUnsupported(t, "Sign "+tc.op, err)
			continue
		}
		if err != nil {
			t.Errorf("Sign(%v, pss=%v): %v", tc.hash, tc.pss, err)
			continue
		}
		if !verify(pub, digest, sig, tc.hash, tc.pss) {
			t.Errorf("Sign(%v, pss=%v): signature does not verify with the certificate", tc.hash, tc.pss)
		}
	}
	cek := make([]byte, 32)
	_, _ = rand.Read(cek)
	wrapped, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pub, cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.Keys.Decrypt(ctx, id, wrapped, true, crypto.SHA256)
	if cfg.unsupported("decrypt-oaep") {
		expectUnsupported(t, "Decrypt OAEP", err)
	} else if err != nil || !bytes.Equal(got, cek) {
		t.Errorf("Decrypt OAEP-SHA256: %v (key equal: %v)", err, bytes.Equal(got, cek))
	}
	//lint:ignore SA1019 OFTP cipher suites 01 and 02 wrap content keys with PKCS #1 v1.5 (RFC 5024 §10.2).
	wrapped, err = rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	if err != nil {
		t.Fatal(err)
	}
	got, err = cfg.Keys.Decrypt(ctx, id, wrapped, false, 0)
	if cfg.unsupported("decrypt-pkcs1v15") {
		expectUnsupported(t, "Decrypt PKCS1v15", err)
	} else if err != nil || !bytes.Equal(got, cek) {
		t.Errorf("Decrypt PKCS1v15: %v (key equal: %v)", err, bytes.Equal(got, cek))
	}
	// A corrupted wrapped key is refused, not turned into a wrong key silently.
	wrapped[len(wrapped)/2] ^= 0xff
	if got, err := cfg.Keys.Decrypt(ctx, id, wrapped, true, crypto.SHA256); err == nil && bytes.Equal(got, cek) {
		t.Error("Decrypt of a corrupted wrapped key returned the key")
	}
}

func runECDSA(t *testing.T, cfg KeysConfig, id string, pub *ecdsa.PublicKey) {
	ctx := context.Background()
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
		digest := hashOf(h, []byte("conformance ecdsa"))
		sig, err := cfg.Keys.Sign(ctx, id, digest, h, false)
		if err != nil {
			t.Errorf("Sign(%v): %v", h, err)
			continue
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Errorf("Sign(%v): signature does not verify", h)
		}
	}
}

func verify(pub crypto.PublicKey, digest, sig []byte, h crypto.Hash, pss bool) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if pss {
			return rsa.VerifyPSS(k, h, digest, sig, nil) == nil
		}
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	}
	return false
}

func expectUnsupported(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, sdk.ErrUnsupported) || !sdk.IsPermanent(err) {
		t.Errorf("%s: %v, want a permanent sdk.ErrUnsupported", op, err)
	}
}

func hashOf(h crypto.Hash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

func sha256Digest(b []byte) []byte { return hashOf(crypto.SHA256, b) }
