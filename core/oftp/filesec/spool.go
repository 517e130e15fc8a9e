package filesec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/cms"
)

// Spooled sends (Config.SpoolDir): the protected form of a file is written to a spool
// file before SFID, so that SFIDFSIZ is exact and an interrupted transfer can resume
// at a restart point with the same octets (a new encryption would give different
// ones). The spool is found again by the file's identity, so a resend must keep the
// Stamp of the first attempt (oftp.OutgoingFile.Stamp). It is removed when the end
// response for the file arrives, or by ReleaseSpool.

type spoolMeta struct {
	Size          int64  `json:"size"`
	Suite         int    `json:"suite"`
	SignedReceipt bool   `json:"signed_receipt"`
	Hash          []byte `json:"hash,omitempty"`
	SHA1          []byte `json:"sha1,omitempty"`
}

func (s *Security) spoolPath(k fileKey) string {
	sum := sha256.Sum256([]byte(k.dsn + "\x00" + k.date + "\x00" + k.time + "\x00" + k.orig + "\x00" + k.dest))
	return filepath.Join(s.cfg.SpoolDir, "out-"+hex.EncodeToString(sum[:12])+".cms")
}

// spool produces (or finds) the spool file of g and points g at it.
func (s *Security) spool(ctx context.Context, g *oftp.OutgoingFile, ps *protectedSource, restart int64) error {
	path := s.spoolPath(ps.key)
	meta, err := readSpoolMeta(path)
	if err != nil {
		if meta, err = s.writeSpool(ctx, path, ps); err != nil {
			return err
		}
		restart = 0 // new octets: nothing of an earlier attempt applies
	}
	if ps.rec.signedReceipt {
		ps.rec.hash, ps.rec.sha1 = meta.Hash, meta.SHA1
		s.sent.put(ps.key, ps.rec)
	}
	g.Size = meta.Size
	g.RestartPosition = restart
	g.Source = oftp.FileSource{Path: path, Unstructured: true}
	return nil
}

func readSpoolMeta(path string) (*spoolMeta, error) {
	b, err := os.ReadFile(path + ".json")
	if err != nil {
		return nil, err
	}
	var m spoolMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() != m.Size {
		return nil, fmt.Errorf("filesec: spool %s has %d octets, %d expected", path, st.Size(), m.Size)
	}
	return &m, nil
}

func (s *Security) writeSpool(ctx context.Context, path string, ps *protectedSource) (*spoolMeta, error) {
	if err := os.MkdirAll(s.cfg.SpoolDir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(s.cfg.SpoolDir, ".spool-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	src, err := ps.inner.Open(ctx, 0)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	cw := &countWriter{w: tmp}
	var out io.Writer = cw
	var hasher *cms.FileHasher
	if ps.rec.signedReceipt {
		if hasher, err = cms.NewFileHasher(ps.rec.suite, ps.rec.partner.cfg.SHA1Receipts); err != nil {
			return nil, err
		}
		out = io.MultiWriter(cw, hasher)
	}
	if err := ps.produce(ctx, src, out); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	m := &spoolMeta{Size: cw.n, Suite: int(ps.rec.suite), SignedReceipt: ps.rec.signedReceipt}
	if hasher != nil {
		m.Hash, m.SHA1 = hasher.Sum(), hasher.SumSHA1()
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	tmp = nil
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	// The metadata is written last: a spool without it is incomplete and made again.
	if err := os.WriteFile(path+".json", b, 0o600); err != nil {
		os.Remove(path)
		return nil, err
	}
	return m, nil
}

// ReleaseSpool removes the spool of a file sent with Config.SpoolDir, for files whose
// end response will not come (the session removes it when it does).
func (s *Security) ReleaseSpool(f *oftp.OutgoingFile) error {
	if s.cfg.SpoolDir == "" {
		return nil
	}
	return s.releaseSpool(keyOf(f.DatasetName, f.Stamp.Date, f.Stamp.Time, f.Originator, f.Destination))
}

func (s *Security) releaseSpool(k fileKey) error {
	if s.cfg.SpoolDir == "" {
		return nil
	}
	path := s.spoolPath(k)
	err1 := os.Remove(path + ".json")
	err2 := os.Remove(path)
	if errors.Is(err1, os.ErrNotExist) && errors.Is(err2, os.ErrNotExist) {
		return nil
	}
	return errors.Join(ignoreNotExist(err1), ignoreNotExist(err2))
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
