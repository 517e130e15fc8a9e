package main

import (
	"errors"
	"flag"
	"io"
	"path/filepath"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/filesec"
)

func parseSecurity(t *testing.T, args ...string) *securityFlags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := newSecurityFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, certtest.Options{})
	own := ca.Issue(t, certtest.Options{CommonName: "O0013OWN", KeyType: certtest.RSA2048})
	partner := ca.Issue(t, certtest.Options{CommonName: "O0013PARTNER", KeyType: certtest.RSA2048})
	certPath, keyPath := own.WriteFiles(t, dir, "own")
	partnerPath := filepath.Join(dir, "partner.pem")
	certtest.WriteFile(t, partnerPath, partner.CertPEM())

	t.Run("none", func(t *testing.T) {
		o := oftp.DefaultOptions()
		sec, err := parseSecurity(t).apply(&o, nil)
		if err != nil || sec != nil || o.OutgoingTransform != nil {
			t.Fatalf("no flags changed the options: %v %v", sec, err)
		}
	})
	t.Run("full", func(t *testing.T) {
		o := oftp.DefaultOptions()
		o.PartnerSSIDCode = "O0013PARTNER"
		f := parseSecurity(t, "--security-cert", certPath, "--security-key", keyPath, "--partner-cert", partnerPath,
			"--security", "both", "--cipher-suite", "4", "--file-compression", "--signed-receipt", "--secure-auth")
		sec, err := f.apply(&o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !o.SecureAuthentication || o.Authenticator == nil || o.OutgoingTransform == nil || o.IncomingTransform == nil ||
			o.EndResponseSigner == nil || o.EndResponseVerifier == nil {
			t.Fatal("options not filled")
		}
		p, ok := sec.Partner("O0013PARTNER")
		if !ok || p.Outgoing != (filesec.Protection{Level: filesec.LevelBoth, Suite: 4, Compress: true, SignedReceipt: true}) ||
			len(p.EncryptionCertificates) != 1 {
			t.Fatalf("partner %+v", p)
		}
	})
	t.Run("encryption without partner certificate", func(t *testing.T) {
		o := oftp.DefaultOptions()
		_, err := parseSecurity(t, "--security", "encrypted").apply(&o, nil)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad suite", func(t *testing.T) {
		o := oftp.DefaultOptions()
		_, err := parseSecurity(t, "--cipher-suite", "7", "--security", "signed").apply(&o, nil)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Fatalf("got %v", err)
		}
	})
}
