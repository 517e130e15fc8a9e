package oftp_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSendFileTCP(t *testing.T) {
	p := newPair(t)
	p.start(nil)
	ctx := testCtx(t)
	src := randomFile(t, 1<<20, 1)
	c := p.dial(ctx)
	if _, err := c.SendFile(ctx, outgoing("PAYLOAD", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	if !c.Connected() {
		t.Fatal("not connected before logoff")
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatalf("Logoff: %v", err)
	}
	if c.Connected() {
		t.Fatal("still connected after logoff")
	}
	if err := p.serverEnd(); err != nil {
		t.Fatalf("server session: %v", err)
	}
	sameFile(t, src, filepath.Join(p.inbox, "PAYLOAD"))
	ers := p.endResponses()
	if len(ers) != 1 || ers[0].Negative() || ers[0].DatasetName != "PAYLOAD" || ers[0].Destination != "O0013CLIENT" || ers[0].Originator != "O0013SERVER" {
		t.Fatalf("end responses: %+v", ers)
	}
}

// textLines builds CR-LF terminated lines of varying length (some empty).
func textLines(n, maxLen int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		l := (i * 37) % (maxLen + 1)
		for j := 0; j < l; j++ {
			b.WriteByte(byte('A' + (i+j)%26))
		}
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func TestTransferMatrix(t *testing.T) {
	runs := bytes.Repeat([]byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB  \x00\x00\x00\x00\x00\x00xyz"), 3000)
	fixed := randomBytes(80 * 1000)
	cases := []struct {
		name    string
		content []byte
		format  oftp.Format
		lrecl   int
		tweak   func(p *pair)
		level   oftp.Version
	}{
		{name: "U empty", content: nil, format: oftp.FormatUnstructured},
		{name: "U one octet", content: []byte{0x42}, format: oftp.FormatUnstructured},
		{name: "U 1MiB", content: randomBytes(1 << 20), format: oftp.FormatUnstructured},
		{name: "T text", content: textLines(500, 120), format: oftp.FormatText},
		{name: "F 80", content: fixed, format: oftp.FormatFixed, lrecl: 80},
		{name: "V 100", content: textLines(2000, 100), format: oftp.FormatVariable, lrecl: 100},
		{name: "F 1 octet records", content: randomBytes(777), format: oftp.FormatFixed, lrecl: 1},
		{name: "U compressed", content: runs, format: oftp.FormatUnstructured, tweak: func(p *pair) {
			p.srvOpts.Compress, p.cliOpts.Compress = true, true
		}},
		{name: "F compressed", content: bytes.Repeat([]byte("RECORD 0001"+strings.Repeat(".", 69)), 300), format: oftp.FormatFixed, lrecl: 80, tweak: func(p *pair) {
			p.srvOpts.Compress, p.cliOpts.Compress = true, true
		}},
		{name: "V compressed buffer 128", content: textLines(300, 200), format: oftp.FormatVariable, lrecl: 200, tweak: func(p *pair) {
			p.srvOpts.Compress, p.cliOpts.Compress = true, true
			p.cliOpts.ExchangeBufferSize = 128
		}},
		{name: "compression offered by one side only", content: runs, format: oftp.FormatUnstructured, tweak: func(p *pair) {
			p.cliOpts.Compress = true
		}},
		{name: "credit 1", content: randomBytes(300_000), format: oftp.FormatUnstructured, tweak: func(p *pair) {
			p.cliOpts.CreditCount = 1
		}},
		{name: "credit 999", content: randomBytes(3 << 20), format: oftp.FormatUnstructured, tweak: func(p *pair) {
			p.cliOpts.CreditCount, p.srvOpts.CreditCount = 999, 999
		}},
		{name: "buffer 128", content: randomBytes(100_000), format: oftp.FormatUnstructured, tweak: func(p *pair) {
			p.srvOpts.ExchangeBufferSize = 128
		}},
		{name: "buffer 99999", content: randomBytes(2 << 20), format: oftp.FormatUnstructured, tweak: func(p *pair) {
			p.srvOpts.ExchangeBufferSize, p.cliOpts.ExchangeBufferSize = 99999, 99999
		}},
		{name: "1.4 negotiated down", content: randomBytes(50_000), format: oftp.FormatUnstructured, level: oftp.Version14, tweak: func(p *pair) {
			p.srvOpts.Version = oftp.Version14
		}},
		{name: "1.3 negotiated down", content: randomBytes(50_000), format: oftp.FormatUnstructured, level: oftp.Version13, tweak: func(p *pair) {
			p.cliOpts.Version = oftp.Version13
		}},
		{name: "1.3 V", content: textLines(100, 50), format: oftp.FormatVariable, lrecl: 50, level: oftp.Version13, tweak: func(p *pair) {
			p.cliOpts.Version, p.srvOpts.Version = oftp.Version13, oftp.Version13
		}},
		{name: "1.2 F", content: fixed[:8000], format: oftp.FormatFixed, lrecl: 80, level: oftp.Version13, tweak: func(p *pair) {
			p.cliOpts.Version = oftp.Version12
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t)
			if tc.tweak != nil {
				tc.tweak(p)
			}
			p.start(nil)
			ctx := testCtx(t)
			c := p.dial(ctx)
			want := tc.level
			if want == 0 {
				want = oftp.Version20
			}
			if got := c.Session().Level; got != want {
				t.Fatalf("negotiated %v, want %v", got, want)
			}
			src := writeFile(t, tc.content)
			res, err := c.SendFile(ctx, outgoing("MATRIX", src, tc.format, tc.lrecl))
			if err != nil {
				t.Fatalf("SendFile: %v", err)
			}
			wantOctets := int64(len(tc.content))
			if tc.format == oftp.FormatVariable {
				wantOctets -= 2 * int64(bytes.Count(tc.content, []byte("\r\n")))
			}
			if res.Octets != wantOctets {
				t.Errorf("EFID octets %d for %d octets of content", res.Octets, len(tc.content))
			}
			if err := c.Logoff(ctx); err != nil {
				t.Fatalf("Logoff: %v", err)
			}
			if err := p.serverEnd(); err != nil {
				t.Fatalf("server session: %v", err)
			}
			sameFile(t, src, filepath.Join(p.inbox, "MATRIX"))
			if ers := p.endResponses(); len(ers) != 1 || ers[0].DatasetName != "MATRIX" {
				t.Fatalf("end responses: %+v", ers)
			}
		})
	}
}

func TestBothDirectionsAndUnsolicitedCD(t *testing.T) {
	p := newPair(t)
	srvFile := randomFile(t, 200_000, 7)
	ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: outgoing("FROMSERVER", srvFile, oftp.FormatUnstructured, 0)}}}
	var srvEERPs []oftp.EndResponseEvent
	p.srvOpts.Events.EndResponse = func(e oftp.EndResponseEvent) {
		if e.Direction == oftp.Incoming {
			srvEERPs = append(srvEERPs, e)
		}
	}
	p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
	ctx := testCtx(t)
	c := p.dial(ctx)
	src := randomFile(t, 300_000, 8)
	if _, err := c.SendFile(ctx, outgoing("FROMCLIENT", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatal(err)
	}
	files, err := c.ReceiveFiles(ctx)
	if err != nil {
		t.Fatalf("ReceiveFiles: %v", err)
	}
	if len(files) != 1 || files[0].File.DatasetName != "FROMSERVER" {
		t.Fatalf("received %+v", files)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	sameFile(t, src, filepath.Join(p.inbox, "FROMCLIENT"))
	sameFile(t, srvFile, filepath.Join(p.cliInbox, "FROMSERVER"))
	if files[0].Location != filepath.Join(p.cliInbox, "FROMSERVER") {
		t.Errorf("location %q", files[0].Location)
	}
	if ers := p.endResponses(); len(ers) != 1 || ers[0].DatasetName != "FROMCLIENT" {
		t.Errorf("client got end responses %+v", ers)
	}
	if len(srvEERPs) != 1 || srvEERPs[0].DatasetName != "FROMSERVER" || srvEERPs[0].Direction != oftp.Incoming {
		t.Errorf("server got end responses %+v", srvEERPs)
	}
	if len(ob.Results) != 1 || ob.Results[0] != nil {
		t.Errorf("outbox results %v", ob.Results)
	}
}

func TestSolicitedCD(t *testing.T) {
	for _, mode := range []string{"EFPA CD=Y", "SendCDAfterEFPA"} {
		t.Run(mode, func(t *testing.T) {
			p := newPair(t)
			if mode == "EFPA CD=Y" {
				p.srvOpts.RequestTurnAfterFile = true
			} else {
				p.cliOpts.SendCDAfterEFPA = true
			}
			var trail []string
			p.cliOpts.Events.PITrail = func(pi oftp.PITrail) {
				if pi.Name != "DATA" {
					trail = append(trail, pi.Direction.String()+":"+pi.Name)
				}
			}
			srvFile := randomFile(t, 10_000, 9)
			ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: outgoing("BACK", srvFile, oftp.FormatUnstructured, 0)}}}
			p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
			ctx := testCtx(t)
			c := p.dial(ctx)
			src := randomFile(t, 10_000, 10)
			if _, err := c.SendFile(ctx, outgoing("FORTH", src, oftp.FormatUnstructured, 0)); err != nil {
				t.Fatal(err)
			}
			if err := c.Logoff(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p.serverEnd(); err != nil {
				t.Fatal(err)
			}
			sameFile(t, srvFile, filepath.Join(p.cliInbox, "BACK"))
			sameFile(t, src, filepath.Join(p.inbox, "FORTH"))
			got := strings.Join(trail, " ")
			var want string
			if mode == "EFPA CD=Y" {
				// The server asks for the turn, sends its file and its EERP, gives the
				// turn back; our EERP follows, then the usual end.
				want = "in:SSRM out:SSID in:SSID out:SFID in:SFPA out:EFID in:EFPA out:CD in:EERP out:RTR in:SFID out:SFPA in:EFID out:EFPA in:CD out:EERP in:RTR out:CD in:ESID"
			} else {
				want = "in:SSRM out:SSID in:SSID out:SFID in:SFPA out:EFID in:EFPA out:CD in:EERP out:RTR in:SFID out:SFPA in:EFID out:EFPA in:CD out:EERP in:RTR out:CD in:ESID"
			}
			if got != want {
				t.Fatalf("trail\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestVersionNegotiationRefused(t *testing.T) {
	t.Run("initiator enforces 2.0", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.Version = oftp.Version14
		p.cliOpts.EnforceProtocolVersion = true
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 10, true)
		assertReason(t, p.serverEnd(), "ESID", 10, false)
	})
	t.Run("responder enforces 2.0", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.EnforceProtocolVersion = true
		p.cliOpts.Version = oftp.Version13
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 10, false)
		assertReason(t, p.serverEnd(), "ESID", 10, true)
	})
	t.Run("secure authentication differs", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.SecureAuthentication = true
		p.srvOpts.Authenticator = fakeAuth{}
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 12, false)
		assertReason(t, p.serverEnd(), "ESID", 12, true)
	})
	t.Run("modes leave no direction", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.ConnectionType = oftp.ConnectionSendOnly
		p.cliOpts.ConnectionType = oftp.ConnectionSendOnly
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 10, false)
		assertReason(t, p.serverEnd(), "ESID", 10, true)
	})
}

func assertReason(t *testing.T, err error, cmd string, code int, local bool) *oftp.ReasonError {
	t.Helper()
	var re *oftp.ReasonError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a ReasonError (want %s %02d)", err, cmd, code)
	}
	if re.Cmd != cmd || re.Code != code || re.Local != local {
		t.Fatalf("got %s %02d local=%v (%v), want %s %02d local=%v", re.Cmd, re.Code, re.Local, err, cmd, code, local)
	}
	if !errors.Is(err, &oftp.ReasonError{Cmd: cmd, Code: code}) {
		t.Fatalf("errors.Is does not match %s %02d", cmd, code)
	}
	return re
}

func TestLogonRefused(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		p := newPair(t)
		p.cliOpts.Password = "WRONGPW"
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		re := assertReason(t, err, "ESID", 4, false)
		if !strings.Contains(strings.ToLower(re.Text), "password") {
			t.Errorf("text %q", re.Text)
		}
		assertReason(t, p.serverEnd(), "ESID", 4, true)
	})
	t.Run("unknown SSID", func(t *testing.T) {
		p := newPair(t)
		p.cliOpts.SSIDCode = "O0013STRANGER"
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 3, false)
		assertReason(t, p.serverEnd(), "ESID", 3, true)
	})
	t.Run("responder password wrong", func(t *testing.T) {
		p := newPair(t)
		p.cliOpts.PartnerPassword = "OTHER"
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 4, true)
		assertReason(t, p.serverEnd(), "ESID", 4, false)
	})
	t.Run("1.4 refusal uses 1.4 layout", func(t *testing.T) {
		p := newPair(t)
		p.cliOpts.Version = oftp.Version14
		p.cliOpts.Password = "WRONGPW"
		var esid []byte
		p.cliOpts.Events.PITrail = func(pi oftp.PITrail) {
			if pi.Name == "ESID" {
				esid = append([]byte(nil), pi.Data...)
			}
		}
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 4, false)
		if string(esid) != "F04\r" {
			t.Fatalf("ESID %q, want the 4-octet 1.4 layout", esid)
		}
	})
}

func TestRefusedAndDuplicateFile(t *testing.T) {
	p := newPair(t)
	seen := map[string]bool{}
	p.srvOpts.DuplicateCheck = func(_ context.Context, f *oftp.IncomingFile) (bool, error) {
		key := f.Originator + "/" + f.DatasetName + "/" + f.Stamp.Date + f.Stamp.Time
		dup := seen[key]
		seen[key] = true
		return dup, nil
	}
	inner := &oftp.DirectoryReceiver{Dir: p.inbox}
	p.srvOpts.Receiver = oftp.ReceiverFunc(func(ctx context.Context, f *oftp.IncomingFile) (oftp.Decision, error) {
		if f.DatasetName == "TOOBIG" {
			return oftp.Decision{}, &oftp.ReasonError{Code: oftp.ReasonFileTooBig, Retry: true, Text: "no space today"}
		}
		return inner.Accept(ctx, f)
	})
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	src := randomFile(t, 5000, 3)

	_, err := c.SendFile(ctx, outgoing("TOOBIG", src, oftp.FormatUnstructured, 0))
	re := assertReason(t, err, "SFNA", 6, false)
	if !re.Retry || re.Text != "no space today" {
		t.Errorf("refusal %+v", re)
	}
	f := outgoing("ONCE", src, oftp.FormatUnstructured, 0)
	f.Date = time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	f.Counter = 7
	if _, err := c.SendFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendFile(ctx, f)
	re = assertReason(t, err, "SFNA", 13, false)
	if re.Retry {
		t.Error("duplicate allows retry")
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	if names := inboxNames(t, p.inbox); len(names) != 1 || names[0] != "ONCE" {
		t.Fatalf("inbox %v", names)
	}
}

func TestCommitFailureAnswersEFNA(t *testing.T) {
	p := newPair(t)
	p.srvOpts.NERPOnFailure = true
	p.srvOpts.Receiver = oftp.ReceiverFunc(func(ctx context.Context, f *oftp.IncomingFile) (oftp.Decision, error) {
		return oftp.Decision{Sink: &failingSink{}}, nil
	})
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	src := randomFile(t, 5000, 3)
	_, err := c.SendFile(ctx, outgoing("NOSTORE", src, oftp.FormatUnstructured, 0))
	assertReason(t, err, "EFNA", 12, false)
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	ers := p.endResponses()
	if len(ers) != 1 || !ers[0].Negative() || ers[0].Reason != 22 || ers[0].Creator != "O0013SERVER" {
		t.Fatalf("end responses %+v", ers)
	}
}

type failingSink struct{ bytes.Buffer }

func (s *failingSink) Commit(context.Context) error { return errors.New("disk on fire") }
func (s *failingSink) Abort(context.Context) error  { return nil }

func TestDeferredEndResponseInLaterSession(t *testing.T) {
	p := newPair(t)
	srvFile := randomFile(t, 3000, 11)
	ob := &oftp.SliceOutbox{Items: []*oftp.OutboxItem{{File: outgoing("LATER", srvFile, oftp.FormatUnstructured, 0)}}}
	var srvERs []oftp.EndResponseEvent
	p.srvOpts.Events.EndResponse = func(e oftp.EndResponseEvent) {
		if e.Direction == oftp.Incoming {
			srvERs = append(srvERs, e)
		}
	}
	p.start(oftp.Partners{"O0013CLIENT": {SSIDCode: "O0013CLIENT", Password: "O001PW", Outbox: ob}})
	p.cliOpts.DeferEndResponses = true
	ctx := testCtx(t)
	c := p.dial(ctx)
	files, err := c.ReceiveFiles(ctx)
	if err != nil || len(files) != 1 {
		t.Fatalf("ReceiveFiles: %v %+v", err, files)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	if len(srvERs) != 0 {
		t.Fatalf("end response sent although deferred: %+v", srvERs)
	}
	// A later session answers the file.
	f := files[0].File
	c2 := p.dial(ctx)
	er := oftp.EndResponse{DatasetName: f.DatasetName, Stamp: f.Stamp, Destination: f.Originator, Originator: f.Destination,
		Hash: []byte{1, 2, 3}, Signature: []byte{4, 5}}
	if err := c2.SendEndResponse(ctx, er); err != nil {
		t.Fatal(err)
	}
	nerp := er
	nerp.Reason, nerp.Text, nerp.Hash, nerp.Signature = 34, "could not process", nil, nil
	if err := c2.SendEndResponse(ctx, nerp); err != nil {
		t.Fatal(err)
	}
	if err := c2.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	if len(srvERs) != 2 || srvERs[0].Negative() || !bytes.Equal(srvERs[0].Hash, []byte{1, 2, 3}) || !bytes.Equal(srvERs[0].Signature, []byte{4, 5}) ||
		srvERs[0].Stamp != f.Stamp || srvERs[1].Reason != 34 || srvERs[1].Text != "could not process" || srvERs[1].Creator != "O0013CLIENT" {
		t.Fatalf("server end responses %+v", srvERs)
	}
}

func TestNERPBelow14IsLocalError(t *testing.T) {
	p := newPair(t)
	p.cliOpts.Version = oftp.Version13
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	err := c.SendEndResponse(ctx, oftp.EndResponse{DatasetName: "X", Stamp: oftp.NewStamp(time.Now(), 1), Destination: "A", Originator: "B", Reason: 34})
	if !errors.Is(err, oftp.ErrInvalidFile) {
		t.Fatalf("got %v", err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidOutgoingFileIsLocal(t *testing.T) {
	p := newPair(t)
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	src := randomFile(t, 100, 1)
	for name, f := range map[string]*oftp.OutgoingFile{
		"lower case name": outgoing("lower", src, oftp.FormatUnstructured, 0),
		"F without lrecl": outgoing("F", src, oftp.FormatFixed, 0),
		"F not multiple":  outgoing("F", src, oftp.FormatFixed, 33),
		"missing source":  {DatasetName: "X"},
	} {
		if _, err := c.SendFile(ctx, f); !errors.Is(err, oftp.ErrInvalidFile) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if _, err := c.SendFile(ctx, outgoing("GOOD", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
}

func TestLargeFile100MiB(t *testing.T) {
	size := int64(100 << 20)
	if testing.Short() {
		size = 8 << 20 // scripts/test.sh runs without -short, so the full size is tested there
	}
	src := randomFile(t, size, 100) // before logon: the partner would time out meanwhile
	p := newPair(t)
	p.start(nil)
	ctx := testCtx(t)
	c := p.dial(ctx)
	if _, err := c.SendFile(ctx, outgoing("BIG", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatal(err)
	}
	sameFile(t, src, filepath.Join(p.inbox, "BIG"))
}
