// Package examples holds the example configuration of the README, embedded so that
// `connector demo` can run it from any directory, and the test that runs it.
package examples

import "embed"

// Files are connector.hcl and the example-only TLS certificates it names.
//
//go:embed connector.hcl tls/EXAMPLE-ca.pem tls/EXAMPLE-server.pem tls/EXAMPLE-server.key
var Files embed.FS
