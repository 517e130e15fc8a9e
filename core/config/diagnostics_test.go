package config

import (
	"bytes"
	"strings"
	"testing"
)

// A failing expression that uses a variable must not print the variable's
// value: variables carry passwords.
func TestWriteDiagnosticsHidesValues(t *testing.T) {
	src := []byte(`variable "pw" { default = "HIDDEN1" }
identity {
  ssid     = "O0013ME"
  password = [var.pw]
}
`)
	opts := testOptions()
	opts.Sources = Sources{}
	_, diags := Parse("h.hcl", src, opts)
	if !diags.HasErrors() || diags[0].Expression == nil || diags[0].EvalContext == nil {
		t.Fatalf("want a type error that carries its expression, got %s", allDiags(diags))
	}
	var out bytes.Buffer
	if err := WriteDiagnostics(&out, opts.Sources, diags, PrintOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "HIDDEN1\"") || strings.Contains(out.String(), "var.pw is") {
		t.Errorf("variable value printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "on h.hcl line 4:") || !strings.Contains(out.String(), "password = [var.pw]") {
		t.Errorf("source snippet missing:\n%s", out.String())
	}
}
