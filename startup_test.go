package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartupShape builds the real binary and checks two properties of it
// that keep a one-token run cheap (docs/performance.md), neither of which
// any other test would notice losing:
//
//   - Nothing reachable executes a text/template (cobra's version, usage and
//     help templates, among others): template execution calls
//     reflect.Value.MethodByName, and then the linker must keep every
//     exported method of every reachable type, about 2.5 MB of code that
//     each run pages in part of.
//   - internal/prestart initialises before the packages whose initialisers
//     grow the main goroutine's stack (regexp compilation at init).
func TestStartupShape(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "keyctl")
	build := exec.Command(gobin, "build", "-ldflags=-dumpdep", "-o", bin, ".")
	var deps bytes.Buffer
	build.Stderr = &deps
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v\n%s", err, tail(deps.String()))
	}
	for _, line := range strings.Split(deps.String(), "\n") {
		if strings.Contains(line, "<ReflectMethod>") {
			t.Errorf("the linker keeps every exported method because of: %s\n(something reachable runs a text/template; see cmd/root.go on --version)", line)
			break
		}
	}

	run := exec.Command(bin, "version")
	run.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var trace bytes.Buffer
	run.Stderr = &trace
	if err := run.Run(); err != nil {
		t.Fatalf("keyctl version: %v\n%s", err, tail(trace.String()))
	}
	order := map[string]int{}
	for i, line := range strings.Split(trace.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			order[f[1]] = i + 1
		}
	}
	pre := order["github.com/keyctl/keyctl/internal/prestart"]
	if pre == 0 {
		t.Fatalf("internal/prestart did not initialise:\n%s", tail(trace.String()))
	}
	for _, later := range []string{"github.com/mattn/go-runewidth", "github.com/subosito/gotenv", "go.yaml.in/yaml/v3"} {
		if at := order[later]; at != 0 && at < pre {
			t.Errorf("%s initialises before internal/prestart", later)
		}
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
