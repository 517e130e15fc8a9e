package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// Signer is one signature to produce: a key reachable only through crypto.Signer (it
// may live in a KMS or HSM) and its certificate.
type Signer struct {
	Key         crypto.Signer
	Certificate *x509.Certificate
	// Hash is the digest algorithm: SHA-1, SHA-256 or SHA-512 for the OFTP suites.
	Hash crypto.Hash
	// PSS selects RSASSA-PSS instead of PKCS #1 v1.5 for RSA keys. OFTP suites use
	// PKCS #1 v1.5; PSS is for partners that agreed on it.
	PSS bool
}

// SignOptions configure a SignedData writer.
type SignOptions struct {
	// Signers sign the content; OFTP allows several to ease certificate roll-over.
	Signers []Signer
	// NoSignedAttributes signs the content digest directly instead of signing
	// content-type, message-digest and signing-time attributes.
	NoSignedAttributes bool
	// IncludeCertificates embeds the signer certificates. RFC 5024 §6.2 recommends
	// not to, since the partner already holds them.
	IncludeCertificates bool
	// Clock gives the signing time; time.Now when nil.
	Clock func() time.Time
	// Rand is passed to the signer; crypto/rand when nil.
	Rand io.Reader
	// ChunkSize is the size of the OCTET STRING chunks written; a default when zero.
	ChunkSize int
}

func (o *SignOptions) check() error {
	if len(o.Signers) == 0 {
		return errors.New("cms: SignedData needs at least one signer")
	}
	for _, s := range o.Signers {
		if s.Key == nil || s.Certificate == nil {
			return errors.New("cms: signer needs a key and a certificate")
		}
		if _, ok := hashOID(s.Hash); !ok {
			return fmt.Errorf("cms: %w: digest %v", ErrUnsupportedAlgorithm, s.Hash)
		}
	}
	return nil
}

type signedWriter struct {
	dst    io.Writer
	opts   SignOptions
	sw     *ber.StringWriter
	hashes map[crypto.Hash]hash.Hash
	err    error
}

// NewSignedWriter starts an attached SignedData (RFC 5652 §5) on dst. What is written
// becomes the encapsulated content (type id-data), streamed with indefinite lengths and
// hashed on the way; Close computes the signatures and finishes the structure. Close
// does not close dst.
func NewSignedWriter(dst io.Writer, opts SignOptions) (io.WriteCloser, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	w := &signedWriter{dst: dst, opts: opts, hashes: map[crypto.Hash]hash.Hash{}}
	for _, s := range opts.Signers {
		if w.hashes[s.Hash] == nil {
			w.hashes[s.Hash] = s.Hash.New()
		}
	}
	head := contentInfoPrefix(oidSignedData)
	head = append(head, signedDataHead(opts.Signers)...)
	head = ber.AppendHeader(head, ber.ClassUniversal, ber.TagSequence, true, -1)
	head = append(head, mustMarshal(oidData)...)
	head = ber.AppendHeader(head, ber.ClassContext, 0, true, -1)
	if _, err := dst.Write(head); err != nil {
		return nil, err
	}
	chunk := opts.ChunkSize
	if chunk <= 0 {
		chunk = defaultChunk
	}
	w.sw = ber.NewStringWriter(dst, ber.ClassUniversal, ber.TagOctetString, chunk)
	return w, nil
}

// signedDataHead encodes version and digestAlgorithms.
func signedDataHead(signers []Signer) []byte {
	var algs [][]byte
	seen := map[crypto.Hash]bool{}
	for _, s := range signers {
		if !seen[s.Hash] {
			seen[s.Hash] = true
			oid, _ := hashOID(s.Hash)
			algs = append(algs, algorithm(oid, nil))
		}
	}
	// Version 1: issuerAndSerialNumber identifiers and id-data content.
	return append(mustMarshal(1), ber.SetOf(algs...)...)
}

func (w *signedWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	for _, h := range w.hashes {
		h.Write(p)
	}
	n, err := w.sw.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

func (w *signedWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = errors.New("cms: SignedData already closed")
	if err := w.sw.Close(); err != nil {
		return err
	}
	digests := map[crypto.Hash][]byte{}
	for h, hh := range w.hashes {
		digests[h] = hh.Sum(nil)
	}
	tail, err := signedDataTail(digests, w.opts)
	if err != nil {
		return err
	}
	// End of [0] eContent and encapContentInfo, then the tail, then the ends of
	// SignedData, its [0] and the ContentInfo.
	out := append([]byte{0, 0, 0, 0}, tail...)
	_, err = w.dst.Write(append(out, contentInfoSuffix...))
	return err
}

// signedDataTail encodes the optional certificates and the signerInfos.
func signedDataTail(digests map[crypto.Hash][]byte, opts SignOptions) ([]byte, error) {
	var out []byte
	if opts.IncludeCertificates {
		var certs [][]byte
		for _, s := range opts.Signers {
			certs = append(certs, s.Certificate.Raw)
		}
		out = append(out, ber.DER(ber.ClassContext, 0, true, certs...)...)
	}
	var infos [][]byte
	for _, s := range opts.Signers {
		si, err := signerInfo(s, digests[s.Hash], opts)
		if err != nil {
			return nil, err
		}
		infos = append(infos, si)
	}
	return append(out, ber.SetOf(infos...)...), nil
}

func attribute(oid asn1.ObjectIdentifier, value []byte) []byte {
	return ber.Sequence(mustMarshal(oid), ber.SetOf(value))
}

func signerInfo(s Signer, digest []byte, opts SignOptions) ([]byte, error) {
	hOID, _ := hashOID(s.Hash)
	var signedAttrs []byte // DER SET OF, tag 0x31
	toSign := digest
	if !opts.NoSignedAttributes {
		now := time.Now
		if opts.Clock != nil {
			now = opts.Clock
		}
		st, err := asn1.Marshal(now().UTC().Truncate(time.Second))
		if err != nil {
			return nil, fmt.Errorf("cms: signing time: %w", err)
		}
		signedAttrs = ber.SetOf(
			attribute(oidAttrContentType, mustMarshal(oidData)),
			attribute(oidAttrSigningTime, st),
			attribute(oidAttrMessageDigest, ber.OctetString(digest)),
		)
		h := s.Hash.New()
		h.Write(signedAttrs)
		toSign = h.Sum(nil)
	}
	sigAlg, sopts, err := signatureAlgorithm(s)
	if err != nil {
		return nil, err
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	sig, err := s.Key.Sign(rnd, toSign, sopts)
	if err != nil {
		return nil, fmt.Errorf("cms: signing with %s: %w", s.Certificate.Subject, err)
	}
	parts := [][]byte{mustMarshal(1), issuerAndSerial(s.Certificate), algorithm(hOID, nil)}
	if signedAttrs != nil {
		implicit := append([]byte(nil), signedAttrs...)
		implicit[0] = 0xa0 // [0] IMPLICIT SET OF Attribute
		parts = append(parts, implicit)
	}
	parts = append(parts, sigAlg, ber.OctetString(sig))
	return ber.Sequence(parts...), nil
}

// pssParams encodes RSASSA-PSS-params for hash h with MGF1(h) and salt = hash size.
func pssParams(h crypto.Hash) []byte {
	hOID, _ := hashOID(h)
	hAlg := algorithm(hOID, nil)
	return ber.Sequence(
		ber.Explicit(0, hAlg),
		ber.Explicit(1, algorithm(oidMGF1, hAlg)),
		ber.Explicit(2, mustMarshal(h.Size())),
	)
}

func signatureAlgorithm(s Signer) ([]byte, crypto.SignerOpts, error) {
	switch s.Key.Public().(type) {
	case *rsa.PublicKey:
		if s.PSS {
			return algorithm(oidRSASSAPSS, pssParams(s.Hash)),
				&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.Hash}, nil
		}
		// rsaEncryption, as RFC 3370 §3.2 and OpenSSL write it.
		return algorithm(oidRSAEncryption, asn1Null), s.Hash, nil
	case *ecdsa.PublicKey:
		var oid asn1.ObjectIdentifier
		switch s.Hash {
		case crypto.SHA1:
			oid = oidECDSAWithSHA1
		case crypto.SHA256:
			oid = oidECDSAWithSHA256
		case crypto.SHA384:
			oid = oidECDSAWithSHA384
		case crypto.SHA512:
			oid = oidECDSAWithSHA512
		}
		return algorithm(oid, nil), s.Hash, nil
	}
	return nil, nil, fmt.Errorf("cms: %w: signing key %T", ErrUnsupportedAlgorithm, s.Key.Public())
}

// SignDetached returns a DER SignedData without encapsulated content whose signatures
// cover the content read from content.
func SignDetached(content io.Reader, opts SignOptions) ([]byte, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	hashes := map[crypto.Hash]hash.Hash{}
	var ws []io.Writer
	for _, s := range opts.Signers {
		if hashes[s.Hash] == nil {
			hashes[s.Hash] = s.Hash.New()
			ws = append(ws, hashes[s.Hash])
		}
	}
	if _, err := io.Copy(io.MultiWriter(ws...), content); err != nil {
		return nil, err
	}
	digests := map[crypto.Hash][]byte{}
	for h, hh := range hashes {
		digests[h] = hh.Sum(nil)
	}
	tail, err := signedDataTail(digests, opts)
	if err != nil {
		return nil, err
	}
	sd := ber.Sequence(signedDataHead(opts.Signers), ber.Sequence(mustMarshal(oidData)), tail)
	return ber.Sequence(mustMarshal(oidSignedData), ber.Explicit(0, sd)), nil
}

// SignBytes returns a DER SignedData with content attached, for small messages such as
// signed receipts.
func SignBytes(content []byte, opts SignOptions) ([]byte, error) {
	var buf bytes.Buffer
	w, err := NewSignedWriter(&buf, opts)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(content); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return ber.ToDER(buf.Bytes(), buf.Len()+64)
}

// VerifyOptions configure signature verification.
type VerifyOptions struct {
	// Trusted are the partner certificates a signer must match. Certificates embedded
	// in the SignedData are never trusted on their own.
	Trusted []*x509.Certificate
	// MaxContent bounds the content of SignBytes-style messages read with VerifyBytes.
	MaxContent int
}

// Signature describes a verified signer.
type Signature struct {
	// Certificate is the trusted certificate that verified.
	Certificate *x509.Certificate
	Hash        crypto.Hash
	// Digest is the content digest with Hash.
	Digest []byte
	// SigningTime is the signing-time attribute, zero when absent.
	SigningTime time.Time
}

// SignedReader reads an attached SignedData, streaming the encapsulated content while
// hashing it. After the content it reads the signer infos and verifies them; io.EOF is
// returned only when a trusted signer verified.
type SignedReader struct {
	r       *ber.Reader
	content io.Reader
	hashes  map[crypto.Hash]hash.Hash
	opts    VerifyOptions
	ctype   asn1.ObjectIdentifier
	sig     *Signature
	err     error
}

// NewSignedReader reads the SignedData header from src. Failures are *Error with
// FailSignature.
func NewSignedReader(src io.Reader, opts VerifyOptions) (*SignedReader, error) {
	sr, err := newSignedReader(ber.NewReader(src, defaultBuf), opts)
	if err != nil {
		return nil, failf(FailSignature, "open SignedData", err)
	}
	if sr.content == nil {
		return nil, failf(FailSignature, "open SignedData", errors.New("no encapsulated content (detached signature)"))
	}
	return sr, nil
}

func newSignedReader(r *ber.Reader, opts VerifyOptions) (*SignedReader, error) {
	if err := openContentInfo(r, oidSignedData); err != nil {
		return nil, err
	}
	if _, err := readSmallInt(r); err != nil {
		return nil, err
	}
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSet, true); err != nil {
		return nil, err
	}
	raw, err := r.Raw(maxAlgIDLen * 8)
	if err != nil {
		return nil, err
	}
	var algs []pkix.AlgorithmIdentifier
	raw[0] = 0x30 // parse the SET OF as a SEQUENCE OF
	if err := unmarshalBER(raw, &algs, len(raw)+64); err != nil {
		return nil, fmt.Errorf("digestAlgorithms: %w", err)
	}
	s := &SignedReader{r: r, opts: opts, hashes: map[crypto.Hash]hash.Hash{}}
	for _, a := range algs {
		if h, ok := hashByOID(a.Algorithm); ok && s.hashes[h] == nil {
			s.hashes[h] = h.New()
		}
	}
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		return nil, err
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	if s.ctype, err = readOID(r); err != nil {
		return nil, err
	}
	h, err := r.Next()
	if err == io.EOF {
		return s, nil // detached
	}
	if err != nil {
		return nil, err
	}
	if !h.Is(ber.ClassContext, 0, true) {
		return nil, fmt.Errorf("eContent: unexpected %v", h)
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	if h, err = r.Next(); err != nil {
		return nil, noEOF(err)
	}
	if h.Class != ber.ClassUniversal || h.Tag != ber.TagOctetString {
		return nil, fmt.Errorf("eContent: unexpected %v", h)
	}
	if s.content, err = r.StringReader(); err != nil {
		return nil, err
	}
	return s, nil
}

// Read returns encapsulated content; see the package documentation for when the
// content may be trusted.
func (s *SignedReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.content.Read(p)
	for _, h := range s.hashes {
		h.Write(p[:n])
	}
	if err != nil {
		s.err = endLayer(err, func() error { return s.finish(true) }, FailSignature, "read SignedData")
		err = s.err
	}
	return n, err
}

// Signature returns the verified signer after Read has returned io.EOF.
func (s *SignedReader) Signature() *Signature { return s.sig }

// ContentType returns the eContentType the sender declared.
func (s *SignedReader) ContentType() asn1.ObjectIdentifier { return s.ctype }

type signerInfoASN1 struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

// finish reads what follows the content and verifies. attached tells whether the
// content was encapsulated (its [0] and encapContentInfo are still open).
func (s *SignedReader) finish(attached bool) error {
	embedded, infos, err := s.readTail(attached, false)
	if err != nil {
		return err
	}
	digests := map[crypto.Hash][]byte{}
	for h, hh := range s.hashes {
		digests[h] = hh.Sum(nil)
	}
	sig, err := verifySigners(infos, digests, s.ctype, s.opts.Trusted, embedded)
	if err != nil {
		return err
	}
	s.sig = sig
	return nil
}

// readTail reads the certificates, CRLs and signer infos after the content, to the
// end of the ContentInfo. Embedded certificates only help to find a signer's key, so
// ones that do not parse are skipped, unless strict (a certificate file, where they
// are the content) makes them an error.
func (s *SignedReader) readTail(attached, strict bool) ([]*x509.Certificate, []signerInfoASN1, error) {
	r := s.r
	if attached {
		if err := r.ExpectEnd(); err != nil { // [0] eContent
			return nil, nil, err
		}
		if err := r.ExpectEnd(); err != nil { // encapContentInfo
			return nil, nil, err
		}
	}
	var embedded []*x509.Certificate
	var infos []signerInfoASN1
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch {
		case h.Is(ber.ClassContext, 0, true): // certificates
			if err := r.Enter(); err != nil {
				return nil, nil, err
			}
			for n := 0; ; n++ {
				ch, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, nil, err
				}
				if !ch.Is(ber.ClassUniversal, ber.TagSequence, true) {
					if strict {
						return nil, nil, fmt.Errorf("certificate %d: %v is not an X.509 certificate", n+1, ch)
					}
					continue // other certificate formats are skipped
				}
				if n >= maxCerts {
					if strict {
						return nil, nil, fmt.Errorf("more than %d certificates", maxCerts)
					}
					continue
				}
				raw, err := r.Raw(maxCertLen)
				if err != nil {
					return nil, nil, err
				}
				c, err := x509.ParseCertificate(raw)
				if err != nil {
					if strict {
						return nil, nil, fmt.Errorf("certificate %d: %w", n+1, err)
					}
					continue
				}
				embedded = append(embedded, c)
			}
		case h.Is(ber.ClassContext, 1, true): // crls
			if err := r.Skip(); err != nil {
				return nil, nil, err
			}
		case h.Is(ber.ClassUniversal, ber.TagSet, true):
			if err := r.Enter(); err != nil {
				return nil, nil, err
			}
			for {
				ch, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, nil, err
				}
				if len(infos) >= maxSigners {
					return nil, nil, fmt.Errorf("more than %d signers", maxSigners)
				}
				if !ch.Is(ber.ClassUniversal, ber.TagSequence, true) {
					return nil, nil, fmt.Errorf("signerInfos: unexpected %v", ch)
				}
				raw, err := r.Raw(maxSignerInfoLen)
				if err != nil {
					return nil, nil, err
				}
				var si signerInfoASN1
				if err := unmarshalBER(raw, &si, maxSignerInfoLen); err != nil {
					return nil, nil, fmt.Errorf("signer info: %w", err)
				}
				infos = append(infos, si)
			}
		default:
			return nil, nil, fmt.Errorf("SignedData: unexpected %v", h)
		}
	}
	if err := closeContentInfoOuter(r); err != nil {
		return nil, nil, err
	}
	return embedded, infos, nil
}

// verifySigners accepts the SignedData when at least one signer matches a trusted
// certificate and every signer that matches one verifies.
func verifySigners(infos []signerInfoASN1, digests map[crypto.Hash][]byte, ctype asn1.ObjectIdentifier,
	trusted, embedded []*x509.Certificate) (*Signature, error) {
	if len(infos) == 0 {
		return nil, ErrNotSigned
	}
	var good *Signature
	for i := range infos {
		si := &infos[i]
		var cert *x509.Certificate
		for _, c := range trusted {
			if matchesIdentifier(si.SID, c) {
				cert = c
				break
			}
		}
		if cert == nil {
			continue
		}
		sig, err := verifySigner(si, cert, digests, ctype)
		if err != nil {
			return nil, err
		}
		if good == nil {
			good = sig
		}
	}
	if good == nil {
		for _, c := range embedded {
			for i := range infos {
				if matchesIdentifier(infos[i].SID, c) {
					return nil, fmt.Errorf("%w: signed by %q", ErrSignerNotTrusted, c.Subject.String())
				}
			}
		}
		return nil, ErrSignerNotTrusted
	}
	return good, nil
}

type attributeASN1 struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

func verifySigner(si *signerInfoASN1, cert *x509.Certificate, digests map[crypto.Hash][]byte,
	ctype asn1.ObjectIdentifier) (*Signature, error) {
	h, ok := hashByOID(si.DigestAlgorithm.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: digest %v", ErrUnsupportedAlgorithm, si.DigestAlgorithm.Algorithm)
	}
	digest, ok := digests[h]
	if !ok {
		return nil, fmt.Errorf("digest %v not announced in digestAlgorithms", h)
	}
	out := &Signature{Certificate: cert, Hash: h, Digest: digest}
	signed := digest
	if len(si.SignedAttrs.FullBytes) > 0 {
		set := append([]byte(nil), si.SignedAttrs.FullBytes...)
		set[0] = 0x31 // the signature covers the attributes as a SET OF
		var attrs []attributeASN1
		if rest, err := asn1.UnmarshalWithParams(set, &attrs, "set"); err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("signed attributes: %v", err)
		}
		var md []byte
		var seenCT, seenMD bool
		for _, a := range attrs {
			switch {
			case a.Type.Equal(oidAttrMessageDigest):
				if seenMD {
					return nil, errors.New("two message-digest attributes")
				}
				seenMD = true
				if rest, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil || len(rest) != 0 {
					return nil, errors.New("message-digest attribute malformed")
				}
			case a.Type.Equal(oidAttrContentType):
				seenCT = true
				var ct asn1.ObjectIdentifier
				if rest, err := asn1.Unmarshal(a.Values.Bytes, &ct); err != nil || len(rest) != 0 || !ct.Equal(ctype) {
					return nil, errors.New("content-type attribute does not match the content")
				}
			case a.Type.Equal(oidAttrSigningTime):
				var t time.Time
				if _, err := asn1.Unmarshal(a.Values.Bytes, &t); err == nil {
					out.SigningTime = t
				}
			}
		}
		if !seenMD || !seenCT {
			return nil, errors.New("signed attributes lack message-digest or content-type")
		}
		if !bytes.Equal(md, digest) {
			return nil, ErrDigestMismatch
		}
		hh := h.New()
		hh.Write(set)
		signed = hh.Sum(nil)
	}
	if err := checkSignature(cert.PublicKey, si.SignatureAlgorithm, h, signed, si.Signature); err != nil {
		return nil, err
	}
	return out, nil
}

type pssParamsASN1 struct {
	Hash       pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF        pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	SaltLength int                      `asn1:"optional,explicit,tag:2,default:20"`
	Trailer    int                      `asn1:"optional,explicit,tag:3,default:1"`
}

func checkSignature(pub crypto.PublicKey, alg pkix.AlgorithmIdentifier, h crypto.Hash, digest, sig []byte) error {
	oid := alg.Algorithm
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		switch {
		case oid.Equal(oidRSAEncryption), oid.Equal(oidSHA1WithRSA), oid.Equal(oidSHA256WithRSA),
			oid.Equal(oidSHA384WithRSA), oid.Equal(oidSHA512WithRSA):
			if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
				return fmt.Errorf("%w: %v", errBadSignature, err)
			}
			return nil
		case oid.Equal(oidRSASSAPSS):
			var p pssParamsASN1
			if rest, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil || len(rest) != 0 {
				return fmt.Errorf("RSASSA-PSS parameters: %v", err)
			}
			ph := crypto.SHA1
			if p.Hash.Algorithm != nil {
				var ok bool
				if ph, ok = hashByOID(p.Hash.Algorithm); !ok {
					return fmt.Errorf("%w: PSS hash %v", ErrUnsupportedAlgorithm, p.Hash.Algorithm)
				}
			}
			if ph != h {
				return errors.New("PSS hash differs from the digest algorithm")
			}
			if err := rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: h}); err != nil {
				return fmt.Errorf("%w: %v", errBadSignature, err)
			}
			return nil
		}
	case *ecdsa.PublicKey:
		switch {
		case oid.Equal(oidECPublicKey), oid.Equal(oidECDSAWithSHA1), oid.Equal(oidECDSAWithSHA256),
			oid.Equal(oidECDSAWithSHA384), oid.Equal(oidECDSAWithSHA512):
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				return errBadSignature
			}
			return nil
		}
	}
	return fmt.Errorf("%w: signature %v with %T", ErrUnsupportedAlgorithm, oid, pub)
}

var errBadSignature = errors.New("signature does not verify")

// VerifyDetached verifies a detached SignedData (sig) over the content read from
// content, hashing it as a stream.
func VerifyDetached(sig io.Reader, content io.Reader, opts VerifyOptions) (*Signature, error) {
	s, err := newSignedReader(ber.NewReader(sig, 4<<10), opts)
	if err != nil {
		return nil, failf(FailSignature, "open SignedData", err)
	}
	if s.content != nil {
		return nil, failf(FailSignature, "open SignedData", errors.New("content is attached, not detached"))
	}
	var ws []io.Writer
	for _, h := range s.hashes {
		ws = append(ws, h)
	}
	if _, err := io.Copy(io.MultiWriter(ws...), content); err != nil {
		return nil, err
	}
	if err := s.finish(false); err != nil {
		return nil, failf(FailSignature, "verify SignedData", noEOF(err))
	}
	return s.sig, nil
}

// VerifyBytes verifies an attached SignedData held in memory and returns its content,
// at most opts.MaxContent octets (64 KiB when zero).
func VerifyBytes(sd []byte, opts VerifyOptions) ([]byte, *Signature, error) {
	max := opts.MaxContent
	if max <= 0 {
		max = 64 << 10
	}
	sr, err := NewSignedReader(bytes.NewReader(sd), opts)
	if err != nil {
		return nil, nil, err
	}
	content, err := io.ReadAll(io.LimitReader(sr, int64(max)+1))
	if err != nil {
		return nil, nil, err
	}
	if len(content) > max {
		return nil, nil, failf(FailSignature, "verify SignedData", ber.ErrTooLarge)
	}
	return content, sr.Signature(), nil
}
