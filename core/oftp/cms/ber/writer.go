package ber

import (
	"bytes"
	"errors"
	"io"
)

// EOC is the end-of-contents marker that closes an indefinite-length element.
var EOC = []byte{0, 0}

// AppendHeader appends identifier and length octets; a negative length selects the
// indefinite form.
func AppendHeader(dst []byte, class Class, tag uint32, constructed bool, length int64) []byte {
	id := byte(class) << 6
	if constructed {
		id |= 0x20
	}
	if tag < 0x1f {
		dst = append(dst, id|byte(tag))
	} else {
		dst = append(dst, id|0x1f)
		var tmp [5]byte
		i := len(tmp)
		for t := tag; ; t >>= 7 {
			i--
			tmp[i] = byte(t&0x7f) | 0x80
			if t < 0x80 {
				break
			}
		}
		tmp[len(tmp)-1] &^= 0x80
		dst = append(dst, tmp[i:]...)
	}
	switch {
	case length < 0:
		return append(dst, 0x80)
	case length < 0x80:
		return append(dst, byte(length))
	}
	n := 0
	for l := length; l > 0; l >>= 8 {
		n++
	}
	dst = append(dst, 0x80|byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(length>>(8*i)))
	}
	return dst
}

// DER encodes one element with a definite length around the concatenated content.
func DER(class Class, tag uint32, constructed bool, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	out := AppendHeader(make([]byte, 0, n+8), class, tag, constructed, int64(n))
	for _, c := range content {
		out = append(out, c...)
	}
	return out
}

// Sequence encodes a universal SEQUENCE of already encoded elements.
func Sequence(elems ...[]byte) []byte { return DER(ClassUniversal, TagSequence, true, elems...) }

// SetOf encodes a universal SET OF with its elements in DER order (sorted by encoding).
func SetOf(elems ...[]byte) []byte {
	sorted := append([][]byte(nil), elems...)
	sortBytes(sorted)
	return DER(ClassUniversal, TagSet, true, sorted...)
}

func sortBytes(s [][]byte) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && bytes.Compare(s[j-1], s[j]) > 0; j-- {
			s[j-1], s[j] = s[j], s[j-1]
		}
	}
}

// OctetString encodes a primitive universal OCTET STRING.
func OctetString(b []byte) []byte { return DER(ClassUniversal, TagOctetString, false, b) }

// Explicit wraps encoded elements in a constructed context-specific tag.
func Explicit(tag uint32, elems ...[]byte) []byte { return DER(ClassContext, tag, true, elems...) }

// StringWriter writes one constructed, indefinite-length string element whose content
// is streamed as primitive OCTET STRING chunks of at most ChunkSize octets, as OpenSSL's
// streaming mode and deployed OFTP peers produce. Close writes the end-of-contents.
type StringWriter struct {
	dst    io.Writer
	buf    []byte
	n      int
	hdr    []byte
	opened bool
	closed bool
	err    error
}

// NewStringWriter returns a StringWriter for an element with the given class and tag
// (for example universal OCTET STRING, or [0] IMPLICIT OCTET STRING) and chunk size.
func NewStringWriter(dst io.Writer, class Class, tag uint32, chunkSize int) *StringWriter {
	if chunkSize <= 0 {
		chunkSize = 16 << 10
	}
	return &StringWriter{
		dst: dst,
		buf: make([]byte, chunkSize+8),
		hdr: AppendHeader(nil, class, tag, true, -1),
	}
}

func (w *StringWriter) open() error {
	if !w.opened {
		w.opened = true
		_, err := w.dst.Write(w.hdr)
		return err
	}
	return nil
}

// chunk payloads start after room for the longest chunk header we emit.
const chunkHdr = 8

func (w *StringWriter) flush() error {
	if w.n == 0 {
		return nil
	}
	var hb [chunkHdr]byte
	h := AppendHeader(hb[:0], ClassUniversal, TagOctetString, false, int64(w.n))
	start := chunkHdr - len(h)
	copy(w.buf[start:], h)
	_, err := w.dst.Write(w.buf[start : chunkHdr+w.n])
	w.n = 0
	return err
}

// Write buffers p and emits full chunks.
func (w *StringWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("ber: write after close")
	}
	if err := w.open(); err != nil {
		w.err = err
		return 0, err
	}
	size := len(w.buf) - chunkHdr
	total := 0
	for len(p) > 0 {
		k := copy(w.buf[chunkHdr+w.n:], p)
		w.n += k
		p = p[k:]
		total += k
		if w.n == size {
			if err := w.flush(); err != nil {
				w.err = err
				return total, err
			}
		}
	}
	return total, nil
}

// Close flushes the last chunk and writes the end-of-contents octets.
func (w *StringWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.open(); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	_, err := w.dst.Write(EOC)
	return err
}

// ToDER re-encodes one BER element held in memory as DER lengths: indefinite lengths
// become definite and constructed strings become primitive. SET OF order is kept as
// received. It refuses input longer than max octets.
func ToDER(b []byte, max int) ([]byte, error) {
	if len(b) > max {
		return nil, ErrTooLarge
	}
	r := NewReader(bytes.NewReader(b), len(b)+16)
	h, err := r.Next()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	out, err := toDER(r, h, max)
	if err != nil {
		return nil, err
	}
	if err := r.ExpectEOF(); err != nil {
		return nil, err
	}
	return out, nil
}

func isStringTag(h Header) bool {
	if h.Class != ClassUniversal {
		return false
	}
	switch h.Tag {
	case TagOctetString, TagUTF8String, TagPrintableString, TagUTCTime, TagGeneralizedTime, 22, 26, 30:
		return true
	}
	return false
}

func toDER(r *Reader, h Header, max int) ([]byte, error) {
	if !h.Constructed || isStringTag(h) {
		content, err := r.Bytes(max)
		if err != nil {
			return nil, err
		}
		return DER(h.Class, h.Tag, false, content), nil
	}
	if err := r.Enter(); err != nil {
		return nil, err
	}
	var parts [][]byte
	for {
		ch, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		p, err := toDER(r, ch, max)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	return DER(h.Class, h.Tag, true, parts...), nil
}
