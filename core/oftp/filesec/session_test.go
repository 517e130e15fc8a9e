package filesec_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/filesec"
)

type combo struct {
	level      filesec.Level
	compressed bool
	receipt    bool
}

func allCombos() []combo {
	var cs []combo
	for l := filesec.LevelNone; l <= filesec.LevelBoth; l++ {
		for _, c := range []bool{false, true} {
			for _, r := range []bool{false, true} {
				cs = append(cs, combo{l, c, r})
			}
		}
	}
	return cs
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c combo) name(suite int, dir string) string {
	return fmt.Sprintf("S%dL%dC%dR%d%s", suite, int(c.level), b2i(c.compressed), b2i(c.receipt), dir)
}

func (c combo) file(name string, suite int, content []byte) *oftp.OutgoingFile {
	f := &oftp.OutgoingFile{DatasetName: name, Format: oftp.FormatUnstructured, Size: int64(len(content)),
		Source: memSource(content), SecurityLevel: int(c.level), Compressed: c.compressed, SignedReceipt: c.receipt}
	if c.level != filesec.LevelNone || c.compressed || c.receipt {
		f.CipherSuite = suite
	}
	return f
}

func content(seed uint64, n int) []byte {
	r := mrand.New(mrand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		// Half random, half repetitive, so that compression has work to do.
		if i%2048 < 1024 {
			b[i] = byte(r.Uint32())
		} else {
			b[i] = byte(i / 97)
		}
	}
	return b
}

// TestSessionMatrix sends every combination of encryption, signature, compression
// and signed receipt in both directions over TLS with secure authentication, for
// every cipher suite, and checks the files and the receipts.
func TestSessionMatrix(t *testing.T) {
	testKeys(t)
	const size = 64 << 10
	for suite := 1; suite <= 6; suite++ {
		t.Run(fmt.Sprintf("suite%02d", suite), func(t *testing.T) {
			cliSec, srvSec := pairSecurity(t)
			h := newHarness(t, cliSec, srvSec, true)
			want := map[string][]byte{}
			receipt := map[string]bool{}
			for i, c := range allCombos() {
				down := c.name(suite, "DOWN")
				want[down] = content(uint64(suite*100+i), size+i)
				receipt[down] = c.receipt
				h.outbox.Items = append(h.outbox.Items, &oftp.OutboxItem{File: c.file(down, suite, want[down])})
			}
			h.start()
			ctx := testCtx(t)
			cl, err := h.dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !cl.Session().SecureAuth {
				t.Fatal("session ran without secure authentication")
			}
			for i, c := range allCombos() {
				up := c.name(suite, "UP")
				want[up] = content(uint64(suite*1000+i), size-i)
				receipt[up] = c.receipt
				if _, err := cl.SendFile(ctx, c.file(up, suite, want[up])); err != nil {
					t.Fatalf("send %s: %v", up, err)
				}
			}
			got, err := cl.ReceiveFiles(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(allCombos()) {
				t.Fatalf("received %d files, want %d", len(got), len(allCombos()))
			}
			if err := cl.Logoff(ctx); err != nil {
				t.Fatal(err)
			}
			if err := h.serverEnd(); err != nil {
				t.Fatalf("server session: %v", err)
			}
			for i, err := range h.outbox.Results {
				if err != nil {
					t.Errorf("server send %d: %v", i, err)
				}
			}
			for name, w := range want {
				dir := h.srvInbox
				if name[len(name)-4:] == "DOWN" {
					dir = h.cliInbox
				}
				if g := readFile(t, filepath.Join(dir, name)); !bytes.Equal(g, w) {
					t.Errorf("%s: received %d octets differ from the %d sent", name, len(g), len(w))
				}
			}
			h.mu.Lock()
			ends := append(append([]oftp.EndResponseEvent(nil), h.cliEnds...), h.srvEnds...)
			h.mu.Unlock()
			if len(ends) != len(want) {
				t.Fatalf("%d end responses, want %d", len(ends), len(want))
			}
			for _, e := range ends {
				if e.Err != nil || e.Negative() {
					t.Errorf("%s: end response reason %d, verification %v", e.DatasetName, e.Reason, e.Err)
				}
				signed := len(e.Signature) > 0
				if signed != receipt[e.DatasetName] {
					t.Errorf("%s: signed end response %v, requested %v", e.DatasetName, signed, receipt[e.DatasetName])
				}
				if signed && len(e.Hash) != cms.Suite(suite).Hash().Size() {
					t.Errorf("%s: receipt hash of %d octets for suite %02d", e.DatasetName, len(e.Hash), suite)
				}
			}
		})
	}
}

// TestSessionVariableRecords sends a V file signed, compressed and encrypted: the
// records travel with length prefixes inside the CMS layers and arrive CR-LF
// terminated, as plain V files do.
func TestSessionVariableRecords(t *testing.T) {
	cliSec, srvSec := pairSecurity(t)
	h := newHarness(t, cliSec, srvSec, false)
	var sfid oftp.IncomingFile
	dr := &oftp.DirectoryReceiver{Dir: h.srvInbox, NameFormat: oftp.DefaultReceivedFileNameFormat, DeleteOnError: true,
		Clock: time.Now, Rand: rand.Reader}
	h.srvOpts.Receiver = oftp.ReceiverFunc(func(ctx context.Context, f *oftp.IncomingFile) (oftp.Decision, error) {
		sfid = *f
		return dr.Accept(ctx, f)
	})
	h.start()
	ctx := testCtx(t)
	cl, err := h.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var local, stored bytes.Buffer
	for i := 0; i < 3000; i++ {
		line := bytes.Repeat([]byte{byte('A' + i%26)}, i%300)
		local.Write(line)
		stored.Write(line)
		stored.WriteString("\r\n")
		if i%2 == 0 {
			local.WriteString("\r\n")
		} else {
			local.WriteString("\n")
		}
	}
	f := &oftp.OutgoingFile{DatasetName: "VRECORDS", Format: oftp.FormatVariable, MaxRecordSize: 300,
		Size: int64(local.Len()), Source: memSource(local.Bytes()), SecurityLevel: 3, CipherSuite: 4, Compressed: true, SignedReceipt: true}
	if _, err := cl.SendFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := cl.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.serverEnd(); err != nil {
		t.Fatal(err)
	}
	if g := readFile(t, filepath.Join(h.srvInbox, "VRECORDS")); !bytes.Equal(g, stored.Bytes()) {
		t.Fatalf("V file stored as %d octets, want %d", len(g), stored.Len())
	}
	if len(h.cliEnds) != 1 || h.cliEnds[0].Err != nil || len(h.cliEnds[0].Signature) == 0 {
		t.Fatalf("end responses %+v", h.cliEnds)
	}
	// The SFID as the receiver saw it (sizes in KiB, rounded up).
	res := h.srvRes[len(h.srvRes)-1]
	if sfid.Format != oftp.FormatVariable || sfid.MaxRecordSize != 300 || sfid.SecurityLevel != 3 || sfid.CipherSuite != 4 ||
		!sfid.Compressed || !sfid.Enveloped || !sfid.SignedReceipt {
		t.Fatalf("SFID security fields %+v", sfid)
	}
	if want := (int64(local.Len()) + 1023) / 1024; sfid.OriginalSize != want {
		t.Fatalf("SFIDOSIZ %d, want %d", sfid.OriginalSize, want)
	}
	if sfid.Size*1024 < res.Octets {
		t.Fatalf("SFIDFSIZ %d KiB is below the %d octets transmitted", sfid.Size, res.Octets)
	}
}
