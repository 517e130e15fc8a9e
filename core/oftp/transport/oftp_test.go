package transport_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/transport"
)

// TestOFTPSessionOverTLSThroughProxy runs a real OFTP 2.0 session with the
// session engine: the responder uses our server TLS configuration with
// mutual TLS, the initiator dials through each proxy kind with our Dialer and
// our client TLS configuration, and sends a file.
func TestOFTPSessionOverTLSThroughProxy(t *testing.T) {
	p := newPKI(t)
	proxies := []string{"socks5://oftp:pw@" + socks5Server(t, "oftp", "pw"), "http://oftp:pw@" + connectServer(t, "oftp", "pw")}
	content := bytes.Repeat([]byte("UNB+UNOA:3+O0013CLIENT+O0013SERVER'\r\n"), 3000)
	src := filepath.Join(t.TempDir(), "edi.txt")
	if err := os.WriteFile(src, content, 0o600); err != nil {
		t.Fatal(err)
	}

	for i, proxy := range proxies {
		inbox := t.TempDir()
		ends := make(chan error, 1)
		srvOpts := oftp.DefaultOptions()
		srvOpts.SSIDCode, srvOpts.Password = "O0013SERVER", "SERVPW"
		srvOpts.PartnerSSIDCode, srvOpts.PartnerPassword = "O0013CLIENT", "CLIEPW"
		srvOpts.DownloadDirectory = inbox
		srvOpts.Timeout = 10 * time.Second
		srvOpts.Events.SessionEnd = func(_ oftp.SessionInfo, err error) { ends <- err }
		srvOpts.TLSConfig = serverConfig(t, p, transport.RequireClientCert)
		srv := &oftp.Server{Options: srvOpts}
		ln := listenLocal(t)
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })

		d, err := transport.NewDialer(proxy)
		if err != nil {
			t.Fatal(err)
		}
		cliOpts := oftp.DefaultOptions()
		cliOpts.SSIDCode, cliOpts.Password = "O0013CLIENT", "CLIEPW"
		cliOpts.PartnerSSIDCode, cliOpts.PartnerPassword = "O0013SERVER", "SERVPW"
		cliOpts.DownloadDirectory = t.TempDir()
		cliOpts.Timeout = 10 * time.Second
		cliOpts.Dialer = d
		cliOpts.TLSConfig = clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: p.client.KeyPair()})

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := oftp.Dial(ctx, ln.Addr().String(), cliOpts)
		if err != nil {
			cancel()
			t.Fatalf("%s: dial: %v", d, err)
		}
		name := "EDI" + string(rune('A'+i))
		st, _ := os.Stat(src)
		_, err = c.SendFile(ctx, &oftp.OutgoingFile{DatasetName: name, Format: oftp.FormatUnstructured, Size: st.Size(),
			Source: oftp.FileSource{Path: src, Format: oftp.FormatUnstructured}})
		if err != nil {
			cancel()
			t.Fatalf("%s: SendFile: %v", d, err)
		}
		if err := c.Logoff(ctx); err != nil {
			cancel()
			t.Fatalf("%s: Logoff: %v", d, err)
		}
		cancel()
		select {
		case err := <-ends:
			if err != nil {
				t.Fatalf("%s: server session: %v", d, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("server session did not end")
		}
		got, err := os.ReadFile(filepath.Join(inbox, name))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s: received file differs (%v)", d, err)
		}
	}
}
