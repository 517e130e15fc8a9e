package cms

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// Sizes around block and chunk boundaries.
var crossSizes = []int{0, 1, 15, 16, 17, 8191, defaultChunk, defaultChunk + 1, 100_003}

func TestEnvelopedDecryptsWithOpenSSL(t *testing.T) {
	bob := testIdentity(t, "bob")
	for _, c := range []Cipher{DES3, AES128, AES192, AES256} {
		for _, n := range crossSizes {
			t.Run(fmt.Sprintf("%v/%d", c, n), func(t *testing.T) {
				data := testData(n, int64(n))
				env := mustEnveloped(t, data, EnvelopeOptions{Recipients: []*x509.Certificate{bob.cert}, Cipher: c, ChunkSize: 4096})
				in := writeTemp(t, "env.der", env)
				out, err := openssl(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", in,
					"-recip", bob.certPath, "-inkey", bob.keyPath)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, data) {
					t.Fatalf("openssl decrypted %d octets, want %d", len(out), len(data))
				}
			})
		}
	}
}

func TestEnvelopedReadsOpenSSL(t *testing.T) {
	bob := testIdentity(t, "bob")
	alice := testIdentity(t, "alice")
	data := testData(70_001, 3)
	in := writeTemp(t, "data.txt", data)
	cases := []struct {
		name string
		args []string
		want Cipher
	}{
		{"des3", []string{"-des3"}, DES3},
		{"aes128-stream", []string{"-aes128", "-stream"}, AES128},
		{"aes192", []string{"-aes192"}, AES192},
		{"aes256-stream", []string{"-aes256", "-stream"}, AES256},
		{"aes256-oaep", []string{"-aes256", "-recip", "BOB", "-keyopt", "rsa_padding_mode:oaep"}, AES256},
		{"aes256-oaep-sha256", []string{"-aes256", "-stream", "-recip", "BOB", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}, AES256},
		{"des3-ski", []string{"-des3", "-keyid"}, DES3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Two recipients: ours must be found among them. -keyopt applies to the
			// -recip before it, so OAEP cases name bob with -recip.
			args := []string{"cms", "-encrypt", "-binary", "-outform", "DER", "-in", in, "-recip", alice.certPath}
			bobListed := false
			for _, a := range tc.args {
				if a == "BOB" {
					a, bobListed = bob.certPath, true
				}
				args = append(args, a)
			}
			if !bobListed {
				args = append(args, "-recip", bob.certPath)
			}
			env, err := openssl(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(tc.name, "stream") && !bytes.HasPrefix(env, []byte{0x30, 0x80}) {
				t.Fatalf("openssl -stream output is not indefinite-length: % x", env[:4])
			}
			er, err := NewEnvelopedReader(bytes.NewReader(env), bob.decrypt())
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(er)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || er.Cipher() != tc.want {
				t.Fatalf("got %d octets with %v, want %d with %v", len(got), er.Cipher(), len(data), tc.want)
			}
		})
	}
}

func TestSignedVerifiesWithOpenSSL(t *testing.T) {
	alice := testIdentity(t, "alice")
	ec := testIdentity(t, "ecdsa")
	type variant struct {
		name   string
		signer Signer
		opts   SignOptions
	}
	var variants []variant
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		variants = append(variants,
			variant{fmt.Sprintf("%v", h), alice.signer(h), SignOptions{}},
			variant{fmt.Sprintf("%v-noattr", h), alice.signer(h), SignOptions{NoSignedAttributes: true}},
		)
	}
	pss := alice.signer(crypto.SHA256)
	pss.PSS = true
	variants = append(variants,
		variant{"pss", pss, SignOptions{}},
		variant{"ecdsa", ec.signer(crypto.SHA256), SignOptions{}},
		variant{"embedded-cert", alice.signer(crypto.SHA256), SignOptions{IncludeCertificates: true}},
	)
	for _, v := range variants {
		for _, n := range []int{0, 17, 100_003} {
			t.Run(fmt.Sprintf("%s/%d", v.name, n), func(t *testing.T) {
				data := testData(n, 7)
				opts := v.opts
				opts.Signers = []Signer{v.signer}
				opts.ChunkSize = 1000
				sd := mustSigned(t, data, opts)
				in := writeTemp(t, "sd.der", sd)
				certPath := alice.certPath
				if v.name == "ecdsa" {
					certPath = ec.certPath
				}
				out, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", in,
					"-noverify", "-certfile", certPath)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out, data) {
					t.Fatalf("openssl returned %d octets, want %d", len(out), len(data))
				}
				// Detached over the same content.
				det, err := SignDetached(bytes.NewReader(data), opts)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER",
					"-in", writeTemp(t, "det.der", det), "-content", writeTemp(t, "data", data),
					"-noverify", "-certfile", certPath, "-out", "/dev/null"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestSignedReadsOpenSSL(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	data := testData(90_000, 11)
	in := writeTemp(t, "data.txt", data)
	cases := []struct {
		name string
		args []string
		hash crypto.Hash
	}{
		{"sha1", []string{"-md", "sha1"}, crypto.SHA1},
		{"sha256-stream", []string{"-md", "sha256", "-stream"}, crypto.SHA256},
		{"sha512-noattr-nocerts", []string{"-md", "sha512", "-noattr", "-nocerts"}, crypto.SHA512},
		{"sha256-pss", []string{"-md", "sha256", "-keyopt", "rsa_padding_mode:pss"}, crypto.SHA256},
		{"sha256-keyid-stream", []string{"-md", "sha256", "-keyid", "-stream"}, crypto.SHA256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-in", in,
				"-signer", alice.certPath, "-inkey", alice.keyPath}, tc.args...)
			sd, err := openssl(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			sr, err := NewSignedReader(bytes.NewReader(sd), VerifyOptions{Trusted: []*x509.Certificate{bob.cert, alice.cert}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(sr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("content differs: %d vs %d octets", len(got), len(data))
			}
			sig := sr.Signature()
			if sig == nil || !sig.Certificate.Equal(alice.cert) || sig.Hash != tc.hash {
				t.Fatalf("signature %+v", sig)
			}
			// The same file from a partner we do not trust.
			sr, err = NewSignedReader(bytes.NewReader(sd), VerifyOptions{Trusted: []*x509.Certificate{bob.cert}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(sr); !errors.Is(err, ErrInvalidSignature) || !errors.Is(err, ErrSignerNotTrusted) {
				t.Fatalf("untrusted signer: %v", err)
			}

			// Detached signature over the same file (OpenSSL attaches whenever it
			// streams DER, so -stream is left out here).
			args = []string{"cms", "-sign", "-binary", "-outform", "DER", "-in", in,
				"-signer", alice.certPath, "-inkey", alice.keyPath}
			for _, a := range tc.args {
				if a != "-stream" {
					args = append(args, a)
				}
			}
			det, err := openssl(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			s, err := VerifyDetached(bytes.NewReader(det), bytes.NewReader(data), VerifyOptions{Trusted: []*x509.Certificate{alice.cert}})
			if err != nil {
				t.Fatal(err)
			}
			if s.Hash != tc.hash {
				t.Fatalf("hash %v", s.Hash)
			}
			tampered := append(append([]byte(nil), data[:100]...), 'X')
			tampered = append(tampered, data[101:]...)
			if _, err := VerifyDetached(bytes.NewReader(det), bytes.NewReader(tampered), VerifyOptions{Trusted: []*x509.Certificate{alice.cert}}); !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("tampered content: %v", err)
			}
		})
	}
}

// TestNestedWithOpenSSL checks the layer nesting (RFC 5024 §6.1, without compression,
// which this OpenSSL build lacks) against OpenSSL in both directions.
func TestNestedWithOpenSSL(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	data := testData(50_000, 17)
	for _, suite := range []Suite{Suite3DESSHA1, SuiteAES256SHA512} {
		t.Run("ours "+suite.Code(), func(t *testing.T) {
			wire := protect(t, data, protection(suite, true, false, true))
			inner, err := openssl(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", writeTemp(t, "f.cms", wire),
				"-recip", bob.certPath, "-inkey", bob.keyPath)
			if err != nil {
				t.Fatal(err)
			}
			out, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", writeTemp(t, "inner.der", inner),
				"-noverify", "-certfile", alice.certPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data) {
				t.Fatalf("openssl recovered %d octets, want %d", len(out), len(data))
			}
		})
	}
	for _, tc := range []struct{ md, cipher string }{{"sha1", "-des3"}, {"sha256", "-aes256"}} {
		t.Run("openssl "+tc.md, func(t *testing.T) {
			signed, err := openssl(t, "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-stream", "-nocerts",
				"-md", tc.md, "-in", writeTemp(t, "data", data), "-signer", alice.certPath, "-inkey", alice.keyPath)
			if err != nil {
				t.Fatal(err)
			}
			wire, err := openssl(t, "cms", "-encrypt", "-binary", "-outform", "DER", "-stream", tc.cipher,
				"-in", writeTemp(t, "signed.der", signed), bob.certPath)
			if err != nil {
				t.Fatal(err)
			}
			got, res, err := open(wire, verification(true, false, true))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || !res.Signer.Equal(alice.cert) {
				t.Fatalf("got %d octets, signer %v", len(got), res.Signer)
			}
		})
	}
}

// TestCertificateRollOver signs with the old and the new key, as RFC 5024 §6.2
// allows, and checks both OpenSSL's and our view.
func TestCertificateRollOver(t *testing.T) {
	alice := testIdentity(t, "alice")
	carol := testIdentity(t, "carol") // alice's new certificate
	bob := testIdentity(t, "bob")
	data := testData(20_000, 19)
	in := writeTemp(t, "data", data)

	// Ours, two signers: OpenSSL verifies both.
	sd := mustSigned(t, data, SignOptions{Signers: []Signer{alice.signer(crypto.SHA256), carol.signer(crypto.SHA512)}})
	bundle := writeTemp(t, "both.pem", append(mustRead(t, alice.certPath), mustRead(t, carol.certPath)...))
	if _, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", writeTemp(t, "sd.der", sd),
		"-noverify", "-certfile", bundle, "-out", "/dev/null"); err != nil {
		t.Fatal(err)
	}
	// OpenSSL's, two signers: a partner who knows only one of the certificates accepts.
	osd, err := openssl(t, "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-nocerts", "-in", in,
		"-signer", alice.certPath, "-inkey", alice.keyPath, "-signer", carol.certPath, "-inkey", carol.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, trusted := range [][]*x509.Certificate{{alice.cert}, {carol.cert}, {alice.cert, carol.cert}} {
		sr, err := NewSignedReader(bytes.NewReader(osd), VerifyOptions{Trusted: trusted})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(sr); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("trusting %d certificates: %v", len(trusted), err)
		}
	}
	sr, err := NewSignedReader(bytes.NewReader(osd), VerifyOptions{Trusted: []*x509.Certificate{bob.cert}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(sr); !errors.Is(err, ErrSignerNotTrusted) {
		t.Fatalf("neither signer trusted: %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// oaepOnlyDecrypter behaves like local-kms, which decrypts only RSAES-OAEP.
type oaepOnlyDecrypter struct{ inner crypto.Decrypter }

func (o oaepOnlyDecrypter) Public() crypto.PublicKey { return o.inner.Public() }

func (o oaepOnlyDecrypter) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if _, ok := opts.(*rsa.OAEPOptions); !ok {
		return nil, errors.New("kms: unsupported encryption algorithm")
	}
	return o.inner.Decrypt(rand, msg, opts)
}

func TestOAEPOnlyDecrypter(t *testing.T) {
	bob := testIdentity(t, "bob")
	data := testData(3000, 23)
	dec := DecryptOptions{Decrypter: oaepOnlyDecrypter{bob.rsaKey()}, Certificate: bob.cert}

	env := mustEnveloped(t, data, EnvelopeOptions{Recipients: []*x509.Certificate{bob.cert}, Cipher: AES256})
	_, err := NewEnvelopedReader(bytes.NewReader(env), dec)
	if !errors.Is(err, ErrDecryption) || !strings.Contains(err.Error(), "PKCS #1 v1.5") {
		t.Fatalf("PKCS #1 v1.5 file through an OAEP-only key: %v", err)
	}
	oaep, err := openssl(t, "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256",
		"-in", writeTemp(t, "data", data), "-recip", bob.certPath, "-keyopt", "rsa_padding_mode:oaep")
	if err != nil {
		t.Fatal(err)
	}
	er, err := NewEnvelopedReader(bytes.NewReader(oaep), dec)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(er); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OAEP file: %v", err)
	}
}

func TestOAEPOutputWithOpenSSL(t *testing.T) {
	bob := testIdentity(t, "bob")
	data := testData(5000, 29)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		env := mustEnveloped(t, data, EnvelopeOptions{Recipients: []*x509.Certificate{bob.cert}, Cipher: AES256, OAEPHash: h})
		out, err := openssl(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", writeTemp(t, "oaep.der", env),
			"-recip", bob.certPath, "-inkey", bob.keyPath)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%v: openssl: %v", h, err)
		}
		er, err := NewEnvelopedReader(bytes.NewReader(env), DecryptOptions{Decrypter: oaepOnlyDecrypter{bob.rsaKey()}, Certificate: bob.cert})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(er); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%v: ours: %v", h, err)
		}
	}
}

func TestSignedReadsOpenSSLECDSA(t *testing.T) {
	ec := testIdentity(t, "ecdsa")
	data := testData(12_345, 37)
	sd, err := openssl(t, "cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-stream", "-md", "sha384",
		"-in", writeTemp(t, "data", data), "-signer", ec.certPath, "-inkey", ec.keyPath)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := NewSignedReader(bytes.NewReader(sd), VerifyOptions{Trusted: []*x509.Certificate{ec.cert}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(sr)
	if err != nil || !bytes.Equal(got, data) || sr.Signature().Hash != crypto.SHA384 {
		t.Fatalf("ECDSA SHA-384: %v", err)
	}
}
