package wire

import (
	"fmt"
	"unicode/utf8"
)

// Decode parses one exchange buffer (without STH) received in a session at level lvl.
// It is lenient where the RFC allows and strict where a wrong value would mislead the
// session; every leniency below names its RFC section. An SSID is read with the layout
// of its own SSIDLEV. The returned command is a value (SFID, not *SFID); byte slices in
// it (AUCH challenge, AURP response, EERP/NERP hash and signature, DATA payload) alias
// oeb. Errors are *DecodeError carrying the ESID reason to end the session with.
func Decode(oeb []byte, lvl Level) (Command, error) {
	if len(oeb) == 0 {
		return nil, &DecodeError{Reason: ReasonLength, Err: detail(ErrLength, "empty exchange buffer")}
	}
	d := decoder{b: oeb, cmd: CommandName(oeb[0])}
	if d.cmd == "" {
		return nil, &DecodeError{Reason: ReasonUnknownCommand,
			Err: &valueError{string(oeb[:1]), detail(ErrUnknown, "is not a command code")}}
	}
	code := oeb[0]
	switch code {
	case CodeSSRM:
		return d.ssrm()
	case CodeSSID:
		return d.ssid()
	}
	l := NormalizeLevel(lvl)
	if l == 0 {
		return nil, &DecodeError{Command: d.cmd, Reason: ReasonUnspecified,
			Err: detail(ErrRange, fmt.Sprintf("protocol level %d is not defined", int(lvl)))}
	}
	switch code {
	case CodeSECD, CodeAUCH, CodeAURP:
		if l < Level20 {
			return nil, d.notAtLevel(l)
		}
	case CodeNERP:
		if l < Level14 {
			return nil, d.notAtLevel(l)
		}
	}
	switch code {
	case CodeSECD:
		return d.fixed(SECD{}, 1)
	case CodeCD:
		return d.fixed(CD{}, 1)
	case CodeRTR:
		return d.fixed(RTR{}, 1)
	case CodeCDT:
		// CDTRSV1 is reserved: its content is not checked (§5.3: reserved fields "should"
		// be spaces; robustness principle of §8.2).
		return d.fixed(CDT{}, 3)
	case CodeDATA:
		return DATA{Payload: oeb[1:]}, nil
	case CodeSFID:
		return d.sfid(l)
	case CodeSFPA:
		return d.sfpa(l)
	case CodeSFNA:
		return d.sfna(l)
	case CodeEFID:
		return d.efid(l)
	case CodeEFPA:
		return d.efpa()
	case CodeEFNA:
		return d.efna(l)
	case CodeESID:
		return d.esid()
	case CodeAUCH:
		return d.auch()
	case CodeAURP:
		return d.aurp()
	case CodeEERP:
		return d.eerp(l)
	case CodeNERP:
		return d.nerp(l)
	}
	return nil, &DecodeError{Command: d.cmd, Reason: ReasonUnknownCommand, Err: ErrUnknown}
}

type decoder struct {
	b   []byte
	cmd string
	err *DecodeError
}

func (d *decoder) notAtLevel(l Level) error {
	return &DecodeError{Command: d.cmd, Reason: ReasonUnknownCommand,
		Err: detail(ErrNotAtLevel, d.cmd+" does not exist at protocol level "+l.String())}
}

func (d *decoder) lengthError(want string) *DecodeError {
	return &DecodeError{Command: d.cmd, Reason: ReasonLength,
		Err: detail(ErrLength, fmt.Sprintf("%d octets, the layout needs %s", len(d.b), want))}
}

func (d *decoder) fixedLen(n int) error {
	if len(d.b) != n {
		return d.lengthError(fmt.Sprint(n))
	}
	return nil
}

// fixed returns c if the buffer has the command's fixed length n.
func (d *decoder) fixed(c Command, n int) (Command, error) {
	if err := d.fixedLen(n); err != nil {
		return nil, err
	}
	return c, nil
}

func (d *decoder) fail(field string, err error) {
	if d.err == nil {
		d.err = &DecodeError{Command: d.cmd, Field: field, Reason: ReasonInvalidData, Err: err}
	}
}

// result returns c, or the first field error.
func (d *decoder) result(c Command) (Command, error) {
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// str reads an X(n) field. Received Strings are accepted with any printable ASCII
// character, lower case included, and trailing padding is removed: partners are known
// to send lower case names and passwords, and §8.2 asks to be liberal when receiving.
// Control characters and octets above 0x7E are refused (§5.1.2: ISO 646 IRV).
func (d *decoder) str(field string, pos, n int) string {
	f := d.b[pos : pos+n]
	end := len(f)
	for end > 0 && f[end-1] == ' ' {
		end--
	}
	f = f[:end]
	for _, c := range f {
		if c < 0x20 || c > 0x7E {
			d.fail(field, &valueError{string(f), detail(ErrCharacterSet, fmt.Sprintf("contains octet 0x%02X", c))})
			return ""
		}
	}
	return string(f)
}

// num reads a 9(n) field of decimal digits (n <= 18).
func (d *decoder) num(field string, pos, n int) int64 {
	f := d.b[pos : pos+n]
	var v int64
	for _, c := range f {
		if c < '0' || c > '9' {
			d.fail(field, &valueError{string(f), ErrNotNumeric})
			return 0
		}
		v = v*10 + int64(c-'0')
	}
	return v
}

func (d *decoder) digits(field string, pos, n int) string {
	f := d.b[pos : pos+n]
	if !allDigitsB(f) {
		d.fail(field, &valueError{string(f), ErrNotNumeric})
		return ""
	}
	return string(f)
}

func allDigitsB(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// yn reads a Y/N indicator; lower case is accepted (§8.2 robustness).
func (d *decoder) yn(field string, pos int) bool {
	switch d.b[pos] {
	case 'Y', 'y':
		return true
	case 'N', 'n':
		return false
	}
	d.fail(field, &valueError{string(d.b[pos : pos+1]), detail(ErrRange, "is not Y or N")})
	return false
}

// oneOf reads a one-octet F field, upper-casing a lower-case letter (§8.2 robustness).
func (d *decoder) oneOf(field string, pos int, allowed string) byte {
	c := d.b[pos]
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	for i := 0; i < len(allowed); i++ {
		if allowed[i] == c {
			return c
		}
	}
	d.fail(field, &valueError{string(d.b[pos : pos+1]), detail(ErrRange, "is not one of "+allowed)})
	return 0
}

// cr checks a carriage return field: 0x0D or 0x8D (§5.3.1, §5.3.2, §5.3.11 allow both).
func (d *decoder) cr(field string, pos int) {
	if c := d.b[pos]; c != 0x0D && c != 0x8D {
		d.fail(field, detail(ErrRange, fmt.Sprintf("octet 0x%02X is not a carriage return (0x0D or 0x8D)", c)))
	}
}

// text reads a 9(3) length at pos and returns the UTF-8 text behind it and the position
// after it. A length that runs past the buffer is a length error (ESID 07).
func (d *decoder) text(lenField, field string, pos int) (string, int) {
	n := int(d.num(lenField, pos, 3))
	if d.err != nil {
		return "", pos
	}
	pos += 3
	if pos+n > len(d.b) {
		if d.err == nil {
			d.err = d.lengthError(fmt.Sprintf("%d more for %s", pos+n-len(d.b), field))
		}
		return "", pos
	}
	t := d.b[pos : pos+n]
	if !utf8.Valid(t) {
		d.fail(field, ErrUTF8)
		return "", pos
	}
	return string(t), pos + n
}

// u16 reads a U(2) length and the binary field behind it (aliasing the buffer).
func (d *decoder) u16(field string, pos int) ([]byte, int) {
	if d.err != nil {
		return nil, pos
	}
	if pos+2 > len(d.b) {
		d.err = d.lengthError(fmt.Sprintf("a %s length field at %d", field, pos))
		return nil, pos
	}
	n := int(d.b[pos])<<8 | int(d.b[pos+1])
	pos += 2
	if pos+n > len(d.b) {
		d.err = d.lengthError(fmt.Sprintf("%d more for %s", pos+n-len(d.b), field))
		return nil, pos
	}
	if n == 0 {
		return nil, pos
	}
	return d.b[pos : pos+n : pos+n], pos + n
}

func (d *decoder) end(pos int) {
	if d.err == nil && pos != len(d.b) {
		d.err = d.lengthError(fmt.Sprint(pos))
	}
}

// stamp reads a date and time: CCYYMMDD HHMMSScccc from 1.4 on; the RFC 2204 YYMMDD
// HHMMSS is widened (years 70-99 are 19YY, 00-69 are 20YY; the counter becomes 0000).
// Only the digits are checked: the stamp identifies the file and must be echoed
// unchanged in EERP/NERP, and counters of 0000 are common (digest §13 item 4).
func (d *decoder) stamp(prefix string, pos int, l Level) Stamp {
	if l >= Level14 {
		return Stamp{Date: d.digits(prefix+"DATE", pos, 8), Time: d.digits(prefix+"TIME", pos+8, 10)}
	}
	date := d.digits(prefix+"DATE", pos, 6)
	tm := d.digits(prefix+"TIME", pos+6, 6)
	if d.err != nil {
		return Stamp{}
	}
	century := "20"
	if date[0] >= '7' {
		century = "19"
	}
	return Stamp{Date: century + date, Time: tm + "0000"}
}

func (d *decoder) ssrm() (Command, error) {
	// §5.3.1 fixes 19 octets; a peer that drops the trailing space of SSRMMSG is accepted
	// (18 octets), as is a 0x8D CR (digest §13 item 6).
	if len(d.b) != 19 && len(d.b) != 18 {
		return nil, d.lengthError("19")
	}
	if string(d.b[1:17]) != ssrmMessage[:16] || (len(d.b) == 19 && d.b[17] != ' ') {
		d.fail("SSRMMSG", &valueError{string(d.b[1 : len(d.b)-1]), detail(ErrRange, "is not \"ODETTE FTP READY \"")})
	}
	d.cr("SSRMCR", len(d.b)-1)
	return d.result(SSRM{})
}

func (d *decoder) ssid() (Command, error) {
	if len(d.b) != 61 {
		return nil, d.lengthError("61")
	}
	var c SSID
	lev := d.b[1]
	if lev < '1' || lev > '9' {
		// Any level digit is accepted, also 3 and 6-9 that no RFC defines: the session
		// answers with the lowest level it supports or refuses (§5.3.2).
		d.fail("SSIDLEV", &valueError{string(d.b[1:2]), detail(ErrRange, "is not a level digit 1-9")})
	}
	c.Level = Level(lev - '0')
	c.ID = d.str("SSIDCODE", 2, 25)
	c.Password = d.str("SSIDPSWD", 27, 8)
	c.BufferSize = int(d.num("SSIDSDEB", 35, 5))
	if d.err == nil && (c.BufferSize < 128) {
		d.fail("SSIDSDEB", detail(ErrRange, fmt.Sprintf("%d is below the minimum 128", c.BufferSize)))
	}
	c.Mode = Mode(d.oneOf("SSIDSR", 40, "SRB"))
	c.Compression = d.yn("SSIDCMPR", 41)
	c.Restart = d.yn("SSIDREST", 42)
	c.SpecialLogic = d.yn("SSIDSPEC", 43)
	c.Credit = int(d.num("SSIDCRED", 44, 3))
	if d.err == nil && c.Credit == 0 {
		d.fail("SSIDCRED", detail(ErrRange, "credit 000 is below 1"))
	}
	if c.Level >= Level20 {
		c.SecureAuth = d.yn("SSIDAUTH", 47)
	}
	// Below level 5 octet 47 belongs to SSIDRSV1 and is ignored: a 2.0 Responder that
	// falls back is known to leave its SSIDAUTH there (RFC 2204 §5.3.2, digest §13 item
	// 27). Reserved octets 48-51 are not checked either (§5.3, §8.2).
	c.User = d.str("SSIDUSER", 52, 8)
	d.cr("SSIDCR", 60)
	return d.result(c)
}

func (d *decoder) sfid(l Level) (Command, error) {
	if l >= Level20 {
		if len(d.b) < 165 {
			return nil, d.lengthError("at least 165")
		}
	} else if len(d.b) != 128 {
		return nil, d.lengthError("128")
	}
	var c SFID
	c.DatasetName = d.str("SFIDDSN", 1, 26)
	// SFIDRSV1 (3 octets, 9 in RFC 2204) is reserved and not checked (§5.3, §8.2).
	if l >= Level14 {
		c.Stamp = d.stamp("SFID", 30, l)
	} else {
		c.Stamp = d.stamp("SFID", 36, l)
	}
	c.User = d.str("SFIDUSER", 48, 8)
	c.Destination = d.str("SFIDDEST", 56, 25)
	c.Originator = d.str("SFIDORIG", 81, 25)
	c.Format = Format(d.oneOf("SFIDFMT", 106, "FVUT"))
	c.MaxRecordSize = int(d.num("SFIDLRECL", 107, 5))
	if l < Level20 {
		c.FileSize = d.num("SFIDFSIZ", 112, 7)
		c.RestartPos = d.num("SFIDREST", 119, 9)
		return d.result(c)
	}
	c.FileSize = d.num("SFIDFSIZ", 112, 13)
	c.OriginalSize = d.num("SFIDOSIZ", 125, 13)
	c.RestartPos = d.num("SFIDREST", 138, 17)
	c.Security = int(d.num("SFIDSEC", 155, 2))
	if d.err == nil && c.Security > 3 {
		d.fail("SFIDSEC", &valueError{string(d.b[155:157]), detail(ErrRange, "is not 00-03")})
	}
	c.Cipher = int(d.num("SFIDCIPH", 157, 2))
	c.Compressed = d.oneOf("SFIDCOMP", 159, "01") == '1'
	c.Enveloped = d.oneOf("SFIDENV", 160, "01") == '1'
	c.SignedReceipt = d.yn("SFIDSIGN", 161)
	var pos int
	c.Description, pos = d.text("SFIDDESCL", "SFIDDESC", 162)
	d.end(pos)
	return d.result(c)
}

func (d *decoder) sfpa(l Level) (Command, error) {
	n := 9
	if l >= Level20 {
		n = 17
	}
	if err := d.fixedLen(1 + n); err != nil {
		return nil, err
	}
	return d.result(SFPA{AnswerCount: d.num("SFPAACNT", 1, n)})
}

func (d *decoder) sfna(l Level) (Command, error) {
	if l < Level20 {
		if err := d.fixedLen(4); err != nil {
			return nil, err
		}
	} else if len(d.b) < 7 {
		return nil, d.lengthError("at least 7")
	}
	var c SFNA
	c.Reason = int(d.num("SFNAREAS", 1, 2))
	c.Retry = d.yn("SFNARRTR", 3)
	if l >= Level20 {
		var pos int
		c.Text, pos = d.text("SFNAREASL", "SFNAREAST", 4)
		d.end(pos)
	}
	return d.result(c)
}

func (d *decoder) efid(l Level) (Command, error) {
	if l >= Level20 {
		if err := d.fixedLen(35); err != nil {
			return nil, err
		}
		return d.result(EFID{RecordCount: d.num("EFIDRCNT", 1, 17), UnitCount: d.num("EFIDUCNT", 18, 17)})
	}
	if err := d.fixedLen(22); err != nil {
		return nil, err
	}
	return d.result(EFID{RecordCount: d.num("EFIDRCNT", 1, 9), UnitCount: d.num("EFIDUCNT", 10, 12)})
}

func (d *decoder) efpa() (Command, error) {
	if err := d.fixedLen(2); err != nil {
		return nil, err
	}
	return d.result(EFPA{ChangeDirection: d.yn("EFPACD", 1)})
}

func (d *decoder) efna(l Level) (Command, error) {
	if l < Level20 {
		if err := d.fixedLen(3); err != nil {
			return nil, err
		}
		return d.result(EFNA{Reason: int(d.num("EFNAREAS", 1, 2))})
	}
	if len(d.b) < 6 {
		return nil, d.lengthError("at least 6")
	}
	var c EFNA
	c.Reason = int(d.num("EFNAREAS", 1, 2))
	var pos int
	c.Text, pos = d.text("EFNAREASL", "EFNAREAST", 3)
	d.end(pos)
	return d.result(c)
}

// esid accepts both layouts at every level: the 4-octet 1.x form (F, reason, CR) and
// the 2.0 form with text. An ESID may answer our SSID before the level is agreed, and a
// 2.0 Responder is known to refuse a 1.4 SSID in the 2.0 layout (digest §13 item 27).
// The two forms cannot be confused: a 2.0 ESID is at least 7 octets.
func (d *decoder) esid() (Command, error) {
	var c ESID
	if len(d.b) == 4 {
		c.Reason = int(d.num("ESIDREAS", 1, 2))
		d.cr("ESIDCR", 3)
		return d.result(c)
	}
	if len(d.b) < 7 {
		return nil, d.lengthError("4 or at least 7")
	}
	c.Reason = int(d.num("ESIDREAS", 1, 2))
	var pos int
	c.Text, pos = d.text("ESIDREASL", "ESIDREAST", 3)
	if d.err == nil {
		if pos != len(d.b)-1 {
			d.err = d.lengthError(fmt.Sprint(pos + 1))
		} else {
			d.cr("ESIDCR", pos)
		}
	}
	return d.result(c)
}

func (d *decoder) auch() (Command, error) {
	if len(d.b) < 3 {
		return nil, d.lengthError("at least 3")
	}
	ch, pos := d.u16("AUCHCHLL", 1)
	d.end(pos)
	return d.result(AUCH{Challenge: ch})
}

func (d *decoder) aurp() (Command, error) {
	if err := d.fixedLen(1 + AURPLength); err != nil {
		return nil, err
	}
	return AURP{Response: d.b[1 : 1+AURPLength : 1+AURPLength]}, nil
}

func (d *decoder) eerp(l Level) (Command, error) {
	if l < Level20 {
		if err := d.fixedLen(106); err != nil {
			return nil, err
		}
	} else if len(d.b) < 106 {
		return nil, d.lengthError("at least 110")
	}
	var c EERP
	c.DatasetName = d.str("EERPDSN", 1, 26)
	if l >= Level14 {
		c.Stamp = d.stamp("EERP", 30, l)
	} else {
		c.Stamp = d.stamp("EERP", 36, l)
	}
	c.User = d.str("EERPUSER", 48, 8)
	c.Destination = d.str("EERPDEST", 56, 25)
	c.Originator = d.str("EERPORIG", 81, 25)
	if l >= Level20 && len(d.b) > 106 {
		// A 2.0 EERP that ends after EERPORIG (106 octets) is read as unsigned: some
		// stacks omit the zero length fields (digest §13 item 21, §8.2 robustness).
		pos := 106
		c.Hash, pos = d.u16("EERPHSHL", pos)
		c.Signature, pos = d.u16("EERPSIGL", pos)
		d.end(pos)
	}
	return d.result(c)
}

func (d *decoder) nerp(l Level) (Command, error) {
	if l < Level20 {
		if err := d.fixedLen(128); err != nil {
			return nil, err
		}
	} else if len(d.b) < 131 {
		return nil, d.lengthError("at least 135")
	}
	var c NERP
	c.DatasetName = d.str("NERPDSN", 1, 26)
	c.Stamp = d.stamp("NERP", 33, l)
	c.Destination = d.str("NERPDEST", 51, 25)
	c.Originator = d.str("NERPORIG", 76, 25)
	c.Creator = d.str("NERPCREA", 101, 25)
	c.Reason = int(d.num("NERPREAS", 126, 2))
	if l >= Level20 {
		var pos int
		c.Text, pos = d.text("NERPREASL", "NERPREAST", 128)
		// As for EERP, a NERP that stops before NERPHSHL is read as unsigned (digest §13
		// item 21).
		if d.err == nil && pos < len(d.b) {
			c.Hash, pos = d.u16("NERPHSHL", pos)
			c.Signature, pos = d.u16("NERPSIGL", pos)
		}
		d.end(pos)
	}
	return d.result(c)
}
