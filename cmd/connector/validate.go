package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/pipeline"
	"github.com/oftp2/connector/core/pluginhost"
)

// varFlags collects repeated -var name=value flags.
type varFlags map[string]string

func (v varFlags) String() string { return "" }

func (v varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[name] = value
	return nil
}

// printDiagnostics writes each diagnostic as one file:line:col line followed by the
// source snippet it points at.
func printDiagnostics(w io.Writer, src config.Sources, diags hcl.Diagnostics) {
	for _, d := range diags {
		fmt.Fprintln(w, config.FormatDiagnostic(d))
		if d.Subject != nil {
			_ = config.WriteDiagnostics(w, src, hcl.Diagnostics{d}, config.PrintOptions{Width: 100})
		}
	}
}

// loadChecked parses the configuration, starts its plugins to check their blocks
// against the schemas they declare, and builds the pipeline without starting it. The
// returned cleanup stops the plugins.
func loadChecked(ctx context.Context, path string, vars map[string]string, checkFiles bool, withPlugins bool, log *slog.Logger) (
	*config.Config, *pipeline.PluginSet, *pluginhost.Host, config.Sources, hcl.Diagnostics) {
	src := config.Sources{}
	opts := config.Options{Vars: vars, Sources: src, CheckFiles: checkFiles}
	cfg, diags := config.Load(path, opts)
	if diags.HasErrors() || !withPlugins {
		return cfg, nil, nil, src, diags
	}
	host := pluginhost.New(pluginhost.Options{Logger: log, Builtins: bundledPlugins()})
	set, pdiags := pipeline.StartPlugins(ctx, cfg, host)
	diags = append(diags, pdiags...)
	if pdiags.HasErrors() {
		host.Close()
		return cfg, nil, nil, src, diags
	}
	return cfg, set, host, src, diags
}

// runValidate checks a configuration file as `connector run` would read it, including
// each plugin's own configuration, and prints every problem with file:line:col.
func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vars := varFlags{}
	fs.Var(vars, "var", "set a variable: -var name=value (repeatable)")
	noPlugins := fs.Bool("no-plugins", false, "do not start plugins (their config blocks stay unchecked)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector validate [flags] CONFIG\n\nChecks CONFIG and the configuration blocks of its plugins; exit code 2 when it has errors.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("validate needs exactly one configuration file")
	}
	path := fs.Arg(0)
	cfg, set, host, src, diags := loadChecked(ctx, path, vars, true, !*noPlugins, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if set != nil {
		defer host.Close()
		popts := pipeline.Options{Config: cfg, Plugins: set}
		sec, err := pipeline.SecurityFromConfig(cfg, nil, nil)
		if sec != nil {
			popts.Security = sec
		}
		if err == nil {
			_, err = pipeline.New(popts)
		}
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Configuration cannot run",
				Detail: err.Error(), Subject: &hcl.Range{Filename: path, Start: hcl.InitialPos, End: hcl.InitialPos}})
		}
	}
	printDiagnostics(stdout, src, diags)
	errs := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			errs++
		}
	}
	if errs > 0 {
		return usagef("%s: %d error(s)", path, errs)
	}
	fmt.Fprintf(stdout, "%s: configuration is valid (%d partner(s), %d plugin(s), %d inbound, %d outbound)\n",
		path, len(cfg.Partners), len(cfg.Plugins), len(cfg.Inbound), len(cfg.Outbound))
	return nil
}
