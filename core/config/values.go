package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Limits from RFC 5024 §5.3.2 and §5.4.
const (
	MinBufferSize   = 128
	MaxBufferSize   = 99999
	MinCredit       = 1
	MaxCredit       = 999
	MaxCodeLength   = 25
	MaxPasswordLen  = 8
	MaxUserDataLen  = 8
	MaxRecordSize   = 99999
	MaxDescLength   = 999
	maxSecuredVRecl = 65535 // a 2-octet V prefix cannot say 65536 (digest §13 item 10)
)

// isStringChar reports whether c is in the RFC's "String" character set
// (Appendix B): digits, upper-case letters, space and / - . & ( ).
func isStringChar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
		return true
	}
	switch c {
	case ' ', '/', '-', '.', '&', '(', ')':
		return true
	}
	return false
}

func trimPadding(s string) string { return strings.TrimRight(s, " ") }

// checkCode validates an Identification Code (SSIDCODE, SFIDORIG, ...):
// 1..25 characters of the String set, no embedded spaces.
func checkCode(s string) error {
	if s == "" {
		return fmt.Errorf("the code must not be empty")
	}
	if len(s) > MaxCodeLength {
		return fmt.Errorf("the code is %d characters long; OFTP allows at most %d", len(s), MaxCodeLength)
	}
	if err := checkStringChars(s); err != nil {
		return err
	}
	return nil
}

func checkStringChars(s string) error {
	for i := 0; i < len(s); i++ {
		if !isStringChar(s[i]) {
			hint := ""
			if s[i] >= 'a' && s[i] <= 'z' {
				hint = " (OFTP codes are upper case)"
			}
			return fmt.Errorf("character %q at position %d is not in the OFTP character set A-Z 0-9 space / - . & ( )%s", s[i], i+1, hint)
		}
	}
	if strings.TrimSpace(s) != s || strings.Contains(s, " ") {
		return fmt.Errorf("spaces are not allowed in %q", s)
	}
	return nil
}

// checkSentPassword validates a password we send: the strict String set.
func checkSentPassword(s string) error {
	if s == "" {
		return fmt.Errorf("the password must not be empty")
	}
	if len(s) > MaxPasswordLen {
		return fmt.Errorf("the password is %d characters long; OFTP allows at most %d", len(s), MaxPasswordLen)
	}
	if err := checkStringChars(s); err != nil {
		// Never echo the password itself.
		return fmt.Errorf("the password contains a character outside the OFTP character set A-Z 0-9 / - . & ( ) (no lower case, no spaces)")
	}
	return nil
}

// checkReceivedPassword validates a password a partner sends us. Partners
// are known to use lower case, so any printable ASCII is accepted.
func checkReceivedPassword(s string) error {
	if s == "" {
		return fmt.Errorf("the password must not be empty")
	}
	if len(s) > MaxPasswordLen {
		return fmt.Errorf("the password is %d characters long; OFTP allows at most %d", len(s), MaxPasswordLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return fmt.Errorf("the password contains a character that cannot travel in SSIDPSWD (only printable ASCII without spaces)")
		}
	}
	return nil
}

// checkAddress validates host:port, filling in defPort when only a host is
// given. An empty host (all interfaces) is allowed only when listen is set.
func checkAddress(s string, defPort int, listen bool) (string, error) {
	if s == "" {
		return "", fmt.Errorf("the address must not be empty")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		h := s
		switch {
		case strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]"):
			h = h[1 : len(h)-1]
		case strings.Contains(h, ":"):
			return "", fmt.Errorf("%q is not host:port (write IPv6 addresses in brackets)", s)
		}
		host, port = h, strconv.Itoa(defPort)
	}
	if host == "" && !listen {
		return "", fmt.Errorf("%q has no host", s)
	}
	if strings.ContainsAny(host, " /\\@[]") {
		return "", fmt.Errorf("%q is not a valid host name", host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q must be a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}

// ParseDuration parses a Go duration string such as "60s" or "1h30m" and
// rejects negative values and plain numbers.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, nerr := strconv.ParseFloat(strings.TrimSpace(s), 64); nerr == nil {
			return 0, fmt.Errorf("%q has no unit; write it like \"60s\", \"15m\" or \"2h\"", s)
		}
		return 0, fmt.Errorf("%q is not a duration; write it like \"60s\", \"15m\" or \"2h\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// checkFingerprint normalises a SHA-256 certificate fingerprint written as
// hex, optionally with ':' separators and an "sha256:" prefix.
func checkFingerprint(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "sha256:")
	t = strings.ReplaceAll(t, ":", "")
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != 32 {
		return "", fmt.Errorf("expected a SHA-256 fingerprint: 64 hex digits, optionally separated by colons")
	}
	return t, nil
}

// checkSHA256 validates a hex SHA-256 digest (plugin checksums).
func checkSHA256(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != 32 {
		return "", fmt.Errorf("expected 64 hex digits (the SHA-256 of the plugin executable, as printed by sha256sum)")
	}
	return t, nil
}

// parseTimeOfDay parses "HH:MM" (24-hour clock).
func parseTimeOfDay(s string) (TimeOfDay, error) {
	var t TimeOfDay
	if len(s) != 5 || s[2] != ':' {
		return t, fmt.Errorf("%q is not a time of day like \"08:30\"", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return t, fmt.Errorf("%q is not a time of day like \"08:30\"", s)
	}
	return TimeOfDay{Hour: h, Minute: m}, nil
}

func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// parseCipherSuite accepts a suite number (1..6, as a number or digits) or a name.
func parseCipherSuite(s string) (CipherSuite, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.Atoi(s); err == nil {
		if n >= 1 && n < len(cipherSuiteNames) {
			return CipherSuite(n), nil
		}
		return 0, fmt.Errorf("cipher suite %d does not exist; use 1 to 6", n)
	}
	for i, name := range cipherSuiteNames {
		if i > 0 && name == s {
			return CipherSuite(i), nil
		}
	}
	return 0, fmt.Errorf("unknown cipher suite %q; use 1 to 6 or one of %s", s, strings.Join(cipherSuiteNames[1:], ", "))
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}
