package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// sessionFlags are the settings every command that runs an OFTP session shares.
type sessionFlags struct {
	ssid, sfid, password                      string
	partnerSSID, partnerSFID, partnerPassword string
	version                                   string
	enforceVersion                            bool
	bufferSize, credit                        int
	compress, noRestart                       bool
	timeout                                   time.Duration
	logFormat, logLevel                       string
	trail                                     bool
}

func (f *sessionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.ssid, "ssid", envOr("OFTP_SSID", ""), "our SSID identification code (env OFTP_SSID)")
	fs.StringVar(&f.sfid, "sfid", envOr("OFTP_SFID", ""), "our SFID code, the originator of files we send (default: --ssid)")
	fs.StringVar(&f.password, "password", envOr("OFTP_PASSWORD", ""), "our SSID password, at most 8 characters (env OFTP_PASSWORD)")
	fs.StringVar(&f.partnerSSID, "partner-ssid", envOr("OFTP_PARTNER_SSID", ""), "the partner's SSID code")
	fs.StringVar(&f.partnerSFID, "partner-sfid", envOr("OFTP_PARTNER_SFID", ""), "the partner's SFID code (default: --partner-ssid)")
	fs.StringVar(&f.partnerPassword, "partner-password", envOr("OFTP_PARTNER_PASSWORD", ""), "the password the partner must send (env OFTP_PARTNER_PASSWORD)")
	fs.StringVar(&f.version, "version", "2.0", "highest OFTP version to speak: 2.0, 1.4, 1.3 or 1.2")
	fs.BoolVar(&f.enforceVersion, "enforce-version", false, "refuse partners that do not speak --version")
	fs.IntVar(&f.bufferSize, "buffer-size", oftp.DefaultExchangeBufferSize, "exchange buffer size, 128..99999")
	fs.IntVar(&f.credit, "credit", oftp.DefaultCreditCount, "credit window, 1..999")
	fs.BoolVar(&f.compress, "compress", false, "offer buffer compression")
	fs.BoolVar(&f.noRestart, "no-restart", false, "do not offer restart of interrupted files")
	fs.DurationVar(&f.timeout, "timeout", oftp.DefaultTimeout, "inactivity timeout")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&f.trail, "trail", false, "log every OFTP command in and out (passwords masked)")
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func parseVersion(s string) (oftp.Version, error) {
	switch s {
	case "2.0", "2", "5":
		return oftp.Version20, nil
	case "1.4":
		return oftp.Version14, nil
	case "1.3":
		return oftp.Version13, nil
	case "1.2":
		return oftp.Version12, nil
	}
	return 0, usagef("--version %q: want 2.0, 1.4, 1.3 or 1.2", s)
}

func (f *sessionFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	o := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, usagef("--log-format %q: want text or json", f.logFormat)
}

// options turns the flags into session options; TLS and I/O are added by the caller.
func (f *sessionFlags) options(log *slog.Logger) (oftp.Options, error) {
	o := oftp.DefaultOptions()
	v, err := parseVersion(f.version)
	if err != nil {
		return o, err
	}
	if f.ssid == "" {
		return o, usagef("--ssid is required (our identification code)")
	}
	o.SSIDCode = strings.ToUpper(f.ssid)
	o.SFIDCode = strings.ToUpper(f.sfid)
	o.Password = f.password
	o.PartnerSSIDCode = strings.ToUpper(f.partnerSSID)
	o.PartnerSFIDCode = strings.ToUpper(f.partnerSFID)
	o.PartnerPassword = f.partnerPassword
	o.Version = v
	o.EnforceProtocolVersion = f.enforceVersion
	o.ExchangeBufferSize = f.bufferSize
	o.CreditCount = f.credit
	o.Compress = f.compress
	o.Restart = !f.noRestart
	o.Timeout = f.timeout
	o.Logger = log
	f.addTrail(&o, log)
	return o, nil
}

// addTrail logs every command in and out when --trail is set.
func (f *sessionFlags) addTrail(o *oftp.Options, log *slog.Logger) {
	if !f.trail {
		return
	}
	o.Events.PITrail = func(pi oftp.PITrail) {
		log.Info("pi", "dir", pi.Direction.String(), "cmd", pi.Name, "data", printable(pi.Data))
	}
}

// printable shows a command for the PI trail; DATA payloads are summarised.
func printable(b []byte) string {
	if len(b) > 0 && b[0] == 'D' {
		return fmt.Sprintf("D <%d octets>", len(b)-1)
	}
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

// parseArgs parses flags wherever they appear, so "send FILE --tls" works like
// "send --tls FILE"; "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
