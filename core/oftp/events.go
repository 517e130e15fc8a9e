package oftp

import "github.com/oftp2/connector/core/oftp/internal/wire"

// Direction tells whether something went from us to the partner or came from it.
type Direction int

const (
	// Outgoing is from this side to the partner.
	Outgoing Direction = iota
	// Incoming is from the partner to this side.
	Incoming
)

func (d Direction) String() string {
	if d == Incoming {
		return "in"
	}
	return "out"
}

// TransferInfo identifies a file transfer in events.
type TransferInfo struct {
	Direction   Direction
	DatasetName string
	Stamp       Stamp
	Originator  string
	Destination string
	Format      Format
	// RestartPosition is the agreed restart point in restart units (0: from the start).
	RestartPosition int64
}

// TransferResult reports a finished (or failed) transfer.
type TransferResult struct {
	TransferInfo
	// Records and Octets are the whole-file counts of EFID; for an outgoing transfer
	// that broke off, what was handed to the connection so far.
	Records int64
	Octets  int64
	// ResumeAt, for an outgoing transfer that broke off after SFPA, is the restart
	// position to propose next time (OutgoingFile.RestartPosition): whole 1 KiB blocks
	// or whole records sent. The receiver answers what it really kept.
	ResumeAt int64
	// Err is nil when the listener answered EFPA, else a *ReasonError or the cause.
	Err error
}

// EndResponseEvent reports an EERP or NERP received, or sent when
// Options.FireEndResponseOnSend is set.
type EndResponseEvent struct {
	Direction Direction
	EndResponse
	// Err is set for a received response that failed the EndResponseVerifier (forged
	// signature, wrong file hash, missing signature that was asked for).
	Err error
}

// PITrail is one exchange buffer as it crossed the wire. Data is the exchange buffer
// without STH, with the SSID password masked; it is only valid during the callback.
type PITrail struct {
	Direction Direction
	Code      byte   // command letter, e.g. 'X'
	Name      string // RFC mnemonic, e.g. "SSID"
	Data      []byte
}

// SessionInfo describes a negotiated session.
type SessionInfo struct {
	Level          Version
	PartnerSSID    string
	PartnerUser    string
	BufferSize     int
	Credit         int
	Compression    bool
	Restart        bool
	SecureAuth     bool
	CanSend        bool
	CanReceive     bool
	Initiator      bool
	RemoteAddr     string
	RequestedLevel Version // what the initiator proposed
}

// Events are optional typed callbacks. They run on the session goroutine: keep them short
// and do not call back into the same session from them.
type Events struct {
	// SessionStart fires after the SSID exchange succeeded.
	SessionStart func(SessionInfo)
	// SessionEnd fires once when a session ends; err is nil for a normal end (ESID 00).
	SessionEnd func(info SessionInfo, err error)
	// StartTransfer fires after SFPA, in both directions.
	StartTransfer func(TransferInfo)
	// Progress fires after every data buffer with the octets moved so far in this
	// session's part of the transfer.
	Progress func(info TransferInfo, octets int64)
	// EndTransfer fires after EFPA/EFNA/SFNA, or when the session breaks mid-file.
	EndTransfer func(TransferResult)
	// EndResponse fires for EERP/NERP received (and sent, see FireEndResponseOnSend).
	EndResponse func(EndResponseEvent)
	// PITrail fires for every command in and out (DATA included).
	PITrail func(PITrail)
}

// trail reports one buffer to the PI trail with the password masked.
func (s *session) trail(dir Direction, oeb []byte) {
	if s.opts.Events.PITrail == nil || len(oeb) == 0 {
		return
	}
	data := oeb
	// SSIDPSWD is octets 27..34 of the SSID; mask whatever the partner typed there.
	if oeb[0] == wire.CodeSSID && len(oeb) >= 35 {
		data = append([]byte(nil), oeb...)
		for i := 27; i < 35; i++ {
			data[i] = '*'
		}
	}
	s.opts.Events.PITrail(PITrail{Direction: dir, Code: oeb[0], Name: commandName(oeb[0]), Data: data})
}

func commandName(c byte) string {
	switch c {
	case wire.CodeSSRM:
		return "SSRM"
	case wire.CodeSSID:
		return "SSID"
	case wire.CodeSECD:
		return "SECD"
	case wire.CodeAUCH:
		return "AUCH"
	case wire.CodeAURP:
		return "AURP"
	case wire.CodeSFID:
		return "SFID"
	case wire.CodeSFPA:
		return "SFPA"
	case wire.CodeSFNA:
		return "SFNA"
	case wire.CodeDATA:
		return "DATA"
	case wire.CodeCDT:
		return "CDT"
	case wire.CodeEFID:
		return "EFID"
	case wire.CodeEFPA:
		return "EFPA"
	case wire.CodeEFNA:
		return "EFNA"
	case wire.CodeESID:
		return "ESID"
	case wire.CodeCD:
		return "CD"
	case wire.CodeEERP:
		return "EERP"
	case wire.CodeNERP:
		return "NERP"
	case wire.CodeRTR:
		return "RTR"
	}
	return "unknown"
}
