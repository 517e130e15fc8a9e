// Package config reads the connector's HCL configuration file into typed,
// validated Go values.
//
// Every value is checked once, here, against the ranges that ODETTE FTP
// (RFC 5024) and the rest of the product allow; errors are hcl.Diagnostics
// that point at file:line:col. References between blocks (a pipeline naming a
// partner, a plugin or a key) are resolved and checked. The configuration body
// of a plugin stays undecoded until the plugin has described its own schema,
// see DecodePluginConfig. The package imports nothing else of the connector:
// the CLI maps these values onto the protocol library, the plugin host and the
// pipeline.
package config

import (
	"fmt"
	"log/slog"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is a decoded, validated configuration file.
type Config struct {
	// Filename is the name the configuration was parsed under.
	Filename string

	Connector Connector
	Listeners []*Listener
	Identity  Identity
	Partners  []*Partner
	Plugins   []*Plugin
	Keys      []*Keys
	Inbound   []*Inbound
	Outbound  []*Outbound

	eval *hcl.EvalContext
}

// EvalContext is the context (variables and functions) that plugin
// configuration bodies are evaluated in; pass it to DecodePluginConfig.
func (c *Config) EvalContext() *hcl.EvalContext { return c.eval }

// Partner returns the partner block with the given label, or nil.
func (c *Config) Partner(name string) *Partner {
	for _, p := range c.Partners {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// PartnerBySSID returns the partner whose SSID code is ssid, or nil. Codes
// are compared after trimming trailing padding, as they travel space-padded.
func (c *Config) PartnerBySSID(ssid string) *Partner {
	ssid = trimPadding(ssid)
	for _, p := range c.Partners {
		if p.SSID == ssid {
			return p
		}
	}
	return nil
}

// Plugin returns the plugin block with the given label, or nil.
func (c *Config) Plugin(name string) *Plugin {
	for _, p := range c.Plugins {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// KeyPair returns the keys block with the given label, or nil.
func (c *Config) KeyPair(name string) *Keys {
	for _, k := range c.Keys {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Connector holds service-wide settings.
type Connector struct {
	// StateDir is where durable state (transfers in flight, receipts owed) lives.
	StateDir string
	// StateDatabase is a PostgreSQL URL shared by several replicas; empty
	// means the embedded database in StateDir.
	StateDatabase Secret
	// LogLevel is the minimum level logged.
	LogLevel slog.Level
	// PluginDir is where third-party plugin executables are looked up.
	PluginDir string
	// WorkDir holds temporary files while files are signed, compressed or
	// encrypted; empty means a directory under StateDir.
	WorkDir string
}

// Listener is an address the connector answers incoming OFTP sessions on.
type Listener struct {
	Name string
	// Address is host:port.
	Address string
	// TLS is nil for plain TCP.
	TLS       *ServerTLS
	DeclRange hcl.Range `json:"-"`
}

// ServerTLS is the TLS side of a listener.
type ServerTLS struct {
	CertFile     string
	KeyFile      string
	ClientCAFile string
	// RequireClientCert makes the handshake fail without a client
	// certificate that chains to ClientCAFile.
	RequireClientCert bool
	// MinVersion is a crypto/tls version constant.
	MinVersion uint16
}

// Identity is who we are towards every partner.
type Identity struct {
	// SSID is our Identification Code sent in SSIDCODE.
	SSID string
	// SFID is our code as originator/destination of virtual files.
	SFID string
	// Password is what we send in SSIDPSWD unless a partner overrides it.
	Password Secret
	// UserData is sent in SSIDUSER.
	UserData string
	// Keys names the keys block that holds our certificate and private key
	// (secure authentication, decrypting files, signing receipts); may be empty.
	Keys string
}

// Version is an ODETTE FTP protocol level; its value is the SSIDLEV digit.
type Version uint8

// Protocol levels by their SSIDLEV digit.
const (
	Version12 Version = 1
	Version13 Version = 2
	Version14 Version = 4
	Version20 Version = 5
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
	return "unknown"
}

// ConnectionType restricts the direction of files in a session (SSIDSR).
type ConnectionType uint8

// Connection types.
const (
	ConnectionBoth ConnectionType = iota
	ConnectionSend
	ConnectionReceive
)

func (c ConnectionType) String() string {
	switch c {
	case ConnectionBoth:
		return "both"
	case ConnectionSend:
		return "send"
	case ConnectionReceive:
		return "receive"
	}
	return "unknown"
}

// SSIDSR returns the SSIDSR character for this connection type.
func (c ConnectionType) SSIDSR() byte {
	switch c {
	case ConnectionSend:
		return 'S'
	case ConnectionReceive:
		return 'R'
	}
	return 'B'
}

// SecurityLevel is the file security applied to files we send (SFIDSEC).
type SecurityLevel uint8

// Security levels by their SFIDSEC value.
const (
	SecurityNone      SecurityLevel = 0
	SecurityEncrypted SecurityLevel = 1
	SecuritySigned    SecurityLevel = 2
	SecurityBoth      SecurityLevel = 3
)

func (l SecurityLevel) String() string {
	switch l {
	case SecurityNone:
		return "none"
	case SecurityEncrypted:
		return "encrypted"
	case SecuritySigned:
		return "signed"
	case SecurityBoth:
		return "both"
	}
	return "unknown"
}

// Encrypts reports whether the level includes encryption.
func (l SecurityLevel) Encrypts() bool { return l&SecurityEncrypted != 0 }

// Signs reports whether the level includes signing.
func (l SecurityLevel) Signs() bool { return l&SecuritySigned != 0 }

// CipherSuite is an OFTP 2.0 cipher suite code (SFIDCIPH), 0 for none.
type CipherSuite uint8

// cipherSuiteNames are the configuration names of suites 1..6 (§10.2 and the
// ODETTE extension list): symmetric cipher and hash.
var cipherSuiteNames = [...]string{
	1: "3des-sha1",
	2: "aes256-sha1",
	3: "3des-sha256",
	4: "aes256-sha256",
	5: "3des-sha512",
	6: "aes256-sha512",
}

func (s CipherSuite) String() string {
	if s == 0 {
		return "none"
	}
	if int(s) < len(cipherSuiteNames) {
		return cipherSuiteNames[s]
	}
	return "unknown"
}

// Partner is a trading partner and everything negotiated with it bilaterally.
type Partner struct {
	Name string
	// SSID is the partner's Identification Code in SSIDCODE.
	SSID string
	// SFID is the partner's code as originator/destination of virtual files.
	SFID string
	// Password is what the partner must send us in SSIDPSWD.
	Password Secret
	// OurPassword is what we send this partner in SSIDPSWD.
	OurPassword Secret
	// Address is host:port to call; empty if the partner only calls us.
	Address string
	// TLS dials with TLS (OFTP 2.0 port 6619).
	TLS bool
	// CAFile verifies the partner's server certificate; empty uses the system roots.
	CAFile string
	// ServerName overrides the TLS server name checked in the certificate.
	ServerName string
	// ServerFingerprint pins the SHA-256 of the partner's leaf certificate
	// (lower-case hex, no separators).
	ServerFingerprint string
	// ClientCertFile and ClientKeyFile are our TLS client certificate for this partner.
	ClientCertFile string
	ClientKeyFile  string
	// Proxy is nil for a direct connection.
	Proxy *Proxy
	// Version is the highest level we propose or accept.
	Version Version
	// EnforceVersion refuses a session at a lower level than Version.
	EnforceVersion bool
	// BufferSize is our SSIDSDEB proposal, 128..99999.
	BufferSize int
	// Credit is our SSIDCRED proposal, 1..999.
	Credit int
	// BufferCompression proposes SSIDCMPR=Y.
	BufferCompression bool
	// Restart proposes SSIDREST=Y.
	Restart bool
	// ConnectionType is our SSIDSR proposal.
	ConnectionType ConnectionType
	// Timeout is the session inactivity timeout.
	Timeout time.Duration
	// AcceptAnySFID accepts files whose destination is not our SFID.
	AcceptAnySFID bool
	Security      Security
	// Schedule is nil when we never call the partner on our own.
	Schedule  *Schedule
	DeclRange hcl.Range `json:"-"`
}

// Proxy is the proxy used to reach a partner.
type Proxy struct {
	// Scheme is "socks5", "socks5h" or "http".
	Scheme string
	// Address is host:port of the proxy.
	Address  string
	Username string
	Password Secret
}

// Security holds the OFTP 2.0 security settings agreed with a partner.
type Security struct {
	// Level applies to files we send to the partner.
	Level SecurityLevel
	// CipherSuite is used for encryption, signatures and signed receipts.
	CipherSuite CipherSuite
	// FileCompression compresses files we send (CMS CompressedData).
	FileCompression bool
	// SignedReceipts asks the partner for signed EERP/NERP (SFIDSIGN=Y).
	SignedReceipts bool
	// AcceptUnsignedReceipts accepts an unsigned EERP/NERP where a signed
	// one was requested (the RFC lets the partner send one).
	AcceptUnsignedReceipts bool
	// CertificateFile is the partner's certificate: we encrypt to it, verify
	// its signatures and challenge it during secure authentication.
	CertificateFile string
	// SecureAuthentication proposes SSIDAUTH=Y.
	SecureAuthentication bool
	// SHA1ReceiptCompat accepts a receipt hashed with SHA-1 when the suite
	// asks for SHA-256/512, as some deployed partners send.
	SHA1ReceiptCompat bool
}

// Schedule says when we call a partner without an outbound file waiting.
type Schedule struct {
	// Every is the interval between calls; 0 when only At is used.
	Every time.Duration
	// At lists times of day (UTC) to call.
	At []TimeOfDay
}

// TimeOfDay is an hour and minute, UTC.
type TimeOfDay struct{ Hour, Minute int }

// Plugin is an out-of-process plugin instance.
type Plugin struct {
	Name string
	// Builtin names a plugin served by the connector binary itself.
	Builtin string
	// Path is a third-party plugin executable (a bare name in the
	// configuration is resolved in Connector.PluginDir); SHA256 pins its content.
	Path   string
	SHA256 string
	// Body is the plugin's own configuration, decoded later against the
	// schema the plugin declares (DecodePluginConfig). Never nil.
	Body hcl.Body `json:"-"`
	// BodyRange is where the config block is, or the plugin block when absent.
	BodyRange hcl.Range `json:"-"`
	DeclRange hcl.Range `json:"-"`
}

// Keys is a certificate with its private key, held locally or by a key plugin.
type Keys struct {
	Name string
	// Plugin names the plugin block serving the key; KeyID identifies the key there.
	Plugin string
	KeyID  string
	// Local is set for PEM files on disk.
	Local     *LocalKeys
	DeclRange hcl.Range `json:"-"`
}

// LocalKeys is a certificate and private key in PEM files.
type LocalKeys struct {
	CertFile    string
	KeyFile     string
	KeyPassword Secret
}

// Inbound routes received files to a sink plugin.
type Inbound struct {
	Name string
	// Partners lists the partner labels the route applies to; empty means any.
	Partners []string
	// Files lists glob patterns (path.Match syntax) on the virtual file name.
	Files []string
	// Sink names the plugin block that stores the files.
	Sink string
	// ObjectName builds the stored object's name.
	ObjectName *NameTemplate
	DeclRange  hcl.Range `json:"-"`
}

// Matches reports whether a file from partner (label) named dsn takes this route.
func (in *Inbound) Matches(partner, dsn string) bool {
	if len(in.Partners) > 0 {
		found := false
		for _, p := range in.Partners {
			if p == partner {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	// '/' is an ordinary character in a virtual file name, but path.Match
	// stops '*' at it; hide it from path.Match on both sides.
	dsn = strings.ReplaceAll(trimPadding(dsn), "/", "\x00")
	for _, f := range in.Files {
		if ok, _ := path.Match(strings.ReplaceAll(f, "/", "\x00"), dsn); ok {
			return true
		}
	}
	return false
}

// DecodePluginConfig decodes the config block of the named plugin against
// the schema the plugin declared; see the package-level DecodePluginConfig.
func (c *Config) DecodePluginConfig(name string, schema PluginSchema) ([]byte, hcl.Diagnostics) {
	p := c.Plugin(name)
	if p == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown plugin", Detail: fmt.Sprintf("There is no plugin block labelled %q.", name)}}
	}
	return DecodePluginConfig(p.Body, schema, c.eval)
}

// FileFormat is the virtual file format (SFIDFMT).
type FileFormat byte

// File formats.
const (
	FormatUnstructured FileFormat = 'U'
	FormatText         FileFormat = 'T'
	FormatFixed        FileFormat = 'F'
	FormatVariable     FileFormat = 'V'
)

func (f FileFormat) String() string { return string(rune(f)) }

// Outbound sends files appearing in a source plugin to a partner.
type Outbound struct {
	Name string
	// Source names the plugin block that lists outgoing files.
	Source string
	// Partner names the partner block files go to.
	Partner string
	// Poll is how often the source is listed when it cannot watch.
	Poll time.Duration
	// Sign, Encrypt and Compress are the effective file services; they
	// default to the partner's security settings.
	Sign     bool
	Encrypt  bool
	Compress bool
	// SignWith names the keys block used to sign; set whenever Sign is.
	SignWith string
	Format   FileFormat
	// MaxRecordSize is SFIDLRECL for F and V files, 0 otherwise.
	MaxRecordSize int
	// Description is sent in SFIDDESC (OFTP 2.0).
	Description string
	Retry       Retry
	DeclRange   hcl.Range `json:"-"`
}

// Retry is the back-off for a file the partner refused temporarily or that
// could not be sent.
type Retry struct {
	MaxAttempts int
	Backoff     time.Duration
	MaxBackoff  time.Duration
}
