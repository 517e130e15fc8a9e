package filesec_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/certs/certtest"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/filesec"
)

// flipTransform protects a file with the real transform and then flips one bit of
// the transmitted octets, as a corrupting network element would.
type flipTransform struct {
	inner *filesec.Security
	// at picks the octet to flip from the transmitted length.
	at func(n int) int
}

func (f flipTransform) TransformOutgoing(ctx context.Context, file *oftp.OutgoingFile) (*oftp.OutgoingFile, error) {
	g, err := f.inner.TransformOutgoing(ctx, file)
	if err != nil {
		return nil, err
	}
	src := g.Source
	h := *g
	h.Source = oftp.SourceFunc(func(ctx context.Context, off int64) (io.ReadCloser, error) {
		rc, err := src.Open(ctx, off)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, err
		}
		b[f.at(len(b))] ^= 0x10
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	return &h, nil
}

// sendOne sends one file from client to server and returns the client's error and
// the server's transfer result.
func sendOne(t *testing.T, h *harness, f *oftp.OutgoingFile) (oftp.TransferResult, error) {
	t.Helper()
	h.start()
	ctx := testCtx(t)
	cl, err := h.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, sendErr := cl.SendFile(ctx, f)
	if err := cl.Logoff(ctx); err != nil {
		t.Fatalf("logoff: %v", err)
	}
	if err := h.serverEnd(); err != nil {
		t.Fatalf("server session: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var res oftp.TransferResult
	if len(h.srvRes) > 0 {
		res = h.srvRes[len(h.srvRes)-1]
	}
	return res, sendErr
}

func wantRefusal(t *testing.T, err error, cmd string, code int) {
	t.Helper()
	var re *oftp.ReasonError
	if !errors.As(err, &re) || re.Cmd != cmd || re.Code != code {
		t.Fatalf("got %v, want %s %02d", err, cmd, code)
	}
}

func wantNothingDelivered(t *testing.T, h *harness) {
	t.Helper()
	if names := visible(t, h.srvInbox); len(names) != 0 {
		t.Fatalf("files delivered despite the failure: %v", names)
	}
}

func secured(name string, level filesec.Level, compressed bool, n int) *oftp.OutgoingFile {
	b := content(uint64(n), n)
	return &oftp.OutgoingFile{DatasetName: name, Format: oftp.FormatUnstructured, Size: int64(n), Source: memSource(b),
		SecurityLevel: int(level), CipherSuite: 4, Compressed: compressed}
}

func TestTamperedFile(t *testing.T) {
	cases := []struct {
		name       string
		level      filesec.Level
		compressed bool
		at         func(n int) int
		code       int
	}{
		// CBC padding lives in the last block: damage there fails decryption.
		{"ciphertext padding", filesec.LevelEncrypted, false, func(n int) int { return n - 40 }, 22},
		// Mid-file damage of a signed and encrypted file garbles the SignedData inside.
		{"ciphertext signed", filesec.LevelBoth, false, func(n int) int { return n / 2 }, 21},
		// ... and of a compressed one the zlib stream.
		{"ciphertext compressed", filesec.LevelEncrypted, true, func(n int) int { return n / 2 }, 23},
		{"signed content", filesec.LevelSigned, false, func(n int) int { return n / 2 }, 21},
		// The RSA signature is the last value before the closing octets.
		{"signature", filesec.LevelSigned, false, func(n int) int { return n - 100 }, 21},
		{"compressed", filesec.LevelNone, true, func(n int) int { return n / 2 }, 23},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cliSec, srvSec := pairSecurity(t)
			h := newHarness(t, cliSec, srvSec, false)
			h.cliOpts.OutgoingTransform = flipTransform{inner: cliSec, at: c.at}
			res, err := sendOne(t, h, secured("TAMPERED", c.level, c.compressed, 20000))
			wantRefusal(t, err, "EFNA", c.code)
			wantNothingDelivered(t, h)
			if _, _, ok := cms.ReasonCodes(res.Err); !ok {
				t.Errorf("server side cause %v carries no CMS failure", res.Err)
			}
		})
	}
}

func TestWrongAndInvalidCertificates(t *testing.T) {
	k := testKeys(t)
	cases := []struct {
		name   string
		signer *certtest.Leaf // the key the client signs with
		// configured is the client certificate the server has; signer's when nil.
		configured *x509.Certificate
		reason     certs.Reason // expected validation reason, 0 for a signature mismatch
	}{
		{"wrong partner certificate", k.intruder, k.client.Cert, 0},
		{"untrusted", k.intruder, nil, certs.ReasonUntrusted},
		{"expired", k.expired, nil, certs.ReasonExpired},
		{"not yet valid", k.notYetValid, nil, certs.ReasonNotYetValid},
		{"revoked", k.revok, nil, certs.ReasonRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			configured := c.configured
			if configured == nil {
				configured = c.signer.Cert
			}
			cli := newSecurity(t, k.client, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}},
				func(cfg *filesec.Config) { cfg.Identity.Signing = c.signer.KeyPair() })
			srv := newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{configured}}, nil)
			h := newHarness(t, cli, srv, false)
			// The client's clock is not checked here: its own certificate may be
			// expired for this test, so sign with a Security that skips own checks.
			res, err := sendOne(t, h, secured("SIGNED", filesec.LevelSigned, false, 5000))
			if c.signer == k.expired || c.signer == k.notYetValid {
				// We refuse to sign with our own certificate outside its validity.
				if !errors.Is(err, oftp.ErrInvalidFile) || !errors.Is(err, c.reason) {
					t.Fatalf("sending with an own %s certificate: %v", c.name, err)
				}
				return
			}
			wantRefusal(t, err, "EFNA", 21)
			wantNothingDelivered(t, h)
			if c.reason != 0 && !errors.Is(res.Err, c.reason) {
				t.Fatalf("server cause %v, want %v", res.Err, c.reason)
			}
		})
	}
	// The receiving side refuses a partner certificate that is not valid any more.
	for _, c := range []struct {
		name   string
		leaf   *certtest.Leaf
		reason certs.Reason
	}{{"partner expired", k.expired, certs.ReasonExpired}, {"partner revoked", k.revok, certs.ReasonRevoked}} {
		t.Run(c.name, func(t *testing.T) {
			cli := newSecurity(t, c.leaf, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}}, nil)
			srv := newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{c.leaf.Cert}}, nil)
			// Encrypting to the partner's invalid certificate is refused before SFID.
			h := newHarness(t, srv, cli, false)
			_ = h
			f := secured("ENC", filesec.LevelEncrypted, false, 100)
			_, err := srv.TransformOutgoing(testCtx(t), withDest(f, clientCode))
			if !errors.Is(err, c.reason) {
				t.Fatalf("encrypting to a %s certificate: %v", c.name, err)
			}
		})
	}
}

func withDest(f *oftp.OutgoingFile, dest string) *oftp.OutgoingFile {
	f.Destination = dest
	return f
}

func TestEncryptedForWrongRecipient(t *testing.T) {
	k := testKeys(t)
	// The client believes the server's certificate is the intruder's.
	cli := newSecurity(t, k.client, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.client2.Cert}}, nil)
	_, srv := pairSecurity(t)
	h := newHarness(t, cli, srv, false)
	res, err := sendOne(t, h, secured("WRONGKEY", filesec.LevelEncrypted, false, 3000))
	wantRefusal(t, err, "EFNA", 22)
	wantNothingDelivered(t, h)
	if !errors.Is(res.Err, cms.ErrNoRecipient) {
		t.Fatalf("server cause %v", res.Err)
	}
}

func TestPolicyRefusals(t *testing.T) {
	cases := []struct {
		name   string
		policy filesec.Acceptance
		file   *oftp.OutgoingFile
		code   int
	}{
		{"suite", filesec.Acceptance{Suites: []cms.Suite{cms.SuiteAES256SHA256}}, withSuite(secured("F", filesec.LevelSigned, false, 10), 6), 15},
		{"encrypted refused", filesec.Acceptance{RefuseEncryption: true}, secured("F", filesec.LevelEncrypted, false, 10), 16},
		{"unencrypted refused", filesec.Acceptance{RequireEncryption: true}, secured("F", filesec.LevelSigned, false, 10), 17},
		{"compression refused", filesec.Acceptance{RefuseCompression: true}, secured("F", filesec.LevelNone, true, 10), 18},
		{"signed refused", filesec.Acceptance{RefuseSignature: true}, secured("F", filesec.LevelSigned, false, 10), 19},
		{"unsigned refused", filesec.Acceptance{RequireSignature: true}, secured("F", filesec.LevelEncrypted, false, 10), 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := testKeys(t)
			cli, _ := pairSecurity(t)
			srv := newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{k.client.Cert},
				Incoming: c.policy}, nil)
			h := newHarness(t, cli, srv, false)
			_, err := sendOne(t, h, c.file)
			wantRefusal(t, err, "SFNA", c.code)
			wantNothingDelivered(t, h)
		})
	}
}

func withSuite(f *oftp.OutgoingFile, s int) *oftp.OutgoingFile {
	f.CipherSuite = s
	return f
}

// receiptTamper wraps the server's receipt signer.
type receiptTamper struct {
	inner *filesec.Security
	mod   func(er *oftp.EndResponse)
}

func (r receiptTamper) SignEndResponse(ctx context.Context, er *oftp.EndResponse) error {
	if err := r.inner.SignEndResponse(ctx, er); err != nil {
		return err
	}
	r.mod(er)
	return nil
}

func TestTamperedReceipts(t *testing.T) {
	k := testKeys(t)
	cases := []struct {
		name  string
		mod   func(er *oftp.EndResponse)
		srv   func(t *testing.T) *filesec.Security
		cause error
	}{
		{"signature bit", func(er *oftp.EndResponse) { er.Signature[len(er.Signature)-20] ^= 1 }, nil, nil},
		{"hash", func(er *oftp.EndResponse) { er.Hash[0] ^= 1 }, nil, cms.ErrReceiptMismatch},
		{"other file", func(er *oftp.EndResponse) { er.Stamp.Time = "0000000001" }, nil, nil},
		{"unsigned", func(er *oftp.EndResponse) { er.Signature, er.Hash = nil, nil }, nil, filesec.ErrReceiptUnsigned},
		{"forged signer", func(*oftp.EndResponse) {}, func(t *testing.T) *filesec.Security {
			return newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{k.client.Cert}},
				func(cfg *filesec.Config) { cfg.Identity.Receipt = k.intruder.KeyPair() })
		}, cms.ErrSignerNotTrusted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cli, srv := pairSecurity(t)
			if c.srv != nil {
				srv = c.srv(t)
			}
			h := newHarness(t, cli, srv, false)
			h.srvOpts.EndResponseSigner = receiptTamper{inner: srv, mod: c.mod}
			var events []filesec.ReceiptEvent
			f := secured("RECEIPT", filesec.LevelBoth, true, 4000)
			f.SignedReceipt = true
			h.start()
			ctx := testCtx(t)
			cl, err := h.dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.SendFile(ctx, f); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.ReceiveFiles(ctx); err != nil {
				t.Fatal(err)
			}
			if err := cl.Logoff(ctx); err != nil {
				t.Fatal(err)
			}
			if err := h.serverEnd(); err != nil {
				t.Fatal(err)
			}
			_ = events
			if len(h.cliEnds) != 1 {
				t.Fatalf("%d end responses", len(h.cliEnds))
			}
			e := h.cliEnds[0]
			if e.Err == nil {
				t.Fatal("tampered receipt reported as valid")
			}
			if !errors.Is(e.Err, cms.ErrReceipt) {
				t.Fatalf("receipt error %v is not a receipt failure", e.Err)
			}
			if c.cause != nil && !errors.Is(e.Err, c.cause) {
				t.Fatalf("receipt error %v, want cause %v", e.Err, c.cause)
			}
		})
	}
}

// authTamper flips a bit in our AURP.
type authTamper struct{ inner *filesec.Security }

func (a authTamper) Challenge(ctx context.Context, p string) ([]byte, []byte, error) {
	return a.inner.Challenge(ctx, p)
}

func (a authTamper) Respond(ctx context.Context, p string, ch []byte) ([]byte, error) {
	r, err := a.inner.Respond(ctx, p, ch)
	if err == nil {
		r[3] ^= 0x40
	}
	return r, err
}

func TestSecureAuthenticationFailures(t *testing.T) {
	k := testKeys(t)
	t.Run("tampered AURP", func(t *testing.T) {
		cli, srv := pairSecurity(t)
		h := newHarness(t, cli, srv, true)
		h.cliOpts.Authenticator = authTamper{cli}
		h.start()
		_, err := h.dial(testCtx(t))
		wantRefusal(t, err, "ESID", 11)
		wantRefusal(t, h.serverEnd(), "ESID", 11)
	})
	t.Run("wrong partner certificate", func(t *testing.T) {
		// The server encrypts its challenge to a certificate the client has no key for.
		cli, _ := pairSecurity(t)
		srv := newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{k.client2.Cert}}, nil)
		h := newHarness(t, cli, srv, true)
		h.start()
		_, err := h.dial(testCtx(t))
		var re *oftp.ReasonError
		if !errors.As(err, &re) || re.Code != 11 {
			t.Fatalf("got %v, want ESID 11", err)
		}
	})
	t.Run("revoked partner certificate", func(t *testing.T) {
		cli := newSecurity(t, k.revok, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}}, nil)
		srv := newSecurity(t, k.server, &filesec.Partner{SSIDCode: clientCode, Certificates: []*x509.Certificate{k.revok.Cert}}, nil)
		h := newHarness(t, cli, srv, true)
		h.start()
		_, err := h.dial(testCtx(t))
		wantRefusal(t, err, "ESID", 11)
		if err := h.serverEnd(); !errors.Is(err, certs.ReasonRevoked) {
			t.Fatalf("server cause %v", err)
		}
	})
	t.Run("one side without secure authentication", func(t *testing.T) {
		cli, srv := pairSecurity(t)
		h := newHarness(t, cli, srv, true)
		h.cliOpts.SecureAuthentication = false
		h.start()
		_, err := h.dial(testCtx(t))
		wantRefusal(t, err, "ESID", 12)
	})
}

// TestSignedNERP: a file refused after its data arrived (here: signed with a key the
// server does not trust) is answered with EFNA 21 and a NERP 31 that carries the
// hash of the received file and the server's signature, which the client verifies.
func TestSignedNERP(t *testing.T) {
	k := testKeys(t)
	cli := newSecurity(t, k.client, &filesec.Partner{SSIDCode: serverCode, Certificates: []*x509.Certificate{k.server.Cert}},
		func(cfg *filesec.Config) { cfg.Identity.Signing = k.intruder.KeyPair() })
	_, srv := pairSecurity(t)
	h := newHarness(t, cli, srv, false)
	f := secured("REFUSED", filesec.LevelBoth, true, 7000)
	f.SignedReceipt = true
	_, err := sendOne(t, h, f)
	wantRefusal(t, err, "EFNA", 21)
	wantNothingDelivered(t, h)
	if len(h.cliEnds) != 1 {
		t.Fatalf("%d end responses", len(h.cliEnds))
	}
	e := h.cliEnds[0]
	if e.Reason != 31 || len(e.Signature) == 0 || e.Err != nil {
		t.Fatalf("NERP reason %d, signed %v, verification %v", e.Reason, len(e.Signature) > 0, e.Err)
	}
}

func TestTamperedAURPFromResponder(t *testing.T) {
	cli, srv := pairSecurity(t)
	h := newHarness(t, cli, srv, true)
	h.srvOpts.Authenticator = authTamper{srv}
	h.start()
	_, err := h.dial(testCtx(t))
	wantRefusal(t, err, "ESID", 11)
	var re *oftp.ReasonError
	if !errors.As(err, &re) || !re.Local {
		t.Fatalf("the initiator did not detect the bad response itself: %v", err)
	}
	wantRefusal(t, h.serverEnd(), "ESID", 11)
}

// cutConn drops the connection after limit octets were written.
type cutConn struct {
	net.Conn
	left int
}

func (c *cutConn) Write(b []byte) (int, error) {
	if len(b) >= c.left {
		c.Conn.Close()
		return 0, net.ErrClosed
	}
	c.left -= len(b)
	return c.Conn.Write(b)
}

// TestConnectionCutMidFile breaks the connection in the middle of a secured file:
// the receiver aborts the verifying pipeline, nothing is delivered and no goroutine
// is left waiting.
func TestConnectionCutMidFile(t *testing.T) {
	cli, srv := pairSecurity(t)
	h := newHarness(t, cli, srv, false)
	h.wrapClientConn(func(c net.Conn) net.Conn { return &cutConn{Conn: c, left: 1 << 20} })
	h.start()
	ctx := testCtx(t)
	before := runtime.NumGoroutine()
	cl, err := h.dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := secured("CUT", filesec.LevelBoth, false, 4<<20)
	if _, err := cl.SendFile(ctx, f); err == nil {
		t.Fatal("transfer over a cut connection succeeded")
	}
	if err := h.serverEnd(); !errors.Is(err, oftp.ErrConnectionLost) {
		t.Fatalf("server session ended with %v", err)
	}
	wantNothingDelivered(t, h)
	cl.Disconnect()
	// The pipelines' goroutines end with their sessions.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left (from %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
