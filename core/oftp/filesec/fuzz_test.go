package filesec_test

import (
	"testing"

	"github.com/oftp2/connector/core/oftp/filesec"
)

// FuzzCertificatePayload: whatever a partner puts into an ODETTE_CERTIFICATE_* file,
// parsing fails cleanly or yields certificates.
func FuzzCertificatePayload(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := filesec.ParseCertificatePayload(b)
		if err == nil && len(cs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}
