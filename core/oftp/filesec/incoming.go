package filesec

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// SFNA/EFNA reasons used here (RFC 5024 §5.3.5, §5.3.10).
const (
	reasonUnspecified = oftp.ReasonUnspecified
)

func refuse(code int, cause error) *oftp.ReasonError {
	return &oftp.ReasonError{Cmd: "SFNA", Code: code, Err: cause}
}

// TransformIncoming implements oftp.IncomingTransform: it applies the partner's
// acceptance policy to the SFID (SFNA 15-20) and wraps next in a sink that decrypts,
// decompresses and verifies the file while it arrives.
func (s *Security) TransformIncoming(ctx context.Context, inc *oftp.IncomingFile, next oftp.Sink) (oftp.Sink, error) {
	if IsCertificateExchange(inc.DatasetName) {
		return s.certificateSink(ctx, inc, next)
	}
	level := Level(inc.SecurityLevel)
	secured := level != LevelNone || inc.Compressed
	p, perr := s.partner(inc.Originator, inc.PartnerSSID)
	if perr != nil {
		if !secured && !inc.SignedReceipt {
			return next, nil
		}
		return nil, refuse(reasonUnspecified, perr)
	}
	acc := p.cfg.Incoming
	suite := cms.Suite(inc.CipherSuite)
	switch {
	case level < LevelNone || level > LevelBoth:
		return nil, refuse(reasonUnspecified, fmt.Errorf("security level %d", inc.SecurityLevel))
	case (level != LevelNone || inc.SignedReceipt) && !suiteAllowed(acc, suite):
		return nil, refuse(oftp.ReasonCipherNotSupported, fmt.Errorf("cipher suite %s", suite.Code()))
	case level.Encrypted() && acc.RefuseEncryption:
		return nil, refuse(oftp.ReasonEncryptedNotAllowed, errors.New("partner policy refuses encrypted files"))
	case !level.Encrypted() && acc.RequireEncryption:
		return nil, refuse(oftp.ReasonUnencryptedForbidden, errors.New("partner policy requires encrypted files"))
	case inc.Compressed && acc.RefuseCompression:
		return nil, refuse(oftp.ReasonCompressionForbidden, errors.New("partner policy refuses compressed files"))
	case level.Signed() && acc.RefuseSignature:
		return nil, refuse(oftp.ReasonSignedNotAllowed, errors.New("partner policy refuses signed files"))
	case !level.Signed() && acc.RequireSignature:
		return nil, refuse(oftp.ReasonUnsignedForbidden, errors.New("partner policy requires signed files"))
	}
	var rec *fileRecord
	var hasher *cms.FileHasher
	if inc.SignedReceipt {
		var err error
		if hasher, err = cms.NewFileHasher(suite, p.cfg.SHA1Receipts); err != nil {
			return nil, refuse(oftp.ReasonCipherNotSupported, err)
		}
		rec = &fileRecord{suite: suite, signedReceipt: true, partner: p}
	}
	key := keyOf(inc.DatasetName, inc.Stamp.Date, inc.Stamp.Time, inc.Originator, inc.Destination)
	if !secured {
		if rec == nil {
			return next, nil
		}
		return &hashSink{s: s, next: next, hasher: hasher, key: key, rec: rec, format: inc.Format}, nil
	}
	v := cms.Verification{Encrypted: level.Encrypted(), Compressed: inc.Compressed, Signed: level.Signed(), Rand: s.cfg.Rand}
	if v.Encrypted {
		kp, err := s.own(certs.PurposeFileEncryption)
		if err != nil {
			return nil, refuse(oftp.ReasonEncryptedNotAllowed, err)
		}
		dec, err := kp.Decrypter()
		if err != nil {
			return nil, refuse(oftp.ReasonEncryptedNotAllowed, err)
		}
		v.Decrypter, v.Certificate = dec, kp.Leaf
	}
	// A partner certificate that does not validate makes the signature invalid
	// (EFNA 21) once the file is in, with the validation error as cause.
	var early error
	if v.Signed {
		list, err := s.usable(ctx, p, certs.PurposeFileSigning)
		if err != nil {
			early = &cms.Error{Failure: cms.FailSignature, Op: "partner certificate", Err: err}
		}
		v.Trusted = list
	}
	ss := &secureSink{s: s, next: next, hasher: hasher, key: key, rec: rec, p: p, done: make(chan struct{})}
	pr, pw := io.Pipe()
	ss.pw = pw
	vlrecl := -1
	if inc.Format == oftp.FormatVariable {
		vlrecl = inc.MaxRecordSize
	}
	go ss.consume(pr, v, early, vlrecl)
	return ss, nil
}

// secureSink receives the transmitted octets of a secured file and feeds them to the
// verifying reader running in its own goroutine.
type secureSink struct {
	s      *Security
	next   oftp.Sink
	pw     *io.PipeWriter
	hasher *cms.FileHasher
	key    fileKey
	rec    *fileRecord
	p      *partnerState
	done   chan struct{}
	// Set by consume before done is closed.
	err    error
	result cms.Result
}

var errAborted = errors.New("filesec: transfer aborted")

func (ss *secureSink) consume(pr *io.PipeReader, v cms.Verification, early error, vlrecl int) {
	defer close(ss.done)
	fail := func(err error) {
		ss.err = err
		pr.CloseWithError(err)
	}
	if early != nil {
		fail(early)
		return
	}
	fr, err := cms.NewFileReader(pr, v)
	if err != nil {
		fail(err)
		return
	}
	// Runs after fail has closed pr, so that the decrypting goroutine's read returns.
	defer fr.Close()
	bw := bufio.NewWriterSize(ss.next, 64<<10)
	var w io.Writer = bw
	var vdec *cms.VRecordDecoder
	if vlrecl >= 0 {
		vdec = cms.NewVRecordDecoder(&recordWriter{bw: bw, next: ss.next}, vlrecl)
		w = vdec
	}
	buf := make([]byte, copyBuf)
	var werr error
	for {
		n, rerr := fr.Read(buf)
		// After a storage or record error keep reading: a failure of the CMS layers
		// is what the partner must hear about first.
		if n > 0 && werr == nil {
			_, werr = w.Write(buf[:n])
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			fail(rerr)
			return
		}
	}
	if werr == nil && vdec != nil {
		werr = vdec.Close()
	}
	if werr == nil {
		werr = bw.Flush()
	}
	if werr != nil {
		fail(werr)
		return
	}
	// Whatever follows the CMS structure is drained, so that the session never blocks
	// writing it, and refused.
	if n, _ := io.Copy(io.Discard, pr); n > 0 {
		fail(&cms.Error{Failure: outerFailure(v), Op: "read file", Err: fmt.Errorf("%d octets after the end of the CMS structure", n)})
		return
	}
	ss.result = fr.Result()
}

// outerFailure classifies damage to the outermost layer of a file.
func outerFailure(v cms.Verification) cms.Failure {
	switch {
	case v.Encrypted:
		return cms.FailDecryption
	case v.Compressed:
		return cms.FailDecompression
	}
	return cms.FailSignature
}

func (ss *secureSink) Write(p []byte) (int, error) {
	if ss.hasher != nil {
		ss.hasher.Write(p)
	}
	n, err := ss.pw.Write(p)
	if err != nil {
		<-ss.done
		return n, efnaFor(ss.err)
	}
	return n, nil
}

func (ss *secureSink) remember() {
	if ss.rec != nil {
		ss.rec.hash, ss.rec.sha1 = ss.hasher.Sum(), ss.hasher.SumSHA1()
		ss.s.received.put(ss.key, ss.rec)
	}
}

// Commit checks that the whole CMS structure verified before the next sink commits.
func (ss *secureSink) Commit(ctx context.Context) error {
	ss.pw.Close()
	<-ss.done
	ss.remember()
	if ss.err != nil {
		if err := ss.next.Abort(context.WithoutCancel(ctx)); err != nil {
			ss.s.log.Warn("abort after security failure", "err", err)
		}
		return efnaFor(ss.err)
	}
	if ss.result.Signer != nil {
		ss.s.confirm(ss.p, ss.result.Signer)
	}
	return ss.next.Commit(ctx)
}

// Abort discards the file.
func (ss *secureSink) Abort(ctx context.Context) error {
	ss.pw.CloseWithError(errAborted)
	<-ss.done
	ss.remember()
	return ss.next.Abort(ctx)
}

// Location reports where the next sink put the file.
func (ss *secureSink) Location() string {
	if l, ok := ss.next.(oftp.Locator); ok {
		return l.Location()
	}
	return ""
}

// Result is the outcome of the CMS layers, complete after Commit.
func (ss *secureSink) Result() cms.Result { return ss.result }

// efnaFor maps a failure to the EFNA the session sends.
func efnaFor(err error) error {
	if err == nil {
		return &oftp.ReasonError{Cmd: "EFNA", Code: reasonUnspecified, Err: errAborted}
	}
	if code, _, ok := cms.ReasonCodes(err); ok {
		return &oftp.ReasonError{Cmd: "EFNA", Code: code, Err: err}
	}
	if errors.Is(err, ErrVRecord) {
		return &oftp.ReasonError{Cmd: "EFNA", Code: reasonUnspecified, Text: "invalid V record structure", Err: err}
	}
	return err // a storage failure: the session answers EFNA 12
}

// recordWriter ends V records for the next sink: through its RecordEnder, or with
// CR-LF as the session does for plain V files.
type recordWriter struct {
	bw   *bufio.Writer
	next oftp.Sink
}

var crlf = []byte("\r\n")

func (r *recordWriter) Write(p []byte) (int, error) { return r.bw.Write(p) }

func (r *recordWriter) EndRecord() error {
	if re, ok := r.next.(oftp.RecordEnder); ok {
		if err := r.bw.Flush(); err != nil {
			return err
		}
		return re.EndRecord()
	}
	_, err := r.bw.Write(crlf)
	return err
}

// hashSink passes an unsecured file to next and hashes its record data for a signed
// receipt.
type hashSink struct {
	s      *Security
	next   oftp.Sink
	hasher *cms.FileHasher
	key    fileKey
	rec    *fileRecord
	format oftp.Format
}

func (h *hashSink) Write(p []byte) (int, error) {
	h.hasher.Write(p)
	return h.next.Write(p)
}

// EndRecord implements oftp.RecordEnder so that record ends stay out of the hash.
func (h *hashSink) EndRecord() error {
	if re, ok := h.next.(oftp.RecordEnder); ok {
		return re.EndRecord()
	}
	if h.format == oftp.FormatVariable {
		_, err := h.next.Write(crlf)
		return err
	}
	return nil
}

func (h *hashSink) remember() {
	h.rec.hash, h.rec.sha1 = h.hasher.Sum(), h.hasher.SumSHA1()
	h.s.received.put(h.key, h.rec)
}

func (h *hashSink) Commit(ctx context.Context) error {
	h.remember()
	return h.next.Commit(ctx)
}

func (h *hashSink) Abort(ctx context.Context) error {
	h.remember()
	return h.next.Abort(ctx)
}

func (h *hashSink) Location() string {
	if l, ok := h.next.(oftp.Locator); ok {
		return l.Location()
	}
	return ""
}
