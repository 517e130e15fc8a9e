package cms

import (
	"bufio"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// DefaultCompressionLevel is the zlib level used when none is configured. On EDIFACT
// traffic (BenchmarkCompressionLevel) level 5 output is 2% larger than zlib's default
// level 6 for two thirds of its CPU time; level 4 is faster still, for output 11%
// larger than level 6's. Partners behind slow or volume-priced links can set 6 or 9,
// fast links with busy senders 1 to 4.
const DefaultCompressionLevel = 5

// CompressOptions configure a CompressedData writer.
type CompressOptions struct {
	// Level is the zlib level, 1 (fastest) to 9 (smallest); DefaultCompressionLevel
	// when zero.
	Level int
	// ChunkSize is the size of the OCTET STRING chunks written; a default when zero.
	ChunkSize int
}

type compressedWriter struct {
	dst io.Writer
	zw  *zlib.Writer
	sw  *ber.StringWriter
	err error
}

// NewCompressedWriter starts a CompressedData (RFC 3274, ZLIB) on dst; what is written
// is compressed as a stream. Close finishes the structure; it does not close dst.
func NewCompressedWriter(dst io.Writer, opts CompressOptions) (io.WriteCloser, error) {
	level := opts.Level
	if level == 0 {
		level = DefaultCompressionLevel
	}
	head := contentInfoPrefix(oidCompressedData)
	head = append(head, mustMarshal(0)...) // version 0 (RFC 3274 §1.1)
	// id-alg-zlibCompress; RFC 3274 §2 gives no parameters, so none are sent.
	head = append(head, algorithm(oidZlib, nil)...)
	head = ber.AppendHeader(head, ber.ClassUniversal, ber.TagSequence, true, -1)
	head = append(head, mustMarshal(oidData)...)
	head = ber.AppendHeader(head, ber.ClassContext, 0, true, -1)
	chunk := opts.ChunkSize
	if chunk <= 0 {
		chunk = defaultChunk
	}
	sw := ber.NewStringWriter(dst, ber.ClassUniversal, ber.TagOctetString, chunk)
	zw, err := zlib.NewWriterLevel(sw, level)
	if err != nil {
		return nil, fmt.Errorf("cms: %w", err)
	}
	if _, err := dst.Write(head); err != nil {
		return nil, err
	}
	return &compressedWriter{dst: dst, zw: zw, sw: sw}, nil
}

func (w *compressedWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return w.zw.Write(p)
}

func (w *compressedWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	w.err = errors.New("cms: CompressedData already closed")
	if err := w.zw.Close(); err != nil {
		return err
	}
	if err := w.sw.Close(); err != nil {
		return err
	}
	// Ends of [0] eContent and encapContentInfo, then CompressedData, [0], ContentInfo.
	_, err := w.dst.Write(append([]byte{0, 0, 0, 0}, contentInfoSuffix...))
	return err
}

// CompressedReader decompresses a CompressedData stream.
type CompressedReader struct {
	r   *ber.Reader
	sr  io.Reader
	zr  io.ReadCloser
	err error
}

// NewCompressedReader reads the CompressedData header from src and returns a reader of
// the decompressed content. Failures are *Error with FailDecompression.
func NewCompressedReader(src io.Reader) (*CompressedReader, error) {
	cr, err := newCompressedReader(src)
	if err != nil {
		return nil, failf(FailDecompression, "open CompressedData", noEOF(err))
	}
	return cr, nil
}

func newCompressedReader(src io.Reader) (*CompressedReader, error) {
	r := ber.NewReader(src, defaultBuf)
	if err := openContentInfo(r, oidCompressedData); err != nil {
		return nil, err
	}
	if _, err := readSmallInt(r); err != nil {
		return nil, err
	}
	alg, err := readAlgorithm(r)
	if err != nil {
		return nil, err
	}
	if !alg.Algorithm.Equal(oidZlib) {
		return nil, fmt.Errorf("%w: compression %v", ErrUnsupportedAlgorithm, alg.Algorithm)
	}
	if _, err := r.Expect(ber.ClassUniversal, ber.TagSequence, true); err != nil {
		return nil, err
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	if _, err := readOID(r); err != nil {
		return nil, err
	}
	if _, err := r.Expect(ber.ClassContext, 0, true); err != nil {
		return nil, err
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	h, err := r.Next()
	if err != nil {
		return nil, noEOF(err)
	}
	if h.Class != ber.ClassUniversal || h.Tag != ber.TagOctetString {
		return nil, fmt.Errorf("eContent: unexpected %v", h)
	}
	sr, err := r.StringReader()
	if err != nil {
		return nil, err
	}
	// zlib reads a ByteReader without read-ahead of its own, so the octets after the
	// zlib stream stay in br, where finish can see them.
	br := bufio.NewReaderSize(sr, defaultBuf)
	zr, err := zlib.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	return &CompressedReader{r: r, sr: br, zr: zr}, nil
}

// Read returns decompressed content; io.EOF comes only after the zlib checksum and the
// rest of the structure have been checked.
func (c *CompressedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.zr.Read(p)
	if err != nil {
		c.err = endLayer(err, c.finish, FailDecompression, "read CompressedData")
		err = c.err
	}
	return n, err
}

func (c *CompressedReader) finish() error {
	// Nothing may follow the zlib stream inside the OCTET STRING.
	var one [1]byte
	if n, err := io.ReadFull(c.sr, one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.ErrUnexpectedEOF {
			err = errors.New("data after the end of the zlib stream")
		}
		return err
	}
	r := c.r
	if err := r.ExpectEnd(); err != nil { // [0] eContent
		return err
	}
	if err := r.ExpectEnd(); err != nil { // encapContentInfo
		return err
	}
	return closeContentInfo(r)
}
