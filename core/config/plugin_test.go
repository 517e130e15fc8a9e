package config

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestDecodePluginConfig(t *testing.T) {
	src := `
variable "bucket" { default = "oftp-inbox" }
identity {
  ssid = "O0013ME"
  password = "PW"
}
plugin "s3" {
  builtin = "s3"
  config {
    bucket     = var.bucket
    part_size  = 8388608
    tags       = { team = "edi", cost = 12 }
    prefixes   = ["in/", "out/"]
    secret_key = env("S3_SECRET")
  }
}
plugin "bare" {
  builtin = "s3"
}
`
	cfg, diags := Parse("p.hcl", []byte(src), testOptions())
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	schema := testPluginSchemas["s3"]
	js, diags := DecodePluginConfig(cfg.Plugin("s3").Body, schema, cfg.EvalContext())
	if len(diags) > 0 {
		t.Fatal(allDiags(diags))
	}
	want := `{"bucket":"oftp-inbox","part_size":8388608,"prefixes":["in/","out/"],"secret_key":"very-secret-key","tags":{"cost":"12","team":"edi"}}`
	if string(js) != want {
		t.Errorf("got  %s\nwant %s", js, want)
	}
	red, err := RedactPluginConfig(js, schema)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(red), "very-secret-key") || !strings.Contains(string(red), `"secret_key":"*****"`) {
		t.Errorf("redacted: %s", red)
	}

	// A plugin without a config block still gets its required attributes checked,
	// at the plugin block.
	_, diags = DecodePluginConfig(cfg.Plugin("bare").Body, schema, cfg.EvalContext())
	if len(diags) != 1 || diags[0].Summary != "Missing required argument" {
		t.Fatalf("got %s", allDiags(diags))
	}
	if got := attrNames(cfg.Plugin("s3").Body); got != "bucket,part_size,prefixes,secret_key,tags" {
		t.Errorf("PluginAttributes = %s", got)
	}
}

func attrNames(b hcl.Body) string { return strings.Join(PluginAttributes(b), ",") }

func TestDecodePluginConfigNulls(t *testing.T) {
	src := `
identity {
  ssid = "O0013ME"
  password = "PW"
}
plugin "s3" {
  builtin = "s3"
  config {
    bucket   = null
    prefixes = ["a", null]
    region   = null
  }
}
`
	cfg, diags := Parse("n.hcl", []byte(src), testOptions())
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	_, diags = DecodePluginConfig(cfg.Plugin("s3").Body, testPluginSchemas["s3"], cfg.EvalContext())
	got := allDiags(diags)
	for _, want := range []string{
		`n.hcl:9:16: error: Missing required argument; The argument "bucket" is required and must not be null.`,
		`n.hcl:10:16: error: Invalid value; Attribute "prefixes" must not contain null or unknown values.`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestPluginSchemaValidate(t *testing.T) {
	for _, tt := range []struct {
		schema PluginSchema
		err    string
	}{
		{PluginSchema{Attributes: []PluginAttribute{{Name: "a", Type: "list(number)"}}}, `unsupported type "list(number)"`},
		{PluginSchema{Attributes: []PluginAttribute{{Name: "a", Type: "string"}, {Name: "a", Type: "bool"}}}, `"a" is declared twice`},
		{PluginSchema{Attributes: []PluginAttribute{{Name: "1a", Type: "string"}}}, `not a valid identifier`},
	} {
		err := tt.schema.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Validate() = %v, want %q", err, tt.err)
		}
		_, diags := DecodePluginConfig(hcl.EmptyBody(), tt.schema, nil)
		if !diags.HasErrors() || diags[0].Summary != "Invalid plugin schema" {
			t.Errorf("DecodePluginConfig with a bad schema: %s", allDiags(diags))
		}
	}
}

func TestPluginAttributeDiagnostic(t *testing.T) {
	src := "identity {\n  ssid = \"O0013ME\"\n  password = \"PW\"\n}\nplugin \"s3\" {\n  builtin = \"s3\"\n  config {\n    bucket = \"Upper\"\n  }\n}\n"
	cfg, diags := Parse("d.hcl", []byte(src), testOptions())
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	body := cfg.Plugin("s3").Body
	d := PluginAttributeDiagnostic(body, "bucket", "Bucket not found", "NoSuchBucket")
	if got := FormatDiagnostic(d); got != "d.hcl:8:14: error: Bucket not found; NoSuchBucket" {
		t.Errorf("got %s", got)
	}
	d = PluginAttributeDiagnostic(body, "region", "", "region is required for this bucket")
	if got := FormatDiagnostic(d); got != "d.hcl:7:10: error: Invalid plugin configuration; region is required for this bucket" {
		t.Errorf("got %s", got)
	}
}

func TestDecodePluginConfigDefaults(t *testing.T) {
	schema := PluginSchema{Attributes: []PluginAttribute{
		{Name: "region", Type: PluginTypeString, Default: "eu-central-1"},
		{Name: "part_size", Type: PluginTypeNumber, Default: 8 << 20},
		{Name: "tags", Type: PluginTypeMapString, Default: map[string]string{"a": "b"}},
		{Name: "set", Type: PluginTypeBool, Default: true},
	}}
	cfg, diags := Parse("d.hcl", []byte("identity {\n ssid = \"O0013ME\"\n password = \"PW\"\n}\nplugin \"p\" {\n builtin = \"s3\"\n config {\n  set = false\n }\n}\n"), testOptions())
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	js, diags := cfg.DecodePluginConfig("p", schema)
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	if want := `{"part_size":8388608,"region":"eu-central-1","set":false,"tags":{"a":"b"}}`; string(js) != want {
		t.Errorf("got %s, want %s", js, want)
	}
	bad := PluginSchema{Attributes: []PluginAttribute{{Name: "n", Type: PluginTypeNumber, Default: "ten"}}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `default "ten" is not a number`) {
		t.Errorf("Validate() = %v", err)
	}
	if _, diags := cfg.DecodePluginConfig("nope", schema); !diags.HasErrors() {
		t.Error("unknown plugin name accepted")
	}
}

func TestPluginPathResolution(t *testing.T) {
	src := `
connector { plugin_dir = "/opt/plugins" }
identity {
  ssid = "O0013ME"
  password = "PW"
}
plugin "bare" {
  path   = "my-sink"
  sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
plugin "relative" {
  path   = "bin/my-sink"
  sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
}
`
	cfg, diags := Parse("/etc/connector/c.hcl", []byte(src), testOptions())
	if diags.HasErrors() {
		t.Fatal(allDiags(diags))
	}
	if got := cfg.Plugin("bare").Path; got != "/opt/plugins/my-sink" {
		t.Errorf("bare name resolved to %s", got)
	}
	if got := cfg.Plugin("relative").Path; got != "/etc/connector/bin/my-sink" {
		t.Errorf("relative path resolved to %s", got)
	}
}
