package transport

import (
	"bytes"
	"testing"
)

func FuzzSOCKS5Reply(f *testing.F) {
	f.Add([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0x0c, 0xe9})
	f.Add([]byte{5, 5, 0, 3, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0, 80, 'X'})
	f.Add([]byte{5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 187})
	f.Add([]byte{4, 90, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		rep, bound, err := readSOCKS5Reply(r)
		consumed := len(data) - r.Len()
		if consumed > 4+1+255+2 {
			t.Fatalf("read %d bytes for one reply", consumed)
		}
		if err == nil && (bound == "" || data[1] != rep) {
			t.Fatalf("reply %d %q", rep, bound)
		}
	})
}

func FuzzConnectResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 Connection established\r\n\r\nIODETTE FTP READY \r"))
	f.Add([]byte("HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("HTTP/1.1 502 Bad Gateway\r\n\r\n"))
	f.Add([]byte("SSH-2.0-OpenSSH\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		status, rest, err := readConnectResponse(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(rest) > maxConnectResponse || len(rest) > len(data) {
			t.Fatalf("kept %d bytes", len(rest))
		}
		if len(rest) > 0 && (status < 200 || status > 299) {
			t.Fatalf("kept bytes after status %d", status)
		}
		if len(rest) > 0 && !bytes.Contains(data, rest) {
			t.Fatal("kept bytes that were not in the input")
		}
	})
}
