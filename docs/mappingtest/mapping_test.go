package mappingtest

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The mapping's sections, as "## " headings of docs/seed-mapping.md.
const (
	secProperties = "Properties"
	secMethods    = "Methods"
	secEvents     = "Events"
	secConfig     = "Config settings"
	secErrors     = "Errors"
)

// hclBlocks are the top-level blocks of the connector configuration: a backquoted name
// starting with one of them is an HCL attribute path such as partner.security.level.
var hclBlocks = []string{"connector", "listener", "identity", "partner", "plugin", "keys", "inbound", "outbound", "variable"}

// stdPackages are the standard library packages the mapping may name, by the name a Go
// program refers to them with.
var stdPackages = map[string]string{
	"context": "context",
	"crypto":  "crypto",
	"debug":   "runtime/debug",
	"errors":  "errors",
	"fips140": "crypto/fips140",
	"net":     "net",
	"os":      "os",
	"slog":    "log/slog",
	"tls":     "crypto/tls",
	"x509":    "crypto/x509",
}

func TestSeedMapping(t *testing.T) {
	root := moduleRoot(t)
	seed := loadSeed(t, root)
	docText, err := os.ReadFile(filepath.Join(root, "docs", "seed-mapping.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, problems := parseMapping(string(docText))
	report(t, problems)
	if len(doc.rows) == 0 {
		t.Fatal("docs/seed-mapping.md: no table rows found")
	}
	t.Run("every seed item has a row", func(t *testing.T) { report(t, coverage(seed, doc)) })
	t.Run("statuses", func(t *testing.T) { report(t, statusProblems(doc)) })
	t.Run("references exist", func(t *testing.T) { report(t, newRefChecker(t, root).problems(doc)) })
}

// TestCheckerCatchesMistakes feeds the checks the mistakes they exist to catch, so that a
// checker that silently accepts everything fails here.
func TestCheckerCatchesMistakes(t *testing.T) {
	root := moduleRoot(t)
	seed := loadSeed(t, root)
	docText, err := os.ReadFile(filepath.Join(root, "docs", "seed-mapping.md"))
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(docText), "\n") {
		if !strings.HasPrefix(l, "| compress |") && !strings.HasPrefix(l, "| on_pi_trail.data |") &&
			!strings.HasPrefix(l, "| CreditCount |") && !strings.HasPrefix(l, "| 1120 |") {
			kept = append(kept, l)
		}
	}
	kept = append(kept, "", "## Methods", "", "| send_files | not in the seed | `(*oftp.Client).SendFile` | done |",
		"| logon | listed twice | `(*oftp.Client).Logon` | maybe |", "| reset | done without reference | none | done |")
	doc, problems := parseMapping(strings.Join(kept, "\n"))
	all := append(problems, coverage(seed, doc)...)
	all = append(all, statusProblems(doc)...)
	for _, want := range []string{"seed item compress", "seed item on_pi_trail.data", "seed item CreditCount",
		"error 1120", `"send_files"`, "logon already has a row", `status "maybe"`, `"reset" is marked done`} {
		if !containsSub(all, want) {
			t.Errorf("no problem reported for %q; got %q", want, all)
		}
	}

	rc := newRefChecker(t, root)
	good := []string{"oftp.Options.CreditCount", "(*oftp.Client).SendFile", "oftp.Options.Events.PITrail",
		"oftp.EndResponseEvent.Reason", "*oftp.ReasonError", "(oftp.Stamp).Parse", "tls.Config.VerifyConnection",
		"connector send --tls --credit", "connector cert inspect --trust", "partner.security.level", "listener.tls.cert_file"}
	for _, ref := range good {
		if err := rc.check(ref); err != nil {
			t.Errorf("`%s` exists but was refused: %v", ref, err)
		}
	}
	bad := []string{"oftp.Options.NoSuchField", "(*oftp.Client).NoSuchMethod", "oftp.NoSuchThing", "nosuchpkg.Name",
		"oftp.Options.Events.NoSuchEvent", "tls.Config.NoSuchField", "connector send --no-such-flag",
		"connector receive --description", "connector nosuchcmd", "partner.no_such_attribute", "partner.security.credit",
		"Error()", "%VirtualFileDate%"}
	for _, ref := range bad {
		if err := rc.check(ref); err == nil {
			t.Errorf("`%s` does not exist but was accepted", ref)
		}
	}
}

func containsSub(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func report(t *testing.T, problems []string) {
	t.Helper()
	for _, p := range problems {
		t.Error(p)
	}
}

func loadSeed(t *testing.T, root string) seedItems {
	t.Helper()
	seedPath := filepath.Join(root, "..", "shared", "seed", "OFTPClient.txt")
	seedText, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatalf("the OFTPClient reference is needed to check the mapping; expected at %s (../shared/seed from the module root): %v", seedPath, err)
	}
	return parseSeed(t, string(seedText))
}

// coverage reports seed items without a row, and rows that name no seed item.
func coverage(seed seedItems, doc *mapping) []string {
	var out []string
	want := map[string][]string{
		secProperties: seed.properties,
		secMethods:    seed.methods,
		secEvents:     append(slices.Clone(seed.events), seed.eventParams...),
		secConfig:     seed.config,
	}
	for _, sec := range sortedKeys(want) {
		names := want[sec]
		seedSet := map[string]bool{}
		for _, n := range names {
			seedSet[n] = true
			if _, ok := doc.names[sec][n]; !ok {
				out = append(out, fmt.Sprintf("docs/seed-mapping.md section %q has no row for seed item %s", sec, n))
			}
		}
		for _, n := range sortedKeys(doc.names[sec]) {
			if !seedSet[n] {
				out = append(out, fmt.Sprintf("docs/seed-mapping.md:%d: %q in section %q is not an item of that seed list", doc.names[sec][n], n, sec))
			}
		}
	}
	for _, e := range seed.errors {
		if !doc.coversError(e.code) {
			out = append(out, fmt.Sprintf("docs/seed-mapping.md section %q has no row for error %d (%s: %s)", secErrors, e.code, e.group, e.text))
		}
	}
	for _, r := range doc.errorRanges {
		found := false
		for _, e := range seed.errors {
			if e.code >= r.lo && e.code <= r.hi {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("docs/seed-mapping.md:%d: error codes %d-%d match no seed error", r.line, r.lo, r.hi))
		}
	}
	return out
}

// statusProblems checks the status column: "done", "done for …", "later: …", "n/a: …",
// several joined by "; ", and a row that claims done must name something checkable.
func statusProblems(doc *mapping) []string {
	var out []string
	for _, r := range doc.rows {
		done := false
		for _, part := range strings.Split(r.status, "; ") {
			isDone := part == "done" || strings.HasPrefix(part, "done for ")
			done = done || isDone
			ok := isDone || strings.HasPrefix(part, "later: ") && len(part) > len("later: ") ||
				strings.HasPrefix(part, "n/a: ") && len(part) > len("n/a: ")
			if !ok {
				out = append(out, fmt.Sprintf("docs/seed-mapping.md:%d: status %q: each part must be done, \"done for what\", \"later: topic\" or \"n/a: why\"", r.line, r.status))
			}
		}
		if done && len(r.refs) == 0 {
			out = append(out, fmt.Sprintf("docs/seed-mapping.md:%d: %q is marked done but names no Go identifier, CLI flag or HCL attribute", r.line, r.names))
		}
	}
	return out
}

// refChecker resolves the backquoted references of the Go equivalent column.
type refChecker struct {
	goIdx    *goIndex
	cli      *cliIndex
	hclAttrs map[string]bool
}

func newRefChecker(t *testing.T, root string) *refChecker {
	t.Helper()
	return &refChecker{
		goIdx:    newGoIndex(t, root),
		cli:      parseCLI(t, filepath.Join(root, "cmd", "connector")),
		hclAttrs: parseConfigDoc(t, filepath.Join(root, "docs", "configuration.md")),
	}
}

func (rc *refChecker) problems(doc *mapping) []string {
	var out []string
	for _, r := range doc.rows {
		for _, ref := range r.refs {
			if err := rc.check(ref); err != nil {
				out = append(out, fmt.Sprintf("docs/seed-mapping.md:%d: `%s`: %v", r.line, ref, err))
			}
		}
	}
	return out
}

// moduleRoot walks up from the test's directory to the go.mod of the module.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/oftp2/connector")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("module root (go.mod of github.com/oftp2/connector) not found above the test directory")
		}
		dir = parent
	}
}

// ---- the seed reference ----

type seedError struct {
	code  int
	group string
	text  string
}

type seedItems struct {
	properties, methods, events, config []string
	eventParams                         []string // "on_accept_file.accept"
	errors                              []seedError
}

var (
	reDetail      = regexp.MustCompile(`^([a-z][a-z0-9_]*) (Property|Method|Event)$`)
	reSnakeEntry  = regexp.MustCompile(`^([a-z][a-z0-9_]*)([A-Z].*)$`)
	reConfigEntry = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*):\s{2,}(\S.*)$`)
	reParam       = regexp.MustCompile(`^\s+def ([a-z][a-z0-9_]*)\(\) ->`)
	reErrorLine   = regexp.MustCompile(`^(\d+)\s{2,}(\S.*)$`)
)

// parseSeed reads the four lists of the reference and cross-checks them against the
// detail sections that follow, so that a list entry is never split at the wrong place.
func parseSeed(t *testing.T, text string) seedItems {
	t.Helper()
	// The reference separates names from descriptions with no-break spaces.
	text = strings.NewReplacer("\r\n", "\n", "\u00a0", " ").Replace(text)
	lines := strings.Split(text, "\n")
	headers := []string{"Property List", "Method List", "Event List", "Config Settings"}
	at := map[string]int{}
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if slices.Contains(headers, l) {
			if _, seen := at[l]; !seen {
				at[l] = i
			}
		}
	}
	for _, h := range headers {
		if _, ok := at[h]; !ok {
			t.Fatalf("seed reference: section %q not found", h)
		}
	}
	list := func(h string) []string {
		var out []string
		for _, l := range lines[at[h]+1:] {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "The following is") {
				continue
			}
			if slices.Contains(headers, l) || reDetail.MatchString(l) {
				break
			}
			out = append(out, l)
		}
		if len(out) == 0 {
			t.Fatalf("seed reference: list %q is empty", h)
		}
		return out
	}

	// Detail sections: "name Property", "name Method", "name Event".
	details := map[string]map[string]bool{"Property": {}, "Method": {}, "Event": {}}
	var s seedItems
	curEvent := ""
	for _, l := range lines {
		if m := reDetail.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			details[m[2]][m[1]] = true
			curEvent = ""
			if m[2] == "Event" {
				curEvent = m[1]
			}
			continue
		}
		if curEvent != "" {
			if m := reParam.FindStringSubmatch(l); m != nil {
				p := curEvent + "." + m[1]
				if !slices.Contains(s.eventParams, p) {
					s.eventParams = append(s.eventParams, p)
				}
			}
		}
		if strings.TrimSpace(l) == "OFTPClient Config Settings" {
			curEvent = ""
		}
	}
	snake := func(h, kind string) []string {
		var out []string
		for _, e := range list(h) {
			m := reSnakeEntry.FindStringSubmatch(e)
			if m == nil {
				t.Fatalf("seed reference: %s entry %q does not start with a name", h, e)
			}
			if !details[kind][m[1]] {
				t.Fatalf("seed reference: %s entry %q has no \"%s %s\" section", h, m[1], m[1], kind)
			}
			out = append(out, m[1])
		}
		return out
	}
	s.properties = snake("Property List", "Property")
	s.methods = snake("Method List", "Method")
	s.events = snake("Event List", "Event")
	if len(s.eventParams) == 0 {
		t.Fatal("seed reference: no event parameters found")
	}

	// Config settings: the list glues name and description together; the detail
	// entries ("Name:   Description") tell where the name ends.
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "OFTPClient Config Settings" {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatal("seed reference: section \"OFTPClient Config Settings\" not found")
	}
	type entry struct{ name, desc string }
	var entries []entry
	for _, l := range lines[start:] {
		if strings.TrimSpace(l) == "OFTPClient Errors" {
			break
		}
		if m := reConfigEntry.FindStringSubmatch(l); m != nil {
			entries = append(entries, entry{m[1], strings.TrimSpace(m[2])})
		}
	}
	for _, e := range list("Config Settings") {
		name := ""
		for _, d := range entries {
			if e == d.name+d.desc {
				name = d.name
				break
			}
		}
		if name == "" { // description differs: longest known name followed by a capital
			for _, d := range entries {
				if strings.HasPrefix(e, d.name) && len(e) > len(d.name) && e[len(d.name)] >= 'A' && e[len(d.name)] <= 'Z' && len(d.name) > len(name) {
					name = d.name
				}
			}
		}
		if name == "" {
			t.Fatalf("seed reference: config setting %q has no detail entry", e)
		}
		if !slices.Contains(s.config, name) {
			s.config = append(s.config, name)
		}
	}

	// Error codes, by group.
	group := ""
	inErrors := false
	for _, l := range lines {
		tl := strings.TrimSpace(l)
		if tl == "OFTPClient Errors" {
			inErrors = true
		}
		if !inErrors {
			continue
		}
		if strings.HasSuffix(tl, " Errors") {
			group = tl
			continue
		}
		if m := reErrorLine.FindStringSubmatch(tl); m != nil {
			code, _ := strconv.Atoi(m[1])
			s.errors = append(s.errors, seedError{code, group, m[2]})
		}
	}
	if len(s.errors) == 0 {
		t.Fatal("seed reference: no error codes found")
	}
	return s
}

// ---- the mapping ----

type mappingRow struct {
	line    int
	section string
	names   string
	goCol   string
	status  string
	refs    []string // backquoted tokens of the Go equivalent column
}

type codeRange struct{ lo, hi, line int }

type mapping struct {
	rows        []mappingRow
	names       map[string]map[string]int // section -> seed name -> line
	errorRanges []codeRange
}

func (m *mapping) coversError(code int) bool {
	for _, r := range m.errorRanges {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return false
}

var (
	reBackquoted = regexp.MustCompile("`([^`]+)`")
	reCodeRange  = regexp.MustCompile(`^(\d+)(?:\s*[-–]\s*(\d+))?$`)
)

func parseMapping(text string) (*mapping, []string) {
	var problems []string
	m := &mapping{names: map[string]map[string]int{}}
	sections := []string{secProperties, secMethods, secEvents, secConfig, secErrors}
	for _, s := range sections {
		m.names[s] = map[string]int{}
	}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		if !slices.Contains(sections, section) || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if strings.Trim(strings.Join(cells, ""), "-: ") == "" {
			continue // separator row
		}
		if len(cells) != 4 {
			problems = append(problems, fmt.Sprintf("docs/seed-mapping.md:%d: table row has %d cells, want 4 (seed name, what it does, Go equivalent, status)", n, len(cells)))
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "Seed name" {
			continue
		}
		r := mappingRow{line: n, section: section, names: cells[0], goCol: cells[2], status: cells[3]}
		for _, mm := range reBackquoted.FindAllStringSubmatch(cells[2], -1) {
			r.refs = append(r.refs, mm[1])
		}
		m.rows = append(m.rows, r)
		for _, name := range strings.Split(strings.ReplaceAll(cells[0], "`", ""), ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				problems = append(problems, fmt.Sprintf("docs/seed-mapping.md:%d: empty seed name", n))
				continue
			}
			if section == secErrors {
				cr := reCodeRange.FindStringSubmatch(name)
				if cr == nil {
					problems = append(problems, fmt.Sprintf("docs/seed-mapping.md:%d: error row %q: want codes such as 671 or 672-677", n, name))
					continue
				}
				lo, _ := strconv.Atoi(cr[1])
				hi := lo
				if cr[2] != "" {
					hi, _ = strconv.Atoi(cr[2])
				}
				m.errorRanges = append(m.errorRanges, codeRange{lo, hi, n})
				continue
			}
			if prev, dup := m.names[section][name]; dup {
				problems = append(problems, fmt.Sprintf("docs/seed-mapping.md:%d: %s already has a row at line %d", n, name, prev))
			}
			m.names[section][name] = n
		}
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, err.Error())
	}
	return m, problems
}

// ---- references ----

var (
	reMethodExpr = regexp.MustCompile(`^\(\*?([a-z][a-z0-9]*)\.([A-Za-z_]\w*)\)\.([A-Za-z_]\w*)$`)
	reQualified  = regexp.MustCompile(`^\*?([a-z][a-z0-9]*)((?:\.[A-Za-z_]\w*)+)$`)
)

func (rc *refChecker) check(ref string) error {
	if rest, ok := strings.CutPrefix(ref, "connector "); ok {
		return rc.cli.check(rest)
	}
	if m := reMethodExpr.FindStringSubmatch(ref); m != nil {
		return rc.goIdx.resolve(m[1], []string{m[2], m[3]})
	}
	m := reQualified.FindStringSubmatch(ref)
	if m == nil {
		return fmt.Errorf("not a Go identifier (pkg.Name, (*pkg.Type).Method), CLI command (connector CMD --flag) or HCL attribute (block.attr)")
	}
	path := strings.Split(m[2][1:], ".")
	if slices.Contains(hclBlocks, m[1]) && !strings.HasPrefix(ref, "*") {
		if !rc.hclAttrs[ref] {
			return fmt.Errorf("no such attribute in docs/configuration.md")
		}
		return nil
	}
	return rc.goIdx.resolve(m[1], path)
}

// ---- Go identifiers ----

type goPackage struct {
	dir     string
	objects map[string]bool              // top-level names
	members map[string]map[string]string // type -> field or method -> type name of a field in this package ("" otherwise)
	embeds  map[string][]string          // type -> embedded types of this package
}

type goIndex struct {
	fset *token.FileSet
	dirs map[string]string     // package name -> directory in the repository; "" when ambiguous
	pkgs map[string]*goPackage // parsed packages by name
}

// newGoIndex finds the repository's packages by their package clauses; a package is
// parsed when the mapping first names it, and so are the standard library packages.
func newGoIndex(t *testing.T, root string) *goIndex {
	t.Helper()
	idx := &goIndex{fset: token.NewFileSet(), dirs: map[string]string{}, pkgs: map[string]*goPackage{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
			return filepath.SkipDir
		}
		pkgName, err := idx.packageName(path)
		if err != nil {
			return err
		}
		if pkgName == "" || pkgName == "main" {
			return nil
		}
		if prev, dup := idx.dirs[pkgName]; dup {
			if prev != "" {
				t.Logf("package name %s is used by %s and %s; references to it cannot be checked", pkgName, prev, path)
			}
			idx.dirs[pkgName] = ""
			return nil
		}
		idx.dirs[pkgName] = path
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// goFiles returns the non-test Go files of dir by package name.
func (idx *goIndex) goFiles(dir string) (map[string][]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	byPkg := map[string][]string{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		path := filepath.Join(dir, n)
		f, err := parser.ParseFile(idx.fset, path, nil, parser.PackageClauseOnly)
		if err != nil {
			return nil, err
		}
		byPkg[f.Name.Name] = append(byPkg[f.Name.Name], path)
	}
	return byPkg, nil
}

// packageName picks the package of dir: a directory may hold files of another package
// behind a build tag (generators); the package named after the directory, or the first
// other than main, is the real one.
func (idx *goIndex) packageName(dir string) (string, error) {
	byPkg, err := idx.goFiles(dir)
	if err != nil || len(byPkg) == 0 {
		return "", err
	}
	if _, ok := byPkg[filepath.Base(dir)]; ok {
		return filepath.Base(dir), nil
	}
	names := sortedKeys(byPkg)
	for _, n := range names {
		if n != "main" {
			return n, nil
		}
	}
	return names[0], nil
}

// parsePackage parses the declarations of package name in dir.
func (idx *goIndex) parsePackage(dir, name string) (*goPackage, error) {
	byPkg, err := idx.goFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(byPkg[name]) == 0 {
		return nil, fmt.Errorf("no Go files of package %s in %s", name, dir)
	}
	p := &goPackage{dir: dir, objects: map[string]bool{}, members: map[string]map[string]string{}, embeds: map[string][]string{}}
	for _, path := range byPkg[name] {
		f, err := parser.ParseFile(idx.fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		p.add(f)
	}
	return p, nil
}

func (p *goPackage) member(typ string) map[string]string {
	m := p.members[typ]
	if m == nil {
		m = map[string]string{}
		p.members[typ] = m
	}
	return m
}

func (p *goPackage) add(f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil || len(d.Recv.List) == 0 {
				p.objects[d.Name.Name] = true
				continue
			}
			if recv := baseTypeName(d.Recv.List[0].Type); recv != "" {
				p.member(recv)[d.Name.Name] = ""
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					p.objects[s.Name.Name] = true
					p.addType(s.Name.Name, s.Type)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						p.objects[n.Name] = true
					}
				}
			}
		}
	}
}

func (p *goPackage) addType(name string, typ ast.Expr) {
	mem := p.member(name)
	switch tt := typ.(type) {
	case *ast.StructType:
		for _, fld := range tt.Fields.List {
			ftype := baseTypeName(fld.Type)
			if len(fld.Names) == 0 {
				if ftype != "" {
					mem[ftype] = ftype
					p.embeds[name] = append(p.embeds[name], ftype)
				}
				continue
			}
			for _, n := range fld.Names {
				mem[n.Name] = ftype
			}
		}
	case *ast.InterfaceType:
		for _, m := range tt.Methods.List {
			for _, n := range m.Names {
				mem[n.Name] = ""
			}
		}
	}
}

// baseTypeName returns T for T, *T and T[...] of this package, "" for anything else.
func baseTypeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return baseTypeName(e.X)
	case *ast.IndexExpr:
		return baseTypeName(e.X)
	case *ast.IndexListExpr:
		return baseTypeName(e.X)
	}
	return ""
}

func (idx *goIndex) pkg(name string) (*goPackage, error) {
	if p, ok := idx.pkgs[name]; ok {
		return p, nil
	}
	dir, ok := idx.dirs[name]
	if ok && dir == "" {
		return nil, fmt.Errorf("package name %s is ambiguous in this repository", name)
	}
	if !ok {
		importPath, std := stdPackages[name]
		if !std {
			return nil, fmt.Errorf("no package %s in this repository (standard library packages known to the test: %v)", name, sortedKeys(stdPackages))
		}
		bp, err := build.Import(importPath, "", build.FindOnly)
		if err != nil {
			return nil, err
		}
		dir = bp.Dir
	}
	p, err := idx.parsePackage(dir, name)
	if err != nil {
		return nil, err
	}
	idx.pkgs[name] = p
	return p, nil
}

// resolve checks pkg.A, pkg.A.B, pkg.A.B.C...: a top-level name, then fields and
// methods, following fields whose type belongs to the same package and embedded types.
func (idx *goIndex) resolve(pkgName string, path []string) error {
	p, err := idx.pkg(pkgName)
	if err != nil {
		return err
	}
	if !p.objects[path[0]] {
		return fmt.Errorf("%s has no top-level identifier %s", p.dir, path[0])
	}
	typ := path[0]
	for _, sel := range path[1:] {
		next, ok := p.lookup(typ, sel, 0)
		if !ok {
			return fmt.Errorf("%s.%s has no field or method %s", pkgName, typ, sel)
		}
		typ = next
	}
	return nil
}

func (p *goPackage) lookup(typ, sel string, depth int) (string, bool) {
	if depth > 5 {
		return "", false
	}
	if t, ok := p.members[typ][sel]; ok {
		return t, true
	}
	for _, e := range p.embeds[typ] {
		if t, ok := p.lookup(e, sel, depth+1); ok {
			return t, true
		}
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ---- CLI flags ----

// cliIndex knows the commands of cmd/connector and the flags each registers.
type cliIndex struct {
	flags map[string]map[string]bool // command -> flag names
}

// flagMethods are the flag.FlagSet methods that define a flag, with the index of the
// name argument.
var flagMethods = map[string]int{
	"Bool": 0, "Duration": 0, "Float64": 0, "Func": 0, "BoolFunc": 0, "Int": 0, "Int64": 0, "String": 0, "Uint": 0, "Uint64": 0,
	"BoolVar": 1, "DurationVar": 1, "Float64Var": 1, "IntVar": 1, "Int64Var": 1, "StringVar": 1, "TextVar": 1, "UintVar": 1, "Uint64Var": 1, "Var": 1,
}

// parseCLI reads cmd/connector: the command table in commands(), and for each command
// the flags registered in its run function and in the register methods it calls with
// its flag set.
func parseCLI(t *testing.T, dir string) *cliIndex {
	t.Helper()
	fset := token.NewFileSet()
	funcs := map[string]*ast.FuncDecl{}     // "name" or "Type.method"
	structs := map[string]*ast.StructType{} // by type name
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				key := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) > 0 {
					key = baseTypeName(d.Recv.List[0].Type) + "." + key
				}
				funcs[key] = d
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						if st, ok := ts.Type.(*ast.StructType); ok {
							structs[ts.Name.Name] = st
						}
					}
				}
			}
		}
	}
	table := funcs["commands"]
	if table == nil {
		t.Fatal("cmd/connector: func commands() not found")
	}
	c := &cliIndex{flags: map[string]map[string]bool{}}
	ast.Inspect(table.Body, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok || len(cl.Elts) < 3 {
			return true
		}
		lit, ok := cl.Elts[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		set := map[string]bool{}
		c.flags[name] = set
		switch fn := cl.Elts[2].(type) {
		case *ast.Ident:
			if d := funcs[fn.Name]; d != nil {
				collectFlags(d, funcs, structs, set, map[string]bool{})
			} else {
				t.Errorf("cmd/connector: command %s runs %s, which was not found", name, fn.Name)
			}
		case *ast.FuncLit:
			collectFlags(&ast.FuncDecl{Name: ast.NewIdent(name), Type: fn.Type, Body: fn.Body}, funcs, structs, set, map[string]bool{})
		}
		return false
	})
	if len(c.flags) == 0 {
		t.Fatal("cmd/connector: no commands found in commands()")
	}
	return c
}

// collectFlags adds the flags fn registers on a flag set: directly (fs.String("name", ...))
// or through methods it calls with the flag set as an argument (f.register(fs)).
func collectFlags(fn *ast.FuncDecl, funcs map[string]*ast.FuncDecl, structs map[string]*ast.StructType, out, seen map[string]bool) {
	if fn.Body == nil {
		return
	}
	key := fn.Name.Name
	vars := map[string]string{} // variable -> type name
	if fn.Recv != nil && len(fn.Recv.List) > 0 {
		rt := baseTypeName(fn.Recv.List[0].Type)
		key = rt + "." + key
		for _, n := range fn.Recv.List[0].Names {
			vars[n.Name] = rt
		}
	}
	if seen[key] {
		return
	}
	seen[key] = true
	flagSets := map[string]bool{}
	for _, p := range fn.Type.Params.List {
		if se, ok := p.Type.(*ast.StarExpr); ok && isSel(se.X, "flag", "FlagSet") {
			for _, n := range p.Names {
				flagSets[n.Name] = true
			}
		}
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, rhs := range n.Rhs {
				if call, ok := rhs.(*ast.CallExpr); ok && isSel(call.Fun, "flag", "NewFlagSet") && i < len(n.Lhs) {
					if id, ok := n.Lhs[i].(*ast.Ident); ok {
						flagSets[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			if tn := baseTypeName(n.Type); tn != "" {
				for _, id := range n.Names {
					vars[id.Name] = tn
				}
			}
		}
		return true
	})
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, isSelector := call.Fun.(*ast.SelectorExpr)
		if isSelector {
			if recv, ok := sel.X.(*ast.Ident); ok && flagSets[recv.Name] {
				if i, ok := flagMethods[sel.Sel.Name]; ok && i < len(call.Args) {
					if lit, ok := call.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						name, _ := strconv.Unquote(lit.Value)
						out[name] = true
					}
				}
				return true
			}
		}
		passesFlagSet := false
		for _, a := range call.Args {
			if id, ok := a.(*ast.Ident); ok && flagSets[id.Name] {
				passesFlagSet = true
			}
		}
		if !passesFlagSet {
			return true
		}
		switch f := call.Fun.(type) {
		case *ast.Ident:
			if d := funcs[f.Name]; d != nil {
				collectFlags(d, funcs, structs, out, seen)
			}
		case *ast.SelectorExpr:
			if typ := exprType(f.X, vars, structs); typ != "" {
				if d := funcs[typ+"."+f.Sel.Name]; d != nil {
					collectFlags(d, funcs, structs, out, seen)
				}
			}
		}
		return true
	})
}

// exprType finds the type name of a variable (v) or a field path (v.field.field).
func exprType(e ast.Expr, vars map[string]string, structs map[string]*ast.StructType) string {
	switch e := e.(type) {
	case *ast.Ident:
		return vars[e.Name]
	case *ast.SelectorExpr:
		outer := exprType(e.X, vars, structs)
		st := structs[outer]
		if st == nil {
			return ""
		}
		for _, fld := range st.Fields.List {
			tn := baseTypeName(fld.Type)
			if len(fld.Names) == 0 && tn == e.Sel.Name {
				return tn
			}
			for _, n := range fld.Names {
				if n.Name == e.Sel.Name {
					return tn
				}
			}
		}
	case *ast.ParenExpr:
		return exprType(e.X, vars, structs)
	case *ast.UnaryExpr:
		return exprType(e.X, vars, structs)
	}
	return ""
}

func isSel(e ast.Expr, pkg, name string) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == pkg && s.Sel.Name == name
}

// check verifies "CMD [SUBCOMMAND...] [--flag...]".
func (c *cliIndex) check(s string) error {
	words := strings.Fields(s)
	if len(words) == 0 {
		return fmt.Errorf("no command")
	}
	set, ok := c.flags[words[0]]
	if !ok {
		return fmt.Errorf("connector has no command %q (commands: %v)", words[0], sortedKeys(c.flags))
	}
	for _, w := range words[1:] {
		if !strings.HasPrefix(w, "-") {
			continue // subcommand or argument
		}
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if !set[name] {
			return fmt.Errorf("connector %s has no flag --%s (flags: %v)", words[0], name, sortedKeys(set))
		}
	}
	return nil
}

// ---- HCL attributes ----

var (
	reConfigSection = regexp.MustCompile(`^(##|###) ([a-z0-9_]+)(?: › ([a-z0-9_]+))?$`)
	reConfigAttr    = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\|")
)

// parseConfigDoc reads the attribute tables of docs/configuration.md, which core/config
// keeps complete (TestDocumentationCoversSchema), as "block.attr" and
// "block.sub.attr".
func parseConfigDoc(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	prefix := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") {
			prefix = ""
			if m := reConfigSection.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
				prefix = m[2]
				if m[3] != "" {
					prefix += "." + m[3]
				}
			}
			continue
		}
		if prefix == "" {
			continue
		}
		if m := reConfigAttr.FindStringSubmatch(l); m != nil {
			out[prefix+"."+m[1]] = true
		}
	}
	if len(out) == 0 {
		t.Fatal("docs/configuration.md: no attribute tables found")
	}
	return out
}
