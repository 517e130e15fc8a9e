package oftp_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// discardSink accepts and forgets a file.
type discardSink struct{ n int64 }

func (s *discardSink) Write(p []byte) (int, error)  { s.n += int64(len(p)); return len(p), nil }
func (s *discardSink) Commit(context.Context) error { return nil }
func (s *discardSink) Abort(context.Context) error  { return nil }

func discardReceiver() oftp.Receiver {
	return oftp.ReceiverFunc(func(context.Context, *oftp.IncomingFile) (oftp.Decision, error) {
		return oftp.Decision{Sink: &discardSink{}}, nil
	})
}

// FuzzResponderInput feeds arbitrary octets to a responder session as the initiator's
// byte stream: the session must end without panic and without hanging.
func FuzzResponderInput(f *testing.F) {
	// A well-formed 2.0 initiator stream: SSID, SFID, one DATA, EFID, CD, RTR, ESID.
	f.Add(mustHex("1000004158354143434f5244434c4920202020202020202020202020202020434c4950572020203034303936424e4e4e3030344e2020202020202020202020200d"))
	f.Add([]byte("\x10\x00\x00\x05R"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := oftp.DefaultOptions()
		opts.SSIDCode, opts.Password = "ACCORDSRV", "SRVPW"
		opts.PartnerSSIDCode, opts.PartnerPassword = "ACCORDCLI", "CLIPW"
		opts.Compress, opts.Restart = true, true
		opts.Timeout = 2 * time.Second
		opts.Receiver = discardReceiver()
		srv := &oftp.Server{Options: opts}
		a, b := net.Pipe()
		go io.Copy(io.Discard, b)
		go func() {
			b.Write(in)
			b.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			srv.ServeConn(ctx, a)
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("session did not end")
		}
	})
}

// FuzzInitiatorInput plays arbitrary octets as the responder's byte stream against a
// client that logs on, sends a small file and logs off: no panic, no hang.
func FuzzInitiatorInput(f *testing.F) {
	f.Add(mustHex("10000017494f444554544520465450205245414459200d" +
		"1000004158354143434f52445352562020202020202020202020202020202053525650572020203034303936424e4e4e3036344e2020202020202020202020200d" +
		"10000016323030303030303030303030303030303030" + "10000006344e" + "1000000552"))
	f.Add([]byte("\x10\x00\x00\x17IODETTE FTP READY \r\x10\x00\x00\x05F"))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := oftp.DefaultOptions()
		opts.SSIDCode, opts.Password = "ACCORDCLI", "CLIPW"
		opts.PartnerSSIDCode, opts.PartnerPassword = "ACCORDSRV", "SRVPW"
		opts.Compress, opts.Restart = true, true
		opts.Timeout = 2 * time.Second
		opts.Receiver = discardReceiver()
		a, b := net.Pipe()
		go io.Copy(io.Discard, b)
		go func() {
			b.Write(in)
			b.Close()
		}()
		opts.Dialer = pipeDialer{a}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := oftp.Dial(ctx, "pipe:1", opts)
			if err != nil {
				return
			}
			defer c.Disconnect()
			c.SendFile(ctx, &oftp.OutgoingFile{DatasetName: "FUZZ", Source: oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader([]byte("data"))), nil
			})})
			c.Logoff(ctx)
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("session did not end")
		}
	})
}

type pipeDialer struct{ c net.Conn }

func (d pipeDialer) DialContext(context.Context, string, string) (net.Conn, error) { return d.c, nil }

// FuzzReceivedFileName checks that no dataset name or macro leads outside the download
// directory.
func FuzzReceivedFileName(f *testing.F) {
	f.Add("../../etc/passwd", "%VirtualFileName%")
	f.Add("A/B\\C", "%Originator%_%VirtualFileName%_%VirtualFileDate:yyyy-MM-dd%")
	f.Add("..", "%UserData%")
	f.Fuzz(func(t *testing.T, dsn, format string) {
		d := &oftp.DirectoryReceiver{NameFormat: format, Clock: func() time.Time { return time.Unix(0, 0) }, Rand: bytes.NewReader(make([]byte, 64))}
		name, err := d.FileName(&oftp.IncomingFile{DatasetName: dsn, Originator: dsn, UserData: dsn,
			Stamp: oftp.Stamp{Date: "20261127", Time: "0102030004"}})
		if err != nil {
			return
		}
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || strings.HasPrefix(name, ".") {
			t.Fatalf("unsafe name %q from %q / %q", name, dsn, format)
		}
	})
}
