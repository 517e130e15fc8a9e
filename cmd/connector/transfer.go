package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/oftp"
	"github.com/oftp2/connector/core/pipeline"
)

// initiatorFlags are the flags of send and receive.
type initiatorFlags struct {
	sessionFlags
	tlsClientFlags
	host string
	port int
	sec  *securityFlags

	configPath, partner string
	vars                varFlags
}

func (f *initiatorFlags) register(fs *flag.FlagSet) {
	f.sessionFlags.register(fs)
	f.tlsClientFlags.register(fs)
	fs.StringVar(&f.host, "remote-host", "", "the partner's host name or address")
	fs.IntVar(&f.port, "remote-port", 0, "the partner's port (default 3305, or 6619 with --tls)")
	f.sec = newSecurityFlags(fs)
	f.vars = varFlags{}
	fs.StringVar(&f.configPath, "config", "", "take our identity and the partner's settings from this configuration file (with --partner)")
	fs.StringVar(&f.partner, "partner", "", "with --config: the name of the partner block to call")
	fs.Var(f.vars, "var", "with --config: set a variable, name=value (repeatable)")
}

// withConfigFlags are the flags that still make sense when --config supplies the session
// settings; any other session flag would silently fight the configuration.
var withConfigFlags = map[string]bool{
	"config": true, "partner": true, "var": true, "log-format": true, "log-level": true, "trail": true,
	"download-directory": true, "name-format": true, "overwrite": true,
	"dsn": true, "format": true, "max-record-size": true, "description": true,
}

// connect builds the session options, from the flags or from --config and --partner,
// and logs on to the partner.
func (f *initiatorFlags) connect(ctx context.Context, fs *flag.FlagSet, log *slog.Logger, setup func(*oftp.Options)) (*oftp.Client, error) {
	opts, addr, err := f.sessionOptions(fs, log)
	if err != nil {
		return nil, err
	}
	setup(&opts)
	return oftp.Dial(ctx, addr, opts)
}

func (f *initiatorFlags) sessionOptions(fs *flag.FlagSet, log *slog.Logger) (oftp.Options, string, error) {
	if f.configPath == "" {
		if f.partner != "" || len(f.vars) > 0 {
			return oftp.Options{}, "", usagef("--partner and --var need --config")
		}
		return f.flagOptions(log)
	}
	var conflict []string
	fs.Visit(func(fl *flag.Flag) {
		if !withConfigFlags[fl.Name] {
			conflict = append(conflict, "--"+fl.Name)
		}
	})
	if len(conflict) > 0 {
		return oftp.Options{}, "", usagef("%s: with --config the partner block holds these settings", strings.Join(conflict, ", "))
	}
	if f.partner == "" {
		return oftp.Options{}, "", usagef("--config needs --partner NAME")
	}
	src := config.Sources{}
	cfg, diags := config.Load(f.configPath, config.Options{Vars: f.vars, Sources: src})
	if diags.HasErrors() {
		printDiagnostics(fs.Output(), src, diags)
		return oftp.Options{}, "", usagef("%s has errors", f.configPath)
	}
	opts, pc, err := pipeline.PartnerOptions(cfg, f.partner, log)
	if err != nil {
		return oftp.Options{}, "", usageError{err}
	}
	sec, err := pipeline.SecurityFromConfig(cfg, log, nil)
	if err != nil {
		return oftp.Options{}, "", usageError{err}
	}
	if sec != nil {
		sec.Install(&opts)
	}
	f.sessionFlags.addTrail(&opts, log)
	return opts, pc.Address, nil
}

// flagOptions are the session options given entirely on the command line.
func (f *initiatorFlags) flagOptions(log *slog.Logger) (oftp.Options, string, error) {
	opts, err := f.options(log)
	if err != nil {
		return opts, "", err
	}
	if f.host == "" {
		return opts, "", usagef("--remote-host is required (or --config with --partner)")
	}
	if opts.PartnerSSIDCode == "" {
		return opts, "", usagef("--partner-ssid is required: the partner's identification code")
	}
	if opts.TLSConfig, err = f.tlsClientFlags.config(f.host); err != nil {
		return opts, "", err
	}
	if opts.Dialer, err = f.tlsClientFlags.dialer(); err != nil {
		return opts, "", err
	}
	if _, err := f.sec.apply(&opts, log); err != nil {
		return opts, "", err
	}
	port := f.port
	if port == 0 {
		port = oftp.PortTCP
		if opts.TLSConfig != nil {
			port = oftp.PortTLS
		}
	}
	return opts, net.JoinHostPort(f.host, strconv.Itoa(port)), nil
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f initiatorFlags
	f.register(fs)
	dsn := fs.String("dsn", "", "virtual file name (default: the file's base name, upper case); only with one file")
	format := fs.String("format", "U", "virtual file format: U, T, F or V")
	lrecl := fs.Int("max-record-size", 0, "record length for F, maximum record length for V")
	desc := fs.String("description", "", "file description sent with the file (2.0)")
	dir := fs.String("download-directory", ".", "directory for files the partner sends us in the same session")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector send [flags] FILE...\n\nConnects to a partner, sends the files, receives what the partner has queued, and logs off.\n\nFlags:")
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(files) == 0 {
		return usagef("send: no files given")
	}
	if *dsn != "" && len(files) > 1 {
		return usagef("send: --dsn names one file, %d given", len(files))
	}
	fmtValue, err := parseFormat(*format)
	if err != nil {
		return err
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	prog := newProgress(stderr, log)

	outgoing := make([]*oftp.OutgoingFile, 0, len(files))
	for _, path := range files {
		st, err := os.Stat(path)
		if err != nil {
			return usageError{err}
		}
		name := *dsn
		if name == "" {
			name = oftp.DatasetNameFor(path)
		}
		outgoing = append(outgoing, &oftp.OutgoingFile{
			DatasetName:   name,
			Format:        fmtValue,
			MaxRecordSize: *lrecl,
			Size:          st.Size(),
			OriginalSize:  st.Size(),
			Description:   *desc,
			Source:        oftp.FileSource{Path: path, Format: fmtValue, MaxRecordSize: *lrecl},
		})
		prog.expect(name, st.Size())
	}

	c, err := f.connect(ctx, fs, log, func(o *oftp.Options) {
		o.DownloadDirectory = *dir
		prog.events(&o.Events)
	})
	if err != nil {
		return err
	}
	defer c.Disconnect()
	var firstErr error
	for _, of := range outgoing {
		if _, err := c.SendFile(ctx, of); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			if !isRefusal(err) {
				return err
			}
		}
	}
	if err := c.Logoff(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr == nil {
		firstErr = prog.receiptError()
	}
	return firstErr
}

func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f initiatorFlags
	f.register(fs)
	dir := fs.String("download-directory", ".", "directory for received files")
	nameFormat := fs.String("name-format", oftp.DefaultReceivedFileNameFormat, "name of received files (macros as for serve)")
	overwrite := fs.Bool("overwrite", false, "replace existing files")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector receive [flags]\n\nConnects to a partner, receives every file it has queued, and logs off.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o750); err != nil {
		return err
	}
	c, err := f.connect(ctx, fs, log, func(o *oftp.Options) {
		o.DownloadDirectory = *dir
		o.ReceivedFileNameFormat = *nameFormat
		o.Overwrite = *overwrite
		newProgress(stderr, log).events(&o.Events)
	})
	if err != nil {
		return err
	}
	defer c.Disconnect()
	got, err := c.ReceiveFiles(ctx)
	for _, r := range got {
		fmt.Fprintln(stdout, r.Location)
	}
	if err != nil {
		return err
	}
	return c.Logoff(ctx)
}

func parseFormat(s string) (oftp.Format, error) {
	switch strings.ToUpper(s) {
	case "U":
		return oftp.FormatUnstructured, nil
	case "T":
		return oftp.FormatText, nil
	case "F":
		return oftp.FormatFixed, nil
	case "V":
		return oftp.FormatVariable, nil
	}
	return 0, usagef("--format %q: want U, T, F or V", s)
}

// isRefusal reports a file the partner refused; the session goes on with the next file.
func isRefusal(err error) bool {
	var re *oftp.ReasonError
	return errors.As(err, &re) && (re.Cmd == "SFNA" || re.Cmd == "EFNA")
}
