package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/oftp2/connector/core/pipeline"
	"github.com/oftp2/connector/examples"
)

// runDemo runs both trading partners of examples/connector.hcl in one process: two
// connector services that exchange files over OFTP 2.0 with TLS on 127.0.0.1, each
// storing what it receives through the localfs plugin. It sends one file each way to
// show the whole path, then keeps running for files the user drops in.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	began := time.Now()
	flags := flag.NewFlagSet("demo", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", "connector-demo", "working directory of the demo (created; existing files are kept)")
	portA := flags.Int("port-a", 6619, "OFTP/TLS port of partner a on 127.0.0.1")
	portB := flags.Int("port-b", 6620, "OFTP/TLS port of partner b on 127.0.0.1")
	once := flags.Bool("once", false, "exit after the first exchange instead of running until Ctrl-C")
	timeout := flags.Duration("timeout", time.Minute, "how long to wait for the first exchange")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector demo [flags]\n\nRuns two connectors (partners a and b of examples/connector.hcl) in one process.\nThey exchange files over OFTP 2.0 with TLS on 127.0.0.1: drop a file into DIR/a/outbox\nand it arrives in DIR/b/inbox, and the other way round.\n\nFlags:")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return flagError(err)
	}
	if flags.NArg() != 0 {
		return usagef("demo takes no arguments")
	}
	if err := writeExample(*dir); err != nil {
		return err
	}
	// Plugin paths in the example are relative to the directory the connector runs in.
	if err := os.Chdir(*dir); err != nil {
		return err
	}
	vars := map[string]string{"port_a": strconv.Itoa(*portA), "port_b": strconv.Itoa(*portB)}
	var services []*runningService
	defer func() {
		for _, s := range services {
			_ = s.stop(ctx)
		}
	}()
	for _, side := range []string{"a", "b"} {
		v := map[string]string{"side": side}
		for k, val := range vars {
			v[k] = val
		}
		s, err := launchService(ctx, serviceSpec{path: "connector.hcl", vars: v, stderr: stderr,
			newHandler: func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) },
			attrs:      []slog.Attr{slog.String("partner", side)},
			shutdown:   pipeline.DefaultShutdownTimeout, retry: 2 * time.Second, began: began})
		if err != nil {
			return err
		}
		services = append(services, s)
	}

	abs, _ := os.Getwd()
	fmt.Fprintf(stdout, "Two connectors are running in %s (partner a on 127.0.0.1:%d, partner b on 127.0.0.1:%d).\n", abs, *portA, *portB)
	for _, f := range []struct{ from, to string }{{"a", "b"}, {"b", "a"}} {
		name := "HELLO-FROM-" + strings.ToUpper(f.from) + ".TXT"
		body := fmt.Sprintf("Hello from partner %s, sent over OFTP 2.0 at %s\r\n", f.from, time.Now().UTC().Format(time.RFC3339))
		if err := dropFile(filepath.Join(f.from, "outbox"), name, body); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Sending %s/outbox/%s to partner %s ...\n", f.from, name, f.to)
	}
	deadline := time.Now().Add(*timeout)
	for _, f := range []struct{ from, to string }{{"a", "b"}, {"b", "a"}} {
		name := "HELLO-FROM-" + strings.ToUpper(f.from) + ".TXT"
		got, err := waitForFile(ctx, filepath.Join(f.to, "inbox"), name, deadline)
		if err != nil {
			return fmt.Errorf("demo: %s did not arrive in %s/inbox: %w", name, f.to, err)
		}
		fmt.Fprintf(stdout, "Received %s (partner %s's end response moves the original to %s/outbox/sent).\n", got, f.to, f.from)
	}
	if *once {
		return nil
	}
	fmt.Fprintf(stdout, "Drop more files into %s/a/outbox or %s/b/outbox (write them under a name starting with '.', then rename). Ctrl-C stops.\n", abs, abs)
	<-ctx.Done()
	return nil
}

// writeExample puts the embedded example into dir, keeping files the user already has.
func writeExample(dir string) error {
	return fs.WalkDir(examples.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, path)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		if _, err := os.Stat(target); err == nil {
			return nil
		}
		data, err := examples.Files.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600)
	})
}

// dropFile writes a file under a hidden name and renames it, as a user should, so the
// outbox never offers a half-written file.
func dropFile(dir, name, body string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// waitForFile looks for name anywhere below dir until deadline.
func waitForFile(ctx context.Context, dir, name string, deadline time.Time) (string, error) {
	for {
		var found string
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() == name {
				found = path
				return fs.SkipAll
			}
			return nil
		})
		if found != "" {
			return found, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
