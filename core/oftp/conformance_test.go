package oftp_test

// RFC 5024 conformance of the session engine: a scripted partner on a real 127.0.0.1
// TCP connection drives our Client and our Server through the corner cases of the
// state tables (§9.8-§9.12) and reads back, octet by octet, what our side answers.
// Every case checks the reason code on the wire, the error our API returns, that the
// session's goroutines are gone afterwards and that no partial file is visible.
//
// The scripted partner encodes well-formed commands with the wire codec and builds the
// broken ones by hand; DATA buffers are packed and unpacked here without the codec, so
// that a subrecord mistake in the codec cannot hide itself.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
	"github.com/oftp2/connector/core/oftp/oftptest"
)

const (
	cfClientID = "O0013CLIENT"
	cfClientPW = "CLIPW"
	cfServerID = "O0013SERVER"
	cfServerPW = "SRVPW"
	// cfTimeout bounds every wait, on our side (Options.Timeout) and on the partner's.
	cfTimeout = 5 * time.Second
	// cfQuiet is how long the partner listens to make sure our side sends nothing (for
	// instance no EFID while the credit is exhausted). A slow machine can only make such
	// a check pass wrongly, never fail wrongly.
	cfQuiet = 60 * time.Millisecond
)

// cfStamp is the identity of the files the partner sends.
var cfStamp = wire.Stamp{Date: "20261127", Time: "0315000001"}

// cfNoLeaks fails the test when goroutines of the session engine that started during
// the test are still running once the test and its other cleanups are done.
func cfNoLeaks(t *testing.T) {
	t.Helper()
	before := cfGoroutines()
	t.Cleanup(func() {
		var left []string
		for range 300 {
			left = left[:0]
			for id, stack := range cfGoroutines() {
				if _, old := before[id]; !old && strings.Contains(stack, "github.com/oftp2/connector/core/oftp.") {
					left = append(left, stack)
				}
			}
			if len(left) == 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Errorf("%d session goroutines still running:\n%s", len(left), strings.Join(left, "\n\n"))
	})
}

// cfGoroutines returns the stacks of all goroutines by goroutine id.
func cfGoroutines() map[string]string {
	buf := make([]byte, 256<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		hdr, _, _ := strings.Cut(g, "\n")
		if f := strings.Fields(hdr); len(f) >= 2 && f[0] == "goroutine" {
			out[f[1]] = g
		}
	}
	return out
}

// cfPeer is the scripted partner. Its methods report problems with t.Errorf (they run
// on the partner's own goroutine) and return false so the script can stop.
type cfPeer struct {
	t   *testing.T
	p   *oftptest.Peer
	lvl wire.Level
}

func newCFPeer(t *testing.T, conn net.Conn) *cfPeer {
	p := oftptest.NewPeer(conn)
	p.Timeout = cfTimeout
	return &cfPeer{t: t, p: p, lvl: wire.Level20}
}

// send encodes c at the session level and writes it.
func (c *cfPeer) send(cmd wire.Command) bool {
	b, err := wire.Encode(nil, cmd, c.lvl)
	if err != nil {
		c.t.Errorf("partner cannot encode %s: %v", cmd.Name(), err)
		return false
	}
	return c.raw(b)
}

// raw writes an exchange buffer as given, with a correct STH.
func (c *cfPeer) raw(oeb []byte) bool {
	if err := c.p.WriteOEB(oeb); err != nil {
		c.t.Errorf("partner write: %v", err)
		return false
	}
	return true
}

// sendTogether encodes the commands and writes them with one write, so that all of
// them have reached our side once it reads the first: a test of how we treat a command
// that arrived early does not then depend on when the partner's goroutine runs.
func (c *cfPeer) sendTogether(cmds ...wire.Command) bool {
	var b []byte
	for _, cmd := range cmds {
		oeb, err := wire.Encode(nil, cmd, c.lvl)
		if err != nil {
			c.t.Errorf("partner cannot encode %s: %v", cmd.Name(), err)
			return false
		}
		b = append(wire.AppendSTH(b, len(oeb)), oeb...)
	}
	return c.octets(b)
}

// octets writes octets as given (STH included or broken on purpose).
func (c *cfPeer) octets(b []byte) bool {
	if err := c.p.WriteRaw(b); err != nil {
		c.t.Errorf("partner write: %v", err)
		return false
	}
	return true
}

// next reads and decodes our side's next exchange buffer.
func (c *cfPeer) next() (wire.Command, []byte, bool) {
	b, err := c.p.ReadOEB()
	if err != nil {
		c.t.Errorf("partner read: %v", err)
		return nil, nil, false
	}
	cmd, err := wire.Decode(b, c.lvl)
	if err != nil {
		c.t.Errorf("our side sent an exchange buffer the partner cannot decode at level %v: %v (%q)", c.lvl, err, b)
		return nil, b, false
	}
	return cmd, b, true
}

// expect reads the next exchange buffer and checks its command.
func (c *cfPeer) expect(code byte) (wire.Command, []byte, bool) {
	c.t.Helper()
	cmd, b, ok := c.next()
	if !ok {
		return nil, b, false
	}
	if cmd.Code() != code {
		c.t.Errorf("our side sent %s %s, want %s", cmd.Name(), cfShow(cmd), wire.CommandName(code))
		return cmd, b, false
	}
	return cmd, b, true
}

// expectESID reads our side's ESID, checks its reason and that the connection is then
// closed by our side.
func (c *cfPeer) expectESID(reason int) bool {
	c.t.Helper()
	cmd, b, ok := c.expect(wire.CodeESID)
	if !ok {
		return false
	}
	if got := cmd.(wire.ESID).Reason; got != reason {
		c.t.Errorf("our side sent ESID %02d (%q), want %02d", got, b, reason)
		return false
	}
	return c.expectClosed()
}

// expectClosed checks that our side closes the connection without sending anything more.
func (c *cfPeer) expectClosed() bool {
	c.t.Helper()
	b, err := c.p.ReadOEB()
	if err == nil {
		c.t.Errorf("our side sent %q where it should have closed the connection", b)
		return false
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Errorf("connection not closed by our side: %v", err)
		return false
	}
	return true
}

// quiet checks that our side sends nothing for a short while.
func (c *cfPeer) quiet() bool {
	c.t.Helper()
	_ = c.p.Conn.SetReadDeadline(time.Now().Add(cfQuiet))
	save := c.p.Timeout
	c.p.Timeout = cfQuiet
	b, err := c.p.ReadOEB()
	c.p.Timeout = save
	if err == nil {
		c.t.Errorf("our side sent %s %q where it must wait for the partner", wire.CommandName(b[0]), b)
		return false
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Errorf("partner read: %v", err)
		return false
	}
	return true
}

func (c *cfPeer) close() { _ = c.p.Close() }

func cfShow(cmd wire.Command) string {
	switch v := cmd.(type) {
	case wire.ESID:
		return fmt.Sprintf("%02d", v.Reason)
	case wire.SFNA:
		return fmt.Sprintf("%02d", v.Reason)
	case wire.EFNA:
		return fmt.Sprintf("%02d", v.Reason)
	}
	return ""
}

// --- partner as responder, our Client as initiator -----------------------------------

// cfAnswer is the partner's SSID answer.
func cfAnswer(lvl wire.Level, buf, credit int) wire.SSID {
	return wire.SSID{Level: lvl, ID: cfServerID, Password: cfServerPW, BufferSize: buf, Mode: wire.ModeBoth, Credit: credit}
}

// respond greets with SSRM, reads our SSID and answers ans; later commands use the lower
// of both levels.
func (c *cfPeer) respond(ans wire.SSID) (wire.SSID, bool) {
	c.t.Helper()
	if !c.send(wire.SSRM{}) {
		return wire.SSID{}, false
	}
	cmd, _, ok := c.expect(wire.CodeSSID)
	if !ok {
		return wire.SSID{}, false
	}
	ours := cmd.(wire.SSID)
	if !c.send(ans) {
		return ours, false
	}
	c.lvl = min(wire.NormalizeLevel(ours.Level), wire.NormalizeLevel(ans.Level))
	return ours, true
}

// cfResponder runs script as the responder of one connection to a 127.0.0.1 listener and
// returns its address and a function that waits for the script to finish.
func cfResponder(t *testing.T, script func(p *cfPeer)) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		l.Close()
		if err != nil {
			return
		}
		p := newCFPeer(t, conn)
		defer p.close()
		script(p)
	}()
	wait := func() {
		select {
		case <-done:
		case <-time.After(4 * cfTimeout):
			t.Error("scripted responder did not finish")
		}
	}
	t.Cleanup(func() { l.Close(); wait() })
	return l.Addr().String(), wait
}

func cfClientOptions(t *testing.T) oftp.Options {
	o := oftp.DefaultOptions()
	o.SSIDCode, o.Password = cfClientID, cfClientPW
	o.PartnerSSIDCode, o.PartnerPassword = cfServerID, cfServerPW
	o.DownloadDirectory = t.TempDir()
	o.Timeout = cfTimeout
	return o
}

// cfDial connects our Client and logs on.
func cfDial(t *testing.T, addr string, opts oftp.Options) (*oftp.Client, error) {
	t.Helper()
	c, err := oftp.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect() })
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfTimeout)
	defer cancel()
	if err := c.Connect(ctx, addr); err != nil {
		t.Fatal(err)
	}
	return c, c.Logon(ctx)
}

func cfMustDial(t *testing.T, addr string, opts oftp.Options) *oftp.Client {
	t.Helper()
	c, err := cfDial(t, addr, opts)
	if err != nil {
		t.Fatalf("logon: %v", err)
	}
	return c
}

func cfCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*cfTimeout)
	t.Cleanup(cancel)
	return ctx
}

// cfOutgoing is an unstructured file with the given content.
func cfOutgoing(name string, content []byte) *oftp.OutgoingFile {
	return &oftp.OutgoingFile{
		DatasetName: name,
		Format:      oftp.FormatUnstructured,
		Size:        int64(len(content)),
		Source: oftp.SourceFunc(func(_ context.Context, off int64) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(content[off:])), nil
		}),
	}
}

// --- partner as initiator, our Server as responder -----------------------------------

type cfServer struct {
	t      *testing.T
	addr   string
	inbox  string
	ends   chan error
	mu     sync.Mutex
	events []oftp.EndResponseEvent
}

// newCFServer starts our Server on 127.0.0.1; tweak adjusts its options and the one
// partner it knows (cfClientID).
func newCFServer(t *testing.T, tweak func(o *oftp.Options, p *oftp.Partner)) *cfServer {
	t.Helper()
	s := &cfServer{t: t, inbox: t.TempDir(), ends: make(chan error, 4)}
	o := oftp.DefaultOptions()
	o.SSIDCode, o.Password = cfServerID, cfServerPW
	o.DownloadDirectory = s.inbox
	o.Timeout = cfTimeout
	o.Events.EndResponse = func(e oftp.EndResponseEvent) {
		s.mu.Lock()
		s.events = append(s.events, e)
		s.mu.Unlock()
	}
	partner := &oftp.Partner{SSIDCode: cfClientID, SFIDCode: cfClientID, Password: cfClientPW}
	if tweak != nil {
		tweak(&o, partner)
	}
	srv := &oftp.Server{Options: o, Partners: oftp.Partners{cfClientID: partner}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.ends <- srv.ServeConn(context.Background(), conn)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		srv.Close()
		wg.Wait()
	})
	return s
}

// connectRaw opens a raw connection to the server.
func (s *cfServer) connectRaw() *cfPeer {
	s.t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	p := newCFPeer(s.t, conn)
	s.t.Cleanup(p.close)
	return p
}

// connect opens a raw connection and reads the SSRM.
func (s *cfServer) connect() *cfPeer {
	s.t.Helper()
	p := s.connectRaw()
	if _, _, ok := p.expect(wire.CodeSSRM); !ok {
		s.t.FailNow()
	}
	return p
}

// cfProposal is the partner's SSID as initiator.
func cfProposal(lvl wire.Level, buf, credit int) wire.SSID {
	return wire.SSID{Level: lvl, ID: cfClientID, Password: cfClientPW, BufferSize: buf, Mode: wire.ModeBoth, Credit: credit}
}

// logon connects and exchanges SSIDs; the partner is then the speaker.
func (s *cfServer) logon(ssid wire.SSID) (*cfPeer, wire.SSID) {
	s.t.Helper()
	p := s.connect()
	if !p.send(ssid) {
		s.t.FailNow()
	}
	cmd, _, ok := p.expect(wire.CodeSSID)
	if !ok {
		s.t.FailNow()
	}
	ans := cmd.(wire.SSID)
	p.lvl = min(wire.NormalizeLevel(ssid.Level), wire.NormalizeLevel(ans.Level))
	return p, ans
}

// result waits for the outcome of the server session, as ServeConn returns it.
func (s *cfServer) result() error {
	s.t.Helper()
	select {
	case err := <-s.ends:
		return err
	case <-time.After(4 * cfTimeout):
		s.t.Fatal("server session did not end")
		return nil
	}
}

func (s *cfServer) endResponses() []oftp.EndResponseEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]oftp.EndResponseEvent(nil), s.events...)
}

// cfSFID is a file the partner offers to our side.
func cfSFID(name, dest, orig string, size int) wire.SFID {
	return wire.SFID{DatasetName: name, Stamp: cfStamp, Destination: dest, Originator: orig,
		Format: wire.FormatUnstructured, FileSize: wire.KiB(int64(size))}
}

// --- DATA without the codec ----------------------------------------------------------

// cfPack packs records into DATA exchange buffers of at most size octets ('D'
// included): plain subrecords of up to 63 octets, End-of-Record on the last one of each
// record (RFC 5024 §7.1).
func cfPack(records [][]byte, size int) [][]byte {
	var out [][]byte
	cur := []byte{'D'}
	for _, r := range records {
		for first := true; first || len(r) > 0; first = false {
			if len(cur)+2 > size {
				out = append(out, cur)
				cur = []byte{'D'}
			}
			n := min(len(r), 63, size-len(cur)-1)
			h := byte(n)
			if n == len(r) {
				h |= 0x80
			}
			cur = append(cur, h)
			cur = append(cur, r[:n]...)
			r = r[n:]
		}
	}
	if len(cur) > 1 {
		out = append(out, cur)
	}
	return out
}

// cfUnpack reads the plain subrecords of a DATA payload.
func cfUnpack(payload []byte) (data []byte, ends int, err error) {
	for i := 0; i < len(payload); {
		h := payload[i]
		i++
		if h&0x40 != 0 {
			return nil, 0, fmt.Errorf("compressed subrecord at %d without negotiated compression", i-1)
		}
		n := int(h & 0x3F)
		if n > len(payload)-i {
			return nil, 0, fmt.Errorf("subrecord at %d runs past the buffer", i-1)
		}
		data = append(data, payload[i:i+n]...)
		i += n
		if h&0x80 != 0 {
			ends++
		}
	}
	return data, ends, nil
}

// cfContent is deterministic file content.
func cfContent(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + i%26)
	}
	return b
}

// --- checks on our side ---------------------------------------------------------------

// cfReason checks that err is a *oftp.ReasonError with cmd and code; local tells whether
// our side sent it.
func cfReason(t *testing.T, err error, cmd string, code int, local bool) *oftp.ReasonError {
	t.Helper()
	var re *oftp.ReasonError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *oftp.ReasonError (want %s %02d)", err, cmd, code)
	}
	if re.Cmd != cmd || re.Code != code || re.Local != local {
		t.Fatalf("got %s %02d local=%v (%v), want %s %02d local=%v", re.Cmd, re.Code, re.Local, err, cmd, code, local)
	}
	return re
}

// cfNothingVisible checks that a download directory holds no file a user would see;
// strict also refuses hidden leftovers (temporary files of the built-in receiver).
func cfNothingVisible(t *testing.T, dir string, strict bool) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strict || !strings.HasPrefix(e.Name(), ".") {
			t.Errorf("%s left in %s", e.Name(), dir)
		}
	}
}
