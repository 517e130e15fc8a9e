package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/pluginhost"
	"github.com/oftp2/connector/sdk"
)

// runPlugins lists the bundled plugins and the executables in the plugin directory with
// their version and capabilities.
func runPlugins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("plugin-dir", "", "directory of third-party plugin executables (default: plugin_dir of --config, else ./plugins)")
	cfgPath := fs.String("config", "", "configuration file whose plugin_dir to list")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector plugins [flags]\n\nLists bundled plugins and the plugin executables installed in the plugin directory.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 0 {
		return usagef("plugins takes no arguments")
	}
	pluginDir := *dir
	if pluginDir == "" && *cfgPath != "" {
		cfg, diags := config.Load(*cfgPath, config.Options{})
		if diags.HasErrors() {
			return usagef("%s: %s", *cfgPath, config.FormatDiagnostic(diags[0]))
		}
		pluginDir = cfg.Connector.PluginDir
	}
	if pluginDir == "" {
		pluginDir = config.DefaultPluginDir
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tCAPABILITIES\tSOURCE")
	builtins := bundledPlugins()
	for _, name := range builtins.Names() {
		info := builtins[name]().Info()
		fmt.Fprintf(tw, "%s\tbuiltin\t%s\t%s\tconnector plugin serve %s\n", name, info.Version, capabilities(info.Capabilities), name)
	}
	found, err := pluginhost.Discover(pluginDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		tw.Flush()
		return err
	}
	host := pluginhost.New(pluginhost.Options{Logger: slog.New(slog.DiscardHandler), Builtins: builtins})
	defer host.Close()
	for _, ex := range found {
		// The checksum is the one just computed: listing describes what is installed;
		// the configuration pins what may run.
		p, err := host.Start(ctx, pluginhost.Spec{Name: ex.Name, Path: ex.Path, SHA256: ex.SHA256})
		if err != nil {
			fmt.Fprintf(tw, "%s\texternal\t-\t-\t%s: %s\n", ex.Name, ex.Path, firstLine(err.Error()))
			continue
		}
		info := p.Info()
		fmt.Fprintf(tw, "%s\texternal\t%s\t%s\t%s sha256=%s\n", info.Name, info.Version, capabilities(info.Capabilities), ex.Path, ex.SHA256)
		p.Close()
	}
	return tw.Flush()
}

func capabilities(c sdk.Capabilities) string {
	var out []string
	if c.Sink {
		out = append(out, "sink")
	}
	if c.Source {
		out = append(out, "source")
	}
	if c.Watch {
		out = append(out, "watch")
	}
	if c.Keys {
		out = append(out, "keys")
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
