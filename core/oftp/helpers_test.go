package oftp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// pair is a responder on 127.0.0.1 and the options for an initiator that talks to it.
type pair struct {
	t        *testing.T
	srv      *oftp.Server
	addr     string
	inbox    string // server download directory
	cliInbox string
	srvOpts  oftp.Options
	cliOpts  oftp.Options
	ends     chan error // one per server session
	mu       sync.Mutex
	eerps    []oftp.EndResponseEvent
}

func baseOptions(_ testing.TB, own, partner string) oftp.Options {
	o := oftp.DefaultOptions()
	o.SSIDCode = own
	o.Password = own[:min(len(own), 4)] + "PW"
	o.PartnerSSIDCode = partner
	o.PartnerPassword = partner[:min(len(partner), 4)] + "PW"
	o.Timeout = 10 * time.Second
	return o
}

// newPair builds options for both sides; tweak them before start.
func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{t: t, ends: make(chan error, 8)}
	p.inbox = t.TempDir()
	p.cliInbox = t.TempDir()
	p.srvOpts = baseOptions(t, "O0013SERVER", "O0013CLIENT")
	p.srvOpts.DownloadDirectory = p.inbox
	p.srvOpts.Events.SessionEnd = func(_ oftp.SessionInfo, err error) { p.ends <- err }
	p.cliOpts = baseOptions(t, "O0013CLIENT", "O0013SERVER")
	p.cliOpts.DownloadDirectory = p.cliInbox
	p.cliOpts.Events.EndResponse = func(e oftp.EndResponseEvent) {
		if e.Direction != oftp.Incoming {
			return
		}
		p.mu.Lock()
		p.eerps = append(p.eerps, e)
		p.mu.Unlock()
	}
	return p
}

func (p *pair) start(partners oftp.PartnerLookup) {
	p.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.srv = &oftp.Server{Options: p.srvOpts, Partners: partners}
	go p.srv.Serve(l)
	p.t.Cleanup(func() { p.srv.Close() })
}

func (p *pair) dial(ctx context.Context) *oftp.Client {
	p.t.Helper()
	c, err := oftp.Dial(ctx, p.addr, p.cliOpts)
	if err != nil {
		p.t.Fatalf("dial: %v", err)
	}
	p.t.Cleanup(func() { c.Disconnect() })
	return c
}

// serverEnd waits for the server session's outcome.
func (p *pair) serverEnd() error {
	p.t.Helper()
	select {
	case err := <-p.ends:
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("server session did not end")
		return nil
	}
}

func (p *pair) endResponses() []oftp.EndResponseEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]oftp.EndResponseEvent(nil), p.eerps...)
}

// randomFile writes n pseudo-random octets and returns the path.
func randomFile(t *testing.T, n int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r := mrand.New(mrand.NewPCG(seed, seed^0x5024))
	buf := make([]byte, 64<<10)
	for left := n; left > 0; {
		k := min(int64(len(buf)), left)
		for i := range buf[:k] {
			buf[i] = byte(r.Uint32())
		}
		if _, err := f.Write(buf[:k]); err != nil {
			t.Fatal(err)
		}
		left -= k
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src.dat")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func sameFile(t *testing.T, want, got string) {
	t.Helper()
	if fileHash(t, want) != fileHash(t, got) {
		a, _ := os.Stat(want)
		b, _ := os.Stat(got)
		t.Fatalf("%s (%d octets) differs from %s (%d octets)", got, b.Size(), want, a.Size())
	}
}

// inboxNames lists the visible files of a directory (temporary files start with a dot).
func inboxNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if e.Name()[0] != '.' {
			names = append(names, e.Name())
		}
	}
	return names
}

func outgoing(name, path string, format oftp.Format, lrecl int) *oftp.OutgoingFile {
	st, _ := os.Stat(path)
	return &oftp.OutgoingFile{
		DatasetName:   name,
		Format:        format,
		MaxRecordSize: lrecl,
		Size:          st.Size(),
		Source:        oftp.FileSource{Path: path, Format: format, MaxRecordSize: lrecl},
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var _ = bytes.Equal
