package oftp_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// benchSize is the size of one transferred file; b.N files go through one session, so
// -benchtime=16x moves 1 GiB.
const benchSize = 64 << 20

// patternReader yields n octets of a repeating pattern without allocating.
type patternReader struct {
	left int64
	pat  []byte
	off  int
}

func newPatternReader(n int64) *patternReader {
	pat := make([]byte, 64<<10)
	for i := range pat {
		pat[i] = byte(i*7 + i>>8)
	}
	return &patternReader{left: n, pat: pat}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		k := copy(p[n:min(len(p), n+int(r.left))], r.pat[r.off:])
		r.off = (r.off + k) % len(r.pat)
		n += k
		r.left -= int64(k)
	}
	return n, nil
}

func (r *patternReader) Close() error { return nil }

type patternSource struct{ n int64 }

func (s patternSource) Open(_ context.Context, off int64) (io.ReadCloser, error) {
	return newPatternReader(s.n - off), nil
}

func benchTLS(b *testing.B) (srv, cli *tls.Config) {
	cert, roots := testPKI(b)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
}

// BenchmarkTransferMemory shows that allocations per file do not depend on its size:
// compare B/op of the two sizes.
func BenchmarkTransferMemory(b *testing.B) {
	b.Run("8MiB", func(b *testing.B) { benchOFTP(b, false, 8<<20) })
	b.Run("256MiB", func(b *testing.B) { benchOFTP(b, false, 256<<20) })
}

// BenchmarkTransfer compares an OFTP file transfer (buffer 65535, credit 64) with a raw
// copy over the same kind of connection, so that the ratio can be read off directly.
func BenchmarkTransfer(b *testing.B) {
	for _, useTLS := range []bool{false, true} {
		name := "TCP"
		if useTLS {
			name = "TLS"
		}
		b.Run("raw-"+name, func(b *testing.B) { benchRaw(b, useTLS, benchSize) })
		b.Run("oftp-"+name, func(b *testing.B) { benchOFTP(b, useTLS, benchSize) })
	}
}

func benchRaw(b *testing.B, useTLS bool, size int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	var srvCfg, cliCfg *tls.Config
	if useTLS {
		srvCfg, cliCfg = benchTLS(b)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := l.Accept()
		if err != nil {
			return
		}
		if srvCfg != nil {
			conn = tls.Server(conn, srvCfg)
		}
		io.Copy(io.Discard, conn)
		conn.Close()
	}()
	var conn net.Conn
	conn, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	if cliCfg != nil {
		conn = tls.Client(conn, cliCfg)
	}
	buf := make([]byte, 256<<10)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := io.CopyBuffer(conn, newPatternReader(size), buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	conn.Close()
	<-done
}

func benchOFTP(b *testing.B, useTLS bool, size int64) {
	srvOpts := baseOptions(nil, "O0013SERVER", "O0013CLIENT")
	cliOpts := baseOptions(nil, "O0013CLIENT", "O0013SERVER")
	for _, o := range []*oftp.Options{&srvOpts, &cliOpts} {
		o.ExchangeBufferSize, o.CreditCount = 65535, 64
		o.Timeout = time.Minute
	}
	srvOpts.Receiver = discardReceiver()
	if useTLS {
		srvOpts.TLSConfig, cliOpts.TLSConfig = benchTLS(b)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &oftp.Server{Options: srvOpts}
	go srv.Serve(l)
	defer srv.Close()
	ctx := context.Background()
	c, err := oftp.Dial(ctx, l.Addr().String(), cliOpts)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Disconnect()
	f := &oftp.OutgoingFile{DatasetName: "BENCH", Size: size, Source: patternSource{size}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Counter = i%9999 + 1
		if _, err := c.SendFile(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
	if err := c.Logoff(ctx); err != nil {
		b.Fatal(err)
	}
}
