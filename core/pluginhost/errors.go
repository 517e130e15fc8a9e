package pluginhost

import (
	"errors"
	"fmt"

	"github.com/oftp2/connector/sdk"
)

// Causes of a *PluginError; compare with errors.Is.
var (
	// ErrExited: the plugin process died. The next call starts a new one.
	ErrExited = errors.New("plugin process exited")
	// ErrStart: the process did not complete the handshake (it crashed, hung
	// or is not a connector plugin).
	ErrStart = errors.New("plugin failed to start")
	// ErrChecksum: the executable does not match its pinned SHA-256.
	ErrChecksum = errors.New("plugin executable does not match its pinned SHA-256 checksum")
	// ErrIncompatible: the plugin speaks no protocol version the connector knows.
	ErrIncompatible = errors.New("plugin speaks an incompatible protocol version")
	// ErrStdout: the plugin wrote to stdout, which carries the handshake.
	ErrStdout = errors.New("plugin wrote to stdout (plugins must log to stderr)")
	// ErrUnknownBuiltin: no bundled plugin has the requested name.
	ErrUnknownBuiltin = errors.New("no bundled plugin of that name")
	// ErrCapability: the plugin does not offer the capability used.
	ErrCapability = errors.New("plugin does not offer this capability")
)

// PluginError is a failure of, or reported by, a plugin. Plugin is the
// plugin's name in the configuration and Op the operation ("start",
// "configure", "open", "write", "commit", "list", "sign", ...). Err keeps
// the plugin's own error (a *sdk.ConfigError, sdk.ErrExists, ...) or one of
// this package's causes.
type PluginError struct {
	Plugin string
	Op     string
	Err    error
	// Stderr holds the plugin's last stderr lines when it failed to start.
	Stderr string
}

func (e *PluginError) Error() string {
	msg := fmt.Sprintf("plugin %q: %s: %v", e.Plugin, e.Op, e.Err)
	if e.Stderr != "" {
		msg += "\nplugin stderr:\n" + e.Stderr
	}
	return msg
}

func (e *PluginError) Unwrap() error { return e.Err }

// RetryAdvice says whether a retry may help: a dead plugin is restarted on
// the next call, a bad checksum stays bad.
func (e *PluginError) RetryAdvice() sdk.Advice {
	switch {
	case errors.Is(e.Err, ErrExited), errors.Is(e.Err, sdk.ErrConnection):
		return sdk.AdviceRetry
	case errors.Is(e.Err, ErrChecksum), errors.Is(e.Err, ErrIncompatible), errors.Is(e.Err, ErrStdout),
		errors.Is(e.Err, ErrUnknownBuiltin), errors.Is(e.Err, ErrCapability):
		return sdk.AdvicePermanent
	case errors.Is(e.Err, ErrStart):
		return sdk.AdviceRetry
	}
	return sdk.AdviceOf(e.Err)
}
