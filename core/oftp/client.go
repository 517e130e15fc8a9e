package oftp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
)

// Client is the initiator of an OFTP session: it connects, logs on and then performs
// the operations its caller asks for, one at a time, while the session goroutine answers
// the partner in between (files and end responses the partner sends when it holds the
// turn are stored and acknowledged automatically).
type Client struct {
	opts Options

	mu      sync.Mutex
	conn    net.Conn
	s       *session
	reqs    chan *request
	done    chan struct{}
	err     error
	started bool
}

type reqKind int

const (
	reqSend reqKind = iota
	reqReceive
	reqCD
	reqEndResponse
	reqLogoff
)

type request struct {
	ctx   context.Context
	kind  reqKind
	file  *OutgoingFile
	er    *EndResponse
	reply chan reply
}

type reply struct {
	res   TransferResult
	files []ReceivedFile
	err   error
}

// NewClient checks opts and returns a client that is not yet connected.
func NewClient(opts Options) (*Client, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	return &Client{opts: o}, nil
}

// Dial connects to addr and logs on: Connect followed by Logon.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	c, err := NewClient(opts)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx, addr); err != nil {
		return nil, err
	}
	if err := c.Logon(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Connect opens the network connection (and the TLS handshake when TLSConfig is set)
// without starting the OFTP session. addr without a port gets 3305, or 6619 with TLS.
func (c *Client) Connect(ctx context.Context, addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return errors.New("oftp: already connected")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		port := PortTCP
		if c.opts.TLSConfig != nil {
			port = PortTLS
		}
		addr = net.JoinHostPort(addr, strconv.Itoa(port))
	}
	conn, err := c.opts.Dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("oftp: connect %s: %w", addr, err)
	}
	if c.opts.TLSConfig != nil {
		cfg := c.opts.TLSConfig.Clone()
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("oftp: TLS handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	c.conn = conn
	return nil
}

// Logon runs the start-session phase (SSRM, SSID both ways, secure authentication if
// agreed). A refusal by the partner is a *ReasonError with Cmd "ESID".
func (c *Client) Logon(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return errors.New("oftp: not connected")
	}
	if c.started {
		return errors.New("oftp: already logged on")
	}
	c.started = true
	s := newSession(c.conn, c.opts, true)
	c.s = s
	c.reqs = make(chan *request)
	c.done = make(chan struct{})
	d := &clientDriver{c: c}
	s.drv = d
	err := s.handshakeInitiator(ctx)
	if err != nil {
		if s.state != stEnded {
			s.end(err)
		}
		c.err = err
		close(c.done)
		s.closed()
		return err
	}
	go func() {
		err := s.run(context.Background())
		s.closed()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
	}()
	return nil
}

// Connected reports whether the connection is open and the session has not ended.
func (c *Client) Connected() bool {
	c.mu.Lock()
	conn, done := c.conn, c.done
	c.mu.Unlock()
	if conn == nil {
		return false
	}
	if done == nil {
		return true
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Session describes the negotiated session.
func (c *Client) Session() SessionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		return SessionInfo{}
	}
	return c.s.info
}

func (c *Client) do(ctx context.Context, r *request) reply {
	c.mu.Lock()
	reqs, done := c.reqs, c.done
	c.mu.Unlock()
	if reqs == nil {
		return reply{err: errors.New("oftp: not logged on")}
	}
	r.ctx = ctx
	r.reply = make(chan reply, 1)
	select {
	case reqs <- r:
	case <-ctx.Done():
		return reply{err: ctx.Err()}
	case <-done:
		return reply{err: c.closedErr()}
	}
	select {
	case rep := <-r.reply:
		return rep
	case <-done:
		select {
		case rep := <-r.reply:
			return rep
		default:
		}
		return reply{err: c.closedErr()}
	}
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrSessionClosed
}

// SendFile sends one virtual file and returns when the partner answered: nil after
// EFPA, a *ReasonError after SFNA or EFNA (the session stays usable), or the error that
// ended the session. Cancelling ctx during the transfer interrupts the session (ESID 05).
// If the session does not hold the turn, SendFile waits until the partner gives it back.
func (c *Client) SendFile(ctx context.Context, f *OutgoingFile) (TransferResult, error) {
	rep := c.do(ctx, &request{kind: reqSend, file: f})
	return rep.res, rep.err
}

// ReceiveFiles hands the turn to the partner (CD) and receives whatever it sends until it
// gives the turn back or ends the session. It returns the files stored since the last
// call. A session ended normally by the partner is not an error. Cancelling ctx while
// the partner holds the turn interrupts the session (ESID 05).
func (c *Client) ReceiveFiles(ctx context.Context) ([]ReceivedFile, error) {
	rep := c.do(ctx, &request{kind: reqReceive})
	if errors.Is(rep.err, ErrSessionClosed) {
		c.mu.Lock()
		serr := c.err
		c.mu.Unlock()
		if serr == nil {
			return rep.files, nil
		}
	}
	return rep.files, rep.err
}

// ChangeDirection sends an unsolicited CD and returns at once; later operations wait
// until the partner gives the turn back.
func (c *Client) ChangeDirection(ctx context.Context) error {
	return c.do(ctx, &request{kind: reqCD}).err
}

// SendEndResponse sends an EERP (Reason 0) or a NERP and waits for RTR. Use it for end
// responses owed from an earlier session, or with Options.DeferEndResponses.
func (c *Client) SendEndResponse(ctx context.Context, er EndResponse) error {
	return c.do(ctx, &request{kind: reqEndResponse, er: &er}).err
}

// Logoff ends the session as the RFC wants: end responses still owed are sent, the turn
// goes to the partner until it has nothing left, and the side that got the turn last
// with nothing to do sends ESID 00.
func (c *Client) Logoff(ctx context.Context) error {
	rep := c.do(ctx, &request{kind: reqLogoff})
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done != nil {
		// The session goroutine finishes right after the last reply.
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	if errors.Is(rep.err, ErrSessionClosed) {
		c.mu.Lock()
		serr := c.err
		c.mu.Unlock()
		return serr
	}
	return rep.err
}

// Disconnect drops the connection without ending the session (the partner sees an
// abort). It is safe to call at any time and more than once.
func (c *Client) Disconnect() error {
	c.mu.Lock()
	conn, done := c.conn, c.done
	c.mu.Unlock()
	if conn == nil {
		return nil
	}
	err := conn.Close()
	if done != nil {
		<-done
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Wait blocks until the session ended and returns its outcome (nil for a normal end).
func (c *Client) Wait() error {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done == nil {
		return errors.New("oftp: not logged on")
	}
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// clientDriver turns API requests into speaker steps.
type clientDriver struct {
	c        *Client
	waiting  *request // ReceiveFiles or Logoff waiting for the turn
	received int      // files already returned by ReceiveFiles
}

func (d *clientDriver) gotTurn(s *session) {}

// listenContext lets a ReceiveFiles or Logoff caller interrupt the session (ESID 05)
// while the partner holds the turn.
func (d *clientDriver) listenContext(base context.Context) context.Context {
	if d.waiting != nil {
		return d.waiting.ctx
	}
	return base
}

func (d *clientDriver) finish(s *session, err error) {
	if d.waiting != nil {
		d.reply(s, d.waiting, err)
		d.waiting = nil
	}
}

func (d *clientDriver) reply(s *session, r *request, err error) {
	rep := reply{err: err}
	if r.kind == reqReceive || r.kind == reqLogoff {
		rep.files = append([]ReceivedFile(nil), s.received[d.received:]...)
		d.received = len(s.received)
		if err == nil && s.state == stEnded {
			rep.err = ErrSessionClosed
		}
	}
	r.reply <- rep
}

func (d *clientDriver) speak(ctx context.Context, s *session) error {
	if w := d.waiting; w != nil {
		if w.kind == reqReceive {
			d.waiting = nil
			d.reply(s, w, nil)
		} else { // logoff
			return d.logoff(s, w)
		}
	}
	// Wait for the next request; the partner must stay silent while we hold the turn,
	// except for an abort. Hand the last buffer back to the reader so that it can
	// report a closed connection.
	if err := s.flush(); err != nil {
		return err
	}
	s.release()
	select {
	case r := <-d.c.reqs:
		return d.handle(s, r)
	case f := <-s.frames:
		cmd, err := s.take(f)
		if err != nil {
			return err
		}
		return s.abort(ESIDProtocolViolation, fmt.Errorf("%s received while we hold the turn", cmd.Name()))
	case <-ctx.Done():
		return s.abort(ESIDEmergency, context.Cause(ctx))
	}
}

func (d *clientDriver) handle(s *session, r *request) error {
	switch r.kind {
	case reqSend:
		res, err := s.sendFile(r.ctx, r.file)
		r.reply <- reply{res: res, err: err}
		return err
	case reqEndResponse:
		err := s.sendEndResponse(r.ctx, r.er)
		r.reply <- reply{err: err}
		return err
	case reqCD:
		err := s.changeDirection()
		r.reply <- reply{err: err}
		return err
	case reqReceive:
		if s.state == stIdleSpeakerCD {
			// The partner just gave us the turn and may not get it straight back
			// (§3.3.4.3): it has nothing to send.
			d.reply(s, r, nil)
			return nil
		}
		if err := s.changeDirection(); err != nil {
			r.reply <- reply{err: err}
			return err
		}
		d.waiting = r
		return nil
	case reqLogoff:
		return d.logoff(s, r)
	}
	return nil
}

// logoff ends the session from IDLESPCD, or hands over the turn and tries again when it
// comes back.
func (d *clientDriver) logoff(s *session, r *request) error {
	d.waiting = nil
	if s.state == stIdleSpeakerCD {
		err := s.endNormally()
		d.reply(s, r, err)
		return err
	}
	if err := s.changeDirection(); err != nil {
		d.reply(s, r, err)
		return err
	}
	d.waiting = r
	return nil
}
