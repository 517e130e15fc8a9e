package cms

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/oftp/cms/ber"
)

// ChallengeSize is the length of the secure authentication random number (RFC 5024
// §5.3.17).
const ChallengeSize = 20

// MaxChallengeLen is the largest AUCHCHAL: its length field AUCHCHLL is U(2).
const MaxChallengeLen = 0xffff

func challengeErr(op string, err error) error {
	return &Error{Failure: FailChallenge, Op: op, Err: err}
}

// NewChallenge builds an AUCHCHAL value (RFC 5024 §4.2.4, §5.3.17): an EnvelopedData
// of 20 fresh random octets for the peer's certificate, encrypted with the suite's
// content cipher. It returns the random octets, to compare with the AURP, and the DER
// EnvelopedData.
func NewChallenge(peer *x509.Certificate, suite Suite, rnd io.Reader) (challenge, auch []byte, err error) {
	if !suite.Valid() {
		return nil, nil, &UnsupportedSuiteError{Code: suite.Code()}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	challenge = make([]byte, ChallengeSize)
	if _, err := io.ReadFull(rnd, challenge); err != nil {
		return nil, nil, fmt.Errorf("cms: challenge: %w", err)
	}
	var buf bytes.Buffer
	w, err := NewEnvelopedWriter(&buf, EnvelopeOptions{Recipients: []*x509.Certificate{peer}, Cipher: suite.Cipher(), Rand: rnd})
	if err != nil {
		return nil, nil, err
	}
	if _, err := w.Write(challenge); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	auch, err = ber.ToDER(buf.Bytes(), buf.Len()+64)
	if err != nil {
		return nil, nil, err
	}
	if len(auch) > MaxChallengeLen {
		return nil, nil, fmt.Errorf("cms: challenge of %d octets does not fit AUCHCHLL", len(auch))
	}
	return challenge, auch, nil
}

// OpenChallenge decrypts an AUCHCHAL with our key and returns the 20 octets to send
// back in the AURP. Failures are *Error with FailChallenge (ESID 11).
func OpenChallenge(auch []byte, dec crypto.Decrypter, own *x509.Certificate, rnd io.Reader) ([]byte, error) {
	const op = "open AUCH"
	if len(auch) > MaxChallengeLen {
		return nil, challengeErr(op, fmt.Errorf("challenge of %d octets", len(auch)))
	}
	er, err := NewEnvelopedReader(bytes.NewReader(auch), DecryptOptions{Decrypter: dec, Certificate: own, Rand: rnd})
	if err != nil {
		return nil, challengeErr(op, err)
	}
	plain, err := io.ReadAll(io.LimitReader(er, ChallengeSize+1))
	if err != nil {
		return nil, challengeErr(op, err)
	}
	if len(plain) != ChallengeSize {
		return nil, challengeErr(op, fmt.Errorf("challenge of %d octets, want %d", len(plain), ChallengeSize))
	}
	return plain, nil
}

// CheckChallengeResponse compares an AURP response with the challenge we sent, in
// constant time. A mismatch is *Error with FailChallenge (ESID 11).
func CheckChallengeResponse(challenge, response []byte) error {
	if len(challenge) != ChallengeSize || subtle.ConstantTimeCompare(challenge, response) != 1 {
		return challengeErr("check AURP", fmt.Errorf("response does not match the challenge"))
	}
	return nil
}
