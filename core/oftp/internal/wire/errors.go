package wire

import (
	"errors"
	"strconv"
)

// ESID reasons a DecodeError can ask for (RFC 5024 §5.3.11).
const (
	ReasonUnknownCommand = 1 // command not recognised
	ReasonInvalidData    = 6 // command contained invalid data
	ReasonLength         = 7 // exchange buffer size error
	ReasonUnspecified    = 99
)

// DecodeError reports an exchange buffer (or a stream transmission header) that does not
// follow the RFC layout. Reason is the ESID reason the session should end with.
type DecodeError struct {
	Command string // RFC mnemonic, "STH" for the framing header, or "" when unknown
	Field   string // RFC field name, or "" when the whole buffer is at fault
	Reason  int    // ESIDREAS: 01, 06 or 07 (99 for a header that is not OFTP at all)
	Err     error
}

func (e *DecodeError) Error() string {
	s := e.Command
	if s == "" {
		s = "exchange buffer"
	}
	if e.Field != "" {
		s += ": field " + e.Field
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a command value that cannot be sent as it is: a field outside the
// RFC character set or range, or a field that does not exist at the protocol level.
type EncodeError struct {
	Command string
	Field   string
	Err     error
}

func (e *EncodeError) Error() string {
	s := e.Command
	if e.Field != "" {
		s += ": field " + e.Field
	}
	return s + ": " + e.Err.Error()
}

func (e *EncodeError) Unwrap() error { return e.Err }

// Sentinel causes wrapped by DecodeError and EncodeError, for errors.Is.
var (
	ErrLength       = errors.New("length does not match the command layout")
	ErrNotNumeric   = errors.New("is not numeric")
	ErrCharacterSet = errors.New("character outside the RFC String set")
	ErrRange        = errors.New("value out of range")
	ErrNotAtLevel   = errors.New("does not exist at this protocol level")
	ErrUTF8         = errors.New("is not valid UTF-8")
	ErrUnknown      = errors.New("unknown command")
	ErrCompression  = errors.New("compressed subrecord but buffer compression was not negotiated")
)

// valueError is a cause that quotes the offending field content.
type valueError struct {
	val   string
	cause error
}

func (e *valueError) Error() string { return strconv.Quote(e.val) + " " + e.cause.Error() }
func (e *valueError) Unwrap() error { return e.cause }

// detailError adds a short explanation to a sentinel cause.
type detailError struct {
	msg   string
	cause error
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.cause }

func detail(cause error, msg string) error { return &detailError{msg: msg, cause: cause} }
