package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// MaxConfigSize bounds the configuration file; larger input is refused
// before it is parsed.
const MaxConfigSize = 4 << 20

// Options are the inputs of a parse besides the file itself. The zero value
// reads the real environment and file system.
type Options struct {
	// Vars overrides variable defaults, like `connector run -var name=value`.
	Vars map[string]string
	// LookupEnv backs env(); nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// ReadFile backs Load, file() and the *_file secret attributes; nil
	// reads from disk with a size limit.
	ReadFile func(name string) ([]byte, error)
	// Open backs CheckFiles; nil means os.Open.
	Open func(name string) (fs.File, error)
	// Now backs the certificate expiry warnings of CheckFiles; nil means time.Now.
	Now func() time.Time
	// CheckFiles opens every certificate, key, CA file and plugin executable
	// the configuration names: certificates must parse, keys must match
	// their certificates and plugins must have their pinned checksum
	// (`connector validate` sets it).
	CheckFiles bool
	// BaseDir resolves relative paths; empty means the configuration file's directory.
	BaseDir string
	// Sources, when not nil, receives the text of every file parsed so that
	// diagnostics can later be printed with source snippets.
	Sources Sources
}

func (o Options) withDefaults() Options {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = func(name string) ([]byte, error) { return readFileLimited(name, MaxConfigSize) }
	}
	if o.Open == nil {
		o.Open = func(name string) (fs.File, error) { return os.Open(name) }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func readFileLimited(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}

// Load reads and parses the configuration file at path.
func Load(path string, opts Options) (*Config, hcl.Diagnostics) {
	opts = opts.withDefaults()
	src, err := opts.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   err.Error(),
		}}
	}
	return Parse(path, src, opts)
}

// Parse decodes and validates a configuration file held in memory. A name
// ending in ".json" is read as HCL's JSON syntax. It never panics; on error
// the Config is nil and the diagnostics say what is wrong and where.
func Parse(filename string, src []byte, opts Options) (*Config, hcl.Diagnostics) {
	opts = opts.withDefaults()
	if opts.Sources != nil {
		opts.Sources[filename] = src
	}
	if len(src) > MaxConfigSize {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Configuration file too large",
			Detail:   fmt.Sprintf("%s is %d bytes; the limit is %d.", filename, len(src), MaxConfigSize),
		}}
	}
	var file *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(filename, ".json") {
		// The same schema written as JSON, for generated configurations.
		file, diags = hcljson.Parse(src, filename)
	} else {
		file, diags = hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	base := opts.BaseDir
	if base == "" {
		base = filepath.Dir(filename)
	}
	d := &decoder{opts: opts, base: base, diags: diags, files: map[string][]byte{}}
	cfg := d.decodeRoot(file.Body)
	cfg.Filename = filename
	sortDiagnostics(d.diags)
	if d.diags.HasErrors() {
		return nil, d.diags
	}
	return cfg, d.diags
}

// sortDiagnostics orders diagnostics by position so they read top to bottom.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

type decoder struct {
	opts Options
	base string
	eval *hcl.EvalContext
	vars map[string]bool // declared variables
	// unset are declared variables without a value; references to them
	// are not reported again.
	unset map[string]bool
	diags hcl.Diagnostics
	// names of labelled blocks that other blocks may refer to, by kind
	names map[string]map[string]hcl.Range
	// duplicates are blocks whose label was already used; they are reported
	// once and not decoded.
	duplicates map[*hcl.Block]bool
	// files holds certificate and key files read under CheckFiles, for
	// the key-pair checks.
	files map[string][]byte
	// ourPasswordGiven is false only when the identity block exists and sets
	// no password, so that partners without our_password are reported.
	ourPasswordGiven bool
}

func (d *decoder) add(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, detail string) {
	// One error per source range: a value that failed to evaluate is not
	// reported again by the checks that follow.
	for _, prev := range d.diags {
		if prev.Severity == hcl.DiagError && prev.Subject != nil &&
			prev.Subject.Filename == rng.Filename && prev.Subject.Start == rng.Start {
			return
		}
	}
	if strings.HasSuffix(detail, "?.") || strings.HasSuffix(detail, "..") {
		detail = detail[:len(detail)-1]
	}
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &r})
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.add(hcl.DiagError, rng, summary, fmt.Sprintf(format, args...))
}

func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	d.add(hcl.DiagWarning, rng, summary, fmt.Sprintf(format, args...))
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "connector"},
		{Type: "listener", LabelNames: []string{"name"}},
		{Type: "identity"},
		{Type: "partner", LabelNames: []string{"name"}},
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "keys", LabelNames: []string{"name"}},
		{Type: "inbound", LabelNames: []string{"name"}},
		{Type: "outbound", LabelNames: []string{"name"}},
	},
}

// referable lists the block kinds other blocks refer to as KIND.NAME.
var referable = []string{"partner", "plugin", "keys"}

func (d *decoder) decodeRoot(body hcl.Body) *Config {
	cfg := &Config{}
	content, diags := body.Content(rootSchema)
	d.diags = append(d.diags, diags...)
	if content == nil {
		return cfg
	}
	byType := map[string][]*hcl.Block{}
	for _, b := range content.Blocks {
		byType[b.Type] = append(byType[b.Type], b)
	}

	d.decodeVariables(byType["variable"])

	// Collect labels first so references can be checked while decoding,
	// whatever the order of blocks in the file.
	d.names = map[string]map[string]hcl.Range{}
	d.duplicates = map[*hcl.Block]bool{}
	for _, kind := range []string{"listener", "partner", "plugin", "keys", "inbound", "outbound"} {
		seen := map[string]hcl.Range{}
		for _, b := range byType[kind] {
			name := b.Labels[0]
			if !isIdentifier(name) {
				d.errorf(b.LabelRanges[0], "Invalid block label",
					"%s %q: a label starts with a letter or _ and holds letters, digits, _ and -, at most 64 characters, so that it can be referred to as %s.NAME.", kind, name, kind)
			}
			if prev, dup := seen[name]; dup {
				d.errorf(b.LabelRanges[0], "Duplicate "+kind+" block",
					"A %s block labelled %q was already defined at %s.", kind, name, prev.String())
				d.duplicates[b] = true
				continue
			}
			seen[name] = b.DefRange
		}
		d.names[kind] = seen
	}

	if b := d.single(byType["connector"], "connector"); b != nil {
		cfg.Connector = d.decodeConnector(b.Body)
	} else {
		cfg.Connector = d.decodeConnector(hcl.EmptyBody())
	}
	d.ourPasswordGiven = true
	if b := d.single(byType["identity"], "identity"); b != nil {
		cfg.Identity = d.decodeIdentity(b)
	} else {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing identity block",
			Detail:   "The configuration needs one identity block with our own OFTP code (ssid) and password.",
			Subject:  body.MissingItemRange().Ptr(),
		})
	}
	for _, b := range byType["listener"] {
		if d.duplicates[b] {
			continue
		}
		if l := d.decodeListener(b); l != nil {
			cfg.Listeners = append(cfg.Listeners, l)
		}
	}
	seenSSID := map[string]hcl.Range{}
	for _, b := range byType["partner"] {
		if d.duplicates[b] {
			continue
		}
		if p := d.decodePartner(b, &cfg.Identity); p != nil {
			if p.SSID != "" {
				if prev, dup := seenSSID[p.SSID]; dup {
					d.errorf(b.DefRange, "Duplicate partner code", "Partner %q has ssid %q, which the partner at %s already uses; incoming sessions could not tell them apart.", p.Name, p.SSID, prev.String())
				}
				seenSSID[p.SSID] = b.DefRange
				if p.SSID == cfg.Identity.SSID {
					d.errorf(b.DefRange, "Partner code equals our own", "Partner %q has the same ssid %q as the identity block.", p.Name, p.SSID)
				}
			}
			cfg.Partners = append(cfg.Partners, p)
		}
	}
	for _, b := range byType["plugin"] {
		if d.duplicates[b] {
			continue
		}
		if p := d.decodePlugin(b, cfg.Connector.PluginDir); p != nil {
			cfg.Plugins = append(cfg.Plugins, p)
		}
	}
	for _, b := range byType["keys"] {
		if d.duplicates[b] {
			continue
		}
		if k := d.decodeKeys(b); k != nil {
			cfg.Keys = append(cfg.Keys, k)
		}
	}
	for _, b := range byType["inbound"] {
		if d.duplicates[b] {
			continue
		}
		if in := d.decodeInbound(b); in != nil {
			cfg.Inbound = append(cfg.Inbound, in)
		}
	}
	for _, b := range byType["outbound"] {
		if d.duplicates[b] {
			continue
		}
		if out := d.decodeOutbound(b, cfg); out != nil {
			cfg.Outbound = append(cfg.Outbound, out)
		}
	}
	d.crossCheck(cfg)
	cfg.eval = d.eval
	return cfg
}

// single returns the only block of a kind, reporting duplicates.
func (d *decoder) single(blocks []*hcl.Block, kind string) *hcl.Block {
	if len(blocks) == 0 {
		return nil
	}
	for _, b := range blocks[1:] {
		d.errorf(b.DefRange, "Duplicate "+kind+" block", "Only one %s block is allowed; the first one is at %s.", kind, blocks[0].DefRange.String())
	}
	return blocks[0]
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "default"}, {Name: "type"}, {Name: "description"}},
}

func (d *decoder) decodeVariables(blocks []*hcl.Block) {
	d.vars = map[string]bool{}
	d.unset = map[string]bool{}
	fnOnly := &hcl.EvalContext{Functions: d.functions()}
	vals := map[string]cty.Value{}
	ranges := map[string]hcl.Range{}
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(b.LabelRanges[0], "Invalid variable name", "%q is not a valid name; use letters, digits, _ and -.", name)
			continue
		}
		if prev, dup := ranges[name]; dup {
			d.errorf(b.LabelRanges[0], "Duplicate variable", "Variable %q was already declared at %s.", name, prev.String())
			continue
		}
		ranges[name] = b.DefRange
		d.vars[name] = true
		d.unset[name] = true // until a value is found
		content, diags := b.Body.Content(variableSchema)
		d.diags = append(d.diags, diags...)
		if content == nil {
			continue
		}
		var ty cty.Type = cty.NilType
		if a, ok := content.Attributes["type"]; ok {
			switch kw := hcl.ExprAsKeyword(a.Expr); kw {
			case "string":
				ty = cty.String
			case "number":
				ty = cty.Number
			case "bool":
				ty = cty.Bool
			default:
				d.errorf(a.Expr.Range(), "Invalid variable type", "The type is one of the keywords string, number or bool.")
				continue
			}
		}
		var val cty.Value = cty.NilVal
		if a, ok := content.Attributes["default"]; ok {
			v, diags := a.Expr.Value(fnOnly)
			d.diags = append(d.diags, diags...)
			if diags.HasErrors() {
				continue
			}
			if ty != cty.NilType {
				cv, err := convert.Convert(v, ty)
				if err != nil {
					d.errorf(a.Expr.Range(), "Invalid default value", "The default of variable %q must be a %s: %s.", name, ty.FriendlyName(), err)
					continue
				}
				v = cv
			} else {
				ty = v.Type()
			}
			val = v
		}
		if ty == cty.NilType {
			ty = cty.String
		}
		if s, ok := d.opts.Vars[name]; ok {
			cv, err := convert.Convert(cty.StringVal(s), ty)
			if err != nil {
				d.errorf(b.DefRange, "Invalid value for variable", "The value given for variable %q must be a %s: %s.", name, ty.FriendlyName(), err)
				continue
			}
			val = cv
		}
		if val == cty.NilVal {
			d.errorf(b.DefRange, "No value for required variable", "Variable %q has no default; give it a value with -var %s=VALUE.", name, name)
			continue
		}
		vals[name] = val
		delete(d.unset, name)
	}
	names := make([]string, 0, len(d.opts.Vars))
	for name := range d.opts.Vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !d.vars[name] {
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("A value was given for variable %q, but the configuration declares no variable of that name.", name),
			})
		}
	}
	d.eval = &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vals)},
		Functions: d.functions(),
	}
}

// checkVars reports references to variables that were never declared;
// hcl's own message ("object has no attribute") does not say what to do.
func (d *decoder) checkVars(expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		if t.RootName() != "var" || len(t) < 2 {
			continue
		}
		attr, isAttr := t[1].(hcl.TraverseAttr)
		if !isAttr {
			continue
		}
		if d.unset[attr.Name] {
			ok = false
			continue
		}
		if !d.vars[attr.Name] {
			detail := fmt.Sprintf("There is no variable named %q; declare it with a variable block.", attr.Name)
			if s := suggest(attr.Name, keys(d.vars)); s != "" {
				detail = fmt.Sprintf("There is no variable named %q. Did you mean %q?", attr.Name, s)
			}
			d.add(hcl.DiagError, t.SourceRange(), "Reference to undeclared variable", detail)
			ok = false
		}
	}
	return ok
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest returns the closest name within a small edit distance, or "".
func suggest(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if dist := editDistance(name, n); dist < bestDist {
			best, bestDist = n, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
