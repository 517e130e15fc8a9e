package certs_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
)

// BenchmarkValidateChain measures what every TLS handshake and every signed
// file costs: path building to the root, usage rules and a CRL lookup.
func BenchmarkValidateChain(b *testing.B) {
	clock := certtest.FixedClock(t0)
	ca := certtest.NewCA(b, certtest.Options{Clock: clock, NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(5, 0, 0)})
	inter := ca.NewIntermediate(b, certtest.Options{NotBefore: t0.AddDate(-1, 0, 0), NotAfter: t0.AddDate(3, 0, 0)})
	leaf := inter.Issue(b, certtest.Options{})
	var revoked []certtest.Revoked
	for i := 0; i < 1000; i++ {
		revoked = append(revoked, certtest.Revoked{Cert: inter.Issue(b, certtest.Options{}).Cert})
	}
	store := certs.NewTrustStore(certs.TrustOptions{Clock: clock})
	store.AddRoots(ca.Cert)
	store.AddIntermediates(inter.Cert) // its CRL can only be checked against it
	if err := store.AddCRLBytes(ca.CRL(b, certtest.CRLOptions{})); err != nil {
		b.Fatal(err)
	}
	if err := store.AddCRLBytes(inter.CRL(b, certtest.CRLOptions{Revoked: revoked})); err != nil {
		b.Fatal(err)
	}
	chain := []*x509.Certificate{leaf.Cert, inter.Cert}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := store.ValidateChain(ctx, chain, certs.PurposeFileSigning, time.Time{})
		if err != nil || !v.RevocationChecked {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTSL(b *testing.B) {
	data, err := os.ReadFile(sampleTSL)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := certs.ParseTSL(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSignedTSL(b *testing.B) {
	data, err := os.ReadFile(signedTSL)
	if err != nil {
		b.Fatal(err)
	}
	signers, err := certs.LoadCertificates(tslSigner)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := certs.ParseSignedTSL(bytes.NewReader(data), signers, at); err != nil {
			b.Fatal(err)
		}
	}
}
