package certs_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

// signatureTemplate is an enveloped XMLDSig template over the whole list
// (URI=""), exclusive canonicalisation, RSA-SHA256: the shape of a signed TSL.
const signatureTemplate = `<ds:Signature Id="sig">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
      <ds:Reference URI="">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue/>
      </ds:Reference>
    </ds:SignedInfo>
    <ds:SignatureValue/>
    <ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
  </ds:Signature>`

// signWithXMLSec signs the sample TSL with xmlsec1, an independent XMLDSig
// implementation, and returns the signed document.
func signWithXMLSec(t *testing.T, f tslFixture, signer *certtest.Leaf) []byte {
	t.Helper()
	doc := string(f.render())
	start := strings.Index(doc, `<ds:Signature Id="sig">`)
	end := strings.Index(doc, `</ds:Signature>`) + len(`</ds:Signature>`)
	return xmlsecSign(t, doc[:start]+signatureTemplate+doc[end:], signer)
}

// xmlsecSign fills in the signature template of doc with xmlsec1.
func xmlsecSign(t *testing.T, doc string, signer *certtest.Leaf) []byte {
	t.Helper()
	xmlsec := requireTool(t, "xmlsec1")
	dir := t.TempDir()
	certPath, keyPath := signer.WriteFiles(t, dir, "signer")
	tmpl := filepath.Join(dir, "template.xml")
	certtest.WriteFile(t, tmpl, []byte(doc))
	out := filepath.Join(dir, "signed.xml")
	// --id-attr lets xmlsec1 resolve a Reference URI="#Id" to the list.
	idAttr := []string{"--id-attr:Id", "http://uri.etsi.org/02231/v2#:TrustServiceStatusList"}
	run(t, xmlsec, append(append([]string{"--sign"}, idAttr...), "--privkey-pem", keyPath+","+certPath, "--output", out, tmpl)...)
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// xmlsec1 agrees with itself before we test ourselves against it.
	run(t, xmlsec, append(append([]string{"--verify"}, idAttr...), "--pubkey-cert-pem", certPath, out)...)
	return signed
}

const (
	signedTSL        = "testdata/tsl/sample-tsl-signed.xml"
	signedMinimalTSL = "testdata/tsl/minimal-tsl-signed.xml"
	tslSigner        = "testdata/tsl/signer.pem"
)

// minimalTSL is a small list to sign for the fuzz corpus: the fuzzer's
// minimisation cost grows with the seed's size.
const minimalTSL = `<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="min"><SchemeInformation><TSLSequenceNumber>1</TSLSequenceNumber></SchemeInformation>` + signatureTemplate + `</TrustServiceStatusList>`

// TestCommittedSignedTSL keeps a signed sample (from xmlsec1) and its
// signer in testdata for the fuzz corpus and for readers; -update remakes them.
func TestCommittedSignedTSL(t *testing.T) {
	if *update {
		f := newTSLFixture(t)
		signer := certtest.SelfSigned(t, certtest.Options{CommonName: "Sample TSL Signer", KeyType: certtest.RSA2048,
			NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)})
		certtest.WriteFile(t, signedTSL, signWithXMLSec(t, f, signer))
		certtest.WriteFile(t, signedMinimalTSL, xmlsecSign(t, minimalTSL, signer))
		certtest.WriteFile(t, tslSigner, certtest.PEMCerts(signer.Cert))
	}
	signers, err := certs.LoadCertificates(tslSigner)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(signedTSL)
	if err != nil {
		t.Fatal(err)
	}
	tsl, err := certs.ParseSignedTSL(bytes.NewReader(data), signers, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(tsl.Certificates()) != 2 {
		t.Fatalf("%d certificates", len(tsl.Certificates()))
	}
	data, err = os.ReadFile(signedMinimalTSL)
	if err != nil {
		t.Fatal(err)
	}
	if tsl, err := certs.ParseSignedTSL(bytes.NewReader(data), signers, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)); err != nil || tsl.Sequence != 1 {
		t.Fatalf("minimal: %v", err)
	}
}

func FuzzSignedTSL(f *testing.F) {
	for _, p := range []string{signedMinimalTSL} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	signers, err := certs.LoadCertificates(tslSigner)
	if err != nil {
		f.Fatal(err)
	}
	at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		tsl, err := certs.ParseSignedTSL(bytes.NewReader(data), signers, at)
		if err == nil && tsl == nil {
			t.Fatal("no result and no error")
		}
	})
}

func TestParseSignedTSL(t *testing.T) {
	f := newTSLFixture(t)
	at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	signer := certtest.SelfSigned(t, certtest.Options{CommonName: "Sample TSL Signer", KeyType: certtest.RSA2048,
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	signed := signWithXMLSec(t, f, signer)
	signers := []*x509.Certificate{signer.Cert}

	tsl, err := certs.ParseSignedTSL(bytes.NewReader(signed), signers, at)
	if err != nil {
		t.Fatalf("xmlsec1-signed TSL: %v", err)
	}
	if tsl.Sequence != 42 || len(tsl.Services) != 2 || len(tsl.Certificates()) != 2 || !tsl.Certificates()[0].Equal(f.issuing.Cert) {
		t.Fatalf("signed content: %+v", tsl)
	}

	// Any change to the signed content breaks the signature: re-activating
	// the withdrawn CA, or adding a certificate.
	for name, tamper := range map[string]func(string) string{
		"status": func(s string) string {
			return strings.Replace(s, "Svcstatus/withdrawn", "Svcstatus/granted", 1)
		},
		"extra certificate": func(s string) string {
			return strings.Replace(s, "<DigitalId>", "<DigitalId><X509Certificate>"+b64(f.signer.Cert)+"</X509Certificate></DigitalId><DigitalId>", 1)
		},
	} {
		changed := tamper(string(signed))
		if changed == string(signed) {
			t.Fatalf("%s: tampering changed nothing", name)
		}
		if _, err := certs.ParseSignedTSL(strings.NewReader(changed), signers, at); !errors.Is(err, certs.ErrTSLSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// Signature wrapping: the genuine signed list moved inside a forged one.
	body := string(signed)[strings.Index(string(signed), "<TrustServiceStatusList"):]
	wrapped := `<TrustServiceStatusList xmlns="http://uri.etsi.org/02231/v2#"><TrustServiceProviderList><TrustServiceProvider><TSPServices><TSPService><ServiceInformation><ServiceDigitalIdentity><DigitalId><X509Certificate>` +
		b64(f.signer.Cert) + `</X509Certificate></DigitalId></ServiceDigitalIdentity></ServiceInformation></TSPService></TSPServices></TrustServiceProvider></TrustServiceProviderList>` + body + `</TrustServiceStatusList>`
	if _, err := certs.ParseSignedTSL(strings.NewReader(wrapped), signers, at); !errors.Is(err, certs.ErrTSLSignature) {
		t.Errorf("wrapped: %v", err)
	}

	other := certtest.SelfSigned(t, certtest.Options{CommonName: "Other Signer", KeyType: certtest.RSA2048})
	if _, err := certs.ParseSignedTSL(bytes.NewReader(signed), []*x509.Certificate{other.Cert}, at); !errors.Is(err, certs.ErrTSLSignature) {
		t.Errorf("untrusted signer: %v", err)
	}
	if _, err := certs.ParseSignedTSL(bytes.NewReader(signed), signers, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, certs.ErrTSLSignature) {
		t.Errorf("expired signer: %v", err)
	}
	if _, err := certs.ParseSignedTSL(bytes.NewReader(f.render()), signers, at); !errors.Is(err, certs.ErrTSLSignature) {
		t.Errorf("unsigned sample: %v", err)
	}
	if _, err := certs.ParseSignedTSL(bytes.NewReader(signed), nil, at); !errors.Is(err, certs.ErrTSLSignature) {
		t.Errorf("no signers: %v", err)
	}

	// A signature that references the list by its Id (URI="#min") rather
	// than the whole document, with inclusive canonicalisation and SHA-512.
	byID := strings.NewReplacer(
		`URI=""`, `URI="#min"`,
		`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>`, `<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>`,
		`xmlenc#sha256`, `xmlenc#sha512`,
	).Replace(minimalTSL)
	signedByID := xmlsecSign(t, byID, signer)
	if !bytes.Contains(signedByID, []byte(`URI="#min"`)) {
		t.Fatal("template not applied")
	}
	if tsl, err := certs.ParseSignedTSL(bytes.NewReader(signedByID), signers, at); err != nil || tsl.Sequence != 1 {
		t.Fatalf("signature by Id: %v", err)
	}
	tampered := bytes.Replace(signedByID, []byte("<TSLSequenceNumber>1<"), []byte("<TSLSequenceNumber>2<"), 1)
	if _, err := certs.ParseSignedTSL(bytes.NewReader(tampered), signers, at); !errors.Is(err, certs.ErrTSLSignature) {
		t.Errorf("tampered, signature by Id: %v", err)
	}
}

func TestFetchTSL(t *testing.T) {
	signers, err := certs.LoadCertificates(tslSigner)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(signedTSL)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/TSL/TSL_OFTP2.XML", func(w http.ResponseWriter, r *http.Request) { w.Write(signed) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/TSL/TSL_OFTP2.XML", http.StatusFound)
	})
	mux.HandleFunc("/unsigned", func(w http.ResponseWriter, r *http.Request) {
		data, _ := os.ReadFile(sampleTSL)
		w.Write(data)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	tsl, err := certs.FetchTSL(ctx, nil, srv.URL+"/TSL/TSL_OFTP2.XML", signers, at)
	if err != nil || len(tsl.Certificates()) != 2 {
		t.Fatalf("fetch: %v", err)
	}
	if _, err := certs.FetchTSL(ctx, nil, srv.URL+"/moved", signers, at); err == nil || !strings.Contains(err.Error(), "redirected") {
		t.Fatalf("redirect: %v", err)
	}
	if _, err := certs.FetchTSL(ctx, srv.Client(), srv.URL+"/moved", signers, at); err != nil {
		t.Fatalf("redirect with a client that follows: %v", err)
	}
	if _, err := certs.FetchTSL(ctx, nil, srv.URL+"/unsigned", signers, at); !errors.Is(err, certs.ErrTSLSignature) {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := certs.FetchTSL(ctx, nil, srv.URL+"/missing", signers, at); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing: %v", err)
	}
}
