package pluginhost

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/oftp2/connector/sdk/sdktest"
)

func writeTestKey(t *testing.T, dir, id string, key crypto.Signer) {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: id}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The example key plugin, built from source and pinned by checksum, passes
// the keys conformance suite through the host, and survives a crash.
func TestKeysPluginThroughHost(t *testing.T) {
	bin := sdktest.BuildPlugin(t, "github.com/oftp2/connector/examples/plugin-example")
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeTestKey(t, dir, "signing", rsaKey)
	writeTestKey(t, dir, "ec", ecKey)
	cfg, _ := json.Marshal(map[string]string{"dir": dir})

	h, _ := testHost(t)
	ctx := context.Background()
	p, err := h.Start(ctx, Spec{Name: "hsm", Path: bin, SHA256: fileSHA256(t, bin), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	sdktest.RunKeys(t, sdktest.KeysConfig{Keys: p.Keys(), KeyIDs: []string{"signing", "ec"}})

	// A key operation that meets a dead plugin runs again on a fresh one.
	old := p.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("EERP"))
	sig, err := p.Keys().Sign(ctx, "signing", digest[:], crypto.SHA256, false)
	if err != nil {
		t.Fatalf("Sign after the plugin was killed: %v", err)
	}
	if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature after restart: %v", err)
	}
	if p.PID() == old {
		t.Error("the plugin was not restarted")
	}
}
