package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// identity is a test key pair with a self-signed certificate, also written as PEM
// files for OpenSSL and Bouncy Castle.
type identity struct {
	key      crypto.Signer
	cert     *x509.Certificate
	keyPath  string
	certPath string
}

func (id *identity) rsaKey() *rsa.PrivateKey { return id.key.(*rsa.PrivateKey) }

func (id *identity) signer(h crypto.Hash) Signer {
	return Signer{Key: id.key, Certificate: id.cert, Hash: h}
}

func (id *identity) decrypt() DecryptOptions {
	return DecryptOptions{Decrypter: id.rsaKey(), Certificate: id.cert}
}

var (
	identitiesMu  sync.Mutex
	identities    = map[string]*identity{}
	identitiesDir string
)

// testIdentity returns a cached identity; RSA key generation is slow under -race.
func testIdentity(t testing.TB, name string) *identity {
	t.Helper()
	identitiesMu.Lock()
	defer identitiesMu.Unlock()
	if id := identities[name]; id != nil {
		return id
	}
	if identitiesDir == "" {
		dir, err := os.MkdirTemp("", "cms-test-ids-")
		if err != nil {
			t.Fatal(err)
		}
		identitiesDir = dir
	}
	var key crypto.Signer
	var err error
	if name == "ecdsa" {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	} else {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"OFTP test"}},
		// Valid well before the fixed signing time of protection(), which
		// Bouncy Castle checks against the validity period.
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:  time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment |
			x509.KeyUsageContentCommitment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		SubjectKeyId: []byte(name + "-ski"),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	id := &identity{
		key:      key,
		cert:     cert,
		keyPath:  filepath.Join(identitiesDir, name+".key"),
		certPath: filepath.Join(identitiesDir, name+".crt"),
	}
	if err := os.WriteFile(id.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(id.certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	identities[name] = id
	return id
}

// opensslPath finds the OpenSSL binary the cross-checks run; scripts/deps.d installs it.
func opensslPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl not found (scripts/deps.d/20-cms-crosscheck.sh installs it): %v", err)
	}
	return p
}

// openssl runs openssl with args and returns its stdout; stderr goes into the error.
func openssl(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(opensslPath(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("openssl %v: %v: %s", args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// testData returns n octets of EDI-like text with some variation, so that it
// compresses like real files do.
func testData(n int, seed int64) []byte {
	out := make([]byte, 0, n+64)
	for i := int64(0); len(out) < n; i++ {
		out = fmt.Appendf(out, "UNH+%d+DELFOR:D:96A:UN'BGM+241+%d'DTM+137:%d:102'\r\n", seed+i, (seed*31+i*7)%100000, 20260000+i%1231)
	}
	return out[:n]
}

// mustWrite writes content through the writer open returns and gives back its output.
func mustWrite(t testing.TB, content []byte, open func(io.Writer) (io.WriteCloser, error)) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := open(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustSigned(t testing.TB, content []byte, opts SignOptions) []byte {
	t.Helper()
	return mustWrite(t, content, func(w io.Writer) (io.WriteCloser, error) { return NewSignedWriter(w, opts) })
}

func mustEnveloped(t testing.TB, content []byte, opts EnvelopeOptions) []byte {
	t.Helper()
	return mustWrite(t, content, func(w io.Writer) (io.WriteCloser, error) { return NewEnvelopedWriter(w, opts) })
}

func mustCompressed(t testing.TB, content []byte) []byte {
	t.Helper()
	return mustWrite(t, content, func(w io.Writer) (io.WriteCloser, error) {
		return NewCompressedWriter(w, CompressOptions{})
	})
}
