package transport_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"

	"github.com/oftp2/connector/core/oftp/transport"
)

// An initiator that trusts its partner's CA, presents a client certificate
// from a PKCS#12 file and leaves through the company's SOCKS5 proxy.
func Example_initiator() {
	cfg, err := (&transport.ClientTLS{
		ServerName:     "oftp.partner.example",
		RootFiles:      []string{"partner-ca.pem"},
		PKCS12File:     "our-identity.p12",
		PKCS12Password: "from a secret store",
	}).Config()
	if err != nil {
		log.Fatal(err)
	}
	dialer, err := transport.NewDialer("socks5://user:password@proxy.internal:1080")
	if err != nil {
		log.Fatal(err)
	}
	raw, err := dialer.DialContext(context.Background(), "tcp", "oftp.partner.example:6619")
	if err != nil {
		log.Fatal(err) // e.g. "proxy socks5://user:xxxxx@proxy.internal:1080: connect to ...: the proxy rejected user "user""
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	// conn now carries the OFTP session; errors.Is(err, certs.ReasonExpired)
	// and friends tell why a partner certificate was refused.
}

func ExampleParsePin() {
	pin, err := transport.ParsePin("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(pin)
	// Output: sha256:9F:86:D0:81:88:4C:7D:65:9A:2F:EA:A0:C5:5A:D0:15:A3:BF:4F:1B:2B:0B:82:2C:D1:5D:6C:15:B0:F0:0A:08
}

func ExampleDialer_String() {
	d, err := transport.NewDialer("http://alice:s3cret@proxy.internal")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d)
	// Output: http://alice:xxxxx@proxy.internal:3128
}
