package filesec_test

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
	"github.com/oftp2/connector/core/oftp/filesec"
)

// The large transfer runs in a child process (this test binary started again with
// largeEnv set) so that its peak RSS (VmHWM) is the session's alone: one process holds
// the initiator sending a signed, compressed and AES-256 encrypted file (suite 04)
// over TLS on 127.0.0.1 and the responder decrypting, decompressing and verifying it.
const largeEnv = "FILESEC_LARGE_TRANSFER_SIZE"

func TestMain(m *testing.M) {
	if v := os.Getenv(largeEnv); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if prof := os.Getenv("FILESEC_CPUPROFILE"); prof != "" && err == nil {
			var f *os.File
			if f, err = os.Create(prof); err == nil {
				defer f.Close()
				err = pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
		}
		if err == nil {
			err = largeChild(n)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "large transfer:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// pattern is the plaintext generator: half random, half text-like octets, varied per
// 64 KiB so that nothing repeats within zlib's window.
type pattern struct {
	base []byte
	left int64
	off  int64
}

func newPattern(n int64) *pattern {
	r := mrand.New(mrand.NewPCG(5024, 6))
	base := make([]byte, 1<<20)
	for i := range base {
		if i%4096 < 2048 {
			base[i] = byte(r.Uint32())
		} else {
			base[i] = "ODETTE FILE TRANSFER PROTOCOL 2 "[i%32]
		}
	}
	return &pattern{base: base, left: n}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && p.left > 0 {
		i := int(p.off % int64(len(p.base)))
		k := copy(b[n:], p.base[i:])
		k = int(min(int64(k), p.left))
		// Stamp the position into every 64 KiB block.
		if p.off%(64<<10) == 0 && k >= 8 {
			for j := 0; j < 8; j++ {
				b[n+j] = byte(p.off >> (8 * j))
			}
		}
		n += k
		p.off += int64(k)
		p.left -= int64(k)
	}
	return n, nil
}

func selfSigned(cn string) (*certs.KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageContentCommitment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:              []string{"localhost"},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, key.Public(), key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return certs.NewKeyPair([]*x509.Certificate{c}, key)
}

// hashSinkReceiver stores nothing: it hashes what arrives, so that the transfer is
// not bounded by disk speed.
type hashSinkReceiver struct{ sum chan []byte }

type hashingSink struct {
	h   hash.Hash
	sum chan []byte
}

func (r hashSinkReceiver) Accept(context.Context, *oftp.IncomingFile) (oftp.Decision, error) {
	return oftp.Decision{Sink: &hashingSink{h: sha256.New(), sum: r.sum}}, nil
}
func (s *hashingSink) Write(p []byte) (int, error)  { return s.h.Write(p) }
func (s *hashingSink) Commit(context.Context) error { s.sum <- s.h.Sum(nil); return nil }
func (s *hashingSink) Abort(context.Context) error  { return nil }

type largeResult struct {
	Octets   int64   `json:"octets"`
	Seconds  float64 `json:"seconds"`
	VmHWMKiB int64   `json:"vmhwm_kib"`
}

func largeChild(n int64) error {
	cliKP, err := selfSigned(clientCode)
	if err != nil {
		return err
	}
	srvKP, err := selfSigned(serverCode)
	if err != nil {
		return err
	}
	cli, err := filesec.New(filesec.Config{Identity: filesec.SingleIdentity(cliKP), CompressionLevel: benchLevel(),
		Partners: []*filesec.Partner{{SSIDCode: serverCode, Certificates: []*x509.Certificate{srvKP.Leaf}}}})
	if err != nil {
		return err
	}
	srv, err := filesec.New(filesec.Config{Identity: filesec.SingleIdentity(srvKP),
		Partners: []*filesec.Partner{{SSIDCode: clientCode, Certificates: []*x509.Certificate{cliKP.Leaf}}}})
	if err != nil {
		return err
	}
	sums := make(chan []byte, 1)
	so := oftp.DefaultOptions()
	so.SSIDCode, so.PartnerSSIDCode = serverCode, clientCode
	so.TLSConfig = &tls.Config{Certificates: []tls.Certificate{srvKP.TLSCertificate()}}
	so.Receiver = hashSinkReceiver{sum: sums}
	so.SecureAuthentication = true
	srv.Install(&so)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := &oftp.Server{Options: so}
	go server.Serve(l)
	defer server.Close()

	co := oftp.DefaultOptions()
	co.SSIDCode, co.PartnerSSIDCode = clientCode, serverCode
	roots := x509.NewCertPool()
	roots.AddCert(srvKP.Leaf)
	co.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "localhost"}
	co.SecureAuthentication = true
	cli.Install(&co)
	ctx := context.Background()
	start := time.Now()
	c, err := oftp.Dial(ctx, l.Addr().String(), co)
	if err != nil {
		return err
	}
	want := sha256.New()
	f := &oftp.OutgoingFile{DatasetName: "LARGE", Format: oftp.FormatUnstructured, Size: n,
		SecurityLevel: 3, CipherSuite: 4, Compressed: true, SignedReceipt: true,
		Source: oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) {
			return io.NopCloser(io.TeeReader(newPattern(n), want)), nil
		})}
	if _, err := c.SendFile(ctx, f); err != nil {
		return err
	}
	elapsed := time.Since(start)
	if err := c.Logoff(ctx); err != nil {
		return err
	}
	got := <-sums
	if !bytes.Equal(got, want.Sum(nil)) {
		return errors.New("received file differs from the one sent")
	}
	hwm, err := vmHWM()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(largeResult{Octets: n, Seconds: elapsed.Seconds(), VmHWMKiB: hwm})
}

func vmHWM() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

func runLarge(tb testing.TB, n int64) largeResult {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", largeEnv, n))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		tb.Fatalf("child: %v\n%s", err, errOut.String())
	}
	var r largeResult
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		tb.Fatalf("child output %q: %v", out.String(), err)
	}
	return r
}

// primitive measures one crypto or compression step alone, in MB/s over n octets of
// the same plaintext the session sends.
type primitive struct {
	name string
	mbps float64
}

func measurePrimitives(tb testing.TB, n int64) []primitive {
	tb.Helper()
	buf := make([]byte, 256<<10)
	run := func(name string, w io.Writer) primitive {
		p := newPattern(n)
		start := time.Now()
		if _, err := io.CopyBuffer(w, p, buf); err != nil {
			tb.Fatal(err)
		}
		if c, ok := w.(io.Closer); ok {
			c.Close()
		}
		return primitive{name, float64(n) / 1e6 / time.Since(start).Seconds()}
	}
	key := make([]byte, 32)
	iv := make([]byte, 16)
	blk, _ := aes.NewCipher(key)
	var out []primitive
	out = append(out, run("sha256", sha256.New()))
	// Compression at the level the session compresses with.
	zw, _ := zlib.NewWriterLevel(io.Discard, effectiveLevel())
	out = append(out, run(fmt.Sprintf("zlib-compress-%d", effectiveLevel()), zw))
	out = append(out, run("aes256-cbc-encrypt", &blockWriter{bm: cipher.NewCBCEncrypter(blk, iv)}))
	out = append(out, run("aes256-cbc-decrypt", &blockWriter{bm: cipher.NewCBCDecrypter(blk, iv)}))
	// Decompression of what the compressor produces.
	var z bytes.Buffer
	zw2, _ := zlib.NewWriterLevel(&z, effectiveLevel())
	io.CopyBuffer(zw2, newPattern(min(n, 64<<20)), buf)
	zw2.Close()
	start := time.Now()
	var got int64
	for got < n {
		zr, err := zlib.NewReader(bytes.NewReader(z.Bytes()))
		if err != nil {
			tb.Fatal(err)
		}
		k, _ := io.CopyBuffer(io.Discard, zr, buf)
		got += k
	}
	out = append(out, primitive{"zlib-decompress", float64(got) / 1e6 / time.Since(start).Seconds()})
	return out
}

// benchLevel is the compression level FILESEC_BENCH_LEVEL asks for, zero (the
// default) when unset.
func benchLevel() int {
	n, _ := strconv.Atoi(os.Getenv("FILESEC_BENCH_LEVEL"))
	return n
}

func effectiveLevel() int {
	if l := benchLevel(); l != 0 {
		return l
	}
	return cms.DefaultCompressionLevel
}

type blockWriter struct {
	bm  cipher.BlockMode
	out []byte
}

func (w *blockWriter) Write(p []byte) (int, error) {
	n := len(p) - len(p)%16
	if cap(w.out) < n {
		w.out = make([]byte, n)
	}
	w.bm.CryptBlocks(w.out[:n], p[:n])
	return len(p), nil
}

func reportLarge(tb testing.TB, n int64) (largeResult, float64, primitive) {
	prims := measurePrimitives(tb, min(n, 256<<20))
	r := runLarge(tb, n)
	slowest := prims[0]
	for _, p := range prims {
		if p.mbps < slowest.mbps {
			slowest = p
		}
		tb.Logf("primitive %-20s %8.1f MB/s", p.name, p.mbps)
	}
	mbps := float64(r.Octets) / 1e6 / r.Seconds
	ratio := mbps / slowest.mbps
	tb.Logf("session: %d octets in %.2fs = %.1f MB/s, %.0f%% of the slowest primitive (%s); peak RSS %.1f MiB",
		r.Octets, r.Seconds, mbps, 100*ratio, slowest.name, float64(r.VmHWMKiB)/1024)
	return r, ratio, slowest
}

// TestLargeTransferMemory sends 48 MiB (6 MiB under the race detector) signed, compressed and encrypted through a
// real session and checks the peak RSS of the process that runs both sides.
func TestLargeTransferMemory(t *testing.T) {
	n := int64(48 << 20)
	if raceEnabled {
		n = 6 << 20 // the race detector slows zlib about tenfold
	}
	r, _, _ := reportLarge(t, n)
	limit := int64(64 << 10) // KiB
	if raceEnabled {
		// The race detector's shadow memory multiplies the footprint.
		limit = 512 << 10
	}
	if r.VmHWMKiB > limit {
		t.Fatalf("peak RSS %d KiB exceeds %d KiB", r.VmHWMKiB, limit)
	}
}

// BenchmarkLargeTransfer moves 2 GiB (FILESEC_BENCH_SIZE overrides) through a real
// session: go test -run '^$' -bench LargeTransfer -benchtime 1x ./core/oftp/filesec/
// FILESEC_BENCH_LEVEL sets the compression level of the session and of the zlib
// primitive it is compared with.
func BenchmarkLargeTransfer(b *testing.B) {
	n := int64(2 << 30)
	if v := os.Getenv("FILESEC_BENCH_SIZE"); v != "" {
		if x, err := strconv.ParseInt(v, 10, 64); err == nil {
			n = x
		}
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, ratio, _ := reportLarge(b, n)
		b.ReportMetric(float64(r.VmHWMKiB)/1024, "peakRSS-MiB")
		b.ReportMetric(100*ratio, "%-of-slowest-primitive")
	}
}
