package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePEM writes blocks to dir/name.
func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) {
	t.Helper()
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(b)...)
	}
	if err := os.WriteFile(filepath.Join(dir, name), out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfSigned makes a certificate valid from notBefore to notAfter.
func selfSigned(t *testing.T, key any, cn string, notBefore, notAfter time.Time) *pem.Block {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
	}
	var pub any
	switch k := key.(type) {
	case *rsa.PrivateKey:
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		pub = &k.PublicKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "CERTIFICATE", Bytes: der}
}

func TestCheckFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	valid := func(k any, cn string) *pem.Block {
		return selfSigned(t, k, cn, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(otherKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, dir, "rsa.pem", valid(rsaKey, "rsa"))
	writePEM(t, dir, "rsa.key", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	writePEM(t, dir, "ec.pem", valid(ecKey, "ec"))
	writePEM(t, dir, "ec.key", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	writePEM(t, dir, "other.key", &pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	writePEM(t, dir, "encrypted.key", &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("opaque")})
	writePEM(t, dir, "expired.pem", selfSigned(t, ecKey, "old", now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	writePEM(t, dir, "chain.pem", valid(ecKey, "leaf"), valid(rsaKey, "ca"))
	writePEM(t, dir, "garbage.key", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")})
	if err := os.WriteFile(filepath.Join(dir, "notpem.pem"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o700); err != nil {
		t.Fatal(err)
	}
	plugin := []byte("#!/bin/sh\nexit 0\n")
	sum := sha256.Sum256(plugin)
	for name, mode := range map[string]os.FileMode{"plugin": 0o755, "plugin-noexec": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), plugin, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}

	const head = "identity {\n  ssid = \"O0013ME\"\n  password = \"PW\"\n}\n"
	tests := []struct {
		name, body string
		want       string // "" for no diagnostic at all
	}{
		{"rsa pair", `listener "l" {
  tls {
    cert_file = "rsa.pem"
    key_file  = "rsa.key"
  }
}`, ""},
		{"pkcs8 pair and chain", `keys "k" {
  local {
    cert_file = "ec.pem"
    key_file  = "ec.key"
  }
}
listener "l" {
  tls {
    cert_file      = "chain.pem"
    key_file       = "ec.key"
    client_ca_file = "chain.pem"
  }
}`, ""},
		{"key of another certificate", `keys "k" {
  local {
    cert_file = "ec.pem"
    key_file  = "other.key"
  }
}`, "c.hcl:8:17: error: Key does not match certificate"},
		{"encrypted key is left for later", `keys "k" {
  local {
    cert_file    = "ec.pem"
    key_file     = "encrypted.key"
    key_password = "pw"
  }
}`, ""},
		{"missing file", `listener "l" {
  tls {
    cert_file = "rsa.pem"
    key_file  = "missing.key"
  }
}`, "c.hcl:8:17: error: File not usable; " + filepath.Join(dir, "missing.key") + ": no such file or directory."},
		{"directory", `partner "p" {
  ssid = "O0013P"
  password = "X"
  ca_file = "adir"
}`, "c.hcl:8:13: error: File not usable; " + filepath.Join(dir, "adir") + ": not a regular file."},
		{"not PEM", `partner "p" {
  ssid = "O0013P"
  password = "X"
  security {
    signed_receipts = true
    certificate_file = "notpem.pem"
  }
}`, "c.hcl:10:24: error: Not a certificate file; " + filepath.Join(dir, "notpem.pem") + ": no PEM certificate"},
		{"garbage key", `partner "p" {
  ssid = "O0013P"
  password = "X"
  client_cert_file = "ec.pem"
  client_key_file = "garbage.key"
}`, "c.hcl:9:21: error: Not a private key file; " + filepath.Join(dir, "garbage.key") + ": the private key cannot be parsed"},
		{"certificate instead of key", `partner "p" {
  ssid = "O0013P"
  password = "X"
  client_cert_file = "ec.pem"
  client_key_file = "ec.pem"
}`, "c.hcl:9:21: error: Not a private key file; " + filepath.Join(dir, "ec.pem") + ": no PEM private key"},
		{"expired", `partner "p" {
  ssid = "O0013P"
  password = "X"
  ca_file = "expired.pem"
  address = "h"
}`, "c.hcl:8:13: warning: Certificate expired; " + filepath.Join(dir, "expired.pem") + ": the certificate for \"CN=old\" expired on 2026-11-26."},
		{"plugin ok", fmt.Sprintf("plugin \"p\" {\n  path = \"./plugin\"\n  sha256 = %q\n}", hex.EncodeToString(sum[:])), ""},
		{"plugin checksum", "plugin \"p\" {\n  path = \"./plugin\"\n  sha256 = \"" + strings.Repeat("ab", 32) + "\"\n}",
			"c.hcl:7:12: error: Checksum mismatch; " + filepath.Join(dir, "plugin") + " has SHA-256 " + hex.EncodeToString(sum[:])},
		{"plugin not executable", fmt.Sprintf("plugin \"p\" {\n  path = \"./plugin-noexec\"\n  sha256 = %q\n}", hex.EncodeToString(sum[:])),
			"c.hcl:6:10: error: Plugin not executable"},
		{"plugin missing", fmt.Sprintf("plugin \"p\" {\n  path = \"./nothing\"\n  sha256 = %q\n}", hex.EncodeToString(sum[:])),
			"c.hcl:6:10: error: Plugin not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := []byte(head + tt.body + "\n")
			opts := testOptions()
			// Without CheckFiles nothing is opened.
			if _, diags := Parse(filepath.Join(dir, "c.hcl"), src, opts); diags.HasErrors() {
				t.Fatalf("files are checked without CheckFiles: %s", allDiags(diags))
			}
			opts.CheckFiles = true
			opts.Now = func() time.Time { return now }
			_, diags := Parse(filepath.Join(dir, "c.hcl"), src, opts)
			got := strings.ReplaceAll(allDiags(diags), dir+"/c.hcl", "c.hcl")
			if tt.want == "" {
				if got != "" {
					t.Fatalf("unexpected diagnostics:\n%s", got)
				}
				return
			}
			if len(diags) != 1 || !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got:\n%s\nwant one diagnostic starting with:\n%s", got, tt.want)
			}
		})
	}
}

// TestCheckFilesOpenSSL feeds CheckFiles the key and certificate files users
// make with OpenSSL (installed by scripts/deps.d/20-openssl.sh), in each of
// the encodings it writes.
func TestCheckFilesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is required (scripts/deps.d/20-openssl.sh installs it)")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// PKCS#8 RSA key with its certificate.
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa8.key", "-out", "rsa8.pem", "-subj", "/CN=rsa8", "-days", "2")
	// SEC 1 ("EC PRIVATE KEY").
	run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key")
	run("req", "-new", "-x509", "-key", "ec.key", "-out", "ec.pem", "-subj", "/CN=ec", "-days", "2")
	// PKCS#1 ("RSA PRIVATE KEY").
	run("genrsa", "-traditional", "-out", "rsa1.key", "2048")
	run("req", "-new", "-x509", "-key", "rsa1.key", "-out", "rsa1.pem", "-subj", "/CN=rsa1", "-days", "2")
	// Encrypted PKCS#8.
	run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-aes256", "-pass", "pass:secret", "-out", "enc.key")

	for _, name := range []string{"rsa8.key", "ec.key", "rsa1.key", "enc.key"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkPrivateKey(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "enc.key")); !isEncryptedKey(data) {
		t.Error("encrypted PKCS#8 key not recognised as encrypted")
	}
	src := func(cert, key string) []byte {
		return []byte(fmt.Sprintf("identity {\n  ssid = \"O0013ME\"\n  password = \"PW\"\n}\nkeys \"k\" {\n  local {\n    cert_file = %q\n    key_file  = %q\n    key_password = \"secret\"\n  }\n}\n", cert, key))
	}
	opts := testOptions()
	opts.CheckFiles = true
	for _, pair := range [][2]string{{"rsa8.pem", "rsa8.key"}, {"ec.pem", "ec.key"}, {"rsa1.pem", "rsa1.key"}, {"ec.pem", "enc.key"}} {
		if _, diags := Parse(filepath.Join(dir, "c.hcl"), src(pair[0], pair[1]), opts); len(diags) > 0 {
			t.Errorf("%s + %s: %s", pair[0], pair[1], allDiags(diags))
		}
	}
	_, diags := Parse(filepath.Join(dir, "c.hcl"), src("rsa8.pem", "rsa1.key"), opts)
	if len(diags) != 1 || diags[0].Summary != "Key does not match certificate" {
		t.Errorf("mismatched pair: %s", allDiags(diags))
	}
}
