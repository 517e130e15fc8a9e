package cms

import (
	"crypto/cipher"
	"errors"
	"io"
)

// cbcWriter encrypts a stream in CBC mode with PKCS #7 padding, holding back less than
// one buffer of plaintext.
type cbcWriter struct {
	dst  io.Writer
	mode cipher.BlockMode
	buf  []byte
	n    int
	err  error
}

func newCBCWriter(dst io.Writer, mode cipher.BlockMode, bufSize int) *cbcWriter {
	bs := mode.BlockSize()
	if bufSize < bs {
		bufSize = 32 << 10
	}
	bufSize -= bufSize % bs
	return &cbcWriter{dst: dst, mode: mode, buf: make([]byte, bufSize)}
}

func (w *cbcWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	total := 0
	for len(p) > 0 {
		k := copy(w.buf[w.n:], p)
		w.n += k
		total += k
		p = p[k:]
		if w.n == len(w.buf) {
			w.mode.CryptBlocks(w.buf, w.buf)
			if _, err := w.dst.Write(w.buf); err != nil {
				w.err = err
				return total, err
			}
			w.n = 0
		}
	}
	return total, nil
}

// Close pads and encrypts the final block; it does not close dst.
func (w *cbcWriter) Close() error {
	if w.err != nil {
		return w.err
	}
	bs := w.mode.BlockSize()
	pad := bs - w.n%bs
	if w.n+pad > len(w.buf) {
		// Only possible when the buffer is exactly full, which Write never leaves.
		return errors.New("cms: cbc buffer overflow")
	}
	for i := 0; i < pad; i++ {
		w.buf[w.n+i] = byte(pad)
	}
	w.n += pad
	w.mode.CryptBlocks(w.buf[:w.n], w.buf[:w.n])
	_, err := w.dst.Write(w.buf[:w.n])
	w.n = 0
	w.err = errors.New("cms: write after close")
	return err
}

// cbcReader decrypts a CBC stream, holding back the last block until the ciphertext
// ends so that the padding can be checked and removed.
type cbcReader struct {
	src  io.Reader
	mode cipher.BlockMode
	buf  []byte
	n    int // octets in buf
	pos  int // next plaintext octet to hand out
	end  int // end of decrypted plaintext in buf
	eof  bool
	err  error
}

func newCBCReader(src io.Reader, mode cipher.BlockMode, bufSize int) *cbcReader {
	bs := mode.BlockSize()
	if bufSize < 2*bs {
		bufSize = 32 << 10
	}
	bufSize -= bufSize % bs
	return &cbcReader{src: src, mode: mode, buf: make([]byte, bufSize)}
}

func (r *cbcReader) Read(p []byte) (int, error) {
	for r.pos == r.end {
		if r.err != nil {
			return 0, r.err
		}
		if r.eof {
			r.err = io.EOF
			return 0, io.EOF
		}
		r.fill()
	}
	k := copy(p, r.buf[r.pos:r.end])
	r.pos += k
	return k, nil
}

func (r *cbcReader) fill() {
	bs := r.mode.BlockSize()
	// Keep the undecrypted tail, then top up the buffer.
	copy(r.buf, r.buf[r.end:r.n])
	r.n -= r.end
	r.pos, r.end = 0, 0
	for r.n < len(r.buf) {
		m, err := r.src.Read(r.buf[r.n:])
		r.n += m
		if err == io.EOF {
			r.eof = true
			break
		}
		if err != nil {
			r.err = err
			return
		}
		if m == 0 {
			continue
		}
		if r.n >= 2*bs {
			break
		}
	}
	if r.eof {
		if r.n == 0 || r.n%bs != 0 {
			r.err = ErrBadPadding
			return
		}
		r.mode.CryptBlocks(r.buf[:r.n], r.buf[:r.n])
		pad := int(r.buf[r.n-1])
		if pad == 0 || pad > bs {
			r.err = ErrBadPadding
			return
		}
		for _, b := range r.buf[r.n-pad : r.n] {
			if int(b) != pad {
				r.err = ErrBadPadding
				return
			}
		}
		r.end = r.n - pad
		r.n = r.end
		return
	}
	// Decrypt all whole blocks but the last, which may carry the padding.
	k := (r.n/bs - 1) * bs
	if k <= 0 {
		return
	}
	r.mode.CryptBlocks(r.buf[:k], r.buf[:k])
	r.end = k
}
