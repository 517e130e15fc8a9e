package oftp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Partner is what a responder knows about an initiator, found by its SSID code.
type Partner struct {
	SSIDCode string
	// SFIDCode is the partner's code in files: the originator we accept unless
	// AcceptAnySFIDCode (empty: Options.PartnerSFIDCode, and no check if that is empty).
	SFIDCode string
	// Password is what the partner must send in SSIDPSWD; empty accepts any.
	Password string
	// LocalPassword is what we send to this partner; empty uses Options.Password.
	LocalPassword string
	// Outbox supplies files and end responses to send when the partner gives us the turn.
	Outbox Outbox
	// Receiver overrides Options.Receiver for this partner.
	Receiver Receiver
	// Configure, when set, adjusts the server's options for this partner (version,
	// buffer size, credit, compression, timeouts, directories...) before we answer its
	// SSID.
	Configure func(o *Options)
}

// PartnerLookup finds a partner by SSID code; ErrUnknownPartner answers ESID 03, other
// errors ESID 08 (resources not available).
type PartnerLookup interface {
	LookupPartner(ctx context.Context, ssidCode string) (*Partner, error)
}

// PartnerLookupFunc adapts a function to PartnerLookup.
type PartnerLookupFunc func(ctx context.Context, ssidCode string) (*Partner, error)

// LookupPartner calls f.
func (f PartnerLookupFunc) LookupPartner(ctx context.Context, ssidCode string) (*Partner, error) {
	return f(ctx, ssidCode)
}

// Partners is a fixed set of partners keyed by SSID code.
type Partners map[string]*Partner

// LookupPartner implements PartnerLookup.
func (p Partners) LookupPartner(_ context.Context, ssidCode string) (*Partner, error) {
	if pt, ok := p[ssidCode]; ok {
		return pt, nil
	}
	return nil, ErrUnknownPartner
}

// OutboxItem is one item of an Outbox: a file or an end response.
type OutboxItem struct {
	File        *OutgoingFile
	EndResponse *EndResponse
}

// Outbox supplies what a responder sends when it holds the turn.
type Outbox interface {
	// Next returns the next item, or nil when there is nothing (more) for this session.
	Next(ctx context.Context) (*OutboxItem, error)
	// Done reports the outcome of an item: nil after EFPA or RTR, else the error
	// (*ReasonError for SFNA/EFNA). Next must not return the same item again in this
	// session.
	Done(ctx context.Context, item *OutboxItem, res TransferResult, err error)
}

// SliceOutbox is an in-memory Outbox that hands out its items in order.
type SliceOutbox struct {
	mu      sync.Mutex
	Items   []*OutboxItem
	Results []error // one per item handed out, in order
}

// Next implements Outbox.
func (o *SliceOutbox) Next(context.Context) (*OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.Items) == 0 {
		return nil, nil
	}
	it := o.Items[0]
	o.Items = o.Items[1:]
	return it, nil
}

// Done implements Outbox.
func (o *SliceOutbox) Done(_ context.Context, _ *OutboxItem, _ TransferResult, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Results = append(o.Results, err)
}

// Server is an OFTP responder: it accepts connections, greets with SSRM, checks the
// initiator against Partners, receives files and, when it gets the turn, sends what the
// partner's Outbox holds.
type Server struct {
	// Options configure our side; PartnerSSIDCode/PartnerPassword are used as the only
	// partner when Partners is nil.
	Options Options
	// Partners finds initiators by SSID code.
	Partners PartnerLookup

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("oftp: server closed")

// ListenAndServe listens on addr (":3305", or ":6619" with TLS, when empty) and serves.
func (srv *Server) ListenAndServe(addr string) error {
	if addr == "" {
		port := PortTCP
		if srv.Options.TLSConfig != nil {
			port = PortTLS
		}
		addr = ":" + strconv.Itoa(port)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return srv.Serve(l)
}

// Serve accepts connections on l and runs one session per connection until Close.
func (srv *Server) Serve(l net.Listener) error {
	opts, err := srv.Options.resolved()
	if err != nil {
		return err
	}
	srv.mu.Lock()
	if srv.closed {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	if srv.listeners == nil {
		srv.listeners = map[net.Listener]struct{}{}
	}
	srv.listeners[l] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, l)
		srv.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			srv.mu.Lock()
			closed := srv.closed
			srv.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		// Register under the lock that Close takes, so Close never waits while a new
		// session is being added.
		srv.mu.Lock()
		if srv.closed {
			srv.mu.Unlock()
			conn.Close()
			return ErrServerClosed
		}
		srv.wg.Add(1)
		srv.mu.Unlock()
		go func() {
			defer srv.wg.Done()
			_ = srv.serveConn(context.Background(), conn, opts)
		}()
	}
}

// ServeConn runs one responder session on an accepted connection and returns its outcome
// (nil for a normal end).
func (srv *Server) ServeConn(ctx context.Context, conn net.Conn) error {
	opts, err := srv.Options.resolved()
	if err != nil {
		conn.Close()
		return err
	}
	return srv.serveConn(ctx, conn, opts)
}

func (srv *Server) serveConn(ctx context.Context, conn net.Conn, opts Options) error {
	if !srv.track(conn, true) {
		conn.Close()
		return ErrServerClosed
	}
	defer srv.track(conn, false)
	if opts.TLSConfig != nil {
		tc := tls.Server(conn, opts.TLSConfig)
		hctx, cancel := context.WithTimeout(ctx, opts.Timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			opts.Logger.Warn("TLS handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			err = fmt.Errorf("oftp: TLS handshake: %w", err)
			if opts.Events.SessionEnd != nil {
				opts.Events.SessionEnd(SessionInfo{RemoteAddr: conn.RemoteAddr().String()}, err)
			}
			return err
		}
		conn = tc
	}
	s := newSession(conn, opts, false)
	d := &serverDriver{}
	s.drv = d
	lookup := srv.Partners
	if lookup == nil {
		lookup = Partners{opts.PartnerSSIDCode: {SSIDCode: opts.PartnerSSIDCode, Password: opts.PartnerPassword, SFIDCode: opts.PartnerSFIDCode}}
	}
	defer s.closed()
	if err := s.handshakeResponder(ctx, lookup); err != nil {
		if s.state != stEnded {
			s.end(err)
		}
		return err
	}
	d.outbox = s.partner.Outbox
	return s.run(ctx)
}

func (srv *Server) track(c net.Conn, add bool) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if add {
		if srv.closed {
			return false
		}
		if srv.conns == nil {
			srv.conns = map[net.Conn]struct{}{}
		}
		srv.conns[c] = struct{}{}
		return true
	}
	delete(srv.conns, c)
	return true
}

// Close stops the listeners and drops every session at once.
func (srv *Server) Close() error {
	srv.mu.Lock()
	srv.closed = true
	for l := range srv.listeners {
		l.Close()
	}
	for c := range srv.conns {
		c.Close()
	}
	srv.mu.Unlock()
	srv.wg.Wait()
	return nil
}

// Shutdown stops accepting and waits for running sessions to end, or for ctx; then it
// drops what is left.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closed = true
	for l := range srv.listeners {
		l.Close()
	}
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.Close()
		return ctx.Err()
	}
}

// serverDriver sends the outbox when we hold the turn, then gives the turn back or ends.
type serverDriver struct {
	outbox Outbox
}

func (d *serverDriver) gotTurn(*session)       {}
func (d *serverDriver) finish(*session, error) {}

func (d *serverDriver) listenContext(base context.Context) context.Context { return base }

func (d *serverDriver) speak(ctx context.Context, s *session) error {
	if d.outbox != nil {
		item, err := d.outbox.Next(ctx)
		if err != nil {
			s.log.Warn("outbox failed", "err", err)
		}
		if item != nil {
			var res TransferResult
			switch {
			case item.File != nil:
				res, err = s.sendFile(ctx, item.File)
			case item.EndResponse != nil:
				err = s.sendEndResponse(ctx, item.EndResponse)
			}
			d.outbox.Done(ctx, item, res, err)
			return err
		}
	}
	if s.state == stIdleSpeakerCD {
		return s.endNormally()
	}
	return s.changeDirection()
}
