package cms_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/oftp2/connector/core/oftp/cms"
)

func exampleIdentity(name string) (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return key, cert
}

// A sender signs, compresses and encrypts a virtual file for its partner and keeps
// the file hash for the signed EERP; the partner opens it and checks the signature.
func Example() {
	senderKey, senderCert := exampleIdentity("sender")
	partnerKey, partnerCert := exampleIdentity("partner")
	suite, _ := cms.ParseSuite("04") // SFIDCIPH: AES-256-CBC, RSA, SHA-256

	// Sending side: plaintext in, transmitted virtual file out.
	var wire bytes.Buffer
	hasher, _ := cms.NewFileHasher(suite, false)
	w, err := cms.NewFileWriter(io.MultiWriter(&wire, hasher), cms.Protection{
		Suite: suite,
		Sign:  true, Signer: senderKey, SignerCertificate: senderCert,
		Compress: true,
		Encrypt:  true, Recipient: partnerCert,
	})
	if err != nil {
		panic(err)
	}
	if _, err := io.Copy(w, strings.NewReader("UNH+1+ORDERS:D:96A:UN'\r\n")); err != nil {
		w.Abort(err) // the layers run on goroutines of their own until closed or aborted
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	// Receiving side: SFIDSEC 03 and SFIDCOMP 1 announce all three layers.
	fr, err := cms.NewFileReader(&wire, cms.Verification{
		Encrypted: true, Compressed: true, Signed: true,
		Decrypter: partnerKey, Certificate: partnerCert,
		Trusted: []*x509.Certificate{senderCert},
	})
	if err != nil {
		panic(err)
	}
	defer fr.Close()             // ends the read-ahead when the file is not read to its end
	plain, err := io.ReadAll(fr) // io.EOF only once every layer checked out
	if err != nil {
		if efna, nerp, ok := cms.ReasonCodes(err); ok {
			fmt.Println("refuse with EFNA", efna, "and NERP", nerp)
		}
		return
	}
	res := fr.Result()
	fmt.Printf("%q signed by %s with %v, file hash %d octets\n",
		plain, res.Signer.Subject.CommonName, res.Hash, len(hasher.Sum()))
	// Output: "UNH+1+ORDERS:D:96A:UN'\r\n" signed by sender with SHA-256, file hash 32 octets
}
