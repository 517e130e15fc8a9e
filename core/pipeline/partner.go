package pipeline

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/transport"
)

// partner is the running state of one configured partner: the files queued for it and
// the trigger that makes its worker call it.
type partner struct {
	cfg *config.Partner
	tls *tls.Config // nil for plain TCP
	// dialer reaches the partner through its proxy; nil dials directly.
	dialer oftp.Dialer

	mu   sync.Mutex
	jobs map[string]*job // by outbound + "\x00" + source file id
	kick chan struct{}
}

func (p *Pipeline) newPartner(pc *config.Partner) (*partner, error) {
	ps := &partner{cfg: pc, jobs: map[string]*job{}, kick: make(chan struct{}, 1)}
	if partnerNeedsSecurity(pc) && p.opts.Security == nil {
		return nil, fmt.Errorf("pipeline: partner %q uses OFTP 2.0 security services (level %s): %w", pc.Name, pc.Security.Level, errNoSecurity)
	}
	var err error
	if ps.tls, err = partnerTLS(pc, p.opts.Clock, p.log); err != nil {
		return nil, err
	}
	if ps.dialer, err = partnerDialer(pc); err != nil {
		return nil, err
	}
	return ps, nil
}

func (ps *partner) wake() {
	select {
	case ps.kick <- struct{}{}:
	default:
	}
}

func version(v config.Version) oftp.Version {
	switch v {
	case config.Version12:
		return oftp.Version12
	case config.Version13:
		return oftp.Version13
	case config.Version14:
		return oftp.Version14
	}
	return oftp.Version20
}

func connectionType(c config.ConnectionType) oftp.ConnectionType {
	switch c {
	case config.ConnectionSend:
		return oftp.ConnectionSendOnly
	case config.ConnectionReceive:
		return oftp.ConnectionReceiveOnly
	}
	return oftp.ConnectionBoth
}

// baseOptions are the session options every session shares.
func (p *Pipeline) baseOptions() oftp.Options {
	o := identityOptions(p.cfg.Identity)
	// End responses are owed durably by the pipeline, never only in a session's memory.
	o.DeferEndResponses = true
	o.FireEndResponseOnSend = false
	o.AllowRetry = true
	o.Clock = p.opts.Clock
	o.Rand = p.opts.Rand
	o.Dialer = p.opts.Dialer
	o.Logger = p.log
	ev := p.opts.Events
	user := ev.EndResponse
	ev.EndResponse = func(e oftp.EndResponseEvent) {
		if e.Direction == oftp.Incoming {
			p.endResponseIn(e.EndResponse)
		}
		if user != nil {
			user(e)
		}
	}
	o.Events = ev
	return o
}

// clientOptions are the options of a session we open to ps.
func (p *Pipeline) clientOptions(ps *partner) oftp.Options {
	o := p.baseOptions()
	pc := ps.cfg
	applyPartner(&o, pc)
	o.Receiver = p.receiver(ps)
	if p.opts.Security != nil {
		p.opts.Security.Install(&o)
	}
	o.TLSConfig = ps.tls
	if ps.dialer != nil {
		o.Dialer = ps.dialer
	}
	o.Logger = p.log.With("partner", pc.Name)
	return o
}

// newServer builds the responder of a listener. Partners are found by SSID code and get
// their own receiver and outbox.
func (p *Pipeline) newServer(l *config.Listener) (*oftp.Server, error) {
	o := p.baseOptions()
	if l.TLS != nil {
		st := &transport.ServerTLS{
			CertFile:   l.TLS.CertFile,
			KeyFile:    l.TLS.KeyFile,
			MinVersion: l.TLS.MinVersion,
			Clock:      p.opts.Clock,
			Logger:     p.log,
		}
		if l.TLS.ClientCAFile != "" {
			st.ClientCAFiles = []string{l.TLS.ClientCAFile}
			st.ClientAuth = transport.OptionalClientCert
			if l.TLS.RequireClientCert {
				st.ClientAuth = transport.RequireClientCert
			}
		}
		var err error
		if o.TLSConfig, err = st.Config(); err != nil {
			return nil, fmt.Errorf("pipeline: listener %q: %w", l.Name, err)
		}
	}
	o.Logger = p.log.With("listener", l.Name)
	if p.opts.Security != nil {
		p.opts.Security.Install(&o)
	}
	lookup := oftp.PartnerLookupFunc(func(ctx context.Context, ssid string) (*oftp.Partner, error) {
		ps := p.bySSID[ssid]
		if ps == nil {
			return nil, oftp.ErrUnknownPartner
		}
		pw := ps.cfg.OurPassword.Reveal()
		return &oftp.Partner{
			SSIDCode:      ps.cfg.SSID,
			SFIDCode:      ps.cfg.SFID,
			Password:      ps.cfg.Password.Reveal(),
			LocalPassword: pw,
			Receiver:      p.receiver(ps),
			Outbox:        &outbox{p: p, ps: ps, tried: map[FileKey]bool{}, offered: map[*job]bool{}},
			// Sessions the partner opens get its settings too, not only those we open.
			Configure: func(o *oftp.Options) { applyPartner(o, ps.cfg) },
		}, nil
	})
	return &oftp.Server{Options: o, Partners: lookup}, nil
}

// partnerLoop calls a partner when files are due, when end responses are owed to it and
// on its schedule. Failed calls are retried after RetryInterval.
func (p *Pipeline) partnerLoop(ctx, hard context.Context, ps *partner) {
	sched := newSchedule(ps.cfg.Schedule, p.opts.Clock)
	for {
		wait := sched.next()
		if d, ok := p.nextDue(ps); ok && d < wait {
			wait = d
		}
		if d, ok := p.owedDue(ctx, ps); ok && d < wait {
			wait = d
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-ps.kick:
		case <-t.C:
		}
		t.Stop()
		sched.fired()
		if ctx.Err() != nil {
			return
		}
		err := p.callPartner(ctx, hard, ps)
		if err != nil {
			p.log.Warn("partner session failed", "partner", ps.cfg.Name, "err", err)
		}
		if _, owes := p.owedDue(ctx, ps); err != nil || owes {
			// Do not call again at once what just failed or could not take everything.
			if !sleep(ctx, p.opts.RetryInterval) {
				return
			}
		}
	}
}

// owedDue reports how long until the oldest end response owed to ps is worth a call of
// its own. A response gets RetryInterval to leave in the session it belongs to (the
// partner's, usually) before we call to deliver it.
func (p *Pipeline) owedDue(ctx context.Context, ps *partner) (time.Duration, bool) {
	owed, err := p.store.Owed(ctx, ps.cfg.Name)
	if err != nil || len(owed) == 0 {
		return 0, false
	}
	return max(owed[0].Since.Add(p.opts.RetryInterval).Sub(p.opts.Clock()), 0), true
}

// CallPartner opens a session to the named partner now: it delivers owed end
// responses, sends the files due, and collects what the partner has for us.
func (p *Pipeline) CallPartner(ctx context.Context, name string) error {
	ps := p.partners[name]
	if ps == nil {
		return fmt.Errorf("pipeline: no partner %q", name)
	}
	if ps.cfg.Address == "" {
		return fmt.Errorf("pipeline: partner %q has no address to call", name)
	}
	return p.callPartner(ctx, ctx, ps)
}

// callPartner runs one initiator session. ctx stops it from starting new work, hard
// interrupts the session.
func (p *Pipeline) callPartner(ctx, hard context.Context, ps *partner) error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil
	}
	p.sessionWG.Add(1)
	p.mu.Unlock()
	defer p.sessionWG.Done()

	c, err := oftp.NewClient(p.clientOptions(ps))
	if err != nil {
		return err
	}
	if err := c.Connect(hard, ps.cfg.Address); err != nil {
		return err
	}
	if err := c.Logon(hard); err != nil {
		return err
	}
	defer c.Disconnect()
	log := p.log.With("partner", ps.cfg.Name)
	info := c.Session()
	if info.CanSend {
		if err := p.sendOwed(hard, c, ps, log); err != nil {
			return err
		}
		offered := map[*job]bool{}
		for ctx.Err() == nil {
			j := p.claim(ps, offered)
			if j == nil {
				break
			}
			offered[j] = true
			if err := p.sendJob(hard, c, ps, j); err != nil && isSessionError(err) {
				return err
			}
		}
	}
	if info.CanReceive && ctx.Err() == nil {
		if _, err := c.ReceiveFiles(hard); err != nil {
			return err
		}
		if info.CanSend && ctx.Err() == nil {
			if err := p.sendOwed(hard, c, ps, log); err != nil {
				if errors.Is(err, oftp.ErrSessionClosed) {
					return nil
				}
				return err
			}
		}
	}
	err = c.Logoff(hard)
	if errors.Is(err, oftp.ErrSessionClosed) {
		return nil
	}
	return err
}

// sendOwed sends the end responses owed to ps in a client session.
func (p *Pipeline) sendOwed(ctx context.Context, c *oftp.Client, ps *partner, log *slog.Logger) error {
	owed, err := p.store.Owed(ctx, ps.cfg.Name)
	if err != nil {
		return err
	}
	for _, o := range owed {
		err := c.SendEndResponse(ctx, o.Response)
		switch {
		case err == nil:
			log.Info("end response sent", "dsn", o.Key.DatasetName, "reason", o.Response.Reason)
			if err := p.store.OwedSent(ctx, ps.cfg.Name, o.Key); err != nil {
				return err
			}
		case errors.Is(err, oftp.ErrInvalidFile):
			// A NERP a 1.3 session cannot carry: it can never be sent.
			log.Warn("end response cannot be sent at this protocol level; dropped", "dsn", o.Key.DatasetName, "err", err)
			if err := p.store.OwedSent(ctx, ps.cfg.Name, o.Key); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// isSessionError tells errors that ended the session from refusals of one file.
func isSessionError(err error) bool {
	var re *oftp.ReasonError
	if errors.As(err, &re) {
		return re.Cmd == "ESID"
	}
	return !errors.Is(err, oftp.ErrInvalidFile) && !errors.Is(err, errSource) && !errors.Is(err, errAnswered)
}

// outbox feeds a responder session: owed end responses first, then the files due for
// the partner.
type outbox struct {
	p       *Pipeline
	ps      *partner
	tried   map[FileKey]bool // end responses handed out in this session
	offered map[*job]bool    // files handed out in this session
	job     *job
}

func (o *outbox) Next(ctx context.Context) (*oftp.OutboxItem, error) {
	owed, err := o.p.store.Owed(ctx, o.ps.cfg.Name)
	if err != nil {
		return nil, err
	}
	for _, ow := range owed {
		if o.tried[ow.Key] {
			continue
		}
		o.tried[ow.Key] = true
		er := ow.Response
		return &oftp.OutboxItem{EndResponse: &er}, nil
	}
	o.p.mu.Lock()
	stopping := o.p.stopping
	o.p.mu.Unlock()
	if stopping {
		return nil, nil
	}
	for {
		// A file is offered once per session, whatever its outcome.
		j := o.p.claim(o.ps, o.offered)
		if j == nil {
			return nil, nil
		}
		o.offered[j] = true
		f, err := o.p.prepare(ctx, o.ps, j)
		if err != nil {
			o.p.finishJob(ctx, o.ps, j, oftp.TransferResult{}, err)
			continue
		}
		o.job = j
		return &oftp.OutboxItem{File: f}, nil
	}
}

func (o *outbox) Done(ctx context.Context, item *oftp.OutboxItem, res oftp.TransferResult, err error) {
	switch {
	case item.EndResponse != nil:
		key := keyOfResponse(item.EndResponse)
		if err == nil || errors.Is(err, oftp.ErrInvalidFile) {
			if serr := o.p.store.OwedSent(ctx, o.ps.cfg.Name, key); serr != nil {
				o.p.log.Error("recording sent end response", "partner", o.ps.cfg.Name, "err", serr)
			}
		}
	case item.File != nil && o.job != nil:
		j := o.job
		o.job = nil
		o.p.finishJob(ctx, o.ps, j, res, err)
	}
}

// identityOptions are the session defaults with our identity.
func identityOptions(id config.Identity) oftp.Options {
	o := oftp.DefaultOptions()
	o.SSIDCode = id.SSID
	o.SFIDCode = id.SFID
	o.Password = id.Password.Reveal()
	o.UserData = id.UserData
	return o
}

// applyPartner sets what is configured for one partner: the passwords and codes of both
// sides and the protocol settings of its sessions, in either role.
func applyPartner(o *oftp.Options, pc *config.Partner) {
	if pw := pc.OurPassword.Reveal(); pw != "" {
		o.Password = pw
	}
	o.PartnerSSIDCode = pc.SSID
	o.PartnerSFIDCode = pc.SFID
	o.PartnerPassword = pc.Password.Reveal()
	o.Version = version(pc.Version)
	o.EnforceProtocolVersion = pc.EnforceVersion
	o.ExchangeBufferSize = pc.BufferSize
	o.CreditCount = pc.Credit
	o.Compress = pc.BufferCompression
	o.Restart = pc.Restart
	o.ConnectionType = connectionType(pc.ConnectionType)
	o.Timeout = pc.Timeout
	o.AcceptAnySFIDCode = pc.AcceptAnySFID
	o.SecureAuthentication = pc.Security.SecureAuthentication
}

// partnerTLS is the TLS configuration for calling pc; nil for plain TCP.
func partnerTLS(pc *config.Partner, clock func() time.Time, log *slog.Logger) (*tls.Config, error) {
	if !pc.TLS || pc.Address == "" {
		return nil, nil
	}
	ct := &transport.ClientTLS{
		ServerName:  pc.ServerName,
		CertFile:    pc.ClientCertFile,
		KeyFile:     pc.ClientKeyFile,
		Logger:      log,
		Clock:       clock,
		SystemRoots: pc.CAFile == "",
	}
	if pc.CAFile != "" {
		ct.RootFiles = []string{pc.CAFile}
	}
	if pc.ServerFingerprint != "" {
		pin, err := transport.ParsePin("sha256:" + pc.ServerFingerprint)
		if err != nil {
			return nil, fmt.Errorf("pipeline: partner %q: %w", pc.Name, err)
		}
		ct.Pins = []transport.Pin{pin}
	}
	cfg, err := ct.ConfigFor(pc.Address)
	if err != nil {
		return nil, fmt.Errorf("pipeline: partner %q: TLS: %w", pc.Name, err)
	}
	return cfg, nil
}

// PartnerOptions are the options of a session we open to the configured partner name,
// for one-off transfers outside the service (connector send/receive --config): our
// identity, the partner's settings and TLS. The caller adds the receiver, security and
// events.
func PartnerOptions(cfg *config.Config, name string, log *slog.Logger) (oftp.Options, *config.Partner, error) {
	pc := cfg.Partner(name)
	if pc == nil {
		return oftp.Options{}, nil, fmt.Errorf("no partner %q in the configuration", name)
	}
	if pc.Address == "" {
		return oftp.Options{}, nil, fmt.Errorf("partner %q has no address to call", name)
	}
	o := identityOptions(cfg.Identity)
	applyPartner(&o, pc)
	tc, err := partnerTLS(pc, nil, log)
	if err != nil {
		return oftp.Options{}, nil, err
	}
	o.TLSConfig = tc
	d, err := partnerDialer(pc)
	if err != nil {
		return oftp.Options{}, nil, err
	}
	if d != nil {
		o.Dialer = d
	}
	o.Logger = log.With("partner", pc.Name)
	return o, pc, nil
}

// partnerDialer reaches pc through its configured proxy; nil when it has none.
func partnerDialer(pc *config.Partner) (oftp.Dialer, error) {
	if pc.Proxy == nil {
		return nil, nil
	}
	u := url.URL{Scheme: pc.Proxy.Scheme, Host: pc.Proxy.Address}
	if pc.Proxy.Username != "" {
		u.User = url.UserPassword(pc.Proxy.Username, pc.Proxy.Password.Reveal())
	}
	d, err := transport.NewDialer(u.String())
	if err != nil {
		return nil, fmt.Errorf("pipeline: partner %q: proxy: %w", pc.Name, err)
	}
	return d, nil
}
