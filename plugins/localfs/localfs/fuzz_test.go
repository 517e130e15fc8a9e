package localfs

import (
	"path"
	"strings"
	"testing"
)

// FuzzCleanName checks that no object name escapes the store's directory
// or lands on a hidden (temporary) name.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a", "acme/INVOICES.edi", "../etc/passwd", "/abs", "a//b", "a/./b", ".hidden", "a\\b", "a\x00b", "ok/..", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		clean, err := CleanName(name)
		if err != nil {
			return
		}
		if clean != name {
			t.Fatalf("CleanName(%q) = %q: accepted names are returned unchanged", name, clean)
		}
		if path.IsAbs(clean) || path.Clean(clean) != clean || strings.HasPrefix(clean, "..") {
			t.Fatalf("CleanName accepted %q", name)
		}
		for _, part := range strings.Split(clean, "/") {
			if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") || strings.ContainsAny(part, "\\\x00") {
				t.Fatalf("CleanName accepted %q (component %q)", name, part)
			}
		}
	})
}

// FuzzParseConfig decodes arbitrary configuration JSON.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"path": "/srv/in"}`,
		`{"path": "/srv/in", "create_dirs": true, "sidecar": false, "permissions": "0640"}`,
		`{"path": 3}`,
		`{"permissions": "9999", "path": "x"}`,
		`{"bucket": "b"}`,
		`[]`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseConfig(b)
		if err != nil {
			_ = err.Error()
			return
		}
		if o.Path == "" {
			t.Fatal("a configuration without path was accepted")
		}
		if o.Perm != 0 && o.Perm&0o600 != 0o600 {
			t.Fatalf("permissions %v accepted", o.Perm)
		}
	})
}
