package sdk_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A plugin author imports sdk alone; sdk must not pull in the connector.
func TestSDKImportsNothingOfTheConnector(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/oftp2/connector/sdk", "github.com/oftp2/connector/sdk/sdktest").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/oftp2/connector/") && !strings.HasPrefix(pkg, "github.com/oftp2/connector/sdk") {
			t.Errorf("sdk depends on %s", pkg)
		}
	}
}
