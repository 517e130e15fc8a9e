package filesec_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/filesec"
)

// failingSource hands out good octets, then fails.
type failingSource struct {
	r   io.Reader
	err error
}

func (s *failingSource) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		return n, s.err
	}
	return n, err
}

func (s *failingSource) Close() error { return nil }

// cmsStages counts the goroutines of the CMS layers that run concurrently.
func cmsStages() int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	return bytes.Count(buf[:n], []byte("cms.(*stage"))
}

// TestSourceFailsMidFile: a source that fails in the middle of a secured file stops
// the sender's compressing and encrypting goroutines, the transfer fails with the
// source's error, the receiver delivers nothing and keeps no goroutine of the file.
func TestSourceFailsMidFile(t *testing.T) {
	// Early, the stages wait for input; later, the encrypting one also waits for the
	// session to take its output.
	for _, n := range []int{100, 3 << 20} {
		cli, srv := pairSecurity(t)
		h := newHarness(t, cli, srv, false)
		h.start()
		ctx := testCtx(t)
		cl, err := h.dial(ctx)
		if err != nil {
			t.Fatal(err)
		}
		errSource := errors.New("source disk failed")
		body := content(9, n)
		f := &oftp.OutgoingFile{DatasetName: "FAILING", Format: oftp.FormatUnstructured, Size: 4 << 20,
			SecurityLevel: int(filesec.LevelBoth), CipherSuite: 4, Compressed: true,
			Source: oftp.SourceFunc(func(context.Context, int64) (io.ReadCloser, error) {
				return &failingSource{r: bytes.NewReader(body), err: errSource}, nil
			})}
		if _, err := cl.SendFile(ctx, f); !errors.Is(err, errSource) {
			t.Fatalf("%d octets: SendFile: %v", n, err)
		}
		cl.Disconnect()
		h.serverEnd()
		wantNothingDelivered(t, h)
		deadline := time.Now().Add(10 * time.Second)
		for cmsStages() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if k := cmsStages(); k > 0 {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d octets: %d CMS stage goroutines left:\n%s", n, k, buf[:runtime.Stack(buf, true)])
		}
	}
}
