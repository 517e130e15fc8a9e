package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/sdk"
)

// abortTimeout bounds the clean-up of a failed file in the sink.
const abortTimeout = 30 * time.Second

// receiver routes the files one partner sends to sinks.
type receiver struct {
	p  *Pipeline
	ps *partner
}

func (p *Pipeline) receiver(ps *partner) oftp.Receiver { return &receiver{p: p, ps: ps} }

// Receiver returns the oftp.Receiver for files from the named partner, as used by the
// pipeline's own sessions; nil for an unknown partner.
func (p *Pipeline) Receiver(partnerName string) oftp.Receiver {
	ps := p.partners[partnerName]
	if ps == nil {
		return nil
	}
	return p.receiver(ps)
}

func refuse(code int, retry bool, text string, cause error) *oftp.ReasonError {
	return &oftp.ReasonError{Cmd: "SFNA", Code: code, Retry: retry, Text: text, Err: cause}
}

// route finds the inbound block for a file.
func (p *Pipeline) route(partner, dsn string) *config.Inbound {
	for _, in := range p.cfg.Inbound {
		if in.Matches(partner, dsn) {
			return in
		}
	}
	return nil
}

// Accept implements oftp.Receiver: duplicate check, routing, and opening the sink.
func (r *receiver) Accept(ctx context.Context, f *oftp.IncomingFile) (oftp.Decision, error) {
	p := r.p
	key := keyOfIncoming(f)
	log := p.log.With("partner", r.ps.cfg.Name, "dsn", f.DatasetName, "originator", f.Originator, "date", f.Stamp.Date, "time", f.Stamp.Time)
	dup, err := p.store.Received(ctx, key)
	if err != nil {
		return oftp.Decision{}, refuse(oftp.ReasonAccessMethodFailure, true, "state store unavailable", err)
	}
	if dup {
		log.Info("duplicate file refused")
		return oftp.Decision{}, refuse(oftp.ReasonDuplicateFile, false, "file already received", nil)
	}
	in := p.route(r.ps.cfg.Name, f.DatasetName)
	if in == nil {
		log.Warn("no inbound route for file")
		return oftp.Decision{}, refuse(oftp.ReasonInvalidFilename, false, "no route for this file name", nil)
	}
	if !p.beginReceive(key) {
		return oftp.Decision{}, refuse(oftp.ReasonUnspecified, true, "file is being received in another session", nil)
	}
	ok := false
	defer func() {
		if !ok {
			p.endReceive(key)
		}
	}()
	meta, err := p.meta(r.ps, f, in)
	if err != nil {
		return oftp.Decision{}, refuse(oftp.ReasonInvalidFilename, false, err.Error(), err)
	}
	sink, err := p.opts.Plugins.Sink(ctx, in.Sink)
	if err != nil {
		log.Warn("sink unavailable", "sink", in.Sink, "err", err)
		return oftp.Decision{}, refuse(oftp.ReasonAccessMethodFailure, !sdk.IsPermanent(err), "storage unavailable", err)
	}
	prev, err := p.store.Receiving(ctx, key, meta.ObjectName)
	if err != nil {
		return oftp.Decision{}, refuse(oftp.ReasonAccessMethodFailure, true, "state store unavailable", err)
	}
	if prev != "" {
		// An earlier attempt of this very file got as far as the sink: use its name, so
		// that a commit that happened just before a crash is recognised below.
		meta.ObjectName = prev
	}
	// The upload lives as long as the session; a broken session aborts it.
	w, err := sink.Open(ctx, meta)
	if err != nil {
		if prev != "" && errors.Is(err, sdk.ErrExists) {
			return oftp.Decision{}, r.recovered(ctx, key, f, prev, log)
		}
		log.Warn("sink refused the file", "sink", in.Sink, "err", err)
		if prev == "" {
			// Keep an earlier attempt's record: its commit may still be found later.
			_ = p.store.ReceivingAborted(context.WithoutCancel(ctx), key)
		}
		return oftp.Decision{}, refuse(oftp.ReasonAccessMethodFailure, !sdk.IsPermanent(err), "storage refused the file", err)
	}
	s := &sinkWriter{p: p, r: r, w: newAsyncWriter(w), key: key, f: f, object: meta.ObjectName, sinkName: in.Sink, log: log, retried: prev != ""}
	ok = true
	log.Info("receiving file", "inbound", in.Name, "sink", in.Sink, "object", meta.ObjectName)
	// The session wraps s in the security layer's IncomingTransform, when one is
	// installed: s commits only after the CMS structure verified.
	return oftp.Decision{Sink: s}, nil
}

// recovered books a file whose earlier attempt was committed by the sink just before
// the connector stopped, without the state to show for it: the file is received, its
// EERP owed, and the sender is told it has been delivered already (SFNA 13).
func (r *receiver) recovered(ctx context.Context, key FileKey, f *oftp.IncomingFile, object string, log *slog.Logger) error {
	if err := r.p.store.CommitReceived(context.WithoutCancel(ctx), key, object, r.owedEERP(key, f)); err != nil && !errors.Is(err, ErrDuplicate) {
		return refuse(oftp.ReasonAccessMethodFailure, true, "state store unavailable", err)
	}
	log.Warn("file was stored by an interrupted earlier attempt; recorded now", "object", object)
	return refuse(oftp.ReasonDuplicateFile, false, "file already received", nil)
}

// owedEERP is the positive end response for a received file.
func (r *receiver) owedEERP(key FileKey, f *oftp.IncomingFile) Owed {
	return Owed{Partner: r.ps.cfg.Name, Key: key, Response: oftp.EndResponse{
		DatasetName: f.DatasetName, Stamp: f.Stamp, UserData: f.UserData,
		Destination: f.Originator, Originator: f.Destination,
	}}
}

func (p *Pipeline) beginReceive(k FileKey) bool {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	if p.receiving[k] {
		return false
	}
	p.receiving[k] = true
	return true
}

func (p *Pipeline) endReceive(k FileKey) {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	delete(p.receiving, k)
}

// meta describes a received file for the sink, with its object name from the route's
// template.
func (p *Pipeline) meta(ps *partner, f *oftp.IncomingFile, in *config.Inbound) (sdk.FileMeta, error) {
	ft, _ := f.Stamp.Parse()
	var ticker uint16
	if len(f.Stamp.Time) == 10 {
		if n, err := strconv.Atoi(f.Stamp.Time[6:]); err == nil {
			ticker = uint16(n)
			ft = ft.Add(time.Duration(n) * 100 * time.Microsecond)
		}
	}
	guid, err := newGUID(p.opts.Rand)
	if err != nil {
		return sdk.FileMeta{}, err
	}
	name := in.ObjectName.Expand(config.NameValues{
		VirtualFileName: f.DatasetName, FileTime: ft, Originator: f.Originator,
		Destination: f.Destination, UserData: f.UserData, Now: p.opts.Clock().UTC(), GUID: guid,
	})
	m := sdk.FileMeta{
		Partner: ps.cfg.Name, DatasetName: f.DatasetName, DateTime: ft, Ticker: ticker,
		UserData: f.UserData, Originator: f.Originator, Destination: f.Destination,
		Format: sdk.Format(string(rune(f.Format))), RecordSize: f.MaxRecordSize,
		Size: f.Size * 1024, OriginalSize: f.OriginalSize * 1024, Description: f.Description,
		Encrypted: f.SecurityLevel&1 != 0, Signed: f.SecurityLevel&2 != 0,
		Compressed: f.Compressed, Enveloped: f.Enveloped, CipherSuite: f.CipherSuite,
		SignedReceiptRequested: f.SignedReceipt, ObjectName: name,
	}
	return m, nil
}

// newGUID returns a random RFC 4122 version 4 identifier.
func newGUID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("pipeline: GUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// sinkWriter streams one received file into a plugin's SinkWriter. Its Commit is the
// point where the file becomes durable and its EERP owed; the session sends EFPA only
// after it returned nil.
type sinkWriter struct {
	p        *Pipeline
	r        *receiver
	w        sdk.SinkWriter
	key      FileKey
	f        *oftp.IncomingFile
	object   string
	sinkName string
	log      *slog.Logger
	failed   error // first storage failure
	done     bool
	retried  bool // an earlier attempt of the file reached the sink
}

// errStorage is the EFNA for a sink that failed while the file was streaming: the
// sender may offer the file again (RFC 5024 lets it retry after EFNA).
func errStorage(err error) error {
	return &oftp.ReasonError{Cmd: "EFNA", Code: oftp.ReasonAccessMethodFailure,
		Text: "storage failed; send the file again", Err: err}
}

func (s *sinkWriter) Write(b []byte) (int, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	n, err := s.w.Write(b)
	if err != nil {
		s.failed = errStorage(err)
		s.log.Warn("sink failed during the file", "sink", s.sinkName, "err", err)
		return n, s.failed
	}
	return n, nil
}

// Commit makes the file durable and records the EERP it is owed, atomically with the
// duplicate-detection entry.
func (s *sinkWriter) Commit(ctx context.Context) error {
	if s.failed != nil {
		return s.failed
	}
	defer s.p.endReceive(s.key)
	s.done = true
	ref, err := s.w.Commit(ctx)
	if err != nil && s.retried && errors.Is(err, sdk.ErrExists) {
		// The earlier attempt committed this file before a crash; this copy is dropped.
		s.log.Warn("file was stored by an interrupted earlier attempt; recorded now", "object", s.object)
		ref, err = sdk.ObjectRef{Name: s.object}, nil
	}
	if err != nil {
		s.failed = err
		s.log.Warn("sink could not commit the file", "sink", s.sinkName, "err", err)
		s.forgetName(ctx)
		if errors.Is(err, sdk.ErrExists) {
			s.oweNERP(ctx, oftp.ReasonAccessMethodFailure, fmt.Sprintf("object %s exists already", s.object))
			return &oftp.ReasonError{Cmd: "EFNA", Code: oftp.ReasonAccessMethodFailure, Text: "object exists already", Err: err}
		}
		if sdk.IsPermanent(err) {
			s.oweNERP(ctx, oftp.ReasonAccessMethodFailure, "storage refused the file")
		}
		return errStorage(err)
	}
	if err := s.p.store.CommitReceived(context.WithoutCancel(ctx), s.key, ref.Name, s.r.owedEERP(s.key, s.f)); err != nil {
		// The object is stored but the promise to answer it is not: refuse, so the
		// sender retries and the create-only sink refuses the second copy loudly.
		s.log.Error("file stored but state not recorded", "object", ref.Name, "err", err)
		return &oftp.ReasonError{Cmd: "EFNA", Code: oftp.ReasonAccessMethodFailure, Text: "state store failed", Err: err}
	}
	s.log.Info("file delivered", "sink", s.sinkName, "object", ref.Name, "location", ref.Location, "octets", ref.Size)
	return nil
}

// oweNERP records a NERP for a file that can never be delivered (level 1.4 and later).
func (s *sinkWriter) oweNERP(ctx context.Context, answer int, text string) {
	if s.f.Level != 0 && s.f.Level < oftp.Version14 {
		return
	}
	f := s.f
	owed := Owed{Partner: s.r.ps.cfg.Name, Key: s.key, Response: oftp.EndResponse{
		DatasetName: f.DatasetName, Stamp: f.Stamp, Destination: f.Originator, Originator: f.Destination,
		Creator: s.p.cfg.Identity.SFID, Reason: oftp.NERPReasonFor(answer), Text: text,
	}}
	if err := s.p.store.AddOwed(context.WithoutCancel(ctx), owed); err != nil {
		s.log.Error("recording NERP", "err", err)
	}
}

// Abort discards the partial file in the sink.
func (s *sinkWriter) Abort(ctx context.Context) error {
	if !s.done {
		defer s.p.endReceive(s.key)
	}
	s.done = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	err := s.w.Abort(ctx)
	if err != nil {
		s.log.Warn("sink abort failed", "sink", s.sinkName, "err", err)
	} else {
		s.forgetName(ctx)
	}
	return err
}

// forgetName drops the Receiving record of a file that was not stored, unless an
// earlier attempt made it: that one may have been committed before a crash.
func (s *sinkWriter) forgetName(ctx context.Context) {
	if s.retried {
		return
	}
	if err := s.p.store.ReceivingAborted(context.WithoutCancel(ctx), s.key); err != nil {
		s.log.Error("recording aborted file", "err", err)
	}
}
