package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type writeCounter struct {
	bytes.Buffer
	calls int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.calls++
	return w.Buffer.Write(p)
}

func TestWriterOneWritePerBuffer(t *testing.T) {
	var w writeCounter
	sw := NewWriter(&w)
	bufs := [][]byte{[]byte("R"), []byte("P"), bytes.Repeat([]byte("D"), MaxBufferSize), []byte("F00000\r")}
	for _, b := range bufs {
		if err := sw.WriteBuffer(b); err != nil {
			t.Fatal(err)
		}
	}
	if w.calls != len(bufs) {
		t.Errorf("%d Write calls for %d buffers", w.calls, len(bufs))
	}
	want := "1000000552" + "1000000550"
	if got := bytesHex(w.Bytes()[:10]); got != want {
		t.Errorf("got %s want %s", got, want)
	}
	// 99,999-octet buffer: STH 10 01 86 a3 (PROTOCOL.md §12.12).
	if got := bytesHex(w.Bytes()[10:14]); got != "100186a3" {
		t.Errorf("STH of the largest buffer %s", got)
	}
	for _, bad := range [][]byte{nil, {}, make([]byte, MaxBufferSize+1)} {
		if err := sw.WriteBuffer(bad); !errors.Is(err, ErrLength) {
			t.Errorf("WriteBuffer(%d octets) = %v", len(bad), err)
		}
	}
}

func bytesHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestReaderSplitStream(t *testing.T) {
	var stream bytes.Buffer
	w := NewWriter(&stream)
	var want [][]byte
	for i := 1; i <= 300; i += 7 {
		b := bytes.Repeat([]byte{byte(i)}, i*13)
		b[0] = 'D'
		want = append(want, b)
		if err := w.WriteBuffer(b); err != nil {
			t.Fatal(err)
		}
	}
	// One octet per Read: TCP may cut anywhere.
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream.Bytes())))
	for i, w := range want {
		got, err := r.ReadBuffer()
		if err != nil {
			t.Fatalf("buffer %d: %v", i, err)
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("buffer %d differs", i)
		}
	}
	if _, err := r.ReadBuffer(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

// TestReaderWriterTCP sends buffers over a real loopback TCP connection.
func TestReaderWriterTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	frames := [][]byte{[]byte("IODETTE FTP READY \r"), bytes.Repeat([]byte{'D', 0x3f}, 2048), []byte("R")}
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		w := NewWriter(c)
		for i := 0; i < 50; i++ {
			for _, f := range frames {
				if err := w.WriteBuffer(f); err != nil {
					errc <- err
					return
				}
			}
		}
		errc <- nil
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := NewReader(c)
	for i := 0; i < 50; i++ {
		for _, f := range frames {
			got, err := r.ReadBuffer()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, f) {
				t.Fatalf("round %d: got %d octets, want %d", i, len(got), len(f))
			}
		}
	}
	if _, err := r.ReadBuffer(); err != io.EOF {
		t.Errorf("after the peer closed: %v, want io.EOF", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestReaderLimits(t *testing.T) {
	read := func(stream []byte, max int) ([]byte, *countingReader, *Reader, error) {
		cr := &countingReader{r: bytes.NewReader(stream)}
		r := NewReader(cr)
		if max > 0 {
			r.SetMaxBuffer(max)
		}
		b, err := r.ReadBuffer()
		return b, cr, r, err
	}
	reason := func(err error) int {
		var de *DecodeError
		if errors.As(err, &de) {
			return de.Reason
		}
		return -1
	}
	body := make([]byte, 200)
	stream := append(AppendSTH(nil, len(body)), body...)

	// Above the negotiated size: refused after the header, nothing read or allocated.
	_, cr, r, err := read(stream, 128)
	if reason(err) != ReasonLength || cr.n != STHLength || cap(r.buf) != 0 {
		t.Errorf("over the limit: %v, read %d, buffer cap %d", err, cr.n, cap(r.buf))
	}
	// Exactly the negotiated size is fine.
	if b, _, _, err := read(stream, 200); err != nil || len(b) != 200 {
		t.Errorf("at the limit: %d, %v", len(b), err)
	}
	// Before negotiation the limit is 99,999: 100,000 is refused without reading it.
	huge := []byte{0x10, 0x01, 0x86, 0xa4}
	if _, cr, _, err := read(append(huge, 'D'), 0); reason(err) != ReasonLength || cr.n != 4 {
		t.Errorf("100,000-octet buffer: %v (read %d)", err, cr.n)
	}
	// The largest 24-bit length.
	if _, _, _, err := read([]byte{0x10, 0xff, 0xff, 0xff}, 0); reason(err) != ReasonLength {
		t.Errorf("16 MiB header: %v", err)
	}
	// Lengths that leave no exchange buffer.
	for _, h := range [][]byte{{0x10, 0, 0, 4}, {0x10, 0, 0, 0}, {0x10, 0, 0, 3}} {
		if _, _, _, err := read(append(h, 'R'), 0); reason(err) != ReasonLength {
			t.Errorf("header %x: %v", h, err)
		}
	}
	// Wrong version nibble: not an OFTP stream. (A TLS record, 0x16 0x03 ..., has
	// version nibble 1 and is refused by its length instead.)
	if _, _, _, err := read([]byte{0x20, 0x00, 0x00, 0x05, 'R'}, 0); reason(err) != ReasonUnspecified {
		t.Errorf("version 1? %v", err)
	}
	// Flag bits are tolerated.
	if b, _, _, err := read([]byte{0x1f, 0, 0, 5, 'R'}, 0); err != nil || string(b) != "R" {
		t.Errorf("flags: %q, %v", b, err)
	}
	// Truncated streams.
	if _, _, _, err := read(nil, 0); err != io.EOF {
		t.Errorf("empty stream: %v", err)
	}
	if _, _, _, err := read([]byte{0x10, 0}, 0); err != io.ErrUnexpectedEOF {
		t.Errorf("cut header: %v", err)
	}
	if _, _, _, err := read(stream[:50], 0); err != io.ErrUnexpectedEOF {
		t.Errorf("cut body: %v", err)
	}
	// SetMaxBuffer clamps.
	r = NewReader(nil)
	r.SetMaxBuffer(0)
	if r.max != 1 {
		t.Errorf("max %d", r.max)
	}
	r.SetMaxBuffer(1 << 30)
	if r.max != MaxBufferSize {
		t.Errorf("max %d", r.max)
	}
}

// cycleReader serves the same bytes forever.
type cycleReader struct {
	data []byte
	off  int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

func TestReaderWriterNoAllocs(t *testing.T) {
	var stream []byte
	for _, n := range []int{1, 4096, 19, 300} {
		stream = AppendSTH(stream, n)
		stream = append(stream, bytes.Repeat([]byte{'D'}, n)...)
	}
	r := NewReader(&cycleReader{data: stream})
	for i := 0; i < 8; i++ { // warm up: the buffer reaches its size
		if _, err := r.ReadBuffer(); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(200, func() {
		if _, err := r.ReadBuffer(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadBuffer: %v allocations per call", n)
	}
	w := NewWriter(io.Discard)
	oeb := bytes.Repeat([]byte{'D'}, 4096)
	_ = w.WriteBuffer(oeb)
	if n := testing.AllocsPerRun(200, func() {
		if err := w.WriteBuffer(oeb); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteBuffer: %v allocations per call", n)
	}
}
