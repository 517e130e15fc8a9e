package oftp_test

import (
	"bytes"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// cfSSIDBytes encodes an SSID and lets a test patch octets the encoder would refuse.
func cfSSIDBytes(t *testing.T, s wire.SSID, patch map[int]byte) []byte {
	t.Helper()
	b, err := wire.Encode(nil, s, s.Level)
	if err != nil {
		t.Fatal(err)
	}
	for pos, v := range patch {
		b[pos] = v
	}
	return b
}

// Start of session (§9.8): the initiator waits for SSRM and then for one SSID; the
// responder answers the lowest level, complementary modes, credit and buffer not above
// the proposal, and the same secure authentication flag (ESID 10 / 12 otherwise).
func TestConformanceStartSessionInitiator(t *testing.T) {
	cases := []struct {
		name   string
		script func(p *cfPeer) // the responder's part up to the expected ESID
		opts   func(o *oftp.Options)
		reason int
	}{
		{"SSID before SSRM", func(p *cfPeer) {
			p.send(cfAnswer(wire.Level20, 4096, 8))
		}, nil, 2},
		{"second SSRM", func(p *cfPeer) {
			p.send(wire.SSRM{})
			p.expect(wire.CodeSSID)
			p.send(wire.SSRM{})
		}, nil, 2},
		{"answer at undefined level 3", func(p *cfPeer) {
			p.send(wire.SSRM{})
			p.expect(wire.CodeSSID)
			p.raw(cfSSIDBytes(p.t, cfAnswer(wire.Level20, 4096, 8), map[int]byte{1: '3'}))
		}, nil, 10},
		{"answer above the proposed level", func(p *cfPeer) {
			p.send(wire.SSRM{})
			p.expect(wire.CodeSSID)
			p.raw(cfSSIDBytes(p.t, cfAnswer(wire.Level20, 4096, 8), map[int]byte{1: '6'}))
		}, nil, 10},
		{"both send only", func(p *cfPeer) {
			a := cfAnswer(wire.Level20, 4096, 8)
			a.Mode = wire.ModeSender
			p.respond(a)
		}, func(o *oftp.Options) { o.ConnectionType = oftp.ConnectionSendOnly }, 10},
		{"both receive only", func(p *cfPeer) {
			a := cfAnswer(wire.Level20, 4096, 8)
			a.Mode = wire.ModeReceiver
			p.respond(a)
		}, func(o *oftp.Options) { o.ConnectionType = oftp.ConnectionReceiveOnly }, 10},
		{"secure authentication answered though not asked", func(p *cfPeer) {
			a := cfAnswer(wire.Level20, 4096, 8)
			a.SecureAuth = true
			p.respond(a)
		}, nil, 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			addr, wait := cfResponder(t, func(p *cfPeer) {
				tc.script(p)
				p.expectESID(tc.reason)
			})
			opts := cfClientOptions(t)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := cfDial(t, addr, opts)
			cfReason(t, err, "ESID", tc.reason, true)
			wait()
		})
	}
}

func TestConformanceStartSessionResponder(t *testing.T) {
	cases := []struct {
		name   string
		ssid   []byte
		opts   func(o *oftp.Options)
		reason int
	}{
		{"undefined level 3", nil, nil, 10},
		{"both send only", nil, func(o *oftp.Options) { o.ConnectionType = oftp.ConnectionSendOnly }, 10},
		{"both receive only", nil, func(o *oftp.Options) { o.ConnectionType = oftp.ConnectionReceiveOnly }, 10},
		{"secure authentication asked, not configured", nil, nil, 12},
		{"wrong password", nil, nil, 4},
		{"unknown code", nil, nil, 3},
	}
	for i := range cases {
		tc := &cases[i]
		p := cfProposal(wire.Level20, 4096, 8)
		var patch map[int]byte
		switch tc.name {
		case "undefined level 3":
			patch = map[int]byte{1: '3'}
		case "both send only":
			p.Mode = wire.ModeSender
		case "both receive only":
			p.Mode = wire.ModeReceiver
		case "secure authentication asked, not configured":
			p.SecureAuth = true
		case "wrong password":
			p.Password = "WRONG"
		case "unknown code":
			p.ID = "O0013STRANGER"
		}
		tc.ssid = cfSSIDBytes(t, p, patch)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) {
				if tc.opts != nil {
					tc.opts(o)
				}
			})
			p := s.connect()
			p.raw(tc.ssid)
			p.expectESID(tc.reason)
			cfReason(t, s.result(), "ESID", tc.reason, true)
		})
	}
}

// The initiator may send its SSID before the SSRM arrives; the responder reads it in
// A_NC_ONLY all the same (TCP keeps the order of each direction).
func TestConformanceSSIDBeforeSSRMArrives(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, nil)
	p := s.connectRaw()
	p.send(cfProposal(wire.Level20, 4096, 8))
	if _, _, ok := p.expect(wire.CodeSSRM); !ok {
		t.FailNow()
	}
	if _, _, ok := p.expect(wire.CodeSSID); !ok {
		t.FailNow()
	}
	if _, ok := p.sendFile("EARLY", cfServerID, cfClientID, cfContent(10), 4096, 8); !ok {
		t.FailNow()
	}
	p.send(wire.CD{})
	p.expect(wire.CodeEERP)
	p.send(wire.RTR{})
	p.expect(wire.CodeCD)
	p.send(wire.ESID{})
	p.expectClosed()
	if err := s.result(); err != nil {
		t.Fatal(err)
	}
}

// A responder that answers a larger buffer than proposed (§5.3.2 SSIDSDEB: the smallest
// is selected) never gets DATA above our own proposal.
func TestConformanceBufferAnswerAboveProposal(t *testing.T) {
	cfNoLeaks(t)
	content := cfContent(20000)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 8192, 8)); !ok {
			return
		}
		p.expect(wire.CodeSFID)
		p.send(wire.SFPA{})
		var got []byte
		for n := 1; ; n++ {
			cmd, b, ok := p.next()
			if !ok {
				return
			}
			if cmd.Code() == wire.CodeEFID {
				break
			}
			if len(b) > 4096 {
				t.Errorf("DATA of %d octets, we proposed 4096", len(b))
			}
			d, _, _ := cfUnpack(b[1:])
			got = append(got, d...)
			if n%8 == 0 {
				p.send(wire.CDT{})
			}
		}
		if !bytes.Equal(got, content) {
			t.Error("content differs")
		}
		p.send(wire.EFPA{})
		p.expect(wire.CodeCD)
		p.send(wire.ESID{})
		p.expectClosed()
	})
	opts := cfClientOptions(t)
	opts.ExchangeBufferSize, opts.CreditCount = 4096, 8
	c := cfMustDial(t, addr, opts)
	if bs := c.Session().BufferSize; bs != 4096 {
		t.Errorf("session buffer %d", bs)
	}
	ctx := cfCtx(t)
	if _, err := c.SendFile(ctx, cfOutgoing("BUF", content)); err != nil {
		t.Fatal(err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	wait()
}

// Restart only when both sides offer it (§5.3.2 SSIDREST); otherwise SFIDREST is 0 and a
// listener receiving SFIDREST > 0 aborts (§9.12 P1). SFPAACNT may not exceed SFIDREST
// (§9.10 P2); a smaller answer resumes there with whole-file counts in EFID.
func TestConformanceRestartNegotiation(t *testing.T) {
	content := cfContent(5000)
	restartFile := func() *oftp.OutgoingFile {
		f := cfOutgoing("RESUME", content)
		f.RestartPosition = 3
		return f
	}
	t.Run("client offers, responder does not", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 8192, 8)); !ok {
				return
			}
			cmd, _, ok := p.expect(wire.CodeSFID)
			if !ok {
				return
			}
			if r := cmd.(wire.SFID).RestartPos; r != 0 {
				t.Errorf("SFIDREST %d without agreed restart", r)
			}
			p.send(wire.SFPA{})
			d, _, ok := p.expect(wire.CodeDATA)
			if !ok {
				return
			}
			if got, _, _ := cfUnpack(d.(wire.DATA).Payload); !bytes.Equal(got, content) {
				t.Error("file not sent from its start")
			}
			p.expect(wire.CodeEFID)
			p.send(wire.EFPA{})
			p.expect(wire.CodeCD)
			p.send(wire.ESID{})
			p.expectClosed()
		})
		opts := cfClientOptions(t)
		opts.Restart = true
		c := cfMustDial(t, addr, opts)
		ctx := cfCtx(t)
		res, err := c.SendFile(ctx, restartFile())
		if err != nil || res.RestartPosition != 0 {
			t.Fatalf("SendFile: %+v, %v", res, err)
		}
		c.Logoff(ctx)
		wait()
	})
	t.Run("client resumes at a smaller answer", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			a := cfAnswer(wire.Level20, 8192, 8)
			a.Restart = true
			if _, ok := p.respond(a); !ok {
				return
			}
			cmd, _, ok := p.expect(wire.CodeSFID)
			if !ok {
				return
			}
			if r := cmd.(wire.SFID).RestartPos; r != 3 {
				t.Errorf("SFIDREST %d, want 3", r)
			}
			p.send(wire.SFPA{AnswerCount: 2})
			d, _, ok := p.expect(wire.CodeDATA)
			if !ok {
				return
			}
			if got, _, _ := cfUnpack(d.(wire.DATA).Payload); !bytes.Equal(got, content[2048:]) {
				t.Errorf("resumed with %d octets, want those after block 2", len(got))
			}
			cmd, _, ok = p.expect(wire.CodeEFID)
			if !ok {
				return
			}
			if u := cmd.(wire.EFID).UnitCount; u != int64(len(content)) {
				t.Errorf("EFIDUCNT %d after restart, want the whole file %d", u, len(content))
			}
			p.send(wire.EFPA{})
			p.expect(wire.CodeCD)
			p.send(wire.ESID{})
			p.expectClosed()
		})
		opts := cfClientOptions(t)
		opts.Restart = true
		c := cfMustDial(t, addr, opts)
		ctx := cfCtx(t)
		res, err := c.SendFile(ctx, restartFile())
		if err != nil || res.RestartPosition != 2 {
			t.Fatalf("SendFile: %+v, %v", res, err)
		}
		c.Logoff(ctx)
		wait()
	})
	for _, tc := range []struct {
		name     string
		restart  bool
		answered int64
	}{
		{"answer count above the proposal", true, 4},
		{"answer count without agreed restart", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			addr, wait := cfResponder(t, func(p *cfPeer) {
				a := cfAnswer(wire.Level20, 8192, 8)
				a.Restart = tc.restart
				if _, ok := p.respond(a); !ok {
					return
				}
				p.expect(wire.CodeSFID)
				p.send(wire.SFPA{AnswerCount: tc.answered})
				p.expectESID(2)
			})
			opts := cfClientOptions(t)
			opts.Restart = true
			c := cfMustDial(t, addr, opts)
			_, err := c.SendFile(cfCtx(t), restartFile())
			cfReason(t, err, "ESID", 2, true)
			wait()
		})
	}
	for _, tc := range []struct {
		name          string
		ours, theirs  bool
		sendOnlyPeer  bool
		restartOffset int64
	}{
		{"server without restart gets SFIDREST", false, true, false, 5},
		{"initiator did not offer restart", true, false, false, 5},
		{"SFID from a receive-only initiator", true, true, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.Restart = tc.ours })
			prop := cfProposal(wire.Level20, 4096, 8)
			prop.Restart = tc.theirs
			if tc.sendOnlyPeer {
				prop.Mode = wire.ModeReceiver // the initiator only receives: we only send
			}
			p, ans := s.logon(prop)
			if ans.Restart != (tc.ours && tc.theirs) {
				t.Errorf("SSIDREST answered %v", ans.Restart)
			}
			sfid := cfSFID("REST", cfServerID, cfClientID, 100)
			sfid.RestartPos = tc.restartOffset
			p.send(sfid)
			p.expectESID(2)
			cfReason(t, s.result(), "ESID", 2, true)
			cfNothingVisible(t, s.inbox, true)
		})
	}
}

// SFNA carries the exact reason and leaves the roles as they were (§9.12 H: IDLELI);
// a restart proposal for a file we hold nothing of is answered with count 0 (§5.3.4).
func TestConformanceStartFileAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dest, orig string
		format     wire.Format
		lrecl      int
		reason     int
	}{
		{"not for us", "O0013SOMEONE", cfClientID, wire.FormatUnstructured, 0, 2},
		{"from an unknown originator", cfServerID, "O0013SOMEONE", wire.FormatUnstructured, 0, 3},
		{"F file without record length", cfServerID, cfClientID, wire.FormatFixed, 0, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, nil)
			p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
			sfid := cfSFID("REFUSED", tc.dest, tc.orig, 10)
			sfid.Format, sfid.MaxRecordSize = tc.format, tc.lrecl
			p.send(sfid)
			cmd, b, ok := p.expect(wire.CodeSFNA)
			if !ok {
				t.FailNow()
			}
			if r := cmd.(wire.SFNA); r.Reason != tc.reason || r.Retry {
				t.Fatalf("SFNA %q, want %02d without retry", b, tc.reason)
			}
			// Still the speaker: the next file goes through.
			if _, ok := p.sendFile("ACCEPTED", cfServerID, cfClientID, cfContent(10), 4096, 8); !ok {
				t.FailNow()
			}
			p.send(wire.CD{})
			p.expect(wire.CodeEERP)
			p.send(wire.RTR{})
			p.expect(wire.CodeCD)
			p.send(wire.ESID{})
			p.expectClosed()
			if err := s.result(); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("restart of a file we do not hold", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.Restart = true })
		prop := cfProposal(wire.Level20, 4096, 8)
		prop.Restart = true
		p, _ := s.logon(prop)
		content := cfContent(3000)
		sfid := cfSFID("UNKNOWN", cfServerID, cfClientID, len(content))
		sfid.RestartPos = 2
		p.send(sfid)
		cmd, _, ok := p.expect(wire.CodeSFPA)
		if !ok || cmd.(wire.SFPA).AnswerCount != 0 {
			t.Fatalf("SFPA %+v", cmd)
		}
		for _, b := range cfPack([][]byte{content}, 4096) {
			p.raw(b)
		}
		p.send(wire.EFID{UnitCount: int64(len(content))})
		if _, _, ok := p.expect(wire.CodeEFPA); !ok {
			t.FailNow()
		}
		p.send(wire.CD{})
		p.expect(wire.CodeEERP)
		p.send(wire.RTR{})
		p.expect(wire.CodeCD)
		p.send(wire.ESID{})
		p.expectClosed()
		if err := s.result(); err != nil {
			t.Fatal(err)
		}
	})
}

// A responder answering a larger credit than proposed: §5.3.2 SSIDCRED "otherwise a
// protocol error will abort the session", §9.8 D (!P2): ESID 10.
func TestConformanceCreditAnswerAboveProposal(t *testing.T) {
	cfNoLeaks(t)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 10)); !ok {
			return
		}
		p.expectESID(10)
	})
	opts := cfClientOptions(t)
	opts.CreditCount = 3
	c, err := cfDial(t, addr, opts)
	if err == nil {
		c.Disconnect()
	}
	wait()
	cfReason(t, err, "ESID", 10, true)
}

// A proposal of a future level: §5.3.2 SSIDLEV "Future release levels will have higher
// numbers. The protocol release level is negotiable, with the lowest level being
// selected": we answer our own highest level, 5.
func TestConformanceFutureLevelProposal(t *testing.T) {
	for _, lev := range []wire.Level{6, 9} {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p := s.connect()
		b, _ := wire.Encode(nil, cfProposal(wire.Level20, 4096, 8), wire.Level20)
		b[1] = byte('0' + lev)
		p.raw(b)
		cmd, raw, ok := p.next()
		if !ok {
			t.Fatal("no answer")
		}
		if a, isSSID := cmd.(wire.SSID); !isSSID || a.Level != wire.Level20 {
			t.Errorf("proposal %d answered %q, want SSID at level 5", lev, raw)
		}
		p.close()
		s.result()
	}
}
