package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/pipeline"
)

// runRun is the service: listeners, partners, plugins and pipelines from a
// configuration file, until SIGINT or SIGTERM; then running transfers get the shutdown
// timeout to finish.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	began := time.Now()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vars := varFlags{}
	fs.Var(vars, "var", "set a variable: -var name=value (repeatable)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	shutdown := fs.Duration("shutdown-timeout", pipeline.DefaultShutdownTimeout, "how long running transfers may take to finish on SIGTERM")
	retry := fs.Duration("retry-interval", 30*time.Second, "how soon a failed partner call or end-response hand-over to a source is tried again")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector run [flags] CONFIG\n\nRuns the connector service described by CONFIG until SIGINT or SIGTERM.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("run needs exactly one configuration file")
	}
	if *logFormat != "text" && *logFormat != "json" {
		return usagef("--log-format %q: want text or json", *logFormat)
	}
	path := fs.Arg(0)
	// Parse once without plugins to learn the log level.
	pre, _, _, src, diags := loadChecked(ctx, path, vars, false, false, nil)
	if diags.HasErrors() {
		printDiagnostics(stderr, src, diags)
		return usagef("%s has errors", path)
	}
	o := &slog.HandlerOptions{Level: pre.Connector.LogLevel}
	var log *slog.Logger
	if *logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, o))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, o))
	}
	cfg, set, host, src, diags := loadChecked(ctx, path, vars, false, true, log)
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			log.Warn("configuration", "diagnostic", config.FormatDiagnostic(d))
		}
	}
	if diags.HasErrors() {
		printDiagnostics(stderr, src, diags)
		return usagef("%s has errors", path)
	}
	defer host.Close()
	popts := pipeline.Options{Config: cfg, Plugins: set, Logger: log, ShutdownTimeout: *shutdown, RetryInterval: *retry}
	sec, err := pipeline.SecurityFromConfig(cfg, log, nil)
	if err != nil {
		return usageError{err}
	}
	if sec != nil {
		popts.Security = sec
	}
	p, err := pipeline.New(popts)
	if err != nil {
		return usageError{err}
	}
	if err := p.Start(ctx); err != nil {
		return err
	}
	addrs := make([]string, 0, len(p.Addrs()))
	for _, a := range p.Addrs() {
		addrs = append(addrs, a.String())
	}
	log.Info("connector ready", "config", path, "listeners", addrs, "partners", len(cfg.Partners),
		"plugins", len(cfg.Plugins), "startup_ms", time.Since(began).Milliseconds())
	<-ctx.Done()
	log.Info("stopping: no new sessions; running transfers may finish", "timeout", shutdown.String())
	err = p.Shutdown(context.WithoutCancel(ctx))
	host.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info("stopped")
	return nil
}
