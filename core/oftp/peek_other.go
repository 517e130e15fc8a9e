//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package oftp

import "net"

// socketPeeker cannot look into sockets here; the session then only sees octets the
// reader has already taken from the connection.
func socketPeeker(net.Conn) func() bool { return nil }
