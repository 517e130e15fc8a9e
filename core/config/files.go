package config

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// maxPEMFile bounds certificate and key files read by CheckFiles.
const maxPEMFile = 1 << 20

type fileKind uint8

const (
	fileCert fileKind = iota + 1 // one or more PEM certificates
	fileKey                      // a PEM private key
)

// file reads a path attribute naming a certificate or key file and, when
// Options.CheckFiles is set, checks that the file holds what it should.
func (b *block) file(name string, kind fileKind) (string, *hcl.Attribute) {
	p, a := b.path(name)
	if p == "" || !b.d.opts.CheckFiles {
		return p, a
	}
	data, err := b.d.readChecked(p, maxPEMFile)
	if err != nil {
		b.d.errorf(a.Expr.Range(), "File not usable", "%s: %s.", p, err)
		return p, a
	}
	switch kind {
	case fileCert:
		certs, err := parseCertificates(data)
		if err != nil {
			b.d.errorf(a.Expr.Range(), "Not a certificate file", "%s: %s.", p, err)
			return p, a
		}
		now := b.d.opts.Now()
		for _, c := range certs {
			if now.After(c.NotAfter) {
				b.d.warnf(a.Expr.Range(), "Certificate expired", "%s: the certificate for %q expired on %s.", p, c.Subject.String(), c.NotAfter.UTC().Format("2006-01-02"))
			}
		}
	case fileKey:
		if err := checkPrivateKey(data); err != nil {
			b.d.errorf(a.Expr.Range(), "Not a private key file", "%s: %s.", p, err)
			return p, a
		}
	}
	b.d.files[p] = data
	return p, a
}

// keyPair checks, under CheckFiles, that an unencrypted private key belongs
// to the certificate; errors point at the key attribute.
func (d *decoder) keyPair(certPath, keyPath string, keyA *hcl.Attribute) {
	cert, key := d.files[certPath], d.files[keyPath]
	if cert == nil || key == nil || keyA == nil || isEncryptedKey(key) {
		return
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		d.errorf(keyA.Expr.Range(), "Key does not match certificate", "%s does not belong to the certificate in %s: %s.", keyPath, certPath, err)
	}
}

// readChecked reads a regular file of at most limit bytes through the
// injected Open.
func (d *decoder) readChecked(p string, limit int64) ([]byte, error) {
	f, err := d.opts.Open(p)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be parsed: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
	}
	return certs, nil
}

func privateKeyBlock(data []byte) *pem.Block {
	for rest := data; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil
		}
		if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			return blk
		}
	}
}

func isEncryptedKey(data []byte) bool {
	blk := privateKeyBlock(data)
	return blk != nil && (strings.Contains(blk.Type, "ENCRYPTED") || blk.Headers["Proc-Type"] != "")
}

func checkPrivateKey(data []byte) error {
	blk := privateKeyBlock(data)
	if blk == nil {
		return errors.New("no PEM private key (-----BEGIN ... PRIVATE KEY-----) found")
	}
	if isEncryptedKey(data) {
		return nil // checked when the key is unlocked with key_password
	}
	if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
		return nil
	}
	return errors.New("the private key cannot be parsed (PKCS#8, PKCS#1 or SEC 1 expected)")
}

// checkPluginExecutable verifies, under CheckFiles, that a plugin
// executable exists and has the pinned checksum. It streams the file.
func (d *decoder) checkPluginExecutable(p, sum string, pathA, sumA *hcl.Attribute) {
	f, err := d.opts.Open(p)
	if err != nil {
		d.errorf(pathA.Expr.Range(), "Plugin not found", "%s: %s.", p, unwrapPathError(err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		d.errorf(pathA.Expr.Range(), "Plugin not usable", "%s is not a regular file.", p)
		return
	}
	if fi.Mode().Perm()&0o111 == 0 {
		d.errorf(pathA.Expr.Range(), "Plugin not executable", "%s has no execute permission.", p)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		d.errorf(pathA.Expr.Range(), "Plugin not usable", "%s: %s.", p, unwrapPathError(err))
		return
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		d.errorf(sumA.Expr.Range(), "Checksum mismatch", "%s has SHA-256 %s, not the pinned one; if the plugin was updated on purpose, pin the new checksum.", p, got)
	}
}
