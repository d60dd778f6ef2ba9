package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/cmd"
	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/ui"
)

func init() {
	scriptCmds["ptyexec"] = cmdPtyExec
	scriptSetups = append(scriptSetups, recordEnvNames)
}

// envNamesKey holds, per script, the names of the variables testscript set
// up, so ptyexec can pass the script's environment on.
type envNamesKey struct{}

func recordEnvNames(env *testscript.Env) error {
	var names []string
	for _, kv := range env.Vars {
		if k, _, ok := strings.Cut(kv, "="); ok {
			names = append(names, k)
		}
	}
	env.Values[envNamesKey{}] = names
	return nil
}

// scriptEnv rebuilds the script's environment: testscript keeps it
// private, so take the variables set up for every script plus those a
// script may set with env (terminal, colour and keyctl's own).
func scriptEnv(ts *testscript.TestScript) []string {
	names, _ := ts.Value(envNamesKey{}).([]string)
	names = append(names, "NO_COLOR", "TERM", "COLUMNS", "COLORTERM", "CLICOLOR", "CLICOLOR_FORCE", "FORCE_COLOR",
		config.EnvConfig, "KEYCTL_PASSPHRASE")
	for _, s := range config.Settings {
		names = append(names, s.Env())
	}
	seen := map[string]bool{}
	var env []string
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if v := ts.Getenv(n); v != "" || n == "NO_COLOR" {
			env = append(env, n+"="+v)
		}
	}
	return env
}

// lookPath finds prog in the script's PATH, where testscript put keyctl.
func lookPath(ts *testscript.TestScript, prog string) string {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, prog)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	ts.Fatalf("ptyexec: %s not in PATH", prog)
	return ""
}

// ptyexec [-all] [-stdin FILE] [-cols N] PROGRAM [ARGS...] runs PROGRAM with
// stdout on a real pseudo-terminal of N columns (default 100), so it sees
// a terminal exactly as it would at a user's shell. stderr is captured as
// usual; with -all, stdin and stderr are the terminal too (FILE is typed
// into it) and everything written to it is stdout. Escape bytes are shown
// as the two characters \e so golden files stay readable text. The
// environment is the script's (see scriptEnv); scripts set TERM themselves
// since the default is "dumb".
func cmdPtyExec(ts *testscript.TestScript, neg bool, args []string) {
	all, cols, input := false, 100, ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-all":
			all = true
			args = args[1:]
		case args[0] == "-stdin" && len(args) > 1:
			input = ts.ReadFile(args[1])
			args = args[2:]
		case args[0] == "-cols" && len(args) > 1:
			n, err := strconv.Atoi(args[1])
			ts.Check(err)
			cols = n
			args = args[2:]
		default:
			ts.Fatalf("usage: ptyexec [-all] [-stdin FILE] [-cols N] PROGRAM [ARGS...]")
		}
	}
	if len(args) == 0 {
		ts.Fatalf("usage: ptyexec [-all] [-stdin FILE] [-cols N] PROGRAM [ARGS...]")
	}
	if !ptySupported {
		ts.Fatalf("ptyexec needs Linux: guard the script with [!linux] skip")
	}
	master, slave, err := openPTY(cols)
	ts.Check(err)
	defer master.Close()
	c := exec.Command(lookPath(ts, args[0]), args[1:]...)
	c.Dir = ts.MkAbs(".")
	c.Env = scriptEnv(ts)
	var stderr bytes.Buffer
	c.Stdout, c.Stderr, c.Stdin = slave, &stderr, strings.NewReader(input)
	if all {
		c.Stdin, c.Stderr = slave, slave
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, master) // ends with EIO when the last holder of the terminal closes it
		close(copied)
	}()
	err = c.Start()
	slave.Close()
	ts.Check(err)
	if all && input != "" {
		go master.Write([]byte(input))
	}
	runErr := c.Wait()
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		ts.Fatalf("ptyexec: the terminal stayed open after %s exited", args[0])
	}
	visible := func(b []byte) string { return strings.ReplaceAll(string(b), "\x1b", `\e`) }
	io.WriteString(ts.Stdout(), visible(out.Bytes()))
	io.WriteString(ts.Stderr(), visible(stderr.Bytes()))
	switch {
	case runErr != nil && !neg:
		ts.Fatalf("%s: %v", args[0], runErr)
	case runErr == nil && neg:
		ts.Fatalf("%s: unexpected success", args[0])
	}
}

// run runs keyctl in process with stdout a terminal or not, the given
// environment, and returns stdout, stderr and the exit code.
func run(t *testing.T, tty bool, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	no := false
	f := &cmd.Factory{
		IO: &ui.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, StdoutTTY: &tty, StdinTTY: &no, StderrTTY: &no,
			Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
		Now:     func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
		Version: "v0.0.0-test",
	}
	code := cmd.Run(context.Background(), f, args)
	return out.String(), errOut.String(), code
}

// commandPaths lists every command of the tree as its arguments, hidden
// ones included (a hidden command still must not print escape codes).
func commandPaths() [][]string {
	f := &cmd.Factory{IO: &ui.IO{Env: func(string) (string, bool) { return "", false }}, Now: time.Now}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(fullTree(f), nil)
	return paths
}

// fullTree is the command tree with the commands cobra adds only when it
// executes (completion and help), as users see it.
func fullTree(f *cmd.Factory) *cobra.Command {
	root := cmd.NewRootCmd(f)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// plainModes are the ways a user asks for no styling; each must leave
// stdout and stderr free of escape codes.
var plainModes = []struct {
	name string
	tty  bool
	env  map[string]string
	args []string
}{
	{"piped", false, map[string]string{"TERM": "xterm-256color"}, nil},
	{"NO_COLOR=1 on a terminal", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": "1"}, nil},
	{"NO_COLOR=0 on a terminal", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": "0"}, nil},
	{"TERM=dumb on a terminal", true, map[string]string{"TERM": "dumb"}, nil},
	{"--no-color on a terminal", true, map[string]string{"TERM": "xterm-256color"}, []string{"--no-color"}},
}

// TestNoEscapeCodesWhenPlain runs every command's help and a
// representative run of every command in each plain mode and fails on any
// escape code. A positive control proves the check can fail: the same
// table on a colour terminal is styled.
func TestNoEscapeCodesWhenPlain(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	// Commands that read the process environment directly must not touch
	// the real home either.
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(home, ".cache"))
	baseEnv := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, ".config"), "XDG_CACHE_HOME": filepath.Join(home, ".cache")}
	p := func(name string) string { return filepath.Join(dir, name) }

	var runs [][]string
	for _, path := range commandPaths() {
		runs = append(runs, append(append([]string{}, path...), "--help"))
	}
	keyring := "--keyring=" + p("keyring.json")
	runs = append(runs,
		[]string{"gen", "signing-key", "--kid", "k1"},
		[]string{"gen", "signing-key", "--algorithm", "EdDSA", "--format", "pem", "--public"},
		[]string{"gen", "signing-key", "--keys-file", p("signing_keys.json"), "--kid", "f1"},
		[]string{"gen", "signing-key", "--keys-file", p("signing_keys.json"), "--append", "--algorithm", "HS256"},
		[]string{"gen", "bearer-jwt", "--role", "authenticated", "--keys-file", p("signing_keys.json")},
		[]string{"gen", "bearer-jwt", "--role", "anon", "--key", p("missing.json")},
		[]string{"gen", "bearer-jwt", "--role", "anon"},
		[]string{"config", "show"}, []string{"config", "show", "-o", "table"}, []string{"config", "show", "-o", "json"},
		[]string{"config", "path"}, []string{"config", "nope"},
		[]string{"version"}, []string{"version", "-o", "json"},
		[]string{"keys", "create", keyring}, []string{"keys", "create", "--algorithm", "RS256", keyring},
		[]string{"keys", "list", keyring}, []string{"keys", "list", "-o", "table", keyring}, []string{"keys", "list", "-o", "json", keyring},
		[]string{"keys", "rotate", keyring}, []string{"keys", "history", keyring}, []string{"keys", "history", "-o", "table", keyring},
		[]string{"keys", "rotate", "no-such-kid", keyring}, []string{"keys", "revoke", "no-such-kid", keyring},
		[]string{"jwks", keyring}, []string{"jwks", "--keys-file", p("signing_keys.json")},
		[]string{"decode", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		[]string{"decode", "-o", "table", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
		[]string{"verify", "--key", p("missing.json"), "a.b.c"},
		[]string{"verify", "not-a-token", keyring},
		[]string{"no-such-command"}, []string{"gen", "signing-key", "--no-such-flag"},
	)
	// Mint a token to decode and verify once a key exists.
	if out, _, code := run(t, false, baseEnv, "gen", "bearer-jwt", "--role", "authenticated", "--keys-file", p("signing_keys.json")); code == 0 {
		tok := strings.TrimSpace(out)
		runs = append(runs, []string{"decode", tok}, []string{"decode", "-o", "table", tok},
			[]string{"verify", tok, "--jwks", p("jwks.json")}, []string{"verify", tok, "--key", p("signing_keys.json")}, []string{"verify", tok, keyring})
		if jwks, _, code := run(t, false, baseEnv, "jwks", "--keys-file", p("signing_keys.json")); code == 0 {
			os.WriteFile(p("jwks.json"), []byte(jwks), 0o600)
		}
	}
	for _, mode := range plainModes {
		env := map[string]string{}
		for k, v := range baseEnv {
			env[k] = v
		}
		for k, v := range mode.env {
			env[k] = v
		}
		for _, args := range runs {
			stdout, stderr, _ := run(t, mode.tty, env, append(append([]string{}, args...), mode.args...)...)
			for name, s := range map[string]string{"stdout": stdout, "stderr": stderr} {
				if i := strings.IndexByte(s, 0x1b); i >= 0 {
					t.Errorf("%s: keyctl %s: escape code on %s: %q", mode.name, strings.Join(args, " "), name, s[max(0, i-20):min(len(s), i+20)])
				}
			}
		}
	}
	// Positive control: a colour terminal does get escape codes.
	env := map[string]string{"TERM": "xterm-256color"}
	for k, v := range baseEnv {
		env[k] = v
	}
	if stdout, _, _ := run(t, true, env, "config", "show", "-o", "table"); !strings.Contains(stdout, "\x1b[") {
		t.Errorf("config show on a colour terminal is not styled, so this test could not see escape codes:\n%s", stdout)
	}
}

// helpExecRE finds the help a script checks: "exec keyctl PATH... --help".
var helpExecRE = regexp.MustCompile(`(?m)^exec keyctl ((?:[a-z][a-z0-9-]* )*)--help$`)

// TestEveryCommandHasHelpGolden: each visible command's help is compared
// with a golden file by some testdata/script/help_*.txtar, so a new command
// (or a changed flag) shows up in review.
func TestEveryCommandHasHelpGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/script/help_*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		a, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range helpExecRE.FindAllStringSubmatch(string(a), -1) {
			covered[strings.TrimSpace(m[1])] = true
		}
	}
	f := &cmd.Factory{IO: &ui.IO{Env: func(string) (string, bool) { return "", false }}, Now: time.Now}
	var missing []string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.Hidden || c.Name() == "help" || strings.HasPrefix(c.Name(), "__") {
			return
		}
		if p := strings.Join(path, " "); !covered[p] {
			missing = append(missing, strings.Join(append(append([]string{"keyctl"}, path...), "--help"), " "))
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string{}, path...), sub.Name()))
		}
	}
	walk(fullTree(f), nil)
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no help golden in testdata/script/help_*.txtar for:\n  %s\n(add \"exec keyctl ... --help\" + \"cmp stdout FILE\" and run UPDATE_SCRIPTS=1 go test . -run TestScripts/help_)", strings.Join(missing, "\n  "))
	}
}
