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
	"github.com/oftp2/connector/core/pluginhost"
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
	newHandler := func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewTextHandler(w, o) }
	if *logFormat == "json" {
		newHandler = func(w io.Writer, o *slog.HandlerOptions) slog.Handler { return slog.NewJSONHandler(w, o) }
	}
	svc, err := launchService(ctx, serviceSpec{path: path, vars: vars, stderr: stderr, newHandler: newHandler,
		shutdown: *shutdown, retry: *retry, began: began})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return svc.stop(ctx)
}

// serviceSpec says how to start one connector service.
type serviceSpec struct {
	path       string
	vars       map[string]string
	stderr     io.Writer
	newHandler func(io.Writer, *slog.HandlerOptions) slog.Handler
	attrs      []slog.Attr // added to every log line (the demo names its two sides)
	shutdown   time.Duration
	retry      time.Duration
	began      time.Time
}

// runningService is a started connector service.
type runningService struct {
	log      *slog.Logger
	p        *pipeline.Pipeline
	host     *pluginhost.Host
	shutdown time.Duration
}

// launchService loads a configuration, starts its plugins, listeners and pipelines, and
// returns once the service is ready.
func launchService(ctx context.Context, spec serviceSpec) (*runningService, error) {
	path, vars, stderr := spec.path, spec.vars, spec.stderr
	// Parse once without plugins to learn the log level.
	pre, _, _, src, diags := loadChecked(ctx, path, vars, false, false, nil)
	if diags.HasErrors() {
		printDiagnostics(stderr, src, diags)
		return nil, usagef("%s has errors", path)
	}
	o := &slog.HandlerOptions{Level: pre.Connector.LogLevel}
	log := slog.New(spec.newHandler(stderr, o).WithAttrs(spec.attrs))
	cfg, set, host, src, diags := loadChecked(ctx, path, vars, false, true, log)
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			log.Warn("configuration", "diagnostic", config.FormatDiagnostic(d))
		}
	}
	if diags.HasErrors() {
		printDiagnostics(stderr, src, diags)
		return nil, usagef("%s has errors", path)
	}
	popts := pipeline.Options{Config: cfg, Plugins: set, Logger: log, ShutdownTimeout: spec.shutdown, RetryInterval: spec.retry}
	sec, err := pipeline.SecurityFromConfig(cfg, log, nil)
	if err != nil {
		host.Close()
		return nil, usageError{err}
	}
	if sec != nil {
		popts.Security = sec
	}
	p, err := pipeline.New(popts)
	if err != nil {
		host.Close()
		return nil, usageError{err}
	}
	if err := p.Start(ctx); err != nil {
		host.Close()
		return nil, err
	}
	addrs := make([]string, 0, len(p.Addrs()))
	for _, a := range p.Addrs() {
		addrs = append(addrs, a.String())
	}
	log.Info("connector ready", "config", path, "listeners", addrs, "partners", len(cfg.Partners),
		"plugins", len(cfg.Plugins), "startup_ms", time.Since(spec.began).Milliseconds())
	return &runningService{log: log, p: p, host: host, shutdown: spec.shutdown}, nil
}

// stop lets running transfers finish (up to the shutdown timeout) and stops the plugins.
func (s *runningService) stop(ctx context.Context) error {
	s.log.Info("stopping: no new sessions; running transfers may finish", "timeout", s.shutdown.String())
	err := s.p.Shutdown(context.WithoutCancel(ctx))
	s.host.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s.log.Info("stopped")
	return nil
}
