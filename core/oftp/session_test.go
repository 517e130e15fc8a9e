package oftp_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func TestSendFileTCP(t *testing.T) {
	p := newPair(t)
	p.start(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := p.dial(ctx)
	src := randomFile(t, 1<<20, 1)
	if _, err := c.SendFile(ctx, outgoing("PAYLOAD", src, oftp.FormatUnstructured, 0)); err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	if err := c.Logoff(ctx); err != nil {
		t.Fatalf("Logoff: %v", err)
	}
	if err := p.serverEnd(); err != nil {
		t.Fatalf("server session: %v", err)
	}
	sameFile(t, src, filepath.Join(p.inbox, "PAYLOAD"))
	ers := p.endResponses()
	if len(ers) != 1 || ers[0].Negative() || ers[0].DatasetName != "PAYLOAD" || ers[0].Destination != "O0013CLIENT" {
		t.Fatalf("end responses: %+v", ers)
	}
}
