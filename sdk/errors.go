package sdk

import (
	"errors"
	"fmt"
)

// Errors a plugin returns (wrapped or not) to tell the connector what went
// wrong; they keep their identity across the process boundary.
var (
	// ErrExists reports that an object of the same name is already stored.
	ErrExists = errors.New("object already exists")
	// ErrNotFound reports an unknown file, object or key.
	ErrNotFound = errors.New("not found")
	// ErrNotConfigured reports a call before a successful Configure.
	ErrNotConfigured = errors.New("plugin is not configured")
	// ErrUnsupported reports an operation the plugin does not offer, such as
	// an algorithm a key cannot perform.
	ErrUnsupported = errors.New("operation not supported")
)

// Advice tells whether an operation that failed may succeed when tried again.
type Advice int

// Retry advice values.
const (
	// AdviceUnknown: the error does not say; the connector decides.
	AdviceUnknown Advice = iota
	// AdviceRetry: a later attempt may succeed (a network hiccup, a crashed plugin).
	AdviceRetry
	// AdvicePermanent: trying again cannot succeed (bad configuration, a duplicate).
	AdvicePermanent
)

func (a Advice) String() string {
	switch a {
	case AdviceRetry:
		return "retryable"
	case AdvicePermanent:
		return "permanent"
	}
	return "unknown"
}

// adviser is implemented by errors that carry retry advice.
type adviser interface{ RetryAdvice() Advice }

type adviceError struct {
	err    error
	advice Advice
}

func (e *adviceError) Error() string       { return e.err.Error() }
func (e *adviceError) Unwrap() error       { return e.err }
func (e *adviceError) RetryAdvice() Advice { return e.advice }

// Retryable marks err as worth retrying. It returns nil for nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &adviceError{err: err, advice: AdviceRetry}
}

// Permanent marks err as not worth retrying. It returns nil for nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &adviceError{err: err, advice: AdvicePermanent}
}

// AdviceOf returns the retry advice of the outermost error in err's chain
// that carries one. ErrExists, ErrNotFound, ErrNotConfigured, ErrUnsupported
// and *ConfigError are permanent unless marked otherwise.
func AdviceOf(err error) Advice {
	for e := err; e != nil; {
		if a, ok := e.(adviser); ok && a.RetryAdvice() != AdviceUnknown {
			return a.RetryAdvice()
		}
		switch x := e.(type) {
		case interface{ Unwrap() error }:
			e = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				if a := AdviceOf(inner); a != AdviceUnknown {
					return a
				}
			}
			e = nil
		default:
			e = nil
		}
	}
	var ce *ConfigError
	if errors.Is(err, ErrExists) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotConfigured) ||
		errors.Is(err, ErrUnsupported) || errors.As(err, &ce) {
		return AdvicePermanent
	}
	return AdviceUnknown
}

// IsRetryable reports whether err advises a retry.
func IsRetryable(err error) bool { return AdviceOf(err) == AdviceRetry }

// IsPermanent reports whether err advises against a retry.
func IsPermanent(err error) bool { return AdviceOf(err) == AdvicePermanent }

// ConfigError is a configuration problem with one attribute. The connector
// maps Attribute to the file, line and column of the user's configuration.
type ConfigError struct {
	// Attribute is the attribute's name in the plugin's schema; empty when
	// the problem concerns the block as a whole.
	Attribute string
	Message   string
}

func (e *ConfigError) Error() string {
	if e.Attribute == "" {
		return "configuration: " + e.Message
	}
	return fmt.Sprintf("configuration attribute %q: %s", e.Attribute, e.Message)
}

// RemoteError is an error a plugin returned that carries no more specific
// kind. It keeps the plugin's message and advice.
type RemoteError struct {
	Message string
	Advice  Advice
	// kind is ErrExists, ErrNotFound, ... when the plugin's error matched one.
	kind error
}

func (e *RemoteError) Error() string       { return e.Message }
func (e *RemoteError) RetryAdvice() Advice { return e.Advice }
func (e *RemoteError) Unwrap() error       { return e.kind }
