package transport

import (
	"net"
	"strings"
)

// DialerFromEnvironment picks up the proxy settings of the machine, as the
// "detect firewall settings automatically" option of OFTP products does:
// ALL_PROXY (any supported scheme), else HTTPS_PROXY (HTTP CONNECT), with
// NO_PROXY listing partners to reach directly. Lower-case names are read
// too. getenv is os.Getenv in production; tests pass their own.
func DialerFromEnvironment(getenv func(string) string) (*Dialer, error) {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return getenv(strings.ToLower(name))
	}
	proxy := get("ALL_PROXY")
	if proxy == "" {
		proxy = get("HTTPS_PROXY")
		if proxy != "" && !strings.Contains(proxy, "://") {
			proxy = "http://" + proxy
		}
	}
	d, err := NewDialer(proxy)
	if err != nil {
		return nil, err
	}
	if v := get("NO_PROXY"); v != "" {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				d.NoProxy = append(d.NoProxy, p)
			}
		}
	}
	return d, nil
}

// bypass reports whether host matches a NoProxy entry: "*", an exact host
// or IP, a domain (with or without a leading dot) covering its subdomains,
// or a CIDR block. A "host:port" entry matches only that port.
func (d *Dialer) bypass(host, port string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	ip := net.ParseIP(host)
	for _, e := range d.NoProxy {
		e = strings.ToLower(e)
		if e == "*" {
			return true
		}
		if h, p, err := net.SplitHostPort(e); err == nil {
			if p != port {
				continue
			}
			e = h
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return true
			}
			continue
		}
		if eip := net.ParseIP(e); eip != nil {
			if ip != nil && eip.Equal(ip) {
				return true
			}
			continue
		}
		dom := strings.TrimPrefix(e, ".")
		if host == dom || strings.HasSuffix(host, "."+dom) {
			return true
		}
	}
	return false
}
