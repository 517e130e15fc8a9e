package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Secret holds a password or credential read from the configuration. Every
// printing path (fmt verbs, JSON, slog) shows a mask so a Config can be
// logged or dumped without leaking credentials; Reveal returns the value.
type Secret string

const secretMask = "*****"

// Reveal returns the clear-text value, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value was configured.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) masked() string {
	if s == "" {
		return ""
	}
	return secretMask
}

// String masks the value.
func (s Secret) String() string { return s.masked() }

// GoString masks the value for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.masked()) }

// Format masks the value for every fmt verb, including %q, %x and %d.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.masked())
	case 'q':
		fmt.Fprintf(f, "%q", s.masked())
	default:
		fmt.Fprint(f, s.masked())
	}
}

// MarshalJSON masks the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.masked()) }

// MarshalText masks the value (used by encoding/xml, slog's text handler, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.masked()), nil }

// LogValue masks the value in structured logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.masked()) }
