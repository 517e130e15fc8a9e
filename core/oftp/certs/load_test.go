package certs_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

func TestParseCertificatesPEMAndDER(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	inter := ca.NewIntermediate(t, certtest.Options{})
	leaf := inter.Issue(t, certtest.Options{CommonName: "partner.example"})

	got, err := certs.ParseCertificates(leaf.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(leaf.Cert) || !got[1].Equal(inter.Cert) {
		t.Fatalf("PEM chain: got %d certificates", len(got))
	}
	got, err = certs.ParseCertificates(leaf.Cert.Raw)
	if err != nil || len(got) != 1 || !got[0].Equal(leaf.Cert) {
		t.Fatalf("DER: %v", err)
	}
	if _, err := certs.ParseCertificates([]byte("-----BEGIN NOTHING-----\nAA==\n-----END NOTHING-----\n")); !errors.Is(err, certs.ErrNoCertificate) {
		t.Fatalf("no certificate: %v", err)
	}
	if _, err := certs.ParseCertificates([]byte{0x30, 0x03, 0x02, 0x01}); err == nil {
		t.Fatal("truncated DER accepted")
	}
}

func TestLoadKeyPairFormats(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	dir := t.TempDir()
	for _, kt := range []certtest.KeyType{certtest.ECDSAP256, certtest.RSA2048, certtest.Ed25519} {
		leaf := ca.Issue(t, certtest.Options{KeyType: kt})
		certPath, keyPath := leaf.WriteFiles(t, dir, "pem")
		kp, err := certs.LoadKeyPair(certPath, keyPath)
		if err != nil {
			t.Fatalf("key type %d PEM: %v", kt, err)
		}
		if !kp.Leaf.Equal(leaf.Cert) {
			t.Fatal("wrong leaf")
		}
		der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
		if err != nil {
			t.Fatal(err)
		}
		certtest.WriteFile(t, filepath.Join(dir, "c.der"), leaf.Cert.Raw)
		certtest.WriteFile(t, filepath.Join(dir, "k.der"), der)
		if _, err := certs.LoadKeyPair(filepath.Join(dir, "c.der"), filepath.Join(dir, "k.der")); err != nil {
			t.Fatalf("key type %d DER: %v", kt, err)
		}
	}
}

func TestLegacyKeyEncodingsAndDecrypter(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	rsaLeaf := ca.Issue(t, certtest.Options{KeyType: certtest.RSA2048})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaLeaf.Key.(*rsa.PrivateKey))})
	k, err := certs.ParsePrivateKey(pkcs1)
	if err != nil {
		t.Fatalf("PKCS#1: %v", err)
	}
	kp, err := certs.NewKeyPair([]*x509.Certificate{rsaLeaf.Cert}, k)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := kp.Decrypter()
	if err != nil {
		t.Fatal(err)
	}
	// Round trip through the returned Decrypter with the certificate's public key.
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaLeaf.Cert.PublicKey.(*rsa.PublicKey), []byte("challenge"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	if err != nil || string(pt) != "challenge" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}

	ecLeaf := ca.Issue(t, certtest.Options{})
	sec1, err := x509.MarshalECPrivateKey(ecLeaf.Key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	k, err = certs.ParsePrivateKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	if err != nil {
		t.Fatalf("SEC 1: %v", err)
	}
	kp, err = certs.NewKeyPair([]*x509.Certificate{ecLeaf.Cert}, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.Decrypter(); err == nil {
		t.Fatal("ECDSA key offered as an OFTP decrypter")
	}
	// Signing works through crypto.Signer.
	digest := sha256.Sum256([]byte("x"))
	sig, err := kp.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(ecLeaf.Cert.PublicKey.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatalf("sign: %v", err)
	}
}

func TestKeyErrors(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	a := ca.Issue(t, certtest.Options{})
	b := ca.Issue(t, certtest.Options{})
	if _, err := certs.NewKeyPair([]*x509.Certificate{a.Cert}, b.Key); !errors.Is(err, certs.ErrKeyMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	enc := []byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00000000000000000000000000000000\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
	if _, err := certs.ParsePrivateKey(enc); !errors.Is(err, certs.ErrEncryptedPEM) {
		t.Fatalf("encrypted PEM: %v", err)
	}
	if _, err := certs.ParsePrivateKey([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")); !errors.Is(err, certs.ErrEncryptedPEM) {
		t.Fatalf("encrypted PKCS#8: %v", err)
	}
	if _, err := certs.ParsePrivateKey(a.Cert.Raw); !errors.Is(err, certs.ErrNoPrivateKey) {
		t.Fatalf("certificate as key: %v", err)
	}
}

func TestPKCS12(t *testing.T) {
	ca := certtest.NewCA(t, certtest.Options{})
	inter := ca.NewIntermediate(t, certtest.Options{})
	leaf := inter.Issue(t, certtest.Options{KeyType: certtest.RSA2048, CommonName: "p12.example"})
	data := leaf.PKCS12(t, "s3cret")

	kp, err := certs.ParsePKCS12(data, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !kp.Leaf.Equal(leaf.Cert) || len(kp.Chain) != 1 || !kp.Chain[0].Equal(inter.Cert) {
		t.Fatal("PKCS#12 content differs")
	}
	_, err = certs.ParsePKCS12(data, "wrong")
	if !errors.Is(err, certs.ErrPKCS12Password) {
		t.Fatalf("wrong password: %v", err)
	}
	if err.Error() != "certs: wrong PKCS#12 password (or the file is damaged)" {
		t.Fatalf("message: %q", err)
	}
	path := filepath.Join(t.TempDir(), "id.p12")
	certtest.WriteFile(t, path, data)
	if _, err := certs.LoadPKCS12(path, "wrong"); !errors.Is(err, certs.ErrPKCS12Password) {
		t.Fatalf("LoadPKCS12 wrong password: %v", err)
	}
}

// TestPKCS12OpenSSLInterop cross-checks our PKCS#12 handling with OpenSSL in
// both directions: bundles OpenSSL writes (modern AES and legacy 3DES) load,
// and the bundle we write is accepted by OpenSSL with the right password only.
func TestPKCS12OpenSSLInterop(t *testing.T) {
	openssl := requireTool(t, "openssl")
	ca := certtest.NewCA(t, certtest.Options{})
	leaf := ca.Issue(t, certtest.Options{KeyType: certtest.RSA2048, CommonName: "interop.example"})
	dir := t.TempDir()
	certPath, keyPath := leaf.WriteFiles(t, dir, "leaf")
	caPath := filepath.Join(dir, "ca.pem")
	certtest.WriteFile(t, caPath, ca.CertPEM())

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"aes", nil},
		{"legacy-3des", []string{"-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
	} {
		out := filepath.Join(dir, tc.name+".p12")
		args := append([]string{"pkcs12", "-export", "-in", certPath, "-inkey", keyPath, "-certfile", caPath, "-out", out, "-passout", "pass:pw"}, tc.args...)
		run(t, openssl, args...)
		kp, err := certs.LoadPKCS12(out, "pw")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !kp.Leaf.Equal(leaf.Cert) {
			t.Fatalf("%s: wrong leaf", tc.name)
		}
		if _, err := certs.LoadPKCS12(out, "nope"); !errors.Is(err, certs.ErrPKCS12Password) {
			t.Fatalf("%s wrong password: %v", tc.name, err)
		}
	}

	ours := filepath.Join(dir, "ours.p12")
	certtest.WriteFile(t, ours, leaf.PKCS12(t, "pw"))
	outPEM := run(t, openssl, "pkcs12", "-in", ours, "-passin", "pass:pw", "-nodes")
	got, err := certs.ParseCertificates(outPEM)
	if err != nil || !got[0].Equal(leaf.Cert) {
		t.Fatalf("openssl read back: %v", err)
	}
	cmd := exec.Command(openssl, "pkcs12", "-in", ours, "-passin", "pass:bad", "-nodes")
	if err := cmd.Run(); err == nil {
		t.Fatal("openssl accepted a wrong password")
	}
}

func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required (scripts/deps.d installs it): %v", name, err)
	}
	return p
}

func run(t *testing.T, prog string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", prog, args, err, out)
	}
	return out
}

// TestLoadersNameTheFile: every file loader reports a missing file as such and a
// file it cannot parse by its path, with the parser's error inside.
func TestLoadersNameTheFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	junk := filepath.Join(dir, "junk.pem")
	certtest.WriteFile(t, junk, []byte("-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n"))
	store := certs.NewTrustStore(certs.TrustOptions{})
	loaders := map[string]func(string) error{
		"LoadCertificates": func(p string) error { _, err := certs.LoadCertificates(p); return err },
		"LoadPrivateKey":   func(p string) error { _, err := certs.LoadPrivateKey(p); return err },
		"LoadPKCS12":       func(p string) error { _, err := certs.LoadPKCS12(p, "pw"); return err },
		"LoadCRLFile":      store.LoadCRLFile,
		"LoadTSL":          func(p string) error { _, err := certs.LoadTSL(p); return err },
		"LoadRootsFile":    store.LoadRootsFile,
	}
	for name, load := range loaders {
		if err := load(missing); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "certs: ") {
			t.Errorf("%s of a missing file: %v", name, err)
		}
		err := load(junk)
		if err == nil || !strings.HasPrefix(err.Error(), junk+": ") || errors.Unwrap(err) == nil {
			t.Errorf("%s of an unparsable file: %v", name, err)
		}
	}
	if err := store.LoadRootsFile(junk); !errors.Is(err, certs.ErrNoCertificate) {
		t.Errorf("roots from a file without certificates: %v", err)
	}
}
