package cms

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// Limits for the small structures read into memory; content is always streamed.
const (
	maxOIDLen        = 64
	maxAlgIDLen      = 1 << 10
	maxRecipientLen  = 16 << 10
	maxRecipients    = 64
	maxCertLen       = 64 << 10
	maxCerts         = 32
	maxSignerInfoLen = 64 << 10
	maxSigners       = 16
	defaultChunk     = 16 << 10
	defaultBuf       = 32 << 10
)

func readOID(r *ber.Reader) (asn1.ObjectIdentifier, error) {
	if _, err := r.Expect(ber.ClassUniversal, ber.TagOID, false); err != nil {
		return nil, err
	}
	b, err := r.Bytes(maxOIDLen)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(ber.DER(ber.ClassUniversal, ber.TagOID, false, b), &oid); err != nil {
		return nil, fmt.Errorf("object identifier: %w", err)
	}
	return oid, nil
}

func readSmallInt(r *ber.Reader) (int, error) {
	if _, err := r.Expect(ber.ClassUniversal, ber.TagInteger, false); err != nil {
		return 0, err
	}
	b, err := r.Bytes(4)
	if err != nil {
		return 0, err
	}
	var v int
	if _, err := asn1.Unmarshal(ber.DER(ber.ClassUniversal, ber.TagInteger, false, b), &v); err != nil {
		return 0, fmt.Errorf("integer: %w", err)
	}
	return v, nil
}

// readAlgorithm reads an AlgorithmIdentifier.
func readAlgorithm(r *ber.Reader) (pkix.AlgorithmIdentifier, error) {
	var alg pkix.AlgorithmIdentifier
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		return alg, err
	}
	raw, err := r.Raw(maxAlgIDLen)
	if err != nil {
		return alg, err
	}
	err = unmarshalBER(raw, &alg, maxAlgIDLen)
	return alg, err
}

// unmarshalBER parses a small element that may arrive in BER with encoding/asn1, which
// only reads DER-style definite lengths.
func unmarshalBER(raw []byte, v any, max int) error {
	rest, err := asn1.Unmarshal(raw, v)
	if err != nil {
		der, derr := ber.ToDER(raw, max)
		if derr != nil {
			return derr
		}
		rest, err = asn1.Unmarshal(der, v)
	}
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data after structure")
	}
	return nil
}

// openContentInfo reads a ContentInfo up to the first element of its content,
// checking the content type, and leaves r inside the content SEQUENCE.
func openContentInfo(r *ber.Reader, want asn1.ObjectIdentifier) error {
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		return err
	}
	if err := r.Enter(); err != nil {
		return err
	}
	oid, err := readOID(r)
	if err != nil {
		return err
	}
	if !oid.Equal(want) {
		return fmt.Errorf("%w: %v, want %v", ErrWrongContentType, oid, want)
	}
	if _, err := r.Expect(ber.ClassContext, 0, true); err != nil {
		return err
	}
	if err := r.Enter(); err != nil {
		return err
	}
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		return err
	}
	return r.Enter()
}

// closeContentInfo checks the ends of the content SEQUENCE, the [0] wrapper and the
// ContentInfo, and that nothing follows.
func closeContentInfo(r *ber.Reader) error {
	for i := 0; i < 3; i++ {
		if err := r.ExpectEnd(); err != nil {
			return err
		}
	}
	return r.ExpectEOF()
}

// contentInfoPrefix is the start of an indefinite-length ContentInfo and its content
// SEQUENCE.
func contentInfoPrefix(oid asn1.ObjectIdentifier) []byte {
	b := ber.AppendHeader(nil, ber.ClassUniversal, ber.TagSequence, true, -1)
	b = append(b, mustMarshal(oid)...)
	b = ber.AppendHeader(b, ber.ClassContext, 0, true, -1)
	return ber.AppendHeader(b, ber.ClassUniversal, ber.TagSequence, true, -1)
}

// contentInfoSuffix closes what contentInfoPrefix opened.
var contentInfoSuffix = []byte{0, 0, 0, 0, 0, 0}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only called with values that always encode
	}
	return b
}

// algorithm encodes an AlgorithmIdentifier; params may be nil (absent).
func algorithm(oid asn1.ObjectIdentifier, params []byte) []byte {
	return ber.Sequence(mustMarshal(oid), params)
}

var asn1Null = []byte{0x05, 0x00}

// issuerAndSerial encodes the IssuerAndSerialNumber of a certificate.
func issuerAndSerial(cert *x509.Certificate) []byte {
	return ber.Sequence(cert.RawIssuer, mustMarshal(cert.SerialNumber))
}

type issuerAndSerialASN1 struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

// matchesIdentifier reports whether an encoded IssuerAndSerialNumber or
// [0] SubjectKeyIdentifier names cert.
func matchesIdentifier(id asn1.RawValue, cert *x509.Certificate) bool {
	switch {
	case id.Class == asn1.ClassUniversal && id.Tag == asn1.TagSequence:
		var ias issuerAndSerialASN1
		if rest, err := asn1.Unmarshal(id.FullBytes, &ias); err != nil || len(rest) != 0 {
			return false
		}
		return ias.Serial != nil && ias.Serial.Cmp(cert.SerialNumber) == 0 &&
			string(ias.Issuer.FullBytes) == string(cert.RawIssuer)
	case id.Class == asn1.ClassContextSpecific && id.Tag == 0:
		return len(cert.SubjectKeyId) > 0 && string(id.Bytes) == string(cert.SubjectKeyId)
	}
	return false
}
