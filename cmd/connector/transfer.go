package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/oftp2/connector/core/oftp"
)

// initiatorFlags are the flags of send and receive.
type initiatorFlags struct {
	sessionFlags
	tlsClientFlags
	host string
	port int
}

func (f *initiatorFlags) register(fs *flag.FlagSet) {
	f.sessionFlags.register(fs)
	f.tlsClientFlags.register(fs)
	fs.StringVar(&f.host, "remote-host", "", "the partner's host name or address")
	fs.IntVar(&f.port, "remote-port", 0, "the partner's port (default 3305, or 6619 with --tls)")
}

func (f *initiatorFlags) dial(ctx context.Context, opts oftp.Options) (*oftp.Client, error) {
	if f.host == "" {
		return nil, usagef("--remote-host is required")
	}
	if opts.PartnerSSIDCode == "" {
		return nil, usagef("--partner-ssid is required: the partner's identification code")
	}
	port := f.port
	if port == 0 {
		port = oftp.PortTCP
		if opts.TLSConfig != nil {
			port = oftp.PortTLS
		}
	}
	return oftp.Dial(ctx, net.JoinHostPort(f.host, strconv.Itoa(port)), opts)
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f initiatorFlags
	f.register(fs)
	sec := newSecurityFlags(fs)
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
	opts, err := f.options(log)
	if err != nil {
		return err
	}
	if opts.TLSConfig, err = f.tlsClientFlags.config(f.host); err != nil {
		return err
	}
	if opts.Dialer, err = f.tlsClientFlags.dialer(); err != nil {
		return err
	}
	if _, err := sec.apply(&opts, log); err != nil {
		return err
	}
	opts.DownloadDirectory = *dir
	prog := newProgress(stderr, log)
	prog.events(&opts.Events)

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

	c, err := f.dial(ctx, opts)
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
	sec := newSecurityFlags(fs)
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
	opts, err := f.options(log)
	if err != nil {
		return err
	}
	if opts.TLSConfig, err = f.tlsClientFlags.config(f.host); err != nil {
		return err
	}
	if opts.Dialer, err = f.tlsClientFlags.dialer(); err != nil {
		return err
	}
	if _, err := sec.apply(&opts, log); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o750); err != nil {
		return err
	}
	opts.DownloadDirectory = *dir
	opts.ReceivedFileNameFormat = *nameFormat
	opts.Overwrite = *overwrite
	newProgress(stderr, log).events(&opts.Events)

	c, err := f.dial(ctx, opts)
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
