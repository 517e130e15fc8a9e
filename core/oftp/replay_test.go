package oftp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/oftptest"
)

// The Accord captures replayed against our initiator and our responder over TCP. The
// scripted peer sends the recorded frames of its side and compares ours; see
// oftptest.Replay for what may differ. Loose frames are the deviations listed in
// captures/README.md, where we follow the RFC and the recording does not.

type replayCase struct {
	capture string
	opts    func(o *oftp.Options) // applied to both of our sides
	// Our initiator against the recorded responder.
	initLoose      map[int]oftptest.Leeway
	initLooseLevel bool
	logonErr       int            // expected ESID refusing the logon (0: none)
	logonLocal     bool           // we refuse (true) or the partner does
	sendErrs       map[string]int // EFNA/SFNA code per dataset name
	initDiverge    int            // frame where the replay must stop because we refused
	// Our responder against the recorded initiator.
	respLoose      map[int]oftptest.Leeway
	respLooseLevel bool
	srvErr         int // expected ESID from our responder (0: normal end)
	srvLost        bool
	deferEERP      bool
	nerp           bool // the responder answers the file with the recorded NERP
}

var replayCases = []replayCase{
	{capture: "a_v20_u_credit", opts: func(o *oftp.Options) { o.CreditCount = 4 }},
	{capture: "b1_v20_bufcomp_u", opts: func(o *oftp.Options) { o.Compress = true }},
	{capture: "b2_v20_bufcomp_f80", opts: func(o *oftp.Options) { o.Compress = true }},
	{capture: "c1_v20_format_f80"},
	// Deviation 1: the recorded V sender leaves the last record without EoR.
	{capture: "c2_v20_format_v100", initLoose: map[int]oftptest.Leeway{6: oftptest.LooseContent}},
	{capture: "d1_v14_u_small", opts: func(o *oftp.Options) { o.Version = oftp.Version14 }},
	{capture: "d2_v13_u_small", opts: func(o *oftp.Options) { o.Version = oftp.Version13 }},
	{capture: "e_v20_responder_sends"},
	{capture: "f1_v20_wrong_password", opts: func(o *oftp.Options) { o.Password = "WRONGPW" }, logonErr: 4, srvErr: 4},
	{capture: "f2_v20_nerp", nerp: true, deferEERP: true},
	{capture: "f3_v14_nerp", opts: func(o *oftp.Options) { o.Version = oftp.Version14 }, nerp: true, deferEERP: true},
	// Deviation 3 on the initiator side (a 2.0 ESID layout at level 4) is tolerated; our
	// responder answers in the 1.4 layout, compared by reason.
	{capture: "f4_v14_wrong_password_2resp", opts: func(o *oftp.Options) { o.Version = oftp.Version14; o.Password = "WRONGPW" }, logonErr: 4, srvErr: 4},
	{capture: "f5_v13_wrong_password", opts: func(o *oftp.Options) { o.Version = oftp.Version13; o.Password = "WRONGPW" }, logonErr: 4, srvErr: 4},
	// Deviation 2: the recorded responder puts 'N' in octet 47 of a level-4/2 SSID.
	{capture: "g1_fallback_v20_to_v14", opts: func(o *oftp.Options) { o.Version = oftp.Version14 }},
	{capture: "g2_fallback_v20_to_v13", opts: func(o *oftp.Options) { o.Version = oftp.Version13 }},
	// Deviation 4: the recorded responder answers level 5 to a proposal of 1. Our
	// initiator refuses with ESID 10; our responder answers 1 and takes the 1.3 SFID.
	{capture: "g3_level1_scripted_initiator", opts: func(o *oftp.Options) { o.Version = oftp.Version12 },
		logonErr: 10, logonLocal: true, initDiverge: 4, respLooseLevel: true, srvLost: true},
	// The initiator offers 4096/064/Y/Y; the responder answers 1024/002/N/N.
	{capture: "g4_negotiation_smaller_answer", opts: func(o *oftp.Options) { o.Compress, o.Restart = true, true }},
	// Deviation 6: the recorded T sender cuts lines and drops LF, its receiver answers
	// EFNA 11. We send Appendix A style (one record, 28 octets) and accept theirs (25).
	{capture: "g5_v20_format_t", initLoose: map[int]oftptest.Leeway{6: oftptest.LooseContent, 7: oftptest.LooseContent},
		sendErrs: map[string]int{"TEXT3": 11}, respLoose: map[int]oftptest.Leeway{8: oftptest.LooseCommand}, deferEERP: true},
	{capture: "h1_v20_credit_window1", opts: func(o *oftp.Options) { o.CreditCount = 1 }},
}

func accordOptions(t *testing.T, own, ownPW, partner, partnerPW, inbox string) oftp.Options {
	o := oftp.DefaultOptions()
	o.SSIDCode, o.Password = own, ownPW
	o.PartnerSSIDCode, o.PartnerPassword = partner, partnerPW
	o.ExchangeBufferSize = 4096
	o.Restart = false
	o.Timeout = 10 * time.Second
	o.DownloadDirectory = inbox
	return o
}

// localContent is how our file system holds a recorded transfer (see oftp.Format).
func localContent(tr oftptest.Transfer) []byte {
	if tr.Format != 'V' {
		return tr.Content()
	}
	var b []byte
	for _, r := range tr.Records {
		b = append(append(b, r.Data...), '\r', '\n')
	}
	return b
}

func outgoingFromCapture(t *testing.T, tr oftptest.Transfer) *oftp.OutgoingFile {
	content := localContent(tr)
	return &oftp.OutgoingFile{
		DatasetName: tr.DatasetName, Stamp: oftp.Stamp{Date: tr.Date, Time: tr.Time},
		Format: oftp.Format(tr.Format), MaxRecordSize: tr.MaxRecordSize,
		Size: int64(len(tr.Content())), Source: oftp.FileSource{Path: writeFile(t, content), Format: oftp.Format(tr.Format), MaxRecordSize: tr.MaxRecordSize},
	}
}

func loadCapture(t *testing.T, name string) (*oftptest.Capture, []oftptest.Transfer) {
	t.Helper()
	c, err := oftptest.LoadCapture(name)
	if err != nil {
		t.Fatal(err) // the captures are part of the repository's shared reference
	}
	trs, err := c.Transfers()
	if err != nil {
		t.Fatal(err)
	}
	return c, trs
}

func TestReplayAgainstOurInitiator(t *testing.T) {
	for _, rc := range replayCases {
		t.Run(rc.capture, func(t *testing.T) {
			capt, trs := loadCapture(t, rc.capture)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			replay := &oftptest.Replay{Capture: capt, Plays: oftptest.FromResponder, Loose: rc.initLoose, LooseLevel: rc.initLooseLevel}
			done := make(chan error, 1)
			go func() {
				conn, err := l.Accept()
				if err != nil {
					done <- err
					return
				}
				done <- replay.Run(conn)
			}()
			inbox := t.TempDir()
			opts := accordOptions(t, "ACCORDCLI", "CLIPW", "ACCORDSRV", "SRVPW", inbox)
			if rc.opts != nil {
				rc.opts(&opts)
			}
			ctx := testCtx(t)
			c, err := oftp.Dial(ctx, l.Addr().String(), opts)
			if rc.logonErr != 0 {
				assertReason(t, err, "ESID", rc.logonErr, rc.logonLocal)
				rerr := <-done
				if rc.initDiverge != 0 {
					var d *oftptest.Divergence
					if !errors.As(rerr, &d) || d.Frame.N != rc.initDiverge {
						t.Fatalf("replay: %v, want divergence at #%d", rerr, rc.initDiverge)
					}
				} else if rerr != nil {
					t.Fatalf("replay: %v", rerr)
				}
				return
			}
			if err != nil {
				t.Fatalf("logon: %v", err)
			}
			defer c.Disconnect()
			for _, tr := range trs {
				if tr.From != oftptest.FromInitiator {
					continue
				}
				_, err := c.SendFile(ctx, outgoingFromCapture(t, tr))
				if code := rc.sendErrs[tr.DatasetName]; code != 0 {
					assertReason(t, err, "EFNA", code, false)
				} else if err != nil {
					t.Fatalf("SendFile %s: %v", tr.DatasetName, err)
				}
			}
			if err := c.Logoff(ctx); err != nil {
				t.Fatalf("logoff: %v (replay: %v)", err, <-done)
			}
			if err := <-done; err != nil {
				t.Fatalf("replay: %v", err)
			}
			for _, tr := range trs {
				if tr.From == oftptest.FromResponder {
					got, err := os.ReadFile(filepath.Join(inbox, tr.DatasetName))
					if err != nil || !bytes.Equal(got, localContent(tr)) {
						t.Fatalf("received %s: %v", tr.DatasetName, err)
					}
				}
			}
			t.Logf("%d of our frames matched", replay.Compared)
		})
	}
}

func TestReplayAgainstOurResponder(t *testing.T) {
	for _, rc := range replayCases {
		t.Run(rc.capture, func(t *testing.T) {
			capt, trs := loadCapture(t, rc.capture)
			inbox := t.TempDir()
			opts := accordOptions(t, "ACCORDSRV", "SRVPW", "ACCORDCLI", "CLIPW", inbox)
			if rc.opts != nil {
				rc.opts(&opts)
				opts.Password = "SRVPW"
				if rc.capture == "f4_v14_wrong_password_2resp" || rc.capture == "g1_fallback_v20_to_v14" ||
					rc.capture == "g2_fallback_v20_to_v13" || rc.capture == "g3_level1_scripted_initiator" {
					opts.Version = oftp.Version20 // a 2.0 responder in these recordings
				}
			}
			if rc.capture == "g4_negotiation_smaller_answer" {
				opts.ExchangeBufferSize, opts.CreditCount = 1024, 2
				opts.Compress, opts.Restart = false, false
			}
			opts.DeferEndResponses = rc.deferEERP
			ends := make(chan error, 1)
			var started []string
			opts.Events.SessionEnd = func(_ oftp.SessionInfo, err error) { ends <- err }
			opts.Events.StartTransfer = func(ti oftp.TransferInfo) { started = append(started, ti.DatasetName) }
			ob := &oftp.SliceOutbox{}
			for _, tr := range trs {
				if tr.From == oftptest.FromResponder {
					ob.Items = append(ob.Items, &oftp.OutboxItem{File: outgoingFromCapture(t, tr)})
				}
			}
			if rc.nerp {
				ob.Items = append(ob.Items, &oftp.OutboxItem{EndResponse: &oftp.EndResponse{DatasetName: trs[0].DatasetName,
					Stamp: oftp.Stamp{Date: trs[0].Date, Time: trs[0].Time}, Destination: "ACCORDCLI", Originator: "ACCORDSRV",
					Creator: "ACCORDSRV", Reason: 34, Text: "NERP requested by a test"}})
			}
			srv := &oftp.Server{Options: opts, Partners: oftp.Partners{"ACCORDCLI": {SSIDCode: "ACCORDCLI", Password: "CLIPW", Outbox: ob}}}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(l)
			defer srv.Close()
			conn, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			replay := &oftptest.Replay{Capture: capt, Plays: oftptest.FromInitiator, Loose: rc.respLoose, LooseLevel: rc.respLooseLevel}
			if err := replay.Run(conn); err != nil {
				t.Fatalf("replay: %v", err)
			}
			var serr error
			select {
			case serr = <-ends:
			case <-time.After(20 * time.Second):
				t.Fatal("responder session did not end")
			}
			switch {
			case rc.srvLost:
				if !errors.Is(serr, oftp.ErrConnectionLost) {
					t.Fatalf("responder: %v", serr)
				}
				if len(started) != 1 {
					t.Fatalf("responder did not take the 1.3 SFID: %v", started)
				}
				return
			case rc.srvErr != 0:
				assertReason(t, serr, "ESID", rc.srvErr, true)
				return
			case serr != nil:
				t.Fatalf("responder: %v", serr)
			}
			for _, tr := range trs {
				if tr.From != oftptest.FromInitiator {
					continue
				}
				got, err := os.ReadFile(filepath.Join(inbox, tr.DatasetName))
				if err != nil || !bytes.Equal(got, localContent(tr)) {
					t.Fatalf("stored %s: %v (%q)", tr.DatasetName, err, got)
				}
			}
			// Where the recording names its input files, the stored U/F files match them.
			inputs := capt.Inputs()
			for _, tr := range trs {
				if tr.From != oftptest.FromInitiator || tr.Format == 'V' || tr.Format == 'T' {
					continue
				}
				got, _ := os.ReadFile(filepath.Join(inbox, tr.DatasetName))
				sum := sha256.Sum256(got)
				found := false
				for _, in := range inputs {
					if in.SHA256 == hex.EncodeToString(sum[:]) {
						found = true
					}
				}
				if !found && len(inputs) > 0 {
					t.Errorf("%s matches no input file of the recording", tr.DatasetName)
				}
			}
			t.Logf("%d of our frames matched", replay.Compared)
		})
	}
}

// TestReplayDetectsDifference makes sure the replay comparison can fail: a responder
// with a smaller buffer must diverge at its SSID.
func TestReplayDetectsDifference(t *testing.T) {
	capt, _ := loadCapture(t, "a_v20_u_credit")
	opts := accordOptions(t, "ACCORDSRV", "SRVPW", "ACCORDCLI", "CLIPW", t.TempDir())
	opts.ExchangeBufferSize = 2048 // the recording negotiated 4096
	srv := &oftp.Server{Options: opts}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	err = (&oftptest.Replay{Capture: capt, Plays: oftptest.FromInitiator}).Run(conn)
	var d *oftptest.Divergence
	if !errors.As(err, &d) || d.Frame.N != 3 {
		t.Fatalf("got %v, want a divergence at the responder's SSID (#3)", err)
	}
}
