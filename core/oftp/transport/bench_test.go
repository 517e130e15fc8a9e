package transport_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/oftp2/connector/core/oftp/transport"
)

// BenchmarkTLSStream measures bulk transfer through our TLS configuration
// over 127.0.0.1, the path every OFTP data buffer takes.
func BenchmarkTLSStream(b *testing.B) {
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS12", tls.VersionTLS12}, {"TLS13", tls.VersionTLS13}} {
		b.Run(v.name, func(b *testing.B) {
			p := newPKI(b)
			scfg, err := (&transport.ServerTLS{Certificate: p.server.KeyPair(), Clock: p.clock}).Config()
			if err != nil {
				b.Fatal(err)
			}
			ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				io.Copy(io.Discard, c)
			}()
			ccfg, err := (&transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust}).Config()
			if err != nil {
				b.Fatal(err)
			}
			ccfg.MaxVersion = v.ver
			c, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTLSHandshake measures a full mutual TLS handshake with our
// certificate checks (chain, usage, revocation lookup) on both sides.
func BenchmarkTLSHandshake(b *testing.B) {
	p := newPKI(b)
	scfg, err := (&transport.ServerTLS{Certificate: p.server.KeyPair(), ClientAuth: transport.RequireClientCert, ClientTrust: p.trust, Clock: p.clock}).Config()
	if err != nil {
		b.Fatal(err)
	}
	scfg.SessionTicketsDisabled = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, scfg)
				tc.Handshake()
				io.Copy(io.Discard, tc)
				tc.Close()
			}()
		}
	}()
	ccfg, err := (&transport.ClientTLS{ServerName: "oftp.example.com", Trust: p.trust, Certificate: p.client.KeyPair()}).Config()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		tc := tls.Client(raw, ccfg)
		if err := tc.HandshakeContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		tc.Close()
	}
}

// BenchmarkSOCKS5Dial measures connection set-up through a SOCKS5 proxy with
// username/password authentication.
func BenchmarkSOCKS5Dial(b *testing.B) {
	target := greetingServer(b)
	proxy := socks5Server(b, "u", "p")
	d, err := transport.NewDialer("socks5://u:p@" + proxy)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := d.DialContext(context.Background(), "tcp", target)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
