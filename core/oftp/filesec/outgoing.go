package filesec

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// DefaultSuite is used when a service needs a cipher suite and none is configured:
// 02, AES-256-CBC with SHA-1, mandatory in RFC 5024 §10.2.
const DefaultSuite = cms.SuiteAES256SHA1

// copyBuf is how much plaintext is read from a source at a time.
const copyBuf = 256 << 10

// TransformOutgoing implements oftp.OutgoingTransform.
//
// The protection comes from the file when any of SecurityLevel, CipherSuite,
// Compressed or SignedReceipt is set, else from the partner's Outgoing setting. A file
// with Enveloped already set is taken as protected by the caller and passed on, and so
// are certificate exchange files. Set Format explicitly for V files: record prefixes
// are added only when it is FormatVariable.
func (s *Security) TransformOutgoing(ctx context.Context, f *oftp.OutgoingFile) (*oftp.OutgoingFile, error) {
	if f.Enveloped || IsCertificateExchange(f.DatasetName) {
		return f, nil
	}
	prot := Protection{Level: Level(f.SecurityLevel), Suite: cms.Suite(f.CipherSuite), Compress: f.Compressed, SignedReceipt: f.SignedReceipt}
	p, perr := s.partner(f.Destination)
	if !prot.any() && f.CipherSuite == 0 {
		if perr != nil {
			return f, nil
		}
		prot = p.cfg.Outgoing
	}
	if !prot.any() {
		return f, nil
	}
	if perr != nil {
		return nil, perr
	}
	if prot.Level < LevelNone || prot.Level > LevelBoth {
		return nil, fmt.Errorf("filesec: security level %d", int(prot.Level))
	}
	if prot.Suite == cms.SuiteNone {
		prot.Suite = DefaultSuite
	}
	if !prot.Suite.Valid() {
		return nil, &cms.UnsupportedSuiteError{Code: prot.Suite.Code()}
	}
	g := *f
	if g.Stamp.Date == "" {
		t := g.Date
		if t.IsZero() {
			t = s.now()
		}
		c := g.Counter
		if c == 0 {
			c = int(atomic.AddUint32(&s.counter, 1)%9999) + 1
		}
		g.Stamp = oftp.NewStamp(t, c)
	}
	g.CipherSuite = int(prot.Suite)
	if prot.Level == LevelNone && !prot.SignedReceipt {
		// Compression alone is no security service: SFIDCIPH stays 00 (§5.3.3).
		g.CipherSuite = 0
	}
	g.SignedReceipt = prot.SignedReceipt
	g.SecurityLevel = int(prot.Level)
	g.Compressed = prot.Compress
	// The session fills Originator and Destination before it calls the transform.
	key := keyOf(g.DatasetName, g.Stamp.Date, g.Stamp.Time, g.Originator, g.Destination)
	rec := &fileRecord{suite: prot.Suite, signedReceipt: prot.SignedReceipt, partner: p}

	if prot.Level == LevelNone && !prot.Compress {
		// Only a signed receipt: the file travels as is; hash what is transmitted.
		g.Source = &hashedSource{s: s, inner: f.Source, format: g.Format, key: key, rec: rec}
		return &g, nil
	}

	cp := cms.Protection{Suite: prot.Suite, Compress: prot.Compress, CompressionLevel: s.cfg.CompressionLevel,
		Rand: s.cfg.Rand, Clock: s.cfg.Clock, ChunkSize: s.cfg.ChunkSize}
	if prot.Level.Signed() {
		kp, err := s.own(certs.PurposeFileSigning)
		if err != nil {
			return nil, err
		}
		cp.Sign, cp.Signer, cp.SignerCertificate = true, kp.Key, kp.Leaf
	}
	if prot.Level.Encrypted() {
		list, err := s.usable(ctx, p, certs.PurposeFileEncryption)
		if err != nil {
			return nil, err
		}
		cp.Encrypt, cp.Recipient = true, list[0]
	}
	vlrecl := 0
	var lines int64
	if g.Format == oftp.FormatVariable {
		vlrecl = g.MaxRecordSize
		if vlrecl <= 0 || vlrecl > cms.MaxVRecord {
			return nil, fmt.Errorf("%w: a secured V file needs MaxRecordSize 1..%d, got %d", ErrVRecord, cms.MaxVRecord, vlrecl)
		}
		n, err := countLines(ctx, f.Source)
		if err != nil {
			return nil, err
		}
		lines = n
	}
	g.Enveloped = true
	if f.Size > 0 {
		g.OriginalSize = f.Size
	}
	ps := &protectedSource{s: s, inner: f.Source, prot: cp, vlrecl: vlrecl, key: key, rec: rec}
	if s.cfg.SpoolDir != "" {
		if err := s.spool(ctx, &g, ps, f.RestartPosition); err != nil {
			return nil, err
		}
		return &g, nil
	}
	g.RestartPosition = 0
	g.Size = estimateSize(f.Size, lines)
	g.Source = ps
	return &g, nil
}

// estimateSize is an upper bound of the transmitted size: data, V prefixes, chunk
// headers of up to three layers, zlib's worst case expansion, padding and the CMS
// headers with signer and recipient infos for keys up to 8192 bits.
func estimateSize(n, lines int64) int64 {
	n = max(n, 0)
	return n + 2*lines + n/64 + 16<<10
}

func countLines(ctx context.Context, src oftp.Source) (int64, error) {
	rc, err := src.Open(ctx, 0)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	buf := make([]byte, copyBuf)
	var n int64
	for {
		k, err := rc.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n + 1, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// protectedSource produces the CMS form of a file while the session reads it.
type protectedSource struct {
	s      *Security
	inner  oftp.Source
	prot   cms.Protection
	vlrecl int
	key    fileKey
	rec    *fileRecord
}

// Open implements oftp.Source; only offset 0 is possible (see package doc).
func (ps *protectedSource) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	if offset != 0 {
		return nil, ErrRestart
	}
	src, err := ps.inner.Open(ctx, 0)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	var hasher *cms.FileHasher
	if ps.rec.signedReceipt {
		if hasher, err = cms.NewFileHasher(ps.rec.suite, ps.rec.partner.cfg.SHA1Receipts); err != nil {
			src.Close()
			return nil, err
		}
	}
	go func() {
		defer close(done)
		var out io.Writer = pw
		if hasher != nil {
			out = io.MultiWriter(pw, hasher)
		}
		err := ps.produce(ctx, src, out)
		if err == nil && hasher != nil {
			ps.rec.hash, ps.rec.sha1 = hasher.Sum(), hasher.SumSHA1()
			ps.s.sent.put(ps.key, ps.rec)
		}
		pw.CloseWithError(err)
	}()
	return &pipeSource{pr: pr, src: src, done: done}, nil
}

// produce writes the protected form of src to out. The CMS layers run concurrently;
// out is written from another goroutine than the caller's.
func (ps *protectedSource) produce(ctx context.Context, src io.Reader, out io.Writer) (err error) {
	bw := bufio.NewWriterSize(out, 64<<10)
	fw, err := cms.NewFileWriterContext(ctx, bw, ps.prot)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			fw.Abort(err) // does nothing once Close has run
		}
	}()
	var w io.Writer = fw
	var venc *lineRecords
	if ps.vlrecl > 0 {
		if venc, err = newVEncoder(fw, ps.vlrecl); err != nil {
			return err
		}
		w = venc
	}
	buf := make([]byte, copyBuf)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("filesec: reading source: %w", rerr)
		}
	}
	if venc != nil {
		if err := venc.Close(); err != nil {
			return err
		}
	}
	if err := fw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// pipeSource is the session's end of the pipe; Close stops the producer.
type pipeSource struct {
	pr   *io.PipeReader
	src  io.Closer
	done chan struct{}
}

func (p *pipeSource) Read(b []byte) (int, error) { return p.pr.Read(b) }

func (p *pipeSource) Close() error {
	p.pr.CloseWithError(errors.New("filesec: transfer ended"))
	<-p.done
	return p.src.Close()
}

// hashedSource passes an unprotected file through and hashes the octets the session
// transmits: the data of every record, without the local line ends of V files.
type hashedSource struct {
	s      *Security
	inner  oftp.Source
	format oftp.Format
	key    fileKey
	rec    *fileRecord
}

func (h *hashedSource) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	if offset != 0 {
		// The hash must cover the whole file; a resumed transfer would lack the start.
		return nil, ErrRestart
	}
	rc, err := h.inner.Open(ctx, 0)
	if err != nil {
		return nil, err
	}
	fh, err := cms.NewFileHasher(h.rec.suite, h.rec.partner.cfg.SHA1Receipts)
	if err != nil {
		rc.Close()
		return nil, err
	}
	var w io.Writer = fh
	var lines *lineRecords
	if h.format == oftp.FormatVariable {
		lines = &lineRecords{dst: recordData{fh}}
		w = lines
	}
	return &hashingReader{rc: rc, w: w, done: func() {
		if lines != nil {
			_ = lines.Close() // the hasher does not fail
		}
		h.rec.hash, h.rec.sha1 = fh.Sum(), fh.SumSHA1()
		h.s.sent.put(h.key, h.rec)
	}}, nil
}

type hashingReader struct {
	rc   io.ReadCloser
	w    io.Writer
	done func()
	fin  bool
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.w.Write(p[:n])
	if err == io.EOF && !r.fin {
		r.fin = true
		r.done()
	}
	return n, err
}

func (r *hashingReader) Close() error { return r.rc.Close() }
