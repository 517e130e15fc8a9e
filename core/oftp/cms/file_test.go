package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func protection(suite Suite, sign, compress, encrypt bool) Protection {
	return Protection{
		Suite: suite, Sign: sign, Compress: compress, Encrypt: encrypt,
		Signer: testIdentityNoT("alice").key, SignerCertificate: testIdentityNoT("alice").cert,
		Recipient: testIdentityNoT("bob").cert,
		Clock:     func() time.Time { return time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC) },
		ChunkSize: 1500,
	}
}

func verification(sign, compress, encrypt bool) Verification {
	bob := testIdentityNoT("bob")
	return Verification{
		Signed: sign, Compressed: compress, Encrypted: encrypt,
		Decrypter: bob.rsaKey(), Certificate: bob.cert,
		Trusted: []*x509.Certificate{testIdentityNoT("alice").cert},
	}
}

// testIdentityNoT is testIdentity for helpers that have no testing.TB at hand; the
// identities are created by the tests before these helpers run.
func testIdentityNoT(name string) *identity {
	identitiesMu.Lock()
	defer identitiesMu.Unlock()
	id := identities[name]
	if id == nil {
		panic("identity " + name + " not created yet")
	}
	return id
}

func protect(t testing.TB, data []byte, p Protection) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewFileWriter(&buf, p)
	if err != nil {
		t.Fatal(err)
	}
	// Uneven writes exercise the buffering of every layer.
	for i := 0; i < len(data); i += 777 {
		if _, err := w.Write(data[i:min(i+777, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// open reads a protected file with the layers running concurrently, as by default,
// and again sequentially; both must give the same plaintext and the same outcome.
func open(data []byte, v Verification) ([]byte, Result, error) {
	out, res, err := openMode(data, v)
	v.Sequential = true
	sout, sres, serr := openMode(data, v)
	// Error texts may differ where a wrong key decrypts to random octets; what the
	// partner is told may not.
	efna, nerp, ok := ReasonCodes(err)
	sefna, snerp, sok := ReasonCodes(serr)
	if !bytes.Equal(out, sout) || (err == nil) != (serr == nil) || efna != sefna || nerp != snerp || ok != sok ||
		fmt.Sprint(res.Signer, res.Digest, res.Cipher) != fmt.Sprint(sres.Signer, sres.Digest, sres.Cipher) {
		err = fmt.Errorf("concurrent and sequential reading differ: %d octets, %v / %d octets, %v", len(out), err, len(sout), serr)
		return nil, Result{}, err
	}
	return out, res, err
}

func openMode(data []byte, v Verification) ([]byte, Result, error) {
	fr, err := NewFileReader(bytes.NewReader(data), v)
	if err != nil {
		return nil, Result{}, err
	}
	defer fr.Close()
	out, err := io.ReadAll(fr)
	return out, fr.Result(), err
}

func TestFileRoundTrip(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	for _, size := range []int{0, 1, 50_000} {
		data := testData(size, 1)
		for suite := Suite3DESSHA1; suite <= SuiteAES256SHA512; suite++ {
			for mask := 0; mask < 8; mask++ {
				sign, compress, encrypt := mask&1 != 0, mask&2 != 0, mask&4 != 0
				t.Run(fmt.Sprintf("%d/%s/sign=%v,compress=%v,encrypt=%v", size, suite.Code(), sign, compress, encrypt), func(t *testing.T) {
					wire := protect(t, data, protection(suite, sign, compress, encrypt))
					got, res, err := open(wire, verification(sign, compress, encrypt))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, data) {
						t.Fatalf("plaintext differs (%d vs %d octets)", len(got), len(data))
					}
					if sign {
						h := suite.Hash().New()
						h.Write(data)
						if res.Signer == nil || res.Hash != suite.Hash() || !bytes.Equal(res.Digest, h.Sum(nil)) {
							t.Fatalf("result %+v", res)
						}
					}
					if encrypt && res.Cipher != suite.Cipher() {
						t.Fatalf("cipher %v", res.Cipher)
					}
					if compress && size > 10_000 && len(wire) > len(data)/2 {
						t.Fatalf("compressed file is %d octets for %d", len(wire), len(data))
					}
				})
			}
		}
	}
}

func TestFileLayerMismatch(t *testing.T) {
	testIdentity(t, "alice")
	testIdentity(t, "bob")
	data := testData(1000, 2)
	// Announced as signed, compressed and encrypted, but only compressed and encrypted.
	wire := protect(t, data, protection(SuiteAES256SHA256, false, true, true))
	if _, _, err := open(wire, verification(true, true, true)); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("unsigned file announced as signed: %v", err)
	}
	// Announced as encrypted, but only signed.
	wire = protect(t, data, protection(SuiteAES256SHA256, true, false, false))
	if _, _, err := open(wire, verification(true, false, true)); !errors.Is(err, ErrDecryption) || !errors.Is(err, ErrWrongContentType) {
		t.Fatalf("signed file announced as encrypted: %v", err)
	}
	// Announced as compressed, but only encrypted.
	wire = protect(t, data, protection(SuiteAES256SHA256, false, false, true))
	if _, _, err := open(wire, verification(false, true, true)); !errors.Is(err, ErrDecompression) {
		t.Fatalf("uncompressed file announced as compressed: %v", err)
	}
}

// bouncyCastle runs testdata/bc/CMSCheck.java with the Debian Bouncy Castle jars.
func bouncyCastle(t *testing.T, args ...string) {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (scripts/deps.d/20-cms-crosscheck.sh installs it): %v", err)
	}
	var jars []string
	for _, j := range []string{"bcprov", "bcpkix", "bcutil"} {
		p := filepath.Join("/usr/share/java", j+".jar")
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("Bouncy Castle jar missing (scripts/deps.d/20-cms-crosscheck.sh installs it): %v", err)
		}
		jars = append(jars, p)
	}
	src, err := filepath.Abs("testdata/bc/CMSCheck.java")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, append([]string{"-cp", strings.Join(jars, ":"), src}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bouncy castle %v: %v\n%s", args[0], err, out)
	}
}

func TestBouncyCastleCrossCheck(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	data := testData(300_001, 5)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	write := func(name string, b []byte) {
		if err := os.WriteFile(path(name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("plain", data)
	write("ours.cmz", mustCompressed(t, data))
	write("ours-01.cms", protect(t, data, protection(Suite3DESSHA1, true, true, true)))
	write("ours-04.cms", protect(t, data, protection(SuiteAES256SHA256, true, true, true)))

	// One JVM runs every Bouncy Castle step; JVM start-up dominates the cost.
	bouncyCastle(t,
		"decompress", path("ours.cmz"), path("bc-decompressed"), "--",
		"compress", path("plain"), path("bc.cmz"), "--",
		"open", path("ours-01.cms"), path("bc-opened-01"), bob.certPath, bob.keyPath, alice.certPath, "--",
		"open", path("ours-04.cms"), path("bc-opened-04"), bob.certPath, bob.keyPath, alice.certPath, "--",
		"protect", path("plain"), path("bc-01.cms"), alice.certPath, alice.keyPath, bob.certPath, "des3", "SHA1", "--",
		"protect", path("plain"), path("bc-06.cms"), alice.certPath, alice.keyPath, bob.certPath, "aes256", "SHA512",
	)
	read := func(name string) []byte {
		b, err := os.ReadFile(path(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, name := range []string{"bc-decompressed", "bc-opened-01", "bc-opened-04"} {
		if got := read(name); !bytes.Equal(got, data) {
			t.Errorf("Bouncy Castle %s: %d octets, want %d", name, len(got), len(data))
		}
	}
	cr, err := NewCompressedReader(bytes.NewReader(read("bc.cmz")))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(cr); err != nil || !bytes.Equal(got, data) {
		t.Errorf("Bouncy Castle CompressedData: %d octets, %v", len(got), err)
	}
	for _, suite := range []Suite{Suite3DESSHA1, SuiteAES256SHA512} {
		got, res, err := open(read("bc-"+suite.Code()+".cms"), verification(true, true, true))
		if err != nil {
			t.Fatalf("Bouncy Castle file %s: %v", suite.Code(), err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("Bouncy Castle file %s: %d octets, want %d", suite.Code(), len(got), len(data))
		}
		if !res.Signer.Equal(alice.cert) || res.Hash != suite.Hash() || res.Cipher != suite.Cipher() {
			t.Errorf("Bouncy Castle file %s: result %+v", suite.Code(), res)
		}
	}
}

// kmsSigner stands for a key held in a KMS: only Public and Sign, and like local-kms
// it refuses SHA-1.
type kmsSigner struct {
	inner  crypto.Signer
	calls  int
	hashes []crypto.Hash
}

var errKMSNoSHA1 = errors.New("kms: SHA-1 signing not supported")

func (k *kmsSigner) Public() crypto.PublicKey { return k.inner.Public() }

func (k *kmsSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	k.calls++
	k.hashes = append(k.hashes, opts.HashFunc())
	if opts.HashFunc() == crypto.SHA1 {
		return nil, errKMSNoSHA1
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("kms: digest of %d octets for %v", len(digest), opts.HashFunc())
	}
	return k.inner.Sign(rand, digest, opts)
}

// hsmDecrypter stands for a key in an HSM: only Public and Decrypt.
type hsmDecrypter struct {
	inner crypto.Decrypter
	calls int
}

func (h *hsmDecrypter) Public() crypto.PublicKey { return h.inner.Public() }

func (h *hsmDecrypter) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	h.calls++
	return h.inner.Decrypt(rand, msg, opts)
}

func TestKeysOnlyThroughSignerAndDecrypter(t *testing.T) {
	alice := testIdentity(t, "alice")
	bob := testIdentity(t, "bob")
	data := testData(10_000, 13)

	kms := &kmsSigner{inner: alice.key}
	p := protection(SuiteAES256SHA512, true, true, true)
	p.Signer = kms
	wire := protect(t, data, p)
	if kms.calls != 1 || kms.hashes[0] != crypto.SHA512 {
		t.Fatalf("signer calls %d with %v", kms.calls, kms.hashes)
	}
	hsm := &hsmDecrypter{inner: bob.rsaKey()}
	v := verification(true, true, true)
	v.Decrypter = hsm
	got, res, err := open(wire, v)
	// open reads the file twice: concurrently and sequentially.
	if err != nil || !bytes.Equal(got, data) || hsm.calls != 2 || !res.Signer.Equal(alice.cert) {
		t.Fatalf("open through decrypter: %v, %d calls", err, hsm.calls)
	}

	// Suite 01 needs SHA-1, which this KMS key cannot do: the error names the suite.
	p = protection(Suite3DESSHA1, true, false, true)
	p.Signer = &kmsSigner{inner: alice.key}
	w, err := NewFileWriter(io.Discard, p)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	err = w.Close()
	if !errors.Is(err, errKMSNoSHA1) || !strings.Contains(err.Error(), "suite 01") {
		t.Fatalf("SHA-1 refusal: %v", err)
	}
}
