package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/sdk"
	"github.com/oftp2/connector/sdk/sdktest"
)

// writeKeyPair writes a self-signed certificate and its PKCS #8 key.
func writeKeyPair(t *testing.T, dir, id string, key crypto.Signer) {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: id},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
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

func keyDir(t *testing.T) string {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeKeyPair(t, dir, "rsa", rsaKey)
	writeKeyPair(t, dir, "ec", ecKey)
	return dir
}

func config(t *testing.T, dir string) []byte {
	b, err := json.Marshal(map[string]string{"dir": dir})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeysInProcess(t *testing.T) {
	k := &pemKeys{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := k.Configure(context.Background(), config(t, keyDir(t))); err != nil {
		t.Fatal(err)
	}
	sdktest.RunKeys(t, sdktest.KeysConfig{Keys: k, KeyIDs: []string{"rsa", "ec"}})
}

func TestKeysPluginProcess(t *testing.T) {
	bin := sdktest.BuildPlugin(t, ".")
	p := sdktest.Launch(t, exec.Command(bin))
	ctx := context.Background()
	info, err := p.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "keys.pemdir" || !info.Capabilities.Keys || info.Capabilities.Sink {
		t.Errorf("Describe = %+v", info)
	}
	err = p.Configure(ctx, []byte(`{"dir": "/nonexistent"}`))
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || ce.Attribute != "dir" {
		t.Errorf("Configure with a bad directory: %v, want a *sdk.ConfigError for dir", err)
	}
	if err := p.Configure(ctx, config(t, keyDir(t))); err != nil {
		t.Fatal(err)
	}
	sdktest.RunKeys(t, sdktest.KeysConfig{Keys: p.Keys(), KeyIDs: []string{"rsa", "ec"}})
}
