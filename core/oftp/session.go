package oftp

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// state is the session's place in the RFC 5024 §9 state tables, for the idle states
// between commands; states inside a file transfer (OPOP, OPO, OPOWFC, CLOP, OPIP, OPI,
// CLIP, WF_RTR, RTRP) live in the code path of sendFile, receiveFile and end responses.
type state int

const (
	stSetup          state = iota // before and during SSID exchange
	stIdleSpeaker                 // IDLESP
	stIdleSpeakerCD               // IDLESPCD: just got an unsolicited CD
	stIdleListener                // IDLELI
	stIdleListenerCD              // IDLELICD: just sent an unsolicited CD
	stWaitCD                      // WF_CD: answered EFPA(CD=Y)
	stTransfer                    // inside a file, either direction (OPOP..CLOP, OPIP..CLIP)
	stEnded
)

func (st state) String() string {
	return [...]string{"SETUP", "IDLESP", "IDLESPCD", "IDLELI", "IDLELICD", "WF_CD", "TRANSFER", "ENDED"}[st]
}

// inFrame is one exchange buffer handed from the reading goroutine to the session
// goroutine. The buffer belongs to the reader again once the session acknowledges it.
type inFrame struct {
	oeb []byte
	err error
}

// driver decides what the session does when it holds the turn and is idle.
type driver interface {
	// speak performs one step (send a file, an end response, CD or ESID) or waits for
	// one to be requested; it returns when the step is done.
	speak(ctx context.Context, s *session) error
	// gotTurn is called when the turn came back to us (CD received).
	gotTurn(s *session)
	// finish is called once when the session has ended and its cleanup is done.
	finish(s *session, err error)
	// listenContext is the context for waiting as listener: a caller waiting for the
	// turn can interrupt the session with it.
	listenContext(base context.Context) context.Context
}

// session is one OFTP session. Only the session goroutine touches its fields after
// setup; the reading goroutine owns the wire.Reader between acknowledgements.
type session struct {
	opts      Options
	conn      net.Conn
	rd        *wire.Reader
	bw        *bufio.Writer
	wr        *wire.Writer // commands, buffered until we wait for an answer
	log       *slog.Logger
	initiator bool
	drv       driver

	info     SessionInfo
	lvl      wire.Level // codec level for the rest of the session
	ownLevel wire.Level
	bufSize  int
	window   int
	compress bool
	restart  bool
	canSend  bool
	canRecv  bool
	state    state

	frames  chan inFrame
	ack     chan int // acknowledges a frame and carries the reader's buffer limit
	pending bool
	// readLimit is the largest exchange buffer the reader accepts from the next one on;
	// the reader applies it when a frame is acknowledged, so only it touches rd.
	readLimit int
	// in counts the octets the reader took from the connection, taken those of the
	// buffers the session took from it; the difference is a buffer on its way to us.
	in    countingReader
	taken int64
	// peek reports octets waiting in the socket; nil where it cannot be known (TLS).
	peek  func() bool
	done  chan struct{}
	timer *time.Timer

	encBuf     []byte
	counter    int
	counterSec int64
	owed       []EndResponse
	received   []ReceivedFile
	err        error
	deadline   time.Time
	rxbuf      *bufio.Writer
	enc        *wire.DataEncoder // reused for every outgoing file
	readBuf    []byte
	sth        []byte // STH of the buffer being written
	data       wire.DATA
	// partner is the configured partner of a responder session.
	partner *Partner
}

// ReceivedFile is a file this side stored during the session.
type ReceivedFile struct {
	File    IncomingFile
	Records int64
	Octets  int64
	// Location is where the sink put it, when the sink tells (DirectoryReceiver does).
	Location string
}

// Locator may be implemented by a Sink to report where a committed file lives.
type Locator interface {
	Location() string
}

func newSession(conn net.Conn, opts Options, initiator bool) *session {
	s := &session{
		opts:      opts,
		conn:      conn,
		bw:        bufio.NewWriterSize(conn, 256<<10),
		initiator: initiator,
		// One buffered frame lets the reader deposit what arrives while we stream, so
		// that poll finds it.
		frames:    make(chan inFrame, 1),
		ack:       make(chan int, 1),
		done:      make(chan struct{}),
		ownLevel:  opts.Version.level(),
		readLimit: wire.MaxBufferSize,
		peek:      socketPeeker(conn),
	}
	s.in.r = conn
	s.rd = wire.NewReader(bufio.NewReaderSize(&s.in, 256<<10))
	s.wr = wire.NewWriter(s.bw)
	s.lvl = wire.NormalizeLevel(s.ownLevel)
	s.log = opts.Logger.With("initiator", initiator, "remote", conn.RemoteAddr().String())
	s.info.Initiator = initiator
	s.info.RemoteAddr = conn.RemoteAddr().String()
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	go s.readLoop()
	return s
}

// readLoop reads one exchange buffer at a time and waits until the session goroutine
// is done with it, so that at most one buffer is in memory.
func (s *session) readLoop() {
	for {
		oeb, err := s.rd.ReadBuffer()
		select {
		case s.frames <- inFrame{oeb, err}:
		case <-s.done:
			return
		}
		if err != nil {
			return
		}
		select {
		case limit := <-s.ack:
			s.rd.SetMaxBuffer(limit)
		case <-s.done:
			return
		}
	}
}

func (s *session) release() {
	if s.pending {
		s.pending = false
		s.ack <- s.readLimit
	}
}

// countingReader counts the octets read from the connection.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// inputWaiting reports whether the partner has sent something that has not reached
// the session yet: octets in the socket, or read by the reader and not handed over.
// The socket is looked at before the counters are compared a second time, so that
// octets the reader takes meanwhile are seen in one place or the other.
func (s *session) inputWaiting() bool {
	if s.in.n.Load() > s.taken {
		return true
	}
	if s.peek != nil && s.peek() {
		return true
	}
	return s.in.n.Load() > s.taken
}

// recv waits for the partner's next command, flushing what we wrote first. Errors are
// final for the session: the ESID (ours or theirs) has been dealt with.
func (s *session) recv(ctx context.Context) (wire.Command, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	return s.await(ctx)
}

// await waits for the partner's next command without flushing our output.
func (s *session) await(ctx context.Context) (wire.Command, error) {
	s.release()
	s.timer.Reset(s.opts.Timeout)
	defer s.timer.Stop()
	select {
	case f := <-s.frames:
		return s.take(f)
	case <-ctx.Done():
		return nil, s.abort(ESIDEmergency, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
	case <-s.timer.C:
		return nil, s.abort(ESIDTimeout, fmt.Errorf("no command from partner for %v", s.opts.Timeout))
	}
}

// poll returns a command the reader has already handed over, without waiting.
func (s *session) poll() (wire.Command, error) {
	select {
	case f := <-s.frames:
		return s.take(f)
	default:
		return nil, nil
	}
}

// settle returns a command the partner sent before now, or nil, and hands the last
// buffer back to the reader so that later ones reach us too. Unlike poll it does not
// miss one still on its way: octets already in the socket or in the reader are waited
// for (up to the inactivity timeout, should the partner stop inside a buffer). The
// sender calls it before its buffered data goes out and before EFID, so that an abort
// or a misplaced answer that has arrived is never taken for a later one. Over TLS only
// the octets already decrypted can be seen.
func (s *session) settle(ctx context.Context) (wire.Command, error) {
	waiting := s.inputWaiting()
	if cmd, err := s.poll(); cmd != nil || err != nil {
		return cmd, err
	}
	if !waiting {
		s.release()
		return nil, nil
	}
	return s.await(ctx)
}

// take decodes a frame from the reader.
func (s *session) take(f inFrame) (wire.Command, error) {
	if f.err != nil {
		var de *wire.DecodeError
		if errors.As(f.err, &de) {
			code := de.Reason
			if code == 0 {
				code = ESIDBufferSize
			}
			return nil, s.abort(code, f.err)
		}
		return nil, s.lost(f.err)
	}
	s.pending = true
	s.taken += int64(wire.STHLength + len(f.oeb))
	s.trail(Incoming, f.oeb)
	if f.oeb[0] == wire.CodeDATA {
		// A receiver's hot path: one command value per session instead of one
		// allocated per buffer. It is valid, like the buffer, until the next one.
		s.data.Payload = f.oeb[1:]
		return &s.data, nil
	}
	cmd, err := wire.Decode(f.oeb, s.lvl)
	if err != nil {
		// Lenient on ESID: a partner refusing us may use another level's layout
		// (captures deviation 3); octets 1-2 are the reason in every layout.
		if len(f.oeb) >= 3 && f.oeb[0] == wire.CodeESID && isDigit(f.oeb[1]) && isDigit(f.oeb[2]) {
			s.log.Warn("ESID with a layout of another level", "err", err)
			return nil, s.partnerESID(&wire.ESID{Reason: int(f.oeb[1]-'0')*10 + int(f.oeb[2]-'0')})
		}
		var de *wire.DecodeError
		code := ESIDInvalidData
		if errors.As(err, &de) && de.Reason != 0 && de.Reason != 99 {
			code = de.Reason
		}
		return nil, s.abort(code, err)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) && f.oeb[0] != wire.CodeDATA {
		s.log.Debug("received", "cmd", commandName(f.oeb[0]), "state", s.state.String())
	}
	if e, ok := asESID(cmd); ok {
		return nil, s.partnerESID(e)
	}
	return cmd, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func asESID(c wire.Command) (*wire.ESID, bool) {
	if e, ok := c.(wire.ESID); ok {
		return &e, true
	}
	return nil, false
}

// partnerESID ends the session on a received ESID. A normal end is only normal in
// IDLELICD; anywhere else the RFC reports it as an abort, which we keep as a
// ReasonError with code 0 so that callers can tell.
func (s *session) partnerESID(e *wire.ESID) error {
	text := e.Text
	if text == "" {
		text = reasonText("ESID", e.Reason)
	}
	var err error
	if e.Reason == ESIDNormal && s.state == stIdleListenerCD {
		s.log.Info("session ended by partner")
		err = nil
	} else {
		re := &ReasonError{Cmd: "ESID", Code: e.Reason, Text: text}
		if e.Reason == ESIDNormal {
			re.Err = fmt.Errorf("partner ended the session out of turn in state %v", s.state)
		}
		s.log.Warn("session ended by partner", "reason", e.Reason, "text", text)
		err = re
	}
	s.end(err)
	return s.endErr(err)
}

// endErr is what an operation returns when the session ended under it.
func (s *session) endErr(err error) error {
	if err == nil {
		return ErrSessionClosed
	}
	return err
}

// flush pushes buffered output to the connection.
func (s *session) flush() error {
	if s.bw.Buffered() == 0 {
		return nil
	}
	s.refreshDeadline()
	if err := s.bw.Flush(); err != nil {
		return s.lostWrite(err)
	}
	return nil
}

// refreshDeadline keeps a write deadline between Timeout/2 and Timeout ahead, so that a
// partner that stops reading cannot block us forever, without a system call per write.
func (s *session) refreshDeadline() {
	now := time.Now()
	if s.deadline.Sub(now) > s.opts.Timeout/2 {
		return
	}
	s.deadline = now.Add(s.opts.Timeout)
	_ = s.conn.SetWriteDeadline(s.deadline)
}

// send encodes and writes one command. An encoding error (our value breaks the RFC)
// is returned as is and nothing is written.
func (s *session) send(c wire.Command) error {
	b, err := wire.Encode(s.encBuf[:0], c, s.lvl)
	if err != nil {
		return err
	}
	s.encBuf = b
	if err := s.writeOEB(b); err != nil {
		return err
	}
	if c.Code() != wire.CodeDATA && s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("sent", "cmd", c.Name(), "state", s.state.String())
	}
	return nil
}

func (s *session) writeOEB(b []byte) error {
	s.refreshDeadline()
	s.trail(Outgoing, b)
	// Everything goes through the 256 KiB buffer: several DATA buffers share one write
	// system call. STH and buffer are written separately, which the buffering makes
	// cheap and which saves copying the buffer once more.
	s.sth = wire.AppendSTH(s.sth[:0], len(b))
	if _, err := s.bw.Write(s.sth); err != nil {
		return s.lostWrite(err)
	}
	if _, err := s.bw.Write(b); err != nil {
		return s.lostWrite(err)
	}
	return nil
}

// lostWrite handles a failed write: a partner that aborted with ESID and closed at once
// (captures deviation 7) makes our write fail before we read its ESID, so look for it
// first and report the partner's reason.
func (s *session) lostWrite(err error) error {
	if s.state == stEnded {
		return s.endErr(s.err)
	}
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) {
		s.release()
		t := time.NewTimer(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case f := <-s.frames:
				if f.err == nil && len(f.oeb) > 0 && f.oeb[0] == wire.CodeESID {
					_, perr := s.take(f)
					return perr
				}
				if f.err != nil {
					return s.lost(err)
				}
				// Anything else the partner still sent is moot now.
				s.pending = true
				s.release()
				continue
			case <-t.C:
			}
			break
		}
	}
	return s.lost(err)
}

// lost ends the session after a network failure.
func (s *session) lost(err error) error {
	if s.state == stEnded {
		return s.endErr(s.err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// The partner stopped reading for longer than the inactivity timeout.
		e := localESID(ESIDTimeout, fmt.Errorf("partner stopped reading: %w", err))
		s.end(e)
		return e
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: partner closed the connection in state %v", ErrConnectionLost, s.state)
	} else if !errors.Is(err, ErrConnectionLost) {
		err = fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	s.end(err)
	return err
}

// abort sends ESID with an error reason and ends the session.
func (s *session) abort(code int, cause error) error {
	e := localESID(code, cause)
	if s.state == stEnded {
		return s.endErr(s.err)
	}
	s.log.Warn("aborting session", "reason", code, "cause", cause)
	text := ""
	if wire.NormalizeLevel(s.lvl) >= wire.Level20 {
		text = e.Text
	}
	// Best effort within a short deadline: the partner may be gone or not reading.
	// Output not yet written (DATA, typically) is dropped: the ESID must not wait
	// behind it.
	s.bw.Reset(s.conn)
	_ = s.conn.SetWriteDeadline(time.Now().Add(min(s.opts.Timeout, 5*time.Second)))
	if b, err := wire.Encode(nil, &wire.ESID{Reason: code, Text: text}, s.lvl); err == nil {
		s.trail(Outgoing, b)
		if s.wr.WriteBuffer(b) == nil {
			_ = s.bw.Flush()
		}
	}
	s.end(e)
	return e
}

// end records the outcome and closes the connection once.
func (s *session) end(err error) {
	if s.state == stEnded {
		return
	}
	s.state = stEnded
	s.err = err
	close(s.done)
	_ = s.conn.Close()
}

// closed reports the outcome to Events.SessionEnd; the owner calls it once the session
// goroutine has finished its cleanup (sinks aborted or suspended).
func (s *session) closed() {
	if s.opts.Events.SessionEnd != nil {
		s.opts.Events.SessionEnd(s.info, s.err)
	}
}

// endNormally sends ESID 00 from IDLESPCD and closes.
func (s *session) endNormally() error {
	if err := s.send(&wire.ESID{Reason: ESIDNormal}); err != nil {
		return err
	}
	if err := s.flush(); err != nil {
		return err
	}
	if !s.opts.DisconnectAfterEndSession {
		// WF_NDISC: wait for the partner to close, ignoring anything it still sends.
		s.release()
		t := time.NewTimer(s.opts.Timeout)
		defer t.Stop()
	wait:
		for {
			select {
			case f := <-s.frames:
				if f.err != nil {
					break wait
				}
				s.pending = true
				s.release()
			case <-t.C:
				break wait
			}
		}
	}
	s.log.Info("session ended")
	s.end(nil)
	return nil
}

func trim(s string) string { return strings.TrimRight(s, " ") }

// --- session set-up -------------------------------------------------------------------

func (s *session) ownSSID(password string, mode wire.Mode, lvl wire.Level) *wire.SSID {
	return &wire.SSID{
		Level:       lvl,
		ID:          s.opts.SSIDCode,
		Password:    password,
		BufferSize:  s.opts.ExchangeBufferSize,
		Mode:        mode,
		Compression: s.opts.Compress,
		Restart:     s.opts.Restart,
		Credit:      s.opts.CreditCount,
		SecureAuth:  s.opts.SecureAuthentication && wire.NormalizeLevel(lvl) >= wire.Level20,
		User:        s.opts.UserData,
	}
}

// handshakeInitiator runs I_WF_RM and I_WF_SSID.
func (s *session) handshakeInitiator(ctx context.Context) error {
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	if cmd.Code() != wire.CodeSSRM {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected SSRM, got %s", cmd.Name()))
	}
	mode := s.opts.ConnectionType.mode()
	if err := s.send(s.ownSSID(s.opts.Password, mode, s.ownLevel)); err != nil {
		return s.setupSendErr(err)
	}
	cmd, err = s.recv(ctx)
	if err != nil {
		return err
	}
	resp, ok := cmd.(wire.SSID)
	if !ok {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected SSID, got %s", cmd.Name()))
	}
	s.info.RequestedLevel = versionOf(s.ownLevel)
	pl := wire.NormalizeLevel(resp.Level)
	own := wire.NormalizeLevel(s.ownLevel)
	switch {
	case pl == 0:
		return s.abort(ESIDIncompatible, fmt.Errorf("responder answered undefined level %d", int(resp.Level)))
	case pl > own:
		// A responder must not answer above the proposal (captures deviation 4).
		return s.abort(ESIDIncompatible, fmt.Errorf("responder answered level %v above our %v", versionOf(pl), versionOf(own)))
	case pl != own && s.opts.EnforceProtocolVersion:
		return s.abort(ESIDIncompatible, fmt.Errorf("responder runs %v, we enforce %v", versionOf(pl), versionOf(own)))
	}
	s.lvl = pl
	if s.opts.PartnerSSIDCode != "" && trim(resp.ID) != s.opts.PartnerSSIDCode {
		return s.abort(ESIDUnknownUser, fmt.Errorf("responder identified as %q", trim(resp.ID)))
	}
	if s.opts.PartnerPassword != "" && trim(resp.Password) != s.opts.PartnerPassword {
		return s.abort(ESIDInvalidPassword, errors.New("responder password does not match"))
	}
	if err := s.negotiate(&resp, mode); err != nil {
		return err
	}
	if s.info.SecureAuth != (s.opts.SecureAuthentication && pl >= wire.Level20) {
		return s.abort(ESIDSecureAuth, errors.New("secure authentication requirements differ"))
	}
	if s.info.SecureAuth {
		if err := s.authInitiator(ctx); err != nil {
			return err
		}
	}
	s.state = stIdleSpeaker
	s.started()
	return nil
}

// setupSendErr turns an encoding failure of our own SSID into a clear error.
func (s *session) setupSendErr(err error) error {
	var ee *wire.EncodeError
	if errors.As(err, &ee) {
		e := fmt.Errorf("oftp: invalid session options: %w", err)
		s.end(e)
		return e
	}
	return err
}

// maxCommandBuffer bounds the commands we accept after the start of the session. The
// longest that matter are EERP and NERP carrying a CMS signature (whose length field
// would allow 64 KiB): a signature with its certificate chain takes a few KiB, so 32 KiB
// leaves ample room while a partner cannot make us read a buffer near 99999 octets.
// Secure authentication, with its AUCH challenge, is over before the bound applies.
const maxCommandBuffer = 32 << 10

// negotiate applies the partner's SSID values: the smaller buffer and credit, features
// only when both offer them, and the file directions both modes allow.
func (s *session) negotiate(p *wire.SSID, ownMode wire.Mode) error {
	if p.BufferSize < 128 || p.Credit < 1 {
		return s.abort(ESIDIncompatible, fmt.Errorf("partner offers buffer %d, credit %d", p.BufferSize, p.Credit))
	}
	if s.initiator && p.Credit > s.opts.CreditCount {
		// §5.3.2 SSIDCRED: the responder may only answer an equal or smaller window,
		// "otherwise a protocol error will abort the session".
		return s.abort(ESIDIncompatible, fmt.Errorf("responder answered credit %d above our %d", p.Credit, s.opts.CreditCount))
	}
	// SSIDSDEB is different: "the smallest is selected", so a larger answer is simply
	// not used.
	s.bufSize = min(s.opts.ExchangeBufferSize, p.BufferSize)
	s.window = min(s.opts.CreditCount, p.Credit)
	s.compress = s.opts.Compress && p.Compression
	s.restart = s.opts.Restart && p.Restart
	s.canSend = ownMode != wire.ModeReceiver && p.Mode != wire.ModeSender
	s.canRecv = ownMode != wire.ModeSender && p.Mode != wire.ModeReceiver
	if !s.canSend && !s.canRecv {
		return s.abort(ESIDIncompatible, fmt.Errorf("modes %c and %c leave no direction", ownMode, p.Mode))
	}
	s.info.Level = versionOf(s.lvl)
	s.info.PartnerSSID = trim(p.ID)
	s.info.PartnerUser = trim(p.User)
	s.info.BufferSize = s.bufSize
	s.info.Credit = s.window
	s.info.Compression = s.compress
	s.info.Restart = s.restart
	s.info.SecureAuth = p.SecureAuth && wire.NormalizeLevel(s.lvl) >= wire.Level20
	s.info.CanSend = s.canSend
	s.info.CanReceive = s.canRecv
	return nil
}

func (s *session) started() {
	// From the next buffer on, refuse what no command of this session can need. DATA is
	// bounded by SSIDSDEB (one octet of tolerance, see receiveFile), but commands may be
	// longer than a small SDEB: a 2.0 SFID with its description, a signed EERP or NERP.
	s.readLimit = max(s.bufSize+1, maxCommandBuffer)
	s.log = s.log.With("partner", s.info.PartnerSSID, "level", s.info.Level.String())
	s.log.Info("session started", "buffer", s.bufSize, "credit", s.window, "compression", s.compress, "restart", s.restart)
	if s.opts.Events.SessionStart != nil {
		s.opts.Events.SessionStart(s.info)
	}
}

// handshakeResponder runs A_NC_ONLY and A_WF_CONRS.
func (s *session) handshakeResponder(ctx context.Context, lookup PartnerLookup) error {
	if err := s.send(&wire.SSRM{}); err != nil {
		return err
	}
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	req, ok := cmd.(wire.SSID)
	if !ok {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected SSID, got %s", cmd.Name()))
	}
	proposed := wire.NormalizeLevel(req.Level)
	own := wire.NormalizeLevel(s.ownLevel)
	if proposed == 0 && req.Level > wire.Level20 {
		// A future release: "the lowest level being selected" (§5.3.2) is ours.
		proposed = wire.Level20
	}
	if proposed == 0 {
		return s.abort(ESIDIncompatible, fmt.Errorf("initiator proposed undefined level %d", int(req.Level)))
	}
	// From the first answer on we use the layout of the level we will select
	// (captures deviation 3), including an ESID that refuses the SSID.
	s.lvl = min(proposed, own)
	s.info.RequestedLevel = versionOf(proposed)
	id := trim(req.ID)
	p, err := lookup.LookupPartner(ctx, id)
	if err != nil || p == nil {
		if err == nil || errors.Is(err, ErrUnknownPartner) {
			return s.abort(ESIDUnknownUser, fmt.Errorf("unknown SSID code %q", id))
		}
		return s.abort(ESIDNoResources, fmt.Errorf("partner lookup for %q: %w", id, err))
	}
	s.partner = p
	if p.Configure != nil {
		o := s.opts
		o.Receiver = nil // rebuilt from the partner's directories unless Configure sets one
		p.Configure(&o)
		if o.Receiver == nil {
			if o.DownloadDirectory == s.opts.DownloadDirectory && o.TempPath == s.opts.TempPath &&
				o.ReceivedFileNameFormat == s.opts.ReceivedFileNameFormat && o.Overwrite == s.opts.Overwrite &&
				o.DeleteOnError == s.opts.DeleteOnError {
				o.Receiver = s.opts.Receiver
			}
		}
		ro, err := o.resolved()
		if err != nil {
			return s.abort(ESIDNoResources, fmt.Errorf("options for partner %q: %w", id, err))
		}
		s.opts = ro
		s.ownLevel = ro.Version.level()
		own = wire.NormalizeLevel(s.ownLevel)
		s.lvl = min(proposed, own)
	}
	if p.Password != "" && trim(req.Password) != p.Password {
		return s.abort(ESIDInvalidPassword, fmt.Errorf("wrong password from %q", id))
	}
	if s.opts.EnforceProtocolVersion && proposed != own {
		return s.abort(ESIDIncompatible, fmt.Errorf("initiator proposed %v, we enforce %v", versionOf(proposed), versionOf(own)))
	}
	cfg := s.opts.ConnectionType.mode()
	var mode wire.Mode
	switch req.Mode {
	case wire.ModeSender:
		mode = wire.ModeReceiver
		if cfg == wire.ModeSender {
			return s.abort(ESIDIncompatible, errors.New("initiator only sends and we only send"))
		}
	case wire.ModeReceiver:
		mode = wire.ModeSender
		if cfg == wire.ModeReceiver {
			return s.abort(ESIDIncompatible, errors.New("initiator only receives and we only receive"))
		}
	default:
		mode = cfg
	}
	wantAuth := s.opts.SecureAuthentication
	if wantAuth != (req.SecureAuth && proposed >= wire.Level20) {
		return s.abort(ESIDSecureAuth, errors.New("secure authentication requirements differ"))
	}
	if err := s.negotiate(&req, mode); err != nil {
		return err
	}
	// Answer the proposal's own level value when we select it (an RFC 2204 peer's "1"
	// stays "1"); never answer above it (captures deviation 4).
	ansLevel := s.lvl
	if s.lvl == wire.NormalizeLevel(req.Level) {
		ansLevel = req.Level
	}
	pw := p.LocalPassword
	if pw == "" {
		pw = s.opts.Password
	}
	ans := s.ownSSID(pw, mode, ansLevel)
	ans.BufferSize = s.bufSize
	ans.Credit = s.window
	ans.Compression = s.compress
	ans.Restart = s.restart
	if err := s.send(ans); err != nil {
		return s.setupSendErr(err)
	}
	if s.info.SecureAuth {
		if err := s.authResponder(ctx); err != nil {
			return err
		}
	}
	s.state = stIdleListener
	s.started()
	return nil
}

// authInitiator runs the initiator side of secure authentication (§4.2.3).
func (s *session) authInitiator(ctx context.Context) error {
	if err := s.send(&wire.SECD{}); err != nil {
		return err
	}
	if err := s.answerChallenge(ctx); err != nil {
		return err
	}
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	if cmd.Code() != wire.CodeSECD {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected SECD, got %s", cmd.Name()))
	}
	return s.challenge(ctx)
}

// authResponder runs the responder side of secure authentication.
func (s *session) authResponder(ctx context.Context) error {
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	if cmd.Code() != wire.CodeSECD {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected SECD, got %s", cmd.Name()))
	}
	if err := s.challenge(ctx); err != nil {
		return err
	}
	if err := s.send(&wire.SECD{}); err != nil {
		return err
	}
	return s.answerChallenge(ctx)
}

// challenge sends AUCH and checks the AURP.
func (s *session) challenge(ctx context.Context) error {
	ch, want, err := s.opts.Authenticator.Challenge(ctx, s.info.PartnerSSID)
	if err != nil {
		return s.abort(ESIDChallenge, fmt.Errorf("building challenge: %w", err))
	}
	if err := s.send(&wire.AUCH{Challenge: ch}); err != nil {
		return err
	}
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	r, ok := cmd.(wire.AURP)
	if !ok {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected AURP, got %s", cmd.Name()))
	}
	if len(want) == 0 || subtle.ConstantTimeCompare(r.Response, want) != 1 {
		return s.abort(ESIDChallenge, errors.New("challenge response does not match"))
	}
	return nil
}

// answerChallenge receives AUCH and answers AURP.
func (s *session) answerChallenge(ctx context.Context) error {
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	a, ok := cmd.(wire.AUCH)
	if !ok {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected AUCH, got %s", cmd.Name()))
	}
	resp, err := s.opts.Authenticator.Respond(ctx, s.info.PartnerSSID, a.Challenge)
	if err != nil {
		return s.abort(ESIDChallenge, fmt.Errorf("answering challenge: %w", err))
	}
	return s.send(&wire.AURP{Response: resp})
}

// --- main loop --------------------------------------------------------------------------

// run drives the session until it ends. The driver supplies the speaker's work.
func (s *session) run(ctx context.Context) error {
	for s.state != stEnded {
		var err error
		switch s.state {
		case stIdleSpeaker, stIdleSpeakerCD:
			err = s.speak(ctx)
		default:
			err = s.listen(s.drv.listenContext(ctx))
		}
		if err != nil && s.state != stEnded {
			// Local failures that leave the protocol intact (a refused file, a bad
			// outgoing description) are reported by the driver; the session goes on.
			continue
		}
	}
	// Only now, once an interrupted incoming file has been removed or kept for a
	// restart: a caller told the session is over may look at the directories at once.
	s.drv.finish(s, s.err)
	return s.err
}

// speak performs one step while we hold the turn.
func (s *session) speak(ctx context.Context) error {
	if len(s.owed) > 0 {
		er := s.owed[0]
		s.owed = s.owed[1:]
		return s.sendEndResponse(ctx, &er)
	}
	return s.drv.speak(ctx, s)
}

// changeDirection gives the turn away (unsolicited CD, allowed from IDLESP only).
func (s *session) changeDirection() error {
	if s.state != stIdleSpeaker {
		return fmt.Errorf("%w: CD is not allowed in state %v", ErrNotSpeaker, s.state)
	}
	if err := s.send(&wire.CD{}); err != nil {
		return err
	}
	s.state = stIdleListenerCD
	return nil
}

// listen handles one command while we are the listener.
func (s *session) listen(ctx context.Context) error {
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	switch c := cmd.(type) {
	case wire.CD:
		switch s.state {
		case stIdleListener:
			s.state = stIdleSpeakerCD
		case stWaitCD:
			s.state = stIdleSpeaker
		default:
			// A CD right after our unsolicited CD would loop (§3.3.4.3).
			return s.abort(ESIDProtocolViolation, fmt.Errorf("CD received in state %v", s.state))
		}
		s.drv.gotTurn(s)
		return nil
	case wire.SFID:
		if s.state == stWaitCD {
			return s.abort(ESIDProtocolViolation, errors.New("SFID while waiting for CD"))
		}
		return s.receiveFile(ctx, &c)
	case wire.EERP:
		if s.state == stWaitCD {
			return s.abort(ESIDProtocolViolation, errors.New("EERP while waiting for CD"))
		}
		return s.endResponseIn(ctx, &EndResponse{DatasetName: trim(c.DatasetName), Stamp: Stamp(c.Stamp), UserData: trim(c.User),
			Destination: trim(c.Destination), Originator: trim(c.Originator), Hash: clone(c.Hash), Signature: clone(c.Signature)})
	case wire.NERP:
		if s.state == stWaitCD {
			return s.abort(ESIDProtocolViolation, errors.New("NERP while waiting for CD"))
		}
		text := c.Text
		if text == "" {
			text = reasonText("NERP", c.Reason)
		}
		return s.endResponseIn(ctx, &EndResponse{DatasetName: trim(c.DatasetName), Stamp: Stamp(c.Stamp),
			Destination: trim(c.Destination), Originator: trim(c.Originator), Creator: trim(c.Creator),
			Reason: c.Reason, Text: text, Hash: clone(c.Hash), Signature: clone(c.Signature)})
	default:
		return s.abort(ESIDProtocolViolation, fmt.Errorf("%s received in listener state %v", cmd.Name(), s.state))
	}
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// endResponseIn reports a received EERP/NERP and answers RTR (RTRP -> IDLELI).
func (s *session) endResponseIn(ctx context.Context, er *EndResponse) error {
	verr := s.verifyEndResponse(ctx, er)
	if s.opts.Events.EndResponse != nil {
		s.opts.Events.EndResponse(EndResponseEvent{Direction: Incoming, EndResponse: *er, Err: verr})
	}
	s.log.Info("end response received", "dsn", er.DatasetName, "reason", er.Reason)
	if err := s.send(&wire.RTR{}); err != nil {
		return err
	}
	s.state = stIdleListener
	return nil
}

// sendEndResponse sends an EERP or NERP and waits for RTR (WF_RTR).
func (s *session) sendEndResponse(ctx context.Context, er *EndResponse) error {
	s.signEndResponse(ctx, er)
	var c wire.Command
	if er.Negative() {
		if s.lvl < wire.Level14 {
			return fmt.Errorf("%w: NERP does not exist at level %v", ErrInvalidFile, versionOf(s.lvl))
		}
		text := ""
		if s.lvl >= wire.Level20 {
			text = er.Text
		}
		creator := er.Creator
		if creator == "" {
			creator = s.opts.SFIDCode
		}
		c = &wire.NERP{DatasetName: er.DatasetName, Stamp: wire.Stamp(er.Stamp), Destination: er.Destination,
			Originator: er.Originator, Creator: creator, Reason: er.Reason, Text: text, Hash: er.Hash, Signature: er.Signature}
	} else {
		c = &wire.EERP{DatasetName: er.DatasetName, Stamp: wire.Stamp(er.Stamp), User: er.UserData,
			Destination: er.Destination, Originator: er.Originator, Hash: er.Hash, Signature: er.Signature}
	}
	if err := s.send(c); err != nil {
		return err
	}
	if s.opts.FireEndResponseOnSend && s.opts.Events.EndResponse != nil {
		s.opts.Events.EndResponse(EndResponseEvent{Direction: Outgoing, EndResponse: *er})
	}
	cmd, err := s.recv(ctx)
	if err != nil {
		return err
	}
	if cmd.Code() != wire.CodeRTR {
		return s.abort(ESIDProtocolViolation, fmt.Errorf("expected RTR, got %s", cmd.Name()))
	}
	s.state = stIdleSpeaker
	return nil
}

// nextCounter returns the cccc of the next stamp for time t (1..9999): the ten-thousandth
// of the second, so that files of different sessions in the same second differ too, and
// always above the previous one within the same second of this session.
func (s *session) nextCounter(t time.Time) int {
	c := min(t.Nanosecond()/100_000+1, 9999)
	sec := t.Unix()
	if sec == s.counterSec && c <= s.counter {
		c = s.counter%9999 + 1
	}
	s.counter, s.counterSec = c, sec
	return c
}

// restartOctets converts a restart position to the file octets before it, where the
// format allows (U: 1 KiB blocks, F: whole records; V needs the sink or source to tell).
func restartOctets(asU bool, format Format, lrecl int, pos int64) int64 {
	switch {
	case asU:
		return pos * 1024
	case format == FormatFixed:
		return pos * int64(lrecl)
	}
	return 0
}
