package config

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// testEnv is the environment every test parses under; the real process
// environment never leaks into results.
var testEnv = map[string]string{"OFTP_PASSWORD": "ACMEPW", "S3_SECRET": "very-secret-key"}

func testOptions() Options {
	return Options{
		LookupEnv: func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok },
	}
}

func loadValid(t *testing.T, name string, opts Options) *Config {
	t.Helper()
	path := filepath.Join("testdata", "valid", name)
	cfg, diags := Load(path, opts)
	for _, d := range diags {
		t.Log(FormatDiagnostic(d))
	}
	if diags.HasErrors() {
		t.Fatalf("%s: unexpected errors", path)
	}
	return cfg
}

var cmpConfig = []cmp.Option{
	cmpopts.IgnoreUnexported(Config{}),
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(Plugin{}, "Body"),
	cmp.Comparer(func(a, b *NameTemplate) bool { return a.String() == b.String() }),
}

func TestParseFull(t *testing.T) {
	cfg := loadValid(t, "full.hcl", testOptions())
	dir := filepath.Join("testdata", "valid")
	p := func(s string) string { return filepath.Join(dir, s) }
	tmpl := func(s string) *NameTemplate {
		nt, err := ParseNameTemplate(s)
		if err != nil {
			t.Fatal(err)
		}
		return nt
	}
	want := &Config{
		Filename: p("full.hcl"),
		Connector: Connector{
			StateDir:  p("state"),
			LogLevel:  slog.LevelDebug,
			PluginDir: "/opt/connector/plugins",
			WorkDir:   "/var/tmp/connector",
		},
		Listeners: []*Listener{
			{Name: "tls", Address: "127.0.0.1:6619", TLS: &ServerTLS{
				CertFile: p("tls/server.pem"), KeyFile: p("tls/server.key"), ClientCAFile: p("tls/clients.pem"),
				RequireClientCert: true, MinVersion: tls.VersionTLS13,
			}},
			{Name: "plain", Address: "127.0.0.1:3305"},
		},
		Identity: Identity{SSID: "O0013000000ACME", SFID: "O0013000000ACME01", Password: "ACMEPW", UserData: "EDI", Keys: "main"},
		Partners: []*Partner{
			{
				Name: "partner", SSID: "O0013000000PARTNER", SFID: "O0013000000PARTNER",
				Password: "s3cret", OurPassword: "OTHER",
				Address: "oftp.partner.example:6619", TLS: true,
				CAFile: "/etc/ssl/partner-ca.pem", ServerName: "oftp.partner.example",
				ServerFingerprint: "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899",
				Proxy:             &Proxy{Scheme: "socks5", Address: "127.0.0.1:1080", Username: "proxyuser", Password: "proxypass"},
				Version:           Version20, EnforceVersion: true,
				BufferSize: 99999, Credit: 32, BufferCompression: true, Restart: false,
				ConnectionType: ConnectionBoth, Timeout: 150 * time.Second,
				Security: Security{
					Level: SecurityBoth, CipherSuite: 4, FileCompression: true, SignedReceipts: true,
					CertificateFile: p("certs/partner.pem"), SecureAuthentication: true, SHA1ReceiptCompat: true,
				},
				Schedule: &Schedule{Every: 15 * time.Minute, At: []TimeOfDay{{8, 0}, {17, 30}}},
			},
			{
				Name: "legacy", SSID: "O0013000000LEGACY", SFID: "O0013000000LEGACY-EDI",
				Password: "legacy1", OurPassword: "ACMEPW",
				Address: "192.0.2.7:3305", Version: Version13,
				BufferSize: DefaultBufferSize, Credit: DefaultCredit, Restart: true,
				ConnectionType: ConnectionReceive, Timeout: DefaultTimeout,
			},
		},
		Plugins: []*Plugin{
			{Name: "s3-archive", Builtin: "s3"},
			{Name: "outbox", Path: p("bin/outbox-plugin"), SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
			{Name: "kms", Builtin: "kms"},
		},
		Keys: []*Keys{
			{Name: "main", Local: &LocalKeys{CertFile: p("keys/acme.pem"), KeyFile: p("keys/acme.key"), KeyPassword: "keypass"}},
			{Name: "signing", Plugin: "kms", KeyID: "alias/oftp-signing"},
		},
		Inbound: []*Inbound{
			{Name: "from-partner", Partners: []string{"partner", "legacy"}, Files: []string{"INVOICE*", "DELFOR*"}, Sink: "s3-archive",
				ObjectName: tmpl("%Originator%/%VirtualFileName%_%VirtualFileDate:yyyyMMdd-HHmmss.ffff%_%GUID%")},
			{Name: "everything-else", Files: []string{"*"}, Sink: "s3-archive", ObjectName: tmpl(DefaultObjectName)},
		},
		Outbound: []*Outbound{{
			Name: "to-partner", Source: "outbox", Partner: "partner", Poll: 45 * time.Second,
			Sign: true, Encrypt: true, Compress: true, SignWith: "signing",
			Format: FormatVariable, MaxRecordSize: 4096, Description: "Invoices from ACME",
			Retry: Retry{MaxAttempts: 5, Backoff: 30 * time.Second, MaxBackoff: 2 * time.Hour},
		}},
	}
	if diff := cmp.Diff(want, cfg, cmpConfig...); diff != "" {
		t.Errorf("decoded config differs (-want +got):\n%s", diff)
	}
	if cfg.PartnerBySSID("O0013000000LEGACY   ") != cfg.Partners[1] {
		t.Error("PartnerBySSID does not trim padding")
	}
	if cfg.KeyPair("signing") == nil || cfg.Plugin("outbox") == nil || cfg.Partner("nope") != nil {
		t.Error("lookups by label are wrong")
	}
}

func TestParseMinimalDefaults(t *testing.T) {
	cfg := loadValid(t, "minimal.hcl", testOptions())
	dir := filepath.Join("testdata", "valid")
	want := &Config{
		Filename:  filepath.Join(dir, "minimal.hcl"),
		Connector: Connector{StateDir: filepath.Join(dir, "state"), PluginDir: filepath.Join(dir, "plugins"), LogLevel: slog.LevelInfo},
		Identity:  Identity{SSID: "O0013000000ACME", SFID: "O0013000000ACME", Password: "ACME"},
	}
	if diff := cmp.Diff(want, cfg, cmpConfig...); diff != "" {
		t.Errorf("decoded config differs (-want +got):\n%s", diff)
	}
}

// TestPartnerValues runs single attributes through the decoder: each row is
// a partner body and the value it must produce, or the error it must report.
func TestPartnerValues(t *testing.T) {
	const head = "identity {\n ssid = \"O0013ME\"\n password = \"PW\"\n}\n"
	tests := []struct {
		name  string
		body  string
		check func(p *Partner) any
		want  any
		err   string
	}{
		{"buffer min", `buffer_size = 128`, func(p *Partner) any { return p.BufferSize }, 128, ""},
		{"buffer below min", `buffer_size = 127`, nil, nil, "buffer_size must be from 128 to 99999"},
		{"buffer above max", `buffer_size = 100000`, nil, nil, "buffer_size must be from 128 to 99999"},
		{"buffer fraction", `buffer_size = 1000.5`, nil, nil, "must be a whole number"},
		{"credit max", `credit = 999`, func(p *Partner) any { return p.Credit }, 999, ""},
		{"credit zero", `credit = 0`, nil, nil, "credit must be from 1 to 999"},
		{"credit as string", `credit = "12"`, func(p *Partner) any { return p.Credit }, 12, ""},
		{"credit not a number", `credit = "many"`, nil, nil, "a number is required"},
		{"version 1.4", `version = "1.4"`, func(p *Partner) any { return p.Version }, Version14, ""},
		{"version 1.2 no tls", `version = "1.2"`, func(p *Partner) any { return p.TLS }, false, ""},
		{"version 2.0 tls default", ``, func(p *Partner) any { return p.TLS }, true, ""},
		{"version bad", `version = "3.0"`, nil, nil, `version must be one of "2.0", "1.4", "1.3" or "1.2"`},
		{"address default tls port", `address = "h.example"`, func(p *Partner) any { return p.Address }, "h.example:6619", ""},
		{"address default plain port", "address = \"h.example\"\ntls = false", func(p *Partner) any { return p.Address }, "h.example:3305", ""},
		{"address ipv6", `address = "[::1]:7000"`, func(p *Partner) any { return p.Address }, "[::1]:7000", ""},
		{"address bad port", `address = "h:99999"`, nil, nil, "port \"99999\" must be a number from 1 to 65535"},
		{"address bare ipv6", `address = "::1"`, nil, nil, "write IPv6 addresses in brackets"},
		{"ssid 25", `ssid = "O0013ABCDEFGHIJKLMNOPQRST"`, func(p *Partner) any { return p.SSID }, "O0013ABCDEFGHIJKLMNOPQRST", ""},
		{"ssid 26", `ssid = "O0013ABCDEFGHIJKLMNOPQRSTU"`, nil, nil, "26 characters long; OFTP allows at most 25"},
		{"ssid lower", `ssid = "O0013partner"`, nil, nil, "OFTP codes are upper case"},
		{"ssid space", `ssid = "O0013 PARTNER"`, nil, nil, "spaces are not allowed"},
		{"ssid underscore", `ssid = "O0013_PARTNER"`, nil, nil, "not in the OFTP character set"},
		{"password 9", `password = "123456789"`, nil, nil, "9 characters long; OFTP allows at most 8"},
		{"password lower accepted", `password = "secret"`, func(p *Partner) any { return p.Password.Reveal() }, "secret", ""},
		{"our password lower refused", `our_password = "secret"`, nil, nil, "outside the OFTP character set"},
		{"password both forms", "password_file = \"x\"", nil, nil, "Set either password or password_file"},
		{"timeout", `timeout = "90s"`, func(p *Partner) any { return p.Timeout }, 90 * time.Second, ""},
		{"timeout no unit", `timeout = 60`, nil, nil, `"60" has no unit`},
		{"timeout too long", `timeout = "48h"`, nil, nil, "timeout must be from 1s to 24h0m0s"},
		{"timeout negative", `timeout = "-5s"`, nil, nil, "is negative"},
		{"connection send", `connection_type = "send"`, func(p *Partner) any { return p.ConnectionType.SSIDSR() }, byte('S'), ""},
		{"fingerprint short", `server_fingerprint = "abcd"`, nil, nil, "64 hex digits"},
		{"proxy http default port", `proxy = "http://proxy.example"`, func(p *Partner) any { return p.Proxy.Address }, "proxy.example:8080", ""},
		{"proxy bad scheme", `proxy = "ftp://proxy.example"`, nil, nil, "proxy scheme must be socks5, socks5h or http"},
		{"tls option without tls", "tls = false\nca_file = \"ca.pem\"", nil, nil, "ca_file applies only when tls = true"},
		{"suite number", "security {\n level = \"signed\"\n cipher_suite = 6\n certificate_file = \"c.pem\"\n}", func(p *Partner) any { return p.Security.CipherSuite }, CipherSuite(6), ""},
		{"suite default", "security {\n signed_receipts = true\n certificate_file = \"c.pem\"\n}", func(p *Partner) any { return p.Security.CipherSuite }, DefaultCipherSuite, ""},
		{"suite 7", "security {\n cipher_suite = 7\n}", nil, nil, "cipher suite 7 does not exist"},
		{"suite name", "security {\n cipher_suite = \"aes128\"\n}", nil, nil, `unknown cipher suite "aes128"`},
		{"security needs cert", "security {\n level = \"encrypted\"\n}", nil, nil, "needs the partner's certificate"},
		{"security on 1.4", "version = \"1.4\"\nsecurity {\n signed_receipts = true\n certificate_file = \"c.pem\"\n}", nil, nil, "signed_receipts is an OFTP 2.0 service"},
		{"secure auth needs keys", "security {\n secure_authentication = true\n certificate_file = \"c.pem\"\n}", nil, nil, "set keys in the identity block"},
		{"schedule at", "address = \"h\"\nschedule {\n at = [\"23:59\"]\n}", func(p *Partner) any { return p.Schedule.At }, []TimeOfDay{{23, 59}}, ""},
		{"schedule bad time", "address = \"h\"\nschedule {\n at = [\"24:00\"]\n}", nil, nil, `"24:00" is not a time of day`},
		{"schedule too often", "address = \"h\"\nschedule {\n every = \"1s\"\n}", nil, nil, "every must be from 10s"},
		{"schedule empty", "address = \"h\"\nschedule {\n}", nil, nil, "A schedule needs every"},
		{"schedule without address", "schedule {\n every = \"1h\"\n}", nil, nil, "has a schedule but no address"},
		{"null is unset", `credit = null`, func(p *Partner) any { return p.Credit }, DefaultCredit, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if !strings.Contains(body, "ssid =") {
				body = "ssid = \"O0013PARTNER\"\n" + body
			}
			if !strings.Contains(body, "password") {
				body = "password = \"PW\"\n" + body
			} else if strings.Contains(body, "password_file") {
				body = "password = \"PW\"\n" + body
			} else if strings.Contains(body, "our_password") {
				body = "password = \"PW\"\n" + body
			}
			src := head + "partner \"p\" {\n" + body + "\n}\n"
			cfg, diags := Parse("t.hcl", []byte(src), testOptions())
			if tt.err != "" {
				if !diags.HasErrors() {
					t.Fatalf("no error; want %q", tt.err)
				}
				if all := allDiags(diags); !strings.Contains(all, tt.err) {
					t.Fatalf("errors %q do not mention %q", all, tt.err)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("unexpected errors: %s", diags.Error())
			}
			if got := tt.check(cfg.Partners[0]); !cmp.Equal(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func allDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(FormatDiagnostic(d))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestVariables(t *testing.T) {
	src := `
variable "pw" {}
variable "credit" { default = 10 }
variable "on" {
  type    = bool
  default = false
}
identity {
  ssid     = "O0013ME"
  password = var.pw
}
partner "p" {
  ssid     = "O0013P"
  password = "X"
  credit   = var.credit
  restart  = var.on
}
`
	opts := testOptions()
	opts.Vars = map[string]string{"pw": "FROMVAR", "credit": "77", "on": "true"}
	cfg, diags := Parse("v.hcl", []byte(src), opts)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if cfg.Identity.Password.Reveal() != "FROMVAR" || cfg.Partners[0].Credit != 77 || !cfg.Partners[0].Restart {
		t.Errorf("overrides not applied: %+v %+v", cfg.Identity, cfg.Partners[0])
	}

	opts.Vars = map[string]string{"pw": "X", "credit": "lots"}
	if _, diags = Parse("v.hcl", []byte(src), opts); !strings.Contains(allDiags(diags), `The value given for variable "credit" must be a number`) {
		t.Errorf("bad override not reported: %s", diags.Error())
	}
	opts.Vars = map[string]string{"pw": "X", "nope": "1"}
	if _, diags = Parse("v.hcl", []byte(src), opts); !strings.Contains(allDiags(diags), `declares no variable of that name`) {
		t.Errorf("undeclared override not reported: %s", diags.Error())
	}
	opts.Vars = nil
	if _, diags = Parse("v.hcl", []byte(src), opts); !strings.Contains(allDiags(diags), `v.hcl:2:1: error: No value for required variable`) {
		t.Errorf("missing value not reported: %s", diags.Error())
	}
}

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw.txt"), []byte("  FILEPW \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
identity {
  ssid     = upper("o0013me")
  password = trimspace(file("pw.txt"))
}
partner "p" {
  ssid         = "O0013P"
  password     = env("UNSET_VARIABLE", "dflt")
  our_password = env("OFTP_PASSWORD")
}
`
	cfg, diags := Parse(filepath.Join(dir, "f.hcl"), []byte(src), testOptions())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if cfg.Identity.SSID != "O0013ME" || cfg.Identity.Password.Reveal() != "FILEPW" ||
		cfg.Partners[0].Password.Reveal() != "dflt" || cfg.Partners[0].OurPassword.Reveal() != "ACMEPW" {
		t.Errorf("functions gave %+v %+v", cfg.Identity, cfg.Partners[0])
	}
	big := strings.Repeat("x", MaxSecretFileSize+1)
	if err := os.WriteFile(filepath.Join(dir, "big"), []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags = Parse(filepath.Join(dir, "f.hcl"), []byte(`identity {
  ssid = "O0013ME"
  password = file("big")
}`), testOptions())
	if !strings.Contains(allDiags(diags), "larger than 65536 bytes") {
		t.Errorf("oversized file not refused: %s", diags.Error())
	}
}

func TestSecretMasking(t *testing.T) {
	cfg := loadValid(t, "full.hcl", testOptions())
	secrets := []string{"ACMEPW", "s3cret", "OTHER", "proxypass", "legacy1", "keypass"}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), `"Body"`) {
		t.Error("JSON includes plugin config bodies, which may hold secrets written in plain text")
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "identity", cfg.Identity, "password", cfg.Identity.Password)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "partner", cfg.Partners[0])
	outputs := map[string]string{
		"%v":   fmt.Sprintf("%v %v", *cfg.Partners[0], cfg.Identity),
		"%+v":  fmt.Sprintf("%+v %+v %+v", *cfg.Partners[0], *cfg.Partners[0].Proxy, cfg.Identity),
		"%#v":  fmt.Sprintf("%#v %#v %#v", *cfg.Partners[0], *cfg.Keys[0].Local, cfg.Identity),
		"%s":   fmt.Sprintf("%s %q %x %d", cfg.Identity.Password, cfg.Identity.Password, cfg.Identity.Password, cfg.Identity.Password),
		"json": string(js),
		"slog": logged.String(),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s output leaks %q: %s", name, s, out)
			}
		}
		if !strings.Contains(out, secretMask) {
			t.Errorf("%s output shows no mask: %s", name, out)
		}
	}
	if cfg.Identity.Password.Reveal() != "ACMEPW" {
		t.Error("Reveal does not return the value")
	}
	if Secret("").String() != "" {
		t.Error("an unset secret should print empty")
	}
}

func TestInboundMatches(t *testing.T) {
	cfg := loadValid(t, "full.hcl", testOptions())
	in := cfg.Inbound[0]
	for _, tt := range []struct {
		partner, dsn string
		want         bool
	}{
		{"partner", "INVOICE2026", true},
		{"legacy", "DELFOR01                  ", true},
		{"partner", "ORDERS", false},
		{"partner", "INVOICE/2026/11", true},
		{"other", "INVOICE1", false},
	} {
		if got := in.Matches(tt.partner, tt.dsn); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v", tt.partner, tt.dsn, got)
		}
	}
	if !cfg.Inbound[1].Matches("anyone", "ANYTHING") {
		t.Error("default route does not match everything")
	}
}

func TestLoadErrors(t *testing.T) {
	_, diags := Load(filepath.Join(t.TempDir(), "absent.hcl"), Options{})
	if !diags.HasErrors() || diags[0].Summary != "Cannot read configuration file" {
		t.Fatalf("got %v", diags)
	}
	_, diags = Parse("big.hcl", make([]byte, MaxConfigSize+1), Options{})
	if !diags.HasErrors() || diags[0].Summary != "Configuration file too large" {
		t.Fatalf("got %v", diags)
	}
}

func BenchmarkParseFull(b *testing.B) {
	path := filepath.Join("testdata", "valid", "full.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	opts := testOptions()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Parse(path, src, opts); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}

func TestWarnings(t *testing.T) {
	src := `
identity {
  ssid     = "O0013ME"
  password = "PW"
}
partner "p" {
  ssid            = "O0013P"
  password        = "X"
  connection_type = "send"
}
plugin "s" {
  builtin = "localfs"
}
inbound "i" {
  partners = [partner.p]
  files    = ["invoice*"]
  sink     = plugin.s
}
`
	cfg, diags := Parse("w.hcl", []byte(src), testOptions())
	if diags.HasErrors() || cfg == nil {
		t.Fatal(allDiags(diags))
	}
	want := `w.hcl:6:1: warning: Partner cannot connect; Partner "p" has no address to call and there is no listener block for it to call us on.
w.hcl:14:1: warning: Partner only sends; Inbound "i" lists partner "p", whose connection_type = "send": it will never deliver files to us.
w.hcl:16:14: warning: Lower-case pattern; Virtual file names are upper case in OFTP; "invoice*" only matches names from partners that break that rule.
`
	if got := allDiags(diags); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestStateDatabase(t *testing.T) {
	head := "identity {\n ssid = \"O0013ME\"\n password = \"PW\"\n}\n"
	cfg, diags := Parse("s.hcl", []byte(head+"connector {\n state_database = \"postgres://oftp:pgsecret@127.0.0.1:5432/oftp\"\n}\n"), testOptions())
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	if cfg.Connector.StateDatabase.Reveal() != "postgres://oftp:pgsecret@127.0.0.1:5432/oftp" || strings.Contains(fmt.Sprint(cfg.Connector), "pgsecret") {
		t.Errorf("state_database: %v", cfg.Connector)
	}
	_, diags = Parse("s.hcl", []byte(head+"connector {\n state_database = \"mysql://u:pgsecret@h/db\"\n}\n"), testOptions())
	if got := allDiags(diags); !strings.Contains(got, "s.hcl:6:19: error: Invalid value; state_database must be a URL like postgres://") || strings.Contains(got, "pgsecret") {
		t.Errorf("got %s", got)
	}
}

func TestParseJSONSyntax(t *testing.T) {
	cfg := loadValid(t, "json.hcl.json", testOptions())
	p := cfg.Partner("acme")
	if cfg.Identity.Password.Reveal() != "JSONPW" || cfg.Identity.Keys != "main" || p == nil || p.Credit != 12 || p.Security.Level != SecuritySigned {
		t.Fatalf("JSON config decoded wrongly: %+v %+v", cfg.Identity, p)
	}
	in, out := cfg.Inbound[0], cfg.Outbound[0]
	if in.Sink != "archive" || len(in.Partners) != 1 || in.Partners[0] != "acme" || out.Partner != "acme" || !out.Sign || out.SignWith != "main" {
		t.Fatalf("references in JSON: %+v %+v", in, out)
	}
	js, diags := cfg.DecodePluginConfig("archive", testPluginSchemas["s3"])
	if diags.HasErrors() || string(js) != `{"bucket":"b"}` {
		t.Fatalf("plugin config from JSON: %s %s", js, allDiags(diags))
	}
	_, diags = Parse("bad.json", []byte(`{"identity": {"ssid": "O0013ME", "password": "PW"}, "partner": {"x": {"ssid": "O0013X", "password": "P", "credit": 0}}}`), testOptions())
	if got := allDiags(diags); !strings.Contains(got, "bad.json:1:116: error: Value out of range; credit must be from 1 to 999") {
		t.Errorf("got %s", got)
	}
}
