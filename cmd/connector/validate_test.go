package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runConnectorEnv runs the binary in dir with extra environment variables.
func runConnectorEnv(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(connectorBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatal(err)
	}
	return 0, string(out)
}

func noPanic(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
		t.Fatalf("connector panicked:\n%s", out)
	}
}

// goldenLines returns the one-line diagnostics of a golden file (the part before the
// rendering with source snippets).
func goldenLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(b), "\n----")
	var out []string
	for _, l := range strings.Split(head, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// Every broken configuration of core/config's test data makes `connector validate`
// exit with 2 and print each diagnostic with its file:line:col, as the configuration
// package's golden files record them.
func TestValidateBrokenConfigs(t *testing.T) {
	configDir, err := filepath.Abs("../../core/config")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(configDir, "testdata/invalid/*.hcl"))
	if err != nil || len(files) < 10 {
		t.Fatalf("want the invalid configurations of core/config, got %d (%v)", len(files), err)
	}
	env := []string{"OFTP_PASSWORD=ACMEPW", "S3_SECRET=very-secret-key"}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hcl")
		t.Run(name, func(t *testing.T) {
			rel := "testdata/invalid/" + name + ".hcl"
			if name == "plugin_config_schema" {
				// Its errors come from the schema of an "s3" plugin, which the
				// configuration package's tests fake; this build bundles no s3.
				code, out := runConnectorEnv(t, t.TempDir(), env, "validate", f)
				noPanic(t, out)
				if code != exitUsage || !strings.Contains(out, `no bundled plugin of that name: "s3"`) {
					t.Fatalf("exit code %d, want %d and the unknown plugin named\n%s", code, exitUsage, out)
				}
				return
			}
			code, out := runConnectorEnv(t, configDir, env, "validate", "--no-plugins", rel)
			noPanic(t, out)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d\n%s", code, exitUsage, out)
			}
			for _, want := range goldenLines(t, strings.TrimSuffix(f, ".hcl")+".golden") {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q\n%s", want, out)
				}
			}
		})
	}
}

// Plugin configuration errors are checked by the plugins themselves, in their own
// processes, and reported at the attribute in the user's file.
func TestValidatePluginConfig(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/validate/plugin_config.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "testdata/validate"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "testdata/validate/plugin_config.hcl"), src, 0o640); err != nil {
		t.Fatal(err)
	}
	code, out := runConnector(t, dir, "validate", "testdata/validate/plugin_config.hcl")
	noPanic(t, out)
	if code != exitUsage {
		t.Fatalf("exit code %d, want %d\n%s", code, exitUsage, out)
	}
	for _, want := range goldenLines(t, "testdata/validate/plugin_config.golden") {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
}

// The shipped example validates cleanly, for both of its sides.
func TestValidateExample(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"connector.hcl", "tls/EXAMPLE-ca.pem", "tls/EXAMPLE-server.pem", "tls/EXAMPLE-server.key"} {
		b, err := os.ReadFile(filepath.Join("../../examples", f))
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o750)
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for _, side := range []string{"a", "b"} {
		code, out := runConnector(t, dir, "validate", "-var", "side="+side, "connector.hcl")
		if code != 0 || !strings.Contains(out, "configuration is valid") {
			t.Fatalf("side %s: exit %d\n%s", side, code, out)
		}
	}
}

// `connector plugins` lists the bundled plugins with version and capabilities.
func TestPluginsList(t *testing.T) {
	code, out := runConnector(t, t.TempDir(), "plugins")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "localfs") || !strings.Contains(out, "builtin") || !strings.Contains(out, "sink,source") {
		t.Fatalf("plugins output:\n%s", out)
	}
}

// Third-party plugin executables in the plugin directory are started, asked to
// describe themselves and listed with their checksum.
func TestPluginsListInstalled(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "localfs-plugin")
	if out, err := exec.Command("go", "build", "-o", bin, "../../plugins/localfs").CombinedOutput(); err != nil {
		t.Fatalf("building the localfs plugin: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not a plugin"), 0o640); err != nil {
		t.Fatal(err)
	}
	code, out := runConnector(t, dir, "plugins", "-plugin-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	sum := hex.EncodeToString(digest[:])
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "external") {
			line = l
		}
	}
	if !strings.Contains(line, "localfs") || !strings.Contains(line, "sink,source") || !strings.Contains(line, "sha256="+sum) {
		t.Fatalf("installed plugin not listed as expected:\n%s", out)
	}
	if strings.Contains(out, "README") {
		t.Errorf("a non-executable file was listed:\n%s", out)
	}
}
