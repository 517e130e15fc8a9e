package oftp

import (
	"errors"
	"fmt"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// ReasonError is a refusal or an abort that carries an RFC 5024 reason code: a received
// or sent SFNA, EFNA or ESID, or a NERP. Use errors.As to read the code; errors.Is
// matches another *ReasonError with the same Cmd and Code.
type ReasonError struct {
	Cmd   string // "SFNA", "EFNA", "ESID" or "NERP"
	Code  int    // the reason code, e.g. 4 for ESID "invalid password"
	Text  string // the reason text: the peer's (2.0) or the RFC's wording
	Retry bool   // SFNA only: the listener allows the file to be offered again later
	// Local is true when this side sent the command (we refused or aborted), false when
	// the partner did.
	Local bool
	// Err is the local cause behind a refusal we sent, if any.
	Err error
}

func (e *ReasonError) Error() string {
	who := "partner"
	if e.Local {
		who = "local"
	}
	s := fmt.Sprintf("oftp: %s %s %02d", who, e.Cmd, e.Code)
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	if e.Cmd == "SFNA" {
		if e.Retry {
			s += ", retry later allowed"
		} else {
			s += ", do not retry"
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ReasonError) Unwrap() error { return e.Err }

// Is reports whether target is a *ReasonError with the same command and code, so that
// errors.Is(err, &oftp.ReasonError{Cmd: "ESID", Code: 4}) works.
func (e *ReasonError) Is(target error) bool {
	t, ok := target.(*ReasonError)
	return ok && t.Cmd == e.Cmd && t.Code == e.Code
}

// ESID reason codes (RFC 5024 §5.3.11).
const (
	ESIDNormal            = 0
	ESIDUnknownCommand    = 1
	ESIDProtocolViolation = 2
	ESIDUnknownUser       = 3
	ESIDInvalidPassword   = 4
	ESIDEmergency         = 5
	ESIDInvalidData       = 6
	ESIDBufferSize        = 7
	ESIDNoResources       = 8
	ESIDTimeout           = 9
	ESIDIncompatible      = 10
	ESIDChallenge         = 11
	ESIDSecureAuth        = 12
	ESIDUnspecified       = 99
)

// SFNA/EFNA answer reasons (RFC 5024 §5.3.5, §5.3.10).
const (
	ReasonInvalidFilename      = 1
	ReasonInvalidDestination   = 2
	ReasonInvalidOrigin        = 3
	ReasonFormatNotSupported   = 4
	ReasonRecordTooLong        = 5
	ReasonFileTooBig           = 6
	ReasonInvalidRecordCount   = 10
	ReasonInvalidByteCount     = 11
	ReasonAccessMethodFailure  = 12
	ReasonDuplicateFile        = 13
	ReasonDirectionRefused     = 14
	ReasonCipherNotSupported   = 15
	ReasonEncryptedNotAllowed  = 16
	ReasonUnencryptedForbidden = 17
	ReasonCompressionForbidden = 18
	ReasonSignedNotAllowed     = 19
	ReasonUnsignedForbidden    = 20
	ReasonInvalidSignature     = 21
	ReasonDecryptionFailure    = 22
	ReasonDecompressionFailure = 23
	ReasonUnspecified          = 99
)

// NERPReasonFor maps an SFNA or EFNA reason to the NERP reason an intermediate node
// reports upstream (RFC 5024 §5.3.14: 01-06 and 10-20 map to +10).
func NERPReasonFor(answerReason int) int {
	switch {
	case answerReason >= 1 && answerReason <= 6, answerReason >= 10 && answerReason <= 20:
		return answerReason + 10
	case answerReason == 21:
		return 31
	case answerReason == 22:
		return 33
	case answerReason == 23:
		return 32
	}
	return 99
}

var (
	// ErrSessionClosed is returned by calls on a session that has ended.
	ErrSessionClosed = errors.New("oftp: session closed")
	// ErrNotSpeaker is returned when an operation needs the turn and the session cannot
	// get it.
	ErrNotSpeaker = errors.New("oftp: operation needs the speaker role")
	// ErrDirection is returned when the negotiated mode forbids the transfer direction.
	ErrDirection = errors.New("oftp: file direction not allowed in this session")
	// ErrConnectionLost is wrapped when the partner dropped the connection without ESID.
	ErrConnectionLost = errors.New("oftp: connection lost")
	// ErrUnknownPartner is what a PartnerLookup returns for an SSID code it does not
	// know; the responder answers ESID 03.
	ErrUnknownPartner = errors.New("oftp: unknown partner")
	// ErrInvalidFile reports an outgoing file description that cannot be sent strictly
	// per RFC (bad dataset name, format, record size, level-dependent field).
	ErrInvalidFile = errors.New("oftp: invalid outgoing file")
)

// reasonText gives the RFC wording for cmd (a command name) and code.
func reasonText(cmd string, code int) string {
	var c byte
	switch cmd {
	case "SFNA":
		c = wire.CodeSFNA
	case "EFNA":
		c = wire.CodeEFNA
	case "ESID":
		c = wire.CodeESID
	case "NERP":
		c = wire.CodeNERP
	default:
		return ""
	}
	return wire.ReasonText(c, code)
}

// localESID builds the error for an ESID we sent.
func localESID(code int, cause error) *ReasonError {
	return &ReasonError{Cmd: "ESID", Code: code, Text: reasonText("ESID", code), Local: true, Err: cause}
}
