package cms

import (
	"strings"
	"testing"
)

func TestCertificateFileWithOpenSSL(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")

	p7, err := openssl(t, "crl2pkcs7", "-nocrl", "-certfile", alice.certPath, "-certfile", bob.certPath, "-outform", "DER")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertificates(p7)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(alice.cert) || !certs[1].Equal(bob.cert) {
		t.Fatalf("parsed %d certificates", len(certs))
	}

	ours := CertificatesOnly(certs)
	out, err := openssl(t, "pkcs7", "-inform", "DER", "-in", writeTemp(t, "certs.p7", ours), "-print_certs", "-noout")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "CN = alice") || !strings.Contains(string(out), "CN = bob") {
		t.Fatalf("openssl sees:\n%s", out)
	}
	back, err := ParseCertificates(ours)
	if err != nil || len(back) != 2 {
		t.Fatalf("round trip: %d, %v", len(back), err)
	}
	for n := 0; n < len(ours); n += 97 {
		if _, err := ParseCertificates(ours[:n]); err == nil {
			t.Fatalf("truncated to %d accepted", n)
		}
	}
}
