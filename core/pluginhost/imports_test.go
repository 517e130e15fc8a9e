package pluginhost

import (
	"os/exec"
	"strings"
	"testing"
)

// Core packages reach plugins through the sdk only; the bundled plugins are
// linked in by cmd/connector, which passes them as Options.Builtins.
func TestCoreImportsNoPlugin(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/oftp2/connector/core/pluginhost", "github.com/oftp2/connector/core/pipeline").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/oftp2/connector/plugins/") {
			t.Errorf("core depends on %s", pkg)
		}
	}
}
