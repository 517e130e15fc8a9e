package localfs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/oftp2/connector/sdk"
)

type storeSink struct{ s *Store }

type configuredSink struct{ c *configurable }

func (cs configuredSink) Open(ctx context.Context, meta sdk.FileMeta) (sdk.SinkWriter, error) {
	s, err := cs.c.get()
	if err != nil {
		return nil, err
	}
	return s.Sink().Open(ctx, meta)
}

// tempPrefix starts the hidden names of files being written.
const tempPrefix = ".oftp-tmp-"

func (ss storeSink) Open(ctx context.Context, meta sdk.FileMeta) (sdk.SinkWriter, error) {
	s := ss.s
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, err := CleanName(meta.ObjectName)
	if err != nil {
		return nil, err
	}
	if s.opts.Sidecar && strings.HasSuffix(name, SidecarSuffix) {
		return nil, sdk.Permanent(fmt.Errorf("object name %q ends in the sidecar suffix %s", name, SidecarSuffix))
	}
	if _, err := s.root.Lstat(name); err == nil {
		// Refuse early; Commit checks again, atomically.
		return nil, fmt.Errorf("localfs: %s: %w", name, sdk.ErrExists)
	}
	dir := path.Dir(name)
	if dir != "." {
		if err := s.root.MkdirAll(dir, 0o750); err != nil {
			return nil, sdk.Retryable(fmt.Errorf("localfs: create directory for %s: %w", name, err))
		}
	}
	tmp := path.Join(dir, tempPrefix+path.Base(name)+"-"+rand.Text()[:12])
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.opts.Perm)
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("localfs: create temporary file for %s: %w", name, err))
	}
	return &writer{ctx: ctx, s: s, meta: meta, name: name, tmp: tmp, f: f, h: sha256.New()}, nil
}

// writer writes one object to a hidden temporary file.
type writer struct {
	ctx  context.Context
	s    *Store
	meta sdk.FileMeta
	name string
	tmp  string
	f    *os.File
	h    hash.Hash
	n    int64
	// flushed is where the last early writeback ended.
	flushed int64
	done    bool
}

// writebackEvery is how much a writer buffers in the page cache before it
// starts writeback, overlapping disk I/O with receiving the rest.
const writebackEvery = 8 << 20

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("localfs: write after commit or abort")
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if w.n-w.flushed >= writebackEvery {
		startWriteback(w.f, w.flushed, w.n-w.flushed)
		w.flushed = w.n
	}
	if err != nil {
		return n, sdk.Retryable(fmt.Errorf("localfs: write %s: %w", w.name, err))
	}
	return n, nil
}

// sidecar is the JSON stored beside a file.
type sidecar struct {
	Meta   sdk.FileMeta  `json:"meta"`
	Object sdk.ObjectRef `json:"object"`
}

func (w *writer) Commit(ctx context.Context) (sdk.ObjectRef, error) {
	if w.done {
		return sdk.ObjectRef{}, errors.New("localfs: commit after commit or abort")
	}
	w.done = true
	for _, c := range []context.Context{w.ctx, ctx} {
		if err := c.Err(); err != nil {
			w.cleanup()
			return sdk.ObjectRef{}, err
		}
	}
	if err := w.f.Sync(); err != nil {
		w.cleanup()
		return sdk.ObjectRef{}, sdk.Retryable(fmt.Errorf("localfs: sync %s: %w", w.name, err))
	}
	if err := w.f.Chmod(w.s.opts.Perm); err != nil {
		w.cleanup()
		return sdk.ObjectRef{}, sdk.Retryable(fmt.Errorf("localfs: chmod %s: %w", w.name, err))
	}
	if err := w.f.Close(); err != nil {
		w.f = nil
		w.cleanup()
		return sdk.ObjectRef{}, sdk.Retryable(fmt.Errorf("localfs: close %s: %w", w.name, err))
	}
	w.f = nil
	ref := sdk.ObjectRef{
		Name:        w.name,
		Location:    filepath.Join(w.s.abs, filepath.FromSlash(w.name)),
		Size:        w.n,
		SHA256Hex:   hex.EncodeToString(w.h.Sum(nil)),
		CommittedAt: w.s.opts.Now().UTC(),
	}
	var sideTmp string
	if w.s.opts.Sidecar {
		var err error
		if sideTmp, err = w.writeSidecar(ref); err != nil {
			w.cleanup()
			return sdk.ObjectRef{}, err
		}
	}
	// Link fails when the name exists: create-only, unlike rename.
	if err := w.s.root.Link(w.tmp, w.name); err != nil {
		w.cleanup()
		if sideTmp != "" {
			_ = w.s.root.Remove(sideTmp)
		}
		if errors.Is(err, fs.ErrExist) {
			return sdk.ObjectRef{}, fmt.Errorf("localfs: %s: %w", w.name, sdk.ErrExists)
		}
		return sdk.ObjectRef{}, sdk.Retryable(fmt.Errorf("localfs: link %s: %w", w.name, err))
	}
	_ = w.s.root.Remove(w.tmp)
	if sideTmp != "" {
		if err := w.s.root.Rename(sideTmp, w.name+SidecarSuffix); err != nil {
			// The object is stored; only its metadata file is missing.
			_ = w.s.root.Remove(sideTmp)
		}
	}
	// The directories up to the root are synced too: any of them may have
	// been created for this object (by this writer or a concurrent one).
	for dir := path.Dir(w.name); ; dir = path.Dir(dir) {
		if err := syncDir(w.s.root, dir); err != nil {
			return sdk.ObjectRef{}, sdk.Retryable(fmt.Errorf("localfs: sync directory of %s: %w", w.name, err))
		}
		if dir == "." {
			break
		}
	}
	return ref, nil
}

func (w *writer) writeSidecar(ref sdk.ObjectRef) (string, error) {
	b, err := json.MarshalIndent(sidecar{Meta: w.meta, Object: ref}, "", "  ")
	if err != nil {
		return "", sdk.Permanent(fmt.Errorf("localfs: encode metadata of %s: %w", w.name, err))
	}
	tmp := w.tmp + SidecarSuffix
	f, err := w.s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, w.s.opts.Perm)
	if err != nil {
		return "", sdk.Retryable(fmt.Errorf("localfs: create metadata of %s: %w", w.name, err))
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = w.s.root.Remove(tmp)
		return "", sdk.Retryable(fmt.Errorf("localfs: write metadata of %s: %w", w.name, err))
	}
	return tmp, nil
}

func (w *writer) Abort(context.Context) error {
	if w.done {
		return nil
	}
	w.done = true
	w.cleanup()
	return nil
}

// cleanup removes the temporary file.
func (w *writer) cleanup() {
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
	_ = w.s.root.Remove(w.tmp)
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
