package wire

import (
	"fmt"
	"unicode/utf8"
)

// MaxBufferSize is the largest exchange buffer any level allows (SSIDSDEB 99999).
const MaxBufferSize = 99999

// MaxText is the largest UTF-8 reason or description text in octets (9(3) length field).
const MaxText = 999

// Encode appends the exchange buffer (without STH) for c at protocol level lvl to dst.
// It is strict: every field is checked against the RFC character set, length and range,
// and fields that do not exist at lvl must be empty. SSRM and SSID have one layout for all
// levels; for SSID the value's own Level decides octet 47 (SSIDAUTH from 2.0 on, a space
// below), so lvl is not consulted for them. c may be a command value or a pointer to one.
// On error dst is returned unchanged.
func Encode(dst []byte, c Command, lvl Level) ([]byte, error) {
	e := encoder{b: dst}
	l := NormalizeLevel(lvl)
	needLevel := func() bool {
		if l == 0 {
			e.fail("", detail(ErrRange, fmt.Sprintf("protocol level %d is not defined", int(lvl))))
			return false
		}
		return true
	}
	switch c := c.(type) {
	case SSRM, *SSRM:
		e.cmd = "SSRM"
		e.b = append(e.b, CodeSSRM)
		e.b = append(e.b, ssrmMessage...)
		e.b = append(e.b, '\r')
	case SSID:
		e.ssid(&c)
	case *SSID:
		e.ssid(c)
	case SFID:
		if needLevel() {
			e.sfid(&c, l)
		}
	case *SFID:
		if needLevel() {
			e.sfid(c, l)
		}
	case SFPA:
		if needLevel() {
			e.sfpa(&c, l)
		}
	case *SFPA:
		if needLevel() {
			e.sfpa(c, l)
		}
	case SFNA:
		if needLevel() {
			e.sfna(&c, l)
		}
	case *SFNA:
		if needLevel() {
			e.sfna(c, l)
		}
	case DATA:
		e.data(&c)
	case *DATA:
		e.data(c)
	case CDT, *CDT:
		e.cmd = "CDT"
		e.b = append(e.b, CodeCDT, ' ', ' ')
	case EFID:
		if needLevel() {
			e.efid(&c, l)
		}
	case *EFID:
		if needLevel() {
			e.efid(c, l)
		}
	case EFPA:
		e.efpa(&c)
	case *EFPA:
		e.efpa(c)
	case EFNA:
		if needLevel() {
			e.efna(&c, l)
		}
	case *EFNA:
		if needLevel() {
			e.efna(c, l)
		}
	case ESID:
		if needLevel() {
			e.esid(&c, l)
		}
	case *ESID:
		if needLevel() {
			e.esid(c, l)
		}
	case CD, *CD:
		e.cmd = "CD"
		e.b = append(e.b, CodeCD)
	case RTR, *RTR:
		e.cmd = "RTR"
		e.b = append(e.b, CodeRTR)
	case SECD, *SECD:
		e.cmd = "SECD"
		if needLevel() && e.level20(l) {
			e.b = append(e.b, CodeSECD)
		}
	case AUCH:
		if needLevel() {
			e.auch(&c, l)
		}
	case *AUCH:
		if needLevel() {
			e.auch(c, l)
		}
	case AURP:
		if needLevel() {
			e.aurp(&c, l)
		}
	case *AURP:
		if needLevel() {
			e.aurp(c, l)
		}
	case EERP:
		if needLevel() {
			e.eerp(&c, l)
		}
	case *EERP:
		if needLevel() {
			e.eerp(c, l)
		}
	case NERP:
		if needLevel() {
			e.nerp(&c, l)
		}
	case *NERP:
		if needLevel() {
			e.nerp(c, l)
		}
	case nil:
		return dst, &EncodeError{Command: "?", Err: ErrUnknown}
	default:
		return dst, &EncodeError{Command: c.Name(), Err: ErrUnknown}
	}
	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

const ssrmMessage = "ODETTE FTP READY "

type encoder struct {
	b   []byte
	cmd string
	err error
}

func (e *encoder) fail(field string, err error) {
	if e.err == nil {
		e.err = &EncodeError{Command: e.cmd, Field: field, Err: err}
	}
}

func (e *encoder) level20(l Level) bool {
	if l < Level20 {
		e.fail("", detail(ErrNotAtLevel, "command exists from protocol level 2.0 on, not at "+l.String()))
		return false
	}
	return true
}

// isStringChar reports whether c belongs to the RFC 5024 §5.3 String set (Appendix B).
func isStringChar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
		return true
	}
	switch c {
	case '/', '-', '.', '&', '(', ')', ' ':
		return true
	}
	return false
}

// CheckString reports whether s can be sent in an X(n) String field: at most n octets
// after trailing spaces, RFC String characters only, no leading or embedded space. Decode
// accepts more (lower case, for one), so a receiver can use this to refuse an SFID whose
// names it could not echo in the EERP or NERP (SFNA 01, 02 or 03) instead of failing at
// acknowledgement time.
func CheckString(s string, n int) error {
	e := encoder{}
	e.str("", s, n, false)
	if e.err != nil {
		return e.err.(*EncodeError).Err
	}
	return nil
}

// str writes an X(n) String field: left-justified, space-padded, RFC character set, no
// leading or embedded space (§5.3). Trailing spaces in s are padding and allowed.
func (e *encoder) str(field, s string, n int, required bool) {
	end := len(s)
	for end > 0 && s[end-1] == ' ' {
		end--
	}
	t := s[:end]
	switch {
	case len(t) > n:
		e.fail(field, &valueError{t, detail(ErrRange, fmt.Sprintf("is longer than %d octets", n))})
	case required && t == "":
		e.fail(field, detail(ErrRange, "must not be empty"))
	}
	for i := 0; i < len(t); i++ {
		if !isStringChar(t[i]) || t[i] == ' ' {
			if t[i] == ' ' {
				e.fail(field, &valueError{t, detail(ErrCharacterSet, "contains a leading or embedded space")})
			} else {
				e.fail(field, &valueError{t, detail(ErrCharacterSet, fmt.Sprintf("contains %q, outside the RFC String set", t[i]))})
			}
			break
		}
	}
	if e.err != nil {
		return
	}
	e.b = append(e.b, t...)
	e.spaces(n - len(t))
}

// certificateExchangeNames are the virtual file names deployed OFTP 2.0 products use to
// exchange certificates. They contain '_', outside the RFC String set, yet partners expect
// exactly these names, so they are the one exception to the strict dataset name check.
var certificateExchangeNames = map[string]bool{
	"ODETTE_CERTIFICATE_REQUEST": true,
	"ODETTE_CERTIFICATE_DELIVER": true,
	"ODETTE_CERTIFICATE_REPLACE": true,
}

// dsn writes a virtual file dataset name X(26).
func (e *encoder) dsn(field, s string) {
	if certificateExchangeNames[s] {
		e.b = append(e.b, s...)
		return
	}
	e.str(field, s, 26, true)
}

func (e *encoder) spaces(n int) {
	for i := 0; i < n; i++ {
		e.b = append(e.b, ' ')
	}
}

// num writes a 9(n) field: right-justified, zero-padded, in [min, max].
func (e *encoder) num(field string, v, min, max int64, n int) {
	if v < min || v > max {
		e.fail(field, detail(ErrRange, fmt.Sprintf("%d is outside %d..%d", v, min, max)))
		return
	}
	var d [20]byte
	i := len(d)
	for j := 0; j < n; j++ {
		i--
		d[i] = byte('0' + v%10)
		v /= 10
	}
	e.b = append(e.b, d[i:]...)
}

func (e *encoder) yn(v bool) {
	if v {
		e.b = append(e.b, 'Y')
	} else {
		e.b = append(e.b, 'N')
	}
}

func (e *encoder) u16(field string, n int) {
	if n > 0xFFFF {
		e.fail(field, detail(ErrRange, fmt.Sprintf("%d octets exceed the U(2) length field", n)))
		return
	}
	e.b = append(e.b, byte(n>>8), byte(n))
}

// text writes a 9(3) length and a UTF-8 T(n) text.
func (e *encoder) text(lenField, field, s string) {
	if len(s) > MaxText {
		e.fail(field, detail(ErrRange, fmt.Sprintf("%d octets exceed %d", len(s), MaxText)))
		return
	}
	if !utf8.ValidString(s) {
		e.fail(field, &valueError{s, ErrUTF8})
		return
	}
	e.num(lenField, int64(len(s)), 0, MaxText, 3)
	e.b = append(e.b, s...)
}

func (e *encoder) notAtLevel(field string, empty bool, l Level) {
	if !empty {
		e.fail(field, detail(ErrNotAtLevel, "must be empty at protocol level "+l.String()))
	}
}

// stamp writes the date and time of SFID, EERP and NERP: CCYYMMDD HHMMSScccc from 1.4
// on, YYMMDD HHMMSS in the RFC 2204 layout (century and counter are cut).
func (e *encoder) stamp(prefix string, s Stamp, l Level) {
	if len(s.Date) != 8 || !allDigits(s.Date) {
		e.fail(prefix+"DATE", &valueError{s.Date, detail(ErrNotNumeric, "is not CCYYMMDD")})
		return
	}
	if len(s.Time) != 10 || !allDigits(s.Time) {
		e.fail(prefix+"TIME", &valueError{s.Time, detail(ErrNotNumeric, "is not HHMMSScccc")})
		return
	}
	if l >= Level14 {
		e.b = append(e.b, s.Date...)
		e.b = append(e.b, s.Time...)
		return
	}
	e.b = append(e.b, s.Date[2:]...)
	e.b = append(e.b, s.Time[:6]...)
}

func (e *encoder) ssid(c *SSID) {
	e.cmd = "SSID"
	e.b = append(e.b, CodeSSID)
	switch c.Level {
	case Level12, Level13, Level14, Level20:
		e.b = append(e.b, byte('0'+c.Level))
	default:
		e.fail("SSIDLEV", detail(ErrRange, fmt.Sprintf("%d is not a defined level (1, 2, 4, 5)", int(c.Level))))
		return
	}
	e.str("SSIDCODE", c.ID, 25, true)
	e.str("SSIDPSWD", c.Password, 8, false)
	e.num("SSIDSDEB", int64(c.BufferSize), 128, MaxBufferSize, 5)
	switch c.Mode {
	case ModeSender, ModeReceiver, ModeBoth:
		e.b = append(e.b, byte(c.Mode))
	default:
		e.fail("SSIDSR", &valueError{string(rune(c.Mode)), detail(ErrRange, "is not S, R or B")})
	}
	e.yn(c.Compression)
	e.yn(c.Restart)
	e.yn(c.SpecialLogic)
	e.num("SSIDCRED", int64(c.Credit), 1, 999, 3)
	if c.Level >= Level20 {
		e.yn(c.SecureAuth)
	} else {
		e.notAtLevel("SSIDAUTH", !c.SecureAuth, c.Level)
		e.b = append(e.b, ' ')
	}
	e.spaces(4)
	e.str("SSIDUSER", c.User, 8, false)
	e.b = append(e.b, '\r')
}

// Maximum values of the level-dependent numeric fields.
const (
	max7  = 9_999_999
	max9  = 999_999_999
	max12 = 999_999_999_999
	max13 = 9_999_999_999_999
	max17 = 99_999_999_999_999_999
)

// MaxFileSize is the largest SFIDFSIZ/SFIDOSIZ in 1 KiB blocks at level l: 9(13) at 2.0,
// 9(7) below. A file above the 1.x limit cannot be offered to a 1.x partner (NERP 90).
func MaxFileSize(l Level) int64 {
	if NormalizeLevel(l) >= Level20 {
		return max13
	}
	return max7
}

// MaxRestart is the largest SFIDREST or SFPAACNT at level l: 9(17) at 2.0, 9(9) below.
func MaxRestart(l Level) int64 {
	if NormalizeLevel(l) >= Level20 {
		return max17
	}
	return max9
}

// MaxRecordCount is the largest EFIDRCNT at level l: 9(17) at 2.0, 9(9) below.
func MaxRecordCount(l Level) int64 {
	if NormalizeLevel(l) >= Level20 {
		return max17
	}
	return max9
}

// MaxUnitCount is the largest EFIDUCNT at level l: 9(17) at 2.0, 9(12) below.
func MaxUnitCount(l Level) int64 {
	if NormalizeLevel(l) >= Level20 {
		return max17
	}
	return max12
}

// KiB converts an octet count to the 1 KiB blocks of SFIDFSIZ/SFIDOSIZ, rounding up so
// that a non-empty file never announces 0 (RFC 5024 §5.3.3 asks for a good estimate).
func KiB(octets int64) int64 {
	if octets <= 0 {
		return 0
	}
	return (octets + 1023) / 1024
}

func (e *encoder) sfid(c *SFID, l Level) {
	e.cmd = "SFID"
	e.b = append(e.b, CodeSFID)
	e.dsn("SFIDDSN", c.DatasetName)
	if l >= Level14 {
		e.spaces(3)
	} else {
		e.spaces(9)
	}
	e.stamp("SFID", c.Stamp, l)
	e.str("SFIDUSER", c.User, 8, false)
	e.str("SFIDDEST", c.Destination, 25, true)
	e.str("SFIDORIG", c.Originator, 25, true)
	switch c.Format {
	case FormatFixed, FormatVariable:
		e.b = append(e.b, byte(c.Format))
		e.num("SFIDLRECL", int64(c.MaxRecordSize), 0, 99999, 5)
	case FormatUnstructured, FormatText:
		e.b = append(e.b, byte(c.Format))
		// §5.3.3: "If SFIDFMT is 'T' or 'U', then this attribute must be set to '00000'."
		e.num("SFIDLRECL", int64(c.MaxRecordSize), 0, 0, 5)
	default:
		e.fail("SFIDFMT", &valueError{string(rune(c.Format)), detail(ErrRange, "is not F, V, U or T")})
	}
	if l >= Level20 {
		e.num("SFIDFSIZ", c.FileSize, 0, max13, 13)
		e.num("SFIDOSIZ", c.OriginalSize, 0, max13, 13)
		e.num("SFIDREST", c.RestartPos, 0, max17, 17)
		e.num("SFIDSEC", int64(c.Security), 0, 3, 2)
		e.num("SFIDCIPH", int64(c.Cipher), 0, 99, 2)
		e.num("SFIDCOMP", b2i(c.Compressed), 0, 1, 1)
		e.num("SFIDENV", b2i(c.Enveloped), 0, 1, 1)
		e.yn(c.SignedReceipt)
		e.text("SFIDDESCL", "SFIDDESC", c.Description)
		return
	}
	e.num("SFIDFSIZ", c.FileSize, 0, max7, 7)
	e.num("SFIDREST", c.RestartPos, 0, max9, 9)
	e.notAtLevel("SFIDOSIZ", c.OriginalSize == 0, l)
	e.notAtLevel("SFIDSEC", c.Security == 0, l)
	e.notAtLevel("SFIDCIPH", c.Cipher == 0, l)
	e.notAtLevel("SFIDCOMP", !c.Compressed, l)
	e.notAtLevel("SFIDENV", !c.Enveloped, l)
	e.notAtLevel("SFIDSIGN", !c.SignedReceipt, l)
	e.notAtLevel("SFIDDESC", c.Description == "", l)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (e *encoder) sfpa(c *SFPA, l Level) {
	e.cmd = "SFPA"
	e.b = append(e.b, CodeSFPA)
	if l >= Level20 {
		e.num("SFPAACNT", c.AnswerCount, 0, max17, 17)
	} else {
		e.num("SFPAACNT", c.AnswerCount, 0, max9, 9)
	}
}

func (e *encoder) reason(field string, cmd byte, code int, l Level) {
	if !ReasonValid(cmd, code, l) {
		e.fail(field, detail(ErrRange, fmt.Sprintf("reason %02d is not defined at protocol level %s", code, l)))
		return
	}
	e.num(field, int64(code), 0, 99, 2)
}

func (e *encoder) sfna(c *SFNA, l Level) {
	e.cmd = "SFNA"
	e.b = append(e.b, CodeSFNA)
	e.reason("SFNAREAS", CodeSFNA, c.Reason, l)
	e.yn(c.Retry)
	if l >= Level20 {
		e.text("SFNAREASL", "SFNAREAST", c.Text)
	} else {
		e.notAtLevel("SFNAREAST", c.Text == "", l)
	}
}

func (e *encoder) data(c *DATA) {
	e.cmd = "DATA"
	if len(c.Payload) > MaxBufferSize-1 {
		e.fail("DATABUF", detail(ErrRange, fmt.Sprintf("%d octets exceed %d", len(c.Payload), MaxBufferSize-1)))
		return
	}
	e.b = append(e.b, CodeDATA)
	e.b = append(e.b, c.Payload...)
}

func (e *encoder) efid(c *EFID, l Level) {
	e.cmd = "EFID"
	e.b = append(e.b, CodeEFID)
	if l >= Level20 {
		e.num("EFIDRCNT", c.RecordCount, 0, max17, 17)
		e.num("EFIDUCNT", c.UnitCount, 0, max17, 17)
	} else {
		e.num("EFIDRCNT", c.RecordCount, 0, max9, 9)
		e.num("EFIDUCNT", c.UnitCount, 0, max12, 12)
	}
}

func (e *encoder) efpa(c *EFPA) {
	e.cmd = "EFPA"
	e.b = append(e.b, CodeEFPA)
	e.yn(c.ChangeDirection)
}

func (e *encoder) efna(c *EFNA, l Level) {
	e.cmd = "EFNA"
	e.b = append(e.b, CodeEFNA)
	e.reason("EFNAREAS", CodeEFNA, c.Reason, l)
	if l >= Level20 {
		e.text("EFNAREASL", "EFNAREAST", c.Text)
	} else {
		e.notAtLevel("EFNAREAST", c.Text == "", l)
	}
}

func (e *encoder) esid(c *ESID, l Level) {
	e.cmd = "ESID"
	e.b = append(e.b, CodeESID)
	e.reason("ESIDREAS", CodeESID, c.Reason, l)
	if l >= Level20 {
		e.text("ESIDREASL", "ESIDREAST", c.Text)
	} else {
		e.notAtLevel("ESIDREAST", c.Text == "", l)
	}
	e.b = append(e.b, '\r')
}

func (e *encoder) auch(c *AUCH, l Level) {
	e.cmd = "AUCH"
	if !e.level20(l) {
		return
	}
	if len(c.Challenge) == 0 {
		e.fail("AUCHCHAL", detail(ErrRange, "must not be empty"))
		return
	}
	e.b = append(e.b, CodeAUCH)
	e.u16("AUCHCHLL", len(c.Challenge))
	e.b = append(e.b, c.Challenge...)
}

// AURPLength is the length of the AURP response, the decrypted challenge (§5.3.18).
const AURPLength = 20

func (e *encoder) aurp(c *AURP, l Level) {
	e.cmd = "AURP"
	if !e.level20(l) {
		return
	}
	if len(c.Response) != AURPLength {
		e.fail("AURPRSP", detail(ErrRange, fmt.Sprintf("is %d octets, not %d", len(c.Response), AURPLength)))
		return
	}
	e.b = append(e.b, CodeAURP)
	e.b = append(e.b, c.Response...)
}

func (e *encoder) eerp(c *EERP, l Level) {
	e.cmd = "EERP"
	e.b = append(e.b, CodeEERP)
	e.dsn("EERPDSN", c.DatasetName)
	if l >= Level14 {
		e.spaces(3)
	} else {
		e.spaces(9)
	}
	e.stamp("EERP", c.Stamp, l)
	e.str("EERPUSER", c.User, 8, false)
	e.str("EERPDEST", c.Destination, 25, true)
	e.str("EERPORIG", c.Originator, 25, true)
	if l >= Level20 {
		e.u16("EERPHSHL", len(c.Hash))
		e.b = append(e.b, c.Hash...)
		e.u16("EERPSIGL", len(c.Signature))
		e.b = append(e.b, c.Signature...)
		return
	}
	e.notAtLevel("EERPHSH", len(c.Hash) == 0, l)
	e.notAtLevel("EERPSIG", len(c.Signature) == 0, l)
}

func (e *encoder) nerp(c *NERP, l Level) {
	e.cmd = "NERP"
	if l < Level14 {
		e.fail("", detail(ErrNotAtLevel, "NERP exists from protocol level 1.4 on, not at "+l.String()))
		return
	}
	e.b = append(e.b, CodeNERP)
	e.dsn("NERPDSN", c.DatasetName)
	e.spaces(6)
	e.stamp("NERP", c.Stamp, l)
	e.str("NERPDEST", c.Destination, 25, true)
	e.str("NERPORIG", c.Originator, 25, true)
	e.str("NERPCREA", c.Creator, 25, true)
	e.reason("NERPREAS", CodeNERP, c.Reason, l)
	if l >= Level20 {
		e.text("NERPREASL", "NERPREAST", c.Text)
		e.u16("NERPHSHL", len(c.Hash))
		e.b = append(e.b, c.Hash...)
		e.u16("NERPSIGL", len(c.Signature))
		e.b = append(e.b, c.Signature...)
		return
	}
	e.notAtLevel("NERPREAST", c.Text == "", l)
	e.notAtLevel("NERPHSH", len(c.Hash) == 0, l)
	e.notAtLevel("NERPSIG", len(c.Signature) == 0, l)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
