package filesec

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/oftp/certs"
	"github.com/oftp2/connector/core/oftp/cms"
)

// ReceiptEvent reports a received end response for a file we sent with a signed
// receipt request.
type ReceiptEvent struct {
	EndResponse oftp.EndResponse
	Partner     string
	// Verdict is set when the signature verified; Err when the receipt is forged,
	// does not match the file, or is missing its signature.
	Verdict *cms.ReceiptVerdict
	Err     error
}

func receiptOf(er *oftp.EndResponse) cms.Receipt {
	r := cms.Receipt{Kind: cms.EERP, DatasetName: er.DatasetName, Date: er.Stamp.Date, Time: er.Stamp.Time,
		Destination: er.Destination, Originator: er.Originator, FileHash: er.Hash}
	if er.Negative() {
		r.Kind, r.Creator = cms.NERP, er.Creator
	}
	return r
}

// sha1Suite is the SHA-1 suite with the same content cipher as s.
func sha1Suite(s cms.Suite) cms.Suite {
	if s.Cipher() == cms.DES3 {
		return cms.Suite3DESSHA1
	}
	return cms.SuiteAES256SHA1
}

// SignEndResponse implements oftp.EndResponseSigner: an end response for a file
// received with SFIDSIGN=Y gets the hash of the file as transmitted and a
// SignedData over the RFC 5024 §5.3.13/§5.3.14 fields, with the suite's hash (SHA-1
// for partners with SHA1Receipts). A NERP without Creator gets the Originator as
// creator, so that the signed field and the sent field agree.
func (s *Security) SignEndResponse(ctx context.Context, er *oftp.EndResponse) error {
	rec := s.received.get(keyOf(er.DatasetName, er.Stamp.Date, er.Stamp.Time, er.Destination, er.Originator))
	if rec == nil || !rec.signedReceipt {
		return nil
	}
	kp, err := s.own(certs.PurposeReceiptSigning)
	if err != nil {
		return err
	}
	suite, hash := rec.suite, rec.hash
	if rec.partner.cfg.SHA1Receipts && suite.Hash() != crypto.SHA1 {
		s.log.Info("signing receipt with SHA-1 for partner compatibility", "partner", rec.partner.cfg.SSIDCode,
			"dsn", er.DatasetName, "suite", suite.Code())
		suite, hash = sha1Suite(suite), rec.sha1
	}
	if er.Negative() && er.Creator == "" {
		er.Creator = er.Originator
	}
	r := receiptOf(er)
	r.FileHash = hash
	sig, err := cms.ReceiptSigner{Suite: suite, Key: kp.Key, Certificate: kp.Leaf, Rand: s.cfg.Rand, Clock: s.cfg.Clock}.Sign(r)
	if err != nil {
		return err
	}
	er.Hash, er.Signature = hash, sig
	return nil
}

// VerifyEndResponse implements oftp.EndResponseVerifier. For a file we sent with
// SFIDSIGN=Y it checks signature, signed fields and file hash; an unsigned answer is
// an error unless the partner has AcceptUnsignedReceipts. A signed answer for a file
// we do not remember cannot be checked and is reported as such.
func (s *Security) VerifyEndResponse(ctx context.Context, er *oftp.EndResponse) error {
	// The response goes to the file's originator (Destination) from its final
	// recipient (Originator).
	key := keyOf(er.DatasetName, er.Stamp.Date, er.Stamp.Time, er.Destination, er.Originator)
	// The file is done either way: its spool, if any, is no longer needed.
	if err := s.releaseSpool(key); err != nil {
		s.log.Warn("removing spool", "dsn", er.DatasetName, "err", err)
	}
	rec := s.sent.get(key)
	if rec == nil {
		if len(er.Signature) == 0 {
			return nil
		}
		return &cms.Error{Failure: cms.FailReceipt, Op: "verify end response",
			Err: fmt.Errorf("no record of a file %s sent at %s %s", er.DatasetName, er.Stamp.Date, er.Stamp.Time)}
	}
	if !rec.signedReceipt {
		return nil
	}
	ev := ReceiptEvent{EndResponse: *er, Partner: rec.partner.cfg.SSIDCode}
	defer func() {
		if s.cfg.Events.Receipt != nil {
			s.cfg.Events.Receipt(ev)
		}
	}()
	if len(er.Signature) == 0 {
		if rec.partner.cfg.AcceptUnsignedReceipts {
			s.log.Warn("unsigned end response accepted for a signed receipt request", "partner", ev.Partner, "dsn", er.DatasetName)
			return nil
		}
		ev.Err = &cms.Error{Failure: cms.FailReceipt, Op: "verify end response", Err: ErrReceiptUnsigned}
		return ev.Err
	}
	trusted, err := s.usable(ctx, rec.partner, certs.PurposeReceiptSigning)
	if err != nil {
		ev.Err = &cms.Error{Failure: cms.FailReceipt, Op: "partner certificate", Err: err}
		return ev.Err
	}
	v, err := cms.VerifyReceipt(receiptOf(er), er.Signature, cms.ReceiptCheck{Suite: rec.suite, Trusted: trusted,
		SentHash: rec.hash, AcceptSHA1: rec.partner.cfg.SHA1Receipts, SentHashSHA1: rec.sha1})
	if err != nil {
		ev.Err = err
		return err
	}
	if v.SHA1Fallback {
		s.log.Info("receipt accepted with SHA-1 for partner compatibility", "partner", ev.Partner, "dsn", er.DatasetName)
	}
	ev.Verdict = v
	s.confirm(rec.partner, v.Signer)
	return nil
}

// confirm records that c was used successfully by the partner; a certificate
// delivered as a replacement then retires the ones it replaces.
func (s *Security) confirm(p *partnerState, c *x509.Certificate) {
	if c == nil {
		return
	}
	s.mu.Lock()
	retired := p.confirm(c)
	s.mu.Unlock()
	for _, r := range retired {
		s.log.Info("partner certificate retired after its replacement was used", "partner", p.cfg.SSIDCode,
			"retired", certs.CertName(r), "serial", r.SerialNumber.String(), "new", certs.CertName(c))
	}
}
