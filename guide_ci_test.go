package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// shBlock matches a ```sh block of a guide.
var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// guideSkips are the docs/guides/ci.md blocks a test cannot run, by a
// string each holds, and why.
var guideSkips = map[string]string{
	"make build":                 "builds from the clone: the test has built keyctl already",
	"https://auth.example.com":   "needs the network",
	"keyctl serve --keys-file":   "a background server on a fixed port",
	"auth.example.com/.well-kno": "needs the network",
}

// TestGuideCIExamples runs the shell examples of docs/guides/ci.md in
// order, in one bash session, against a freshly built keyctl: what the
// guide tells people to type must work, and the empty --jwks example must
// be the usage error the guide says it is (issue 13 item 11).
func TestGuideCIExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	doc, err := os.ReadFile("docs/guides/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "keyctl"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	// What the guide assumes is there: an Ed25519 key for fixtures, a
	// users.json, the CI secret holding a key.
	script := []string{
		"set -eo pipefail",
		"keyctl gen signing-key --algorithm EdDSA --out ed25519.json",
		`echo '[{"id":"5b8e4f3a-9c7d-4e21-8f6a-2d1c0b9e8a77","email":"a@example.com"},{"id":"0d6f1e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6","email":"b@example.com"}]' > users.json`,
	}
	ran := 0
blocks:
	for _, m := range shBlock.FindAllSubmatch(doc, -1) {
		block := string(m[1])
		for s, why := range guideSkips {
			if strings.Contains(block, s) {
				t.Logf("skipped (%s): %s", why, strings.SplitN(block, "\n", 2)[0])
				continue blocks
			}
		}
		script = append(script, `if [ -f key.json ]; then SIGNING_JWK=$(cat key.json); fi`, block)
		ran++
	}
	if ran < 5 {
		t.Fatalf("ran %d blocks of docs/guides/ci.md: the guide or its skips changed", ran)
	}
	cmd := exec.Command("bash", "-c", strings.Join(script, "\n"))
	cmd.Dir = work
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "home", ".config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, "home", ".cache"),
		"RUNNER_TEMP="+work,
		"KEYCTL_KEYRING=", "KEYCTL_CONFIG=", "NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the guide's examples failed: %v\n%s", err, out)
	}
	for _, want := range []string{"keyctl: --jwks is empty", "exit 2"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n, _ := os.ReadFile(filepath.Join(work, "tokens.txt")); len(n) == 0 {
		t.Error("tokens.txt is empty")
	}
}
