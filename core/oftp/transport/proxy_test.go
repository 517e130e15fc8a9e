package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp/transport"
)

// greetingServer stands in for an OFTP responder: it speaks first (as a
// responder sends SSRM right after accepting), then echoes.
func greetingServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "IODETTE FTP READY \r")
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// splice copies both ways until either side closes.
func splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(a, b); a.(*net.TCPConn).CloseWrite() }()
	go func() { defer wg.Done(); io.Copy(b, a); b.(*net.TCPConn).CloseWrite() }()
	wg.Wait()
}

func listen(t testing.TB, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

// socks5Server is a small RFC 1928/1929 proxy: CONNECT only, optional
// username/password, IPv4/IPv6/domain targets.
func socks5Server(t testing.TB, user, pass string) string {
	return listen(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil || h[0] != 5 {
			return
		}
		methods := make([]byte, h[1])
		if _, err := io.ReadFull(r, methods); err != nil {
			return
		}
		want := byte(0)
		if user != "" {
			want = 2
		}
		if !strings.ContainsRune(string(methods), rune(want)) {
			c.Write([]byte{5, 0xff})
			return
		}
		c.Write([]byte{5, want})
		if want == 2 {
			var v [2]byte
			if _, err := io.ReadFull(r, v[:]); err != nil || v[0] != 1 {
				return
			}
			u := make([]byte, v[1])
			io.ReadFull(r, u)
			var pl [1]byte
			io.ReadFull(r, pl[:])
			p := make([]byte, pl[0])
			io.ReadFull(r, p)
			if string(u) != user || string(p) != pass {
				c.Write([]byte{1, 1})
				return
			}
			c.Write([]byte{1, 0})
		}
		var req [4]byte
		if _, err := io.ReadFull(r, req[:]); err != nil || req[0] != 5 {
			return
		}
		var host string
		switch req[3] {
		case 1, 4:
			ip := make([]byte, map[byte]int{1: 4, 4: 16}[req[3]])
			io.ReadFull(r, ip)
			host = net.IP(ip).String()
		case 3:
			var l [1]byte
			io.ReadFull(r, l[:])
			d := make([]byte, l[0])
			io.ReadFull(r, d)
			host = string(d)
		default:
			c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		var port [2]byte
		io.ReadFull(r, port[:])
		if req[1] != 1 {
			c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		up, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:])))))
		if err != nil {
			c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		la := up.LocalAddr().(*net.TCPAddr)
		reply := append([]byte{5, 0, 0, 1}, la.IP.To4()...)
		reply = binary.BigEndian.AppendUint16(reply, uint16(la.Port))
		c.Write(reply)
		if r.Buffered() > 0 {
			b, _ := r.Peek(r.Buffered())
			up.Write(b)
		}
		splice(c, up)
	})
}

// socks4Server is a small SOCKS4/4a proxy; a non-empty user is the only
// user ID it accepts (as an identd check would).
func socks4Server(t testing.TB, user string) string {
	return listen(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil || h[0] != 4 || h[1] != 1 {
			return
		}
		id, err := r.ReadString(0)
		if err != nil {
			return
		}
		host := net.IP(h[4:8]).String()
		if h[4] == 0 && h[5] == 0 && h[6] == 0 && h[7] != 0 {
			name, err := r.ReadString(0)
			if err != nil {
				return
			}
			host = strings.TrimSuffix(name, "\x00")
		}
		if user != "" && strings.TrimSuffix(id, "\x00") != user {
			c.Write([]byte{0, 93, 0, 0, 0, 0, 0, 0})
			return
		}
		up, err := net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(h[2:4])))))
		if err != nil {
			c.Write([]byte{0, 91, 0, 0, 0, 0, 0, 0})
			return
		}
		defer up.Close()
		c.Write([]byte{0, 90, 0, 0, 0, 0, 0, 0})
		splice(c, up)
	})
}

// connectServer is a small HTTP CONNECT proxy with optional basic auth. It
// forwards the partner's first bytes in the same write as its 200 answer,
// so the client must not lose bytes read past the response head.
func connectServer(t testing.TB, user, pass string) string {
	return listen(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		if req.Method != http.MethodConnect {
			io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
			return
		}
		if user != "" {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
			if req.Header.Get("Proxy-Authorization") != want {
				io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
				return
			}
		}
		up, err := net.Dial("tcp", req.Host)
		if err != nil {
			io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		defer up.Close()
		head := []byte("HTTP/1.1 200 Connection established\r\n\r\n")
		if req.URL.Port() != "" && req.Header.Get("X-No-Coalesce") == "" {
			// Wait for the partner's greeting, if it sends one quickly, and send it along.
			up.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			buf := make([]byte, 512)
			n, _ := up.Read(buf)
			up.SetReadDeadline(time.Time{})
			head = append(head, buf[:n]...)
		}
		c.Write(head)
		splice(c, up)
	})
}

func expectGreetingEcho(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len("IODETTE FTP READY \r"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "IODETTE FTP READY \r" {
		t.Fatalf("greeting %q: %v", buf, err)
	}
	io.WriteString(c, "SSID\r")
	buf = buf[:5]
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "SSID\r" {
		t.Fatalf("echo %q: %v", buf, err)
	}
}

func TestDirectDialer(t *testing.T) {
	target := greetingServer(t)
	for _, u := range []string{"", "direct://"} {
		d, err := transport.NewDialer(u)
		if err != nil {
			t.Fatal(err)
		}
		d.Timeout = 5 * time.Second
		c, err := d.DialContext(context.Background(), "tcp", target)
		if err != nil {
			t.Fatal(err)
		}
		expectGreetingEcho(t, c)
		c.Close()
		if d.String() != "direct" {
			t.Fatalf("String %q", d.String())
		}
	}
}

func TestSOCKS5Proxy(t *testing.T) {
	target := greetingServer(t)
	open := socks5Server(t, "", "")
	authed := socks5Server(t, "oftp", "s3cret")
	_, targetPort, _ := net.SplitHostPort(target)

	for _, u := range []string{
		"socks5://" + open,
		"socks5://oftp:s3cret@" + authed,
		"socks5h://oftp:s3cret@" + authed,
	} {
		d, err := transport.NewDialer(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, addr := range []string{target, "localhost:" + targetPort} {
			c, err := d.DialContext(context.Background(), "tcp4", addr)
			if err != nil {
				t.Fatalf("%s → %s: %v", d, addr, err)
			}
			expectGreetingEcho(t, c)
			c.Close()
		}
	}

	for _, c := range []struct {
		url  string
		want error
		msg  string
		code int
	}{
		{"socks5://oftp:wrong@" + authed, transport.ErrProxyAuth, `the proxy rejected user "oftp"`, 1},
		{"socks5://" + authed, transport.ErrProxyAuth, "the proxy requires authentication, none configured", 0},
	} {
		d, err := transport.NewDialer(c.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.DialContext(context.Background(), "tcp", target)
		var pe *transport.ProxyError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) || !strings.Contains(err.Error(), c.msg) || pe.Code != c.code {
			t.Fatalf("%s: %v", d, err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("password in error: %v", err)
		}
	}

	// A partner that is down: the proxy's "connection refused" reply (code 5).
	closed := closedPort(t)
	d, _ := transport.NewDialer("socks5://" + open)
	_, err := d.DialContext(context.Background(), "tcp", closed)
	var pe *transport.ProxyError
	if !errors.Is(err, transport.ErrProxyRefused) || !errors.As(err, &pe) || pe.Code != 5 || !strings.Contains(err.Error(), "connection refused by the partner") {
		t.Fatalf("refused target: %v", err)
	}
}

func TestSOCKS4Proxy(t *testing.T) {
	target := greetingServer(t)
	_, targetPort, _ := net.SplitHostPort(target)
	proxy := socks4Server(t, "oftp")
	for _, c := range []struct{ url, addr string }{
		{"socks4://oftp@" + proxy, target},
		{"socks4://oftp@" + proxy, "localhost:" + targetPort},
		{"socks4a://oftp@" + proxy, "localhost:" + targetPort},
	} {
		d, err := transport.NewDialer(c.url)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := d.DialContext(context.Background(), "tcp", c.addr)
		if err != nil {
			t.Fatalf("%s → %s: %v", d, c.addr, err)
		}
		expectGreetingEcho(t, conn)
		conn.Close()
	}
	d, _ := transport.NewDialer("socks4://intruder@" + proxy)
	var pe *transport.ProxyError
	if _, err := d.DialContext(context.Background(), "tcp", target); !errors.Is(err, transport.ErrProxyAuth) || !errors.As(err, &pe) || pe.Code != 93 {
		t.Fatalf("wrong user ID: %v", err)
	}
	d, _ = transport.NewDialer("socks4://oftp@" + proxy)
	if _, err := d.DialContext(context.Background(), "tcp", closedPort(t)); !errors.Is(err, transport.ErrProxyRefused) || !errors.As(err, &pe) || pe.Code != 91 {
		t.Fatalf("refused target: %v", err)
	}
	if _, err := transport.NewDialer("socks4://u:secret@127.0.0.1"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("SOCKS4 with password: %v", err)
	}
}

func TestHTTPConnectProxy(t *testing.T) {
	target := greetingServer(t)
	open := connectServer(t, "", "")
	authed := connectServer(t, "oftp", "p@ss:word")

	for _, u := range []string{"http://" + open, "http://oftp:" + url.QueryEscape("p@ss:word") + "@" + authed} {
		d, err := transport.NewDialer(u)
		if err != nil {
			t.Fatal(err)
		}
		c, err := d.DialContext(context.Background(), "tcp", target)
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		expectGreetingEcho(t, c)
		c.Close()
	}
	for _, c := range []struct {
		url  string
		want error
		code int
	}{
		{"http://oftp:bad@" + authed, transport.ErrProxyAuth, 407},
		{"http://" + authed, transport.ErrProxyAuth, 407},
	} {
		d, _ := transport.NewDialer(c.url)
		_, err := d.DialContext(context.Background(), "tcp", target)
		var pe *transport.ProxyError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) || pe.Code != c.code {
			t.Fatalf("%s: %v", d, err)
		}
	}
	d, _ := transport.NewDialer("http://" + open)
	_, err := d.DialContext(context.Background(), "tcp", closedPort(t))
	var pe *transport.ProxyError
	if !errors.Is(err, transport.ErrProxyRefused) || !errors.As(err, &pe) || pe.Code != 502 {
		t.Fatalf("refused target: %v", err)
	}
}

// TestTLSThroughProxies runs a mutual TLS session across each proxy kind.
func TestTLSThroughProxies(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServer(t, serverConfig(t, p, transport.RequireClientCert))
	for _, u := range []string{"socks5://u:p@" + socks5Server(t, "u", "p"), "http://u:p@" + connectServer(t, "u", "p")} {
		d, err := transport.NewDialer(u)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := d.DialContext(context.Background(), "tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		cfg := clientConfig(t, transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: p.client.KeyPair()})
		c := tls.Client(raw, cfg)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		greeting, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || greeting != "hello O0013000INITIATOR\n" {
			t.Fatalf("%s: %q %v", d, greeting, err)
		}
		if err := srv.handshakeErr(t); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

func TestDialerURLAndMasking(t *testing.T) {
	d, err := transport.NewDialer("socks5://alice:topsecret@127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if s := d.String(); s != "socks5://alice:xxxxx@127.0.0.1:1080" {
		t.Fatalf("String %q", s)
	}
	d, _ = transport.NewDialer("http://bob:topsecret@127.0.0.1")
	if s := d.String(); s != "http://bob:xxxxx@127.0.0.1:3128" {
		t.Fatalf("String %q", s)
	}
	// Unreachable proxy: the error names the proxy without the password.
	d, _ = transport.NewDialer("socks5://alice:topsecret@" + closedPort(t))
	_, err = d.DialContext(context.Background(), "tcp", "127.0.0.1:3305")
	if err == nil || strings.Contains(err.Error(), "topsecret") || !strings.Contains(err.Error(), "cannot reach the proxy") {
		t.Fatalf("unreachable proxy: %v", err)
	}
	for _, bad := range []string{"ftp://x", "socks5://", "socks5://h:1/path", "http://a:topsecret@[::1"} {
		_, err := transport.NewDialer(bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("password in error: %v", err)
		}
	}
	if _, err := transport.NewDialer("socks5://" + strings.Repeat("u", 256) + ":p@127.0.0.1"); err == nil {
		t.Error("over-long SOCKS5 user accepted")
	}
}

func TestDialerContextInterruptsHandshake(t *testing.T) {
	// A proxy that accepts and never answers.
	silent := listen(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	d, _ := transport.NewDialer("socks5://" + silent)
	d.Timeout = 100 * time.Millisecond
	_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:3305")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Timeout = 0
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err = d.DialContext(ctx, "tcp", "127.0.0.1:3305")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
}

// TestProxyServersWithNetHTTP checks the test proxies themselves with an
// independent client (net/http's SOCKS5 and CONNECT support), so the
// proxy tests above do not only prove our client agrees with our server.
func TestProxyServersWithNetHTTP(t *testing.T) {
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	for _, proxy := range []string{
		"socks5://u:p@" + socks5Server(t, "u", "p"),
		"http://u:p@" + connectServer(t, "u", "p"),
	} {
		pu, _ := url.Parse(proxy)
		tr := backend.Client().Transport.(*http.Transport).Clone()
		tr.Proxy = http.ProxyURL(pu)
		tr.ProxyConnectHeader = http.Header{"X-No-Coalesce": {"1"}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(backend.URL)
		if err != nil {
			t.Fatalf("%s: %v", pu.Scheme, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("%s: body %q", pu.Scheme, body)
		}
		tr.CloseIdleConnections()
	}
}

func listenLocal(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialerFromEnvironment(t *testing.T) {
	target := greetingServer(t)
	_, port, _ := net.SplitHostPort(target)
	socks := socks5Server(t, "", "")
	connect := connectServer(t, "", "")
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing", map[string]string{}, "direct"},
		{"all_proxy", map[string]string{"all_proxy": "socks5://" + socks}, "socks5://" + socks},
		{"https_proxy without scheme", map[string]string{"HTTPS_PROXY": connect}, "http://" + connect},
		{"ALL_PROXY wins", map[string]string{"ALL_PROXY": "socks5://" + socks, "HTTPS_PROXY": "http://" + connect}, "socks5://" + socks},
	} {
		d, err := transport.DialerFromEnvironment(env(c.env))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if d.String() != c.want {
			t.Fatalf("%s: %s, want %s", c.name, d, c.want)
		}
		conn, err := d.DialContext(context.Background(), "tcp", target)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		expectGreetingEcho(t, conn)
		conn.Close()
	}

	// NO_PROXY: with a proxy that cannot be reached, only bypassed targets connect.
	dead := closedPort(t)
	for _, c := range []struct {
		noProxy, addr string
		direct        bool
	}{
		{"127.0.0.1", target, true},
		{"127.0.0.0/8", target, true},
		{"localhost", "localhost:" + port, true},
		{".localhost", "localhost:" + port, true},
		{"127.0.0.1:" + port, target, true},
		{"127.0.0.1:1", target, false},
		{"example.com", target, false},
		{"*", target, true},
	} {
		d, err := transport.DialerFromEnvironment(env(map[string]string{"ALL_PROXY": "socks5://" + dead, "NO_PROXY": "other.example, " + c.noProxy}))
		if err != nil {
			t.Fatal(err)
		}
		conn, err := d.DialContext(context.Background(), "tcp", c.addr)
		if c.direct {
			if err != nil {
				t.Fatalf("NO_PROXY %q, %s: %v", c.noProxy, c.addr, err)
			}
			expectGreetingEcho(t, conn)
			conn.Close()
		} else if err == nil || !strings.Contains(err.Error(), "cannot reach the proxy") {
			t.Fatalf("NO_PROXY %q, %s: want the proxy path, got %v", c.noProxy, c.addr, err)
		}
	}
	if _, err := transport.DialerFromEnvironment(env(map[string]string{"ALL_PROXY": "gopher://x"})); err == nil {
		t.Fatal("unsupported scheme from the environment accepted")
	}
}
