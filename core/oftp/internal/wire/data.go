package wire

import (
	"fmt"
	"sync"
)

// Subrecord header bits (RFC 5024 §7.2; bit 0 is the most significant bit).
const (
	SubrecordEoR        = 0x80 // the subrecord ends the current record
	SubrecordCompressed = 0x40 // one octet follows, repeated count times
	SubrecordCountMask  = 0x3F // count 0..63
	maxSubrecord        = 63
)

// minRun is the shortest run of equal octets sent as a compressed subrecord. Two octets
// replace the run, but the literal data after it needs a new header, so shorter runs do
// not pay (digest §5.3). It matches the Accord captures b1/b2, where a 5-octet run is
// compressed and a 1-octet rest is not.
const minRun = 4

// DataEncoder cuts file content into DATA exchange buffers: records into subrecords of at
// most 63 octets, with the End-of-Record flag on the last subrecord of every record, and
// optionally with buffer compression (compressed subrecords for runs of equal octets).
// Buffers are filled to the negotiated size. The output depends only on the content and
// the record boundaries, not on how Write calls cut the content.
//
// With compression, the part of a run that reaches the end of a record is sent as a
// literal subrecord carrying the EoR flag, never as a compressed one. That is what the
// Accord captures show (b2: 70 dots ending a record go out as 0x7F 0x2E then 0x87 and
// seven dots), and it keeps our buffers byte-identical to theirs; it costs at most a few
// octets per record and keeps EoR on uncompressed subrecords, which every receiver
// handles.
type DataEncoder struct {
	size     int
	compress bool
	buf      []byte
	litHdr   int // header position of the open literal subrecord, -1 if none
	lastHdr  int // header position of the current record's last subrecord, -1 if none
	runByte  byte
	runLen   int // pending run (compression only), 0..63
	records  int64
	octets   int64
	fill     [maxSubrecord]byte
}

// NewDataEncoder returns an encoder for buffers of bufSize octets, the negotiated
// SSIDSDEB (which includes the 'D'). compress enables buffer compression, which may only
// be used when both SSIDs had SSIDCMPR 'Y'. bufSize is clamped to 3..MaxBufferSize (the
// 'D', a subrecord header and one octet; the RFC minimum is 128).
func NewDataEncoder(bufSize int, compress bool) *DataEncoder {
	bufSize = min(max(bufSize, 3), MaxBufferSize)
	e := &DataEncoder{size: bufSize, compress: compress, buf: make([]byte, 1, bufSize)}
	e.buf[0] = CodeDATA
	e.litHdr, e.lastHdr = -1, -1
	return e
}

// Records is the number of records ended so far (EFIDRCNT for F and V files).
func (e *DataEncoder) Records() int64 { return e.records }

// Octets is the number of file octets written so far (EFIDUCNT), before compression and
// without subrecord headers.
func (e *DataEncoder) Octets() int64 { return e.octets }

// Write appends p to the current record; endOfRecord marks p as the end of the record
// (an empty p then ends the record, and a record without any data becomes a lone 0x80
// subrecord). A buffer is passed to emit only when it is full and more data follows, so
// that the last buffer can still take the EoR flag; emit receives the complete exchange
// buffer ('D' + subrecords) and must not keep it after returning. If emit fails, the
// encoder must not be used further.
func (e *DataEncoder) Write(p []byte, endOfRecord bool, emit func(oeb []byte) error) error {
	e.octets += int64(len(p))
	if e.compress {
		if err := e.writeRuns(p, emit); err != nil {
			return err
		}
	} else if err := e.literal(p, emit); err != nil {
		return err
	}
	if !endOfRecord {
		return nil
	}
	if e.runLen > 0 {
		// The tail of a run at the end of the record goes out as a literal (see the type
		// comment).
		if err := e.literalRepeat(e.runByte, e.runLen, emit); err != nil {
			return err
		}
		e.runLen = 0
	}
	if e.lastHdr < 0 {
		if len(e.buf) >= e.size {
			if err := e.emit(emit); err != nil {
				return err
			}
		}
		e.buf = append(e.buf, SubrecordEoR)
	} else {
		e.buf[e.lastHdr] |= SubrecordEoR
	}
	e.litHdr, e.lastHdr = -1, -1
	e.records++
	return nil
}

// Flush emits the pending buffer, if it holds any subrecord, and starts afresh for the
// next file. A record left open (no endOfRecord) is sent without EoR.
func (e *DataEncoder) Flush(emit func(oeb []byte) error) error {
	if e.runLen > 0 {
		if err := e.flushRun(emit); err != nil {
			return err
		}
	}
	var err error
	if len(e.buf) > 1 {
		err = e.emit(emit)
	}
	e.Reset()
	return err
}

// Reset drops any pending data and counters, for a new file.
func (e *DataEncoder) Reset() {
	e.buf = e.buf[:1]
	e.litHdr, e.lastHdr = -1, -1
	e.runLen = 0
	e.records, e.octets = 0, 0
}

func (e *DataEncoder) emit(emit func([]byte) error) error {
	err := emit(e.buf)
	e.buf = e.buf[:1]
	e.litHdr, e.lastHdr = -1, -1
	return err
}

// literal appends p as uncompressed data of the current record.
func (e *DataEncoder) literal(p []byte, emit func([]byte) error) error {
	for len(p) > 0 {
		if e.litHdr >= 0 && len(e.buf) < e.size {
			have := int(e.buf[e.litHdr] & SubrecordCountMask)
			if have < maxSubrecord {
				k := min(maxSubrecord-have, e.size-len(e.buf), len(p))
				e.buf = append(e.buf, p[:k]...)
				e.buf[e.litHdr] += byte(k)
				p = p[k:]
				continue
			}
		}
		// A new subrecord needs its header and at least one octet.
		if e.size-len(e.buf) < 2 {
			if err := e.emit(emit); err != nil {
				return err
			}
		}
		// Whole subrecords while they fit, header and data in one step: the hot path of
		// every uncompressed transfer.
		n := len(e.buf)
		for len(p) >= maxSubrecord && e.size-n >= maxSubrecord+1 {
			b := e.buf[:n+maxSubrecord+1]
			b[n] = maxSubrecord
			copy(b[n+1:], p[:maxSubrecord])
			e.litHdr, e.lastHdr = n, n
			n += maxSubrecord + 1
			p = p[maxSubrecord:]
			e.buf = b
		}
		if len(p) == 0 {
			break
		}
		if e.size-len(e.buf) < 2 {
			if err := e.emit(emit); err != nil {
				return err
			}
		}
		e.litHdr = len(e.buf)
		e.lastHdr = e.litHdr
		e.buf = append(e.buf, 0)
	}
	return nil
}

func (e *DataEncoder) literalRepeat(c byte, n int, emit func([]byte) error) error {
	f := e.fill[:n]
	for i := range f {
		f[i] = c
	}
	return e.literal(f, emit)
}

// compressed appends a compressed subrecord for n (1..63) copies of c.
func (e *DataEncoder) compressed(c byte, n int, emit func([]byte) error) error {
	if e.size-len(e.buf) < 2 {
		if err := e.emit(emit); err != nil {
			return err
		}
	}
	e.lastHdr = len(e.buf)
	e.litHdr = -1
	e.buf = append(e.buf, SubrecordCompressed|byte(n), c)
	return nil
}

// flushRun sends the pending run: compressed when long enough, else as literal data.
func (e *DataEncoder) flushRun(emit func([]byte) error) error {
	n := e.runLen
	e.runLen = 0
	if n >= minRun {
		return e.compressed(e.runByte, n, emit)
	}
	return e.literalRepeat(e.runByte, n, emit)
}

// writeRuns feeds p through the run detector. Runs of at least minRun octets become
// compressed subrecords; shorter runs are gathered into literal spans. A run longer
// than 63 goes out as full compressed subrecords of 63 while more of it follows, so the
// pending run (the last one in p, which the next Write may continue) stays at 1..63.
func (e *DataEncoder) writeRuns(p []byte, emit func([]byte) error) error {
	i := 0
	if e.runLen > 0 {
		for i < len(p) && p[i] == e.runByte {
			i++
		}
		if err := e.growRun(i, emit); err != nil {
			return err
		}
		if i == len(p) {
			return nil
		}
		if err := e.flushRun(emit); err != nil {
			return err
		}
	}
	lit := i // start of the literal span not yet written
	for i < len(p) {
		c := p[i]
		j := i + 1
		for j < len(p) && p[j] == c {
			j++
		}
		if j == len(p) {
			// The last run stays pending: the next Write may continue it.
			if err := e.literal(p[lit:i], emit); err != nil {
				return err
			}
			e.runByte, e.runLen = c, 0
			return e.growRun(j-i, emit)
		}
		if n := j - i; n >= minRun {
			if err := e.literal(p[lit:i], emit); err != nil {
				return err
			}
			for n > maxSubrecord {
				if err := e.compressed(c, maxSubrecord, emit); err != nil {
					return err
				}
				n -= maxSubrecord
			}
			if n >= minRun {
				if err := e.compressed(c, n, emit); err != nil {
					return err
				}
				lit = j
			} else {
				lit = j - n // a short rest joins the following literal data
			}
		}
		i = j
	}
	return e.literal(p[lit:], emit)
}

// growRun adds n octets to the pending run, sending full compressed subrecords of 63
// while the run is longer than that.
func (e *DataEncoder) growRun(n int, emit func([]byte) error) error {
	e.runLen += n
	for e.runLen > maxSubrecord {
		if err := e.compressed(e.runByte, maxSubrecord, emit); err != nil {
			return err
		}
		e.runLen -= maxSubrecord
	}
	return nil
}

// runBuffers holds the 63-octet buffers that expanded compressed subrecords are handed
// out in, so that DecodeData does not allocate per call.
var runBuffers = sync.Pool{New: func() any { return new([maxSubrecord]byte) }}

// DecodeData walks the subrecords of a DATA payload (the octets after the 'D') and calls
// fn for each piece of record data; endOfRecord is set on the last piece of a record (an
// empty record gives one call with empty data). Uncompressed data aliases payload;
// a compressed subrecord is expanded into a small reused buffer. data is valid only
// during the call. Compressed subrecords are an error (Reason 06) unless compression
// was negotiated. A subrecord running past the payload is an error with Reason 07.
// Errors from fn are returned unchanged.
func DecodeData(payload []byte, compression bool, fn func(data []byte, endOfRecord bool) error) error {
	var run *[maxSubrecord]byte
	defer func() {
		if run != nil {
			runBuffers.Put(run)
		}
	}()
	for i := 0; i < len(payload); {
		h := payload[i]
		i++
		n := int(h & SubrecordCountMask)
		eor := h&SubrecordEoR != 0
		if h&SubrecordCompressed == 0 {
			if n > len(payload)-i {
				return dataError(ReasonLength, i-1, detail(ErrLength,
					fmt.Sprintf("subrecord of %d octets, only %d left in the buffer", n, len(payload)-i)))
			}
			if n > 0 || eor {
				if err := fn(payload[i:i+n:i+n], eor); err != nil {
					return err
				}
			}
			i += n
			continue
		}
		if !compression {
			return dataError(ReasonInvalidData, i-1, ErrCompression)
		}
		if i >= len(payload) {
			return dataError(ReasonLength, i-1, detail(ErrLength, "compressed subrecord without its octet"))
		}
		c := payload[i]
		i++
		// A compressed subrecord with count 0 is undefined (§7.3); it is read as an empty
		// subrecord that still consumes its octet (digest §13 item 23).
		if n == 0 {
			if eor {
				if err := fn(payload[i:i], true); err != nil {
					return err
				}
			}
			continue
		}
		if run == nil {
			run = runBuffers.Get().(*[maxSubrecord]byte)
		}
		r := run[:n:n]
		for k := range r {
			r[k] = c
		}
		if err := fn(r, eor); err != nil {
			return err
		}
	}
	return nil
}

// DecodeDataPacked walks the subrecords of an uncompressed DATA payload like DecodeData,
// but moves the data down over the headers in place and calls fn once per record end
// and once for the rest of the buffer, with all data of that stretch: one call per
// record or buffer instead of one per subrecord. The payload is modified; a compressed
// subrecord is an error (Reason 06), as DecodeData reports it without compression.
func DecodeDataPacked(payload []byte, fn func(data []byte, endOfRecord bool) error) error {
	w := 0
	for i := 0; i < len(payload); {
		h := payload[i]
		i++
		if h&SubrecordCompressed != 0 {
			return dataError(ReasonInvalidData, i-1, ErrCompression)
		}
		n := int(h & SubrecordCountMask)
		if n > len(payload)-i {
			return dataError(ReasonLength, i-1, detail(ErrLength, fmt.Sprintf("%d octets announced, only %d left", n, len(payload)-i)))
		}
		w += copy(payload[w:], payload[i:i+n])
		i += n
		if h&SubrecordEoR != 0 {
			if err := fn(payload[:w], true); err != nil {
				return err
			}
			// fn is done with the data; the rest of the buffer packs from the start.
			w = 0
		}
	}
	if w > 0 {
		return fn(payload[:w], false)
	}
	return nil
}

func dataError(reason, off int, err error) error {
	return &DecodeError{Command: "DATA", Field: fmt.Sprintf("subrecord at payload offset %d", off), Reason: reason, Err: err}
}
