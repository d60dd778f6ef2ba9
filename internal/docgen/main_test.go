package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate docs/reference")

// reference is the checked-in reference, from this package's directory.
var reference = filepath.Join("..", "..", "docs", "reference")

// TestDocsUpToDate fails when docs/reference differs from what the command
// tree generates: a changed flag, help text or command without `make docs`.
func TestDocsUpToDate(t *testing.T) {
	if *update {
		if err := write(reference); err != nil {
			t.Fatal(err)
		}
	}
	want, err := render()
	if err != nil {
		t.Fatal(err)
	}
	have, err := existing(reference)
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for rel, data := range want {
		if got, ok := have[rel]; !ok {
			stale = append(stale, rel+" is missing")
		} else if !bytes.Equal(got, data) {
			stale = append(stale, rel+" differs")
		}
	}
	for rel := range have {
		if _, ok := want[rel]; !ok {
			stale = append(stale, rel+" documents a command that no longer exists")
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("docs/reference is stale; run \"make docs\":\n  %s", strings.Join(stale, "\n  "))
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a, err := render()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", "/elsewhere")
	t.Setenv("XDG_CONFIG_HOME", "/elsewhere/config")
	t.Setenv("SOURCE_DATE_EPOCH", "1")
	b, err := render()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for rel := range a {
		if !bytes.Equal(a[rel], b[rel]) {
			t.Errorf("%s depends on the environment", rel)
		}
	}
	if os.Getenv("HOME") != "/elsewhere" {
		t.Error("render did not restore the environment")
	}
}

func TestRenderCoversTheTree(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands(tree()) {
		base := strings.ReplaceAll(c.CommandPath(), " ", "_")
		md, ok := files[base+".md"]
		if !ok {
			t.Errorf("no page for %s", c.CommandPath())
			continue
		}
		if !bytes.Contains(md, []byte("## "+c.CommandPath())) || !bytes.Contains(md, []byte(c.Short)) {
			t.Errorf("%s.md lacks its title or summary", base)
		}
		if bytes.Contains(md, []byte("Auto generated")) {
			t.Errorf("%s.md carries a generation date", base)
		}
		man := files[filepath.Join("man", strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")]
		if !bytes.HasPrefix(man, []byte(".nh\n.TH ")) || bytes.Contains(man, []byte("Jan 2000")) {
			t.Errorf("man page of %s: bad header: %.60q", c.CommandPath(), man)
		}
		if !bytes.Contains(files["README.md"], []byte("["+c.CommandPath()+"]("+base+".md)")) {
			t.Errorf("index lacks %s", c.CommandPath())
		}
	}
	for _, name := range []string{"keyctl.md", "keyctl_gen_signing-key.md", "keyctl_config_show.md", "keyctl_completion_bash.md", "man/keyctl.1"} {
		if _, ok := files[name]; !ok {
			t.Errorf("no %s", name)
		}
	}
	for rel := range files {
		if strings.Contains(rel, "help") && rel != "README.md" {
			t.Errorf("the help command is documented: %s", rel)
		}
	}
}

func TestWriteRemovesPagesOfGoneCommands(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "man"), 0o755)
	os.WriteFile(filepath.Join(dir, "keyctl_gone.md"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(dir, "man", "keyctl-gone.1"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.md"), []byte("hand-written"), 0o644)
	if err := write(dir); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"keyctl_gone.md", "man/keyctl-gone.1"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s not removed", gone)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.md")); err != nil {
		t.Errorf("a hand-written file was touched: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keyctl.md")); err != nil {
		t.Errorf("keyctl.md not written: %v", err)
	}
}
