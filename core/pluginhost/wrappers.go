package pluginhost

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"

	"github.com/oftp2/connector/sdk"
)

// Sink returns the plugin's sink. Every Open runs on a live process: a
// plugin that died since the last call is restarted first.
func (p *Plugin) Sink() sdk.Sink { return hostSink{p} }

// Source returns the plugin's source; it implements sdk.Watcher when the
// plugin does.
func (p *Plugin) Source() sdk.Source { return hostSource{p} }

// Keys returns the plugin's key operations.
func (p *Plugin) Keys() sdk.Keys { return hostKeys{p} }

type hostSink struct{ p *Plugin }

func (s hostSink) Open(ctx context.Context, meta sdk.FileMeta) (sdk.SinkWriter, error) {
	if err := s.p.require("open", func(c sdk.Capabilities) bool { return c.Sink }); err != nil {
		return nil, err
	}
	inst, err := s.p.instance(ctx)
	if err != nil {
		return nil, err
	}
	w, err := inst.remote.Sink().Open(ctx, meta)
	if err != nil {
		return nil, s.p.fault(inst, "open", err)
	}
	return &hostWriter{p: s.p, inst: inst, w: w}, nil
}

// hostWriter reports a plugin's death as a retryable *PluginError.
type hostWriter struct {
	p    *Plugin
	inst *instance
	w    sdk.SinkWriter
}

func (w *hostWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	return n, w.p.fault(w.inst, "write", err)
}

func (w *hostWriter) Commit(ctx context.Context) (sdk.ObjectRef, error) {
	ref, err := w.w.Commit(ctx)
	return ref, w.p.fault(w.inst, "commit", err)
}

func (w *hostWriter) Abort(ctx context.Context) error {
	return w.p.fault(w.inst, "abort", w.w.Abort(ctx))
}

type hostSource struct{ p *Plugin }

func (s hostSource) call(ctx context.Context, op string, idempotent bool, fn func(sdk.Source) error) error {
	if err := s.p.require(op, func(c sdk.Capabilities) bool { return c.Source }); err != nil {
		return err
	}
	return s.p.call(ctx, op, idempotent, func(inst *instance) error { return fn(inst.remote.Source()) })
}

func (s hostSource) List(ctx context.Context) (files []sdk.OutgoingFile, err error) {
	err = s.call(ctx, "list", true, func(src sdk.Source) error {
		files, err = src.List(ctx)
		return err
	})
	return files, err
}

func (s hostSource) Watch(ctx context.Context, fn func(sdk.OutgoingFile) error) error {
	if err := s.p.require("watch", func(c sdk.Capabilities) bool { return c.Watch }); err != nil {
		return err
	}
	return s.call(ctx, "watch", false, func(src sdk.Source) error {
		return src.(sdk.Watcher).Watch(ctx, fn)
	})
}

func (s hostSource) Open(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	if err := s.p.require("read", func(c sdk.Capabilities) bool { return c.Source }); err != nil {
		return nil, err
	}
	var r *hostReader
	err := s.p.call(ctx, "read", true, func(inst *instance) error {
		rc, err := inst.remote.Source().Open(ctx, id, offset)
		if err == nil {
			r = &hostReader{p: s.p, inst: inst, rc: rc}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

type hostReader struct {
	p    *Plugin
	inst *instance
	rc   io.ReadCloser
}

func (r *hostReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	if err == io.EOF {
		return n, err
	}
	return n, r.p.fault(r.inst, "read", err)
}

func (r *hostReader) Close() error { return r.rc.Close() }

func (s hostSource) Ack(ctx context.Context, id string, receipt sdk.Receipt) error {
	return s.call(ctx, "ack", false, func(src sdk.Source) error { return src.Ack(ctx, id, receipt) })
}

func (s hostSource) Nack(ctx context.Context, id string, reason sdk.NackReason) error {
	return s.call(ctx, "nack", false, func(src sdk.Source) error { return src.Nack(ctx, id, reason) })
}

type hostKeys struct{ p *Plugin }

// Key operations have no side effects, so a call that met a dead plugin is
// repeated once on a fresh process.
func (k hostKeys) call(ctx context.Context, op string, fn func(sdk.Keys) error) error {
	if err := k.p.require(op, func(c sdk.Capabilities) bool { return c.Keys }); err != nil {
		return err
	}
	return k.p.call(ctx, op, true, func(inst *instance) error { return fn(inst.remote.Keys()) })
}

func (k hostKeys) Certificate(ctx context.Context, keyID string) (chain []*x509.Certificate, err error) {
	err = k.call(ctx, "certificate", func(keys sdk.Keys) error {
		chain, err = keys.Certificate(ctx, keyID)
		return err
	})
	return chain, err
}

func (k hostKeys) Sign(ctx context.Context, keyID string, digest []byte, hash crypto.Hash, pss bool) (sig []byte, err error) {
	err = k.call(ctx, "sign", func(keys sdk.Keys) error {
		sig, err = keys.Sign(ctx, keyID, digest, hash, pss)
		return err
	})
	return sig, err
}

func (k hostKeys) Decrypt(ctx context.Context, keyID string, wrapped []byte, oaep bool, hash crypto.Hash) (key []byte, err error) {
	err = k.call(ctx, "decrypt", func(keys sdk.Keys) error {
		key, err = keys.Decrypt(ctx, keyID, wrapped, oaep, hash)
		return err
	})
	return key, err
}

// call runs fn on a live process. An idempotent call that fails because the
// process died is repeated once on a fresh process; others report the death
// and leave the decision to the caller (an Ack may have been applied).
func (p *Plugin) call(ctx context.Context, op string, idempotent bool, fn func(*instance) error) error {
	for attempt := 0; ; attempt++ {
		inst, err := p.instance(ctx)
		if err != nil {
			return err
		}
		err = p.fault(inst, op, fn(inst))
		if err == nil || !idempotent || attempt > 0 || ctx.Err() != nil ||
			!(errors.Is(err, ErrExited) || errors.Is(err, sdk.ErrConnection)) {
			return err
		}
		p.log.Info("repeating the call on a fresh plugin process", "op", op)
	}
}
