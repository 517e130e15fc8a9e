package cms

import (
	"context"
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

	// Sequential runs every layer on the caller's goroutine. By default each layer
	// but the innermost runs on a goroutine of its own, so that hashing, compressing
	// and encrypting proceed at the same time; each hand-off holds at most 768 KiB.
	Sequential bool
}

// Enveloped reports whether the file goes out as CMS (SFIDENV 1).
func (p *Protection) Enveloped() bool { return p.Sign || p.Compress || p.Encrypt }

// FileWriter protects a virtual file while it is written (see NewFileWriter).
type FileWriter struct {
	top    io.Writer
	closer io.Closer // closes every layer, innermost first; nil without layers
	stages []*stageWriter
	pl     *pipeline
	done   bool
}

// NewFileWriter returns a writer that protects the plaintext written to it and writes
// the transmitted form of the virtual file to dst. Close finishes every layer (it
// does not close dst). To get the EERP file hash of what was sent, write through a
// FileHasher: NewFileWriter(io.MultiWriter(dst, hasher), p).
//
// Unless p.Sequential is set, every layer but the innermost runs on a goroutine of its
// own, so dst is written from another goroutine than the caller's. A writer that is
// not closed must be stopped with Abort, or its goroutines stay.
func NewFileWriter(dst io.Writer, p Protection) (*FileWriter, error) {
	return NewFileWriterContext(context.Background(), dst, p)
}

// NewFileWriterContext is NewFileWriter with a context whose end aborts the writer:
// every later Write and Close fail with the context's cause.
func NewFileWriterContext(ctx context.Context, dst io.Writer, p Protection) (fw *FileWriter, err error) {
	if p.Sign || p.Encrypt {
		if !p.Suite.Valid() {
			return nil, &UnsupportedSuiteError{Code: p.Suite.Code()}
		}
	}
	self := &FileWriter{pl: newPipeline(ctx)}
	fw = self
	defer func() {
		if err != nil {
			self.Abort(err)
		}
	}()
	nLayers := 0
	for _, on := range []bool{p.Sign, p.Compress, p.Encrypt} {
		if on {
			nLayers++
		}
	}
	// Layers are built outermost first, each writing to the one built before it. In
	// front of every layer but the innermost comes a stage: the layer then runs on
	// the stage's goroutine, and closing the stage closes the layer and what follows.
	w := dst
	var rest io.Closer // what closes the layers built so far
	added := 0
	add := func(l io.WriteCloser, signer bool) {
		added++
		after := rest
		closeAll := closerFunc(func() error {
			if err := l.Close(); err != nil {
				if signer && self.pl.failed() == nil {
					// Name the suite: a KMS key that cannot sign with its hash
					// (SHA-1 for suites 01 and 02) fails here.
					return fmt.Errorf("cms: signing for %v: %w", p.Suite, err)
				}
				return err
			}
			if after != nil {
				return after.Close()
			}
			return nil
		})
		if p.Sequential || added == nLayers {
			w, rest = l, closeAll
			return
		}
		st := newStageWriter(self.pl, l, closeAll.Close)
		self.stages = append(self.stages, st)
		w, rest = st, st
	}
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
		add(ew, false)
	}
	if p.Compress {
		cw, err := NewCompressedWriter(w, CompressOptions{Level: p.CompressionLevel, ChunkSize: p.ChunkSize})
		if err != nil {
			return nil, err
		}
		add(cw, false)
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
		add(sw, true)
	}
	self.top, self.closer = w, rest
	return self, nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// Write protects p. After a failure in any layer, it and every later call return
// that failure.
func (f *FileWriter) Write(p []byte) (int, error) {
	if err := f.pl.failed(); err != nil {
		return 0, err
	}
	if f.done {
		return 0, errWriterClosed
	}
	n, err := f.top.Write(p)
	if err != nil {
		f.pl.fail(err)
		err = f.pl.err
	}
	return n, err
}

var errWriterClosed = errors.New("cms: file writer already closed")

// Close finishes every layer, writing the signatures and the ends of the structures,
// and returns once all of it has been written to dst.
func (f *FileWriter) Close() error {
	if err := f.pl.failed(); err != nil {
		f.stop()
		return err
	}
	if f.done {
		return errWriterClosed
	}
	f.done = true
	var err error
	if f.closer != nil {
		err = f.closer.Close()
	}
	if perr := f.pl.failed(); perr != nil {
		// A layer on another goroutine failed first; its error is the cause.
		err = perr
	}
	if err != nil {
		f.pl.fail(err)
	} else {
		f.pl.fail(errWriterClosed) // stops nothing: every stage has returned
	}
	f.stop()
	return err
}

// Abort stops every layer without finishing the structures, so that what dst received
// is not a valid file. cause (when not nil) is what later calls return. Abort waits for
// a write to dst in progress to return. It does nothing after Close.
func (f *FileWriter) Abort(cause error) {
	if cause == nil {
		cause = errStopped
	}
	f.pl.fail(cause)
	f.stop()
}

func (f *FileWriter) stop() {
	f.pl.wait()
	for _, st := range f.stages {
		st.release()
	}
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

	// Sequential runs every layer on the caller's goroutine. By default decryption
	// runs on a goroutine of its own, reading ahead at most 768 KiB, while the
	// caller's Read inflates and verifies.
	Sequential bool
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
	pl     *pipeline
	stage  *stageReader // reads env ahead, nil when sequential
	res    Result
	done   bool
	closed bool
}

// NewFileReader opens the layers v announces, reading their headers from src. Errors
// are *Error with the failure of the layer that failed.
//
// Unless v.Sequential is set, src is read on a goroutine of its own. It ends when
// Read has returned io.EOF or an error once src has returned; Close ends it earlier.
func NewFileReader(src io.Reader, v Verification) (*FileReader, error) {
	return NewFileReaderContext(context.Background(), src, v)
}

// NewFileReaderContext is NewFileReader with a context whose end stops the reader:
// Read then fails with the context's cause. A file cut short that way never
// verifies.
func NewFileReaderContext(ctx context.Context, src io.Reader, v Verification) (fr *FileReader, err error) {
	pl := newPipeline(ctx)
	fr = &FileReader{pl: pl}
	defer func() {
		if err != nil {
			pl.fail(err) // the read-ahead ends once its read of src returns
		}
	}()
	r := src
	if v.Encrypted {
		er, err := NewEnvelopedReader(r, DecryptOptions{Decrypter: v.Decrypter, Certificate: v.Certificate, Rand: v.Rand})
		if err != nil {
			return nil, err
		}
		fr.env = er
		fr.res.Cipher = er.Cipher()
		r = er
		if !v.Sequential && (v.Compressed || v.Signed) {
			fr.stage = newStageReader(fr.pl, er)
			r = fr.stage
		}
		fr.outer = append([]io.Reader{r}, fr.outer...)
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
	if f.closed {
		return 0, errReaderClosed
	}
	if err := f.pl.failed(); err != nil {
		// Stopped from outside (context): what was read is not verified.
		f.done, f.res.Err = true, err
		return 0, err
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
		// The read-ahead has delivered its last chunk, or stops after its read of
		// src in progress.
		f.pl.fail(err)
		if err == io.EOF {
			f.pl.wait() // returns at once: src has ended
		}
	}
	return n, err
}

var errReaderClosed = errors.New("cms: file reader closed")

// Close stops reading src; it waits for a read of src in progress to return. After
// Close, Read fails; a file not read to io.EOF before Close is not verified.
func (f *FileReader) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.pl.fail(errReaderClosed)
	f.pl.wait()
	if f.stage != nil {
		f.stage.release()
	}
	return nil
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
	case *stageReader: // reads ahead of the EnvelopedReader only
		return FailDecryption
	}
	return FailSignature
}

// Result reports the outcome; it is complete once Read has returned io.EOF or an
// error.
func (f *FileReader) Result() Result { return f.res }
