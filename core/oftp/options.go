package oftp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// Version is the ODETTE FTP release a side speaks.
type Version int

// Releases. The zero value means "use the default", 2.0.
const (
	Version12 Version = 12
	Version13 Version = 13
	Version14 Version = 14
	Version20 Version = 20
)

func (v Version) String() string {
	switch v {
	case Version12:
		return "1.2"
	case Version13:
		return "1.3"
	case Version14:
		return "1.4"
	case Version20:
		return "2.0"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

func (v Version) level() wire.Level {
	switch v {
	case Version12:
		return wire.Level12
	case Version13:
		return wire.Level13
	case Version14:
		return wire.Level14
	}
	return wire.Level20
}

func versionOf(l wire.Level) Version {
	switch l {
	case wire.Level12:
		return Version12
	case wire.Level13:
		return Version13
	case wire.Level14:
		return Version14
	}
	return Version20
}

// ConnectionType limits which way files may flow in a session (SSIDSR).
type ConnectionType int

const (
	// ConnectionBoth sends and receives files (SSIDSR "B"), the default.
	ConnectionBoth ConnectionType = iota
	// ConnectionSendOnly only sends files (SSIDSR "S").
	ConnectionSendOnly
	// ConnectionReceiveOnly only receives files (SSIDSR "R").
	ConnectionReceiveOnly
)

func (c ConnectionType) mode() wire.Mode {
	switch c {
	case ConnectionSendOnly:
		return wire.ModeSender
	case ConnectionReceiveOnly:
		return wire.ModeReceiver
	}
	return wire.ModeBoth
}

// Well-known ports (RFC 5024 §2).
const (
	PortTCP = 3305 // odette-ftp
	PortTLS = 6619 // odette-ftps
)

// Defaults applied to zero-valued numeric options.
const (
	// DefaultExchangeBufferSize is the SSIDSDEB we offer. 65535 keeps per-buffer overhead
	// (STH + command + subrecord headers) near 1.6% while staying within what stacks that
	// hold the size in 16 bits accept; the RFC maximum is 99999.
	DefaultExchangeBufferSize = 65535
	// DefaultCreditCount is the SSIDCRED we offer: 64 buffers in flight cover the
	// bandwidth-delay product of most WAN links at 64 KiB buffers.
	DefaultCreditCount = 64
	// DefaultTimeout is the inactivity timeout (the seed's default).
	DefaultTimeout = 60 * time.Second
	// DefaultReceivedFileNameFormat names received files after the virtual file.
	DefaultReceivedFileNameFormat = "%VirtualFileName%"
)

// Dialer opens network connections; *net.Dialer and the proxy dialers of
// core/oftp/transport satisfy it.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Options configure a Client or a Server. Start from DefaultOptions; numeric fields left
// at zero take the documented defaults, boolean fields are used as given.
type Options struct {
	// SSIDCode is this side's identification code sent in SSID (client_ssid_code for a
	// Client, server_ssid_code for a Server).
	SSIDCode string
	// SFIDCode is this side's code in files: the originator of files we send and the
	// destination we accept (unless AcceptAnySFIDCode). Defaults to SSIDCode.
	SFIDCode string
	// Password is this side's SSID password.
	Password string
	// PartnerSSIDCode and PartnerPassword, when set, are checked against the partner's
	// SSID (ESID 03 / 04). A Server takes them from its PartnerLookup instead.
	PartnerSSIDCode string
	PartnerPassword string
	// PartnerSFIDCode is the partner's code in files: the destination of files we send
	// and the originator we accept (unless AcceptAnySFIDCode). Defaults to
	// PartnerSSIDCode.
	PartnerSFIDCode string
	// UserData is SSIDUSER (8 octets, bilateral).
	UserData string

	// Version is the highest release we speak; the session runs at the lowest level of
	// both sides unless EnforceProtocolVersion.
	Version Version
	// EnforceProtocolVersion refuses a partner at another level with ESID 10.
	EnforceProtocolVersion bool
	// ExchangeBufferSize is SSIDSDEB, 128..99999 (DefaultExchangeBufferSize).
	ExchangeBufferSize int
	// CreditCount is SSIDCRED, 1..999 (DefaultCreditCount).
	CreditCount int
	// Compress offers buffer compression (SSIDCMPR, subrecord run-length coding); used
	// only if both sides offer it. File compression (the seed's compress property) is
	// OutgoingFile.Compressed, produced by an OutgoingTransform.
	Compress bool
	// Restart offers restart of interrupted files (SSIDREST).
	Restart bool
	// ConnectionType is SSIDSR.
	ConnectionType ConnectionType
	// SecureAuthentication asks for SECD/AUCH/AURP (2.0, SSIDAUTH); it needs
	// Authenticator.
	SecureAuthentication bool
	// Authenticator performs the challenge cryptography of secure authentication.
	Authenticator SecureAuthenticator
	// Timeout is the inactivity timeout: no command from the partner for this long while
	// we wait for one ends the session with ESID 09 (DefaultTimeout).
	Timeout time.Duration

	// VirtualFileFormat, VirtualFileDescription, MaxRecordSize and VirtualFileDate are
	// defaults for OutgoingFile fields left empty.
	VirtualFileFormat      Format
	VirtualFileDescription string
	MaxRecordSize          int
	// VirtualFileDate is the default virtual file date; zero means the clock.
	VirtualFileDate time.Time

	// Receiver decides about incoming files and stores them. When nil, a
	// DirectoryReceiver built from the fields below is used.
	Receiver Receiver
	// DownloadDirectory is where the built-in receiver puts received files ("." if empty).
	DownloadDirectory string
	// TempPath holds files while they are received; it must be on the same file system
	// as DownloadDirectory (default: DownloadDirectory/.oftp-partial).
	TempPath string
	// ReceivedFileNameFormat names received files; see DirectoryReceiver.
	ReceivedFileNameFormat string
	// Overwrite lets received files replace existing files.
	Overwrite bool
	// DeleteOnError removes a failed file's data; otherwise it is kept in TempPath with a
	// ".failed" suffix for inspection. Never in DownloadDirectory.
	DeleteOnError bool
	// AcceptAnySFIDCode accepts files whatever their SFIDDEST/SFIDORIG.
	AcceptAnySFIDCode bool
	// AllowRetry sets the retry flag when we refuse a file with SFNA.
	AllowRetry bool
	// DuplicateCheck, when set, is asked about every incoming file; true answers SFNA 13.
	DuplicateCheck func(ctx context.Context, f *IncomingFile) (bool, error)
	// DeferEndResponses stops automatic EERPs for received files; the application sends
	// them with SendEndResponse (in this session or a later one).
	DeferEndResponses bool
	// NERPOnFailure queues a NERP (level 1.4 and later) for a file whose storage failed
	// after EFID, in addition to the EFNA.
	NERPOnFailure bool
	// RequestTurnAfterFile answers EFPA with CD=Y, asking the sender for the turn.
	RequestTurnAfterFile bool
	// SendCDAfterEFPA sends CD after every EFPA, even when the partner did not ask.
	SendCDAfterEFPA bool
	// DisconnectAfterEndSession closes the connection right after our ESID instead of
	// waiting for the partner to close it.
	DisconnectAfterEndSession bool
	// FireEndResponseOnSend also reports end responses we send to Events.EndResponse.
	FireEndResponseOnSend bool
	// IncomingTransform and OutgoingTransform process files (CMS security services).
	IncomingTransform IncomingTransform
	OutgoingTransform OutgoingTransform
	// EndResponseSigner signs EERP/NERP for files that asked for it (SFIDSIGN);
	// EndResponseVerifier checks the ones we receive.
	EndResponseSigner   EndResponseSigner
	EndResponseVerifier EndResponseVerifier

	// TLSConfig enables TLS (client: server name and roots; server: certificates).
	TLSConfig *tls.Config
	// Dialer connects a Client (default: a net.Dialer).
	Dialer Dialer
	// Clock stamps virtual files (default time.Now).
	Clock func() time.Time
	// Rand feeds challenges and GUIDs (default crypto/rand).
	Rand io.Reader
	// Logger receives structured logs; passwords never appear (default: discard).
	Logger *slog.Logger
	// Events are typed callbacks; all are optional.
	Events Events
}

// DefaultOptions returns the recommended starting point: 2.0, restart and retry on,
// deletion of failed files, automatic end responses, and disconnect after ESID.
func DefaultOptions() Options {
	return Options{
		Version:                   Version20,
		ExchangeBufferSize:        DefaultExchangeBufferSize,
		CreditCount:               DefaultCreditCount,
		Restart:                   true,
		Timeout:                   DefaultTimeout,
		VirtualFileFormat:         FormatUnstructured,
		ReceivedFileNameFormat:    DefaultReceivedFileNameFormat,
		DeleteOnError:             true,
		AllowRetry:                false,
		DisconnectAfterEndSession: true,
		FireEndResponseOnSend:     true,
	}
}

// resolved returns a copy with defaults filled in, or an error for values outside the
// RFC ranges.
func (o Options) resolved() (Options, error) {
	if o.Version == 0 {
		o.Version = Version20
	}
	switch o.Version {
	case Version12, Version13, Version14, Version20:
	default:
		return o, fmt.Errorf("oftp: unknown version %d", int(o.Version))
	}
	if o.ExchangeBufferSize == 0 {
		o.ExchangeBufferSize = DefaultExchangeBufferSize
	}
	if o.ExchangeBufferSize < 128 || o.ExchangeBufferSize > 99999 {
		return o, fmt.Errorf("oftp: ExchangeBufferSize %d outside 128..99999", o.ExchangeBufferSize)
	}
	if o.CreditCount == 0 {
		o.CreditCount = DefaultCreditCount
	}
	if o.CreditCount < 1 || o.CreditCount > 999 {
		return o, fmt.Errorf("oftp: CreditCount %d outside 1..999", o.CreditCount)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SFIDCode == "" {
		o.SFIDCode = o.SSIDCode
	}
	if o.PartnerSFIDCode == "" {
		o.PartnerSFIDCode = o.PartnerSSIDCode
	}
	if o.SecureAuthentication && o.Version != Version20 {
		return o, fmt.Errorf("oftp: secure authentication needs version 2.0")
	}
	if o.SecureAuthentication && o.Authenticator == nil {
		return o, fmt.Errorf("oftp: secure authentication needs an Authenticator")
	}
	if o.VirtualFileFormat == 0 {
		o.VirtualFileFormat = FormatUnstructured
	}
	if o.ReceivedFileNameFormat == "" {
		o.ReceivedFileNameFormat = DefaultReceivedFileNameFormat
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Receiver == nil {
		o.Receiver = &DirectoryReceiver{
			Dir:           o.DownloadDirectory,
			TempDir:       o.TempPath,
			NameFormat:    o.ReceivedFileNameFormat,
			Overwrite:     o.Overwrite,
			DeleteOnError: o.DeleteOnError,
			Clock:         o.Clock,
			Rand:          o.Rand,
		}
	}
	return o, nil
}
