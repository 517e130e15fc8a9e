package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/sdk"
)

// job is a source file waiting to be sent to a partner.
type job struct {
	out      *config.Outbound
	file     sdk.OutgoingFile
	key      FileKey
	attempts int
	next     time.Time // not before
	busy     bool      // a session is sending it
	gone     bool      // settled or given up; drop when released
}

func jobID(out, id string) string { return out + "\x00" + id }

// errSource marks failures of the source plugin (listing, opening): the file waits.
var errSource = errors.New("source plugin failed")

// errAnswered stops a retry: the partner's end response for the file has arrived (a
// NERP after a failed attempt, usually).
var errAnswered = errors.New("end response already received")

// answered reports whether the partner's end response for key is recorded.
func (p *Pipeline) answered(ctx context.Context, key FileKey) bool {
	e, ok, err := p.store.ExpectedFile(ctx, key)
	return err == nil && ok && e.Response != nil
}

// Watchable may be implemented by Plugins: it reports whether a plugin's source can
// push new files (sdk.Watcher), so that they need not wait for the next poll.
type Watchable interface {
	CanWatch(name string) bool
}

// pollLoop lists an outbound block's source every Poll and queues new files. A source
// that can watch also pushes files as they appear; polling stays as the safety net.
func (p *Pipeline) pollLoop(ctx context.Context, out *config.Outbound) {
	if w, ok := p.opts.Plugins.(Watchable); ok && w.CanWatch(out.Source) {
		p.loops.Add(1)
		go func() {
			defer p.loops.Done()
			p.watchLoop(ctx, out)
		}()
	}
	for {
		if err := p.Poll(ctx, out.Name); err != nil && ctx.Err() == nil {
			p.log.Warn("listing source failed", "outbound", out.Name, "source", out.Source, "err", err)
		}
		if !sleep(ctx, out.Poll) {
			return
		}
	}
}

// watchLoop queues files the source pushes, re-establishing the watch after failures.
func (p *Pipeline) watchLoop(ctx context.Context, out *config.Outbound) {
	for ctx.Err() == nil {
		src, err := p.opts.Plugins.Source(ctx, out.Source)
		if err == nil {
			w, ok := src.(sdk.Watcher)
			if !ok {
				return
			}
			err = w.Watch(ctx, func(f sdk.OutgoingFile) error {
				return p.enqueue(ctx, out, []sdk.OutgoingFile{f})
			})
		}
		if ctx.Err() != nil {
			return
		}
		if sdk.IsPermanent(err) {
			p.log.Warn("source cannot watch; polling only", "outbound", out.Name, "source", out.Source, "err", err)
			return
		}
		p.log.Warn("watching source failed; will watch again", "outbound", out.Name, "source", out.Source, "err", err)
		if !sleep(ctx, p.opts.RetryInterval) {
			return
		}
	}
}

// Poll lists the source of the named outbound block once and queues the files that are
// neither queued nor waiting for their end response.
func (p *Pipeline) Poll(ctx context.Context, outbound string) error {
	var out *config.Outbound
	for _, o := range p.cfg.Outbound {
		if o.Name == outbound {
			out = o
		}
	}
	if out == nil {
		return fmt.Errorf("pipeline: no outbound %q", outbound)
	}
	src, err := p.opts.Plugins.Source(ctx, out.Source)
	if err != nil {
		return err
	}
	files, err := src.List(ctx)
	if err != nil {
		return err
	}
	return p.enqueue(ctx, out, files)
}

// enqueue queues the files that are neither queued nor waiting for their end response.
func (p *Pipeline) enqueue(ctx context.Context, out *config.Outbound, files []sdk.OutgoingFile) error {
	ps := p.partners[out.Partner]
	// Read the expected files under the partner's lock, so that a file accepted right
	// now is either still queued or already expected.
	ps.mu.Lock()
	expected, err := p.store.ExpectedFiles(ctx)
	if err != nil {
		ps.mu.Unlock()
		return err
	}
	waiting := map[string]bool{}
	for _, e := range expected {
		if e.Accepted || e.Response != nil {
			waiting[jobID(e.Outbound, e.ID)] = true
		}
	}
	added := 0
	for _, f := range files {
		id := jobID(out.Name, f.ID)
		if waiting[id] || ps.jobs[id] != nil {
			continue
		}
		ps.jobs[id] = &job{out: out, file: f, key: p.keyOfOutgoing(out, f)}
		added++
	}
	ps.mu.Unlock()
	if added > 0 {
		p.log.Info("files queued", "outbound", out.Name, "partner", out.Partner, "count", added)
		ps.wake()
	}
	return nil
}

// claim takes the next due file for ps that skip does not exclude, marking it busy.
func (p *Pipeline) claim(ps *partner, skip map[*job]bool) *job {
	now := p.opts.Clock()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var best *job
	for _, j := range ps.jobs {
		if j.busy || j.gone || j.next.After(now) || skip[j] {
			continue
		}
		if best == nil || j.file.ID < best.file.ID {
			best = j
		}
	}
	if best != nil {
		best.busy = true
	}
	return best
}

// nextDue reports how long until the earliest waiting file is due.
func (p *Pipeline) nextDue(ps *partner) (time.Duration, bool) {
	now := p.opts.Clock()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var d time.Duration
	found := false
	for _, j := range ps.jobs {
		if j.busy || j.gone {
			continue
		}
		w := max(j.next.Sub(now), 0)
		if !found || w < d {
			d, found = w, true
		}
	}
	return d, found
}

// datasetName makes a source file name a valid SFIDDSN: upper case, and characters
// outside A-Z 0-9 space / - . & ( ) replaced by '-'.
func datasetName(name string) string {
	name = strings.ToUpper(name)
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte(" /-.&()", c) >= 0:
		default:
			b[i] = '-'
		}
	}
	return string(b)
}

// stampOf derives the virtual file stamp from the source's file time, so that a file
// keeps its identity across attempts and connector restarts.
func stampOf(m sdk.FileMeta, now time.Time) oftp.Stamp {
	t := m.DateTime
	if t.IsZero() {
		t = now
	}
	t = t.UTC()
	counter := int(m.Ticker)
	if counter == 0 {
		counter = t.Nanosecond()/100000 + 1 // 1..10000; NewStamp folds 10000 to 1
	}
	return oftp.NewStamp(t, counter)
}

func (p *Pipeline) keyOfOutgoing(out *config.Outbound, f sdk.OutgoingFile) FileKey {
	dsn := f.Meta.DatasetName
	if dsn == "" {
		dsn = f.ID
	}
	st := stampOf(f.Meta, p.opts.Clock())
	return FileKey{Originator: p.cfg.Identity.SFID, DatasetName: datasetName(dsn), Date: st.Date, Time: st.Time}
}

func format(f config.FileFormat, m sdk.Format) oftp.Format {
	switch {
	case m != "" && f == config.FormatUnstructured:
		return oftp.Format(m[0])
	case f != 0:
		return oftp.Format(f)
	}
	return oftp.FormatUnstructured
}

// prepare records the file as expected and describes it for the session.
func (p *Pipeline) prepare(ctx context.Context, ps *partner, j *job) (*oftp.OutgoingFile, error) {
	src, err := p.opts.Plugins.Source(ctx, j.out.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSource, err)
	}
	if p.answered(ctx, j.key) {
		return nil, errAnswered
	}
	if err := p.store.Expect(ctx, Expected{Partner: ps.cfg.Name, Outbound: j.out.Name, Source: j.out.Source,
		ID: j.file.ID, Key: j.key}); err != nil {
		return nil, err
	}
	m := j.file.Meta
	id := j.file.ID
	f := &oftp.OutgoingFile{
		DatasetName:   j.key.DatasetName,
		Stamp:         oftp.Stamp{Date: j.key.Date, Time: j.key.Time},
		UserData:      m.UserData,
		Originator:    j.key.Originator,
		Destination:   ps.cfg.SFID,
		Format:        format(j.out.Format, m.Format),
		MaxRecordSize: j.out.MaxRecordSize,
		Size:          m.Size,
		Description:   j.out.Description,
		Source: oftp.SourceFunc(func(ctx context.Context, offset int64) (io.ReadCloser, error) {
			return src.Open(ctx, id, offset)
		}),
	}
	if f.Description == "" {
		f.Description = m.Description
	}
	return f, nil
}

// sendJob sends one file in a client session and books the outcome.
func (p *Pipeline) sendJob(ctx context.Context, c *oftp.Client, ps *partner, j *job) error {
	f, err := p.prepare(ctx, ps, j)
	if err != nil {
		p.finishJob(ctx, ps, j, oftp.TransferResult{}, err)
		return err
	}
	res, err := c.SendFile(ctx, f)
	p.finishJob(ctx, ps, j, res, err)
	return err
}

// finishJob books the outcome of one attempt: accepted files wait for their end
// response, temporary failures back off, permanent ones are reported to the source.
func (p *Pipeline) finishJob(ctx context.Context, ps *partner, j *job, res oftp.TransferResult, err error) {
	ctx = context.WithoutCancel(ctx)
	log := p.log.With("partner", ps.cfg.Name, "outbound", j.out.Name, "file", j.file.ID, "dsn", j.key.DatasetName)
	var re *oftp.ReasonError
	errors.As(err, &re)
	switch {
	case err == nil, re != nil && re.Cmd == "SFNA" && re.Code == oftp.ReasonDuplicateFile:
		// EFPA, or the partner has the file already (an earlier attempt whose EFPA we
		// missed): its end response settles it.
		ps.mu.Lock()
		serr := p.store.Accepted(ctx, j.key)
		j.gone = true
		delete(ps.jobs, jobID(j.out.Name, j.file.ID))
		ps.mu.Unlock()
		if serr != nil {
			log.Error("recording accepted file", "err", serr)
		}
		if err != nil {
			log.Info("partner already has the file; waiting for its end response")
		} else {
			log.Info("file sent; waiting for end response", "octets", res.Octets)
		}
		return
	}
	if errors.Is(err, oftp.ErrDirection) || errors.Is(err, oftp.ErrNotSpeaker) {
		// The session could not send at all (its mode or turn): not an attempt.
		ps.mu.Lock()
		j.busy = false
		ps.mu.Unlock()
		return
	}
	permanent := false
	var reason sdk.NackReason
	switch {
	case re != nil && re.Cmd == "SFNA" && !re.Retry:
		permanent = true
		reason = sdk.NackReason{Code: re.Code, Text: "partner refused the file (SFNA " + fmt.Sprintf("%02d", re.Code) + "): " + re.Text, Permanent: true}
	case errors.Is(err, oftp.ErrInvalidFile) && !errors.Is(err, errSource) && !sdk.IsRetryable(err):
		// A file that cannot be described or opened; a source that failed for the
		// moment (a restarting plugin) is retried instead.
		permanent = true
		reason = sdk.NackReason{Text: err.Error(), Permanent: true}
	case errors.Is(err, errSource) && sdk.IsPermanent(err):
		permanent = true
		reason = sdk.NackReason{Text: err.Error(), Permanent: true}
	}
	j.attempts++
	if !permanent && j.attempts >= j.out.Retry.MaxAttempts {
		permanent = true
		reason = sdk.NackReason{Text: fmt.Sprintf("gave up after %d attempts: %v", j.attempts, err)}
		if re != nil {
			reason.Code = re.Code
		}
	}
	if errors.Is(err, errAnswered) {
		// The partner's end response is in; the settle loop tells the source.
		p.dropJob(ps, j)
		return
	}
	if permanent {
		// Forget the expectation unless the partner's end response came meanwhile: a
		// NERP then tells the source more than our refusal does.
		if serr := p.store.Unexpect(ctx, j.key); serr != nil {
			log.Error("recording refused file", "err", serr)
		}
		if p.answered(ctx, j.key) {
			p.dropJob(ps, j)
			return
		}
		log.Warn("file not delivered", "err", err, "attempts", j.attempts)
		if src, serr := p.opts.Plugins.Source(ctx, j.out.Source); serr == nil {
			if nerr := src.Nack(ctx, j.file.ID, reason); nerr != nil {
				log.Error("telling the source failed", "err", nerr)
			}
		}
		p.dropJob(ps, j)
		return
	}
	backoff := backoffAfter(j.out.Retry, j.attempts)
	log.Warn("file not delivered; will retry", "err", err, "attempt", j.attempts, "retry_in", backoff)
	ps.mu.Lock()
	j.next = p.opts.Clock().Add(backoff)
	j.busy = false
	ps.mu.Unlock()
}

func (p *Pipeline) dropJob(ps *partner, j *job) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	j.gone = true
	if ps.jobs[jobID(j.out.Name, j.file.ID)] == j {
		delete(ps.jobs, jobID(j.out.Name, j.file.ID))
	}
}

// endResponseIn books an EERP or NERP received in any session.
func (p *Pipeline) endResponseIn(er oftp.EndResponse) {
	ok, err := p.store.Respond(context.Background(), er)
	switch {
	case err != nil:
		p.log.Error("recording end response", "dsn", er.DatasetName, "err", err)
	case !ok:
		p.log.Warn("end response for a file we do not expect", "dsn", er.DatasetName, "originator", er.Originator,
			"date", er.Stamp.Date, "time", er.Stamp.Time, "reason", er.Reason)
	default:
		p.log.Info("end response received", "dsn", er.DatasetName, "reason", er.Reason)
		p.kickSettle()
	}
}

// settleLoop tells sources about the end responses received.
func (p *Pipeline) settleLoop(ctx context.Context) {
	for {
		p.settle(ctx)
		t := time.NewTimer(p.opts.RetryInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			p.settle(context.WithoutCancel(ctx))
			return
		case <-p.settleKick:
		case <-t.C:
		}
		t.Stop()
	}
}

func (p *Pipeline) settle(ctx context.Context) {
	expected, err := p.store.ExpectedFiles(ctx)
	if err != nil {
		p.log.Error("reading expected files", "err", err)
		return
	}
	for _, e := range expected {
		if e.Response == nil {
			continue
		}
		log := p.log.With("partner", e.Partner, "outbound", e.Outbound, "file", e.ID)
		src, err := p.opts.Plugins.Source(ctx, e.Source)
		if err != nil {
			log.Warn("source unavailable; end response kept", "err", err)
			continue
		}
		if e.Response.Negative() {
			err = src.Nack(ctx, e.ID, sdk.NackReason{Code: e.Response.Reason, Text: e.Response.Text, Permanent: true})
		} else {
			err = src.Ack(ctx, e.ID, sdk.Receipt{ReceivedAt: p.opts.Clock(), Reason: "EERP from " + e.Response.Originator, SignedEERP: e.Response.Signature})
		}
		if err != nil && !errors.Is(err, sdk.ErrNotFound) {
			log.Warn("telling the source failed; will retry", "err", err)
			continue
		}
		if err := p.store.Settled(ctx, e.Key); err != nil {
			log.Error("recording settled file", "err", err)
			continue
		}
		if e.Response.Negative() {
			log.Warn("partner could not deliver the file (NERP)", "reason", e.Response.Reason, "text", e.Response.Text)
		} else {
			log.Info("delivery confirmed (EERP)")
		}
	}
}

// backoffAfter is the wait after the given number of failed attempts: Backoff, doubled
// after each further failure, at most MaxBackoff.
func backoffAfter(r config.Retry, attempts int) time.Duration {
	d := r.Backoff
	for i := 1; i < attempts && d < r.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.MaxBackoff)
}
