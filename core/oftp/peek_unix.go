//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package oftp

import (
	"net"
	"syscall"
)

// socketPeeker returns a function that tells whether octets (or the partner's close)
// wait in the socket of c, without taking them: the reader may be blocked on the same
// socket. It returns nil for connections without a socket of their own, such as TLS,
// where undecrypted octets may hold no exchange buffer at all.
func socketPeeker(c net.Conn) func() bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &socketPeek{rc: rc}
	p.fn = p.control
	return p.waiting
}

// socketPeek keeps what a look needs, so that looking allocates nothing.
type socketPeek struct {
	rc    syscall.RawConn
	fn    func(fd uintptr)
	b     [1]byte
	found bool
}

func (p *socketPeek) control(fd uintptr) {
	_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// Data, an end of stream (0 octets) or a connection error: the reader will hand it
	// over. Only "would block" means nothing is there.
	p.found = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}

func (p *socketPeek) waiting() bool {
	p.found = false
	if err := p.rc.Control(p.fn); err != nil {
		return true // a closed descriptor: the reader is about to report it
	}
	return p.found
}
