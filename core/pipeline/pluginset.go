package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/oftp2/connector/core/config"
	"github.com/oftp2/connector/core/pluginhost"
	"github.com/oftp2/connector/sdk"
)

// PluginSet is the configuration's plugins running under a plugin host: each one
// started, described and configured with its own block decoded against the schema it
// declared. It implements Plugins.
type PluginSet struct {
	plugins map[string]*pluginhost.Plugin
}

// Sink implements Plugins.
func (s *PluginSet) Sink(_ context.Context, name string) (sdk.Sink, error) {
	p := s.plugins[name]
	if p == nil {
		return nil, sdk.Permanent(fmt.Errorf("pipeline: no plugin %q", name))
	}
	return p.Sink(), nil
}

// Source implements Plugins.
func (s *PluginSet) Source(_ context.Context, name string) (sdk.Source, error) {
	p := s.plugins[name]
	if p == nil {
		return nil, sdk.Permanent(fmt.Errorf("pipeline: no plugin %q", name))
	}
	return p.Source(), nil
}

// CanWatch implements Watchable: the plugin said it can push new files.
func (s *PluginSet) CanWatch(name string) bool {
	p := s.plugins[name]
	return p != nil && p.Info().Capabilities.Watch
}

// Plugin returns the running plugin of a plugin block, or nil.
func (s *PluginSet) Plugin(name string) *pluginhost.Plugin { return s.plugins[name] }

// Close stops the plugins.
func (s *PluginSet) Close() {
	for _, p := range s.plugins {
		p.Close()
	}
}

// PluginSchema converts the schema a plugin declares to the form the configuration
// decoder checks blocks against.
func PluginSchema(s sdk.ConfigSchema) config.PluginSchema {
	var out config.PluginSchema
	for _, a := range s.Attributes {
		out.Attributes = append(out.Attributes, config.PluginAttribute{
			Name: a.Name, Type: a.Type, Required: a.Required, Sensitive: a.Sensitive,
			Description: a.Description, Default: a.Default,
		})
	}
	return out
}

// pluginPath finds a third-party plugin: a bare name lives in the plugin directory.
func pluginPath(cfg *config.Config, p *config.Plugin) string {
	if strings.ContainsAny(p.Path, `/\`) {
		return p.Path
	}
	return filepath.Join(cfg.Connector.PluginDir, p.Path)
}

// capabilityNeeds lists what the configuration uses each plugin for.
func capabilityNeeds(cfg *config.Config) map[string][]string {
	needs := map[string][]string{}
	for _, in := range cfg.Inbound {
		needs[in.Sink] = append(needs[in.Sink], "sink")
	}
	for _, out := range cfg.Outbound {
		needs[out.Source] = append(needs[out.Source], "source")
	}
	for _, k := range cfg.Keys {
		if k.Plugin != "" {
			needs[k.Plugin] = append(needs[k.Plugin], "keys")
		}
	}
	return needs
}

// StartPlugins starts every plugin block of cfg under host and configures it. Problems
// come back as diagnostics at the user's file:line:col: a configuration error a plugin
// reports about one attribute points at that attribute. On errors the plugins already
// started are stopped and the set is nil.
func StartPlugins(ctx context.Context, cfg *config.Config, host *pluginhost.Host) (*PluginSet, hcl.Diagnostics) {
	set := &PluginSet{plugins: map[string]*pluginhost.Plugin{}}
	var diags hcl.Diagnostics
	needs := capabilityNeeds(cfg)
	bundled := host.Builtins()
	// Processes start in parallel: start-up time is the slowest plugin, not the sum.
	type started struct {
		pl  *pluginhost.Plugin
		err error
	}
	results := make([]started, len(cfg.Plugins))
	var wg sync.WaitGroup
	for i, pc := range cfg.Plugins {
		if pc.Builtin != "" && bundled[pc.Builtin] == nil {
			results[i].err = fmt.Errorf("%w: %q; the bundled plugins are %s", pluginhost.ErrUnknownBuiltin, pc.Builtin, strings.Join(bundled.Names(), ", "))
			continue
		}
		spec := pluginhost.Spec{Name: pc.Name, Builtin: pc.Builtin}
		if pc.Builtin == "" {
			spec.Path, spec.SHA256 = pluginPath(cfg, pc), pc.SHA256
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i].pl, results[i].err = host.Start(ctx, spec)
		}()
	}
	wg.Wait()
	for i, pc := range cfg.Plugins {
		rng := pc.DeclRange
		pl, err := results[i].pl, results[i].err
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin failed to start",
				Detail: err.Error(), Subject: &rng})
			continue
		}
		set.plugins[pc.Name] = pl
		info := pl.Info()
		for _, need := range needs[pc.Name] {
			ok := map[string]bool{"sink": info.Capabilities.Sink, "source": info.Capabilities.Source, "keys": info.Capabilities.Keys}[need]
			if !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin lacks a capability",
					Detail:  fmt.Sprintf("Plugin %q (%s %s) is used as a %s, which it does not offer.", pc.Name, info.Name, info.Version, need),
					Subject: &rng})
			}
		}
		js, ds := config.DecodePluginConfig(pc.Body, PluginSchema(info.Schema), cfg.EvalContext())
		diags = append(diags, ds...)
		if ds.HasErrors() {
			continue
		}
		if err := pl.Configure(ctx, js); err != nil {
			var ce *sdk.ConfigError
			if errors.As(err, &ce) {
				diags = append(diags, config.PluginAttributeDiagnostic(pc.Body, ce.Attribute, "Invalid plugin configuration",
					fmt.Sprintf("Plugin %q: %s.", pc.Name, strings.TrimSuffix(ce.Message, "."))))
				continue
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin configuration failed",
				Detail: err.Error(), Subject: pc.BodyRange.Ptr()})
		}
	}
	if diags.HasErrors() {
		set.Close()
		return nil, diags
	}
	return set, diags
}
