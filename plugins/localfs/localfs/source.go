package localfs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/oftp2/connector/sdk"
)

type storeSource struct{ s *Store }

type configuredSource struct{ c *configurable }

func (cs configuredSource) List(ctx context.Context) ([]sdk.OutgoingFile, error) {
	s, err := cs.c.get()
	if err != nil {
		return nil, err
	}
	return s.Source().List(ctx)
}

func (cs configuredSource) Open(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	s, err := cs.c.get()
	if err != nil {
		return nil, err
	}
	return s.Source().Open(ctx, id, offset)
}

func (cs configuredSource) Watch(ctx context.Context, fn func(sdk.OutgoingFile) error) error {
	s, err := cs.c.get()
	if err != nil {
		return err
	}
	return s.Source().(sdk.Watcher).Watch(ctx, fn)
}

func (cs configuredSource) Ack(ctx context.Context, id string, r sdk.Receipt) error {
	s, err := cs.c.get()
	if err != nil {
		return err
	}
	return s.Source().Ack(ctx, id, r)
}

func (cs configuredSource) Nack(ctx context.Context, id string, r sdk.NackReason) error {
	s, err := cs.c.get()
	if err != nil {
		return err
	}
	return s.Source().Nack(ctx, id, r)
}

// outgoing reports whether a directory entry is a file waiting to be sent.
func (s *Store) outgoing(e fs.DirEntry) bool {
	n := e.Name()
	if !e.Type().IsRegular() || strings.HasPrefix(n, ".") {
		return false
	}
	return !strings.HasSuffix(n, SidecarSuffix) && !strings.HasSuffix(n, receiptSuffix) && !strings.HasSuffix(n, reasonSuffix)
}

const (
	receiptSuffix = ".receipt.json"
	reasonSuffix  = ".reason.json"
)

func (ss storeSource) List(ctx context.Context) ([]sdk.OutgoingFile, error) {
	s := ss.s
	d, err := s.root.Open(".")
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("localfs: open %s: %w", s.abs, err))
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("localfs: list %s: %w", s.abs, err))
	}
	var out []sdk.OutgoingFile
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !s.outgoing(e) {
			continue
		}
		meta, err := s.metaOf(e.Name())
		if errors.Is(err, fs.ErrNotExist) {
			continue // sent or removed meanwhile
		}
		if sdk.IsPermanent(err) {
			// A corrupt sidecar must not block the other files, nor may
			// the file go out with guessed metadata.
			s.opts.Logger.Warn("outbox file skipped: its metadata cannot be read", "file", e.Name(), "error", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sdk.OutgoingFile{ID: e.Name(), Meta: meta})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// metaOf describes an outbox file: from its sidecar when there is one,
// otherwise from the file itself.
func (s *Store) metaOf(name string) (sdk.FileMeta, error) {
	st, err := s.root.Stat(name)
	if err != nil {
		return sdk.FileMeta{}, err
	}
	meta := sdk.FileMeta{
		DatasetName: name,
		DateTime:    st.ModTime().UTC(),
		Format:      sdk.FormatUnstructured,
		Size:        st.Size(),
		ObjectName:  name,
	}
	if !s.opts.Sidecar {
		return meta, nil
	}
	f, err := s.root.Open(name + SidecarSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return meta, nil
	}
	if err != nil {
		return sdk.FileMeta{}, sdk.Retryable(fmt.Errorf("localfs: metadata of %s: %w", name, err))
	}
	defer f.Close()
	var sc sidecar
	// Sidecars are small; bound what a corrupt one can make us read.
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&sc); err != nil {
		return sdk.FileMeta{}, sdk.Permanent(fmt.Errorf("localfs: metadata of %s: %w", name, err))
	}
	sc.Meta.Size = st.Size()
	if sc.Meta.ObjectName == "" {
		sc.Meta.ObjectName = name
	}
	if sc.Meta.DatasetName == "" {
		sc.Meta.DatasetName = name
	}
	return sc.Meta, nil
}

// checkID accepts only names of top-level outbox files.
func checkID(id string) error {
	clean, err := CleanName(id)
	if err != nil || strings.Contains(clean, "/") {
		return fmt.Errorf("localfs: %q is not an outbox file: %w", id, sdk.ErrNotFound)
	}
	return nil
}

func (ss storeSource) Open(ctx context.Context, id string, offset int64) (io.ReadCloser, error) {
	s := ss.s
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	f, err := s.root.Open(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("localfs: %s: %w", id, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("localfs: open %s: %w", id, err))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("localfs: %s is not a regular file: %w", id, sdk.ErrNotFound)
	}
	if offset < 0 || offset > st.Size() {
		f.Close()
		return nil, sdk.Permanent(fmt.Errorf("localfs: offset %d outside %s (%d bytes)", offset, id, st.Size()))
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, sdk.Retryable(fmt.Errorf("localfs: seek %s: %w", id, err))
	}
	return &ctxReader{ctx: ctx, f: f}, nil
}

// Watch reports every outbox file once: those present when it starts, then
// new ones as polling finds them. A file that leaves the outbox and comes
// back is reported again.
func (ss storeSource) Watch(ctx context.Context, fn func(sdk.OutgoingFile) error) error {
	seen := map[string]bool{}
	t := time.NewTicker(ss.s.opts.PollInterval)
	defer t.Stop()
	for {
		files, err := ss.List(ctx)
		if err != nil {
			return err
		}
		present := make(map[string]bool, len(files))
		for _, f := range files {
			present[f.ID] = true
			if !seen[f.ID] {
				if err := fn(f); err != nil {
					return err
				}
				seen[f.ID] = true
			}
		}
		for id := range seen {
			if !present[id] {
				delete(seen, id)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ctxReader stops reading once its context ends.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}

func (r *ctxReader) Close() error { return r.f.Close() }

func (ss storeSource) Ack(ctx context.Context, id string, receipt sdk.Receipt) error {
	return ss.s.retire(ctx, id, SentDir, receiptSuffix, receipt)
}

func (ss storeSource) Nack(ctx context.Context, id string, reason sdk.NackReason) error {
	return ss.s.retire(ctx, id, FailedDir, reasonSuffix, reason)
}

// retire moves an outbox file (and its sidecar) into dir and records why
// beside it, so that it is not offered again.
func (s *Store) retire(ctx context.Context, id, dir, suffix string, record any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID(id); err != nil {
		return err
	}
	if _, err := s.root.Lstat(id); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localfs: %s: %w", id, sdk.ErrNotFound)
	}
	if err := s.root.MkdirAll(dir, 0o750); err != nil {
		return sdk.Retryable(fmt.Errorf("localfs: create %s: %w", dir, err))
	}
	target := path.Join(dir, id)
	if _, err := s.root.Lstat(target); err == nil {
		// An earlier file of the same name was retired already: keep both.
		target = path.Join(dir, id+"."+s.opts.Now().UTC().Format("20060102T150405.000000000"))
	}
	b, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		return sdk.Permanent(err)
	}
	if err := s.root.WriteFile(target+suffix, append(b, '\n'), s.opts.Perm); err != nil {
		return sdk.Retryable(fmt.Errorf("localfs: record %s: %w", target+suffix, err))
	}
	if err := s.root.Rename(id, target); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			_ = s.root.Remove(target + suffix)
			return fmt.Errorf("localfs: %s: %w", id, sdk.ErrNotFound)
		}
		return sdk.Retryable(fmt.Errorf("localfs: move %s to %s: %w", id, dir, err))
	}
	if err := s.root.Rename(id+SidecarSuffix, target+SidecarSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sdk.Retryable(fmt.Errorf("localfs: move metadata of %s: %w", id, err))
	}
	for _, d := range []string{dir, "."} {
		if err := syncDir(s.root, d); err != nil {
			return sdk.Retryable(fmt.Errorf("localfs: sync %s: %w", d, err))
		}
	}
	return nil
}
