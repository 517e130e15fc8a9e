package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// levelsFor returns the levels at which a command exists.
func levelsFor(code byte) []Level {
	switch code {
	case CodeSECD, CodeAUCH, CodeAURP:
		return levels20
	case CodeNERP:
		return []Level{Level14, Level20}
	}
	return allLevels
}

const stringSet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ/-.&()"

func randString(r *rand.Rand, max int, required bool) string {
	n := r.IntN(max + 1)
	if required && n == 0 {
		n = 1
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = stringSet[r.IntN(len(stringSet))]
		// A space may appear inside a String only as trailing padding, which the decoder
		// removes; keep it out of generated values.
	}
	return string(b)
}

var textSamples = []string{"", "a", "Größe ≤ 12 MiB", "日本語のテキスト", "tab\tand\nnewline", "😀 emoji", "x\x00y"}

func randText(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return ""
	case 1:
		return textSamples[r.IntN(len(textSamples))]
	case 2:
		return strings.Repeat("é", r.IntN(500)) // up to 998 octets
	}
	// Exactly 999 octets, the maximum.
	return strings.Repeat("x", 999)
}

func randBytes(r *rand.Rand, max int) []byte {
	n := r.IntN(max + 1)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randDigits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

func randStamp(r *rand.Rand, l Level) Stamp {
	if NormalizeLevel(l) >= Level14 {
		return Stamp{Date: randDigits(r, 8), Time: randDigits(r, 10)}
	}
	// 1.3 frames carry YYMMDD HHMMSS; the decoder widens with the 1970 pivot and a 0000
	// counter, so only such values survive a round trip.
	yy := randDigits(r, 2)
	cc := "20"
	if yy[0] >= '7' {
		cc = "19"
	}
	return Stamp{Date: cc + yy + randDigits(r, 4), Time: randDigits(r, 6) + "0000"}
}

func randReason(r *rand.Rand, cmd byte, l Level) int {
	for {
		c := r.IntN(100)
		if ReasonValid(cmd, c, l) {
			return c
		}
	}
}

func randCommand(r *rand.Rand, code byte, l Level) Command {
	n := NormalizeLevel(l)
	is20 := n >= Level20
	switch code {
	case CodeSSRM:
		return SSRM{}
	case CodeSSID:
		lv := []Level{Level12, Level13, Level14, Level20}[r.IntN(4)]
		return SSID{Level: lv, ID: randString(r, 25, true), Password: randString(r, 8, false),
			BufferSize: 128 + r.IntN(99999-127), Mode: Mode("SRB"[r.IntN(3)]), Compression: r.IntN(2) == 0,
			Restart: r.IntN(2) == 0, SpecialLogic: r.IntN(2) == 0, Credit: 1 + r.IntN(999),
			SecureAuth: lv == Level20 && r.IntN(2) == 0, User: randString(r, 8, false)}
	case CodeSECD:
		return SECD{}
	case CodeAUCH:
		ch := randBytes(r, 2000)
		if len(ch) == 0 {
			ch = []byte{1}
		}
		return AUCH{Challenge: ch}
	case CodeAURP:
		b := make([]byte, 20)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return AURP{Response: b}
	case CodeSFID:
		c := SFID{DatasetName: randString(r, 26, true), Stamp: randStamp(r, l), User: randString(r, 8, false),
			Destination: randString(r, 25, true), Originator: randString(r, 25, true),
			Format: Format("FVUT"[r.IntN(4)])}
		if c.Format == FormatFixed || c.Format == FormatVariable {
			c.MaxRecordSize = r.IntN(100000)
		}
		c.FileSize = r.Int64N(MaxFileSize(l) + 1)
		c.RestartPos = r.Int64N(MaxRestart(l) + 1)
		if is20 {
			c.OriginalSize = r.Int64N(max13 + 1)
			c.Security = r.IntN(4)
			c.Cipher = r.IntN(100)
			c.Compressed = r.IntN(2) == 0
			c.Enveloped = r.IntN(2) == 0
			c.SignedReceipt = r.IntN(2) == 0
			c.Description = randText(r)
		}
		return c
	case CodeSFPA:
		return SFPA{AnswerCount: r.Int64N(MaxRestart(l) + 1)}
	case CodeSFNA:
		c := SFNA{Reason: randReason(r, CodeSFNA, l), Retry: r.IntN(2) == 0}
		if is20 {
			c.Text = randText(r)
		}
		return c
	case CodeDATA:
		return DATA{Payload: randBytes(r, 4000)}
	case CodeCDT:
		return CDT{}
	case CodeEFID:
		return EFID{RecordCount: r.Int64N(MaxRecordCount(l) + 1), UnitCount: r.Int64N(MaxUnitCount(l) + 1)}
	case CodeEFPA:
		return EFPA{ChangeDirection: r.IntN(2) == 0}
	case CodeEFNA:
		c := EFNA{Reason: randReason(r, CodeEFNA, l)}
		if is20 {
			c.Text = randText(r)
		}
		return c
	case CodeESID:
		c := ESID{Reason: randReason(r, CodeESID, l)}
		if is20 {
			c.Text = randText(r)
		}
		return c
	case CodeCD:
		return CD{}
	case CodeEERP:
		c := EERP{DatasetName: randString(r, 26, true), Stamp: randStamp(r, l), User: randString(r, 8, false),
			Destination: randString(r, 25, true), Originator: randString(r, 25, true)}
		if is20 {
			c.Hash = randBytes(r, 64)
			c.Signature = randBytes(r, 3000)
		}
		return c
	case CodeNERP:
		c := NERP{DatasetName: randString(r, 26, true), Stamp: randStamp(r, l),
			Destination: randString(r, 25, true), Originator: randString(r, 25, true),
			Creator: randString(r, 25, true), Reason: randReason(r, CodeNERP, l)}
		if is20 {
			c.Text = randText(r)
			c.Hash = randBytes(r, 64)
			c.Signature = randBytes(r, 3000)
		}
		return c
	case CodeRTR:
		return RTR{}
	}
	panic("unknown code")
}

// TestRoundTripAllCommands encodes random valid values of every command at every level
// where it exists, decodes them and compares.
func TestRoundTripAllCommands(t *testing.T) {
	r := rand.New(rand.NewPCG(5024, 2204))
	for _, code := range []byte("IXJASH23DCT45FRENP") {
		for _, l := range levelsFor(code) {
			for i := 0; i < 150; i++ {
				c := randCommand(r, code, l)
				b, err := Encode(nil, c, l)
				if err != nil {
					t.Fatalf("%s at %s: Encode(%#v): %v", CommandName(code), l, c, err)
				}
				got, err := Decode(b, l)
				if err != nil {
					t.Fatalf("%s at %s: Decode(%x): %v", CommandName(code), l, b, err)
				}
				if !reflect.DeepEqual(got, c) {
					t.Fatalf("%s at %s:\n got %#v\nwant %#v", CommandName(code), l, got, c)
				}
				// A pointer encodes the same.
				pb, err := Encode(nil, ptrTo(c), l)
				if err != nil || !bytes.Equal(pb, b) {
					t.Fatalf("%s at %s: pointer encoding differs: %v", CommandName(code), l, err)
				}
			}
		}
	}
}

// ptrTo returns a pointer to a copy of the command value.
func ptrTo(c Command) Command {
	v := reflect.New(reflect.TypeOf(c))
	v.Elem().Set(reflect.ValueOf(c))
	return v.Interface().(Command)
}

func TestEncodeAppendsAndKeepsDstOnError(t *testing.T) {
	dst := []byte("prefix")
	out, err := Encode(dst, CD{}, Level20)
	if err != nil || string(out) != "prefixR" {
		t.Fatalf("got %q, %v", out, err)
	}
	out, err = Encode(dst, SFID{DatasetName: "lower"}, Level20)
	if err == nil || string(out) != "prefix" {
		t.Fatalf("got %q, %v", out, err)
	}
}

// TestTruncatedFramesFail decodes every proper prefix of every golden frame at each of
// its levels: each must fail with a *DecodeError, never panic, except the documented
// leniency for 2.0 EERP/NERP without hash and signature fields.
func TestTruncatedFramesFail(t *testing.T) {
	for _, c := range goldenCases() {
		if c.cmd.Code() == CodeDATA {
			continue // any prefix of a DATA buffer is a DATA buffer; see TestDecodeDataTruncated
		}
		frame, err := Encode(nil, c.cmd, c.levels[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range c.levels {
			for n := 0; n < len(frame); n++ {
				got, err := Decode(frame[:n], l)
				if err == nil {
					if lenientPrefix(c.cmd, n) {
						continue
					}
					t.Errorf("%s at %s: prefix of %d/%d octets decoded to %#v", c.name, l, n, len(frame), got)
					continue
				}
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Errorf("%s: prefix %d: error %T is not a *DecodeError", c.name, n, err)
				} else if n > 0 && de.Reason != ReasonLength && de.Reason != ReasonInvalidData {
					t.Errorf("%s: prefix %d: reason %02d", c.name, n, de.Reason)
				}
			}
		}
	}
}

// lenientPrefix reports the prefix lengths Decode accepts on purpose: a 2.0 EERP that
// ends after EERPORIG and a 2.0 NERP that ends after NERPREAST (digest §13 item 21).
func lenientPrefix(c Command, n int) bool {
	switch v := c.(type) {
	case EERP:
		return n == 106
	case NERP:
		return n == 131+len(v.Text)
	}
	return false
}

func TestDecodeErrors(t *testing.T) {
	sfid20 := func() []byte {
		b, _ := Encode(nil, goldenCases()[6].cmd, Level20) // sfid_v20
		return b
	}
	ssid := func(mod func(b []byte)) []byte {
		b, _ := Encode(nil, SSID{Level: Level20, ID: "A", BufferSize: 4096, Mode: ModeBoth, Credit: 5}, Level20)
		mod(b)
		return b
	}
	set := func(b []byte, pos int, s string) []byte { copy(b[pos:], s); return b }
	cases := []struct {
		name   string
		oeb    []byte
		lvl    Level
		reason int
		field  string
		msg    string
	}{
		{"empty", nil, Level20, ReasonLength, "", ""},
		{"unknown command", []byte("Z123"), Level20, ReasonUnknownCommand, "", ""},
		{"lower-case command letter", []byte("r"), Level20, ReasonUnknownCommand, "", ""},
		{"SFID LRECL not numeric", set(sfid20(), 107, "12a45"), Level20, ReasonInvalidData, "SFIDLRECL",
			`SFID: field SFIDLRECL: "12a45" is not numeric`},
		{"SFID short", sfid20()[:164], Level20, ReasonLength, "", ""},
		{"SFID longer than DESCL", append(sfid20(), 'x'), Level20, ReasonLength, "", ""},
		{"SFID DESCL past the end", set(sfid20(), 162, "010"), Level20, ReasonLength, "", ""},
		{"SFID 2.0 frame at 1.4", sfid20(), Level14, ReasonLength, "", ""},
		{"SFID SEC 04", set(sfid20(), 155, "04"), Level20, ReasonInvalidData, "SFIDSEC", ""},
		{"SFID COMP 2", set(sfid20(), 159, "2"), Level20, ReasonInvalidData, "SFIDCOMP", ""},
		{"SFID FMT X", set(sfid20(), 106, "X"), Level20, ReasonInvalidData, "SFIDFMT", ""},
		{"SFID control char in DSN", set(sfid20(), 3, "\x01"), Level20, ReasonInvalidData, "SFIDDSN", ""},
		{"SFID 8-bit char in DEST", set(sfid20(), 60, "\xc4"), Level20, ReasonInvalidData, "SFIDDEST", ""},
		{"SFID date not numeric", set(sfid20(), 30, "2024-1-1"), Level20, ReasonInvalidData, "SFIDDATE", ""},
		{"SFID DESC not UTF-8", append(set(sfid20(), 162, "002"), 0xff, 0xfe), Level20, ReasonInvalidData, "SFIDDESC", ""},
		{"SSID bad CR", ssid(func(b []byte) { b[60] = '\n' }), Level20, ReasonInvalidData, "SSIDCR", ""},
		{"SSID SDEB below 128", ssid(func(b []byte) { copy(b[35:], "00127") }), Level20, ReasonInvalidData, "SSIDSDEB", ""},
		{"SSID credit 000", ssid(func(b []byte) { copy(b[44:], "000") }), Level20, ReasonInvalidData, "SSIDCRED", ""},
		{"SSID level 0", ssid(func(b []byte) { b[1] = '0' }), Level20, ReasonInvalidData, "SSIDLEV", ""},
		{"SSID mode X", ssid(func(b []byte) { b[40] = 'X' }), Level20, ReasonInvalidData, "SSIDSR", ""},
		{"SSID AUTH ? at 2.0", ssid(func(b []byte) { b[47] = '?' }), Level20, ReasonInvalidData, "SSIDAUTH", ""},
		{"SSID 60 octets", ssid(func([]byte) {})[:60], Level20, ReasonLength, "", ""},
		{"SSRM wrong text", []byte("IODETTE FTP READX \r"), Level20, ReasonInvalidData, "SSRMMSG", ""},
		{"SECD at 1.4", []byte("J"), Level14, ReasonUnknownCommand, "", ""},
		{"AUCH at 1.3", []byte("A\x00\x01x"), Level13, ReasonUnknownCommand, "", ""},
		{"NERP at 1.3", bytes.Repeat([]byte("N"), 128), Level13, ReasonUnknownCommand, "", ""},
		{"AURP 19 octets", append([]byte("S"), make([]byte, 19)...), Level20, ReasonLength, "", ""},
		{"AUCH length past end", []byte("A\x00\x05abc"), Level20, ReasonLength, "", ""},
		{"AUCH shorter than length", []byte("A\x00\x02abc"), Level20, ReasonLength, "", ""},
		{"CD with extra octet", []byte("R "), Level20, ReasonLength, "", ""},
		{"CDT short", []byte("C "), Level20, ReasonLength, "", ""},
		{"EFPA X", []byte("4X"), Level20, ReasonInvalidData, "EFPACD", ""},
		{"EFID 2.0 at 1.4", append([]byte("T"), bytes.Repeat([]byte("0"), 34)...), Level14, ReasonLength, "", ""},
		{"EFID count not numeric", append([]byte("T"), bytes.Repeat([]byte(" "), 21)...), Level13, ReasonInvalidData, "EFIDRCNT", ""},
		{"SFNA text length past end", []byte("301N005abc"), Level20, ReasonLength, "", ""},
		{"SFNA text not UTF-8", []byte("301N002\xc3\x28"), Level20, ReasonInvalidData, "SFNAREAST", ""},
		{"SFNA retry X", []byte("301X"), Level14, ReasonInvalidData, "SFNARRTR", ""},
		{"ESID without CR", []byte("F00000"), Level20, ReasonLength, "", ""},
		{"ESID text runs into CR", []byte("F00001\r"), Level20, ReasonLength, "", ""},
		{"ESID bad CR 1.x", []byte("F00X"), Level14, ReasonInvalidData, "ESIDCR", ""},
		{"EERP 2.0 hash length past end", append(eerp106(), 0, 5, 1), Level20, ReasonLength, "", ""},
		{"EERP 2.0 signature length missing", append(eerp106(), 0, 1, 1), Level20, ReasonLength, "", ""},
		{"EERP 2.0 one octet after ORIG", append(eerp106(), 0), Level20, ReasonLength, "", ""},
		{"EERP 2.0 trailing octet", append(eerp106(), 0, 0, 0, 0, 0), Level20, ReasonLength, "", ""},
		{"NERP 2.0 trailing octet", append(nerp20(), 0), Level20, ReasonLength, "", ""},
		{"level 3", []byte("R"), Level(3), ReasonUnspecified, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode(c.oeb, c.lvl)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %#v, %v; want a *DecodeError", got, err)
			}
			if de.Reason != c.reason {
				t.Errorf("reason %02d, want %02d (%v)", de.Reason, c.reason, err)
			}
			if c.field != "" && de.Field != c.field {
				t.Errorf("field %q, want %q (%v)", de.Field, c.field, err)
			}
			if c.msg != "" && err.Error() != c.msg {
				t.Errorf("message %q, want %q", err.Error(), c.msg)
			}
			if got != nil {
				t.Errorf("a command came back with the error: %#v", got)
			}
		})
	}
}

// TestDecodeLeniency covers what the decoder accepts beyond the strict RFC form.
func eerp106() []byte {
	b, _ := Encode(nil, EERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B"}, Level14)
	return b
}

func nerp20() []byte {
	b, _ := Encode(nil, NERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B", Creator: "C", Reason: 99}, Level20)
	return b
}

func TestDecodeLeniency(t *testing.T) {
	mustDecode := func(oeb []byte, l Level) Command {
		t.Helper()
		c, err := Decode(oeb, l)
		if err != nil {
			t.Fatalf("Decode(%q): %v", oeb, err)
		}
		return c
	}
	// SSRM with CR 0x8D, and without the trailing space.
	mustDecode([]byte("IODETTE FTP READY \x8d"), Level20)
	mustDecode([]byte("IODETTE FTP READY\r"), Level20)

	ssidBytes, _ := Encode(nil, SSID{Level: Level14, ID: "ABC", Password: "PW", BufferSize: 4096, Mode: ModeBoth, Credit: 5}, Level20)
	// 1.x SSID: octet 47 is reserved and ignored ('N' from a falling-back 2.0 peer), as
	// are non-space reserved octets; lower case in Strings and flags; CR 0x8D.
	b := bytes.Clone(ssidBytes)
	copy(b[2:], "abc")
	copy(b[27:], "pw")
	b[40], b[41] = 'b', 'y'
	copy(b[47:], "NXXXX")
	b[60] = 0x8D
	got := mustDecode(b, Level20).(SSID)
	want := SSID{Level: Level14, ID: "abc", Password: "pw", BufferSize: 4096, Mode: ModeBoth, Compression: true, Credit: 5}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// SSID layout follows its own SSIDLEV, whatever level is passed.
	if mustDecode(ssidBytes, Level13).(SSID).Level != Level14 {
		t.Error("SSIDLEV not taken from the frame")
	}
	// Undefined level digits are passed on for the session to negotiate.
	b = bytes.Clone(ssidBytes)
	b[1] = '7'
	b[47] = 'N' // levels above 5 are read with the 2.0 layout
	if mustDecode(b, Level20).(SSID).Level != 7 {
		t.Error("SSIDLEV 7 not passed on")
	}

	// CDT reserved octets need not be spaces.
	mustDecode([]byte("CXX"), Level20)

	// ESID in either layout at either level (digest §13 item 27).
	if e := mustDecode([]byte("F04\r"), Level20).(ESID); e.Reason != 4 {
		t.Errorf("1.x ESID at 2.0: %+v", e)
	}
	if e := mustDecode([]byte("F04005wrong\x8d"), Level14).(ESID); e.Reason != 4 || e.Text != "wrong" {
		t.Errorf("2.0 ESID at 1.4: %+v", e)
	}

	// A 2.0 EERP ending after EERPORIG is read as unsigned.
	eerp, _ := Encode(nil, EERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B"}, Level20)
	if e := mustDecode(eerp[:106], Level20).(EERP); e.Hash != nil || e.Signature != nil || e.DatasetName != "F" {
		t.Errorf("short EERP: %+v", e)
	}

	// SFID lower-case format and flag, non-space reserved octets, lower-case DSN.
	sfid, _ := Encode(nil, SFID{DatasetName: "X", Stamp: stamp20, Destination: "A", Originator: "B", Format: FormatText}, Level20)
	copy(sfid[1:], "lower.case")
	copy(sfid[27:], "RSV")
	sfid[106] = 't'
	sfid[161] = 'y'
	s := mustDecode(sfid, Level20).(SFID)
	if s.DatasetName != "lower.case" || s.Format != FormatText || !s.SignedReceipt {
		t.Errorf("lenient SFID: %+v", s)
	}
	// Counter 0000 and any digits are accepted in a received stamp.
	copy(sfid[30:], "20241399")
	copy(sfid[38:], "9999990000")
	if s := mustDecode(sfid, Level20).(SFID); s.Stamp != (Stamp{"20241399", "9999990000"}) {
		t.Errorf("stamp %+v", s.Stamp)
	}
}

func TestEncodeStrict(t *testing.T) {
	okSFID := SFID{DatasetName: "FILE", Stamp: stamp20, Destination: "DEST", Originator: "ORIG", Format: FormatUnstructured}
	mod := func(f func(*SFID)) SFID { c := okSFID; f(&c); return c }
	okSSID := SSID{Level: Level20, ID: "ME", BufferSize: 4096, Mode: ModeBoth, Credit: 10}
	modSSID := func(f func(*SSID)) SSID { c := okSSID; f(&c); return c }
	cases := []struct {
		name  string
		cmd   Command
		lvl   Level
		field string
		err   error
	}{
		{"lower case DSN", mod(func(c *SFID) { c.DatasetName = "file" }), Level20, "SFIDDSN", ErrCharacterSet},
		{"embedded space", mod(func(c *SFID) { c.DatasetName = "MY FILE" }), Level20, "SFIDDSN", ErrCharacterSet},
		{"leading space", mod(func(c *SFID) { c.Destination = " DEST" }), Level20, "SFIDDEST", ErrCharacterSet},
		{"underscore", mod(func(c *SFID) { c.Originator = "A_B" }), Level20, "SFIDORIG", ErrCharacterSet},
		{"DSN too long", mod(func(c *SFID) { c.DatasetName = strings.Repeat("A", 27) }), Level20, "SFIDDSN", ErrRange},
		{"empty DSN", mod(func(c *SFID) { c.DatasetName = "" }), Level20, "SFIDDSN", ErrRange},
		{"bad format", mod(func(c *SFID) { c.Format = 'X' }), Level20, "SFIDFMT", ErrRange},
		{"U with LRECL", mod(func(c *SFID) { c.MaxRecordSize = 80 }), Level20, "SFIDLRECL", ErrRange},
		{"LRECL too big", mod(func(c *SFID) { c.Format = FormatFixed; c.MaxRecordSize = 100000 }), Level20, "SFIDLRECL", ErrRange},
		{"FSIZ above 9(7) at 1.4", mod(func(c *SFID) { c.FileSize = 10_000_000 }), Level14, "SFIDFSIZ", ErrRange},
		{"FSIZ above 9(13)", mod(func(c *SFID) { c.FileSize = max13 + 1 }), Level20, "SFIDFSIZ", ErrRange},
		{"negative FSIZ", mod(func(c *SFID) { c.FileSize = -1 }), Level20, "SFIDFSIZ", ErrRange},
		{"REST above 9(9) at 1.3", mod(func(c *SFID) { c.RestartPos = 1_000_000_000 }), Level13, "SFIDREST", ErrRange},
		{"OSIZ at 1.4", mod(func(c *SFID) { c.OriginalSize = 1 }), Level14, "SFIDOSIZ", ErrNotAtLevel},
		{"SEC at 1.3", mod(func(c *SFID) { c.Security = 1 }), Level13, "SFIDSEC", ErrNotAtLevel},
		{"SEC 4", mod(func(c *SFID) { c.Security = 4 }), Level20, "SFIDSEC", ErrRange},
		{"CIPH 100", mod(func(c *SFID) { c.Cipher = 100 }), Level20, "SFIDCIPH", ErrRange},
		{"SIGN at 1.4", mod(func(c *SFID) { c.SignedReceipt = true }), Level14, "SFIDSIGN", ErrNotAtLevel},
		{"DESC at 1.4", mod(func(c *SFID) { c.Description = "x" }), Level14, "SFIDDESC", ErrNotAtLevel},
		{"DESC 1000 octets", mod(func(c *SFID) { c.Description = strings.Repeat("x", 1000) }), Level20, "SFIDDESC", ErrRange},
		{"DESC not UTF-8", mod(func(c *SFID) { c.Description = "\xff" }), Level20, "SFIDDESC", ErrUTF8},
		{"date short", mod(func(c *SFID) { c.Stamp.Date = "2024013" }), Level20, "SFIDDATE", ErrNotNumeric},
		{"time not numeric", mod(func(c *SFID) { c.Stamp.Time = "12000000x1" }), Level13, "SFIDTIME", ErrNotNumeric},
		{"level 3", okSFID, Level(3), "", ErrRange},
		{"SSID level 3", modSSID(func(c *SSID) { c.Level = 3 }), Level20, "SSIDLEV", ErrRange},
		{"SSID SDEB 127", modSSID(func(c *SSID) { c.BufferSize = 127 }), Level20, "SSIDSDEB", ErrRange},
		{"SSID SDEB 100000", modSSID(func(c *SSID) { c.BufferSize = 100000 }), Level20, "SSIDSDEB", ErrRange},
		{"SSID credit 0", modSSID(func(c *SSID) { c.Credit = 0 }), Level20, "SSIDCRED", ErrRange},
		{"SSID credit 1000", modSSID(func(c *SSID) { c.Credit = 1000 }), Level20, "SSIDCRED", ErrRange},
		{"SSID mode", modSSID(func(c *SSID) { c.Mode = 'X' }), Level20, "SSIDSR", ErrRange},
		{"SSID auth at 1.4", modSSID(func(c *SSID) { c.Level = Level14; c.SecureAuth = true }), Level20, "SSIDAUTH", ErrNotAtLevel},
		{"SSID empty code", modSSID(func(c *SSID) { c.ID = "" }), Level20, "SSIDCODE", ErrRange},
		{"SSID lower-case password", modSSID(func(c *SSID) { c.Password = "secret" }), Level20, "SSIDPSWD", ErrCharacterSet},
		{"SFNA 15 at 1.4", SFNA{Reason: 15}, Level14, "SFNAREAS", ErrRange},
		{"SFNA 14 at 1.3", SFNA{Reason: 14}, Level13, "SFNAREAS", ErrRange},
		{"SFNA 07", SFNA{Reason: 7}, Level20, "SFNAREAS", ErrRange},
		{"SFNA text at 1.4", SFNA{Reason: 1, Text: "x"}, Level14, "SFNAREAST", ErrNotAtLevel},
		{"EFNA 21 at 1.4", EFNA{Reason: 21}, Level14, "EFNAREAS", ErrRange},
		{"ESID 11 at 1.4", ESID{Reason: 11}, Level14, "ESIDREAS", ErrRange},
		{"ESID text at 1.3", ESID{Reason: 0, Text: "bye"}, Level13, "ESIDREAST", ErrNotAtLevel},
		{"SFPA above 9(9) at 1.4", SFPA{AnswerCount: 1_000_000_000}, Level14, "SFPAACNT", ErrRange},
		{"EFID UCNT above 9(12)", EFID{UnitCount: max12 + 1}, Level14, "EFIDUCNT", ErrRange},
		{"EFID RCNT above 9(17)", EFID{RecordCount: max17 + 1}, Level20, "EFIDRCNT", ErrRange},
		{"NERP at 1.3", NERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B", Creator: "C", Reason: 99}, Level13, "", ErrNotAtLevel},
		{"NERP text at 1.4", NERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B", Creator: "C", Reason: 99, Text: "x"}, Level14, "NERPREAST", ErrNotAtLevel},
		{"NERP reason 37", NERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B", Creator: "C", Reason: 37}, Level20, "NERPREAS", ErrRange},
		{"EERP hash at 1.4", EERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B", Hash: []byte{1}}, Level14, "EERPHSH", ErrNotAtLevel},
		{"EERP signature too long", EERP{DatasetName: "F", Stamp: stamp20, Destination: "A", Originator: "B", Signature: make([]byte, 65536)}, Level20, "EERPSIGL", ErrRange},
		{"EERP empty DEST", EERP{DatasetName: "F", Stamp: stamp20, Originator: "B"}, Level20, "EERPDEST", ErrRange},
		{"SECD at 1.4", SECD{}, Level14, "", ErrNotAtLevel},
		{"AUCH at 1.4", AUCH{Challenge: []byte{1}}, Level14, "", ErrNotAtLevel},
		{"AUCH empty", AUCH{}, Level20, "AUCHCHAL", ErrRange},
		{"AUCH too long", AUCH{Challenge: make([]byte, 65536)}, Level20, "AUCHCHLL", ErrRange},
		{"AURP 19", AURP{Response: make([]byte, 19)}, Level20, "AURPRSP", ErrRange},
		{"DATA too long", DATA{Payload: make([]byte, 99999)}, Level20, "DATABUF", ErrRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Encode(nil, c.cmd, c.lvl)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("Encode = %q, %v; want an *EncodeError", b, err)
			}
			if ee.Field != c.field || !errors.Is(err, c.err) {
				t.Errorf("got %v (field %q), want field %q and %v", err, ee.Field, c.field, c.err)
			}
			if b != nil {
				t.Errorf("bytes returned with the error: %q", b)
			}
		})
	}
	// Limits that are allowed.
	for _, c := range []struct {
		cmd Command
		lvl Level
	}{
		{mod(func(c *SFID) { c.FileSize = max7; c.RestartPos = max9 }), Level13},
		{mod(func(c *SFID) { c.FileSize = max13; c.OriginalSize = max13; c.RestartPos = max17 }), Level20},
		{mod(func(c *SFID) { c.Description = strings.Repeat("€", 333) }), Level20},
		{mod(func(c *SFID) { c.DatasetName = "A/B-C.D&E(F)" + strings.Repeat(" ", 5) }), Level20},
		{SFNA{Reason: 14}, Level14},
		{ESID{Reason: 12, Text: "x"}, Level20},
		{EFID{RecordCount: max9, UnitCount: max12}, Level13},
		{EERP{DatasetName: "F", Stamp: Stamp{"20240101", "0000000000"}, Destination: "A", Originator: "B",
			Signature: make([]byte, 65535)}, Level20},
		{AUCH{Challenge: make([]byte, 65535)}, Level20},
		{modSSID(func(c *SSID) { c.BufferSize = 128; c.Credit = 999; c.SpecialLogic = true }), Level20},
	} {
		if _, err := Encode(nil, c.cmd, c.lvl); err != nil {
			t.Errorf("Encode(%#v, %s): %v", c.cmd, c.lvl, err)
		}
	}
	if _, err := Encode(nil, nil, Level20); err == nil {
		t.Error("nil command encoded")
	}
}

func TestNormalizeLevel(t *testing.T) {
	for in, want := range map[Level]Level{0: 0, 1: Level13, 2: Level13, 3: 0, 4: Level14, 5: Level20, 6: 0, 9: 0, -1: 0} {
		if got := NormalizeLevel(in); got != want {
			t.Errorf("NormalizeLevel(%d) = %d, want %d", in, got, want)
		}
	}
	if Level20.String() != "2.0" || Level12.String() != "1.2" || Level(7).String() != "level(7)" {
		t.Error("Level.String")
	}
}

func TestCommandNames(t *testing.T) {
	for _, code := range []byte("IXJASH23DCT45FRENP") {
		c := randCommand(rand.New(rand.NewPCG(1, 2)), code, Level20)
		if c.Code() != code || c.Name() != CommandName(code) || len(c.Name()) < 2 {
			t.Errorf("%c: Code %c Name %s", code, c.Code(), c.Name())
		}
	}
	if CommandName('Z') != "" {
		t.Error("unknown code has a name")
	}
}

func TestReasons(t *testing.T) {
	if ReasonText(CodeSFNA, 13) != "Duplicate file" || ReasonText(CodeEFNA, 13) != "Duplicate file" {
		t.Error("SFNA/EFNA 13")
	}
	if ReasonText(CodeEFNA, 22) != "File decryption failure" || ReasonText(CodeSFNA, 22) != "" {
		t.Error("EFNA 22 is EFNA only")
	}
	if ReasonText(CodeESID, 7) != "Exchange Buffer size error" || ReasonText(CodeESID, 13) != "" {
		t.Error("ESID texts")
	}
	if ReasonText(CodeNERP, 90) != "File size incompatible with recipient's protocol version" {
		t.Error("NERP 90")
	}
	if ReasonText(CodeSFID, 1) != "" {
		t.Error("SFID has no reasons")
	}
	// Which reasons exist at which level (PROTOCOL.md §7, §10).
	valid := []struct {
		cmd  byte
		code int
		l    Level
		ok   bool
	}{
		{CodeSFNA, 13, Level12, true}, {CodeSFNA, 14, Level13, false}, {CodeSFNA, 14, Level14, true},
		{CodeSFNA, 15, Level14, false}, {CodeSFNA, 20, Level20, true}, {CodeSFNA, 21, Level20, false},
		{CodeSFNA, 0, Level20, false}, {CodeSFNA, 99, Level13, true}, {CodeSFNA, 7, Level20, false},
		{CodeEFNA, 23, Level20, true}, {CodeEFNA, 23, Level14, false}, {CodeEFNA, 24, Level20, false},
		{CodeESID, 0, Level13, true}, {CodeESID, 10, Level13, true}, {CodeESID, 11, Level14, false},
		{CodeESID, 12, Level20, true}, {CodeESID, 13, Level20, false},
		{CodeNERP, 3, Level14, true}, {CodeNERP, 5, Level20, false}, {CodeNERP, 90, Level14, true},
		{CodeNERP, 99, Level13, false}, {CodeSFNA, 1, Level(3), false},
	}
	for _, v := range valid {
		if got := ReasonValid(v.cmd, v.code, v.l); got != v.ok {
			t.Errorf("ReasonValid(%c, %d, %s) = %v", v.cmd, v.code, v.l, got)
		}
	}
	// SFNA/EFNA -> NERP (RFC 5024 §5.3.14).
	for sfna, nerp := range map[int]int{1: 11, 6: 16, 10: 20, 13: 23, 14: 24, 20: 30, 21: 31, 22: 33, 23: 32, 99: 99, 7: 99, 0: 99} {
		if got := NERPForSFNA(sfna); got != nerp {
			t.Errorf("NERPForSFNA(%d) = %d, want %d", sfna, got, nerp)
		}
		if nerp != 99 && !strings.Contains(ReasonText(CodeNERP, nerp), "") {
			t.Errorf("NERP %d has no text", nerp)
		}
	}
	for esid, nerp := range map[int]int{3: 3, 4: 4, 99: 9, 0: 99, 10: 99} {
		if got := NERPForESID(esid); got != nerp {
			t.Errorf("NERPForESID(%d) = %d, want %d", esid, got, nerp)
		}
	}
	// Every mapped SFNA code's NERP text names the SFNA code it comes from.
	for code := range sfnaReasons {
		if code == 99 {
			continue
		}
		n := NERPForSFNA(code)
		if !strings.Contains(ReasonText(CodeNERP, n), "reason code "+twoDigits(code)) {
			t.Errorf("SFNA %02d -> NERP %d %q", code, n, ReasonText(CodeNERP, n))
		}
	}
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

func TestSizes(t *testing.T) {
	for in, want := range map[int64]int64{0: 0, -5: 0, 1: 1, 300: 1, 1024: 1, 1025: 2, 1362: 2, 8062: 8, 71680: 70} {
		if got := KiB(in); got != want {
			t.Errorf("KiB(%d) = %d, want %d", in, got, want)
		}
	}
	if MaxFileSize(Level20) != 9999999999999 || MaxFileSize(Level14) != 9999999 || MaxFileSize(Level12) != 9999999 {
		t.Error("MaxFileSize")
	}
	if MaxRestart(Level20) != 99999999999999999 || MaxRestart(Level13) != 999999999 {
		t.Error("MaxRestart")
	}
	if MaxRecordCount(Level20) != 99999999999999999 || MaxRecordCount(Level14) != 999999999 {
		t.Error("MaxRecordCount")
	}
	if MaxUnitCount(Level20) != 99999999999999999 || MaxUnitCount(Level14) != 999999999999 {
		t.Error("MaxUnitCount")
	}
}

func TestStamp(t *testing.T) {
	tm := time.Date(2024, 1, 31, 12, 0, 5, 0, time.UTC)
	for counter, want := range map[int]string{1: "1200050001", 9999: "1200059999", 10000: "1200050001", 0: "1200059999", -1: "1200059998"} {
		s := NewStamp(tm, counter)
		if s.Date != "20240131" || s.Time != want {
			t.Errorf("NewStamp(%d) = %+v, want time %s", counter, s, want)
		}
		if err := s.Valid(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	s := NewStamp(tm, 42)
	if got, err := s.In(time.UTC); err != nil || !got.Equal(tm) {
		t.Errorf("In = %v, %v", got, err)
	}
	if s.Counter() != 42 {
		t.Errorf("Counter = %d", s.Counter())
	}
	for _, bad := range []Stamp{
		{"20240230", "1200000001"}, {"2024013", "1200000001"}, {"20240131", "2400000001"},
		{"20240131", "1260000001"}, {"20240131", "1200000000"}, {"2024O131", "1200000001"}, {},
	} {
		if bad.Valid() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestDecodeErrorMessages(t *testing.T) {
	e := &DecodeError{Command: "SFID", Field: "SFIDLRECL", Reason: 6, Err: &valueError{"12a45", ErrNotNumeric}}
	if e.Error() != `SFID: field SFIDLRECL: "12a45" is not numeric` || !errors.Is(e, ErrNotNumeric) {
		t.Errorf("%q", e.Error())
	}
	if (&DecodeError{Reason: 7, Err: ErrLength}).Error() != "exchange buffer: length does not match the command layout" {
		t.Error("message without command")
	}
	_, err := Encode(nil, SFID{DatasetName: "a"}, Level20)
	if !utf8.ValidString(err.Error()) || !strings.HasPrefix(err.Error(), "SFID: field SFIDDSN: ") {
		t.Errorf("%q", err)
	}
}

func TestCheckString(t *testing.T) {
	for s, want := range map[string]error{
		"ABC": nil, "A/B-C.D&E(F)": nil, "ABC   ": nil, "": nil, strings.Repeat("A", 26): nil,
		"abc": ErrCharacterSet, "A B": ErrCharacterSet, " A": ErrCharacterSet, "A_B": ErrCharacterSet,
		"Ä": ErrCharacterSet, strings.Repeat("A", 27): ErrRange,
	} {
		if err := CheckString(s, 26); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckString(%q) = %v, want %v", s, err, want)
		}
	}
}
