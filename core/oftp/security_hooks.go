package oftp

import (
	"context"
	"errors"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// EndResponseSigner completes an EERP or NERP we are about to send with the file hash
// and the signature (RFC 5024 §5.3.13-5.3.14) when the file's SFID asked for a signed
// end response. It leaves er unchanged for files that did not. An error is logged and
// the response goes out unsigned, which the RFC permits.
type EndResponseSigner interface {
	SignEndResponse(ctx context.Context, er *EndResponse) error
}

// EndResponseVerifier checks a received EERP or NERP against the file we sent: the
// signature against the partner's certificate, the signed fields against the command
// and the hash against the transmitted file. A non-nil error is reported in
// EndResponseEvent.Err: the response must not be taken as a valid receipt.
type EndResponseVerifier interface {
	VerifyEndResponse(ctx context.Context, er *EndResponse) error
}

// signEndResponse lets the security layer sign an outgoing end response (2.0 only).
func (s *session) signEndResponse(ctx context.Context, er *EndResponse) {
	if s.opts.EndResponseSigner == nil || s.lvl < wire.Level20 || len(er.Signature) > 0 {
		return
	}
	if err := s.opts.EndResponseSigner.SignEndResponse(ctx, er); err != nil {
		s.log.Warn("end response sent unsigned", "dsn", er.DatasetName, "err", err)
		er.Hash, er.Signature = nil, nil
	}
}

// verifyEndResponse checks a received end response; nil when no verifier is set.
func (s *session) verifyEndResponse(ctx context.Context, er *EndResponse) error {
	if s.opts.EndResponseVerifier == nil {
		return nil
	}
	err := s.opts.EndResponseVerifier.VerifyEndResponse(ctx, er)
	if err != nil {
		s.log.Warn("end response failed verification", "dsn", er.DatasetName, "reason", er.Reason, "err", err)
	}
	return err
}

// transformRefusal turns an IncomingTransform error into the SFNA to answer: a
// *ReasonError keeps its code (e.g. 15-20 for security policy refusals).
func transformRefusal(err error, retry bool) *ReasonError {
	var re *ReasonError
	if errors.As(err, &re) {
		r := *re
		r.Cmd, r.Local = "SFNA", true
		if r.Text == "" {
			r.Text = reasonText("SFNA", r.Code)
		}
		return &r
	}
	return &ReasonError{Cmd: "SFNA", Code: ReasonUnspecified, Text: reasonText("SFNA", ReasonUnspecified),
		Retry: retry, Local: true, Err: err}
}
