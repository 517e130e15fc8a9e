package oftp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/oftp2/connector/core/oftp"
)

// fakeAuth stands in for the CMS layer: the "encrypted" challenge is the plain 20
// octets. It tests the SECD/AUCH/AURP exchange and its checks, not cryptography.
type fakeAuth struct{ wrong bool }

func (a fakeAuth) Challenge(context.Context, string) ([]byte, []byte, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, nil, err
	}
	return append([]byte("CMS:"), b...), b, nil
}

func (a fakeAuth) Respond(_ context.Context, _ string, ch []byte) ([]byte, error) {
	plain, ok := bytes.CutPrefix(ch, []byte("CMS:"))
	if !ok {
		return nil, errors.New("not a challenge")
	}
	out := append([]byte(nil), plain...)
	if a.wrong {
		out[0] ^= 1
	}
	return out, nil
}

func TestSecureAuthentication(t *testing.T) {
	t.Run("both answer", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.SecureAuthentication, p.srvOpts.Authenticator = true, fakeAuth{}
		p.cliOpts.SecureAuthentication, p.cliOpts.Authenticator = true, fakeAuth{}
		var trail []string
		p.cliOpts.Events.PITrail = func(pi oftp.PITrail) { trail = append(trail, pi.Direction.String()+":"+pi.Name) }
		p.start(nil)
		ctx := testCtx(t)
		c := p.dial(ctx)
		if !c.Session().SecureAuth {
			t.Fatal("secure authentication not recorded")
		}
		if err := c.Logoff(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.serverEnd(); err != nil {
			t.Fatal(err)
		}
		want := "in:SSRM out:SSID in:SSID out:SECD in:AUCH out:AURP in:SECD out:AUCH in:AURP out:CD in:ESID"
		if got := join(trail); got != want {
			t.Fatalf("trail %s\nwant %s", got, want)
		}
	})
	t.Run("wrong response", func(t *testing.T) {
		p := newPair(t)
		p.srvOpts.SecureAuthentication, p.srvOpts.Authenticator = true, fakeAuth{}
		p.cliOpts.SecureAuthentication, p.cliOpts.Authenticator = true, fakeAuth{wrong: true}
		p.start(nil)
		_, err := oftp.Dial(testCtx(t), p.addr, p.cliOpts)
		assertReason(t, err, "ESID", 11, false)
		assertReason(t, p.serverEnd(), "ESID", 11, true)
	})
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
