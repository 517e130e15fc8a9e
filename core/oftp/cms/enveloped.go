package cms

import (
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// EnvelopeOptions configure an EnvelopedData writer.
type EnvelopeOptions struct {
	// Recipients are the certificates whose RSA keys receive the content key,
	// identified by issuer and serial number.
	Recipients []*x509.Certificate
	// Cipher encrypts the content (DES3 or AES256 for the OFTP suites).
	Cipher Cipher
	// Rand supplies the content key and IV; crypto/rand when nil.
	Rand io.Reader
	// ChunkSize is the size of the OCTET STRING chunks written; a default when zero.
	ChunkSize int
	// OAEPHash, when set, wraps the content key with RSAES-OAEP (RFC 3560) using this
	// hash for OAEP and MGF1, instead of the PKCS #1 v1.5 the OFTP suites specify. It
	// is for partners that agreed on it bilaterally, for example because their key
	// lives in a KMS that only decrypts OAEP.
	OAEPHash crypto.Hash
}

type envelopedWriter struct {
	dst io.Writer
	cbc *cbcWriter
	sw  *ber.StringWriter
	err error
}

// NewEnvelopedWriter starts an EnvelopedData (RFC 5652 §6) on dst, encrypting what is
// written to it with RSA PKCS #1 v1.5 key transport and a CBC content cipher. The
// encoding uses indefinite lengths, so nothing is buffered beyond one chunk. Close
// finishes the structure; it does not close dst.
func NewEnvelopedWriter(dst io.Writer, opts EnvelopeOptions) (io.WriteCloser, error) {
	if len(opts.Recipients) == 0 {
		return nil, errors.New("cms: EnvelopedData needs at least one recipient")
	}
	c := opts.Cipher
	if c.KeySize() == 0 {
		return nil, fmt.Errorf("cms: %w: content cipher %v", ErrUnsupportedAlgorithm, c)
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	key := make([]byte, c.KeySize())
	iv := make([]byte, c.BlockSize())
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, fmt.Errorf("cms: content key: %w", err)
	}
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, fmt.Errorf("cms: IV: %w", err)
	}
	block, err := c.newBlock(key)
	if err != nil {
		return nil, err
	}
	var ris [][]byte
	for _, cert := range opts.Recipients {
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("cms: %w: recipient key %T (RSA key transport only)", ErrUnsupportedAlgorithm, cert.PublicKey)
		}
		var ek, keyAlg []byte
		var err error
		if opts.OAEPHash != 0 {
			hOID, ok := hashOID(opts.OAEPHash)
			if !ok {
				return nil, fmt.Errorf("cms: %w: OAEP hash %v", ErrUnsupportedAlgorithm, opts.OAEPHash)
			}
			ek, err = rsa.EncryptOAEP(opts.OAEPHash.New(), rnd, pub, key, nil)
			keyAlg = algorithm(oidRSAESOAEP, oaepParamsDER(hOID))
		} else {
			// RFC 5024 §10.2 suites 01 and 02 (and the ODETTE list) use PKCS #1 v1.5.
			//lint:ignore SA1019 OFTP cipher suites mandate RSA PKCS #1 v1.5 key transport
			ek, err = rsa.EncryptPKCS1v15(rnd, pub, key)
			keyAlg = algorithm(oidRSAEncryption, asn1Null)
		}
		if err != nil {
			return nil, fmt.Errorf("cms: wrapping content key for %s: %w", cert.Subject, err)
		}
		ris = append(ris, ber.Sequence(
			mustMarshal(0), // version 0: issuerAndSerialNumber
			issuerAndSerial(cert),
			keyAlg,
			ber.OctetString(ek),
		))
	}
	head := contentInfoPrefix(oidEnvelopedData)
	head = append(head, mustMarshal(0)...) // version 0: no originator info, ktri v0 only
	head = append(head, ber.SetOf(ris...)...)
	head = ber.AppendHeader(head, ber.ClassUniversal, ber.TagSequence, true, -1)
	// RFC 5024 §6.1: the encrypted content type is id-data, whatever layer it holds.
	head = append(head, mustMarshal(oidData)...)
	head = append(head, algorithm(c.OID(), ber.OctetString(iv))...)
	if _, err := dst.Write(head); err != nil {
		return nil, err
	}
	clear(key)
	chunk := opts.ChunkSize
	if chunk <= 0 {
		chunk = defaultChunk
	}
	sw := ber.NewStringWriter(dst, ber.ClassContext, 0, chunk)
	return &envelopedWriter{
		dst: dst,
		sw:  sw,
		cbc: newCBCWriter(sw, cipher.NewCBCEncrypter(block, iv), chunk),
	}, nil
}

func (w *envelopedWriter) Write(p []byte) (int, error) { return w.cbc.Write(p) }

func (w *envelopedWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = errors.New("cms: EnvelopedData already closed")
	if err := w.cbc.Close(); err != nil {
		return err
	}
	if err := w.sw.Close(); err != nil {
		return err
	}
	// End of EncryptedContentInfo, then of EnvelopedData and its ContentInfo.
	_, err := w.dst.Write(append([]byte{0, 0}, contentInfoSuffix...))
	return err
}

// DecryptOptions configure an EnvelopedData reader.
type DecryptOptions struct {
	// Decrypter unwraps the content key (RSA PKCS #1 v1.5 or RSAES-OAEP).
	Decrypter crypto.Decrypter
	// Certificate is our own certificate; it selects our RecipientInfo.
	Certificate *x509.Certificate
	// Rand is passed to the Decrypter; crypto/rand when nil.
	Rand io.Reader
}

// EnvelopedReader decrypts an EnvelopedData stream.
type EnvelopedReader struct {
	r      *ber.Reader
	cbc    *cbcReader
	cipher Cipher
	err    error
}

// NewEnvelopedReader reads the EnvelopedData header from src, unwraps the content key
// and returns a reader of the decrypted content. Failures are *Error with
// FailDecryption.
func NewEnvelopedReader(src io.Reader, opts DecryptOptions) (*EnvelopedReader, error) {
	er, err := newEnvelopedReader(src, opts)
	if err != nil {
		return nil, failf(FailDecryption, "open EnvelopedData", err)
	}
	return er, nil
}

type ktri struct {
	Version      int
	RID          asn1.RawValue
	KeyAlgorithm pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

func newEnvelopedReader(src io.Reader, opts DecryptOptions) (*EnvelopedReader, error) {
	if opts.Decrypter == nil || opts.Certificate == nil {
		return nil, errors.New("a decrypter and its certificate are required")
	}
	r := ber.NewReader(src, defaultBuf)
	if err := openContentInfo(r, oidEnvelopedData); err != nil {
		return nil, err
	}
	if _, err := readSmallInt(r); err != nil {
		return nil, err
	}
	h, err := r.Next()
	if err != nil {
		return nil, noEOF(err)
	}
	if h.Is(ber.ClassContext, 0, true) { // originatorInfo: not used by key transport
		if h, err = r.Next(); err != nil {
			return nil, noEOF(err)
		}
	}
	if !h.Is(ber.ClassUniversal, ber.TagSet, true) {
		return nil, fmt.Errorf("recipientInfos: unexpected %v", h)
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	var mine *ktri
	for n := 0; ; n++ {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if n >= maxRecipients {
			return nil, fmt.Errorf("more than %d recipients", maxRecipients)
		}
		if !h.Is(ber.ClassUniversal, ber.TagSequence, true) {
			continue // kari, kekri, pwri, ori: not for RSA certificates
		}
		raw, err := r.Raw(maxRecipientLen)
		if err != nil {
			return nil, err
		}
		var ri ktri
		if err := unmarshalBER(raw, &ri, maxRecipientLen); err != nil {
			return nil, fmt.Errorf("recipient info: %w", err)
		}
		if mine == nil && matchesIdentifier(ri.RID, opts.Certificate) {
			mine = &ri
		}
	}
	if mine == nil {
		return nil, ErrNoRecipient
	}
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		return nil, err
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	if _, err := readOID(r); err != nil { // id-data per RFC 5024; any type is read as octets
		return nil, err
	}
	alg, err := readAlgorithm(r)
	if err != nil {
		return nil, err
	}
	c, ok := cipherByOID(alg.Algorithm)
	if !ok {
		return nil, fmt.Errorf("%w: content cipher %v", ErrUnsupportedAlgorithm, alg.Algorithm)
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(alg.Parameters.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != c.BlockSize() {
		return nil, fmt.Errorf("%v IV parameter invalid", c)
	}
	key, err := unwrapKey(mine, opts, c.KeySize())
	if err != nil {
		return nil, err
	}
	if len(key) != c.KeySize() {
		return nil, fmt.Errorf("content key of %d octets for %v", len(key), c)
	}
	block, err := c.newBlock(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	h, err = r.Next()
	if err != nil {
		return nil, noEOF(err)
	}
	if h.Class != ber.ClassContext || h.Tag != 0 {
		return nil, errors.New("encrypted content missing (detached EnvelopedData is not supported)")
	}
	sr, err := r.StringReader()
	if err != nil {
		return nil, err
	}
	return &EnvelopedReader{
		r:      r,
		cbc:    newCBCReader(sr, cipher.NewCBCDecrypter(block, iv), defaultBuf),
		cipher: c,
	}, nil
}

// unwrapKey decrypts the content key. For PKCS #1 v1.5 it asks for implicit rejection
// (RFC 3218 §2.3.2): a key whose padding is wrong comes back as a random key of the
// right length, so a malformed key block fails exactly like a wrong key, later and
// with the same reason code, and the receiver offers no padding oracle. Decrypters
// that return an error instead (some HSMs) fail here.
func unwrapKey(ri *ktri, opts DecryptOptions, keySize int) ([]byte, error) {
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var dopts crypto.DecrypterOpts
	switch {
	case ri.KeyAlgorithm.Algorithm.Equal(oidRSAEncryption):
		//lint:ignore SA1019 OFTP cipher suites mandate RSA PKCS #1 v1.5 key transport
		dopts = &rsa.PKCS1v15DecryptOptions{SessionKeyLen: keySize}
	case ri.KeyAlgorithm.Algorithm.Equal(oidRSAESOAEP):
		o, err := parseOAEPParams(ri.KeyAlgorithm.Parameters)
		if err != nil {
			return nil, err
		}
		dopts = o
	default:
		return nil, fmt.Errorf("%w: key transport %v", ErrUnsupportedAlgorithm, ri.KeyAlgorithm.Algorithm)
	}
	key, err := opts.Decrypter.Decrypt(rnd, ri.EncryptedKey, dopts)
	if err != nil {
		// Name the scheme: a KMS key that only decrypts OAEP cannot open files
		// under the OFTP suites, which use PKCS #1 v1.5.
		scheme := "RSA PKCS #1 v1.5"
		if _, ok := dopts.(*rsa.OAEPOptions); ok {
			scheme = "RSAES-OAEP"
		}
		return nil, fmt.Errorf("unwrapping the content key with %s: %w", scheme, err)
	}
	return key, nil
}

// RSAES-OAEP-params (RFC 4055 §4.1); every field defaults to SHA-1.
type oaepParams struct {
	Hash    pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF     pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	PSource pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:2"`
}

// oaepParamsDER encodes RSAES-OAEP-params with hash h for OAEP and MGF1 and the
// default (empty) label.
func oaepParamsDER(h asn1.ObjectIdentifier) []byte {
	hAlg := algorithm(h, nil)
	return ber.Sequence(
		ber.Explicit(0, hAlg),
		ber.Explicit(1, algorithm(oidMGF1, hAlg)),
	)
}

func parseOAEPParams(p asn1.RawValue) (*rsa.OAEPOptions, error) {
	o := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if len(p.FullBytes) == 0 || (p.Tag == asn1.TagNull && p.Class == asn1.ClassUniversal) {
		return o, nil
	}
	var params oaepParams
	if rest, err := asn1.Unmarshal(p.FullBytes, &params); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("RSAES-OAEP parameters: %v", err)
	}
	if params.Hash.Algorithm != nil {
		h, ok := hashByOID(params.Hash.Algorithm)
		if !ok {
			return nil, fmt.Errorf("%w: OAEP hash %v", ErrUnsupportedAlgorithm, params.Hash.Algorithm)
		}
		o.Hash = h
	}
	if params.MGF.Algorithm != nil {
		if !params.MGF.Algorithm.Equal(oidMGF1) {
			return nil, fmt.Errorf("%w: OAEP mask generation %v", ErrUnsupportedAlgorithm, params.MGF.Algorithm)
		}
		var mh pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(params.MGF.Parameters.FullBytes, &mh); err != nil {
			return nil, fmt.Errorf("OAEP MGF1 hash: %v", err)
		}
		h, ok := hashByOID(mh.Algorithm)
		if !ok {
			return nil, fmt.Errorf("%w: MGF1 hash %v", ErrUnsupportedAlgorithm, mh.Algorithm)
		}
		o.MGFHash = h
	}
	if params.PSource.Algorithm != nil {
		var label []byte
		if _, err := asn1.Unmarshal(params.PSource.Parameters.FullBytes, &label); err == nil {
			o.Label = label
		}
	}
	return o, nil
}

// Cipher returns the content-encryption algorithm the sender chose.
func (e *EnvelopedReader) Cipher() Cipher { return e.cipher }

// Read returns decrypted content. io.EOF comes only after the padding and the rest of
// the structure have been checked.
func (e *EnvelopedReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.cbc.Read(p)
	if err != nil {
		e.err = endLayer(err, e.finish, FailDecryption, "read EnvelopedData")
		err = e.err
	}
	return n, err
}

func (e *EnvelopedReader) finish() error {
	r := e.r
	if err := r.ExpectEnd(); err != nil { // EncryptedContentInfo
		return err
	}
	h, err := r.Next()
	if err == nil && h.Is(ber.ClassContext, 1, true) { // unprotectedAttrs: ignored
		if err := r.Skip(); err != nil {
			return err
		}
		h, err = r.Next()
	}
	if err != io.EOF {
		if err == nil {
			err = fmt.Errorf("unexpected %v after encrypted content", h)
		}
		return err
	}
	return closeContentInfoOuter(r)
}

// closeContentInfoOuter checks the [0] wrapper and ContentInfo ends after the content
// SEQUENCE has been left.
func closeContentInfoOuter(r *ber.Reader) error {
	for i := 0; i < 2; i++ {
		if err := r.ExpectEnd(); err != nil {
			return err
		}
	}
	return r.ExpectEOF()
}

// endLayer turns the error that ends a layer reader's content into what its Read
// reports from then on: at io.EOF the rest of the structure is checked (finish)
// before io.EOF is passed on, and any other error becomes a failure of kind f.
func endLayer(err error, finish func() error, f Failure, op string) error {
	if err == io.EOF {
		if err = finish(); err == nil {
			return io.EOF
		}
	}
	return failf(f, op, noEOF(err))
}

// noEOF turns a bare io.EOF into io.ErrUnexpectedEOF: inside a structure, the end of
// the stream is always a truncation.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
