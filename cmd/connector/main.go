// Command connector speaks ODETTE FTP (OFTP 2.0, 1.4, 1.3, 1.2) with trading partners:
// as a service (serve, run) or for one-off transfers (send, receive).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oftp2/connector/core/oftp"
)

// Exit codes tell a calling script what happened without parsing text.
const (
	exitOK      = 0
	exitFailure = 1 // network, storage or protocol failure
	exitUsage   = 2 // bad command line or configuration
	exitRefused = 3 // the partner refused (the reason code is printed)
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "run two connectors that exchange files over OFTP/TLS on this machine", runDemo},
		{"serve", "run a responder that accepts partners and stores received files", runServe},
		{"send", "connect to a partner and send files", runSend},
		{"receive", "connect to a partner and receive the files it has queued", runReceive},
		{"cert", "inspect a certificate file: connector cert inspect FILE", runCert},
		{"run", "run the connector service from a configuration file", runRun},
		{"validate", "check a configuration file, including its plugins' settings", runValidate},
		{"plugins", "list bundled and installed plugins with version and capabilities", runPlugins},
		{"plugin", "serve a bundled plugin: connector plugin serve NAME (the connector runs this itself)", runPlugin},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintf(stdout, "connector %s (OFTP %s)\n", version, oftp.Version20)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(stderr, c.run(ctx, args[1:], stdout, stderr))
		}
	}
	fmt.Fprintf(stderr, "connector: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: connector <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "connector <command> -h" for the flags of a command.`)
}

// usageError marks errors in the command line or configuration.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitCode prints err and maps it to the exit code contract.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "connector: %v\n", err)
		return exitUsage
	}
	var re *oftp.ReasonError
	if errors.As(err, &re) && !re.Local {
		fmt.Fprintf(stderr, "connector: refused by partner: %v\n", err)
		return exitRefused
	}
	fmt.Fprintf(stderr, "connector: %v\n", err)
	return exitFailure
}
