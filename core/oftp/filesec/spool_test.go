package filesec_test

import (
	"bytes"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/filesec"
)

// TestSpooledRestart cuts a spooled, signed, compressed and encrypted transfer and
// resumes it in a second session at the restart point the receiver offers. The
// receiver stores the transmitted CMS as it is (no security of its own, like a relay);
// the stored file must decrypt and verify to the original.
func TestSpooledRestart(t *testing.T) {
	k := testKeys(t)
	spool := t.TempDir()
	cli := newSecurity(t, k.client, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}},
		func(cfg *filesec.Config) { cfg.SpoolDir = spool })
	plain := content(77, 3<<20)
	stamp := oftp.NewStamp(time.Now(), 42)
	file := func() *oftp.OutgoingFile {
		f := secured("SPOOLED", filesec.LevelBoth, true, 0)
		f.Source, f.Size, f.Stamp = memSource(plain), int64(len(plain)), stamp
		f.RestartPosition = int64(len(plain)) / 1024 // propose everything; the receiver answers what it has
		return f
	}

	h := newHarness(t, cli, nil, false)
	h.srvOpts.DeleteOnError = false
	h.wrapClientConn(func(c net.Conn) net.Conn { return &cutConn{Conn: c, left: 1 << 20} })
	h.start()
	ctx := testCtx(t)
	cl, err := h.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SendFile(ctx, file()); err == nil {
		t.Fatal("first attempt over a cut connection succeeded")
	}
	h.serverEnd()
	cl.Disconnect()
	spooled, _ := filepath.Glob(filepath.Join(spool, "out-*.cms"))
	if len(spooled) != 1 {
		t.Fatalf("spool files %v", spooled)
	}

	h.cliOpts.Dialer = nil
	cl2, err := oftp.Dial(ctx, h.addr, h.cliOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Disconnect()
	res, err := cl2.SendFile(ctx, file())
	if err != nil {
		t.Fatal(err)
	}
	if res.RestartPosition == 0 {
		t.Fatal("the second attempt did not resume")
	}
	if _, err := cl2.ReceiveFiles(ctx); err != nil { // the EERP comes back
		t.Fatal(err)
	}
	if err := cl2.Logoff(ctx); err != nil {
		t.Fatal(err)
	}
	if err := h.serverEnd(); err != nil {
		t.Fatal(err)
	}
	stored, err := os.Open(filepath.Join(h.srvInbox, "SPOOLED"))
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Close()
	dec, _ := k.server.KeyPair().Decrypter()
	fr, err := cms.NewFileReader(stored, cms.Verification{Encrypted: true, Compressed: true, Signed: true,
		Decrypter: dec, Certificate: k.server.Cert, Trusted: []*x509.Certificate{k.client.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(fr)
	if err != nil {
		t.Fatalf("resumed file does not verify: %v", err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatal("resumed file differs")
	}
	t.Logf("resumed at %d KiB of %d", res.RestartPosition, res.Octets/1024)
	if left, _ := filepath.Glob(filepath.Join(spool, "*")); len(left) != 0 {
		t.Fatalf("spool not removed after the end response: %v", left)
	}
}
