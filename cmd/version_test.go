package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/keyctl/keyctl", Version: "v1.4.0"},
		Deps: []*debug.Module{
			{Path: "github.com/spf13/cobra", Version: "v1.10.2"},
			{Path: joseModule, Version: "v4.1.9"},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}},
	}
	for _, c := range []struct {
		name    string
		version string
		info    *debug.BuildInfo
		ok      bool
		want    versionInfo
	}{
		{"stamped wins", "v2.0.0", info, true, versionInfo{Version: "v2.0.0", Commit: "0123456789ab-dirty", GoJOSE: "v4.1.9"}},
		{"go install version", "dev", info, true, versionInfo{Version: "v1.4.0", Commit: "0123456789ab-dirty", GoJOSE: "v4.1.9"}},
		{"devel build", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, versionInfo{Version: "dev", GoJOSE: joseNotLinked}},
		{"no build info", "", nil, false, versionInfo{Version: "", GoJOSE: joseNotLinked}},
		{"replaced jose", "v1", &debug.BuildInfo{Deps: []*debug.Module{{Path: joseModule, Version: "v4.1.9", Replace: &debug.Module{Version: "v4.2.0"}}}}, true, versionInfo{Version: "v1", GoJOSE: "v4.2.0 (replaced)"}},
	} {
		got := buildVersion(c.version, c.info, c.ok)
		c.want.Go, c.want.OS, c.want.Arch = runtime.Version(), runtime.GOOS, runtime.GOARCH
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestVersionStampedAtBuild builds keyctl the way the Makefile does and
// checks the stamp arrives: renaming cmd.Version would otherwise silently
// turn every release into "dev".
func TestVersionStampedAtBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	makefile, err := os.ReadFile(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(makefile), "-X github.com/keyctl/keyctl/cmd.Version=") {
		t.Fatal("the Makefile no longer stamps cmd.Version")
	}
	bin := filepath.Join(t.TempDir(), "keyctl")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/keyctl/keyctl/cmd.Version=v9.8.7-test", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	deps, err := exec.Command("go", "list", "-deps", "..").Output()
	if err != nil {
		t.Fatal(err)
	}
	wantJOSE := "go-jose " + joseNotLinked
	if strings.Contains(string(deps), joseModule+"\n") || strings.Contains(string(deps), joseModule+"/") {
		wantJOSE = "go-jose v4."
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "keyctl v9.8.7-test") ||
		lines[1] != "go "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH ||
		!strings.HasPrefix(lines[2], wantJOSE) {
		t.Fatalf("version output (want %q on the last line):\n%s", wantJOSE, out)
	}
}
