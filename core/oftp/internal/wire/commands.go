// Package wire is the OFTP codec: Stream Transmission Buffer framing, the 18 commands of
// every protocol level as typed values, and the subrecords of data exchange buffers.
// It is pure: bytes in, values out, no I/O state beyond a framing reader.
//
// Encode is strict and Decode is lenient, as RFC 5024 §8.2 asks. Encode refuses anything
// a partner could reject: characters outside the RFC String set, lengths and numeric
// ranges, reason codes the level does not define, fields the level does not have.
// Decode accepts what real partners send where the RFC allows it (lower case, 0x8D
// carriage returns, non-space reserved octets, either ESID layout, 2.0 EERP/NERP without
// the hash and signature fields); each such place is commented with its RFC section.
// Decode returns command values (SFID, not *SFID); Encode takes values or pointers.
// Decode errors are *DecodeError carrying the ESID reason the session should end with.
package wire

import "strconv"

// Level is the protocol release level carried in SSIDLEV.
type Level int

// Levels as RFC 5024 §5.3.2 numbers them. RFC 2204 peers announce 1.3 as 1; see
// NormalizeLevel.
const (
	Level12 Level = 1
	Level13 Level = 2
	Level14 Level = 4
	Level20 Level = 5
)

// Command codes, the first octet of every exchange buffer.
const (
	CodeSSRM byte = 'I'
	CodeSSID byte = 'X'
	CodeSECD byte = 'J'
	CodeAUCH byte = 'A'
	CodeAURP byte = 'S'
	CodeSFID byte = 'H'
	CodeSFPA byte = '2'
	CodeSFNA byte = '3'
	CodeDATA byte = 'D'
	CodeCDT  byte = 'C'
	CodeEFID byte = 'T'
	CodeEFPA byte = '4'
	CodeEFNA byte = '5'
	CodeESID byte = 'F'
	CodeCD   byte = 'R'
	CodeEERP byte = 'E'
	CodeNERP byte = 'N'
	CodeRTR  byte = 'P'
)

// Command is one decoded exchange buffer.
type Command interface {
	// Code is the command letter, the first octet of the exchange buffer.
	Code() byte
	// Name is the RFC mnemonic, such as "SFID".
	Name() string
}

// Mode is SSIDSR: which way files may flow for the sender of the SSID.
type Mode byte

const (
	ModeSender   Mode = 'S'
	ModeReceiver Mode = 'R'
	ModeBoth     Mode = 'B'
)

// Format is SFIDFMT, the record format of the original file.
type Format byte

const (
	FormatFixed        Format = 'F'
	FormatVariable     Format = 'V'
	FormatUnstructured Format = 'U'
	FormatText         Format = 'T'
)

// Stamp is the virtual file date and time of SFID, EERP and NERP, always held in the
// 2.0 form: Date is CCYYMMDD, Time is HHMMSScccc (cccc a counter 0001-9999). 1.3 frames
// (YYMMDD, HHMMSS) are widened on decode and cut on encode.
type Stamp struct {
	Date string
	Time string
}

// SSRM is the Responder's "ODETTE FTP READY" greeting.
type SSRM struct{}

// SSID is Start Session, sent by both sides.
type SSID struct {
	Level        Level
	ID           string // SSIDCODE, the sender's identification code
	Password     string
	BufferSize   int // SSIDSDEB, includes the command octet
	Mode         Mode
	Compression  bool // buffer (subrecord) compression
	Restart      bool
	SpecialLogic bool
	Credit       int
	SecureAuth   bool // 2.0 only
	User         string
}

// SECD is Security Change Direction.
type SECD struct{}

// AUCH carries a CMS EnvelopedData challenge.
type AUCH struct{ Challenge []byte }

// AURP returns the decrypted 20-octet challenge.
type AURP struct{ Response []byte }

// SFID is Start File.
type SFID struct {
	DatasetName   string
	Stamp         Stamp
	User          string
	Destination   string
	Originator    string
	Format        Format
	MaxRecordSize int
	FileSize      int64 // KiB as transmitted
	OriginalSize  int64 // KiB before security services (2.0)
	RestartPos    int64
	Security      int // SFIDSEC 0..3 (2.0)
	Cipher        int // SFIDCIPH (2.0)
	Compressed    bool
	Enveloped     bool
	SignedReceipt bool
	Description   string
}

// SFPA is Start File Positive Answer.
type SFPA struct{ AnswerCount int64 }

// SFNA is Start File Negative Answer.
type SFNA struct {
	Reason int
	Retry  bool
	Text   string // 2.0 only
}

// DATA is a data exchange buffer; Payload is the subrecord stream after the 'D'.
type DATA struct{ Payload []byte }

// CDT is Set Credit.
type CDT struct{}

// EFID is End File.
type EFID struct {
	RecordCount int64
	UnitCount   int64
}

// EFPA is End File Positive Answer.
type EFPA struct{ ChangeDirection bool }

// EFNA is End File Negative Answer.
type EFNA struct {
	Reason int
	Text   string // 2.0 only
}

// ESID is End Session.
type ESID struct {
	Reason int
	Text   string // 2.0 only
}

// CD is Change Direction.
type CD struct{}

// EERP is End to End Response.
type EERP struct {
	DatasetName string
	Stamp       Stamp
	User        string
	Destination string // the file's originator
	Originator  string // the file's final recipient
	Hash        []byte // 2.0 only
	Signature   []byte // 2.0 only
}

// NERP is Negative End Response (1.4 and later).
type NERP struct {
	DatasetName string
	Stamp       Stamp
	Destination string // the file's originator
	Originator  string // the file's final recipient
	Creator     string
	Reason      int
	Text        string // 2.0 only
	Hash        []byte // 2.0 only
	Signature   []byte // 2.0 only
}

// RTR is Ready To Receive.
type RTR struct{}

func (SSRM) Code() byte { return CodeSSRM }
func (SSID) Code() byte { return CodeSSID }
func (SECD) Code() byte { return CodeSECD }
func (AUCH) Code() byte { return CodeAUCH }
func (AURP) Code() byte { return CodeAURP }
func (SFID) Code() byte { return CodeSFID }
func (SFPA) Code() byte { return CodeSFPA }
func (SFNA) Code() byte { return CodeSFNA }
func (DATA) Code() byte { return CodeDATA }
func (CDT) Code() byte  { return CodeCDT }
func (EFID) Code() byte { return CodeEFID }
func (EFPA) Code() byte { return CodeEFPA }
func (EFNA) Code() byte { return CodeEFNA }
func (ESID) Code() byte { return CodeESID }
func (CD) Code() byte   { return CodeCD }
func (EERP) Code() byte { return CodeEERP }
func (NERP) Code() byte { return CodeNERP }
func (RTR) Code() byte  { return CodeRTR }

func (SSRM) Name() string { return "SSRM" }
func (SSID) Name() string { return "SSID" }
func (SECD) Name() string { return "SECD" }
func (AUCH) Name() string { return "AUCH" }
func (AURP) Name() string { return "AURP" }
func (SFID) Name() string { return "SFID" }
func (SFPA) Name() string { return "SFPA" }
func (SFNA) Name() string { return "SFNA" }
func (DATA) Name() string { return "DATA" }
func (CDT) Name() string  { return "CDT" }
func (EFID) Name() string { return "EFID" }
func (EFPA) Name() string { return "EFPA" }
func (EFNA) Name() string { return "EFNA" }
func (ESID) Name() string { return "ESID" }
func (CD) Name() string   { return "CD" }
func (EERP) Name() string { return "EERP" }
func (NERP) Name() string { return "NERP" }
func (RTR) Name() string  { return "RTR" }

// CommandName returns the RFC mnemonic for a command letter, or "" for an unknown one.
func CommandName(code byte) string {
	switch code {
	case CodeSSRM:
		return "SSRM"
	case CodeSSID:
		return "SSID"
	case CodeSECD:
		return "SECD"
	case CodeAUCH:
		return "AUCH"
	case CodeAURP:
		return "AURP"
	case CodeSFID:
		return "SFID"
	case CodeSFPA:
		return "SFPA"
	case CodeSFNA:
		return "SFNA"
	case CodeDATA:
		return "DATA"
	case CodeCDT:
		return "CDT"
	case CodeEFID:
		return "EFID"
	case CodeEFPA:
		return "EFPA"
	case CodeEFNA:
		return "EFNA"
	case CodeESID:
		return "ESID"
	case CodeCD:
		return "CD"
	case CodeEERP:
		return "EERP"
	case CodeNERP:
		return "NERP"
	case CodeRTR:
		return "RTR"
	}
	return ""
}

// NormalizeLevel maps an SSIDLEV value to the level whose exchange buffer layouts apply:
// 1 (RFC 2204's own value for 1.3, RFC 5024's for 1.2) and 2 both use the RFC 2204
// layouts and give Level13; 4 gives Level14; 5 gives Level20. Values no RFC defines
// (0, 3, 6-9) give 0, which Encode and Decode refuse.
func NormalizeLevel(l Level) Level {
	switch l {
	case Level12, Level13:
		return Level13
	case Level14:
		return Level14
	case Level20:
		return Level20
	}
	return 0
}

// String gives the release name, such as "2.0".
func (l Level) String() string {
	switch l {
	case Level12:
		return "1.2"
	case Level13:
		return "1.3"
	case Level14:
		return "1.4"
	case Level20:
		return "2.0"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}
