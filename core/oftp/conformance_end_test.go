package oftp_test

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// A partner that closes TCP as soon as its ESID is written (captures deviation 7, digest
// §13 item 30): the ESID is still read and its reason reported; a normal end from
// IDLELICD stays a normal end.
func TestConformanceCloseRightAfterESID(t *testing.T) {
	t.Run("server in IDLELICD", func(t *testing.T) {
		cfNoLeaks(t)
		ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: cfOutgoing("OUT", cfContent(100))}}}
		s := newCFServer(t, func(_ *oftp.Options, pt *oftp.Partner) { pt.Outbox = ob })
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		p.send(wire.CD{})
		p.expect(wire.CodeSFID)
		p.send(wire.SFPA{})
		p.expect(wire.CodeDATA)
		p.expect(wire.CodeEFID)
		p.send(wire.EFPA{})
		if _, _, ok := p.expect(wire.CodeCD); !ok {
			t.FailNow()
		}
		p.send(wire.ESID{Reason: 0})
		p.close()
		if err := s.result(); err != nil {
			t.Fatalf("server: %v", err)
		}
		if len(ob.Results) != 1 || ob.Results[0] != nil {
			t.Fatalf("outbox results %v", ob.Results)
		}
	})
	t.Run("client in IDLELICD", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			p.expect(wire.CodeCD)
			p.send(wire.ESID{Reason: 0})
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		files, err := c.ReceiveFiles(cfCtx(t))
		if err != nil || len(files) != 0 {
			t.Fatalf("ReceiveFiles: %v, %v", files, err)
		}
		if err := c.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
		wait()
	})
	t.Run("client refused at logon", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			p.send(wire.SSRM{})
			p.expect(wire.CodeSSID)
			p.send(wire.ESID{Reason: 4, Text: "WRONG PASSWORD"})
		})
		_, err := cfDial(t, addr, cfClientOptions(t))
		if re := cfReason(t, err, "ESID", 4, false); re.Text != "WRONG PASSWORD" {
			t.Errorf("text %q", re.Text)
		}
		wait()
	})
	t.Run("client streaming data", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 64)); !ok {
				return
			}
			p.expect(wire.CodeSFID)
			p.send(wire.SFPA{})
			p.expect(wire.CodeDATA)
			p.expect(wire.CodeDATA)
			p.send(wire.ESID{Reason: 8})
		})
		opts := cfClientOptions(t)
		opts.ExchangeBufferSize, opts.CreditCount = 4096, 64
		c := cfMustDial(t, addr, opts)
		_, err := c.SendFile(cfCtx(t), cfOutgoing("ABORTED", cfContent(4<<20)))
		cfReason(t, err, "ESID", 8, false)
		wait()
	})
	t.Run("server receiving data", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 128, 8))
		content := cfContent(500)
		p.send(cfSFID("CUT", cfServerID, cfClientID, len(content)))
		p.expect(wire.CodeSFPA)
		p.raw(cfPack([][]byte{content}, 128)[0])
		p.send(wire.ESID{Reason: 5})
		p.close()
		cfReason(t, s.result(), "ESID", 5, false)
		cfNothingVisible(t, s.inbox, true)
	})
}

// OFTP 1.3 (RFC 2204, SSIDLEV 1 or 2): 128-octet SFID and 106-octet EERP with YYMMDD
// HHMMSS at octets 36 and 42 after nine reserved spaces, 10-octet SFPA, 22-octet EFID,
// 4-octet ESID, no NERP; SSID octet 47 is reserved (a space).
func TestConformanceLevel13Responder(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, nil)
	p, ans := s.logon(cfProposal(wire.Level12, 128, 4)) // RFC 2204 peers send 1
	if ans.Level != wire.Level12 {
		t.Fatalf("answered level %v to a proposal of 1", ans.Level)
	}
	if p.lvl != wire.Level13 {
		t.Fatalf("partner runs %v", p.lvl)
	}
	content := cfContent(300)
	sfid := cfSFID("OLDFILE", cfServerID, cfClientID, len(content))
	sfid.Stamp = wire.Stamp{Date: "19991231", Time: "2359590000"}
	b, err := wire.Encode(nil, sfid, wire.Level13)
	if err != nil || len(b) != 128 || string(b[27:48]) != "         991231235959" {
		t.Fatalf("partner SFID %q, %v", b, err)
	}
	p.raw(b)
	_, sfpa, ok := p.expect(wire.CodeSFPA)
	if !ok || len(sfpa) != 10 {
		t.Fatalf("SFPA %q", sfpa)
	}
	for i, d := range cfPack([][]byte{content}, 128) {
		p.raw(d)
		if (i+1)%4 == 0 {
			p.expect(wire.CodeCDT)
		}
	}
	p.send(wire.EFID{UnitCount: int64(len(content))})
	if _, _, ok := p.expect(wire.CodeEFPA); !ok {
		t.FailNow()
	}
	p.send(wire.CD{})
	_, eerp, ok := p.expect(wire.CodeEERP)
	if !ok {
		t.FailNow()
	}
	if len(eerp) != 106 || string(eerp[1:28]) != "OLDFILE                    " ||
		string(eerp[27:48]) != "         991231235959" ||
		strings.TrimRight(string(eerp[56:81]), " ") != cfClientID || strings.TrimRight(string(eerp[81:106]), " ") != cfServerID {
		t.Fatalf("EERP %q", eerp)
	}
	p.send(wire.RTR{})
	p.expect(wire.CodeCD)
	p.send(wire.ESID{})
	p.expectClosed()
	if err := s.result(); err != nil {
		t.Fatal(err)
	}
}

func TestConformanceLevel13Initiator(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version oftp.Version
		answer  wire.Level
	}{
		{"1.3 proposed", oftp.Version13, wire.Level13},
		{"2.0 proposed, answered 1", oftp.Version20, wire.Level12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			content := cfContent(200)
			addr, wait := cfResponder(t, func(p *cfPeer) {
				p.send(wire.SSRM{})
				_, ours, ok := p.expect(wire.CodeSSID)
				if !ok {
					return
				}
				if tc.version == oftp.Version13 && (ours[1] != '2' || ours[47] != ' ') {
					t.Errorf("1.3 SSID %q: want level 2 and a space at octet 47", ours)
				}
				p.send(cfAnswer(tc.answer, 4096, 8))
				p.lvl = wire.Level13
				_, sfid, ok := p.expect(wire.CodeSFID)
				if !ok {
					return
				}
				if len(sfid) != 128 || string(sfid[27:48]) != "         261127031500" {
					t.Errorf("1.3 SFID %q", sfid)
				}
				p.send(wire.SFPA{})
				p.expect(wire.CodeDATA)
				cmd, efid, ok := p.expect(wire.CodeEFID)
				if !ok {
					return
				}
				if len(efid) != 22 || cmd.(wire.EFID).UnitCount != int64(len(content)) {
					t.Errorf("1.3 EFID %q", efid)
				}
				p.send(wire.EFPA{})
				p.expect(wire.CodeCD)
				p.raw([]byte("F00\r"))
				p.expectClosed()
			})
			opts := cfClientOptions(t)
			opts.Version = tc.version
			c := cfMustDial(t, addr, opts)
			if lv := c.Session().Level; lv != oftp.Version13 {
				t.Errorf("session level %v", lv)
			}
			f := cfOutgoing("OLDFILE", content)
			f.Stamp = oftp.Stamp{Date: "20261127", Time: "0315000007"}
			ctx := cfCtx(t)
			if _, err := c.SendFile(ctx, f); err != nil {
				t.Fatal(err)
			}
			if err := c.Logoff(ctx); err != nil {
				t.Fatal(err)
			}
			wait()
		})
	}
}

// A NERP exists from 1.4 on (§1.2, digest §13 item 18): below it a refused file gets its
// EFNA and nothing more, whatever NERPOnFailure says.
func TestConformanceNoNERPBelow14(t *testing.T) {
	for _, lvl := range []wire.Level{wire.Level13, wire.Level14, wire.Level20} {
		t.Run(lvl.String(), func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.NERPOnFailure = true })
			p, _ := s.logon(cfProposal(lvl, 4096, 8))
			content := cfContent(100)
			p.send(cfSFID("SHORT", cfServerID, cfClientID, len(content)))
			p.expect(wire.CodeSFPA)
			p.raw(cfPack([][]byte{content}, 4096)[0])
			p.send(wire.EFID{UnitCount: 101})
			cmd, efna, ok := p.expect(wire.CodeEFNA)
			if !ok || cmd.(wire.EFNA).Reason != 11 {
				t.Fatalf("EFNA %q", efna)
			}
			p.send(wire.CD{})
			if lvl < wire.Level14 {
				_, esid, ok := p.expect(wire.CodeESID)
				if !ok || string(esid) != "F00\r" {
					t.Fatalf("ESID %q", esid)
				}
				p.expectClosed()
			} else {
				cmd, nerp, ok := p.expect(wire.CodeNERP)
				if !ok {
					t.FailNow()
				}
				n := cmd.(wire.NERP)
				if n.Reason != 21 || n.DatasetName != "SHORT" || n.Destination != cfClientID || n.Originator != cfServerID {
					t.Errorf("NERP %+v", n)
				}
				if lvl == wire.Level14 && len(nerp) != 128 {
					t.Errorf("1.4 NERP of %d octets", len(nerp))
				}
				p.send(wire.RTR{})
				p.expect(wire.CodeCD)
				p.send(wire.ESID{})
				p.expectClosed()
			}
			if err := s.result(); err != nil {
				t.Fatal(err)
			}
			cfNothingVisible(t, s.inbox, true)
		})
	}
}

// The ESID layout of the other level (captures deviation 3, digest §13 item 27): a 2.0
// ESID with text in a 1.4 session, or the 4-octet 1.x ESID in a 2.0 session, is
// understood. Ours always has the layout of the session's level, a refusal of the SSID
// included.
func TestConformanceESIDLayouts(t *testing.T) {
	esid20 := func(reason int, text string) []byte {
		b, err := wire.Encode(nil, wire.ESID{Reason: reason, Text: text}, wire.Level20)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("2.0 layout refusing a 1.4 SSID", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			p.send(wire.SSRM{})
			p.expect(wire.CodeSSID)
			p.raw(esid20(4, "INVALID PASSWORD FOR THIS PARTNER CODE")) // 45 octets, as recorded
		})
		opts := cfClientOptions(t)
		opts.Version = oftp.Version14
		_, err := cfDial(t, addr, opts)
		cfReason(t, err, "ESID", 4, false)
		wait()
	})
	t.Run("2.0 layout in a 1.4 session", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level14, 4096, 8)); !ok {
				return
			}
			p.expect(wire.CodeSFID)
			p.raw(esid20(5, "SHUTDOWN"))
			p.expectClosed()
		})
		opts := cfClientOptions(t)
		opts.Version = oftp.Version14
		c := cfMustDial(t, addr, opts)
		_, err := c.SendFile(cfCtx(t), cfOutgoing("LATE", cfContent(10)))
		cfReason(t, err, "ESID", 5, false)
		wait()
	})
	t.Run("1.x layout in a 2.0 session", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		p.raw([]byte("F05\r"))
		p.expectClosed()
		cfReason(t, s.result(), "ESID", 5, false)
	})
	for _, tc := range []struct {
		name   string
		lvl    wire.Level
		mutate func(*wire.SSID)
		after  []byte // sent after a successful logon
		want   string
	}{
		{"our refusal of a 1.4 SSID", wire.Level14, func(s *wire.SSID) { s.Password = "WRONG" }, nil, "F04\r"},
		{"our protocol error at 1.3", wire.Level13, nil, []byte("4N"), "F02\r"},
		{"our protocol error at 1.4", wire.Level14, nil, []byte("P"), "F02\r"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, nil)
			prop := cfProposal(tc.lvl, 4096, 8)
			if tc.mutate != nil {
				tc.mutate(&prop)
			}
			p := s.connect()
			p.send(prop)
			if tc.after != nil {
				_, ans, ok := p.expect(wire.CodeSSID)
				if !ok {
					t.FailNow()
				}
				if ans[47] != ' ' {
					t.Errorf("SSID octet 47 is %q below 2.0", ans[47])
				}
				p.raw(tc.after)
			}
			_, esid, ok := p.expect(wire.CodeESID)
			if !ok || !bytes.Equal(esid, []byte(tc.want)) {
				t.Fatalf("ESID %q, want %q", esid, tc.want)
			}
			p.expectClosed()
			if err := s.result(); err == nil {
				t.Fatal("session ended without error")
			}
		})
	}
	t.Run("1.4 proposal with a 2.0 octet 47", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p := s.connect()
		p.raw(cfSSIDBytes(t, cfProposal(wire.Level14, 4096, 8), map[int]byte{47: 'N'}))
		if _, _, ok := p.expect(wire.CodeSSID); !ok {
			t.FailNow()
		}
		p.lvl = wire.Level14
		p.send(wire.CD{})
		p.expectESID(0)
		if err := s.result(); err != nil {
			t.Fatal(err)
		}
	})
}

// Without DisconnectAfterEndSession the sender of ESID 00 waits in WF_NDISC for the
// partner to close (§9.10 E, §9.9 F) instead of closing first.
func TestConformanceWaitForDisconnect(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.DisconnectAfterEndSession = false })
	p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
	p.send(wire.CD{})
	if _, _, ok := p.expect(wire.CodeESID); !ok {
		t.FailNow()
	}
	if !p.quiet() {
		t.FailNow()
	}
	p.close()
	if err := s.result(); err != nil {
		t.Fatal(err)
	}
}

// A partner that aborts while our client receives its file: the partner's reason is
// returned and, once the session has ended, nothing of the file is left.
func TestConformanceClientReceivingAborted(t *testing.T) {
	cfNoLeaks(t)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 128, 8)); !ok {
			return
		}
		p.expect(wire.CodeCD)
		content := cfContent(500)
		p.send(cfSFID("HALF", cfClientID, cfServerID, len(content)))
		p.expect(wire.CodeSFPA)
		p.raw(cfPack([][]byte{content}, 128)[0])
		p.send(wire.ESID{Reason: 5})
		p.expectClosed()
	})
	opts := cfClientOptions(t)
	c := cfMustDial(t, addr, opts)
	files, err := c.ReceiveFiles(cfCtx(t))
	cfReason(t, err, "ESID", 5, false)
	if len(files) != 0 {
		t.Errorf("files %v", files)
	}
	cfReason(t, c.Wait(), "ESID", 5, false)
	wait()
	cfNothingVisible(t, opts.DownloadDirectory, true)
}

// An EFPA before our EFID (§9.11 transition B: EFPA in OPO) is a protocol error, ESID
// 02; it must not be taken for the answer to the EFID that follows.
func TestConformanceEFPABeforeEFID(t *testing.T) {
	cfNoLeaks(t)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
			return
		}
		if _, _, ok := p.expect(wire.CodeSFID); !ok {
			return
		}
		p.sendTogether(wire.SFPA{}, wire.EFPA{}) // acknowledges a file it has not seen
		for {
			cmd, b, ok := p.next()
			if !ok {
				return
			}
			switch cmd.Code() {
			case wire.CodeESID:
				if r := cmd.(wire.ESID).Reason; r != 2 {
					t.Errorf("ESID %02d (%q), want 02", r, b)
				}
				p.expectClosed()
				return
			case wire.CodeDATA:
			case wire.CodeEFID:
				// Our side must not take the early EFPA as the answer to this EFID.
				p.quiet()
				p.send(wire.EFPA{})
				p.next()
				return
			default:
				t.Errorf("unexpected %s", cmd.Name())
				return
			}
		}
	})
	c := cfMustDial(t, addr, cfClientOptions(t))
	_, err := c.SendFile(cfCtx(t), cfOutgoing("EARLYEFPA", cfContent(1000)))
	wait()
	cfReason(t, err, "ESID", 2, true)
}

// ESID 00 in the middle of a file that started after our unsolicited CD: §9.12 D (ESID
// R=Normal in OPI) is an abort, not a normal end; the partial file is gone.
func TestConformanceNormalESIDInFileAfterOwnCD(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 128, 8)); !ok {
				return
			}
			p.expect(wire.CodeCD)
			content := cfContent(500)
			p.send(cfSFID("HALF", cfClientID, cfServerID, len(content)))
			p.expect(wire.CodeSFPA)
			p.raw(cfPack([][]byte{content}, 128)[0])
			p.send(wire.ESID{Reason: 0})
			p.expectClosed()
		})
		opts := cfClientOptions(t)
		c := cfMustDial(t, addr, opts)
		files, err := c.ReceiveFiles(cfCtx(t))
		c.Wait()
		wait()
		cfNothingVisible(t, opts.DownloadDirectory, true)
		if len(files) != 0 {
			t.Errorf("files %v", files)
		}
		cfReason(t, err, "ESID", 0, false)
	})
	t.Run("server", func(t *testing.T) {
		cfNoLeaks(t)
		// An end response to send brings the server to IDLELICD after its own CD.
		ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{EndResponse: &oftp.EndResponse{DatasetName: "OWED",
			Stamp: oftp.Stamp(cfStamp), Destination: cfClientID, Originator: cfServerID}}}}
		s2 := newCFServer(t, func(_ *oftp.Options, pt *oftp.Partner) { pt.Outbox = ob })
		p2, _ := s2.logon(cfProposal(wire.Level20, 128, 8))
		p2.send(wire.CD{})
		p2.expect(wire.CodeEERP)
		p2.send(wire.RTR{})
		p2.expect(wire.CodeCD) // server now in IDLELICD
		content := cfContent(500)
		p2.send(cfSFID("HALF", cfServerID, cfClientID, len(content)))
		p2.expect(wire.CodeSFPA)
		p2.raw(cfPack([][]byte{content}, 128)[0])
		p2.send(wire.ESID{Reason: 0})
		p2.expectClosed()
		err := s2.result()
		cfNothingVisible(t, s2.inbox, true)
		cfReason(t, err, "ESID", 0, false)
	})
}

// ReceiveFiles returns only once an incoming file the partner aborted has been dropped:
// a caller that looks at its storage right away finds nothing of it.
func TestConformanceReceiveFilesReturnsAfterCleanup(t *testing.T) {
	cfNoLeaks(t)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 128, 8)); !ok {
			return
		}
		p.expect(wire.CodeCD)
		content := cfContent(500)
		p.send(cfSFID("HALF", cfClientID, cfServerID, len(content)))
		p.expect(wire.CodeSFPA)
		p.raw(cfPack([][]byte{content}, 128)[0])
		p.send(wire.ESID{Reason: 5})
		p.expectClosed()
	})
	sink := &cfSink{}
	opts := cfClientOptions(t)
	opts.Receiver = oftp.ReceiverFunc(func(context.Context, *oftp.IncomingFile) (oftp.Decision, error) {
		return oftp.Decision{Sink: sink}, nil
	})
	c := cfMustDial(t, addr, opts)
	_, err := c.ReceiveFiles(cfCtx(t))
	aborted, wrote := sink.aborted.Load(), sink.n.Load()
	c.Wait()
	wait()
	cfReason(t, err, "ESID", 5, false)
	if wrote == 0 {
		t.Error("the sink got no data before the abort")
	}
	if !aborted {
		t.Error("ReceiveFiles returned before the partial file was aborted")
	}
}

// cfSink counts what it stores and records an abort.
type cfSink struct {
	n       atomic.Int64
	aborted atomic.Bool
}

func (s *cfSink) Write(p []byte) (int, error)  { s.n.Add(int64(len(p))); return len(p), nil }
func (s *cfSink) Commit(context.Context) error { return nil }

// Abort takes its time (it yields first, as removing a file would), so that a reply
// sent before it would reach the caller first.
func (s *cfSink) Abort(context.Context) error {
	for range 100 {
		runtime.Gosched()
	}
	s.aborted.Store(true)
	return nil
}
