package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf sessionFlags
	sf.register(fs)
	var tf tlsServerFlags
	tf.register(fs)
	sec := newSecurityFlags(fs)
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:3305, or 127.0.0.1:6619 with --tls-cert)")
	inbox := fs.String("inbox", "inbox", "directory for received files")
	tempDir := fs.String("temp-dir", "", "directory for files being received (default: a hidden directory inside --inbox)")
	nameFormat := fs.String("name-format", oftp.DefaultReceivedFileNameFormat, "name of received files; macros such as %VirtualFileName%, %Originator%, %VirtualFileDate%")
	overwrite := fs.Bool("overwrite", false, "replace existing files in the inbox")
	outbox := fs.String("outbox", "", "directory of files to send to the partner when it hands over the turn (sent files move to OUTBOX/sent)")
	once := fs.Bool("once", false, "serve one session, then exit with its outcome")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector serve [flags]\n\nRuns an OFTP responder that stores received files in --inbox.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	log, err := sf.logger(stderr)
	if err != nil {
		return err
	}
	opts, err := sf.options(log)
	if err != nil {
		return err
	}
	if opts.PartnerSSIDCode == "" {
		return usagef("--partner-ssid is required: the identification code of the partner allowed to connect")
	}
	opts.TLSConfig, err = tf.config()
	if err != nil {
		return err
	}
	if _, err := sec.apply(&opts, log); err != nil {
		return err
	}
	if err := os.MkdirAll(*inbox, 0o750); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	opts.DownloadDirectory = *inbox
	opts.TempPath = *tempDir
	opts.ReceivedFileNameFormat = *nameFormat
	opts.Overwrite = *overwrite
	newProgress(stderr, log).events(&opts.Events)

	addr := *listen
	if addr == "" {
		addr = "127.0.0.1:3305"
		if opts.TLSConfig != nil {
			addr = "127.0.0.1:6619"
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &oftp.Server{Options: opts}
	if *outbox != "" {
		if err := os.MkdirAll(*outbox, 0o750); err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		srv.Partners = oftp.Partners{opts.PartnerSSIDCode: {
			SSIDCode: opts.PartnerSSIDCode,
			SFIDCode: opts.PartnerSFIDCode,
			Password: opts.PartnerPassword,
			Outbox:   &oftp.DirectoryOutbox{Dir: *outbox},
		}}
	}
	log.Info("listening", "address", l.Addr().String(), "tls", opts.TLSConfig != nil, "ssid", opts.SSIDCode,
		"partner", opts.PartnerSSIDCode, "inbox", *inbox, "version", opts.Version.String())

	if *once {
		conn, err := l.Accept()
		l.Close()
		if err != nil {
			return err
		}
		return srv.ServeConn(ctx, conn)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for sessions to end")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, oftp.ErrServerClosed) {
		return err
	}
	return nil
}

// flagError maps flag parsing results: -h is not a failure.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return usageError{err}
}
