package cms

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"
)

// Protection says how an outgoing virtual file is secured (SFIDSEC, SFIDCIPH,
// SFIDCOMP). The layers are applied in the order RFC 5024 §6.1 prescribes: sign, then
// compress, then encrypt, giving EnvelopedData{CompressedData{SignedData{file}}} with
// each layer's content being the complete ContentInfo of the layer inside, typed
// id-data (RFC 5024 §6.1).
type Protection struct {
	// Suite selects the content cipher and the signature hash.
	Suite Suite

	// Sign signs the file with Signer, whose certificate is SignerCertificate.
	Sign              bool
	Signer            crypto.Signer
	SignerCertificate *x509.Certificate
	// ExtraSigners add signatures, such as the new key during a certificate
	// roll-over (RFC 5024 §6.2). They use the suite's hash.
	ExtraSigners []Signer
	// NoSignedAttributes signs the content digest directly.
	NoSignedAttributes bool

	// Compress compresses the file with ZLIB (SFIDCOMP 1).
	Compress bool
	// CompressionLevel is the zlib level; the default when zero.
	CompressionLevel int

	// Encrypt encrypts the file for Recipient (the partner's certificate).
	Encrypt   bool
	Recipient *x509.Certificate
	// Cipher overrides the suite's content cipher (for bilateral AES-128/192).
	Cipher Cipher
	// OAEPHash selects RSAES-OAEP key transport instead of the suites' PKCS #1 v1.5,
	// for partners that agreed on it (see EnvelopeOptions.OAEPHash).
	OAEPHash crypto.Hash

	// Rand and Clock default to crypto/rand and time.Now.
	Rand  io.Reader
	Clock func() time.Time
	// ChunkSize is the size of the OCTET STRING chunks written; a default when zero.
	ChunkSize int
}

// Enveloped reports whether the file goes out as CMS (SFIDENV 1).
func (p *Protection) Enveloped() bool { return p.Sign || p.Compress || p.Encrypt }

type fileWriter struct {
	top    io.Writer
	layers []io.WriteCloser // innermost first
	suite  Suite
	signed bool
	err    error
}

// NewFileWriter returns a writer that protects the plaintext written to it and writes
// the transmitted form of the virtual file to dst. Close finishes every layer (it
// does not close dst). To get the EERP file hash of what was sent, write through a
// FileHasher: NewFileWriter(io.MultiWriter(dst, hasher), p).
func NewFileWriter(dst io.Writer, p Protection) (io.WriteCloser, error) {
	if p.Sign || p.Encrypt {
		if !p.Suite.Valid() {
			return nil, &UnsupportedSuiteError{Code: p.Suite.Code()}
		}
	}
	fw := &fileWriter{top: dst, suite: p.Suite, signed: p.Sign}
	var outer []io.WriteCloser // outermost first, reversed below
	w := dst
	if p.Encrypt {
		if p.Recipient == nil {
			return nil, errors.New("cms: encryption needs the recipient's certificate")
		}
		c := p.Cipher
		if c == 0 {
			c = p.Suite.Cipher()
		}
		ew, err := NewEnvelopedWriter(w, EnvelopeOptions{
			Recipients: []*x509.Certificate{p.Recipient}, Cipher: c, Rand: p.Rand, ChunkSize: p.ChunkSize,
			OAEPHash: p.OAEPHash,
		})
		if err != nil {
			return nil, err
		}
		outer = append(outer, ew)
		w = ew
	}
	if p.Compress {
		cw, err := NewCompressedWriter(w, CompressOptions{Level: p.CompressionLevel, ChunkSize: p.ChunkSize})
		if err != nil {
			return nil, err
		}
		outer = append(outer, cw)
		w = cw
	}
	if p.Sign {
		signers := []Signer{{Key: p.Signer, Certificate: p.SignerCertificate, Hash: p.Suite.Hash()}}
		for _, s := range p.ExtraSigners {
			if s.Hash == 0 {
				s.Hash = p.Suite.Hash()
			}
			signers = append(signers, s)
		}
		sw, err := NewSignedWriter(w, SignOptions{
			Signers: signers, NoSignedAttributes: p.NoSignedAttributes,
			Clock: p.Clock, Rand: p.Rand, ChunkSize: p.ChunkSize,
		})
		if err != nil {
			return nil, err
		}
		outer = append(outer, sw)
		w = sw
	}
	for i := len(outer) - 1; i >= 0; i-- {
		fw.layers = append(fw.layers, outer[i])
	}
	fw.top = w
	return fw, nil
}

func (f *fileWriter) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.top.Write(p)
	if err != nil {
		f.err = err
	}
	return n, err
}

func (f *fileWriter) Close() error {
	if f.err != nil {
		return f.err
	}
	f.err = errors.New("cms: file writer already closed")
	for i, l := range f.layers {
		if err := l.Close(); err != nil {
			if i == 0 && f.signed {
				// Name the suite: a KMS key that cannot sign with its hash (SHA-1 for
				// suites 01 and 02) fails here.
				return fmt.Errorf("cms: signing for %v: %w", f.suite, err)
			}
			return err
		}
	}
	return nil
}

// Verification says how an incoming virtual file is opened. The layers expected come
// from the SFID (SFIDSEC, SFIDCOMP): a file announced as signed that carries no valid
// signature fails, and so does a layer of the wrong type.
type Verification struct {
	Encrypted  bool
	Compressed bool
	Signed     bool

	// Decrypter and Certificate are our own key and certificate.
	Decrypter   crypto.Decrypter
	Certificate *x509.Certificate
	// Trusted are the partner's certificates (several during a roll-over).
	Trusted []*x509.Certificate
	// Rand is passed to the Decrypter; crypto/rand when nil.
	Rand io.Reader
}

// Result describes an opened file once its reader has returned io.EOF or an error.
type Result struct {
	// Signer is the partner certificate that verified, when the file was signed.
	Signer *x509.Certificate
	// Hash and Digest are the signature's digest algorithm and the content digest.
	Hash   crypto.Hash
	Digest []byte
	// SigningTime is the signed signing-time attribute, zero when absent.
	SigningTime time.Time
	// Cipher is the content cipher, when the file was encrypted.
	Cipher Cipher
	// Err is the failure that stopped reading, nil on success. It is an *Error
	// whose EFNAReason and NERPReason give the codes to answer with.
	Err error
}

// FileReader returns the plaintext of a protected virtual file.
type FileReader struct {
	top    io.Reader
	outer  []io.Reader // layers outside the innermost, innermost first
	env    *EnvelopedReader
	signed *SignedReader
	res    Result
	done   bool
}

// NewFileReader opens the layers v announces, reading their headers from src. Errors
// are *Error with the failure of the layer that failed.
func NewFileReader(src io.Reader, v Verification) (*FileReader, error) {
	fr := &FileReader{}
	r := src
	if v.Encrypted {
		er, err := NewEnvelopedReader(r, DecryptOptions{Decrypter: v.Decrypter, Certificate: v.Certificate, Rand: v.Rand})
		if err != nil {
			return nil, err
		}
		fr.env = er
		fr.res.Cipher = er.Cipher()
		fr.outer = append([]io.Reader{er}, fr.outer...)
		r = er
	}
	if v.Compressed {
		cr, err := NewCompressedReader(r)
		if err != nil {
			return nil, afterDecryption(fr.env, err)
		}
		fr.outer = append([]io.Reader{cr}, fr.outer...)
		r = cr
	}
	if v.Signed {
		if len(v.Trusted) == 0 {
			return nil, failf(FailSignature, "open SignedData", fmt.Errorf("%w: no partner certificate configured", ErrSignerNotTrusted))
		}
		sr, err := NewSignedReader(r, VerifyOptions{Trusted: v.Trusted})
		if err != nil {
			if !v.Compressed {
				err = afterDecryption(fr.env, err)
			}
			return nil, err
		}
		fr.signed = sr
		fr.outer = append([]io.Reader{sr}, fr.outer...)
		r = sr
	}
	fr.top = r
	if len(fr.outer) > 0 {
		fr.outer = fr.outer[1:] // the innermost layer is top itself
	}
	return fr, nil
}

// Read returns plaintext. It returns io.EOF only after every layer has been checked to
// its end: signature verified, zlib checksum matched, padding and structure intact.
// Any other error means the file must be refused.
func (f *FileReader) Read(p []byte) (int, error) {
	if f.done {
		if f.res.Err != nil {
			return 0, f.res.Err
		}
		return 0, io.EOF
	}
	n, err := f.top.Read(p)
	if err == io.EOF {
		err = f.finish()
	}
	if err != nil {
		f.done = true
		if err != io.EOF {
			f.res.Err = err
		}
	}
	return n, err
}

// finish drains the outer layers: each must end exactly where its inner layer ended.
func (f *FileReader) finish() error {
	var one [1]byte
	for _, l := range f.outer {
		n, err := io.ReadFull(l, one[:])
		if n != 0 {
			return failf(layerFailure(l), "read file", errors.New("data after the end of the inner CMS layer"))
		}
		if err != io.EOF {
			return err
		}
	}
	if f.signed != nil {
		if s := f.signed.Signature(); s != nil {
			f.res.Signer, f.res.Hash, f.res.Digest, f.res.SigningTime = s.Certificate, s.Hash, s.Digest, s.SigningTime
		}
	}
	return io.EOF
}

// afterDecryption classifies a failure to open the layer right inside an EnvelopedData
// as a decryption failure: plaintext that does not even start like the announced CMS
// layer means a wrong key or damaged ciphertext. It also keeps a wrong content key
// (including the random one implicit rejection substitutes) from being told apart by
// the reason code.
func afterDecryption(env *EnvelopedReader, err error) error {
	var e *Error
	if env == nil || (errors.As(err, &e) && e.Failure == FailDecryption) {
		return err
	}
	return &Error{Failure: FailDecryption, Op: "open decrypted content", Err: err}
}

func layerFailure(r io.Reader) Failure {
	switch r.(type) {
	case *EnvelopedReader:
		return FailDecryption
	case *CompressedReader:
		return FailDecompression
	}
	return FailSignature
}

// Result reports the outcome; it is complete once Read has returned io.EOF or an
// error.
func (f *FileReader) Result() Result { return f.res }
