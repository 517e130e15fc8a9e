package pluginhost

import (
	"fmt"
	"sort"

	"github.com/oftp2/connector/sdk"
)

// Builtins maps the names of bundled plugins to their constructors. The
// connector binary serves them itself ("connector plugin serve NAME"), so a
// fresh build needs no separate plugin executables. The set is chosen by the
// program that links the plugins in (cmd/connector), not by this package:
// core depends on the sdk only.
type Builtins map[string]func() sdk.Plugin

// Names lists the bundled plugins, sorted.
func (b Builtins) Names() []string {
	names := make([]string, 0, len(b))
	for n := range b {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Serve serves the bundled plugin name as a plugin process and exits the
// process when the connector stops it. It returns only for an unknown name.
// cmd/connector calls it for "connector plugin serve NAME".
func (b Builtins) Serve(name string) error {
	newPlugin, ok := b[name]
	if !ok {
		return &PluginError{Plugin: name, Op: "serve", Err: fmt.Errorf("%w (bundled: %v)", ErrUnknownBuiltin, b.Names())}
	}
	sdk.Serve(newPlugin())
	return nil
}
