package cms

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed fuzz seed corpora")

// fixedIdentity loads a committed test identity (testdata/keys), used where the
// bytes must stay stable across runs: the fuzz seed corpora.
func fixedIdentity(t testing.TB, name string) *identity {
	t.Helper()
	identitiesMu.Lock()
	defer identitiesMu.Unlock()
	if id := identities["fixed-"+name]; id != nil {
		return id
	}
	load := func(ext string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "keys", name+"."+ext))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := pem.Decode(b)
		if p == nil {
			t.Fatalf("%s.%s: no PEM block", name, ext)
		}
		return p.Bytes
	}
	cert, err := x509.ParseCertificate(load("crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(load("key"))
	if err != nil {
		t.Fatal(err)
	}
	id := &identity{key: key.(*rsa.PrivateKey), cert: cert,
		keyPath: filepath.Join("testdata", "keys", name+".key"), certPath: filepath.Join("testdata", "keys", name+".crt")}
	identities["fixed-"+name] = id
	return id
}

func fuzzVerification(t testing.TB, mask uint8) Verification {
	alice, bob := fixedIdentity(t, "alice"), fixedIdentity(t, "bob")
	return Verification{
		Signed: mask&1 != 0, Compressed: mask&2 != 0, Encrypted: mask&4 != 0,
		Decrypter: bob.rsaKey(), Certificate: bob.cert, Trusted: []*x509.Certificate{alice.cert},
	}
}

// writeSeed writes one corpus entry in the go test fuzz v1 format.
func writeSeed(t testing.TB, target, name string, values ...any) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case uint8:
			fmt.Fprintf(&b, "byte(%s)\n", strconv.QuoteRune(rune(v)))
		case []byte:
			fmt.Fprintf(&b, "[]byte(%s)\n", strconv.Quote(string(v)))
		default:
			t.Fatalf("seed value %T", v)
		}
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateFuzzSeeds regenerates the committed corpora with -update-seeds; without
// the flag it checks that every corpus still opens, so the seeds keep reaching the
// deep code paths.
func TestUpdateFuzzSeeds(t *testing.T) {
	alice, bob := fixedIdentity(t, "alice"), fixedIdentity(t, "bob")
	if *updateSeeds {
		data := testData(700, 1)
		for mask := uint8(0); mask < 8; mask++ {
			p := Protection{
				Suite: Suite(1 + mask%6), Sign: mask&1 != 0, Compress: mask&2 != 0, Encrypt: mask&4 != 0,
				Signer: alice.key, SignerCertificate: alice.cert, Recipient: bob.cert, ChunkSize: 200,
				Clock: func() time.Time { return time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC) },
			}
			var buf bytes.Buffer
			w, err := NewFileWriter(&buf, p)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			writeSeed(t, "FuzzFileReader", fmt.Sprintf("layers-%d", mask), mask, buf.Bytes())
		}
		_, auch, err := NewChallenge(bob.cert, SuiteAES256SHA1, nil)
		if err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "FuzzOpenChallenge", "valid-aes256", auch)
		_, auch, err = NewChallenge(bob.cert, Suite3DESSHA1, nil)
		if err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "FuzzOpenChallenge", "valid-3des", auch)
		writeSeed(t, "FuzzParseCertificates", "alice-bob", CertificatesOnly([]*x509.Certificate{alice.cert, bob.cert}))
		r := fuzzReceipt()
		sig, err := ReceiptSigner{Suite: SuiteAES256SHA256, Key: bob.key, Certificate: bob.cert}.Sign(r)
		if err != nil {
			t.Fatal(err)
		}
		content, _ := r.SignedContent()
		writeSeed(t, "FuzzReceipt", "valid-eerp", uint8(0), content, sig)
		n := r
		n.Kind = NERP
		ncontent, _ := n.SignedContent()
		writeSeed(t, "FuzzReceipt", "nerp-content", uint8(1), ncontent, sig[:len(sig)/2])
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzFileReader"))
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzFileReader", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix([]byte(e.Name()), []byte("layers-")) {
			continue // minimised crashers are regression inputs, not valid files
		}
		lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
		if len(lines) != 3 {
			t.Fatalf("%s: %d lines", e.Name(), len(lines))
		}
		maskLit := string(bytes.TrimSuffix(bytes.TrimPrefix(lines[1], []byte("byte(")), []byte(")")))
		mask, _, _, err := strconv.UnquoteChar(maskLit[1:len(maskLit)-1], '\'')
		if err != nil {
			t.Fatalf("%s: mask %s: %v", e.Name(), maskLit, err)
		}
		wire, err := strconv.Unquote(string(bytes.TrimSuffix(bytes.TrimPrefix(lines[2], []byte("[]byte(")), []byte(")"))))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if _, _, err := open([]byte(wire), fuzzVerification(t, uint8(mask))); err != nil {
			t.Fatalf("seed %s no longer opens: %v", e.Name(), err)
		}
		opened++
	}
	if opened < 7 {
		t.Fatalf("only %d valid FuzzFileReader seeds", opened)
	}
}

func FuzzFileReader(f *testing.F) {
	f.Add(uint8(7), []byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80})
	f.Add(uint8(1), []byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, mask uint8, data []byte) {
		v := fuzzVerification(t, mask)
		fr, err := NewFileReader(bytes.NewReader(data), v)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		defer fr.Close() // the limit below may leave the file unread
		hashes := map[crypto.Hash]hash.Hash{crypto.SHA1: sha1.New(), crypto.SHA256: sha256.New(), crypto.SHA384: sha512.New384(), crypto.SHA512: sha512.New()}
		_, err = io.Copy(io.MultiWriter(hashes[crypto.SHA1], hashes[crypto.SHA256], hashes[crypto.SHA384], hashes[crypto.SHA512]), io.LimitReader(fr, 1<<22))
		res := fr.Result()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || res.Err == nil || res.Signer != nil {
				t.Fatalf("failure %T %v, result %+v", err, err, res)
			}
			return
		}
		if v.Signed {
			// Whatever is accepted must be exactly the content the signature covers.
			if res.Signer == nil || hashes[res.Hash] == nil {
				t.Fatalf("signed file accepted with result %+v", res)
			}
			if !bytes.Equal(hashes[res.Hash].Sum(nil), res.Digest) {
				t.Fatal("accepted plaintext differs from the signed digest")
			}
		}
	})
}

func fuzzReceipt() Receipt {
	return Receipt{Kind: EERP, DatasetName: "FUZZ.FILE", Date: "20261127", Time: "0300000001",
		Destination: "O0013000001A", Originator: "O0013000002B", FileHash: bytes.Repeat([]byte{7}, 32)}
}

func FuzzReceipt(f *testing.F) {
	f.Add(uint8(0), []byte("short"), []byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, kind uint8, content, sig []byte) {
		k := EERP
		if kind&1 != 0 {
			k = NERP
		}
		if r, err := ParseReceiptContent(k, content); err == nil {
			if again, err := r.SignedContent(); err == nil && !bytes.Equal(again, content) {
				t.Fatalf("content does not round-trip: %q vs %q", again, content)
			}
		}
		bob := fixedIdentity(t, "bob")
		v, err := VerifyReceipt(fuzzReceipt(), sig, ReceiptCheck{
			Suite: SuiteAES256SHA256, Trusted: []*x509.Certificate{bob.cert}, SentHash: bytes.Repeat([]byte{7}, 32),
		})
		if err != nil {
			if !errors.Is(err, ErrReceipt) {
				t.Fatalf("untyped failure: %v", err)
			}
			return
		}
		if !v.Signer.Equal(bob.cert) || v.SignatureHash != crypto.SHA256 {
			t.Fatalf("verdict %+v", v)
		}
	})
}

// FuzzOpenChallenge feeds arbitrary AUCHCHAL values to the responder side of secure
// authentication: every failure must be a challenge failure (ESID 11).
func FuzzOpenChallenge(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, auch []byte) {
		bob := fixedIdentity(t, "bob")
		resp, err := OpenChallenge(auch, bob.rsaKey(), bob.cert, nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.ESIDReason() != 11 {
				t.Fatalf("failure without ESID 11: %v", err)
			}
			return
		}
		if len(resp) != ChallengeSize {
			t.Fatalf("response of %d octets", len(resp))
		}
	})
}

// FuzzParseCertificates reads arbitrary certificate files: what it accepts holds 1 to
// 32 certificates and survives re-encoding.
func FuzzParseCertificates(f *testing.F) {
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			return
		}
		if len(certs) == 0 || len(certs) > maxCerts {
			t.Fatalf("%d certificates", len(certs))
		}
		back, err := ParseCertificates(CertificatesOnly(certs))
		if err != nil || len(back) != len(certs) {
			t.Fatalf("re-encoded file: %d, %v", len(back), err)
		}
	})
}
