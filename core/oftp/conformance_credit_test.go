package oftp_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// Our speaker against a strict listener (§4.4, §9.10 M/O/P, §9.11 Note 1): at most
// window DATA buffers between credits, nothing at all while the credit is exhausted (an
// EFID included, also after the last buffer), and an EFID only once credit is back.
func TestConformanceCreditSpeaker(t *testing.T) {
	const bufSize = 128
	endedAtZero := map[int]bool{}
	for _, window := range []int{1, 3} {
		for _, size := range []int{0, 100, 250, 375, 500, 625, 750} {
			t.Run(fmt.Sprintf("window %d, %d octets", window, size), func(t *testing.T) {
				cfNoLeaks(t)
				content := cfContent(size)
				type outcome struct{ buffers, cdts int }
				res := make(chan outcome, 1)
				addr, wait := cfResponder(t, func(p *cfPeer) {
					if _, ok := p.respond(cfAnswer(wire.Level20, bufSize, window)); !ok {
						return
					}
					if _, _, ok := p.expect(wire.CodeSFID); !ok {
						return
					}
					if !p.send(wire.SFPA{}) {
						return
					}
					credit := window
					var got []byte
					var o outcome
					ends := 0
				loop:
					for {
						cmd, b, ok := p.next()
						if !ok {
							return
						}
						switch c := cmd.(type) {
						case wire.DATA:
							if len(b) > bufSize {
								t.Errorf("DATA of %d octets, negotiated %d", len(b), bufSize)
							}
							data, e, err := cfUnpack(c.Payload)
							if err != nil {
								t.Error(err)
								return
							}
							got = append(got, data...)
							ends += e
							o.buffers++
							credit--
							if credit == 0 {
								// OPOWFC: nothing may come, EFID included, until our CDT.
								if !p.quiet() {
									return
								}
								if !p.send(wire.CDT{}) {
									return
								}
								o.cdts++
								credit = window
							}
						case wire.EFID:
							if c.UnitCount != int64(size) || c.RecordCount != 0 {
								t.Errorf("EFID counts %d records, %d octets; want 0, %d", c.RecordCount, c.UnitCount, size)
							}
							if !p.send(wire.EFPA{}) {
								return
							}
							break loop
						default:
							t.Errorf("%s during the data phase", cmd.Name())
							return
						}
					}
					if !bytes.Equal(got, content) {
						t.Errorf("received %d octets that differ from the %d sent", len(got), len(content))
					}
					if size > 0 && ends != 1 {
						t.Errorf("%d End-of-Record flags in an unstructured file", ends)
					}
					res <- o
					// Logoff: our unsolicited CD, then the partner ends the session.
					if _, _, ok := p.expect(wire.CodeCD); !ok {
						return
					}
					p.send(wire.ESID{Reason: 0})
					p.expectClosed()
				})
				opts := cfClientOptions(t)
				opts.ExchangeBufferSize, opts.CreditCount = bufSize, window
				c := cfMustDial(t, addr, opts)
				ctx := cfCtx(t)
				r, err := c.SendFile(ctx, cfOutgoing("CREDIT", content))
				if err != nil {
					t.Fatalf("SendFile: %v", err)
				}
				if r.Octets != int64(size) {
					t.Errorf("result says %d octets", r.Octets)
				}
				if err := c.Logoff(ctx); err != nil {
					t.Fatalf("Logoff: %v", err)
				}
				wait()
				select {
				case o := <-res:
					if o.cdts != o.buffers/window {
						t.Errorf("%d CDTs for %d buffers at window %d", o.cdts, o.buffers, window)
					}
					if o.buffers > 0 && o.buffers%window == 0 {
						endedAtZero[window] = true
					}
					t.Logf("%d DATA buffers, %d CDTs", o.buffers, o.cdts)
				default:
				}
			})
		}
	}
	// The sizes must cover a last buffer that takes the last credit, for both windows.
	if !t.Failed() && (!endedAtZero[1] || !endedAtZero[3]) {
		t.Errorf("no case ended exactly at credit 0: %v", endedAtZero)
	}
}

// Our listener against a speaker that uses its credit exactly (§9.12 I, P7): a CDT right
// after the DATA that takes the last credit, the last buffer of the file included, and
// never a CDT while the speaker still has credit (EFPA must be the next buffer after EFID).
func TestConformanceCreditListener(t *testing.T) {
	const bufSize = 128 // 125 octets of data per full buffer with 63 + 62 octet subrecords
	for _, window := range []int{1, 3} {
		for _, k := range []int{0, 1, 2, 3, 6, 7} {
			t.Run(fmt.Sprintf("window %d, %d buffers", window, k), func(t *testing.T) {
				cfNoLeaks(t)
				s := newCFServer(t, nil)
				p, ans := s.logon(cfProposal(wire.Level20, bufSize, window))
				if ans.Credit != window || ans.BufferSize != bufSize {
					t.Fatalf("answer credit %d, buffer %d; want %d, %d", ans.Credit, ans.BufferSize, window, bufSize)
				}
				content := cfContent(125 * k)
				var bufs [][]byte
				if k > 0 {
					bufs = cfPack([][]byte{content}, bufSize)
				}
				if len(bufs) != k {
					t.Fatalf("packed %d buffers, want %d", len(bufs), k)
				}
				if !p.send(cfSFID("WINDOW", cfServerID, cfClientID, len(content))) {
					t.FailNow()
				}
				if _, _, ok := p.expect(wire.CodeSFPA); !ok {
					t.FailNow()
				}
				for i, b := range bufs {
					if !p.raw(b) {
						t.FailNow()
					}
					if (i+1)%window == 0 {
						if _, _, ok := p.expect(wire.CodeCDT); !ok {
							t.Fatalf("no CDT after DATA %d of %d at window %d", i+1, k, window)
						}
					}
				}
				if !p.send(wire.EFID{UnitCount: int64(len(content))}) {
					t.FailNow()
				}
				cmd, _, ok := p.expect(wire.CodeEFPA)
				if !ok {
					t.FailNow()
				}
				if cmd.(wire.EFPA).ChangeDirection {
					t.Error("EFPA asks for the turn although RequestTurnAfterFile is off")
				}
				got, err := os.ReadFile(filepath.Join(s.inbox, "WINDOW"))
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("stored file: %d octets, %v", len(got), err)
				}
				// Give the turn: the EERP we are owed, RTR, then the turn comes back.
				p.send(wire.CD{})
				if _, _, ok := p.expect(wire.CodeEERP); !ok {
					t.FailNow()
				}
				p.send(wire.RTR{})
				if _, _, ok := p.expect(wire.CodeCD); !ok {
					t.FailNow()
				}
				p.send(wire.ESID{Reason: 0})
				p.expectClosed()
				if err := s.result(); err != nil {
					t.Fatalf("server: %v", err)
				}
			})
		}
	}
}
