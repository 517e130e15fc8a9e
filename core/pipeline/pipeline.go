// Package pipeline turns a connector configuration into running work: it routes files
// received from partners to sink plugins, sends the files that source plugins offer to
// their partners, and keeps the promise of the product's delivery semantics.
//
// A received file is acknowledged (EFPA) only after its sink committed it, and its EERP
// is owed from that moment: it is kept in the Store and sent when we next hold the turn
// with that partner, in this session or a later one. Files sent are recorded as expected
// before they are offered, so an end response arriving in any later session settles
// them at the source (Ack after EERP, Nack after NERP or a permanent refusal).
package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/sdk"
)

// Plugins hands the pipeline the capabilities of the configured plugins by their block
// name. The pipeline asks again for every file, so a host that restarts a crashed
// plugin process gives the next file the new process.
type Plugins interface {
	Sink(ctx context.Context, name string) (sdk.Sink, error)
	Source(ctx context.Context, name string) (sdk.Source, error)
}

// Security is the OFTP 2.0 security layer: it installs CMS file services, signed
// receipts and secure authentication into a session's options. *filesec.Security
// implements it; SecurityFromConfig builds one from the configuration.
type Security interface {
	Install(o *oftp.Options)
}

// DefaultShutdownTimeout is how long running transfers may take to finish after a
// shutdown started.
const DefaultShutdownTimeout = 30 * time.Second

// Options configure a Pipeline. Config and Plugins are required.
type Options struct {
	Config  *config.Config
	Plugins Plugins
	// Store keeps durable state; nil opens a FileStore in Config.Connector.StateDir
	// (closed by Shutdown).
	Store Store
	// Security provides the OFTP 2.0 security services; nil refuses partners that
	// need them.
	Security Security
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// Clock, Rand and Dialer replace the real ones in tests.
	Clock  func() time.Time
	Rand   io.Reader
	Dialer oftp.Dialer
	// ShutdownTimeout bounds the graceful part of Shutdown (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// RetryInterval is how often failed end-response deliveries to sources and failed
	// partner calls are tried again (default 30s).
	RetryInterval time.Duration
	// Events are passed to every session (after the pipeline's own handlers).
	Events oftp.Events
}

// Pipeline is the running connector: listeners, partner calls, source polling and
// delivery to sinks.
type Pipeline struct {
	cfg      *config.Config
	opts     Options
	log      *slog.Logger
	store    Store
	ownStore bool

	partners map[string]*partner // by configured name
	bySSID   map[string]*partner

	recvMu    sync.Mutex
	receiving map[FileKey]bool // files being received right now

	settleKick chan struct{}

	mu        sync.Mutex
	started   bool
	stopping  bool
	built     []*oftp.Server // one per listener, made by New
	servers   []*oftp.Server // the ones serving
	addrs     []net.Addr
	cancel    context.CancelFunc // stops loops
	hardStop  context.CancelFunc // interrupts sessions
	loops     sync.WaitGroup
	sessionWG sync.WaitGroup
}

// New checks the configuration against what the pipeline can do and prepares it; it
// starts nothing.
func New(opts Options) (*Pipeline, error) {
	if opts.Config == nil {
		return nil, errors.New("pipeline: no configuration")
	}
	if opts.Plugins == nil {
		return nil, errors.New("pipeline: no plugins")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Dialer == nil {
		opts.Dialer = &net.Dialer{}
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 30 * time.Second
	}
	p := &Pipeline{
		cfg: opts.Config, opts: opts, log: opts.Logger,
		partners: map[string]*partner{}, bySSID: map[string]*partner{},
		receiving:  map[FileKey]bool{},
		settleKick: make(chan struct{}, 1),
	}
	for _, pc := range p.cfg.Partners {
		ps, err := p.newPartner(pc)
		if err != nil {
			return nil, err
		}
		p.partners[pc.Name] = ps
		p.bySSID[pc.SSID] = ps
	}
	for _, l := range p.cfg.Listeners {
		// TLS files are read here, so that `connector validate` reports them.
		srv, err := p.newServer(l)
		if err != nil {
			return nil, err
		}
		p.built = append(p.built, srv)
	}
	for _, in := range p.cfg.Inbound {
		if p.cfg.Plugin(in.Sink) == nil {
			return nil, fmt.Errorf("pipeline: inbound %q: no plugin %q", in.Name, in.Sink)
		}
	}
	for _, out := range p.cfg.Outbound {
		if p.cfg.Plugin(out.Source) == nil {
			return nil, fmt.Errorf("pipeline: outbound %q: no plugin %q", out.Name, out.Source)
		}
		if p.partners[out.Partner] == nil {
			return nil, fmt.Errorf("pipeline: outbound %q: no partner %q", out.Name, out.Partner)
		}
		if (out.Sign || out.Encrypt || out.Compress) && p.opts.Security == nil {
			return nil, fmt.Errorf("pipeline: outbound %q signs, encrypts or compresses files: %w", out.Name, errNoSecurity)
		}
		// Files get the protection agreed with the partner; an outbound block that asks
		// for something else would silently not get it.
		sec := p.partners[out.Partner].cfg.Security
		if out.Sign != sec.Level.Signs() || out.Encrypt != sec.Level.Encrypts() || out.Compress != sec.FileCompression {
			return nil, fmt.Errorf("pipeline: outbound %q sets sign/encrypt/compress differently from partner %q's security block; per-outbound protection is not supported, set it on the partner", out.Name, out.Partner)
		}
		if out.Sign && out.SignWith != "" && out.SignWith != p.cfg.Identity.Keys {
			return nil, fmt.Errorf("pipeline: outbound %q signs with keys %q; files are signed with the identity's keys %q", out.Name, out.SignWith, p.cfg.Identity.Keys)
		}
	}
	return p, nil
}

// Start opens the store, binds the listeners and starts polling sources and calling
// partners on their schedules. It returns once everything listens.
func (p *Pipeline) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("pipeline: already started")
	}
	p.started = true
	p.store = p.opts.Store
	if p.store == nil {
		fs, err := OpenFileStore(p.cfg.Connector.StateDir, FileStoreOptions{Clock: p.opts.Clock})
		if err != nil {
			return err
		}
		p.store, p.ownStore = fs, true
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	hardCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel, p.hardStop = cancel, hardStop

	for i, l := range p.cfg.Listeners {
		srv := p.built[i]
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			p.abortStart()
			return fmt.Errorf("pipeline: listener %q: %w", l.Name, err)
		}
		p.servers = append(p.servers, srv)
		p.addrs = append(p.addrs, ln.Addr())
		p.log.Info("listening", "listener", l.Name, "address", ln.Addr().String(), "tls", l.TLS != nil)
		p.loops.Add(1)
		go func() {
			defer p.loops.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, oftp.ErrServerClosed) {
				p.log.Error("listener stopped", "listener", l.Name, "err", err)
			}
		}()
	}
	for _, out := range p.cfg.Outbound {
		p.loops.Add(1)
		go func() {
			defer p.loops.Done()
			p.pollLoop(loopCtx, out)
		}()
	}
	for _, ps := range p.partners {
		if ps.cfg.Address == "" {
			continue
		}
		p.loops.Add(1)
		go func() {
			defer p.loops.Done()
			p.partnerLoop(loopCtx, hardCtx, ps)
		}()
	}
	p.loops.Add(1)
	go func() {
		defer p.loops.Done()
		p.settleLoop(loopCtx)
	}()
	p.kickSettle()
	return nil
}

func (p *Pipeline) abortStart() {
	p.cancel()
	p.hardStop()
	for _, s := range p.servers {
		s.Close()
	}
	if p.ownStore {
		p.store.Close()
	}
}

// Addrs returns the bound addresses of the listeners, in configuration order.
func (p *Pipeline) Addrs() []net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]net.Addr(nil), p.addrs...)
}

// Shutdown stops accepting sessions and starting transfers, lets running transfers
// finish until ctx ends or the shutdown timeout passes, then interrupts what is left
// and closes the store.
func (p *Pipeline) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if !p.started || p.stopping {
		p.mu.Unlock()
		return nil
	}
	p.stopping = true
	servers := p.servers
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, p.opts.ShutdownTimeout)
	defer cancel()
	p.cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Shutdown(ctx)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		p.sessionWG.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("pipeline: shutdown deadline reached, interrupting sessions: %w", ctx.Err())
		p.log.Warn("shutdown deadline reached; interrupting running sessions")
	}
	p.hardStop()
	for _, s := range servers {
		s.Close()
	}
	<-done
	p.loops.Wait()
	if p.ownStore {
		if cerr := p.store.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Run starts the pipeline and serves until ctx ends, then shuts down gracefully.
func (p *Pipeline) Run(ctx context.Context) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	p.log.Info("shutting down")
	return p.Shutdown(context.WithoutCancel(ctx))
}

// Store returns the pipeline's durable state (after Start).
func (p *Pipeline) Store() Store { return p.store }

func (p *Pipeline) kickSettle() {
	select {
	case p.settleKick <- struct{}{}:
	default:
	}
}

// sleep waits for d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
