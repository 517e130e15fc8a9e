package config

import (
	"fmt"
	"math/big"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// block wraps the decoded content of one block with typed getters that
// record diagnostics at the attribute that is wrong.
type block struct {
	d       *decoder
	content *hcl.BodyContent
}

func (d *decoder) open(body hcl.Body, schema *hcl.BodySchema) *block {
	content, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	if content == nil {
		content = &hcl.BodyContent{Attributes: hcl.Attributes{}}
	}
	return &block{d: d, content: content}
}

func (b *block) attr(name string) *hcl.Attribute { return b.content.Attributes[name] }

func (b *block) blocks(kind string) []*hcl.Block {
	var out []*hcl.Block
	for _, bl := range b.content.Blocks {
		if bl.Type == kind {
			out = append(out, bl)
		}
	}
	return out
}

// value evaluates an attribute and converts it to ty. A null value counts
// as not set.
func (b *block) value(a *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	if a == nil {
		return cty.NilVal, false
	}
	if !b.d.checkVars(a.Expr) {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(b.d.eval)
	b.d.diags = append(b.d.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		b.d.diags = append(b.d.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, err),
			Subject:     a.Expr.Range().Ptr(),
			Expression:  a.Expr,
			EvalContext: b.d.eval,
		})
		return cty.NilVal, false
	}
	if !cv.IsWhollyKnown() {
		b.d.errorf(a.Expr.Range(), "Value not known", "Attribute %q must have a value known when the configuration is read.", a.Name)
		return cty.NilVal, false
	}
	return cv, true
}

func (b *block) str(name, def string) (string, *hcl.Attribute) {
	a := b.attr(name)
	v, ok := b.value(a, cty.String)
	if !ok {
		return def, a
	}
	return v.AsString(), a
}

func (b *block) boolean(name string, def bool) (bool, *hcl.Attribute) {
	a := b.attr(name)
	v, ok := b.value(a, cty.Bool)
	if !ok {
		return def, a
	}
	return v.True(), a
}

// integer reads a whole number in [lo, hi].
func (b *block) integer(name string, def, lo, hi int, unit string) (int, *hcl.Attribute) {
	a := b.attr(name)
	v, ok := b.value(a, cty.Number)
	if !ok {
		return def, a
	}
	f := v.AsBigFloat()
	if !f.IsInt() {
		b.d.errorf(a.Expr.Range(), "Invalid value", "%s must be a whole number.", name)
		return def, a
	}
	i, acc := f.Int64()
	if acc != big.Exact || i < int64(lo) || i > int64(hi) {
		b.d.errorf(a.Expr.Range(), "Value out of range", "%s must be from %d to %d%s; got %s.", name, lo, hi, unit, f.Text('f', -1))
		return def, a
	}
	return int(i), a
}

func (b *block) duration(name string, def, lo, hi time.Duration) (time.Duration, *hcl.Attribute) {
	s, a := b.str(name, "")
	if a == nil || s == "" && !b.isSet(a) {
		return def, a
	}
	dur, err := ParseDuration(s)
	if err != nil {
		b.d.errorf(a.Expr.Range(), "Invalid duration", "%s: %s.", name, err)
		return def, a
	}
	if dur < lo || dur > hi {
		b.d.errorf(a.Expr.Range(), "Value out of range", "%s must be from %s to %s; got %s.", name, lo, hi, dur)
		return def, a
	}
	return dur, a
}

// isSet reports whether an attribute evaluated to a non-null value without
// errors (used where "" is itself an error worth reporting).
func (b *block) isSet(a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	v, diags := a.Expr.Value(b.d.eval)
	return !diags.HasErrors() && !v.IsNull()
}

func (b *block) strList(name string) ([]string, *hcl.Attribute) {
	a := b.attr(name)
	v, ok := b.value(a, cty.List(cty.String))
	if !ok {
		return nil, a
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			b.d.errorf(a.Expr.Range(), "Invalid value", "%s must not contain null.", name)
			return nil, a
		}
		out = append(out, e.AsString())
	}
	return out, a
}

// path reads a file path and resolves it against the configuration's directory.
func (b *block) path(name string) (string, *hcl.Attribute) {
	s, a := b.str(name, "")
	if s == "" {
		if a != nil && b.isSet(a) {
			b.d.errorf(a.Expr.Range(), "Invalid value", "%s must not be empty.", name)
		}
		return "", a
	}
	return b.d.resolvePath(s), a
}

// secret reads a secret given either inline (name) or from a file (fileName).
// A trailing newline in the file is dropped: editors and `echo` add one.
func (b *block) secret(name, fileName string) (Secret, *hcl.Attribute) {
	inline, fromFile := b.attr(name), b.attr(fileName)
	if inline != nil && fromFile != nil {
		b.d.errorf(fromFile.NameRange, "Conflicting attributes", "Set either %s or %s, not both.", name, fileName)
	}
	if inline != nil {
		s, a := b.str(name, "")
		return Secret(s), a
	}
	if fromFile != nil {
		p, a := b.str(fileName, "")
		if p == "" {
			return "", a
		}
		data, err := b.d.readSmallFile(p)
		if err != nil {
			b.d.errorf(a.Expr.Range(), "Cannot read secret file", "%s.", err)
			return "", a
		}
		s := string(data)
		if n := len(s); n > 0 && s[n-1] == '\n' {
			s = s[:n-1]
			if n := len(s); n > 0 && s[n-1] == '\r' {
				s = s[:n-1]
			}
		}
		return Secret(s), a
	}
	return "", nil
}

// ref reads a reference to a labelled block of kind: written KIND.NAME (or
// as a plain string NAME). It returns "" after reporting an error.
func (b *block) ref(name, kind string) (string, *hcl.Attribute) {
	a := b.attr(name)
	if a == nil {
		return "", nil
	}
	return b.refExpr(a.Expr, name, kind), a
}

func (b *block) refExpr(expr hcl.Expression, name, kind string) string {
	d := b.d
	if trav, diags := hcl.AbsTraversalForExpr(expr); !diags.HasErrors() && isReferable(trav.RootName()) {
		if trav.RootName() != kind {
			d.errorf(expr.Range(), "Wrong kind of reference", "%s must refer to a %s block (%s.NAME), not to a %s.", name, kind, kind, trav.RootName())
			return ""
		}
		var label string
		if len(trav) == 2 {
			switch step := trav[1].(type) {
			case hcl.TraverseAttr:
				label = step.Name
			case hcl.TraverseIndex:
				if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
					label = step.Key.AsString()
				}
			}
		}
		if label == "" {
			d.errorf(expr.Range(), "Invalid reference", "A reference to a %s block is written %s.NAME.", kind, kind)
			return ""
		}
		return d.checkRef(expr.Range(), kind, label)
	}
	if !d.checkVars(expr) {
		return ""
	}
	v, diags := expr.Value(d.eval)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return ""
	}
	if v.IsNull() || !v.IsKnown() {
		d.errorf(expr.Range(), "Invalid reference", "%s must name a %s block, written %s.NAME.", name, kind, kind)
		return ""
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		d.errorf(expr.Range(), "Invalid reference", "%s must name a %s block, written %s.NAME.", name, kind, kind)
		return ""
	}
	return d.checkRef(expr.Range(), kind, sv.AsString())
}

func (d *decoder) checkRef(rng hcl.Range, kind, label string) string {
	if _, ok := d.names[kind][label]; ok {
		return label
	}
	detail := fmt.Sprintf("There is no %s block labelled %q.", kind, label)
	if s := suggest(label, keys(d.names[kind])); s != "" {
		detail += fmt.Sprintf(" Did you mean %s.%s?", kind, s)
	}
	d.errorf(rng, "Reference to undeclared "+kind, "%s", detail)
	return ""
}

func isReferable(root string) bool {
	for _, k := range referable {
		if k == root {
			return true
		}
	}
	return false
}

// refList reads a list of references, each KIND.NAME or a string.
func (b *block) refList(name, kind string) ([]string, *hcl.Attribute) {
	a := b.attr(name)
	if a == nil {
		return nil, nil
	}
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		// A variable holding a list of names.
		list, _ := b.strList(name)
		var out []string
		for _, s := range list {
			if l := b.d.checkRef(a.Expr.Range(), kind, s); l != "" {
				out = append(out, l)
			}
		}
		return out, a
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range exprs {
		if l := b.refExpr(e, name, kind); l != "" {
			if seen[l] {
				b.d.errorf(e.Range(), "Duplicate reference", "%s lists %s.%s twice.", name, kind, l)
				continue
			}
			seen[l] = true
			out = append(out, l)
		}
	}
	return out, a
}

// oneOf reads a keyword-like string and maps it through choices.
func (b *block) oneOf(name, def string, choices []string) (string, *hcl.Attribute) {
	s, a := b.str(name, def)
	if a == nil {
		return def, nil
	}
	for _, c := range choices {
		if s == c {
			return s, a
		}
	}
	b.d.errorf(a.Expr.Range(), "Invalid value", "%s must be one of %s; got %q.", name, quoteList(choices), s)
	return def, a
}

func quoteList(xs []string) string {
	out := ""
	for i, x := range xs {
		switch {
		case i == 0:
		case i == len(xs)-1:
			out += " or "
		default:
			out += ", "
		}
		out += fmt.Sprintf("%q", x)
	}
	return out
}
