package config

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// PluginSchema is the configuration a plugin accepts, as the plugin
// describes it. The host decodes the user's config block against it.
type PluginSchema struct {
	Attributes []PluginAttribute
}

// PluginAttribute is one attribute of a plugin's config block.
type PluginAttribute struct {
	Name string
	// Type is one of PluginTypeString, PluginTypeNumber, PluginTypeBool,
	// PluginTypeListString or PluginTypeMapString.
	Type string
	// Required attributes must be set.
	Required bool
	// Sensitive attributes are masked by RedactPluginConfig and should come
	// from env() or file() rather than plain text.
	Sensitive   bool
	Description string
	// Default is written to the JSON when the attribute is absent; nil for
	// none. It must encode to JSON as a value of Type.
	Default any
}

// Plugin attribute types.
const (
	PluginTypeString     = "string"
	PluginTypeNumber     = "number"
	PluginTypeBool       = "bool"
	PluginTypeListString = "list(string)"
	PluginTypeMapString  = "map(string)"
)

func pluginType(t string) (cty.Type, bool) {
	switch t {
	case PluginTypeString:
		return cty.String, true
	case PluginTypeNumber:
		return cty.Number, true
	case PluginTypeBool:
		return cty.Bool, true
	case PluginTypeListString:
		return cty.List(cty.String), true
	case PluginTypeMapString:
		return cty.Map(cty.String), true
	}
	return cty.NilType, false
}

// Validate checks the schema itself; a bad schema is a fault of the plugin.
func (s PluginSchema) Validate() error {
	seen := map[string]bool{}
	for _, a := range s.Attributes {
		if !hclsyntax.ValidIdentifier(a.Name) {
			return fmt.Errorf("attribute name %q is not a valid identifier", a.Name)
		}
		if seen[a.Name] {
			return fmt.Errorf("attribute %q is declared twice", a.Name)
		}
		seen[a.Name] = true
		ty, ok := pluginType(a.Type)
		if !ok {
			return fmt.Errorf("attribute %q has unsupported type %q", a.Name, a.Type)
		}
		if a.Default != nil {
			if _, err := defaultJSON(a, ty); err != nil {
				return err
			}
		}
	}
	return nil
}

// DecodePluginConfig decodes a plugin's config block against the schema the
// plugin declared and returns the values as a JSON object (attribute name to
// value; unset optional attributes are left out). ctx is normally
// Config.EvalContext(), so var.X, env() and file() work inside config blocks.
func DecodePluginConfig(body hcl.Body, schema PluginSchema, ctx *hcl.EvalContext) ([]byte, hcl.Diagnostics) {
	if err := schema.Validate(); err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin schema",
			Detail:   fmt.Sprintf("The plugin describes an unusable configuration schema: %s.", err),
			Subject:  body.MissingItemRange().Ptr(),
		}}
	}
	bs := &hcl.BodySchema{}
	for _, a := range schema.Attributes {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	content, diags := body.Content(bs)
	if content == nil {
		return nil, diags
	}
	out := map[string]json.RawMessage{}
	for _, sa := range schema.Attributes {
		attr := content.Attributes[sa.Name]
		ty, _ := pluginType(sa.Type)
		if attr == nil {
			if sa.Default != nil {
				out[sa.Name], _ = defaultJSON(sa, ty) // checked by Validate
			}
			continue
		}
		v, vd := attr.Expr.Value(ctx)
		diags = append(diags, vd...)
		if vd.HasErrors() {
			continue
		}
		if v.IsNull() {
			if sa.Required {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing required argument",
					Detail:   fmt.Sprintf("The argument %q is required and must not be null.", sa.Name),
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
			continue
		}
		cv, err := convert.Convert(v, ty)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity:    hcl.DiagError,
				Summary:     "Incorrect attribute value type",
				Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", sa.Name, err),
				Subject:     attr.Expr.Range().Ptr(),
				Expression:  attr.Expr,
				EvalContext: ctx,
			})
			continue
		}
		if !cv.IsWhollyKnown() || containsNull(cv) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value",
				Detail:   fmt.Sprintf("Attribute %q must not contain null or unknown values.", sa.Name),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		if sa.Sensitive && isPlainLiteral(attr.Expr) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Secret written in the configuration",
				Detail:   fmt.Sprintf("%q is sensitive; read it with env(\"NAME\") or file(\"path\") instead of writing it in the file.", sa.Name),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
		js, err := ctyjson.Marshal(cv, ty)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value",
				Detail:   fmt.Sprintf("Attribute %q cannot be encoded: %s.", sa.Name, err),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		out[sa.Name] = js
	}
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	js, err := json.Marshal(out) // map keys come out sorted: stable output
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot encode plugin configuration", Detail: err.Error()})
	}
	return js, diags
}

// defaultJSON encodes a declared default after checking it has the
// attribute's type.
func defaultJSON(a PluginAttribute, ty cty.Type) (json.RawMessage, error) {
	b, err := json.Marshal(a.Default)
	if err != nil {
		return nil, fmt.Errorf("attribute %q: default cannot be encoded: %v", a.Name, err)
	}
	v, err := ctyjson.Unmarshal(b, ty)
	if err != nil || v.IsNull() {
		return nil, fmt.Errorf("attribute %q: default %s is not a %s", a.Name, b, a.Type)
	}
	return ctyjson.Marshal(v, ty)
}

func containsNull(v cty.Value) bool {
	if v.IsNull() {
		return true
	}
	if v.Type().IsListType() || v.Type().IsMapType() {
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.IsNull() {
				return true
			}
		}
	}
	return false
}

func isPlainLiteral(expr hcl.Expression) bool {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		return e.IsStringLiteral()
	case *hclsyntax.LiteralValueExpr:
		return true
	}
	return false
}

// RedactPluginConfig returns a copy of the JSON produced by
// DecodePluginConfig with sensitive attributes masked, for logs.
func RedactPluginConfig(js []byte, schema PluginSchema) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, err
	}
	for _, a := range schema.Attributes {
		if _, ok := m[a.Name]; ok && a.Sensitive {
			m[a.Name] = json.RawMessage(`"` + secretMask + `"`)
		}
	}
	return json.Marshal(m)
}

// PluginAttributeDiagnostic turns an error a plugin reports about one of its
// attributes (for instance "bucket does not exist") into a diagnostic at
// that attribute's file:line:col in the plugin's config block. When the
// attribute is not in the block, the diagnostic points at the block.
func PluginAttributeDiagnostic(body hcl.Body, attribute, summary, detail string) *hcl.Diagnostic {
	rng := body.MissingItemRange()
	var expr hcl.Expression
	if sb, ok := body.(*hclsyntax.Body); ok {
		if a, ok := sb.Attributes[attribute]; ok {
			rng, expr = a.Expr.Range(), a.Expr
		}
	} else if attrs, _ := body.JustAttributes(); attrs != nil {
		if a, ok := attrs[attribute]; ok {
			rng, expr = a.Expr.Range(), a.Expr
		}
	}
	if summary == "" {
		summary = "Invalid plugin configuration"
	}
	return &hcl.Diagnostic{
		Severity:   hcl.DiagError,
		Summary:    summary,
		Detail:     detail,
		Subject:    &rng,
		Expression: expr,
	}
}

// PluginAttributes lists the attribute names set in a plugin config body,
// sorted; useful for `connector validate` output.
func PluginAttributes(body hcl.Body) []string {
	var names []string
	if sb, ok := body.(*hclsyntax.Body); ok {
		for n := range sb.Attributes {
			names = append(names, n)
		}
	} else if attrs, _ := body.JustAttributes(); attrs != nil {
		for n := range attrs {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
