package oftp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
	"github.com/oftp2/connector/core/oftp/oftptest"
)

func enc(t *testing.T, c wire.Command, lvl wire.Level) []byte {
	t.Helper()
	b, err := wire.Encode(nil, c, lvl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawInitiator connects to the pair's server and completes SSRM/SSID with the given
// buffer size, returning the peer ready to speak.
func rawInitiator(t *testing.T, p *pair, bufSize int) *oftptest.Peer {
	t.Helper()
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	peer := oftptest.NewPeer(conn)
	t.Cleanup(func() { peer.Close() })
	if _, err := peer.Expect(wire.CodeSSRM); err != nil {
		t.Fatal(err)
	}
	if bufSize == 0 {
		return peer
	}
	ssid := &wire.SSID{Level: wire.Level20, ID: "O0013CLIENT", Password: "O001PW", BufferSize: bufSize, Mode: wire.ModeBoth, Credit: 8}
	if err := peer.WriteOEB(enc(t, ssid, wire.Level20)); err != nil {
		t.Fatal(err)
	}
	if _, err := peer.Expect(wire.CodeSSID); err != nil {
		t.Fatal(err)
	}
	return peer
}

// expectESID reads until the partner's ESID and returns its reason.
func expectESID(t *testing.T, peer *oftptest.Peer, lvl wire.Level) int {
	t.Helper()
	b, err := peer.Expect(wire.CodeESID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := wire.Decode(b, lvl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.ReadOEB(); err == nil {
		t.Fatal("connection still open after ESID")
	}
	return c.(wire.ESID).Reason
}

func TestResponderRejectsBrokenInput(t *testing.T) {
	sfid := func(t *testing.T) []byte {
		return enc(t, &wire.SFID{DatasetName: "BROKEN", Stamp: wire.NewStamp(time.Now(), 1), Destination: "O0013SERVER",
			Originator: "O0013CLIENT", Format: wire.FormatUnstructured, FileSize: 10}, wire.Level20)
	}
	cases := []struct {
		name   string
		buf    int // 0: stop after SSRM
		script func(t *testing.T, peer *oftptest.Peer)
		reason int
	}{
		{"garbage after connect", 0, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteRaw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		}, 99},
		{"oversized STB before SSID", 0, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteRaw([]byte{0x10, 0xff, 0xff, 0xff, 'X'})
		}, 7},
		{"STB without exchange buffer", 0, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteRaw([]byte{0x10, 0, 0, 4})
		}, 7},
		{"unknown command", 4096, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteOEB([]byte("Zhello"))
		}, 1},
		{"invalid field", 4096, func(t *testing.T, peer *oftptest.Peer) {
			b := sfid(t)
			copy(b[112:], "12X4567890123") // SFIDFSIZ not numeric
			peer.WriteOEB(b)
		}, 6},
		{"length mismatch", 4096, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteOEB(append(sfid(t), "EXTRA"...))
		}, 7},
		{"wrong state", 4096, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteOEB(enc(t, &wire.SFPA{}, wire.Level20))
		}, 2},
		{"SSID twice", 4096, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteOEB(enc(t, &wire.SSID{Level: wire.Level20, ID: "O0013CLIENT", BufferSize: 4096, Mode: wire.ModeBoth, Credit: 8}, wire.Level20))
		}, 2},
		{"DATA larger than negotiated", 4096, func(t *testing.T, peer *oftptest.Peer) {
			peer.WriteOEB(sfid(t))
			if _, err := peer.Expect(wire.CodeSFPA); err != nil {
				t.Fatal(err)
			}
			data := make([]byte, 5001)
			data[0] = 'D'
			for i := 1; i+64 <= len(data); i += 64 {
				data[i] = 63
			}
			peer.WriteOEB(data[:1+64*78])
		}, 7},
		{"CD straight back after unsolicited CD", 4096, func(t *testing.T, peer *oftptest.Peer) {
			// We give the turn; the server sends the end response it owes, gives the
			// turn back with CD, and we answer CD at once, which would loop.
			peer.WriteOEB([]byte{'R'})
			if _, err := peer.Expect(wire.CodeEERP); err != nil {
				t.Fatal(err)
			}
			peer.WriteOEB([]byte{'P'})
			if _, err := peer.Expect(wire.CodeCD); err != nil {
				t.Fatal(err)
			}
			peer.WriteOEB([]byte{'R'})
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t)
			ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{EndResponse: &oftp.EndResponse{DatasetName: "OWED",
				Stamp: oftp.NewStamp(time.Now(), 1), Destination: "O0013CLIENT", Originator: "O0013SERVER"}}}}
			p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
			peer := rawInitiator(t, p, tc.buf)
			tc.script(t, peer)
			if got := expectESID(t, peer, wire.Level20); got != tc.reason {
				t.Fatalf("ESID %02d, want %02d", got, tc.reason)
			}
			assertReason(t, p.serverEnd(), "ESID", tc.reason, true)
			if names := inboxNames(t, p.inbox); len(names) != 0 {
				t.Fatalf("inbox holds %v", names)
			}
			ents, _ := os.ReadDir(filepath.Join(p.inbox, oftp.PartialDirName))
			for _, e := range ents {
				t.Errorf("leftover %s", e.Name())
			}
		})
	}
}

func TestResponderIdleTimeout(t *testing.T) {
	p := newPair(t)
	p.srvOpts.Timeout = time.Second
	p.start(nil)
	peer := rawInitiator(t, p, 0)
	if got := expectESID(t, peer, wire.Level20); got != 9 {
		t.Fatalf("ESID %02d, want 09", got)
	}
	assertReason(t, p.serverEnd(), "ESID", 9, true)
}

// rawResponder accepts one connection and runs script as the responder after the
// SSRM/SSID exchange (answering with buffer and credit).
func rawResponder(t *testing.T, buf, credit int, script func(peer *oftptest.Peer)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		peer := oftptest.NewPeer(conn)
		defer peer.Close()
		peer.WriteOEB(enc(t, &wire.SSRM{}, wire.Level20))
		if _, err := peer.Expect(wire.CodeSSID); err != nil {
			t.Error(err)
			return
		}
		peer.WriteOEB(enc(t, &wire.SSID{Level: wire.Level20, ID: "O0013SERVER", Password: "O001PW", BufferSize: buf, Mode: wire.ModeBoth, Credit: credit}, wire.Level20))
		script(peer)
	}()
	return l.Addr().String()
}

func TestInitiatorPartnerStopsReading(t *testing.T) {
	got := make(chan int, 1)
	addr := rawResponder(t, 99999, 999, func(peer *oftptest.Peer) {
		if _, err := peer.Expect(wire.CodeSFID); err != nil {
			t.Error(err)
			return
		}
		peer.WriteOEB(enc(t, &wire.SFPA{}, wire.Level20))
		// Read nothing more until the initiator gave up, then see what it sent last.
		time.Sleep(2500 * time.Millisecond)
		peer.Timeout = 5 * time.Second
		last := -1
		for {
			b, err := peer.ReadOEB()
			if err != nil {
				break
			}
			if b[0] == wire.CodeESID {
				c, _ := wire.Decode(b, wire.Level20)
				last = c.(wire.ESID).Reason
			}
		}
		got <- last
	})
	src := randomFile(t, 64<<20, 5)
	opts := baseOptions(t, "O0013CLIENT", "O0013SERVER")
	opts.Timeout = time.Second
	opts.ExchangeBufferSize, opts.CreditCount = 99999, 999
	ctx := testCtx(t)
	c, err := oftp.Dial(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	_, err = c.SendFile(ctx, outgoing("STUCK", src, oftp.FormatUnstructured, 0))
	re := assertReason(t, err, "ESID", 9, true)
	if re.Err == nil {
		t.Error("no cause recorded")
	}
	// The partner never read the ESID in time; the point is that we did not hang.
	<-got
}

func TestInitiatorNoCreditTimeout(t *testing.T) {
	got := make(chan int, 1)
	addr := rawResponder(t, 4096, 4, func(peer *oftptest.Peer) {
		if _, err := peer.Expect(wire.CodeSFID); err != nil {
			t.Error(err)
			return
		}
		peer.WriteOEB(enc(t, &wire.SFPA{}, wire.Level20))
		for i := 0; i < 4; i++ {
			if _, err := peer.Expect(wire.CodeDATA); err != nil {
				t.Error(err)
				return
			}
		}
		// No CDT: the initiator must time out with ESID 09.
		b, err := peer.Expect(wire.CodeESID)
		if err != nil {
			t.Error(err)
			got <- -1
			return
		}
		c, _ := wire.Decode(b, wire.Level20)
		got <- c.(wire.ESID).Reason
	})
	src := randomFile(t, 100_000, 5)
	opts := baseOptions(t, "O0013CLIENT", "O0013SERVER")
	opts.Timeout = time.Second
	ctx := testCtx(t)
	c, err := oftp.Dial(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	_, err = c.SendFile(ctx, outgoing("NOCREDIT", src, oftp.FormatUnstructured, 0))
	assertReason(t, err, "ESID", 9, true)
	if r := <-got; r != 9 {
		t.Fatalf("partner saw ESID %02d", r)
	}
}

func TestInitiatorRejectsHigherLevelAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan int, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		peer := oftptest.NewPeer(conn)
		defer peer.Close()
		peer.WriteOEB(enc(t, &wire.SSRM{}, wire.Level20))
		peer.Expect(wire.CodeSSID)
		peer.WriteOEB(enc(t, &wire.SSID{Level: wire.Level20, ID: "O0013SERVER", Password: "O001PW", BufferSize: 4096, Mode: wire.ModeBoth, Credit: 4}, wire.Level20))
		got <- expectESID(t, peer, wire.Level14)
	}()
	opts := baseOptions(t, "O0013CLIENT", "O0013SERVER")
	opts.Version = oftp.Version14
	_, err = oftp.Dial(testCtx(t), l.Addr().String(), opts)
	assertReason(t, err, "ESID", 10, true)
	if r := <-got; r != 10 {
		t.Fatalf("partner saw ESID %02d", r)
	}
}

// cutProxy forwards one connection and cuts both sides once limit octets went from the
// initiator to the responder.
func cutProxy(t *testing.T, target string, limit int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		in, err := l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", target)
		if err != nil {
			in.Close()
			return
		}
		go func() { io.Copy(in, out); in.Close() }()
		io.CopyN(out, in, limit)
		in.Close()
		out.Close()
	}()
	return l.Addr().String()
}

func TestRestartAfterCut(t *testing.T) {
	p := newPair(t)
	var agreed atomic.Int64
	p.srvOpts.Events.StartTransfer = func(ti oftp.TransferInfo) { agreed.Store(ti.RestartPosition) }
	p.start(nil)
	ctx := testCtx(t)
	src := randomFile(t, 4<<20, 21)
	var sent atomic.Int64
	opts := p.cliOpts
	opts.Events.Progress = func(_ oftp.TransferInfo, n int64) { sent.Store(n) }
	// First session: the connection breaks after about 1.5 MiB.
	c, err := oftp.Dial(ctx, cutProxy(t, p.addr, 1536<<10), opts)
	if err != nil {
		t.Fatal(err)
	}
	f := outgoing("RESTART", src, oftp.FormatUnstructured, 0)
	f.Date, f.Counter = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC), 1
	first, err := c.SendFile(ctx, f)
	if !errors.Is(err, oftp.ErrConnectionLost) {
		t.Fatalf("first attempt: %v", err)
	}
	if first.ResumeAt == 0 || first.ResumeAt != first.Octets/1024 || first.Octets > sent.Load()+256<<10 {
		t.Fatalf("resume hint %d for %d octets (progress %d)", first.ResumeAt, first.Octets, sent.Load())
	}
	c.Disconnect()
	if err := p.serverEnd(); !errors.Is(err, oftp.ErrConnectionLost) {
		t.Fatalf("server: %v", err)
	}
	if names := inboxNames(t, p.inbox); len(names) != 0 {
		t.Fatalf("partial file visible: %v", names)
	}
	// Second session: propose what we sent; the responder answers what it kept.
	c2 := p.dial(ctx)
	f.RestartPosition = first.ResumeAt
	if f.RestartPosition == 0 {
		t.Fatal("nothing was sent before the cut")
	}
	res, err := c2.SendFile(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if res.RestartPosition == 0 || res.RestartPosition > f.RestartPosition || agreed.Load() != res.RestartPosition {
		t.Fatalf("restart at %d (proposed %d, server %d)", res.RestartPosition, f.RestartPosition, agreed.Load())
	}
	if res.Octets != 4<<20 {
		t.Fatalf("EFID octets %d", res.Octets)
	}
	if err := c2.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	sameFile(t, src, filepath.Join(p.inbox, "RESTART"))
	t.Logf("restarted at block %d of %d proposed", res.RestartPosition, f.RestartPosition)
}

func TestRestartFixedAndVariable(t *testing.T) {
	for _, tc := range []struct {
		format  oftp.Format
		lrecl   int
		content []byte
	}{
		{oftp.FormatFixed, 100, randomBytes(100 * 30000)},
		{oftp.FormatVariable, 120, textLines(40000, 120)},
	} {
		t.Run(tc.format.String(), func(t *testing.T) {
			p := newPair(t)
			p.start(nil)
			ctx := testCtx(t)
			src := writeFile(t, tc.content)
			opts := p.cliOpts
			c, err := oftp.Dial(ctx, cutProxy(t, p.addr, int64(len(tc.content))/2), opts)
			if err != nil {
				t.Fatal(err)
			}
			f := outgoing("RECS", src, tc.format, tc.lrecl)
			f.Date, f.Counter = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC), 2
			first, err := c.SendFile(ctx, f)
			if !errors.Is(err, oftp.ErrConnectionLost) {
				t.Fatalf("first attempt: %v", err)
			}
			c.Disconnect()
			p.serverEnd()
			// Propose the records we sent (more than got through the proxy); the
			// responder answers what it kept.
			f.RestartPosition = first.ResumeAt
			if first.ResumeAt == 0 || first.ResumeAt > int64(bytes.Count(tc.content, []byte("\n"))+len(tc.content)/tc.lrecl) {
				t.Fatalf("resume hint %d", first.ResumeAt)
			}
			c2 := p.dial(ctx)
			res, err := c2.SendFile(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if res.RestartPosition == 0 {
				t.Fatal("restarted from the beginning")
			}
			if err := c2.Logoff(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p.serverEnd(); err != nil {
				t.Fatal(err)
			}
			sameFile(t, src, filepath.Join(p.inbox, "RECS"))
			t.Logf("restarted after record %d", res.RestartPosition)
		})
	}
}

// slowSource yields a little data at a time so a test can interrupt mid-file.
type slowSource struct{}

func (slowSource) Open(context.Context, int64) (io.ReadCloser, error) {
	return io.NopCloser(readerFunc(func(p []byte) (int, error) {
		time.Sleep(5 * time.Millisecond)
		n := min(len(p), 1000)
		for i := range p[:n] {
			p[i] = 'x'
		}
		return n, nil
	})), nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestInterruptByContext(t *testing.T) {
	p := newPair(t)
	p.start(nil)
	c := p.dial(testCtx(t))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := c.SendFile(ctx, &oftp.OutgoingFile{DatasetName: "ENDLESS", Source: slowSource{}})
	assertReason(t, err, "ESID", 5, true)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cause not kept: %v", err)
	}
	assertReason(t, p.serverEnd(), "ESID", 5, false)
	if names := inboxNames(t, p.inbox); len(names) != 0 {
		t.Fatalf("inbox holds %v", names)
	}
}

func TestReceiveFilesInterrupted(t *testing.T) {
	p := newPair(t)
	// The server holds the turn sending an endless file; the client gives up.
	ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: &oftp.OutgoingFile{DatasetName: "ENDLESS", Source: slowSource{}}}}}
	p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
	c := p.dial(testCtx(t))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := c.ReceiveFiles(ctx)
	assertReason(t, err, "ESID", 5, true)
	assertReason(t, p.serverEnd(), "ESID", 5, false)
	if names := inboxNames(t, p.cliInbox); len(names) != 0 {
		t.Fatalf("client inbox holds %v", names)
	}
}

func TestConnectionTypes(t *testing.T) {
	t.Run("receive-only client cannot send", func(t *testing.T) {
		p := newPair(t)
		p.cliOpts.ConnectionType = oftp.ConnectionReceiveOnly
		srvFile := randomFile(t, 1000, 1)
		ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: outgoing("TOCLIENT", srvFile, oftp.FormatUnstructured, 0)}}}
		p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
		ctx := testCtx(t)
		c := p.dial(ctx)
		if s := c.Session(); s.CanSend || !s.CanReceive {
			t.Fatalf("session %+v", s)
		}
		if _, err := c.SendFile(ctx, outgoing("NOPE", srvFile, oftp.FormatUnstructured, 0)); !errors.Is(err, oftp.ErrDirection) {
			t.Fatalf("SendFile: %v", err)
		}
		files, err := c.ReceiveFiles(ctx)
		if err != nil || len(files) != 1 {
			t.Fatalf("ReceiveFiles: %v %v", files, err)
		}
		if err := c.Logoff(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.serverEnd(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("send-only server refuses nothing and sends nothing back", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.ConnectionType = oftp.ConnectionReceiveOnly
		p.start(nil)
		ctx := testCtx(t)
		c := p.dial(ctx)
		if s := c.Session(); !s.CanSend || s.CanReceive {
			t.Fatalf("session %+v", s)
		}
		src := randomFile(t, 1000, 1)
		if _, err := c.SendFile(ctx, outgoing("ONEWAY", src, oftp.FormatUnstructured, 0)); err != nil {
			t.Fatal(err)
		}
		if err := c.Logoff(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.serverEnd(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWaitForPartnerCloseAndMaskedTrail(t *testing.T) {
	p := newPair(t)
	p.cliOpts.DisconnectAfterEndSession = false
	var ssids [][]byte
	p.cliOpts.Events.PITrail = func(pi oftp.PITrail) {
		if pi.Name == "SSID" {
			ssids = append(ssids, append([]byte(nil), pi.Data...))
		}
	}
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	if len(ssids) != 2 {
		t.Fatalf("%d SSIDs in the trail", len(ssids))
	}
	for _, b := range ssids {
		if string(b[27:35]) != "********" || bytes.Contains(b, []byte("O001PW")) {
			t.Fatalf("password visible in trail: %q", b)
		}
	}
}

func TestResponderChecksEFIDCounts(t *testing.T) {
	p := newPair(t)
	p.start(nil)
	peer := rawInitiator(t, p, 4096)
	send := func(dsn string, format wire.Format, lrecl int, data []byte, rcnt, ucnt int64) []byte {
		t.Helper()
		peer.WriteOEB(enc(t, &wire.SFID{DatasetName: dsn, Stamp: wire.NewStamp(time.Now(), 1), Destination: "O0013SERVER",
			Originator: "O0013CLIENT", Format: format, MaxRecordSize: lrecl, FileSize: 1}, wire.Level20))
		if _, err := peer.Expect(wire.CodeSFPA); err != nil {
			t.Fatal(err)
		}
		peer.WriteOEB(data)
		peer.WriteOEB(enc(t, &wire.EFID{RecordCount: rcnt, UnitCount: ucnt}, wire.Level20))
		b, err := peer.ReadOEB()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Two 3-octet F records.
	data := []byte{'D', 0x83, 'a', 'b', 'c', 0x83, 'd', 'e', 'f'}
	if b := send("BYTES", wire.FormatFixed, 3, data, 2, 7); string(b[:3]) != "511" {
		t.Fatalf("wrong octet count answered %q", b)
	}
	if b := send("RECORDS", wire.FormatFixed, 3, data, 3, 6); string(b[:3]) != "510" {
		t.Fatalf("wrong record count answered %q", b)
	}
	if b := send("GOOD", wire.FormatFixed, 3, data, 2, 6); b[0] != wire.CodeEFPA {
		t.Fatalf("good file answered %q", b)
	}
	peer.WriteOEB([]byte{'R'})
	if _, err := peer.Expect(wire.CodeEERP); err != nil {
		t.Fatal(err)
	}
	peer.WriteOEB([]byte{'P'})
	if _, err := peer.Expect(wire.CodeCD); err != nil {
		t.Fatal(err)
	}
	peer.WriteOEB(enc(t, &wire.ESID{Reason: 0}, wire.Level20))
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	if names := inboxNames(t, p.inbox); len(names) != 1 || names[0] != "GOOD" {
		t.Fatalf("inbox %v", names)
	}
	if got, _ := os.ReadFile(filepath.Join(p.inbox, "GOOD")); string(got) != "abcdef" {
		t.Fatalf("stored %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Join(p.inbox, oftp.PartialDirName)); len(ents) != 0 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

func TestPartnerConfigure(t *testing.T) {
	p := newPair(t)
	other := t.TempDir()
	p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Configure: func(o *oftp.Options) {
		o.Version = oftp.Version14
		o.ExchangeBufferSize = 1000
		o.DownloadDirectory = other
	}}})
	ctx := testCtx(t)
	c := p.dial(ctx)
	if s := c.Session(); s.Level != oftp.Version14 || s.BufferSize != 1000 {
		t.Fatalf("session %+v", s)
	}
	src := randomFile(t, 5000, 1)
	if _, err := c.SendFile(ctx, outgoing("PERPARTNER", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	sameFile(t, src, filepath.Join(other, "PERPARTNER"))
}

func TestInconsistentSecurityFieldsRefused(t *testing.T) {
	p := newPair(t)
	p.start(nil)
	peer := rawInitiator(t, p, 4096)
	peer.WriteOEB(enc(t, &wire.SFID{DatasetName: "ODD", Stamp: wire.NewStamp(time.Now(), 1), Destination: "O0013SERVER",
		Originator: "O0013CLIENT", Format: wire.FormatUnstructured, FileSize: 1, Security: 1, Cipher: 1}, wire.Level20))
	b, err := peer.Expect(wire.CodeSFNA)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[1:4]) != "99N" {
		t.Fatalf("SFNA %q", b)
	}
}
