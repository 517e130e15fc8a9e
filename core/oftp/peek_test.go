package oftp

import (
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"testing"
)

// The socket look sees octets and the partner's close without taking them, and costs
// no allocation.
func TestSocketPeeker(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "freebsd" &&
		runtime.GOOS != "netbsd" && runtime.GOOS != "openbsd" && runtime.GOOS != "dragonfly" {
		if socketPeeker(nil) != nil {
			t.Fatal("peeker on a system without one")
		}
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		acc <- c
	}()
	ours, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs := <-acc
	if theirs == nil {
		t.Fatal("accept failed")
	}
	defer theirs.Close()

	peek := socketPeeker(ours)
	if peek == nil {
		t.Fatal("no peeker for a TCP connection")
	}
	if peek() {
		t.Fatal("octets reported on a silent connection")
	}
	if n := testing.AllocsPerRun(100, func() { peek() }); n != 0 {
		t.Errorf("%v allocations per look", n)
	}
	if _, err := theirs.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, peek)
	// Looking does not take the octet.
	b := make([]byte, 1)
	if _, err := io.ReadFull(ours, b); err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v", b, err)
	}
	if peek() {
		t.Fatal("octets reported after they were read")
	}
	theirs.Close()
	waitFor(t, peek) // the close is there to be read
	ours.Close()
	if !peek() {
		t.Error("a closed connection is not reported")
	}
	if socketPeeker(tls.Client(ours, &tls.Config{})) != nil {
		t.Error("peeker for a TLS connection")
	}
}

// waitFor keeps looking until peek sees what the partner did. Loopback normally
// delivers within the partner's write; the bounded loop only spares the test a sleep
// on systems where it does not.
func waitFor(t *testing.T, peek func() bool) {
	t.Helper()
	for range 1_000_000 {
		if peek() {
			return
		}
		runtime.Gosched()
	}
	t.Fatal("octets sent by the partner never seen")
}
