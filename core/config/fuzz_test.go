package config

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

func fuzzOptions() Options {
	return Options{
		Vars:      map[string]string{"fuzz": "1"},
		LookupEnv: func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok },
		ReadFile: func(name string) ([]byte, error) {
			if strings.Contains(name, "missing") {
				return nil, fs.ErrNotExist
			}
			return []byte("FUZZPW\n"), nil
		},
		Open:    func(string) (fs.File, error) { return nil, errors.New("no files while fuzzing") },
		BaseDir: "/fuzz",
	}
}

// FuzzParse feeds arbitrary text to the whole decoding path, plugin
// configuration and diagnostics printing included: nothing may panic, and
// whatever decodes without error must respect the documented ranges.
func FuzzParse(f *testing.F) {
	f.Add([]byte("identity {\n ssid = \"O0013ME\"\n password = \"PW\"\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) { fuzzParse(t, "fuzz.hcl", src) })
}

// FuzzParseJSON is FuzzParse for the JSON syntax.
func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(`{"identity": {"ssid": "O0013ME", "password": "PW"}}`))
	f.Fuzz(func(t *testing.T, src []byte) { fuzzParse(t, "fuzz.hcl.json", src) })
}

func fuzzParse(t *testing.T, name string, src []byte) {
	opts := fuzzOptions()
	opts.Sources = Sources{}
	cfg, diags := Parse(name, src, opts)
	for _, d := range diags {
		_ = FormatDiagnostic(d)
	}
	if err := WriteDiagnostics(io.Discard, opts.Sources, diags, PrintOptions{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if diags.HasErrors() {
		if cfg != nil {
			t.Fatal("config returned together with errors")
		}
		return
	}
	if cfg == nil {
		t.Fatal("no config and no error")
	}
	checkInvariants(t, cfg)
	for _, p := range cfg.Plugins {
		if schema, ok := testPluginSchemas[p.Builtin]; ok {
			_, _ = DecodePluginConfig(p.Body, schema, cfg.EvalContext())
		}
		_ = PluginAttributeDiagnostic(p.Body, "bucket", "", "fuzz")
	}
}

func checkInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	if err := checkCode(cfg.Identity.SSID); err != nil {
		t.Fatalf("identity ssid %q accepted: %v", cfg.Identity.SSID, err)
	}
	for _, p := range cfg.Partners {
		if p.BufferSize < MinBufferSize || p.BufferSize > MaxBufferSize || p.Credit < MinCredit || p.Credit > MaxCredit {
			t.Fatalf("partner %s: buffer %d credit %d out of range", p.Name, p.BufferSize, p.Credit)
		}
		if err := checkCode(p.SSID); err != nil {
			t.Fatalf("partner ssid %q accepted: %v", p.SSID, err)
		}
		if n := len(p.Password.Reveal()); n == 0 || n > MaxPasswordLen {
			t.Fatalf("partner password of length %d accepted", n)
		}
		if p.Timeout < time.Second {
			t.Fatalf("timeout %s accepted", p.Timeout)
		}
	}
	for _, in := range cfg.Inbound {
		if cfg.Plugin(in.Sink) == nil {
			t.Fatalf("inbound %s: sink %q unresolved", in.Name, in.Sink)
		}
		for _, p := range in.Partners {
			if cfg.Partner(p) == nil {
				t.Fatalf("inbound %s: partner %q unresolved", in.Name, p)
			}
		}
		_ = in.ObjectName.Expand(NameValues{VirtualFileName: "X"})
	}
	for _, out := range cfg.Outbound {
		if cfg.Plugin(out.Source) == nil || cfg.Partner(out.Partner) == nil {
			t.Fatalf("outbound %s: unresolved reference", out.Name)
		}
		if out.Sign && cfg.KeyPair(out.SignWith) == nil {
			t.Fatalf("outbound %s signs without a key", out.Name)
		}
	}
}

// FuzzNameTemplate checks that any template either parses or is refused,
// and that expansion never panics.
func FuzzNameTemplate(f *testing.F) {
	for _, s := range []string{DefaultObjectName, "%Originator%/%VirtualFileDate:yyyy/MM/dd%/%GUID%", "100%%", "%CurrentTime:ffff%", "%x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := ParseNameTemplate(s)
		if err != nil {
			return
		}
		if tmpl.String() != s {
			t.Fatalf("String() = %q, want %q", tmpl.String(), s)
		}
		_ = tmpl.Expand(NameValues{VirtualFileName: "INVOICE", FileTime: time.Date(2026, 11, 27, 3, 4, 5, 123400000, time.UTC), GUID: "g"})
	})
}
