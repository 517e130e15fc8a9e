package cms

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func sampleReceipt(kind ReceiptKind, fileHash []byte) Receipt {
	return Receipt{
		Kind: kind, DatasetName: "PAYMENTS.DELFOR", Date: "20261127", Time: "0300000001",
		Destination: "O0013000001ORIGIN", Originator: "O0013000002DEST", Creator: "O0013000002DEST",
		FileHash: fileHash,
	}
}

func TestReceiptSignedContentLayout(t *testing.T) {
	h := bytes.Repeat([]byte{0xab}, 20)
	e := sampleReceipt(EERP, h)
	b, err := e.SignedContent()
	if err != nil {
		t.Fatal(err)
	}
	// 26 + 8 + 10 + 25 + 25 + 20 = 114, the SHA-1 length PROTOCOL.md §8.6 gives.
	want := "PAYMENTS.DELFOR           " + "20261127" + "0300000001" +
		"O0013000001ORIGIN        " + "O0013000002DEST          " + string(h)
	if string(b) != want || len(b) != 114 {
		t.Fatalf("EERP signed content %q (%d)", b, len(b))
	}
	n := sampleReceipt(NERP, h)
	b, err = n.SignedContent()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 139 || string(b[94:119]) != "O0013000002DEST          " {
		t.Fatalf("NERP signed content %q (%d)", b, len(b))
	}
	back, err := ParseReceiptContent(NERP, b)
	if err != nil || back.Creator != n.Creator || !bytes.Equal(back.FileHash, h) || back.DatasetName != n.DatasetName {
		t.Fatalf("parse back: %+v %v", back, err)
	}
	bad := e
	bad.Date = "2026112"
	if _, err := bad.SignedContent(); err == nil {
		t.Fatal("short date accepted")
	}
	bad = e
	bad.DatasetName = "A NAME THAT IS MUCH TOO LONG FOR THE FIELD"
	if _, err := bad.SignedContent(); err == nil {
		t.Fatal("long DSN accepted")
	}
}

func TestReceiptSignVerify(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	sent := testData(10_000, 9)
	for _, suite := range []Suite{Suite3DESSHA1, SuiteAES256SHA256, SuiteAES256SHA512} {
		for _, kind := range []ReceiptKind{EERP, NERP} {
			t.Run(suite.Code()+"/"+kind.String(), func(t *testing.T) {
				fh, err := NewFileHasher(suite, true)
				if err != nil {
					t.Fatal(err)
				}
				fh.Write(sent)
				r := sampleReceipt(kind, fh.Sum())
				signer := ReceiptSigner{Suite: suite, Key: bob.key, Certificate: bob.cert,
					Clock: func() time.Time { return time.Date(2026, 11, 27, 3, 1, 0, 0, time.UTC) }}
				sig, err := signer.Sign(r)
				if err != nil {
					t.Fatal(err)
				}
				check := ReceiptCheck{Suite: suite, Trusted: []*x509.Certificate{bob.cert}, SentHash: fh.Sum()}
				v, err := VerifyReceipt(r, sig, check)
				if err != nil {
					t.Fatal(err)
				}
				if !v.Signer.Equal(bob.cert) || v.FileHashAlgorithm != suite.Hash() || v.SHA1Fallback ||
					!v.SigningTime.Equal(time.Date(2026, 11, 27, 3, 1, 0, 0, time.UTC)) {
					t.Fatalf("verdict %+v", v)
				}

				// Forged and mismatched receipts.
				forged := append([]byte(nil), sig...)
				forged[len(forged)-10] ^= 0x01 // inside the RSA signature
				if _, err := VerifyReceipt(r, forged, check); !errors.Is(err, ErrReceipt) || !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("forged signature: %v", err)
				}
				other := r
				other.DatasetName = "OTHER.FILE"
				if _, err := VerifyReceipt(other, sig, check); !errors.Is(err, ErrReceipt) || !errors.Is(err, ErrReceiptMismatch) {
					t.Fatalf("receipt for another file: %v", err)
				}
				wrongHash := check
				wrongHash.SentHash = append([]byte{0}, fh.Sum()[1:]...)
				if _, err := VerifyReceipt(r, sig, wrongHash); !errors.Is(err, ErrFileHashMismatch) {
					t.Fatalf("hash of another file: %v", err)
				}
				untrusted := check
				untrusted.Trusted = []*x509.Certificate{alice.cert}
				if _, err := VerifyReceipt(r, sig, untrusted); !errors.Is(err, ErrSignerNotTrusted) {
					t.Fatalf("untrusted signer: %v", err)
				}
				if _, err := VerifyReceipt(r, nil, check); !errors.Is(err, ErrNotSigned) {
					t.Fatalf("unsigned: %v", err)
				}
				// Signed by someone else in the name of bob (same content, alice's key).
				impostor := ReceiptSigner{Suite: suite, Key: alice.key, Certificate: bob.cert}
				isig, err := impostor.Sign(r)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := VerifyReceipt(r, isig, check); !errors.Is(err, ErrInvalidSignature) {
					t.Fatalf("impostor: %v", err)
				}
			})
		}
	}
}

func TestReceiptLenientSHA1(t *testing.T) {
	bob := testIdentity(t, "bob")
	sent := testData(5000, 4)
	fh, err := NewFileHasher(SuiteAES256SHA256, true)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write(sent)
	s1 := sha1.Sum(sent)
	if !bytes.Equal(fh.SumSHA1(), s1[:]) {
		t.Fatal("SumSHA1 differs from SHA-1")
	}
	// A peer that hashes and signs with SHA-1 although the suite is 04.
	r := sampleReceipt(EERP, s1[:])
	content, err := r.SignedContent()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignBytes(content, SignOptions{Signers: []Signer{bob.signer(crypto.SHA1)}})
	if err != nil {
		t.Fatal(err)
	}
	strict := ReceiptCheck{Suite: SuiteAES256SHA256, Trusted: []*x509.Certificate{bob.cert}, SentHash: fh.Sum()}
	if _, err := VerifyReceipt(r, sig, strict); !errors.Is(err, ErrReceipt) {
		t.Fatalf("strict check accepted a SHA-1 receipt: %v", err)
	}
	lenient := strict
	lenient.AcceptSHA1, lenient.SentHashSHA1 = true, fh.SumSHA1()
	v, err := VerifyReceipt(r, sig, lenient)
	if err != nil {
		t.Fatal(err)
	}
	if !v.SHA1Fallback || v.FileHashAlgorithm != crypto.SHA1 || v.SignatureHash != crypto.SHA1 {
		t.Fatalf("verdict %+v", v)
	}
	// Lenient still refuses the SHA-1 of another file.
	lenient.SentHashSHA1 = make([]byte, 20)
	if _, err := VerifyReceipt(r, sig, lenient); !errors.Is(err, ErrFileHashMismatch) {
		t.Fatalf("lenient with wrong SHA-1: %v", err)
	}
}

func TestReceiptVerifiesWithOpenSSL(t *testing.T) {
	bob := testIdentity(t, "bob")
	r := sampleReceipt(EERP, make([]byte, 32))
	sig, err := ReceiptSigner{Suite: SuiteAES256SHA256, Key: bob.key, Certificate: bob.cert}.Sign(r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", writeTemp(t, "eerp.der", sig),
		"-noverify", "-certfile", bob.certPath)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := r.SignedContent()
	if !bytes.Equal(out, want) {
		t.Fatalf("openssl content %q", out)
	}
}

func TestChallenge(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	for _, suite := range []Suite{Suite3DESSHA1, SuiteAES256SHA1} {
		chal, auch, err := NewChallenge(bob.cert, suite, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if auch[0] != 0x30 || auch[1] == 0x80 {
			t.Fatalf("AUCH is not DER: % x", auch[:4])
		}
		resp, err := OpenChallenge(auch, bob.rsaKey(), bob.cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckChallengeResponse(chal, resp); err != nil {
			t.Fatal(err)
		}
		// OpenSSL opens our challenge too.
		out, err := openssl(t, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", writeTemp(t, "auch.der", auch),
			"-recip", bob.certPath, "-inkey", bob.keyPath)
		if err != nil || !bytes.Equal(out, chal) {
			t.Fatalf("openssl: %x %v", out, err)
		}
		// Encrypted for someone else: we cannot answer it.
		_, other, err := NewChallenge(alice.cert, suite, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenChallenge(other, bob.rsaKey(), bob.cert, nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.ESIDReason() != 11 || !errors.Is(err, ErrChallenge) {
			t.Fatalf("foreign challenge: %v", err)
		}
		bad := append([]byte(nil), resp...)
		bad[19] ^= 1
		if err := CheckChallengeResponse(chal, bad); !errors.Is(err, ErrChallenge) {
			t.Fatalf("wrong response: %v", err)
		}
	}
	// An OpenSSL-made challenge of the wrong length is refused.
	in := writeTemp(t, "long", make([]byte, 21))
	env, err := openssl(t, "cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", "-in", in, bob.certPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenChallenge(env, bob.rsaKey(), bob.cert, nil); !errors.Is(err, ErrChallenge) {
		t.Fatalf("21-octet challenge: %v", err)
	}
}

func TestReasonCodes(t *testing.T) {
	cases := []struct {
		err        error
		efna, nerp int
	}{
		{&Error{Failure: FailSignature}, 21, 31},
		{&Error{Failure: FailDecryption}, 22, 33},
		{&Error{Failure: FailDecompression}, 23, 32},
	}
	for _, c := range cases {
		e, n, ok := ReasonCodes(c.err)
		if !ok || e != c.efna || n != c.nerp {
			t.Errorf("%v: %d %d %v", c.err, e, n, ok)
		}
	}
	if _, _, ok := ReasonCodes(errors.New("other")); ok {
		t.Error("plain error mapped")
	}
	if _, _, ok := ReasonCodes(ErrChallenge); ok {
		t.Error("challenge failure has no EFNA code")
	}
}

func TestSuites(t *testing.T) {
	for _, c := range []struct {
		code   string
		cipher Cipher
		hash   crypto.Hash
	}{
		{"01", DES3, crypto.SHA1}, {"02", AES256, crypto.SHA1},
		{"03", DES3, crypto.SHA256}, {"04", AES256, crypto.SHA256},
		{"05", DES3, crypto.SHA512}, {"06", AES256, crypto.SHA512},
	} {
		s, err := ParseSuite(c.code)
		if err != nil || s.Cipher() != c.cipher || s.Hash() != c.hash || s.Code() != c.code || !s.Valid() {
			t.Errorf("suite %s: %v %v %v", c.code, s.Cipher(), s.Hash(), err)
		}
	}
	var use *UnsupportedSuiteError
	if _, err := ParseSuite("07"); !errors.As(err, &use) {
		t.Errorf("07: %v", err)
	}
	if s, err := ParseSuite("00"); err != nil || s.Valid() {
		t.Errorf("00: %v %v", s, err)
	}
	if _, err := ParseSuite("1"); err == nil {
		t.Error("one digit accepted")
	}
}
