package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Sources maps file names to their text, so diagnostics can be printed
// with source snippets. Pass one in Options.Sources to collect it.
type Sources map[string][]byte

// Files returns the sources in the form hcl's diagnostic writer wants.
func (s Sources) Files() map[string]*hcl.File {
	out := make(map[string]*hcl.File, len(s))
	for name, src := range s {
		out[name] = &hcl.File{Bytes: src}
	}
	return out
}

// PrintOptions controls WriteDiagnostics.
type PrintOptions struct {
	// Width wraps detail text; 0 means no wrapping.
	Width uint
	// Color uses ANSI colours (for a terminal).
	Color bool
}

// WriteDiagnostics prints diagnostics the way `connector validate` shows
// them: severity, summary, file:line:col, the offending source lines with
// the range underlined, and the detail.
//
// hcl's writer would also print the values of variables used in a failing
// expression; variables carry passwords, so those values are left out.
func WriteDiagnostics(w io.Writer, src Sources, diags hcl.Diagnostics, opts PrintOptions) error {
	safe := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Expression, c.EvalContext = nil, nil
		safe[i] = &c
	}
	return hcl.NewDiagnosticTextWriter(w, src.Files(), opts.Width, opts.Color).WriteDiagnostics(safe)
}

// FormatDiagnostic renders one diagnostic on one line:
// "file:line:col: error: Summary; detail". It is meant for logs and tests.
func FormatDiagnostic(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
	}
	switch d.Severity {
	case hcl.DiagError:
		b.WriteString("error: ")
	case hcl.DiagWarning:
		b.WriteString("warning: ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString("; ")
		b.WriteString(d.Detail)
	}
	return b.String()
}
