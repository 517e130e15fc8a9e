package oftp_test

import (
	"bytes"
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// Broken exchange buffers (§5.3.11 reasons, §8.2, §9.9 "Invalid Buffer"): an unknown
// command letter is ESID 01, a length that does not fit the command ESID 07, a field with
// invalid content ESID 06. A header that is not an OFTP STH at all gets ESID 99 (the RFC
// has no better code for it), and an STH announcing more than any exchange buffer may
// hold is refused from its four octets, before anything is read or allocated for it.
func TestConformanceBrokenBuffersToInitiator(t *testing.T) {
	type phase int
	const (
		idle      phase = iota // the client holds the turn and waits for its user
		afterSFID              // the client waits for SFPA
		afterDATA              // window 1: the client waits for CDT
		afterEFID              // the client waits for EFPA
	)
	cases := []struct {
		name   string
		at     phase
		octets []byte // sent as they are, STH included
		reason int
	}{
		{"unknown command while idle", idle, cfSTB("Zulu"), 1},
		{"unknown command instead of SFPA", afterSFID, cfSTB("?"), 1},
		{"CD of two octets", idle, cfSTB("RR"), 7},
		{"SFPA one digit short", afterSFID, cfSTB("2" + "0000000000000000"), 7},
		{"CDT with a fourth octet", afterDATA, cfSTB("C   "), 7},
		{"EFPA of three octets", afterEFID, cfSTB("4NN"), 7},
		{"SFPA count not numeric", afterSFID, cfSTB("2" + "0000000000000000O"), 6},
		{"EFPA flag neither Y nor N", afterEFID, cfSTB("4X"), 6},
		{"EFNA reason not numeric", afterEFID, cfSTB("5A1000"), 6},
		{"STH version 2", idle, []byte{0x20, 0, 0, 5, 'R'}, 99},
		{"STH without exchange buffer", afterSFID, []byte{0x10, 0, 0, 4}, 7},
		{"STH beyond 99999 octets, header only", afterSFID, []byte{0x10, 0x01, 0x86, 0xA4}, 7},
		{"STH of 16 MiB, header only", idle, []byte{0x10, 0xFF, 0xFF, 0xFF}, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			addr, wait := cfResponder(t, func(p *cfPeer) {
				if _, ok := p.respond(cfAnswer(wire.Level20, 128, 1)); !ok {
					return
				}
				if tc.at >= afterSFID {
					if _, _, ok := p.expect(wire.CodeSFID); !ok {
						return
					}
				}
				if tc.at >= afterDATA {
					p.send(wire.SFPA{})
					if _, _, ok := p.expect(wire.CodeDATA); !ok {
						return
					}
				}
				if tc.at >= afterEFID {
					p.send(wire.CDT{})
					if _, _, ok := p.expect(wire.CodeEFID); !ok {
						return
					}
				}
				p.octets(tc.octets)
				p.expectESID(tc.reason)
			})
			opts := cfClientOptions(t)
			opts.ExchangeBufferSize, opts.CreditCount = 128, 1
			c := cfMustDial(t, addr, opts)
			var err error
			if tc.at == idle {
				err = c.Wait()
			} else {
				_, err = c.SendFile(cfCtx(t), cfOutgoing("BROKEN", cfContent(100)))
			}
			cfReason(t, err, "ESID", tc.reason, true)
			wait()
		})
	}
}

func TestConformanceBrokenBuffersToResponder(t *testing.T) {
	const bufSize = 128
	content := cfContent(300)
	bufs := cfPack([][]byte{content}, bufSize)
	efid := func(t *testing.T) []byte {
		b, err := wire.Encode(nil, wire.EFID{UnitCount: int64(len(content))}, wire.Level20)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name   string
		inFile bool // after SFID, SFPA and the first DATA buffer
		octets func(t *testing.T) []byte
		reason int
	}{
		{"RTR of two octets", false, func(*testing.T) []byte { return cfSTB("PP") }, 7},
		{"STH version 2", false, func(*testing.T) []byte { return []byte{0x20, 0, 0, 5, 'R'} }, 99},
		{"STH beyond 99999 octets, header only", true, func(*testing.T) []byte { return []byte{0x10, 0x01, 0x86, 0xA4} }, 7},
		{"DATA twice the negotiated size", true, func(*testing.T) []byte {
			big := cfPack([][]byte{cfContent(240)}, 2*bufSize)[0]
			return cfSTB(string(big))
		}, 7},
		{"subrecord running past the buffer", true, func(*testing.T) []byte { return cfSTB("D\x3fABC") }, 7},
		{"compressed subrecord without compression", true, func(*testing.T) []byte { return cfSTB("D\xc5A") }, 6},
		{"EFID count not numeric", true, func(t *testing.T) []byte {
			b := efid(t)
			b[30] = 'X'
			return cfSTB(string(b))
		}, 6},
		{"EFID one octet short", true, func(t *testing.T) []byte { return cfSTB(string(efid(t)[:34])) }, 7},
		{"SFID in the middle of a file", true, func(t *testing.T) []byte {
			b, _ := wire.Encode(nil, cfSFID("OTHER", cfServerID, cfClientID, 1), wire.Level20)
			return cfSTB(string(b))
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, nil)
			p, _ := s.logon(cfProposal(wire.Level20, bufSize, 8))
			if tc.inFile {
				p.send(cfSFID("PARTIAL", cfServerID, cfClientID, len(content)))
				if _, _, ok := p.expect(wire.CodeSFPA); !ok {
					t.FailNow()
				}
				p.raw(bufs[0])
			}
			p.octets(tc.octets(t))
			p.expectESID(tc.reason)
			cfReason(t, s.result(), "ESID", tc.reason, true)
			cfNothingVisible(t, s.inbox, true)
		})
	}
	t.Run("SSID buffer size not numeric", func(t *testing.T) {
		cfNoLeaks(t)
		s := newCFServer(t, nil)
		p := s.connect()
		p.raw(cfSSIDBytes(t, cfProposal(wire.Level20, 4096, 8), map[int]byte{37: 'O'}))
		p.expectESID(6)
		cfReason(t, s.result(), "ESID", 6, true)
	})
}

// cfSTB frames an exchange buffer given as a string.
func cfSTB(oeb string) []byte {
	return append(wire.AppendSTH(nil, len(oeb)), oeb...)
}

// EFID counts that disagree with the data are answered EFNA 10 (records) or 11 (octets)
// (§5.3.8, §5.3.10); the file is not stored, no EERP is owed for it, and the session goes
// on (§9.12 K, roles unchanged).
func TestConformanceEFIDCountMismatch(t *testing.T) {
	rec := func(n int) [][]byte {
		var r [][]byte
		for i := range n {
			r = append(r, bytes.Repeat([]byte{byte('A' + i)}, 50))
		}
		return r
	}
	cases := []struct {
		name    string
		format  wire.Format
		records [][]byte
		efid    wire.EFID
		reason  int
	}{
		{"V file, one record more", wire.FormatVariable, rec(3), wire.EFID{RecordCount: 4, UnitCount: 150}, 10},
		{"V file, one record less", wire.FormatVariable, rec(3), wire.EFID{RecordCount: 2, UnitCount: 150}, 10},
		{"F file, one record more", wire.FormatFixed, rec(3), wire.EFID{RecordCount: 4, UnitCount: 150}, 10},
		{"V file, octets wrong", wire.FormatVariable, rec(3), wire.EFID{RecordCount: 3, UnitCount: 151}, 11},
		{"U file, one octet more", wire.FormatUnstructured, [][]byte{cfContent(400)}, wire.EFID{UnitCount: 401}, 11},
		{"U file, one octet less", wire.FormatUnstructured, [][]byte{cfContent(400)}, wire.EFID{UnitCount: 399}, 11},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfNoLeaks(t)
			s := newCFServer(t, nil)
			p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
			sfid := cfSFID("COUNTED", cfServerID, cfClientID, 1)
			sfid.Format = tc.format
			if tc.format != wire.FormatUnstructured {
				sfid.MaxRecordSize = 50
			}
			p.send(sfid)
			if _, _, ok := p.expect(wire.CodeSFPA); !ok {
				t.FailNow()
			}
			for _, b := range cfPack(tc.records, 4096) {
				p.raw(b)
			}
			p.send(tc.efid)
			cmd, _, ok := p.expect(wire.CodeEFNA)
			if !ok {
				t.FailNow()
			}
			if r := cmd.(wire.EFNA).Reason; r != tc.reason {
				t.Fatalf("EFNA %02d, want %02d", r, tc.reason)
			}
			cfNothingVisible(t, s.inbox, true)
			// Roles unchanged, nothing owed: given the turn, the server ends the session.
			p.send(wire.CD{})
			p.expectESID(0)
			if err := s.result(); err != nil {
				t.Fatalf("server: %v", err)
			}
		})
	}
	t.Run("client keeps the session after EFNA", func(t *testing.T) {
		cfNoLeaks(t)
		addr, wait := cfResponder(t, func(p *cfPeer) {
			if _, ok := p.respond(cfAnswer(wire.Level20, 4096, 8)); !ok {
				return
			}
			for _, answer := range []wire.Command{wire.EFNA{Reason: 11, Text: "BYTE COUNT"}, wire.EFPA{}} {
				p.expect(wire.CodeSFID)
				p.send(wire.SFPA{})
				p.expect(wire.CodeDATA)
				p.expect(wire.CodeEFID)
				p.send(answer)
			}
			p.expect(wire.CodeCD)
			p.send(wire.ESID{})
			p.expectClosed()
		})
		c := cfMustDial(t, addr, cfClientOptions(t))
		ctx := cfCtx(t)
		_, err := c.SendFile(ctx, cfOutgoing("FIRST", cfContent(100)))
		re := cfReason(t, err, "EFNA", 11, false)
		if re.Text != "BYTE COUNT" {
			t.Errorf("text %q", re.Text)
		}
		if _, err := c.SendFile(ctx, cfOutgoing("SECOND", cfContent(100))); err != nil {
			t.Fatalf("second file: %v", err)
		}
		if err := c.Logoff(ctx); err != nil {
			t.Fatal(err)
		}
		wait()
	})
}

// NERP does not exist below 1.4: at 1.3 its letter is not a command (ESID 01).
func TestConformanceNERPAt13(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, nil)
	p, _ := s.logon(cfProposal(wire.Level13, 4096, 8))
	n, err := wire.Encode(nil, cfNERP(35), wire.Level14) // the 1.4 layout, 128 octets
	if err != nil {
		t.Fatal(err)
	}
	p.raw(n)
	_, esid, ok := p.expect(wire.CodeESID)
	if !ok || string(esid) != "F01\r" {
		t.Fatalf("ESID %q, want F01 in the 1.3 layout", esid)
	}
	p.expectClosed()
	cfReason(t, s.result(), "ESID", 1, true)
}

// An STH announcing more than the negotiated buffer in the middle of a file: refused from
// the header (ESID 07) rather than waited for and allocated up to 99999 octets.
func TestConformanceOversizedHeaderInFile(t *testing.T) {
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

// Outside a file the limit is the negotiated buffer or the bound for commands, whichever
// is larger: a signed EERP longer than a 128-octet SSIDSDEB is taken, an STH announcing
// 40000 octets is refused from its header (ESID 07).
func TestConformanceCommandLengthAfterLogon(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, nil)
	p, _ := s.logon(cfProposal(wire.Level20, 128, 8))
	e := cfEERP()
	e.Hash = bytes.Repeat([]byte{0xA5}, 32)
	e.Signature = bytes.Repeat([]byte{0x5A}, 8000)
	p.send(e)
	if _, _, ok := p.expect(wire.CodeRTR); !ok {
		t.FailNow()
	}
	ev := s.endResponses()
	if len(ev) != 1 || len(ev[0].Signature) != 8000 {
		t.Fatalf("end responses %+v", ev)
	}
	p.octets([]byte{0x10, 0x00, 0x9C, 0x44, 'E'}) // 40000 octets announced, 1 sent
	p.expectESID(7)
	cfReason(t, s.result(), "ESID", 7, true)
}
