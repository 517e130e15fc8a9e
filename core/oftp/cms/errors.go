package cms

import (
	"errors"
	"fmt"
)

// Failure classifies a security failure by what OFTP reports for it.
type Failure uint8

// Failures and the reason codes RFC 5024 attaches to them.
const (
	// FailSignature: file signature missing or invalid (EFNA 21, NERP 31).
	FailSignature Failure = iota + 1
	// FailDecryption: the file cannot be decrypted (EFNA 22, NERP 33).
	FailDecryption
	// FailDecompression: the file cannot be decompressed (EFNA 23, NERP 32).
	FailDecompression
	// FailChallenge: secure authentication failed (ESID 11).
	FailChallenge
	// FailReceipt: a signed EERP or NERP is forged or does not match the file sent.
	// The RFC leaves the reaction to the application (§3.3.5); there is no code.
	FailReceipt
)

func (f Failure) String() string {
	switch f {
	case FailSignature:
		return "invalid file signature"
	case FailDecryption:
		return "file decryption failure"
	case FailDecompression:
		return "file decompression failure"
	case FailChallenge:
		return "invalid challenge response"
	case FailReceipt:
		return "invalid signed receipt"
	}
	return fmt.Sprintf("failure %d", uint8(f))
}

// Error is a security failure. Compare with errors.Is against ErrInvalidSignature,
// ErrDecryption, ErrDecompression, ErrChallenge or ErrReceipt; the causes below are
// reachable through Unwrap.
type Error struct {
	Failure Failure
	// Op names the step that failed, such as "verify SignedData".
	Op  string
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Op == "" && e.Err == nil:
		return "cms: " + e.Failure.String()
	case e.Err == nil:
		return fmt.Sprintf("cms: %s: %v", e.Op, e.Failure)
	}
	return fmt.Sprintf("cms: %s: %v: %v", e.Op, e.Failure, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the same Failure.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Err == nil && t.Failure == e.Failure
}

// EFNAReason returns the EFNAREAS code for the failure, or 0 when it has none.
func (e *Error) EFNAReason() int {
	switch e.Failure {
	case FailSignature:
		return 21
	case FailDecryption:
		return 22
	case FailDecompression:
		return 23
	}
	return 0
}

// NERPReason returns the NERPREAS code for the failure, or 0 when it has none.
func (e *Error) NERPReason() int {
	switch e.Failure {
	case FailSignature:
		return 31
	case FailDecompression:
		return 32
	case FailDecryption:
		return 33
	}
	return 0
}

// ESIDReason returns the ESIDREAS code for the failure, or 0 when it has none.
func (e *Error) ESIDReason() int {
	if e.Failure == FailChallenge {
		return 11
	}
	return 0
}

// Sentinels for errors.Is.
var (
	ErrInvalidSignature = &Error{Failure: FailSignature}
	ErrDecryption       = &Error{Failure: FailDecryption}
	ErrDecompression    = &Error{Failure: FailDecompression}
	ErrChallenge        = &Error{Failure: FailChallenge}
	ErrReceipt          = &Error{Failure: FailReceipt}
)

// Causes, wrapped inside an *Error.
var (
	// ErrSignerNotTrusted: no signer of the file matches a trusted partner certificate.
	ErrSignerNotTrusted = errors.New("signer is not a trusted partner certificate")
	// ErrNotSigned: the file or receipt carries no signature.
	ErrNotSigned = errors.New("no signature present")
	// ErrDigestMismatch: the content does not match the signed message digest.
	ErrDigestMismatch = errors.New("message digest does not match the content")
	// ErrNoRecipient: the EnvelopedData has no recipient matching our certificate.
	ErrNoRecipient = errors.New("no recipient matches our certificate")
	// ErrBadPadding: the decrypted content has invalid CBC padding (wrong key or
	// damaged ciphertext).
	ErrBadPadding = errors.New("invalid content padding")
	// ErrUnsupportedAlgorithm: an algorithm we do not implement.
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")
	// ErrWrongContentType: the layer is not the CMS type the file announced.
	ErrWrongContentType = errors.New("unexpected CMS content type")
	// ErrReceiptMismatch: the signed receipt content differs from the receipt fields.
	ErrReceiptMismatch = errors.New("signed content does not match the receipt fields")
	// ErrFileHashMismatch: the receipt's file hash is not the hash of the file sent.
	ErrFileHashMismatch = errors.New("receipt file hash does not match the file sent")
)

// failf classifies err as f, unless it already carries a classification: a failure in
// an outer layer keeps its meaning as it surfaces through the inner layers' readers.
func failf(f Failure, op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Failure: f, Op: op, Err: err}
}

// ReasonCodes maps an error to the EFNA and NERP reason codes it calls for; ok is false
// when err carries no file security failure.
func ReasonCodes(err error) (efna, nerp int, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.EFNAReason() == 0 {
		return 0, 0, false
	}
	return e.EFNAReason(), e.NERPReason(), true
}
