package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPkgStandsAlone keeps pkg/ a library others can import: nothing in it
// may depend on keyctl's internal/ packages or on the CLI's stack.
func TestPkgStandsAlone(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./pkg/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/keyctl/keyctl/internal/", "github.com/keyctl/keyctl/cmd", "github.com/spf13/", "github.com/charmbracelet/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("pkg/ depends on %s", dep)
			}
		}
	}
}
