package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestDocumentationCoversSchema keeps docs/configuration.md in step with the
// decoder: every attribute and nested block a schema accepts must appear,
// in backquotes, in the section about its block.
func TestDocumentationCoversSchema(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	var current string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ") {
			current = strings.TrimSpace(strings.TrimLeft(line, "#"))
			continue
		}
		sections[current] += line + "\n"
	}
	schemas := map[string]*hcl.BodySchema{
		"connector":             connectorSchema,
		"listener":              listenerSchema,
		"listener › tls":        listenerTLSSchema,
		"identity":              identitySchema,
		"partner":               partnerSchema,
		"partner › security":    securitySchema,
		"partner › schedule":    scheduleSchema,
		"plugin":                pluginSchema,
		"keys":                  keysSchema,
		"keys › local":          localKeysSchema,
		"inbound":               inboundSchema,
		"outbound":              outboundSchema,
		"outbound › retry":      retrySchema,
		"variable":              variableSchema,
		"Object-name templates": nil,
	}
	for name, schema := range schemas {
		text, ok := sections[name]
		if !ok {
			t.Errorf("docs/configuration.md has no section %q", name)
			continue
		}
		if schema == nil {
			continue
		}
		for _, a := range schema.Attributes {
			if !strings.Contains(text, "`"+a.Name+"`") {
				t.Errorf("section %q does not document attribute %s", name, a.Name)
			}
		}
		for _, b := range schema.Blocks {
			if _, ok := sections[name+" › "+b.Type]; !ok {
				t.Errorf("block %s has no section %q", name, name+" › "+b.Type)
			}
		}
	}
	for _, b := range rootSchema.Blocks {
		if _, ok := sections[b.Type]; !ok {
			t.Errorf("top-level block %s is not documented", b.Type)
		}
	}
	for _, m := range macroNames {
		if !strings.Contains(sections["Object-name templates"], "`%"+m+"%`") {
			t.Errorf("macro %%%s%% is not documented", m)
		}
	}
}
