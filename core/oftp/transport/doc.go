// Package transport builds what an OFTP session needs to reach a partner:
// TLS configurations for the initiator (TLS client) and the responder (TLS
// server) following RFC 5024 §2.3, and a Dialer that connects directly or
// through a SOCKS5 or HTTP CONNECT proxy.
//
// Certificate checks are done by this package, not by crypto/tls, so that a
// user gets "tls: partner certificate for oftp.example.com expired on
// 2026-01-02" rather than raw x509 text, so that a specific partner
// certificate can be pinned, and so that validation shares the trust store,
// CRLs and key usage rules of package certs.
package transport

// Ports registered for ODETTE FTP (RFC 5024 §2.4).
const (
	// PlainPort is odette-ftp, OFTP over plain TCP.
	PlainPort = 3305
	// TLSPort is odette-ftps, OFTP over TLS (2.0 only).
	TLSPort = 6619
)
