package oftp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oftp2/connector/core/oftp"
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

// A CDT while the speaker still has credit (§9.10 transition P: CDT in OPO) is a
// protocol error, ESID 02: SFPA already opened the window, and taking the CDT as the next
// window's credit would make us send EFID while the listener's count is at 0.
func TestConformanceEarlyCDT(t *testing.T) {
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
		p.sendTogether(wire.SFPA{}, wire.CDT{})
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

// A partner that aborts with ESID while we stream DATA but leaves the connection open (as
// §9.9 WF_NDISC wants): we stop at once, and the DATA we had buffered for the rest of the
// window is dropped rather than sent after its ESID. The source waits until the ESID is
// on its way, so the check does not depend on how fast either goroutine runs.
func TestConformanceDataAfterPartnerESID(t *testing.T) {
	cfNoLeaks(t)
	const bufSize, window = 4096, 64
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(open)
	after := make(chan int, 1)
	addr, wait := cfResponder(t, func(p *cfPeer) {
		defer open()
		if _, ok := p.respond(cfAnswer(wire.Level20, bufSize, window)); !ok {
			return
		}
		p.expect(wire.CodeSFID)
		p.send(wire.SFPA{})
		p.expect(wire.CodeDATA)
		p.send(wire.ESID{Reason: 5})
		open()
		n := 0
		for {
			b, err := p.p.ReadOEB()
			if err != nil {
				break
			}
			if b[0] == wire.CodeDATA {
				n++
			}
		}
		after <- n
	})
	content := cfContent(4 << 20)
	f := cfOutgoing("ABORTED", content)
	f.Source = oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) {
		// More than one buffer, then the rest once the partner has sent its ESID.
		first := bufSize + 1000
		return io.NopCloser(io.MultiReader(bytes.NewReader(content[:first]), &cfGated{gate: gate},
			bytes.NewReader(content[first:]))), nil
	})
	opts := cfClientOptions(t)
	opts.ExchangeBufferSize, opts.CreditCount = bufSize, window
	c := cfMustDial(t, addr, opts)
	_, err := c.SendFile(cfCtx(t), f)
	wait()
	if n := <-after; n != 0 {
		t.Errorf("%d DATA buffers (%d KiB) sent after the partner's ESID", n, n*bufSize>>10)
	}
	cfReason(t, err, "ESID", 5, false)
}

// cfGated is an empty reader that first waits for its gate.
type cfGated struct{ gate chan struct{} }

func (g *cfGated) Read([]byte) (int, error) {
	<-g.gate
	return 0, io.EOF
}
