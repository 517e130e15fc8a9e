package main

import (
	"context"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/pluginhost"
	"github.com/oftp2/connector/plugins/localfs/localfs"
)

// bundledPlugins are the plugins linked into the connector binary. This is the one
// place that knows them: the plugin host and the pipeline get the set from here.
func bundledPlugins() pluginhost.Builtins {
	return pluginhost.Builtins{localfs.Name: localfs.New}
}

// runPlugin handles "connector plugin serve NAME": the plugin host re-executes the
// connector this way to run a bundled plugin in its own process.
func runPlugin(_ context.Context, args []string, _, stderr io.Writer) error {
	if len(args) != 2 || args[0] != "serve" {
		fmt.Fprintln(stderr, "usage: connector plugin serve NAME\n\nServes the bundled plugin NAME over the plugin protocol; the connector runs this itself.")
		return usagef("plugin: want \"plugin serve NAME\"")
	}
	// Serve returns only for an unknown name; otherwise it serves and exits.
	if err := bundledPlugins().Serve(args[1]); err != nil {
		return usageError{err}
	}
	return nil
}
