package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"software.sslmate.com/src/go-pkcs12"
)

// MaxInputSize bounds what the loaders read from one file. Certificates, keys,
// CRLs and PKCS#12 bundles are small; the bound keeps a wrong path (a log file,
// a device) from being read into memory.
const MaxInputSize = 16 << 20

// ReadFile reads at most MaxInputSize bytes from path.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f)
}

func readBounded(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxInputSize {
		return nil, ErrTooLarge
	}
	return data, nil
}

// loadFile reads path (at most MaxInputSize bytes) and parses what it holds; errors
// name the file.
func loadFile[T any](path string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	data, err := ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("certs: %w", err)
	}
	v, err := parse(data)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// isPEM reports whether data looks like PEM text rather than DER.
func isPEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// ParseCertificates decodes every certificate in data: PEM text with one or
// more CERTIFICATE (or PKCS7) blocks, other blocks being ignored; one DER
// certificate; or a DER PKCS#7 certificate bundle (.p7b).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if !isPEM(data) {
		cert, err := x509.ParseCertificate(data)
		if err != nil {
			if bundle, perr := ParsePKCS7Certificates(data); perr == nil {
				return bundle, nil
			}
			return nil, fmt.Errorf("certs: DER certificate: %w", err)
		}
		return []*x509.Certificate{cert}, nil
	}
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "PKCS7" {
			bundle, err := ParsePKCS7Certificates(block.Bytes)
			if err != nil {
				return nil, err
			}
			out = append(out, bundle...)
			continue
		}
		if block.Type != "CERTIFICATE" && block.Type != "X509 CERTIFICATE" && block.Type != "TRUSTED CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certs: PEM certificate %d: %w", len(out)+1, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, ErrNoCertificate
	}
	return out, nil
}

// LoadCertificates reads a PEM or DER certificate file.
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	return loadFile(path, ParseCertificates)
}

// ParsePrivateKey decodes an unencrypted private key from PEM ("PRIVATE KEY",
// "RSA PRIVATE KEY", "EC PRIVATE KEY") or DER (PKCS#8, PKCS#1 or SEC 1).
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	if isPEM(data) {
		rest := data
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				return nil, ErrNoPrivateKey
			}
			switch block.Type {
			case "ENCRYPTED PRIVATE KEY":
				return nil, ErrEncryptedPEM
			case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
				if _, ok := block.Headers["Proc-Type"]; ok {
					return nil, ErrEncryptedPEM
				}
				return parseDERKey(block.Bytes)
			}
		}
	}
	return parseDERKey(data)
}

func parseDERKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return asSigner(k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: not PKCS#8, PKCS#1 or SEC 1", ErrNoPrivateKey)
}

func asSigner(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	case crypto.Signer:
		return k, nil
	}
	return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, k)
}

// LoadPrivateKey reads a PEM or DER private key file.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	return loadFile(path, ParsePrivateKey)
}

// KeyPair is a certificate with its private key and the intermediate
// certificates to present with it.
type KeyPair struct {
	Leaf *x509.Certificate
	// Chain holds intermediates (issuer of Leaf first); no root is needed.
	Chain []*x509.Certificate
	// Key is the private key. It may be backed by an HSM or a key plugin.
	Key crypto.Signer
}

// NewKeyPair checks that key belongs to certs[0] and builds a KeyPair; the
// remaining certificates become the chain.
func NewKeyPair(certs []*x509.Certificate, key crypto.Signer) (*KeyPair, error) {
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	if key == nil {
		return nil, ErrNoPrivateKey
	}
	pub, ok := certs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("%w (%s)", ErrKeyMismatch, CertName(certs[0]))
	}
	return &KeyPair{Leaf: certs[0], Chain: certs[1:], Key: key}, nil
}

// Decrypter returns the key as a crypto.Decrypter, which OFTP needs for
// secure authentication and file decryption (RSA only).
func (kp *KeyPair) Decrypter() (crypto.Decrypter, error) {
	d, ok := kp.Key.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("certs: the key of %s cannot decrypt (%T)", CertName(kp.Leaf), kp.Key)
	}
	if _, rsaKey := kp.Leaf.PublicKey.(*rsa.PublicKey); !rsaKey {
		return nil, fmt.Errorf("certs: the key of %s is %s; OFTP decryption needs RSA", CertName(kp.Leaf), keyTypeName(kp.Leaf))
	}
	return d, nil
}

// TLSCertificate returns the pair in the form crypto/tls presents it.
func (kp *KeyPair) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: kp.Key, Leaf: kp.Leaf}
	c.Certificate = append(c.Certificate, kp.Leaf.Raw)
	for _, ic := range kp.Chain {
		c.Certificate = append(c.Certificate, ic.Raw)
	}
	return c
}

// LoadKeyPair reads a certificate file (PEM or DER, leaf first, intermediates
// after it) and its private key file, and checks that they belong together.
func LoadKeyPair(certPath, keyPath string) (*KeyPair, error) {
	certs, err := LoadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	key, err := LoadPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	kp, err := NewKeyPair(certs, key)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", certPath, keyPath, err)
	}
	return kp, nil
}

// ParsePKCS12 decodes a PKCS#12 (.p12/.pfx) bundle holding one private key,
// its certificate and optional CA certificates. Both the modern (AES, PBES2)
// and the legacy (3DES, RC2) encodings are accepted.
func ParsePKCS12(data []byte, password string) (*KeyPair, error) {
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, ErrPKCS12Password
		}
		return nil, fmt.Errorf("certs: PKCS#12: %w", err)
	}
	signer, err := asSigner(key)
	if err != nil {
		return nil, err
	}
	return NewKeyPair(append([]*x509.Certificate{leaf}, cas...), signer)
}

// LoadPKCS12 reads a PKCS#12 file; see ParsePKCS12.
func LoadPKCS12(path, password string) (*KeyPair, error) {
	return loadFile(path, func(data []byte) (*KeyPair, error) { return ParsePKCS12(data, password) })
}
