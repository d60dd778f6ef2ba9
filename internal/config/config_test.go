package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// envOf returns a lookup over m only: tests never see the real environment.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMalformedNamesFileAndLine(t *testing.T) {
	for _, c := range []struct {
		name string
		body string
		line int
		msg  string
	}{
		{"missing colon", "algorithm: ES256\nvalid_for 30m\n", 2, "could not find expected ':'"},
		{"bad indentation", "algorithm: ES256\nvalid_for: 30m\n  keyring: x\n", 3, "mapping values are not allowed in this context"},
		{"nested value", "algorithm: ES256\nvalid_for: 30m\nkeyring: x: y\n", 3, "mapping values are not allowed"},
		{"first line", "algorithm: a: b\n", 1, "mapping values are not allowed"},
		{"tab", "algorithm: ES256\n\tvalid_for: 30m\n", 2, "tab character"},
		{"unclosed list", "algorithm: ES256\nvalid_for: 30m\nkeyring: [a,\nserve_addr: x\n", 3, "did not find expected ',' or ']'"},
		{"list item in a mapping", "algorithm: ES256\nvalid_for: 30m\n- keyring\n", 3, "did not find expected key"},
		{"unclosed quote", "algorithm: ES256\nvalid_for: 30m\nkeyring: \"abc\n", 3, "unexpected end of stream"},
		{"control character", "algorithm: ES256\nkeyring: a\x01b\n", 2, "control characters are not allowed"},
		{"unknown setting", "algorithm: ES256\nalgo: RS256\n", 2, `unknown setting "algo" (known: keyring, algorithm, valid_for, max_token_lifetime, cache_ttl, serve_addr)`},
		{"dashes", "valid-for: 30m\n", 1, `unknown setting "valid-for"`},
		{"duplicate", "algorithm: ES256\n\nalgorithm: RS256\n", 3, "algorithm is set twice (first on line 1)"},
		{"list value", "algorithm:\n  - ES256\n", 2, "algorithm: want a single value, found a list"},
		{"no value", "keyring: /k\nalgorithm:\n", 2, "algorithm has no value"},
		{"bad algorithm", "algorithm: PS256\n", 1, `algorithm: "PS256" is not an algorithm (want one of`},
		{"bad duration", "# comment\nvalid_for: 30\n", 2, `valid_for: "30" is not a duration (write it like 30m, 1h or 90s)`},
		{"negative duration", "valid_for: -5m\n", 1, "must be positive"},
		{"zero lifetime", "valid_for: 0s\n", 1, "must be positive"},
		{"negative ttl", "cache_ttl: -1s\n", 1, "must be positive"},
		{"bad address", "serve_addr: localhost\n", 1, `serve_addr: "localhost" is not an address`},
		{"top-level list", "- algorithm\n", 1, `want settings as "key: value" lines, found a list`},
		{"top-level scalar", "\n\nalgorithm\n", 3, `want settings as "key: value" lines, found the value "algorithm"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, c.body)
			_, err := Load(path, envOf(nil))
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T), want a *FileError", err, err)
			}
			if fe.Path != path || fe.Line != c.line || !strings.Contains(fe.Msg, c.msg) {
				t.Fatalf("got %s (line %d), want line %d with %q", err, fe.Line, c.line, c.msg)
			}
			want := "config file " + path + ", line "
			if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "yaml:") {
				t.Fatalf("not one clean line naming the file and line: %q", err)
			}
		})
	}
}

func TestUnknownSettingSuggests(t *testing.T) {
	for key, want := range map[string]string{
		"algo":             `did you mean "algorithm"?`,
		"valid-for":        `did you mean "valid_for"?`,
		"addr":             `did you mean "serve_addr"?`,
		"Algorithm":        `did you mean "algorithm"?`,
		"cache-ttl":        `did you mean "cache_ttl"?`,
		"passphrase":       "remove it",
		"max_token_lifeti": `did you mean "max_token_lifetime"?`,
	} {
		_, err := Load(writeConfig(t, key+": x\n"), envOf(nil))
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(fe.Hint(), want) {
			t.Errorf("%s: error %v hint %q, want hint %q", key, err, fe.Hint(), want)
		}
	}
}

func TestZeroCacheTTL(t *testing.T) {
	c, err := Load(writeConfig(t, "cache_ttl: 0s\n"), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Effective(nil, nil)[4]; v.Key != "cache_ttl" || v.Value != "0s" || v.Err != nil {
		t.Fatalf("cache_ttl 0s: %+v", v)
	}
}

func TestLoadAcceptsEmptyAndCommentOnly(t *testing.T) {
	for _, body := range []string{"", "\n", "# nothing yet\n", "---\n", "~\n"} {
		c, err := Load(writeConfig(t, body), envOf(nil))
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if _, _, ok := c.Lookup("algorithm"); ok {
			t.Fatalf("%q: a value from nowhere", body)
		}
	}
}

func TestLoadFindsTheFile(t *testing.T) {
	dir := t.TempDir()
	// No file at the default path: fine, nothing read.
	c, err := Load("", envOf(map[string]string{"XDG_CONFIG_HOME": dir}))
	if err != nil || c.File() != "" || c.Path() != filepath.Join(dir, "keyctl", "config.yaml") {
		t.Fatalf("default missing: %v %q %q", err, c.File(), c.Path())
	}
	// HOME without XDG_CONFIG_HOME: ~/.config.
	if got := DefaultPath(envOf(map[string]string{"HOME": "/home/u"})); got != "/home/u/.config/keyctl/config.yaml" {
		t.Errorf("DefaultPath with HOME: %s", got)
	}
	// An explicit file (--config or KEYCTL_CONFIG) must exist.
	missing := filepath.Join(dir, "nope.yaml")
	for _, load := range []func() (*Config, error){
		func() (*Config, error) { return Load(missing, envOf(nil)) },
		func() (*Config, error) { return Load("", envOf(map[string]string{EnvConfig: missing})) },
	} {
		_, err := load()
		var fe *FileError
		if !errors.As(err, &fe) || fe.Msg != "no such file" || fe.Path != missing || fe.Hint() == "" {
			t.Errorf("missing explicit file: %v", err)
		}
	}
	// The default file is read when it exists; KEYCTL_CONFIG wins over it.
	os.MkdirAll(filepath.Join(dir, "keyctl"), 0o700)
	os.WriteFile(filepath.Join(dir, "keyctl", "config.yaml"), []byte("algorithm: RS256\n"), 0o600)
	other := writeConfig(t, "algorithm: EdDSA\n")
	c, _ = Load("", envOf(map[string]string{"XDG_CONFIG_HOME": dir}))
	if v, _, _ := c.Lookup("algorithm"); v != "RS256" {
		t.Errorf("default file: algorithm %q", v)
	}
	c, _ = Load("", envOf(map[string]string{"XDG_CONFIG_HOME": dir, EnvConfig: other}))
	if v, _, _ := c.Lookup("algorithm"); v != "EdDSA" || c.File() != other {
		t.Errorf("KEYCTL_CONFIG: algorithm %q from %s", v, c.File())
	}
	// A directory is not a config file.
	if _, err := Load(dir, envOf(nil)); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	// Nor is a huge file.
	big := writeConfig(t, strings.Repeat("# padding\n", MaxFileBytes/10+1))
	if _, err := Load(big, envOf(nil)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v", err)
	}
}

func TestPathsInTheFile(t *testing.T) {
	path := writeConfig(t, "keyring: keys/keyring.json\n")
	c, err := Load(path, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := c.Lookup("keyring"); v != filepath.Join(filepath.Dir(path), "keys", "keyring.json") {
		t.Errorf("relative path not resolved against the file: %s", v)
	}
	c, _ = Load(filepath.Join("testdata", "full.yaml"), envOf(map[string]string{"HOME": "/home/u"}))
	if v, _, _ := c.Lookup("keyring"); v != "/home/u/keys/keyring.json" {
		t.Errorf("~ not expanded: %s", v)
	}
	// The environment is taken as given, like a flag.
	c, _ = Load(path, envOf(map[string]string{"KEYCTL_KEYRING": "rel.json"}))
	if v, src, _ := c.Lookup("keyring"); v != "rel.json" || src != SourceEnv {
		t.Errorf("env path: %s from %s", v, src)
	}
}

// A location with a scheme is not a path: joined onto the config
// directory it became a file named after the URI, password and all.
func TestLocationsInTheFileStayAsGiven(t *testing.T) {
	for _, loc := range []string{
		"postgres://keyctl:keyctl-test-throwaway@db.internal/keys",
		"postgresql://db.internal/keys?sslmode=verify-full",
		"file:///srv/keyctl/keyring.json",
		"host=db.internal user=ops dbname=keys", // refused later, never a file name
	} {
		c, err := Load(writeConfig(t, "keyring: "+loc+"\n"), envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if v, _, _ := c.Lookup("keyring"); v != loc {
			t.Errorf("keyring %s read as %s", loc, v)
		}
	}
	// A file name with "=" is still a path beside the config file.
	c, err := Load(writeConfig(t, "keyring: keys=1.json\n"), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := c.Lookup("keyring"); !filepath.IsAbs(v) {
		t.Errorf("keys=1.json read as %s", v)
	}
	for p, want := range map[string]bool{
		"postgres://x": true, "a+b.c-d://x": true, "file:///x": true,
		"://x": false, "1x://y": false, "dir/a://b": false, "C:\\x": false, "x": false,
	} {
		if hasScheme(p) != want {
			t.Errorf("hasScheme(%q) = %v", p, !want)
		}
	}
}

// testCmd is a command with two configurable flags, as commands bind them.
func testCmd() (*cobra.Command, *string, *time.Duration) {
	var alg string
	var validFor time.Duration
	c := &cobra.Command{Use: "t", RunE: func(*cobra.Command, []string) error { return nil }}
	c.Flags().StringVar(&alg, "algorithm", "ES256", "")
	c.Flags().DurationVar(&validFor, "valid-for", 30*time.Minute, "")
	Bind(c.Flags(), "algorithm", "algorithm")
	Bind(c.Flags(), "valid-for", "valid_for")
	return c, &alg, &validFor
}

func TestPrecedence(t *testing.T) {
	file := writeConfig(t, "algorithm: rs256\nvalid_for: 2h\n")
	for _, c := range []struct {
		name     string
		args     []string
		env      map[string]string
		file     string
		alg      string
		validFor time.Duration
	}{
		{"defaults", nil, nil, "", "ES256", 30 * time.Minute},
		{"file", nil, nil, file, "RS256", 2 * time.Hour},
		{"env over file", nil, map[string]string{"KEYCTL_ALGORITHM": "EdDSA"}, file, "EdDSA", 2 * time.Hour},
		{"empty env is unset", nil, map[string]string{"KEYCTL_ALGORITHM": ""}, file, "RS256", 2 * time.Hour},
		{"flag over env", []string{"--algorithm", "HS256"}, map[string]string{"KEYCTL_ALGORITHM": "EdDSA", "KEYCTL_VALID_FOR": "5m"}, file, "HS256", 5 * time.Minute},
		{"flag over file", []string{"--valid-for", "1m"}, nil, file, "RS256", time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd, alg, validFor := testCmd()
			if err := cmd.ParseFlags(c.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(c.file, envOf(c.env))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Apply(cmd); err != nil {
				t.Fatal(err)
			}
			if *alg != c.alg || *validFor != c.validFor {
				t.Fatalf("algorithm %s valid-for %s, want %s %s", *alg, *validFor, c.alg, c.validFor)
			}
		})
	}
}

func TestApplyBadEnvValue(t *testing.T) {
	cmd, _, _ := testCmd()
	cfg, _ := Load("", envOf(map[string]string{"KEYCTL_VALID_FOR": "soon", "KEYCTL_ALGORITHM": "none"}))
	err := cfg.Apply(cmd)
	for _, want := range []string{
		`environment variable KEYCTL_VALID_FOR: "soon" is not a duration`,
		`environment variable KEYCTL_ALGORITHM: "none" is not an algorithm`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	// A flag the user set is never checked against the environment.
	cmd, _, _ = testCmd()
	cmd.ParseFlags([]string{"--valid-for", "1m", "--algorithm", "ES256"})
	if err := cfg.Apply(cmd); err != nil {
		t.Errorf("flags set, env ignored, yet: %v", err)
	}
}

func TestEffective(t *testing.T) {
	file := writeConfig(t, "algorithm: rs256\n\nvalid_for: 2h\n")
	cfg, err := Load(file, envOf(map[string]string{"KEYCTL_VALID_FOR": "10m", "KEYCTL_CACHE_TTL": "forever"}))
	if err != nil {
		t.Fatal(err)
	}
	cmd, _, _ := testCmd()
	cmd.Flags().String("addr", "", "")
	Bind(cmd.Flags(), "addr", "serve_addr")
	cmd.ParseFlags([]string{"--addr", "127.0.0.1:9999"})
	got := map[string]Value{}
	for _, v := range cfg.Effective(cmd.Flags(), map[string]string{"keyring": "/d/keyring.json", "max_token_lifetime": "1h"}) {
		got[v.Key] = v
	}
	for _, want := range []Value{
		{Setting: Setting{Key: "keyring"}, Value: "/d/keyring.json", Source: SourceDefault},
		{Setting: Setting{Key: "algorithm"}, Value: "RS256", Source: SourceFile, Origin: file + ":1"},
		{Setting: Setting{Key: "valid_for"}, Value: "10m", Source: SourceEnv, Origin: "KEYCTL_VALID_FOR"},
		{Setting: Setting{Key: "max_token_lifetime"}, Value: "1h", Source: SourceDefault},
		{Setting: Setting{Key: "serve_addr"}, Value: "127.0.0.1:9999", Source: SourceFlag, Origin: "--addr"},
	} {
		g := got[want.Key]
		if g.Value != want.Value || g.Source != want.Source || g.Origin != want.Origin || g.Err != nil {
			t.Errorf("%s: got %q from %s (%s) err %v; want %q from %s (%s)", want.Key, g.Value, g.Source, g.Origin, g.Err, want.Value, want.Source, want.Origin)
		}
	}
	if e := got["cache_ttl"].Err; e == nil || !strings.Contains(e.Error(), "KEYCTL_CACHE_TTL") {
		t.Errorf("invalid env value not reported: %v", e)
	}
	if len(got) != len(Settings) {
		t.Errorf("%d values for %d settings", len(got), len(Settings))
	}
}

func TestSettingsAreConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Settings {
		if seen[s.Key] || s.Key != strings.ToLower(s.Key) || strings.Contains(s.Key, "-") {
			t.Errorf("setting key %q: duplicate, or not lower_snake_case", s.Key)
		}
		seen[s.Key] = true
		if s.Help == "" || s.Flag == "" {
			t.Errorf("setting %q needs a flag and help", s.Key)
		}
	}
}

// FuzzLoad: whatever the file holds, Load returns a config or a one-line
// *FileError with a line inside the file, and never panics.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"full.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("algorithm: ES256\nvalid_for 30m\n"))
	f.Add([]byte("keyring: [a,\n"))
	f.Add([]byte("a: &x 1\nb: *x\n"))
	f.Add([]byte("algorithm: !!binary aGVsbG8=\n"))
	f.Add([]byte("\xff\xfe: 1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, envOf(nil))
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("%T %v", err, err)
			}
			lines := lineCount(data)
			if fe.Line < 0 || fe.Line > lines || strings.Contains(err.Error(), "\n") {
				t.Fatalf("line %d of %d, or not one line: %q", fe.Line, lines, err)
			}
			return
		}
		for _, k := range c.v.AllKeys() {
			if _, ok := Find(k); !ok {
				t.Fatalf("accepted unknown setting %q", k)
			}
		}
	})
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Minute:                "30m",
		time.Hour:                       "1h",
		90 * time.Minute:                "1h30m",
		90 * time.Second:                "1m30s",
		45 * time.Second:                "45s",
		time.Hour + time.Second:         "1h0m1s",
		1500 * time.Millisecond:         "1.5s",
		87600 * time.Hour:               "87600h",
		10*time.Minute + 30*time.Second: "10m30s",
	} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestEnvTypos(t *testing.T) {
	got := EnvTypos([]string{
		"KEYCTL_KEYRNG=/tmp/team.json", // a typo: warned
		"KEYCTL_VALIDFOR=5m",           // a typo: warned
		"KEYCTL_PASSPHRASEFILE=x",      // a typo of a non-setting variable
		"KEYCTL_KEYRING=/tmp/k.json",   // known
		"KEYCTL_MASTER_KEY=x",          // known
		"KEYCTL_BUILD_NUMBER=42",       // a script's own: left alone
		"HOME=/root",
	})
	want := []EnvTypo{{"KEYCTL_KEYRNG", "KEYCTL_KEYRING"}, {"KEYCTL_VALIDFOR", "KEYCTL_VALID_FOR"}, {"KEYCTL_PASSPHRASEFILE", "KEYCTL_PASSPHRASE_FILE"}}
	if !slices.Equal(got, want) {
		t.Fatalf("EnvTypos = %v, want %v", got, want)
	}
}
