package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// mustFail opens wire and requires a typed failure: no panic, no io.EOF success.
func mustFail(t *testing.T, what string, wire []byte, v Verification, want error) {
	t.Helper()
	_, res, err := open(wire, v)
	if err == nil {
		t.Fatalf("%s: accepted", what)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: untyped error %T: %v", what, err, err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
	if res.Signer != nil {
		t.Fatalf("%s: result names a signer after a failure", what)
	}
}

// ciphertextRange returns where the encrypted content of an EnvelopedData starts and
// ends (our writer's layout: the content is followed by ten end-of-contents octets).
func ciphertextRange(t *testing.T, env []byte) (int, int) {
	t.Helper()
	r := ber.NewReader(bytes.NewReader(env), 0)
	if err := openContentInfo(r, oidEnvelopedData); err != nil {
		t.Fatal(err)
	}
	if _, err := readSmallInt(r); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil { // recipientInfos
		t.Fatal(err)
	}
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Enter(); err != nil {
		t.Fatal(err)
	}
	if _, err := readOID(r); err != nil {
		t.Fatal(err)
	}
	if _, err := readAlgorithm(r); err != nil {
		t.Fatal(err)
	}
	h, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	return int(h.Offset) + 2, len(env) - 10
}

func TestTamperCiphertext(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(40_000, 21)
	for _, suite := range []Suite{Suite3DESSHA256, SuiteAES256SHA1} {
		wire := protect(t, data, protection(suite, true, true, true))
		start, end := ciphertextRange(t, wire)
		v := verification(true, true, true)
		step := max(1, (end-start)/150)
		for off := start; off < end; off += step {
			tampered := append([]byte(nil), wire...)
			tampered[off] ^= 0x04
			mustFail(t, fmt.Sprintf("%s bit flip at %d", suite.Code(), off), tampered, v, nil)
		}
	}
	// Encrypted only: a flip of the last plaintext octet (via the previous ciphertext
	// block) breaks the padding, which is all CBC can detect on its own.
	for _, c := range []Cipher{DES3, AES256} {
		for _, n := range []int{0, 5, 16, 33} {
			p := protection(SuiteAES256SHA256, false, false, true)
			p.Cipher = c
			wire := protect(t, testData(n, 1), p)
			_, end := ciphertextRange(t, wire)
			tampered := append([]byte(nil), wire...)
			tampered[end-1-c.BlockSize()] ^= 0x01
			mustFail(t, fmt.Sprintf("%v padding, %d octets", c, n), tampered, verification(false, false, true), ErrDecryption)
		}
	}
}

func TestTamperSignedData(t *testing.T) {
	alice := testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(20_000, 8)
	when := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	sd := mustSigned(t, data, SignOptions{Signers: []Signer{alice.signer(crypto.SHA256)}, Clock: func() time.Time { return when }})
	v := verification(true, false, false)
	if _, _, err := open(sd, v); err != nil {
		t.Fatal(err)
	}
	sigEnd := len(sd) - 6 // ContentInfo suffix
	cases := map[string][]int{
		"signature":      {sigEnd - 1, sigEnd - 100, sigEnd - 256},
		"content":        {200, 10_000, len(sd) / 2},
		"signing time":   {bytes.Index(sd, mustMarshal(when)) + 5},
		"message digest": {bytes.Index(sd, oidAttrMessageDigestDER()) + 20},
	}
	for name, offs := range cases {
		for _, off := range offs {
			if off < 0 || off >= len(sd) {
				t.Fatalf("%s: offset %d not found", name, off)
			}
			tampered := append([]byte(nil), sd...)
			tampered[off] ^= 0x01
			mustFail(t, fmt.Sprintf("%s flipped at %d", name, off), tampered, v, ErrInvalidSignature)
		}
	}
	// Content flips are found by the digest check.
	tampered := append([]byte(nil), sd...)
	tampered[10_000] ^= 0x01
	mustFail(t, "content", tampered, v, ErrDigestMismatch)
}

func oidAttrMessageDigestDER() []byte { return mustMarshal(oidAttrMessageDigest) }

func TestWrongCertificate(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	data := testData(3000, 2)
	wire := protect(t, data, protection(SuiteAES256SHA256, true, true, true))

	v := verification(true, true, true)
	v.Decrypter, v.Certificate = alice.rsaKey(), alice.cert
	mustFail(t, "not a recipient", wire, v, ErrNoRecipient)

	v = verification(true, true, true)
	v.Decrypter = alice.rsaKey() // bob's certificate, alice's key
	mustFail(t, "key does not match certificate", wire, v, ErrDecryption)

	v = verification(true, true, true)
	v.Trusted = []*x509.Certificate{bob.cert}
	mustFail(t, "signer not trusted", wire, v, ErrSignerNotTrusted)

	// Signer certificate embedded but not trusted: still refused.
	sd := mustSigned(t, data, SignOptions{Signers: []Signer{alice.signer(crypto.SHA256)}, IncludeCertificates: true})
	v = verification(true, false, false)
	v.Trusted = []*x509.Certificate{bob.cert}
	mustFail(t, "embedded certificate only", sd, v, ErrSignerNotTrusted)
}

func TestTruncation(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(6000, 3)
	for mask := 1; mask < 8; mask++ {
		sign, compress, encrypt := mask&1 != 0, mask&2 != 0, mask&4 != 0
		wire := protect(t, data, protection(Suite3DESSHA1, sign, compress, encrypt))
		v := verification(sign, compress, encrypt)
		var offs []int
		for i := 0; i < len(wire); i++ {
			if i < 80 || i > len(wire)-80 || i%37 == 0 {
				offs = append(offs, i)
			}
		}
		for _, n := range offs {
			_, _, err := open(wire[:n], v)
			var e *Error
			if err == nil || !errors.As(err, &e) {
				t.Fatalf("sign=%v compress=%v encrypt=%v: truncated to %d of %d: %v", sign, compress, encrypt, n, len(wire), err)
			}
		}
		// Trailing octets after the file are refused as well.
		_, _, err := open(append(append([]byte(nil), wire...), 0), v)
		if err == nil {
			t.Fatalf("mask %d: trailing octet accepted", mask)
		}
	}
}

// TestNoPlaintextBeforeFailure checks that the reader, fed a file whose signature is
// wrong, hands out content but never io.EOF, and that Result reports the failure.
func TestNoUnverifiedSuccess(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(100_000, 6)
	wire := protect(t, data, protection(SuiteAES256SHA512, true, false, false))
	tampered := append([]byte(nil), wire...)
	tampered[len(tampered)-20] ^= 0x80
	fr, err := NewFileReader(bytes.NewReader(tampered), verification(true, false, false))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	total := 0
	for {
		n, err := fr.Read(buf)
		total += n
		if err == io.EOF {
			t.Fatal("io.EOF for a file with a bad signature")
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("error %v", err)
			}
			break
		}
	}
	if total != len(data) {
		t.Fatalf("streamed %d octets before the verdict, want %d", total, len(data))
	}
	res := fr.Result()
	if res.Err == nil || res.Signer != nil {
		t.Fatalf("result %+v", res)
	}
	var e *Error
	if !errors.As(res.Err, &e) || e.EFNAReason() != 21 || e.NERPReason() != 31 {
		t.Fatalf("result error %v", res.Err)
	}
	// Further reads keep failing.
	if _, err := fr.Read(buf); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("read after failure: %v", err)
	}
}

func TestCompressedTamper(t *testing.T) {
	data := testData(30_000, 12)
	comp := mustCompressed(t, data)
	for _, off := range []int{60, 200, len(comp) / 2, len(comp) - 16} {
		tampered := append([]byte(nil), comp...)
		tampered[off] ^= 0x10
		cr, err := NewCompressedReader(bytes.NewReader(tampered))
		if err == nil {
			_, err = io.ReadAll(cr)
		}
		if !errors.Is(err, ErrDecompression) {
			t.Fatalf("flip at %d: %v", off, err)
		}
		var e *Error
		if errors.As(err, &e); e.EFNAReason() != 23 || e.NERPReason() != 32 {
			t.Fatalf("codes %d %d", e.EFNAReason(), e.NERPReason())
		}
	}
	// Data after the zlib stream inside the OCTET STRING.
	var buf bytes.Buffer
	w, _ := NewCompressedWriter(&buf, CompressOptions{})
	w.Write(data)
	w.Close()
	raw := buf.Bytes()
	// Insert an extra chunk "04 01 00" before the EOC of the OCTET STRING.
	pos := len(raw) - 10
	withExtra := append(append(append([]byte(nil), raw[:pos]...), 0x04, 0x01, 0x00), raw[pos:]...)
	cr, err := NewCompressedReader(bytes.NewReader(withExtra))
	if err == nil {
		_, err = io.ReadAll(cr)
	}
	if !errors.Is(err, ErrDecompression) {
		t.Fatalf("extra data after zlib stream: %v", err)
	}
}

// TestKeyBlockNoOracle: a damaged RSA key block and a wrong private key must look the
// same to the sender (EFNA 22 / NERP 33), so that answers leak nothing about PKCS #1
// padding.
func TestKeyBlockNoOracle(t *testing.T) {
	alice := testIdentity(t, "alice")
	testIdentity(t, "bob")
	wire := protect(t, testData(5000, 31), protection(SuiteAES256SHA256, true, true, true))
	ek := bytes.Index(wire, []byte{0x04, 0x82, 0x01, 0x00}) // the 256-octet encryptedKey
	if ek < 0 || ek > 1000 {
		t.Fatalf("encryptedKey not found (%d)", ek)
	}
	for _, off := range []int{ek + 4, ek + 100, ek + 259} {
		damaged := append([]byte(nil), wire...)
		damaged[off] ^= 0x20
		_, _, err := open(damaged, verification(true, true, true))
		if efna, nerp, ok := ReasonCodes(err); !ok || efna != 22 || nerp != 33 {
			t.Fatalf("damaged key block at %d: %v", off, err)
		}
	}
	v := verification(true, true, true)
	v.Decrypter = alice.rsaKey()
	_, _, err := open(wire, v)
	if efna, nerp, ok := ReasonCodes(err); !ok || efna != 22 || nerp != 33 {
		t.Fatalf("wrong key: %v", err)
	}
}
