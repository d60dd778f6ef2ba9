package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/cmd"
)

func TestMain(m *testing.M) {
	cmds := map[string]func(){
		"keyctl": func() { os.Exit(cmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	}
	// make test builds keyctl once and names it in KEYCTL_TEST_BINARY: the
	// scripts and process tests then run that binary, found on PATH, rather
	// than this test binary, which under -race starts and signs several
	// times slower (cmd/, internal/ and pkg/ keep their race-detector runs).
	if bin := os.Getenv("KEYCTL_TEST_BINARY"); bin != "" {
		if !filepath.IsAbs(bin) || filepath.Base(bin) != "keyctl" {
			fmt.Fprintf(os.Stderr, "KEYCTL_TEST_BINARY=%s: want an absolute path to a file named keyctl\n", bin)
			os.Exit(2)
		}
		os.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		delete(cmds, "keyctl")
	}
	testscript.Main(m, cmds)
}

// scriptCmds holds the custom testscript commands; each *_script_test.go
// file adds its own in init.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){}

// scriptSetups run before each script; files add to it in init.
var scriptSetups []func(*testscript.Env) error

// TestScripts runs every end-to-end script in testdata/script against the
// real binary's Main.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		Cmds:                scriptCmds,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("UPDATE_SCRIPTS") != "",
		Setup:               scriptSetup,
	})
}

// scriptSetup gives each script a home of its own, plain output and the
// setups of the *_script_test.go files.
func scriptSetup(env *testscript.Env) error {
	home := env.WorkDir + "/.home"
	env.Setenv("HOME", home)
	env.Setenv("XDG_CONFIG_HOME", home+"/.config")
	env.Setenv("XDG_CACHE_HOME", home+"/.cache")
	env.Setenv("NO_COLOR", "")
	env.Setenv("TERM", "dumb")
	// A race-enabled binary sleeps a second at exit by default; the
	// scripts run keyctl hundreds of times.
	if os.Getenv("GORACE") == "" {
		env.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	env.Setenv("NOW", time.Now().UTC().Format(time.RFC3339))
	for _, s := range scriptSetups {
		if err := s(env); err != nil {
			return err
		}
	}
	return nil
}
