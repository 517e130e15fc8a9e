package transport

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ContextDialer is what the OFTP client dials with; *net.Dialer and *Dialer
// implement it.
type ContextDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Proxy errors, reachable with errors.Is through a *ProxyError.
var (
	// ErrProxyAuth means the proxy refused our credentials or wants some we do not have.
	ErrProxyAuth = errors.New("proxy authentication failed")
	// ErrProxyRefused means the proxy would not connect to the partner.
	ErrProxyRefused = errors.New("proxy refused the connection")
	// ErrProxyProtocol means the proxy's answer made no sense.
	ErrProxyProtocol = errors.New("proxy protocol error")
)

// ProxyError reports a failure to connect through a proxy. Proxy is the
// proxy URL with the password masked.
type ProxyError struct {
	Proxy  string
	Target string
	// Code is the SOCKS5 reply code or the HTTP status, when the proxy sent one.
	Code int
	Msg  string
	Err  error
}

func (e *ProxyError) Error() string {
	s := "proxy " + e.Proxy + ": connect to " + e.Target + ": " + e.Msg
	if e.Err != nil && !strings.Contains(e.Msg, e.Err.Error()) {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause (one of the ErrProxy* values or a network error).
func (e *ProxyError) Unwrap() error { return e.Err }

// Dialer opens TCP connections to partners, directly or through a proxy.
// Configure it from a URL with NewDialer; the zero value dials directly.
type Dialer struct {
	// Timeout bounds the whole connection set-up, proxy handshake included
	// (zero: no limit besides the context).
	Timeout time.Duration
	// Forward reaches the proxy (or the partner, when direct); nil means a
	// net.Dialer with a 30 s keep-alive.
	Forward ContextDialer
	// Resolver resolves partner names locally for socks5:// (socks5h:// lets
	// the proxy resolve); nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Logger receives debug lines with the masked proxy URL; nil discards.
	Logger *slog.Logger
	// NoProxy lists partners reached directly even when a proxy is set:
	// "*", host names, domains (".example.com" or "example.com" cover
	// subdomains), IP addresses, CIDR blocks, each optionally with ":port".
	NoProxy []string

	proxy *url.URL
}

// Proxy schemes NewDialer accepts.
const (
	SchemeDirect  = "direct"
	SchemeSOCKS5  = "socks5"  // partner name resolved locally
	SchemeSOCKS5H = "socks5h" // partner name resolved by the proxy
	SchemeHTTP    = "http"    // HTTP CONNECT
	SchemeSOCKS4  = "socks4"  // SOCKS4, IPv4 only, partner name resolved locally
	SchemeSOCKS4A = "socks4a" // SOCKS4a, the proxy resolves names
)

// NewDialer returns a Dialer for a proxy URL:
//
//	""  or direct://                 no proxy
//	socks5://[user:password@]host:port   SOCKS5 (RFC 1928, RFC 1929 auth)
//	socks5h://...                    SOCKS5, the proxy resolves names
//	http://[user:password@]host:port     HTTP CONNECT, optional basic auth
//	socks4://[user@]host:port        SOCKS4 (user ID only, no password)
//	socks4a://[user@]host:port       SOCKS4a, the proxy resolves names
//
// Default ports are 1080 for SOCKS and 3128 for HTTP.
func NewDialer(proxyURL string) (*Dialer, error) {
	if proxyURL == "" {
		return &Dialer{}, nil
	}
	u, err := url.Parse(proxyURL)
	if err != nil {
		// url's error repeats the input, password included.
		return nil, fmt.Errorf("transport: proxy URL %q is not a valid URL", maskRaw(proxyURL))
	}
	switch u.Scheme {
	case SchemeDirect:
		return &Dialer{}, nil
	case SchemeSOCKS5, SchemeSOCKS5H, SchemeSOCKS4, SchemeSOCKS4A:
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "1080")
		}
	case SchemeHTTP:
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "3128")
		}
	default:
		return nil, fmt.Errorf("transport: proxy URL %s: scheme %q is not one of direct, socks5, socks5h, socks4, socks4a, http", maskURL(u), u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("transport: proxy URL %s has no host", maskURL(u))
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("transport: proxy URL %s must not have a path or query", maskURL(u))
	}
	if u.User != nil && (u.Scheme == SchemeSOCKS4 || u.Scheme == SchemeSOCKS4A) {
		if _, has := u.User.Password(); has {
			return nil, fmt.Errorf("transport: proxy URL %s: SOCKS4 has no passwords, only a user ID", maskURL(u))
		}
	}
	if u.User != nil {
		if u.Scheme != SchemeHTTP {
			p, _ := u.User.Password()
			if len(u.User.Username()) > 255 || len(p) > 255 {
				return nil, fmt.Errorf("transport: proxy URL %s: SOCKS5 user name and password are limited to 255 bytes", maskURL(u))
			}
		}
	}
	return &Dialer{proxy: u}, nil
}

// String describes the dialer with the proxy password masked.
func (d *Dialer) String() string {
	if d.proxy == nil {
		return "direct"
	}
	return maskURL(d.proxy)
}

func maskURL(u *url.URL) string {
	if u == nil {
		return "direct"
	}
	c := *u
	if c.User != nil {
		if _, has := c.User.Password(); has {
			c.User = url.UserPassword(c.User.Username(), "xxxxx")
		}
	}
	return c.Redacted()
}

// maskRaw hides what looks like credentials in a URL that does not parse.
func maskRaw(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "(unparsable)"
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = "xxxxx@" + rest[i+1:]
	}
	return scheme + "://" + rest
}

func (d *Dialer) forward() ContextDialer {
	if d.Forward != nil {
		return d.Forward
	}
	return &net.Dialer{KeepAlive: 30 * time.Second}
}

func (d *Dialer) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// DialContext connects to addr ("host:port") over network "tcp", "tcp4" or "tcp6".
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if d.proxy == nil {
		return d.forward().DialContext(ctx, network, addr)
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("transport: proxies carry TCP only, not %q", network)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("transport: address %q: %w", addr, err)
	}
	if d.bypass(host, portStr) {
		return d.forward().DialContext(ctx, network, addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("transport: address %q: bad port", addr)
	}
	pe := func(code int, msg string, err error) *ProxyError {
		return &ProxyError{Proxy: maskURL(d.proxy), Target: addr, Code: code, Msg: msg, Err: err}
	}
	d.logger().Debug("connecting through proxy", "proxy", maskURL(d.proxy), "target", addr)
	conn, err := d.forward().DialContext(ctx, "tcp", d.proxy.Host)
	if err != nil {
		return nil, pe(0, "cannot reach the proxy", err)
	}
	// The handshake reads and writes the raw connection: the context's end
	// (deadline or cancel) interrupts it. No separate conn deadline, so that
	// an interruption is always reported as the context's error.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	var out net.Conn
	switch d.proxy.Scheme {
	case SchemeSOCKS5, SchemeSOCKS5H:
		if d.proxy.Scheme == SchemeSOCKS5 && net.ParseIP(host) == nil {
			host, err = d.resolve(ctx, network, host)
			if err != nil {
				conn.Close()
				stop()
				return nil, pe(0, "cannot resolve the partner's name", err)
			}
		}
		err = socks5Connect(conn, d.proxy.User, host, uint16(port), pe)
		out = conn
	case SchemeSOCKS4, SchemeSOCKS4A:
		if net.ParseIP(host) == nil && d.proxy.Scheme == SchemeSOCKS4 {
			host, err = d.resolve(ctx, "tcp4", host)
			if err != nil {
				conn.Close()
				stop()
				return nil, pe(0, "cannot resolve the partner's name", err)
			}
		}
		err = socks4Connect(conn, d.proxy.User, host, uint16(port), pe)
		out = conn
	default:
		out, err = httpConnect(conn, d.proxy.User, net.JoinHostPort(host, portStr), pe)
	}
	stop()
	if ctx.Err() != nil {
		// The deadline or cancellation broke the handshake; say so rather
		// than report the resulting i/o error.
		conn.Close()
		return nil, pe(0, "connection set-up interrupted", ctx.Err())
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return out, nil
}

func (d *Dialer) resolve(ctx context.Context, network, host string) (string, error) {
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	nw := "ip"
	switch network {
	case "tcp4":
		nw = "ip4"
	case "tcp6":
		nw = "ip6"
	}
	ips, err := r.LookupIP(ctx, nw, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("no address for %s", host)
	}
	return ips[0].String(), nil
}

// SOCKS5 (RFC 1928) and username/password authentication (RFC 1929).
const (
	socksVersion      = 5
	socksNoAuth       = 0x00
	socksUserPass     = 0x02
	socksNoAcceptable = 0xff
	socksCmdConnect   = 1
	socksAtypIPv4     = 1
	socksAtypDomain   = 3
	socksAtypIPv6     = 4
)

var socksReplies = map[byte]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused by the partner",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

func socks5Connect(conn net.Conn, user *url.Userinfo, host string, port uint16, pe func(int, string, error) *ProxyError) error {
	methods := []byte{socksNoAuth}
	if user != nil {
		methods = []byte{socksUserPass, socksNoAuth}
	}
	if _, err := conn.Write(append([]byte{socksVersion, byte(len(methods))}, methods...)); err != nil {
		return pe(0, "cannot talk to the proxy", err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(conn, sel[:]); err != nil {
		return pe(0, "no answer to the SOCKS5 greeting", err)
	}
	if sel[0] != socksVersion {
		return pe(0, fmt.Sprintf("not a SOCKS5 proxy (version %d)", sel[0]), ErrProxyProtocol)
	}
	switch sel[1] {
	case socksNoAuth:
	case socksUserPass:
		if user == nil {
			return pe(0, "the proxy asks for a user name and password, none configured", ErrProxyAuth)
		}
		pw, _ := user.Password()
		name := user.Username()
		req := make([]byte, 0, 3+len(name)+len(pw))
		req = append(req, 1, byte(len(name)))
		req = append(req, name...)
		req = append(req, byte(len(pw)))
		req = append(req, pw...)
		if _, err := conn.Write(req); err != nil {
			return pe(0, "cannot send credentials", err)
		}
		var st [2]byte
		if _, err := io.ReadFull(conn, st[:]); err != nil {
			return pe(0, "no answer to the credentials", err)
		}
		if st[1] != 0 {
			return pe(int(st[1]), "the proxy rejected user "+strconv.Quote(name), ErrProxyAuth)
		}
	case socksNoAcceptable:
		if user == nil {
			return pe(0, "the proxy requires authentication, none configured", ErrProxyAuth)
		}
		return pe(0, "the proxy accepts none of our authentication methods", ErrProxyAuth)
	default:
		return pe(0, fmt.Sprintf("the proxy chose an authentication method we did not offer (%d)", sel[1]), ErrProxyProtocol)
	}

	req := []byte{socksVersion, socksCmdConnect, 0}
	if ip := net.ParseIP(host); ip != nil {
		if ip4 := ip.To4(); ip4 != nil {
			req = append(req, socksAtypIPv4)
			req = append(req, ip4...)
		} else {
			req = append(req, socksAtypIPv6)
			req = append(req, ip.To16()...)
		}
	} else {
		if len(host) > 255 {
			return pe(0, "host name longer than 255 bytes", ErrProxyProtocol)
		}
		req = append(req, socksAtypDomain, byte(len(host)))
		req = append(req, host...)
	}
	req = append(req, byte(port>>8), byte(port))
	if _, err := conn.Write(req); err != nil {
		return pe(0, "cannot send the SOCKS5 request", err)
	}
	rep, _, err := readSOCKS5Reply(conn)
	if err != nil {
		return pe(0, "bad SOCKS5 reply", err)
	}
	if rep != 0 {
		msg, ok := socksReplies[rep]
		if !ok {
			msg = fmt.Sprintf("SOCKS5 reply code %d", rep)
		}
		return pe(int(rep), msg, ErrProxyRefused)
	}
	return nil
}

// readSOCKS5Reply reads exactly one SOCKS5 reply: VER REP RSV ATYP BND.ADDR
// BND.PORT, and returns the reply code and bound address. It never reads
// past the reply, so the partner's first bytes stay on the connection.
func readSOCKS5Reply(r io.Reader) (rep byte, bound string, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, "", err
	}
	if h[0] != socksVersion {
		return 0, "", fmt.Errorf("%w: reply version %d", ErrProxyProtocol, h[0])
	}
	var addrLen int
	switch h[3] {
	case socksAtypIPv4:
		addrLen = 4
	case socksAtypIPv6:
		addrLen = 16
	case socksAtypDomain:
		var l [1]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return 0, "", err
		}
		addrLen = int(l[0])
	default:
		return 0, "", fmt.Errorf("%w: reply address type %d", ErrProxyProtocol, h[3])
	}
	buf := make([]byte, addrLen+2) // at most 257 bytes
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, "", err
	}
	port := int(buf[addrLen])<<8 | int(buf[addrLen+1])
	var host string
	if h[3] == socksAtypDomain {
		host = string(buf[:addrLen])
	} else {
		host = net.IP(buf[:addrLen]).String()
	}
	return h[1], net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// SOCKS4 (and the 4a extension for names): the reply is always 8 octets.
var socks4Replies = map[byte]string{
	91: "request rejected or failed",
	92: "request rejected: the proxy cannot reach our identd",
	93: "request rejected: identd reports a different user ID",
}

func socks4Connect(conn net.Conn, user *url.Userinfo, host string, port uint16, pe func(int, string, error) *ProxyError) error {
	req := []byte{4, 1, byte(port >> 8), byte(port)}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.To4() != nil:
		req = append(req, ip.To4()...)
	case ip != nil:
		return pe(0, "SOCKS4 cannot reach IPv6 addresses", ErrProxyProtocol)
	default:
		if len(host) > 255 {
			return pe(0, "host name longer than 255 bytes", ErrProxyProtocol)
		}
		req = append(req, 0, 0, 0, 1) // 4a: an invalid address says "name follows"
	}
	if user != nil {
		req = append(req, user.Username()...)
	}
	req = append(req, 0)
	if ip == nil {
		req = append(req, host...)
		req = append(req, 0)
	}
	if _, err := conn.Write(req); err != nil {
		return pe(0, "cannot send the SOCKS4 request", err)
	}
	var rep [8]byte
	if _, err := io.ReadFull(conn, rep[:]); err != nil {
		return pe(0, "bad SOCKS4 reply", err)
	}
	if rep[0] != 0 {
		return pe(0, fmt.Sprintf("not a SOCKS4 proxy (reply version %d)", rep[0]), ErrProxyProtocol)
	}
	if rep[1] != 90 {
		msg, ok := socks4Replies[rep[1]]
		if !ok {
			msg = fmt.Sprintf("SOCKS4 reply code %d", rep[1])
		}
		if rep[1] == 93 {
			return pe(int(rep[1]), msg, ErrProxyAuth)
		}
		return pe(int(rep[1]), msg, ErrProxyRefused)
	}
	return nil
}

// maxConnectResponse bounds the proxy's CONNECT response header.
const maxConnectResponse = 16 << 10

// httpConnect asks an HTTP proxy for a tunnel to target. Bytes the partner
// sent right behind the proxy's answer (an OFTP responder speaks first, with
// SSRM) are kept and returned by the first reads of the returned conn.
func httpConnect(conn net.Conn, user *url.Userinfo, target string, pe func(int, string, error) *ProxyError) (net.Conn, error) {
	var b strings.Builder
	b.WriteString("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n")
	if user != nil {
		pw, _ := user.Password()
		b.WriteString("Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user.Username()+":"+pw)) + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, pe(0, "cannot talk to the proxy", err)
	}
	status, rest, err := readConnectResponse(conn)
	if err != nil {
		return nil, pe(0, "bad answer to CONNECT", err)
	}
	switch {
	case status >= 200 && status < 300:
	case status == http.StatusProxyAuthRequired && user == nil:
		return nil, pe(status, "the proxy requires authentication, none configured", ErrProxyAuth)
	case status == http.StatusProxyAuthRequired:
		return nil, pe(status, "the proxy rejected user "+strconv.Quote(user.Username()), ErrProxyAuth)
	default:
		return nil, pe(status, fmt.Sprintf("the proxy answered %d %s", status, http.StatusText(status)), ErrProxyRefused)
	}
	if len(rest) > 0 {
		return &prefixConn{Conn: conn, prefix: rest}, nil
	}
	return conn, nil
}

// readConnectResponse reads the proxy's response head (at most
// maxConnectResponse bytes) and returns the status code and any bytes read
// past the head.
func readConnectResponse(r io.Reader) (status int, rest []byte, err error) {
	lr := &io.LimitedReader{R: r, N: maxConnectResponse}
	br := bufio.NewReaderSize(lr, 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if lr.N == 0 {
			return 0, nil, fmt.Errorf("%w: response header longer than %d bytes", ErrProxyProtocol, maxConnectResponse)
		}
		return 0, nil, err
	}
	// A refusal may carry a body; it is not read (the connection is closed).
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if n := br.Buffered(); n > 0 {
			rest, _ = br.Peek(n)
			rest = append([]byte(nil), rest...)
		}
	}
	return resp.StatusCode, rest, nil
}

// prefixConn returns prefix before reading from Conn.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
