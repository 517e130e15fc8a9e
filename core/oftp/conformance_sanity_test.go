//go:build conformance_sanity

package oftp_test

import (
	"testing"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// Must fail: the session is left running, so the leak check reports it.
func TestSanityLeak(t *testing.T) {
	cfNoLeaks(t)
	s := newCFServer(t, func(o *oftp.Options, _ *oftp.Partner) { o.Timeout = 20 * cfTimeout })
	p, _ := s.logon(cfProposal(wire.Level20, 4096, 8))
	_ = p
	t.Cleanup(func() { select {} })
}
