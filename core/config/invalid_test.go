package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// testPluginSchemas stand in for what bundled plugins describe about
// themselves; the invalid configurations are decoded against them.
var testPluginSchemas = map[string]PluginSchema{
	"s3": {Attributes: []PluginAttribute{
		{Name: "bucket", Type: PluginTypeString, Required: true, Description: "Bucket name."},
		{Name: "region", Type: PluginTypeString},
		{Name: "part_size", Type: PluginTypeNumber},
		{Name: "tags", Type: PluginTypeMapString},
		{Name: "prefixes", Type: PluginTypeListString},
		{Name: "secret_key", Type: PluginTypeString, Sensitive: true},
	}},
}

// validateTestPlugin plays the plugin's own check of its decoded
// configuration; its complaint must land on the attribute in the file.
func validateTestPlugin(p *Plugin, js []byte) *hcl.Diagnostic {
	var v struct{ Bucket string }
	if err := json.Unmarshal(js, &v); err != nil {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "bad JSON from DecodePluginConfig", Detail: err.Error()}
	}
	if strings.ToLower(v.Bucket) != v.Bucket {
		return PluginAttributeDiagnostic(p.Body, "bucket", "Invalid bucket name", "Plugin "+p.Name+": bucket names are lower case.")
	}
	return nil
}

// diagnoseFile runs everything `connector validate` runs on one file.
func diagnoseFile(t testing.TB, path string, src []byte) (hcl.Diagnostics, Sources) {
	opts := testOptions()
	opts.Sources = Sources{}
	cfg, diags := Parse(path, src, opts)
	if cfg == nil {
		return diags, opts.Sources
	}
	for _, p := range cfg.Plugins {
		schema, ok := testPluginSchemas[p.Builtin]
		if !ok {
			continue
		}
		js, pd := DecodePluginConfig(p.Body, schema, cfg.EvalContext())
		diags = append(diags, pd...)
		if !pd.HasErrors() {
			if d := validateTestPlugin(p, js); d != nil {
				diags = append(diags, d)
			}
		}
	}
	return diags, opts.Sources
}

func renderDiagnostics(t testing.TB, diags hcl.Diagnostics, src Sources) []byte {
	var b bytes.Buffer
	for _, d := range diags {
		b.WriteString(FormatDiagnostic(d))
		b.WriteByte('\n')
	}
	b.WriteString("\n---- as printed by connector validate ----\n")
	if err := WriteDiagnostics(&b, src, diags, PrintOptions{Width: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestInvalidConfigs decodes every file in testdata/invalid and compares
// its diagnostics with the .golden file next to it (go test -update
// rewrites them). Every file must produce at least one error.
func TestInvalidConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 15 {
		t.Fatalf("only %d invalid configurations in testdata/invalid", len(files))
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".hcl")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			diags, sources := diagnoseFile(t, path, src)
			if !diags.HasErrors() {
				t.Fatalf("no error reported for %s", path)
			}
			for _, d := range diags {
				if d.Subject == nil && d.Summary != "Value for undeclared variable" {
					t.Errorf("diagnostic without a source position: %s", FormatDiagnostic(d))
				}
			}
			got := renderDiagnostics(t, diags, sources)
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("diagnostics differ from %s:\n--- got ---\n%s\n--- want ---\n%s", golden, got, want)
			}
		})
	}
}

// TestValidConfigsHaveNoErrors keeps the valid examples clean under the
// same checks, plugin configuration included.
func TestValidConfigsHaveNoErrors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "valid", "*.hcl"))
	if len(files) == 0 {
		t.Fatal("no valid configurations")
	}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diags, _ := diagnoseFile(t, path, src); len(diags) > 0 {
			t.Errorf("%s: %s", path, diags.Error())
		}
	}
}
