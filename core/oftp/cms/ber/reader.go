// Package ber reads and writes ASN.1 BER encodings as streams.
//
// OFTP peers send CMS files of any size in BER with indefinite lengths and chunked
// (constructed) OCTET STRINGs, which encoding/asn1 rejects and which cannot be held in
// memory. Reader is a pull tokenizer over an io.Reader: it hands out element headers one
// at a time, streams primitive content, and never allocates on the strength of a
// declared length beyond the limit its caller passes.
package ber

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Class is the ASN.1 tag class.
type Class uint8

// Tag classes as encoded in the top two bits of the identifier octet.
const (
	ClassUniversal   Class = 0
	ClassApplication Class = 1
	ClassContext     Class = 2
	ClassPrivate     Class = 3
)

// Universal tag numbers used by CMS.
const (
	TagBoolean         = 1
	TagInteger         = 2
	TagBitString       = 3
	TagOctetString     = 4
	TagNull            = 5
	TagOID             = 6
	TagUTF8String      = 12
	TagSequence        = 16
	TagSet             = 17
	TagPrintableString = 19
	TagUTCTime         = 23
	TagGeneralizedTime = 24
)

// Header describes one element as read from the stream.
type Header struct {
	Class       Class
	Tag         uint32
	Constructed bool
	// Length is the declared content length, or -1 for the indefinite form.
	Length int64
	// Offset is the stream offset of the element's first identifier octet.
	Offset int64
}

// Indefinite reports whether the element uses the indefinite length form.
func (h Header) Indefinite() bool { return h.Length < 0 }

// Is reports whether the header has the given class, tag and form.
func (h Header) Is(class Class, tag uint32, constructed bool) bool {
	return h.Class == class && h.Tag == tag && h.Constructed == constructed
}

func (h Header) String() string {
	cls := [...]string{"UNIVERSAL", "APPLICATION", "CONTEXT", "PRIVATE"}[h.Class&3]
	form := "primitive"
	if h.Constructed {
		form = "constructed"
	}
	l := fmt.Sprint(h.Length)
	if h.Length < 0 {
		l = "indefinite"
	}
	return fmt.Sprintf("[%s %d] %s len=%s @%d", cls, h.Tag, form, l, h.Offset)
}

// ErrTooLarge is returned when an element exceeds the caller's size limit.
var ErrTooLarge = errors.New("ber: element larger than allowed")

// SyntaxError reports an encoding error at a stream offset.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("ber: %s at offset %d", e.Msg, e.Offset) }

// MaxDepth bounds nesting so that hostile input cannot exhaust the stack.
const MaxDepth = 64

// maxLength bounds a declared definite length; real files stay far below 2^56.
const maxLength = 1 << 56

type frame struct {
	indefinite bool
	// end is one past the last content octet of the nearest definite-length element
	// at or above this level, or -1 when no such limit exists.
	end int64
}

type state uint8

const (
	stNone      state = iota // no current element: the next call reads a header
	stPrimitive              // current primitive element, content partly unread
	stOpen                   // current constructed element, not entered
)

// Reader tokenizes a BER stream. The zero value is not usable; see NewReader.
type Reader struct {
	br    *bufio.Reader
	off   int64
	stack []frame
	err   error // sticky error

	st     state
	cur    Header
	remain int64 // unread content octets of the current primitive element

	hdr  [16]byte // identifier and length octets of cur, for Raw
	hdrN int

	capture    []byte
	capturing  bool
	captureMax int
}

// NewReader returns a Reader over r, buffering with a buffer of bufSize octets
// (a default is used when bufSize is not positive).
func NewReader(r io.Reader, bufSize int) *Reader {
	if bufSize <= 0 {
		bufSize = 32 << 10
	}
	return &Reader{br: bufio.NewReaderSize(r, bufSize)}
}

// Offset returns the number of octets consumed so far.
func (r *Reader) Offset() int64 { return r.off }

// Depth returns how many constructed elements have been entered and not left.
func (r *Reader) Depth() int { return len(r.stack) }

func (r *Reader) syntax(format string, args ...any) error {
	err := &SyntaxError{Offset: r.off, Msg: fmt.Sprintf(format, args...)}
	r.err = err
	return err
}

// fail records err as sticky, turning a bare EOF into ErrUnexpectedEOF.
func (r *Reader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if r.err == nil {
		r.err = err
	}
	return err
}

func (r *Reader) readByte() (byte, error) {
	b, err := r.br.ReadByte()
	if err != nil {
		return 0, err
	}
	r.off++
	if r.capturing {
		if err := r.captureAppend([]byte{b}); err != nil {
			return 0, err
		}
	}
	return b, nil
}

func (r *Reader) captureAppend(p []byte) error {
	if len(r.capture)+len(p) > r.captureMax {
		return ErrTooLarge
	}
	r.capture = append(r.capture, p...)
	return nil
}

// readContent reads up to len(p) octets of element content from the buffered stream.
func (r *Reader) readContent(p []byte) (int, error) {
	n, err := r.br.Read(p)
	r.off += int64(n)
	if r.capturing && n > 0 {
		if cerr := r.captureAppend(p[:n]); cerr != nil {
			return n, cerr
		}
	}
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// discard skips n content octets.
func (r *Reader) discard(n int64) error {
	if r.capturing {
		var buf [4096]byte
		for n > 0 {
			k := int64(len(buf))
			if k > n {
				k = n
			}
			m, err := r.readContent(buf[:k])
			n -= int64(m)
			if err != nil {
				return err
			}
		}
		return nil
	}
	for n > 0 {
		k := n
		if k > 1<<30 {
			k = 1 << 30
		}
		m, err := r.br.Discard(int(k))
		r.off += int64(m)
		n -= int64(m)
		if err != nil {
			return err
		}
	}
	return nil
}

// Next returns the header of the next element in the current container. Whatever is
// left of the previous element is skipped first. At the end of the current container
// Next returns io.EOF and leaves that container, so the caller is back at its parent's
// level. At the top level io.EOF means the stream ended cleanly between elements.
func (r *Reader) Next() (Header, error) {
	if r.err != nil {
		return Header{}, r.err
	}
	if err := r.skipCurrent(); err != nil {
		return Header{}, r.fail(err)
	}
	if n := len(r.stack); n > 0 {
		top := r.stack[n-1]
		if top.end >= 0 && r.off >= top.end {
			if top.indefinite {
				return Header{}, r.syntax("indefinite-length element overruns its container")
			}
			r.stack = r.stack[:n-1]
			return Header{}, io.EOF
		}
	} else if _, err := r.br.Peek(1); err == io.EOF {
		return Header{}, io.EOF
	}
	h, err := r.readHeader()
	if err != nil {
		return Header{}, r.fail(err)
	}
	if h.Class == ClassUniversal && h.Tag == 0 {
		// End-of-contents octets.
		if h.Constructed || h.Length != 0 {
			return Header{}, r.syntax("malformed end-of-contents")
		}
		n := len(r.stack)
		if n == 0 || !r.stack[n-1].indefinite {
			return Header{}, r.syntax("end-of-contents outside an indefinite-length element")
		}
		r.stack = r.stack[:n-1]
		return Header{}, io.EOF
	}
	if n := len(r.stack); n > 0 && r.stack[n-1].end >= 0 {
		// An indefinite element inside a definite one is legal BER; its children are
		// held to the same limit as Next goes.
		limit := r.stack[n-1].end
		if r.off > limit || (h.Length > 0 && h.Length > limit-r.off) {
			return Header{}, r.syntax("element overruns its container")
		}
	}
	r.cur = h
	if h.Constructed {
		r.st = stOpen
	} else {
		r.st = stPrimitive
		r.remain = h.Length
	}
	return h, nil
}

func (r *Reader) readHeader() (Header, error) {
	h := Header{Offset: r.off}
	r.hdrN = 0
	push := func(b byte) {
		if r.hdrN < len(r.hdr) {
			r.hdr[r.hdrN] = b
			r.hdrN++
		}
	}
	b, err := r.readByte()
	if err != nil {
		return h, err
	}
	push(b)
	h.Class = Class(b >> 6)
	h.Constructed = b&0x20 != 0
	h.Tag = uint32(b & 0x1f)
	if h.Tag == 0x1f {
		// High tag number form: base-128 in at most 5 octets, the value at most 2^31-1,
		// the same bound as encoding/asn1.
		h.Tag = 0
		for i := 0; ; i++ {
			if i == 5 {
				return h, r.syntax("tag number too large")
			}
			b, err = r.readByte()
			if err != nil {
				return h, err
			}
			push(b)
			if i == 0 && b == 0x80 {
				return h, r.syntax("non-minimal tag number")
			}
			if h.Tag > 0x7fffffff>>7 {
				return h, r.syntax("tag number too large")
			}
			h.Tag = h.Tag<<7 | uint32(b&0x7f)
			if b&0x80 == 0 {
				break
			}
		}
		if h.Tag < 0x1f {
			return h, r.syntax("non-minimal tag number")
		}
	}
	b, err = r.readByte()
	if err != nil {
		return h, err
	}
	push(b)
	switch {
	case b < 0x80:
		h.Length = int64(b)
	case b == 0x80:
		if !h.Constructed {
			return h, r.syntax("indefinite length on a primitive element")
		}
		h.Length = -1
	case b == 0xff:
		return h, r.syntax("reserved length octet")
	default:
		n := int(b & 0x7f)
		if n > 8 {
			return h, r.syntax("length of %d octets", n)
		}
		var l uint64
		for i := 0; i < n; i++ {
			b, err = r.readByte()
			if err != nil {
				return h, err
			}
			push(b)
			l = l<<8 | uint64(b)
		}
		if l > maxLength {
			return h, r.syntax("length %d too large", l)
		}
		h.Length = int64(l)
	}
	return h, nil
}

// Enter descends into the constructed element Next just returned; the following calls
// to Next return its children.
func (r *Reader) Enter() error {
	if r.err != nil {
		return r.err
	}
	if r.st != stOpen {
		return r.syntax("enter on %s", r.cur)
	}
	if len(r.stack) >= MaxDepth {
		return r.syntax("nesting deeper than %d", MaxDepth)
	}
	f := frame{indefinite: r.cur.Length < 0, end: -1}
	if !f.indefinite {
		f.end = r.off + r.cur.Length
	} else if n := len(r.stack); n > 0 {
		f.end = r.stack[n-1].end
	}
	r.stack = append(r.stack, f)
	r.st = stNone
	return nil
}

// skipCurrent consumes whatever is left of the current element.
func (r *Reader) skipCurrent() error {
	switch r.st {
	case stPrimitive:
		n := r.remain
		r.remain = 0
		r.st = stNone
		return r.discard(n)
	case stOpen:
		if r.cur.Length >= 0 {
			r.st = stNone
			return r.discard(r.cur.Length)
		}
		base := len(r.stack)
		if err := r.Enter(); err != nil {
			return err
		}
		for len(r.stack) > base {
			if _, err := r.Next(); err != nil && err != io.EOF {
				return err
			}
		}
	}
	return nil
}

// Skip consumes the rest of the element Next just returned.
func (r *Reader) Skip() error {
	if r.err != nil {
		return r.err
	}
	if err := r.skipCurrent(); err != nil {
		return r.fail(err)
	}
	return nil
}

// Read reads content of the primitive element Next just returned, returning io.EOF at
// its end. Constructed strings are read with StringReader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.st != stPrimitive {
		return 0, io.EOF
	}
	if r.remain == 0 {
		r.st = stNone
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.readContent(p)
	r.remain -= int64(n)
	if err != nil {
		return n, r.fail(err)
	}
	return n, nil
}

// Bytes returns the content of the element Next just returned, which may be primitive
// or a constructed string, refusing more than max octets.
func (r *Reader) Bytes(max int) ([]byte, error) {
	if r.st == stPrimitive {
		if r.remain > int64(max) {
			return nil, r.fail(ErrTooLarge)
		}
		buf := make([]byte, r.remain)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, r.fail(err)
		}
		r.st = stNone
		return buf, nil
	}
	sr, err := r.StringReader()
	if err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, 512)
	for {
		n, err := sr.Read(buf)
		if len(out)+n > max {
			return nil, r.fail(ErrTooLarge)
		}
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// StringReader streams the content of the string element Next just returned: a
// primitive element's content, or the concatenated content of a constructed string's
// primitive chunks, nested to any depth. Chunks must be universal OCTET STRINGs.
func (r *Reader) StringReader() (io.Reader, error) {
	if r.err != nil {
		return nil, r.err
	}
	switch r.st {
	case stPrimitive:
		return &stringReader{r: r, base: -1}, nil
	case stOpen:
		base := len(r.stack)
		if err := r.Enter(); err != nil {
			return nil, err
		}
		return &stringReader{r: r, base: base}, nil
	}
	return nil, r.syntax("no string element to read")
}

type stringReader struct {
	r    *Reader
	base int // stack depth outside the constructed string; -1 for primitive
	done bool
}

func (s *stringReader) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	r := s.r
	if s.base < 0 {
		n, err := r.Read(p)
		if err == io.EOF {
			s.done = true
		}
		return n, err
	}
	for {
		if r.st == stPrimitive && r.remain > 0 {
			return r.Read(p)
		}
		if len(p) == 0 {
			return 0, nil
		}
		h, err := r.Next()
		if err == io.EOF {
			if len(r.stack) <= s.base {
				s.done = true
				return 0, io.EOF
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		if h.Class != ClassUniversal || h.Tag != TagOctetString {
			return 0, r.syntax("unexpected %s inside a constructed string", h)
		}
		if h.Constructed {
			if err := r.Enter(); err != nil {
				return 0, err
			}
		}
	}
}

// Raw returns the complete encoding (identifier, length and content octets) of the
// element Next just returned and consumes it, refusing more than max octets.
func (r *Reader) Raw(max int) ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.st == stNone {
		return nil, r.syntax("no element to capture")
	}
	if r.cur.Length > int64(max) {
		return nil, r.fail(ErrTooLarge)
	}
	if r.capturing {
		return nil, r.syntax("nested capture")
	}
	r.capture = append(make([]byte, 0, min(max, 256)), r.hdr[:r.hdrN]...)
	r.capturing, r.captureMax = true, max
	err := r.skipCurrent()
	r.capturing = false
	out := r.capture
	r.capture = nil
	if err != nil {
		return nil, r.fail(err)
	}
	return out, nil
}

// Expect reads the next element and checks its class, tag and form.
func (r *Reader) Expect(class Class, tag uint32, constructed bool) (Header, error) {
	h, err := r.Next()
	if err == io.EOF {
		return h, r.fail(r.syntaxErr("missing element [%d %d]", class, tag))
	}
	if err != nil {
		return h, err
	}
	if !h.Is(class, tag, constructed) {
		return h, r.syntax("expected [%d %d constructed=%v], found %s", class, tag, constructed, h)
	}
	return h, nil
}

func (r *Reader) syntaxErr(format string, args ...any) error {
	return &SyntaxError{Offset: r.off, Msg: fmt.Sprintf(format, args...)}
}

// ExpectEnd checks that the current container has no further elements and leaves it.
func (r *Reader) ExpectEnd() error {
	h, err := r.Next()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return r.syntax("unexpected %s", h)
}

// ExpectEOF checks that the stream has no octets after the top-level element.
func (r *Reader) ExpectEOF() error {
	if len(r.stack) != 0 {
		return r.syntax("stream ended inside an element")
	}
	if r.err != nil {
		return r.err
	}
	if err := r.skipCurrent(); err != nil {
		return r.fail(err)
	}
	if _, err := r.br.Peek(1); err != io.EOF {
		if err != nil {
			return r.fail(err)
		}
		return r.syntax("trailing octets after the last element")
	}
	return nil
}
