package oftp_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// cfEERP is an end response the partner sends for a file our side sent earlier.
func cfEERP() wire.EERP {
	return wire.EERP{DatasetName: "ACKED", Stamp: cfStamp, Destination: cfClientID, Originator: cfServerID}
}

func cfNERP(reason int) wire.NERP {
	return wire.NERP{DatasetName: "REFUSED", Stamp: cfStamp, Destination: cfClientID, Originator: cfServerID,
		Creator: cfServerID, Reason: reason}
}

// sendFile plays the speaker's side of one file: SFID, DATA, EFID; it returns our EFPA.
// The partner uses the credit window exactly and expects our CDT when it is used up.
func (c *cfPeer) sendFile(name, dest, orig string, content []byte, bufSize, window int) (wire.EFPA, bool) {
	c.t.Helper()
	if !c.send(cfSFID(name, dest, orig, len(content))) {
		return wire.EFPA{}, false
	}
	if _, _, ok := c.expect(wire.CodeSFPA); !ok {
		return wire.EFPA{}, false
	}
	for i, b := range cfPack([][]byte{content}, bufSize) {
		if !c.raw(b) {
			return wire.EFPA{}, false
		}
		if (i+1)%window == 0 {
			if _, _, ok := c.expect(wire.CodeCDT); !ok {
				return wire.EFPA{}, false
			}
		}
	}
	if !c.send(wire.EFID{UnitCount: int64(len(content))}) {
		return wire.EFPA{}, false
	}
	cmd, _, ok := c.expect(wire.CodeEFPA)
	if !ok {
		return wire.EFPA{}, false
	}
	return cmd.(wire.EFPA), true
}

// cfCollect gathers end response events of a client.
type cfCollect struct {
	mu  sync.Mutex
	got []oftp.EndResponseEvent
}

func (c *cfCollect) add(e oftp.EndResponseEvent) {
	if e.Direction != oftp.Incoming {
		return
	}
	c.mu.Lock()
	c.got = append(c.got, e)
	c.mu.Unlock()
}

func (c *cfCollect) list() []oftp.EndResponseEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]oftp.EndResponseEvent(nil), c.got...)
}

// A CD reaching a speaker is a protocol error in every speaker state (§9.10 C: IDLESP,
// OPOP, WF_RTR) and after our own unsolicited CD (§9.12 B: IDLELICD, loop prevention).
func TestConformanceCDOutOfTurn(t *testing.T) {
	t.Run("client idle speaker", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			p.send(wire.CD{})
			p.expectESID(2)
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		cfReason(t, c.Wait(), "ESID", 2, true)
		wait()
	})
	t.Run("client waiting for SFPA", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeSFID); !ok {
				return
			}
			p.send(wire.CD{})
			p.expectESID(2)
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		_, err := c.SendFile(cfCtx(t), cfOutgoing("OPOP", cfContent(10)))
		cfReason(t, err, "ESID", 2, true)
		wait()
	})
	t.Run("client waiting for RTR", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeEERP); !ok {
				return
			}
			p.send(wire.CD{})
			p.expectESID(2)
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		err := c.SendEndResponse(cfCtx(t), oftp.EndResponse{DatasetName: "GOT", Stamp: oftp.Stamp(cfStamp),
			Destination: cfServerID, Originator: cfClientID})
		cfReason(t, err, "ESID", 2, true)
		wait()
	})
	t.Run("client gets CD straight back", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeCD); !ok {
				return
			}
			p.send(wire.CD{})
			p.expectESID(2)
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		if err := c.ChangeDirection(cfCtx(t)); err != nil {
			t.Fatal(err)
		}
		cfReason(t, c.Wait(), "ESID", 2, true)
		wait()
	})
	t.Run("server waiting for SFPA", func(t *testing.T) {
		cfNoLeaks(t)
		ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: cfOutgoing("OUT", cfContent(10))}}}
		s := newCFServer(t, func(_ *oftp.Options, pt *oftp.Partner) { pt.Outbox = ob })
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		p.send(wire.CD{})
		if _, _, ok := p.expect(wire.CodeSFID); !ok {
			t.FailNow()
		}
		p.send(wire.CD{})
		p.expectESID(2)
		cfReason(t, s.result(), "ESID", 2, true)
	})
}

// Given the turn by an unsolicited CD with nothing to send, our side ends the session
// (ESID 00 from IDLESPCD, §9.10 E) and never hands the turn straight back.
func TestConformanceTurnWithNothingToSend(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, nil)
	p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
	p.send(wire.CD{})
	p.expectESID(0)
	if err := s.result(); err != nil {
		t.Fatalf("server: %v", err)
	}
}

// ESID 00 is a normal end only in IDLELICD (§9.12 F); anywhere else the listener reports
// an abort (§9.12 D) and closes without answering.
func TestConformanceNormalESIDOutOfTurn(t *testing.T) {
	t.Run("server in IDLELI", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		p.send(wire.ESID{Reason: 0})
		p.expectClosed()
		re := cfReason(t, s.result(), "ESID", 0, false)
		if re.Err == nil {
			t.Error("abort without a cause")
		}
	})
	t.Run("server in OPI", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 128, 8))
		content := cfContent(500)
		p.send(cfSFID("HALF", cfServerID, cfClientID, len(content)))
		if _, _, ok := p.expect(wire.CodeSFPA); !ok {
			t.FailNow()
		}
		p.raw(cfPack([][]byte{content}, 128)[0])
		p.send(wire.ESID{Reason: 0})
		p.expectClosed()
		cfReason(t, s.result(), "ESID", 0, false)
		cfNothingVisible(t, s.inbox, true)
	})
	t.Run("client waiting for SFPA", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeSFID); !ok {
				return
			}
			p.send(wire.ESID{Reason: 0})
			p.expectClosed()
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		_, err := c.SendFile(cfCtx(t), cfOutgoing("OPOP", cfContent(10)))
		cfReason(t, err, "ESID", 0, false)
		wait()
	})
}

// EFPA with CD=Y obliges the speaker to send CD at once (§9.11 C, §4.5.1); the old
// listener is then speaker in IDLESP and may send files and an unsolicited CD.
func TestConformanceEFPAAsksForTurn(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		cfNoLeaks(t)
		back := cfContent(300)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 128, 2)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeSFID); !ok {
				return
			}
			p.send(wire.SFPA{})
			for n := 1; ; n++ {
				cmd, _, ok := p.next()
				if !ok {
					return
				}
				if cmd.Code() == wire.CodeEFID {
					break
				}
				if cmd.Code() != wire.CodeDATA {
					t.Errorf("%s during the data phase", cmd.Name())
					return
				}
				if n%2 == 0 {
					p.send(wire.CDT{})
				}
			}
			p.send(wire.EFPA{ChangeDirection: true})
			if _, _, ok := p.expect(wire.CodeCD); !ok {
				return
			}
			// Now we are speaker (solicited): a file for the client, then the turn back.
			efpa, ok := p.sendFile("BACK", cfClientID, cfServerID, back, 128, 2)
			if !ok || efpa.ChangeDirection {
				t.Errorf("EFPA %+v", efpa)
				return
			}
			p.send(wire.CD{})
			cmd, _, ok := p.expect(wire.CodeEERP)
			if !ok {
				return
			}
			if e := cmd.(wire.EERP); e.DatasetName != "BACK" || e.Stamp != cfStamp || e.Destination != cfServerID || e.Originator != cfClientID {
				t.Errorf("EERP %+v", e)
			}
			// WF_RTR: nothing more until our RTR.
			if !p.quiet() {
				return
			}
			p.send(wire.RTR{})
			// After the EERP the client is in IDLESP: Logoff must give the turn, not end.
			if _, _, ok := p.expect(wire.CodeCD); !ok {
				return
			}
			p.send(wire.ESID{Reason: 0})
			p.expectClosed()
		})
		opts := cfClientOptions(t)
		opts.ExchangeBufferSize, opts.CreditCount = 128, 2
		c := cfMustDial(t, addr, opts)
		ctx := cfCtx(t)
		if _, err := c.SendFile(ctx, cfOutgoing("OUT", cfContent(1000))); err != nil {
			t.Fatalf("SendFile: %v", err)
		}
		if err := c.Logoff(ctx); err != nil {
			t.Fatalf("Logoff: %v", err)
		}
		wait()
		got, err := os.ReadFile(filepath.Join(opts.DownloadDirectory, "BACK"))
		if err != nil || !bytes.Equal(got, back) {
			t.Fatalf("file from the partner: %d octets, %v", len(got), err)
		}
	})
	t.Run("server", func(t *testing.T) {
		cfNoLeaks(t)
		out := cfContent(700)
		ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: cfOutgoing("OUT", out)}}}
		s := newCFServer(t, func(_ *oftp.Options, pt *oftp.Partner) { pt.Outbox = ob })
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		p.send(wire.CD{})
		if _, _, ok := p.expect(wire.CodeSFID); !ok {
			t.FailNow()
		}
		p.send(wire.SFPA{})
		var got []byte
		for {
			cmd, _, ok := p.next()
			if !ok {
				t.FailNow()
			}
			if d, isData := cmd.(wire.DATA); isData {
				b, _, err := cfUnpack(d.Payload)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b...)
				continue
			}
			if cmd.Code() != wire.CodeEFID {
				t.Fatalf("%s during the data phase", cmd.Name())
			}
			break
		}
		if !bytes.Equal(got, out) {
			t.Fatalf("received %d octets, sent %d", len(got), len(out))
		}
		p.send(wire.EFPA{ChangeDirection: true})
		if _, _, ok := p.expect(wire.CodeCD); !ok {
			t.FailNow()
		}
		// Solicited speaker now; an unsolicited CD gives the server the turn in IDLESPCD
		// with nothing left: it ends the session.
		p.send(wire.CD{})
		p.expectESID(0)
		if err := s.result(); err != nil {
			t.Fatalf("server: %v", err)
		}
		if len(ob.Results) != 1 || ob.Results[0] != nil {
			t.Fatalf("outbox results %v", ob.Results)
		}
	})
}

// After each EERP the speaker waits for RTR before anything else (§4.3.6, §9.10 N) and
// is then in IDLESP, where it may not end the session (§3.3.4).
func TestConformanceEERPWaitsForRTR(t *testing.T) {
	t.Run("two end responses", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		for _, name := range []string{"FIRST", "SECOND"} {
			if _, ok := p.sendFile(name, cfServerID, cfClientID, cfContent(100), 4096, 8); !ok {
				t.FailNow()
			}
		}
		p.send(wire.CD{})
		for _, name := range []string{"FIRST", "SECOND"} {
			cmd, _, ok := p.expect(wire.CodeEERP)
			if !ok {
				t.FailNow()
			}
			if e := cmd.(wire.EERP); e.DatasetName != name || e.Destination != cfClientID || e.Originator != cfServerID {
				t.Errorf("EERP %+v for %s", e, name)
			}
			if !p.quiet() {
				t.FailNow()
			}
			p.send(wire.RTR{})
		}
		if _, _, ok := p.expect(wire.CodeCD); !ok {
			t.FailNow()
		}
		p.send(wire.ESID{Reason: 0})
		p.expectClosed()
		if err := s.result(); err != nil {
			t.Fatalf("server: %v", err)
		}
	})
	t.Run("CD instead of RTR", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		if _, ok := p.sendFile("FIRST", cfServerID, cfClientID, cfContent(100), 4096, 8); !ok {
			t.FailNow()
		}
		p.send(wire.CD{})
		if _, _, ok := p.expect(wire.CodeEERP); !ok {
			t.FailNow()
		}
		p.send(wire.CD{})
		p.expectESID(2)
		cfReason(t, s.result(), "ESID", 2, true)
	})
}

// A listener takes EERP and NERP in IDLELI and IDLELICD, answers RTR and is in IDLELI
// afterwards (§9.12 E, L, M); anywhere in a file they are a protocol error (§9.12 B).
func TestConformanceEndResponsesWhileListening(t *testing.T) {
	t.Run("server in IDLELI", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
		p.send(cfEERP())
		if _, _, ok := p.expect(wire.CodeRTR); !ok {
			t.FailNow()
		}
		p.send(cfNERP(20))
		if _, _, ok := p.expect(wire.CodeRTR); !ok {
			t.FailNow()
		}
		p.send(wire.CD{})
		p.expectESID(0)
		if err := s.result(); err != nil {
			t.Fatalf("server: %v", err)
		}
		ev := s.endResponses()
		if len(ev) != 2 || ev[0].DatasetName != "ACKED" || ev[0].Reason != 0 || ev[1].DatasetName != "REFUSED" || ev[1].Reason != 20 {
			t.Fatalf("end responses %+v", ev)
		}
	})
	t.Run("client in IDLELICD", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeCD); !ok {
				return
			}
			p.send(cfEERP())
			if _, _, ok := p.expect(wire.CodeRTR); !ok {
				return
			}
			p.send(cfNERP(35))
			if _, _, ok := p.expect(wire.CodeRTR); !ok {
				return
			}
			// The client is back in IDLELI: a CD gives it the turn in IDLESPCD, where it
			// ends the session.
			p.send(wire.CD{})
			p.expectESID(0)
		})
		var col cfCollect
		opts := cfClientOptions(t)
		opts.Events.EndResponse = col.add
		c := cfMustDial(t, addr, opts)
		ctx := cfCtx(t)
		files, err := c.ReceiveFiles(ctx)
		if err != nil || len(files) != 0 {
			t.Fatalf("ReceiveFiles: %v, %v", files, err)
		}
		if err := c.Logoff(ctx); err != nil {
			t.Fatalf("Logoff: %v", err)
		}
		wait()
		ev := col.list()
		if len(ev) != 2 || ev[0].Reason != 0 || ev[1].Reason != 35 || ev[1].Creator != cfServerID {
			t.Fatalf("end responses %+v", ev)
		}
	})
	t.Run("client ended normally after an EERP in IDLELICD", func(t *testing.T) {
		// The EERP moved the client to IDLELI, so the ESID 00 is out of turn.
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeCD); !ok {
				return
			}
			p.send(cfEERP())
			if _, _, ok := p.expect(wire.CodeRTR); !ok {
				return
			}
			p.send(wire.ESID{Reason: 0})
			p.expectClosed()
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		_, err := c.ReceiveFiles(cfCtx(t))
		cfReason(t, err, "ESID", 0, false)
		wait()
	})
	t.Run("server in OPI", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p, _ := s.logon(cfProposal(wire.Level20, 128, 8))
		content := cfContent(300)
		p.send(cfSFID("HALF", cfServerID, cfClientID, len(content)))
		if _, _, ok := p.expect(wire.CodeSFPA); !ok {
			t.FailNow()
		}
		p.raw(cfPack([][]byte{content}, 128)[0])
		p.send(cfEERP())
		p.expectESID(2)
		cfReason(t, s.result(), "ESID", 2, true)
		cfNothingVisible(t, s.inbox, true)
	})
}

// A listener that asked for the turn (EFPA CD=Y) waits for CD (WF_CD): anything else is
// a protocol error; the CD makes it a speaker in IDLESP, which sends what it owes and
// then hands the turn back rather than ending the session (§9.10 E needs IDLESPCD).
func TestConformanceWaitForCD(t *testing.T) {
	for _, tc := range []struct {
		name string
		next wire.Command
	}{
		{"CD", wire.CD{}},
		{"SFID instead of CD", cfSFID("NEXT", cfServerID, cfClientID, 1)},
		{"EERP instead of CD", cfEERP()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.RequestTurnAfterFile = true })
			p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
			efpa, ok := p.sendFile("ASKED", cfServerID, cfClientID, cfContent(100), 4096, 8)
			if !ok || !efpa.ChangeDirection {
				t.Fatalf("EFPA %+v", efpa)
			}
			p.send(tc.next)
			if tc.next.Code() != wire.CodeCD {
				p.expectESID(2)
				cfReason(t, s.result(), "ESID", 2, true)
				return
			}
			if _, _, ok := p.expect(wire.CodeEERP); !ok {
				t.FailNow()
			}
			p.send(wire.RTR{})
			if _, _, ok := p.expect(wire.CodeCD); !ok {
				t.FailNow()
			}
			p.send(wire.ESID{})
			p.expectClosed()
			if err := s.result(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("client idle speaker gets SFID", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			p.send(cfSFID("PUSHED", cfClientID, cfServerID, 10))
			p.expectESID(2)
		})
		opts := cfClientOptions(t)
		c := cfMustDial(t, addr, opts)
		cfReason(t, c.Wait(), "ESID", 2, true)
		wait()
		cfNothingVisible(t, opts.DownloadDirectory, true)
	})
}

// Commands that only belong to a file or to the other role are protocol errors in the
// idle states (§9.10 C, §9.12 B).
func TestConformanceCommandsInWrongState(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  wire.Command
	}{
		{"DATA in IDLELI", wire.DATA{Payload: []byte{0x83, 'A', 'B', 'C'}}},
		{"EFID in IDLELI", wire.EFID{UnitCount: 3}},
		{"CDT in IDLELI", wire.CDT{}},
		{"RTR in IDLELI", wire.RTR{}},
		{"EFPA in IDLELI", wire.EFPA{}},
		{"SSID in IDLELI", cfProposal(wire.Level20, 4096, 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, nil)
			p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
			p.send(tc.cmd)
			p.expectESID(2)
			cfReason(t, s.result(), "ESID", 2, true)
			cfNothingVisible(t, s.inbox, true)
		})
	}
	for _, tc := range []struct {
		name string
		cmd  wire.Command
	}{
		{"RTR to an idle speaker", wire.RTR{}},
		{"CDT to an idle speaker", wire.CDT{}},
		{"EERP to an idle speaker", cfEERP()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			addr, wait := cfResponder(t, func(p *cfPeer) {
				if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
					return
				}
				p.send(tc.cmd)
				p.expectESID(2)
			})
			c := cfMustDial(t, addr, cfClientOptions(t))
			cfReason(t, c.Wait(), "ESID", 2, true)
			wait()
		})
	}
}
