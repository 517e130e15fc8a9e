package certs_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// The committed bundles were made by OpenSSL (crl2pkcs7) from the Describe
// test chain; TestPKCS7FromOpenSSL makes fresh ones.
func TestPKCS7Committed(t *testing.T) {
	want, err := certs.LoadCertificates("testdata/describe/partner-chain.pem")
	if err != nil {
		t.Fatal(err)
	}
	root, err := certs.LoadCertificates("testdata/describe/root.pem")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, root...)
	for _, p := range []string{"testdata/p7b/partner-chain.p7b", "testdata/p7b/partner-chain.p7b.pem"} {
		got, err := certs.LoadCertificates(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d certificates, want %d", p, len(got), len(want))
		}
		for i := range got {
			if !got[i].Equal(want[i]) {
				t.Fatalf("%s: certificate %d differs", p, i)
			}
		}
	}
}

func TestPKCS7FromOpenSSL(t *testing.T) {
	openssl := requireTool(t, "openssl")
	ca := certtest.NewCA(t, certtest.Options{})
	leaf := ca.Issue(t, certtest.Options{})
	dir := t.TempDir()
	in := filepath.Join(dir, "chain.pem")
	certtest.WriteFile(t, in, certtest.PEMCerts(leaf.Cert, ca.Cert))
	crlPath := filepath.Join(dir, "ca.crl")
	certtest.WriteFile(t, crlPath, ca.CRL(t, certtest.CRLOptions{}))
	crlPEM := filepath.Join(dir, "ca.crl.pem")
	run(t, openssl, "crl", "-inform", "DER", "-in", crlPath, "-out", crlPEM)
	out := filepath.Join(dir, "b.p7b")
	// With a CRL in the bundle too: it must be skipped, not misread.
	run(t, openssl, "crl2pkcs7", "-in", crlPEM, "-certfile", in, "-outform", "DER", "-out", out)
	got, err := certs.LoadCertificates(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Equal(leaf.Cert) || !got[1].Equal(ca.Cert) {
		t.Fatalf("got %d certificates", len(got))
	}
	// A bundle without certificates.
	empty := filepath.Join(dir, "empty.p7b")
	run(t, openssl, "crl2pkcs7", "-in", crlPEM, "-outform", "DER", "-out", empty)
	data, err := os.ReadFile(empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs.ParsePKCS7Certificates(data); !errors.Is(err, certs.ErrNoCertificate) {
		t.Fatalf("empty bundle: %v", err)
	}
	if _, err := certs.ParsePKCS7Certificates(leaf.Cert.Raw); !errors.Is(err, certs.ErrPKCS7) {
		t.Fatalf("certificate as bundle: %v", err)
	}
}

func FuzzPKCS7(f *testing.F) {
	if data, err := os.ReadFile("testdata/p7b/partner-chain.p7b"); err == nil {
		f.Add(data)
	}
	f.Add([]byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := certs.ParsePKCS7Certificates(data)
		if err == nil && len(got) == 0 {
			t.Fatal("success without certificates")
		}
		for _, c := range got {
			if c == nil || len(c.Raw) > len(data) {
				t.Fatal("certificate larger than the input")
			}
		}
		// Cross-check with the CMS library's reader (certs does not import it): what
		// both accept they read alike, and a DER bundle cms accepts is accepted here.
		theirs, cerr := cms.ParseCertificates(data)
		if err == nil && cerr == nil {
			if len(theirs) != len(got) {
				t.Fatalf("%d certificates, cms reads %d", len(got), len(theirs))
			}
			for i := range got {
				if !got[i].Equal(theirs[i]) {
					t.Fatalf("certificate %d differs from what cms reads", i)
				}
			}
		}
		if err != nil && cerr == nil {
			if der, derr := ber.ToDER(data, len(data)); derr == nil && bytes.Equal(der, data) {
				t.Fatalf("DER bundle that cms reads refused: %v", err)
			}
		}
	})
}
