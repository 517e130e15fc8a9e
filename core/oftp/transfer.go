package oftp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
	"unsafe"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// readChunk is how much of a source is read at a time.
const readChunk = 256 << 10

// sendFile runs one outgoing transfer from IDLESP/IDLESPCD: SFID, data within the
// credit window, EFID, and the answer. A refusal is a *ReasonError and leaves the
// session usable; local problems found before SFID wrap ErrInvalidFile.
func (s *session) sendFile(ctx context.Context, f *OutgoingFile) (res TransferResult, err error) {
	if !s.canSend {
		return res, ErrDirection
	}
	g := s.withDefaults(*f)
	if s.opts.OutgoingTransform != nil {
		// The transform sees the complete description (partner codes included) and
		// returns what will be transmitted.
		t, err := s.opts.OutgoingTransform.TransformOutgoing(ctx, &g)
		if err != nil {
			return res, fmt.Errorf("%w: transform: %w", ErrInvalidFile, err)
		}
		g = s.withDefaults(*t)
	}
	asU := transmittedAsU(g.Format, g.Enveloped, g.Compressed, g.SecurityLevel)
	if err := s.checkOutgoing(&g, asU); err != nil {
		return res, err
	}
	if g.Stamp.Date == "" {
		t := g.Date
		if t.IsZero() {
			t = s.opts.VirtualFileDate
		}
		if t.IsZero() {
			t = s.opts.Clock()
		}
		c := g.Counter
		if c == 0 {
			c = s.nextCounter(t)
		}
		g.Stamp = NewStamp(t, c)
	}
	proposed := int64(0)
	if s.restart {
		proposed = g.RestartPosition
	}
	osize := g.OriginalSize
	if osize == 0 && g.SecurityLevel == 0 && !g.Compressed && !g.Enveloped {
		osize = g.Size
	}
	sfid := &wire.SFID{
		DatasetName: g.DatasetName, Stamp: wire.Stamp(g.Stamp), User: g.UserData,
		Destination: g.Destination, Originator: g.Originator, Format: wire.Format(g.Format),
		MaxRecordSize: g.MaxRecordSize, FileSize: wire.KiB(g.Size), RestartPos: proposed,
	}
	if s.lvl >= wire.Level20 {
		sfid.OriginalSize = wire.KiB(osize)
		sfid.Security = g.SecurityLevel
		sfid.Cipher = g.CipherSuite
		sfid.Compressed = g.Compressed
		sfid.Enveloped = g.Enveloped
		sfid.SignedReceipt = g.SignedReceipt
		sfid.Description = g.Description
	}
	if g.Format == FormatUnstructured || g.Format == FormatText {
		sfid.MaxRecordSize = 0
	}
	info := TransferInfo{Direction: Outgoing, DatasetName: g.DatasetName, Stamp: g.Stamp,
		Originator: g.Originator, Destination: g.Destination, Format: g.Format}
	res.TransferInfo = info
	// Open at the proposed point before SFID so that a missing source is a local error
	// and not an aborted session.
	rc, err := g.Source.Open(ctx, openOffset(asU, proposed))
	if err != nil {
		return res, fmt.Errorf("%w: opening %s: %w", ErrInvalidFile, g.DatasetName, err)
	}
	defer func() { rc.Close() }()

	prev := s.state
	s.state = stTransfer
	if err := s.send(sfid); err != nil {
		s.state = prev
		var ee *wire.EncodeError
		if errors.As(err, &ee) {
			return res, fmt.Errorf("%w: %w", ErrInvalidFile, err)
		}
		return res, err
	}
	// OPOP
	cmd, err := s.recv(ctx)
	if err != nil {
		return s.transferFailed(res, err)
	}
	s.state = stIdleSpeaker
	var agreed int64
	switch c := cmd.(type) {
	case wire.SFNA:
		text := c.Text
		if text == "" {
			text = reasonText("SFNA", c.Reason)
		}
		res.Err = &ReasonError{Cmd: "SFNA", Code: c.Reason, Text: text, Retry: c.Retry}
		s.endTransferEvent(res)
		return res, res.Err
	case wire.SFPA:
		agreed = c.AnswerCount
		if agreed > proposed || agreed < 0 {
			return s.transferFailed(res, s.abort(ESIDProtocolViolation,
				fmt.Errorf("SFPA answer count %d above proposed restart %d", agreed, proposed)))
		}
	default:
		return s.transferFailed(res, s.abort(ESIDProtocolViolation, fmt.Errorf("expected SFPA/SFNA, got %s", cmd.Name())))
	}
	if agreed != proposed {
		rc.Close()
		if rc, err = g.Source.Open(ctx, openOffset(asU, agreed)); err != nil {
			return s.transferFailed(res, s.abort(ESIDEmergency, fmt.Errorf("reopening %s at %d: %w", g.DatasetName, agreed, err)))
		}
	}
	res.RestartPosition = agreed
	info.RestartPosition = agreed
	if s.opts.Events.StartTransfer != nil {
		s.opts.Events.StartTransfer(info)
	}
	// OPO: stream the records.
	// One encoder and one read buffer per session: files of any size and number
	// allocate nothing more.
	if s.enc == nil {
		s.enc = wire.NewDataEncoder(s.bufSize, s.compress)
		s.readBuf = make([]byte, readChunk)
	}
	s.enc.Reset()
	st := sender{s: s, ctx: ctx, credit: s.window, info: info, enc: s.enc, buf: s.readBuf}
	st.records = 0
	if !asU {
		st.records = agreed
	}
	baseOctets := restartOctets(asU, g.Format, g.MaxRecordSize, agreed)
	if !asU && g.Format == FormatVariable && agreed > 0 {
		if so, ok := rc.(SkippedOctets); ok {
			baseOctets = so.SkippedOctets()
		}
	}
	serr := st.stream(rc, g.Format, g.MaxRecordSize, asU)
	// Counts so far; a failure from here on reports them with a restart hint.
	res.Octets, res.Records = baseOctets+st.octets, st.records
	if asU {
		res.Records, res.ResumeAt = 0, res.Octets/1024
	} else {
		res.ResumeAt = st.records
	}
	if serr != nil {
		return s.transferFailed(res, serr)
	}
	// A last look for an abort or a misplaced answer (an early EFPA, §9.11 B) before
	// EFID, which would otherwise take it for its answer.
	if st.credit > 0 {
		cmd, err := s.settle(ctx)
		if err != nil {
			return s.transferFailed(res, err)
		}
		if cmd != nil {
			return s.transferFailed(res, st.unexpected(cmd))
		}
	}
	// EFID is only legal with credit left (§9.11 Note 1): wait for CDT first.
	if st.credit == 0 {
		if err := st.waitCDT(); err != nil {
			return s.transferFailed(res, err)
		}
	}
	if err := s.send(&wire.EFID{RecordCount: res.Records, UnitCount: res.Octets}); err != nil {
		return s.transferFailed(res, err)
	}
	// CLOP
	cmd, err = s.recv(ctx)
	if err != nil {
		return s.transferFailed(res, err)
	}
	switch c := cmd.(type) {
	case wire.EFPA:
		s.state = stIdleSpeaker
		res.ResumeAt = 0
		s.endTransferEvent(res)
		if c.ChangeDirection || s.opts.SendCDAfterEFPA {
			if err := s.send(&wire.CD{}); err != nil {
				return res, err
			}
			if c.ChangeDirection {
				s.state = stIdleListener // solicited: the partner is now IDLESP
			} else {
				s.state = stIdleListenerCD
			}
		}
		return res, nil
	case wire.EFNA:
		s.state = stIdleSpeaker
		res.ResumeAt = 0 // the receiver dropped the file: start again
		text := c.Text
		if text == "" {
			text = reasonText("EFNA", c.Reason)
		}
		res.Err = &ReasonError{Cmd: "EFNA", Code: c.Reason, Text: text}
		s.endTransferEvent(res)
		return res, res.Err
	default:
		return s.transferFailed(res, s.abort(ESIDProtocolViolation, fmt.Errorf("expected EFPA/EFNA, got %s", cmd.Name())))
	}
}

// withDefaults fills the fields of an outgoing file that the options supply.
func (s *session) withDefaults(g OutgoingFile) OutgoingFile {
	if g.Format == 0 {
		g.Format = s.opts.VirtualFileFormat
	}
	if g.MaxRecordSize == 0 && (g.Format == FormatFixed || g.Format == FormatVariable) {
		g.MaxRecordSize = s.opts.MaxRecordSize
	}
	if g.Originator == "" {
		g.Originator = s.opts.SFIDCode
	}
	if g.Destination == "" {
		g.Destination = s.opts.PartnerSFIDCode
		if g.Destination == "" {
			g.Destination = s.info.PartnerSSID
		}
	}
	if g.Description == "" && s.lvl >= wire.Level20 {
		g.Description = s.opts.VirtualFileDescription
	}
	return g
}

func openOffset(asU bool, pos int64) int64 {
	if asU {
		return pos * 1024
	}
	return pos
}

func (s *session) transferFailed(res TransferResult, err error) (TransferResult, error) {
	res.Err = err
	s.endTransferEvent(res)
	return res, err
}

func (s *session) endTransferEvent(res TransferResult) {
	if s.opts.Events.EndTransfer != nil {
		s.opts.Events.EndTransfer(res)
	}
	if res.Err != nil {
		s.log.Warn("transfer failed", "dir", res.Direction.String(), "dsn", res.DatasetName, "err", res.Err)
	} else {
		s.log.Info("transfer done", "dir", res.Direction.String(), "dsn", res.DatasetName, "octets", res.Octets, "records", res.Records)
	}
}

// checkOutgoing validates what the codec cannot know: format rules and level limits.
func (s *session) checkOutgoing(g *OutgoingFile, asU bool) error {
	if g.Source == nil {
		return fmt.Errorf("%w: %s has no source", ErrInvalidFile, g.DatasetName)
	}
	switch g.Format {
	case FormatFixed, FormatVariable:
		if g.MaxRecordSize <= 0 || g.MaxRecordSize > 99999 {
			return fmt.Errorf("%w: %v file needs MaxRecordSize 1..99999, got %d", ErrInvalidFile, g.Format, g.MaxRecordSize)
		}
		if g.Format == FormatFixed && g.Size > 0 && !asU && g.Size%int64(g.MaxRecordSize) != 0 {
			return fmt.Errorf("%w: F file of %d octets is not a multiple of %d", ErrInvalidFile, g.Size, g.MaxRecordSize)
		}
	case FormatUnstructured, FormatText:
	default:
		return fmt.Errorf("%w: format %v", ErrInvalidFile, g.Format)
	}
	if s.lvl < wire.Level20 {
		if g.SecurityLevel != 0 || g.CipherSuite != 0 || g.Compressed || g.Enveloped || g.SignedReceipt {
			return fmt.Errorf("%w: security services need OFTP 2.0, session runs %v", ErrInvalidFile, versionOf(s.lvl))
		}
	}
	if wire.KiB(g.Size) > wire.MaxFileSize(s.lvl) {
		return fmt.Errorf("%w: %d octets exceed what level %v can announce", ErrInvalidFile, g.Size, versionOf(s.lvl))
	}
	if len(g.Description) > wire.MaxText || !utf8.ValidString(g.Description) {
		return fmt.Errorf("%w: description must be UTF-8 of at most %d octets", ErrInvalidFile, wire.MaxText)
	}
	if g.RestartPosition < 0 {
		return fmt.Errorf("%w: negative restart position", ErrInvalidFile)
	}
	return nil
}

// sender cuts a source into records and DATA buffers within the credit window.
type sender struct {
	s       *session
	ctx     context.Context
	enc     *wire.DataEncoder
	credit  int
	info    TransferInfo
	octets  int64
	records int64
	emitFn  func([]byte) error
	buf     []byte
	first   bool // the first buffer was flushed
}

func (st *sender) emit(oeb []byte) error {
	if st.s.bw.Available() < len(oeb)+wire.STHLength && st.s.bw.Buffered() > 0 {
		// This buffer makes the write buffer go out: nothing more goes on the wire
		// after an abort or a misplaced answer that has reached us.
		if err := st.check(); err != nil {
			return err
		}
	}
	if err := st.s.writeOEB(oeb); err != nil {
		return err
	}
	if st.credit == st.s.window && !st.first {
		// The first buffer of a file goes out at once, so that a partner that
		// refuses the data can tell us before the write buffer fills up.
		st.first = true
		if err := st.s.flush(); err != nil {
			return err
		}
	}
	st.credit--
	if st.s.opts.Events.Progress != nil {
		st.s.opts.Events.Progress(st.info, st.octets)
	}
	if st.credit == 0 {
		return st.waitCDT()
	}
	if st.s.pending {
		// The first buffer after SFPA or CDT: whatever the partner sent right behind
		// that answer (an early CDT or EFPA, an abort) is out of place.
		return st.check()
	}
	// Between buffers only look at what the reader has handed over: no system call
	// per buffer.
	cmd, err := st.s.poll()
	if err != nil {
		return err
	}
	if cmd != nil {
		return st.unexpected(cmd)
	}
	return nil
}

// check settles what the partner has sent so far; any command is out of place while
// we have credit and data to send.
func (st *sender) check() error {
	cmd, err := st.s.settle(st.ctx)
	if err != nil {
		return err
	}
	if cmd != nil {
		return st.unexpected(cmd)
	}
	return nil
}

func (st *sender) unexpected(cmd wire.Command) error {
	// Anything here is out of place, a CDT too while we still have credit (§9.10
	// transition P): taking it as credit could overrun the listener.
	return st.s.abort(ESIDProtocolViolation, fmt.Errorf("%s received while sending data", cmd.Name()))
}

// waitCDT is state OPOWFC.
func (st *sender) waitCDT() error {
	// Before the buffered data goes out, see whether the partner has aborted
	// meanwhile: then the data is dropped instead of sent.
	cmd, err := st.s.settle(st.ctx)
	if err != nil {
		return err
	}
	if cmd != nil && st.s.bw.Buffered() > 0 {
		// The partner cannot have seen the buffers still in our write buffer, so
		// whatever it sent, a CDT too, came too early.
		return st.unexpected(cmd)
	}
	if cmd == nil {
		cmd, err = st.s.recv(st.ctx)
	}
	if err != nil {
		return err
	}
	if cmd.Code() != wire.CodeCDT {
		return st.s.abort(ESIDProtocolViolation, fmt.Errorf("expected CDT, got %s", cmd.Name()))
	}
	st.credit = st.s.window
	return nil
}

func (st *sender) write(p []byte, eor bool) error {
	st.octets += int64(len(p))
	return st.enc.Write(p, eor, st.emitFn)
}

// stream reads the source to the end and emits every buffer.
func (st *sender) stream(r io.Reader, format Format, lrecl int, asU bool) error {
	st.emitFn = st.emit
	buf := st.buf
	var (
		inRec   int  // F: octets of the current record; V: of the current line
		pending bool // V: a CR held back at a chunk end
		any     bool
	)
	for {
		if err := st.ctx.Err(); err != nil {
			return st.s.abort(ESIDEmergency, fmt.Errorf("interrupted: %w", context.Cause(st.ctx)))
		}
		n, rerr := r.Read(buf)
		p := buf[:n]
		if n > 0 {
			any = true
		}
		switch {
		case asU:
			if n > 0 {
				if err := st.write(p, false); err != nil {
					return err
				}
			}
		case format == FormatFixed:
			for len(p) > 0 {
				k := min(lrecl-inRec, len(p))
				inRec += k
				full := inRec == lrecl
				if err := st.write(p[:k], full); err != nil {
					return err
				}
				if full {
					st.records++
					inRec = 0
				}
				p = p[k:]
			}
		default: // V
			for len(p) > 0 {
				i := bytes.IndexByte(p, '\n')
				if pending {
					pending = false
					if i != 0 {
						if err := st.vdata([]byte{'\r'}, &inRec, lrecl); err != nil {
							return err
						}
					}
				}
				if i < 0 {
					seg := p
					if seg[len(seg)-1] == '\r' {
						seg = seg[:len(seg)-1]
						pending = true
					}
					if err := st.vdata(seg, &inRec, lrecl); err != nil {
						return err
					}
					break
				}
				seg := p[:i]
				if len(seg) > 0 && seg[len(seg)-1] == '\r' {
					seg = seg[:len(seg)-1]
				}
				if err := st.vdata(seg, &inRec, lrecl); err != nil {
					return err
				}
				if err := st.write(nil, true); err != nil {
					return err
				}
				st.records++
				inRec = 0
				p = p[i+1:]
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return st.s.abort(ESIDEmergency, fmt.Errorf("reading %s: %w", st.info.DatasetName, rerr))
		}
	}
	switch {
	case asU:
		if any {
			if err := st.write(nil, true); err != nil {
				return err
			}
			st.records = 1
		}
	case format == FormatFixed:
		if inRec > 0 {
			st.s.log.Warn("F file ends with a short record", "dsn", st.info.DatasetName, "octets", inRec)
			if err := st.write(nil, true); err != nil {
				return err
			}
			st.records++
		}
	default:
		if pending {
			if err := st.vdata([]byte{'\r'}, &inRec, lrecl); err != nil {
				return err
			}
		}
		if inRec > 0 {
			if err := st.write(nil, true); err != nil {
				return err
			}
			st.records++
		}
	}
	return st.enc.Flush(st.emitFn)
}

// vdata writes part of a V record, enforcing the maximum record length.
func (st *sender) vdata(p []byte, inRec *int, lrecl int) error {
	if len(p) == 0 {
		return nil
	}
	*inRec += len(p)
	if *inRec > lrecl {
		return st.s.abort(ESIDEmergency, fmt.Errorf("%w: record %d of %s is longer than %d", ErrInvalidFile, st.records+1, st.info.DatasetName, lrecl))
	}
	return st.write(p, false)
}

// --- receiving -------------------------------------------------------------------------

// receiveFile runs one incoming transfer from IDLELI/IDLELICD: OPIP, OPI, CLIP.
func (s *session) receiveFile(ctx context.Context, c *wire.SFID) error {
	if !s.canRecv {
		return s.abort(ESIDProtocolViolation, errors.New("SFID received but this session does not receive files"))
	}
	if c.RestartPos > 0 && !s.restart {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("SFID restart position %d without agreed restart", c.RestartPos))
	}
	inc := &IncomingFile{
		DatasetName: trim(c.DatasetName), Stamp: Stamp(c.Stamp), UserData: trim(c.User),
		Destination: trim(c.Destination), Originator: trim(c.Originator), Format: Format(c.Format),
		MaxRecordSize: c.MaxRecordSize, Size: c.FileSize, OriginalSize: c.OriginalSize,
		Description: c.Description, SecurityLevel: c.Security, CipherSuite: c.Cipher,
		Compressed: c.Compressed, Enveloped: c.Enveloped, SignedReceipt: c.SignedReceipt,
		RestartPosition: c.RestartPos, PartnerSSID: s.info.PartnerSSID, Level: s.info.Level,
	}
	info := TransferInfo{Direction: Incoming, DatasetName: inc.DatasetName, Stamp: inc.Stamp,
		Originator: inc.Originator, Destination: inc.Destination, Format: inc.Format}
	// OPIP: no longer IDLELICD, so an ESID 00 from here on is an abort (§9.12).
	s.state = stTransfer
	dec, refuse := s.decide(ctx, inc)
	if refuse != nil {
		s.endTransferEvent(TransferResult{TransferInfo: info, Err: refuse})
		if err := s.send(&wire.SFNA{Reason: refuse.Code, Retry: refuse.Retry, Text: s.text(refuse.Text)}); err != nil {
			return err
		}
		s.state = stIdleListener
		return nil
	}
	sink := dec.Sink
	agreed := min(max(dec.RestartPosition, 0), c.RestartPos)
	asU := inc.Unstructured()
	base := restartOctets(asU, inc.Format, inc.MaxRecordSize, agreed)
	if !asU && inc.Format == FormatVariable {
		base = dec.RestartOctets
	}
	var records int64
	if !asU {
		records = agreed
	}
	info.RestartPosition = agreed
	if s.rxbuf == nil {
		s.rxbuf = bufio.NewWriterSize(sink, 64<<10)
	} else {
		s.rxbuf.Reset(sink)
	}
	rx := receiver{s: s, sink: sink, w: s.rxbuf, format: inc.Format, asU: asU}
	if re, ok := sink.(RecordEnder); ok {
		rx.ender = re
	}
	if err := s.send(&wire.SFPA{AnswerCount: agreed}); err != nil {
		s.discard(ctx, &rx, err)
		return err
	}
	if s.opts.Events.StartTransfer != nil {
		s.opts.Events.StartTransfer(info)
	}
	// Inside a file only DATA, EFID and ESID may come: refuse a longer buffer from its
	// header (ESID 07) instead of reading it. The reader applies the limit from the
	// buffer after the SFID on; EFID, still unacknowledged when we leave, restores it.
	sessionLimit := s.readLimit
	s.readLimit = max(s.bufSize+1, maxESID)
	defer func() { s.readLimit = sessionLimit }()
	credit := s.window
	var octets int64
	// OPI
	for {
		cmd, err := s.recv(ctx)
		if err != nil {
			s.discard(ctx, &rx, err)
			s.endTransferEvent(TransferResult{TransferInfo: info, Err: err})
			return err
		}
		switch c := cmd.(type) {
		case *wire.DATA:
			// One octet of tolerance over SDEB: some stacks count the command octet
			// differently (PROTOCOL.md §13 item 20).
			if len(c.Payload)+1 > s.bufSize+1 {
				err := s.abort(ESIDBufferSize, fmt.Errorf("DATA buffer of %d octets exceeds the negotiated %d", len(c.Payload)+1, s.bufSize))
				s.discard(ctx, &rx, err)
				return err
			}
			credit--
			if credit < 0 {
				err := s.abort(ESIDProtocolViolation, errors.New("DATA beyond the credit window"))
				s.discard(ctx, &rx, err)
				return err
			}
			var err error
			if s.compress {
				rx.payload, rx.packed = c.Payload, 0
				if err = wire.DecodeData(c.Payload, true, rx.data); err == nil {
					rx.flushPacked()
				}
			} else {
				// Without compression the payload is packed in place: one sink write
				// per record end or buffer.
				err = wire.DecodeDataPacked(c.Payload, rx.packedData)
			}
			if err != nil {
				code := ESIDInvalidData
				var de *wire.DecodeError
				if errors.As(err, &de) && de.Reason != 0 && de.Reason != 99 {
					code = de.Reason
				}
				err = s.abort(code, err)
				s.discard(ctx, &rx, err)
				return err
			}
			octets = rx.octets
			if s.opts.Events.Progress != nil {
				s.opts.Events.Progress(info, octets)
			}
			if credit == 0 {
				if err := s.send(&wire.CDT{}); err != nil {
					s.discard(ctx, &rx, err)
					return err
				}
				credit = s.window
			}
		case wire.EFID:
			return s.closeIncoming(ctx, inc, info, &rx, sink, &c, base, records)
		default:
			err := s.abort(ESIDProtocolViolation, fmt.Errorf("%s received during a file", cmd.Name()))
			s.discard(ctx, &rx, err)
			return err
		}
	}
}

// maxESID is the longest ESID (2.0 with 999 octets of text).
const maxESID = 7 + wire.MaxText

// text returns t when the level carries reason texts.
func (s *session) text(t string) string {
	if s.lvl < wire.Level20 {
		return ""
	}
	if len(t) > wire.MaxText {
		t = t[:wire.MaxText]
		for !utf8.ValidString(t) {
			t = t[:len(t)-1]
		}
	}
	return t
}

// decide runs the SFID checks and the receiver; a non-nil *ReasonError is the SFNA.
func (s *session) decide(ctx context.Context, inc *IncomingFile) (Decision, *ReasonError) {
	refuse := func(code int, retry bool, cause error) (Decision, *ReasonError) {
		return Decision{}, &ReasonError{Cmd: "SFNA", Code: code, Text: reasonText("SFNA", code), Retry: retry, Local: true, Err: cause}
	}
	if !s.opts.AcceptAnySFIDCode {
		if s.opts.SFIDCode != "" && inc.Destination != s.opts.SFIDCode {
			return refuse(ReasonInvalidDestination, false, fmt.Errorf("file is for %q", inc.Destination))
		}
		want := s.opts.PartnerSFIDCode
		if s.partner != nil && s.partner.SFIDCode != "" {
			want = s.partner.SFIDCode
		}
		if want != "" && inc.Originator != want {
			return refuse(ReasonInvalidOrigin, false, fmt.Errorf("file is from %q", inc.Originator))
		}
	}
	if (inc.SecurityLevel != 0 || inc.Compressed) && !inc.Enveloped {
		// Encryption, signing and compression only exist inside a CMS envelope
		// (RFC 5024 §5.3.3); such an SFID cannot be processed (PROTOCOL.md §13 item 24).
		return refuse(ReasonUnspecified, false, errors.New("security services announced without SFIDENV"))
	}
	switch inc.Format {
	case FormatFixed, FormatVariable:
		if inc.MaxRecordSize <= 0 {
			return refuse(ReasonRecordTooLong, false, errors.New("F/V file without record length"))
		}
	case FormatUnstructured, FormatText:
	default:
		return refuse(ReasonFormatNotSupported, false, fmt.Errorf("format %v", inc.Format))
	}
	if s.opts.DuplicateCheck != nil {
		dup, err := s.opts.DuplicateCheck(ctx, inc)
		if err != nil {
			return refuse(ReasonAccessMethodFailure, true, err)
		}
		if dup {
			return refuse(ReasonDuplicateFile, false, errors.New("already received"))
		}
	}
	rcv := s.opts.Receiver
	if s.partner != nil && s.partner.Receiver != nil {
		rcv = s.partner.Receiver
	}
	dec, err := rcv.Accept(ctx, inc)
	if err == nil && dec.Sink == nil {
		if dec.Refuse != nil {
			err = dec.Refuse
		} else {
			err = errors.New("receiver gave no sink")
		}
	}
	if err != nil {
		var re *ReasonError
		if errors.As(err, &re) {
			r := *re
			r.Cmd, r.Local = "SFNA", true
			if r.Text == "" {
				r.Text = reasonText("SFNA", r.Code)
			}
			return Decision{}, &r
		}
		return refuse(ReasonUnspecified, s.opts.AllowRetry, err)
	}
	if s.opts.IncomingTransform != nil {
		sink, err := s.opts.IncomingTransform.TransformIncoming(ctx, inc, dec.Sink)
		if err != nil {
			_ = dec.Sink.Abort(ctx)
			return Decision{}, transformRefusal(err, s.opts.AllowRetry)
		}
		dec.Sink = sink
	}
	return dec, nil
}

// discard gives up on an incoming file after the session broke: keep the partial data
// when a restart can pick it up, else delete it.
func (s *session) discard(ctx context.Context, rx *receiver, cause error) {
	sink := rx.sink
	_ = rx.w.Flush()
	if sp, ok := sink.(Suspender); ok && s.restart && errors.Is(cause, ErrConnectionLost) {
		if err := sp.Suspend(context.WithoutCancel(ctx)); err == nil {
			return
		}
	}
	if err := sink.Abort(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("sink abort failed", "err", err)
	}
}

// closeIncoming is CLIP: check the counts, commit, answer EFPA or EFNA.
func (s *session) closeIncoming(ctx context.Context, inc *IncomingFile, info TransferInfo, rx *receiver,
	sink Sink, c *wire.EFID, base, baseRecords int64) error {
	records := baseRecords + rx.records
	octets := base + rx.octets
	var failure *ReasonError
	if !rx.asU {
		if rx.open && c.RecordCount == records+1 {
			// Lenient: a last record without End-of-Record that EFID counts (captures
			// deviation 1); close it as the sender meant.
			s.log.Warn("last record has no End-of-Record flag", "dsn", inc.DatasetName)
			if err := rx.endRecord(); err != nil && rx.err == nil {
				rx.err = err
			}
			records++
		}
		if c.RecordCount != records {
			failure = &ReasonError{Cmd: "EFNA", Code: ReasonInvalidRecordCount,
				Err: fmt.Errorf("EFID says %d records, received %d", c.RecordCount, records)}
		}
	}
	// For U/T the record count is not checked: some senders cut T files per line
	// (PROTOCOL.md §13 item 22); the octet count still is.
	if failure == nil && c.UnitCount != octets {
		failure = &ReasonError{Cmd: "EFNA", Code: ReasonInvalidByteCount,
			Err: fmt.Errorf("EFID says %d octets, received %d", c.UnitCount, octets)}
	}
	if err := rx.w.Flush(); err != nil && rx.err == nil {
		rx.err = err
	}
	if failure == nil && rx.err != nil {
		failure = storageFailure(rx.err)
	}
	if failure == nil {
		if err := sink.Commit(ctx); err != nil {
			failure = storageFailure(err)
		}
	} else {
		if err := sink.Abort(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("sink abort failed", "err", err)
		}
	}
	res := TransferResult{TransferInfo: info, Records: c.RecordCount, Octets: c.UnitCount}
	if failure != nil {
		failure.Local = true
		if failure.Text == "" {
			failure.Text = reasonText("EFNA", failure.Code)
		}
		res.Err = failure
		s.endTransferEvent(res)
		if err := s.send(&wire.EFNA{Reason: failure.Code, Text: s.text(failure.Text)}); err != nil {
			return err
		}
		s.state = stIdleListener
		if s.opts.NERPOnFailure && s.lvl >= wire.Level14 {
			s.owed = append(s.owed, EndResponse{DatasetName: inc.DatasetName, Stamp: inc.Stamp,
				Destination: inc.Originator, Originator: inc.Destination, Creator: s.opts.SFIDCode,
				Reason: NERPReasonFor(failure.Code), Text: failure.Text})
		}
		return nil
	}
	rf := ReceivedFile{File: *inc, Records: c.RecordCount, Octets: c.UnitCount}
	if l, ok := sink.(Locator); ok {
		rf.Location = l.Location()
	}
	s.received = append(s.received, rf)
	s.endTransferEvent(res)
	if !s.opts.DeferEndResponses {
		s.owed = append(s.owed, EndResponse{DatasetName: inc.DatasetName, Stamp: inc.Stamp, UserData: inc.UserData,
			Destination: inc.Originator, Originator: inc.Destination})
	}
	askTurn := s.opts.RequestTurnAfterFile
	if err := s.send(&wire.EFPA{ChangeDirection: askTurn}); err != nil {
		return err
	}
	if askTurn {
		s.state = stWaitCD
	} else {
		s.state = stIdleListener
	}
	return nil
}

func storageFailure(err error) *ReasonError {
	var re *ReasonError
	if errors.As(err, &re) {
		r := *re
		r.Cmd = "EFNA"
		return &r
	}
	return &ReasonError{Cmd: "EFNA", Code: ReasonAccessMethodFailure, Err: err}
}

// receiver writes decoded subrecords to the sink and counts records and octets.
type receiver struct {
	s       *session
	sink    Sink
	w       *bufio.Writer
	ender   RecordEnder
	format  Format
	asU     bool
	octets  int64
	records int64
	open    bool // data since the last End-of-Record
	err     error
	payload []byte // the DATA payload being decoded; packed data at its start
	packed  int
}

var crlf = []byte("\r\n")

func (rx *receiver) data(p []byte, eor bool) error {
	rx.octets += int64(len(p))
	if len(p) > 0 {
		rx.open = true
		// Uncompressed subrecords alias the payload: move them down over the subrecord
		// headers so that a whole buffer reaches the sink in one write. The payload is
		// ours until the reader gets it back.
		if off := offsetIn(rx.payload, p); off >= rx.packed {
			rx.packed += copy(rx.payload[rx.packed:], p)
		} else {
			rx.flushPacked()
			rx.write(p)
		}
	}
	if eor {
		rx.flushPacked()
		if err := rx.endRecord(); err != nil && rx.err == nil {
			rx.err = err
		}
	}
	return nil
}

// offsetIn returns where p starts inside buf, or -1 when p is not part of buf (a
// compressed subrecord expanded elsewhere). DecodeData hands out capacity-limited
// slices, so only the addresses can tell.
func offsetIn(buf, p []byte) int {
	if len(buf) == 0 || len(p) == 0 {
		return -1
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(p))) - uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	if d >= uintptr(len(buf)) || int(d)+len(p) > len(buf) {
		return -1
	}
	return int(d)
}

// packedData takes a stretch of record data from wire.DecodeDataPacked.
func (rx *receiver) packedData(p []byte, eor bool) error {
	rx.octets += int64(len(p))
	if len(p) > 0 {
		rx.open = true
		rx.write(p)
	}
	if eor {
		if err := rx.endRecord(); err != nil && rx.err == nil {
			rx.err = err
		}
	}
	return nil
}

// flushPacked hands the data packed at the start of the payload to the sink.
func (rx *receiver) flushPacked() {
	if rx.packed > 0 {
		rx.write(rx.payload[:rx.packed])
		rx.payload = rx.payload[rx.packed:]
		rx.packed = 0
	}
}

// write passes file data on; after a storage error it keeps consuming the data so
// that EFNA can answer the EFID in order (the sender hears about it there).
func (rx *receiver) write(p []byte) {
	if rx.err != nil {
		return
	}
	var err error
	if len(p) >= 4096 && rx.w.Buffered() == 0 {
		_, err = rx.sink.Write(p)
	} else {
		_, err = rx.w.Write(p)
	}
	if err != nil {
		rx.err = err
	}
}

func (rx *receiver) endRecord() error {
	rx.records++
	rx.open = false
	if rx.asU {
		return nil
	}
	if rx.ender != nil {
		if err := rx.w.Flush(); err != nil {
			return err
		}
		return rx.ender.EndRecord()
	}
	if rx.format == FormatVariable {
		_, err := rx.w.Write(crlf)
		return err
	}
	return nil
}
