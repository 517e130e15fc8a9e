package main

import (
	"crypto/tls"
	"flag"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/transport"
)

// tlsServerFlags configure the responder's TLS (port 6619).
type tlsServerFlags struct {
	cert, key, clientCA string
	requireClientCert   bool
}

func (f *tlsServerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "tls-cert", "", "our TLS certificate (PEM, leaf first); enables TLS")
	fs.StringVar(&f.key, "tls-key", "", "the private key of --tls-cert (PEM)")
	fs.StringVar(&f.clientCA, "client-ca", "", "CA certificates (PEM) that sign partners' client certificates; enables mutual TLS")
	fs.BoolVar(&f.requireClientCert, "require-client-cert", true, "with --client-ca: refuse partners without a client certificate (false: check it only when presented)")
}

func (f *tlsServerFlags) config() (*tls.Config, error) {
	if f.cert == "" && f.key == "" {
		if f.clientCA != "" {
			return nil, usagef("--client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if f.cert == "" || f.key == "" {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	st := transport.ServerTLS{CertFile: f.cert, KeyFile: f.key}
	if f.clientCA != "" {
		st.ClientCAFiles = []string{f.clientCA}
		st.ClientAuth = transport.OptionalClientCert
		if f.requireClientCert {
			st.ClientAuth = transport.RequireClientCert
		}
	}
	return st.Config()
}

// tlsClientFlags configure the initiator's TLS and its way out through a proxy.
type tlsClientFlags struct {
	useTLS        bool
	ca, cert, key string
	pin, proxy    string
	serverName    string
}

func (f *tlsClientFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.useTLS, "tls", false, "connect with TLS (port 6619 by default)")
	fs.StringVar(&f.ca, "ca", "", "CA certificates (PEM) to trust for the partner's server certificate (default: system roots)")
	fs.StringVar(&f.cert, "tls-cert", "", "our client certificate for mutual TLS (PEM)")
	fs.StringVar(&f.key, "tls-key", "", "the private key of --tls-cert (PEM)")
	fs.StringVar(&f.pin, "pin", "", "accept exactly this server certificate: sha256:HEX of the certificate or spki-sha256:HEX of its key")
	fs.StringVar(&f.serverName, "server-name", "", "the name to check the server certificate against (default: --remote-host)")
	fs.StringVar(&f.proxy, "proxy", envOr("OFTP_PROXY", ""), "connect through a proxy: socks5://[user:pw@]host:port or http://[user:pw@]host:port")
}

func (f *tlsClientFlags) config(host string) (*tls.Config, error) {
	if !f.useTLS {
		if f.ca != "" || f.cert != "" || f.pin != "" {
			return nil, usagef("--ca, --tls-cert and --pin need --tls")
		}
		return nil, nil
	}
	name := f.serverName
	if name == "" {
		name = host
	}
	ct := transport.ClientTLS{ServerName: name, CertFile: f.cert, KeyFile: f.key, SystemRoots: f.ca == ""}
	if f.ca != "" {
		ct.RootFiles = []string{f.ca}
	}
	if f.pin != "" {
		pin, err := transport.ParsePin(f.pin)
		if err != nil {
			return nil, usageError{err}
		}
		ct.Pins = []transport.Pin{pin}
	}
	return ct.Config()
}

func (f *tlsClientFlags) dialer() (oftp.Dialer, error) {
	return transport.NewDialer(f.proxy)
}
