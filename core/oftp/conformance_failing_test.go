//go:build conformance_failing

package oftp_test

import (
	"errors"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// F1: CDT while the speaker still has credit: §9.10 transition P (CDT in OPO) -> ESID 02.
func TestFailingEarlyCDT(t *testing.T) {
	cfNoLeaks(t)
	const window = 3
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 128, window)); !ok {
			return
		}
		if _, _, ok := p.expect(wire.CodeSFID); !ok {
			return
		}
		// SFPA is an implicit CDT; a CDT on top of it is a protocol error.
		p.send(wire.SFPA{})
		p.send(wire.CDT{})
		n := 0
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
				n++
				if n%window == 0 {
					p.send(wire.CDT{})
				}
			case wire.CodeEFID:
				t.Errorf("speaker took the early CDT as credit and finished the file after %d DATA buffers", n)
				p.send(wire.EFPA{})
				p.expect(wire.CodeCD)
				p.send(wire.ESID{})
				return
			default:
				t.Errorf("unexpected %s", cmd.Name())
				return
			}
		}
	})
	opts := cfClientOptions(t)
	opts.ExchangeBufferSize, opts.CreditCount = 128, window
	c := cfMustDial(t, addr, opts)
	_, err := c.SendFile(cfCtx(t), cfOutgoing("EARLYCDT", cfContent(125*6)))
	if err == nil {
		c.Logoff(cfCtx(t))
	}
	wait()
	cfReason(t, err, "ESID", 2, true)
}

// F2: EFPA before our EFID: §9.11 transition B (EFPA in OPO) -> ESID 02.
func TestFailingEFPABeforeEFID(t *testing.T) {
	cfNoLeaks(t)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
			return
		}
		if _, _, ok := p.expect(wire.CodeSFID); !ok {
			return
		}
		p.send(wire.SFPA{})
		p.send(wire.EFPA{}) // acknowledges a file it has not seen
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

// F3: the partner aborts with ESID while we stream DATA and closes at once (captures
// deviation 7, digest §13 item 30): we must report its ESID reason.
func TestFailingAbortDuringData(t *testing.T) {
	for i := 0; i < 5; i++ {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 64)); !ok {
				return
			}
			if _, _, ok := p.expect(wire.CodeSFID); !ok {
				return
			}
			p.send(wire.SFPA{})
			p.expect(wire.CodeDATA)
			p.expect(wire.CodeDATA)
			p.send(wire.ESID{Reason: 8})
		})
		opts := cfClientOptions(t)
		opts.ExchangeBufferSize, opts.CreditCount = 4096, 64
		c := cfMustDial(t, addr, opts)
		_, err := c.SendFile(cfCtx(t), cfOutgoing("ABORTED", cfContent(4<<20)))
		wait()
		var re *oftp.ReasonError
		if !errors.As(err, &re) || re.Code != 8 || re.Local {
			t.Errorf("run %d: got %v, want the partner's ESID 08 (lost: %v)", i, err, errors.Is(err, oftp.ErrConnectionLost))
		}
	}
}

// F4: a responder answering a larger credit than proposed: §5.3.2 SSIDCRED "otherwise a
// protocol error will abort the session", §9.8 D (!P2) -> ESID 10.
func TestFailingCreditAnswerAboveProposal(t *testing.T) {
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

// F5: a proposal of a future level: §5.3.2 SSIDLEV "Future release levels will have
// higher numbers. The protocol release level is negotiable, with the lowest level being
// selected" -> answer 5.
func TestFailingFutureLevelProposal(t *testing.T) {
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

// F6: an STH announcing more than the negotiated buffer in the middle of a file: refuse
// it from the header (ESID 07) rather than wait for and allocate up to 99999 octets.
func TestFailingOversizedHeaderInFile(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.Timeout = 2 * cfTimeout })
	p, _ := s.logon(cfProposal(wire.Level20, 128, 8))
	p.send(cfSFID("BIG", cfServerID, cfClientID, 100))
	if _, _, ok := p.expect(wire.CodeSFPA); !ok {
		t.FailNow()
	}
	p.octets([]byte{0x10, 0x01, 0x86, 0xA3, 'D'}) // 99999-octet buffer announced, 1 sent
	p.expectESID(7)
	cfReason(t, s.result(), "ESID", 7, true)
}
