package ui

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/ui -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test ./internal/ui -update if the change is intended)\ngot:\n%s\nwant:\n%s", name, visible(got), visible(want))
	}
}

// visible shows escape codes in failure messages.
func visible(b []byte) string { return strings.ReplaceAll(string(b), "\x1b", `\e`) }

// testIO is an IO over buffers; tty says whether stdout is a terminal,
// env is the whole environment.
func testIO(tty bool, env map[string]string) (*IO, *bytes.Buffer) {
	var out bytes.Buffer
	return &IO{Out: &out, ErrOut: &out, StdoutTTY: &tty, Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}, &out
}

// keysTable is what `keys list` shows: every lifecycle state, a cell wider
// than its header, and a cell with a tab that must not break the columns.
func keysTable() Table {
	return Table{
		Headers: []string{"KID", "ALG", "STATE", "CREATED"},
		Rows: [][]string{
			{"6f1c2a9e-1d7b-4c1e-9a53-0b8f3d2e7c41", "ES256", StateLabel("in_use"), "2 hours ago"},
			{"b2", "RS256", StateLabel("standby"), "5 minutes ago"},
			{"legacy", "HS256", StateLabel("previously_used"), "3 days ago"},
			{"old", "EdDSA", StateLabel("revoked"), "2 months ago"},
			{"gone\tkid", "ES256", StateLabel("deleted"), "1 year ago"},
		},
		Style: func(row, col int, v string) lipgloss.Style {
			if col == 2 {
				return StateStyle(v)
			}
			return lipgloss.NewStyle()
		},
	}
}

func TestRenderTableGolden(t *testing.T) {
	cases := []struct {
		name   string
		tty    bool
		env    map[string]string
		format string
		styled bool
	}{
		{"table_text.golden", false, nil, FormatText, false},
		{"table_plain.golden", false, nil, FormatTable, false},
		{"table_plain.golden", true, map[string]string{"NO_COLOR": "1", "TERM": "xterm-256color"}, FormatTable, false},
		{"table_plain.golden", true, map[string]string{"NO_COLOR": "false", "TERM": "xterm"}, FormatTable, false},
		{"table_plain.golden", true, map[string]string{"TERM": "dumb"}, FormatTable, false},
		{"table_styled.golden", true, map[string]string{"TERM": "xterm-256color", "NO_COLOR": ""}, FormatTable, true},
		{"table_styled.golden", true, map[string]string{"TERM": "xterm-256color", "COLUMNS": "200"}, FormatTable, true},
		{"table_narrow.golden", true, map[string]string{"TERM": "xterm", "COLUMNS": "50"}, FormatTable, true},
	}
	for _, c := range cases {
		io, out := testIO(c.tty, c.env)
		if err := io.RenderTable(keysTable(), c.format); err != nil {
			t.Fatal(err)
		}
		hasEsc := bytes.Contains(out.Bytes(), []byte("\x1b"))
		if hasEsc != c.styled {
			t.Errorf("%s tty=%v env=%v: escape codes %v, want %v:\n%s", c.name, c.tty, c.env, hasEsc, c.styled, visible(out.Bytes()))
		}
		golden(t, c.name, out.Bytes())
	}
}

func TestRenderTableStyledColoursStates(t *testing.T) {
	io, out := testIO(true, map[string]string{"TERM": "xterm"})
	if err := io.RenderTable(keysTable(), FormatTable); err != nil {
		t.Fatal(err)
	}
	// Each state is recognisable: its own colour code right before it.
	for state, code := range map[string]string{
		"in use":          "\x1b[1;32m",
		"standby":         "\x1b[34m",
		"previously used": "\x1b[33m",
		"revoked":         "\x1b[31m",
		"deleted":         "\x1b[2;90m",
	} {
		if !strings.Contains(out.String(), code+state) {
			t.Errorf("state %q not styled with %q:\n%s", state, code, visible(out.Bytes()))
		}
	}
	if !strings.Contains(out.String(), "╭") {
		t.Errorf("no rounded border:\n%s", out.String())
	}
}

func TestRenderTablePlainHasNoEscapes(t *testing.T) {
	io, out := testIO(true, map[string]string{"NO_COLOR": "1"})
	err := io.RenderTable(Table{Headers: []string{"KID", "STATE"}, Rows: [][]string{{"a", "in use"}, {"bbb", "standby"}}}, FormatTable)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "KID  STATE\na    in use\nbbb  standby\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRenderTableNoColorFlag(t *testing.T) {
	io, out := testIO(true, map[string]string{"TERM": "xterm"})
	io.NoColor = true
	if err := io.RenderTable(keysTable(), FormatTable); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte("\x1b")) {
		t.Fatalf("escape codes with --no-color:\n%s", visible(out.Bytes()))
	}
}

func TestRenderTableText(t *testing.T) {
	io, out := testIO(false, nil)
	rows := [][]string{{"1", "2"}, {"3", "multi\nline"}, {"", "x"}}
	if err := io.RenderTable(Table{Headers: []string{"A", "B"}, Rows: rows}, FormatText); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "1\t2\n3\tmulti line\n\tx\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRenderTableEmpty(t *testing.T) {
	io, out := testIO(false, nil)
	if err := io.RenderTable(Table{Headers: []string{"KID", "STATE"}}, FormatText); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("text of no rows: %q", out.String())
	}
	if err := io.RenderTable(Table{Headers: []string{"KID", "STATE"}}, FormatTable); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "KID  STATE\n" {
		t.Fatalf("table of no rows: %q", got)
	}
}

func TestResolveFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		tty  bool
		want string
		err  bool
	}{
		{"", true, FormatTable, false},
		{"", false, FormatText, false},
		{"json", true, FormatJSON, false},
		{"JSON", false, FormatJSON, false},
		{"table", false, FormatTable, false},
		{"text", true, FormatText, false},
		{"yaml", true, "", true},
	} {
		io, _ := testIO(c.tty, nil)
		got, err := io.ResolveFormat(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ResolveFormat(%q) tty=%v = %q, %v; want %q, error %v", c.in, c.tty, got, err, c.want, c.err)
		}
		if err != nil && !strings.Contains(err.Error(), "table, text, json") {
			t.Errorf("error does not list the formats: %v", err)
		}
	}
}

func TestPrintJSONGolden(t *testing.T) {
	io, out := testIO(true, map[string]string{"TERM": "xterm"})
	v := struct {
		KID     string    `json:"kid"`
		State   string    `json:"state"`
		Created time.Time `json:"created"`
		URL     string    `json:"url"`
		Ops     []string  `json:"key_ops"`
	}{"k1", "in_use", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), "http://127.0.0.1:54321/.well-known/jwks.json?a=1&b=<2>", []string{"sign", "verify"}}
	if err := io.PrintJSON(v); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), []byte("\x1b")) {
		t.Fatal("JSON carries escape codes on a terminal")
	}
	golden(t, "print.json", out.Bytes())
}

func TestColorEnabled(t *testing.T) {
	for _, c := range []struct {
		tty     bool
		env     map[string]string
		noColor bool
		want    bool
	}{
		{true, map[string]string{"TERM": "xterm"}, false, true},
		{true, nil, false, true},
		{false, map[string]string{"TERM": "xterm"}, false, false},
		{true, map[string]string{"TERM": "xterm", "NO_COLOR": ""}, false, true},
		{true, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, false, false},
		{true, map[string]string{"TERM": "xterm", "NO_COLOR": "0"}, false, false},
		{true, map[string]string{"TERM": "xterm", "NO_COLOR": "false"}, false, false},
		{true, map[string]string{"TERM": "dumb"}, false, false},
		{true, map[string]string{"TERM": "xterm"}, true, false},
	} {
		io, _ := testIO(c.tty, c.env)
		io.NoColor = c.noColor
		if got := io.ColorEnabled(); got != c.want {
			t.Errorf("tty=%v env=%v --no-color=%v: ColorEnabled %v, want %v", c.tty, c.env, c.noColor, got, c.want)
		}
	}
}

func TestTerminalWidth(t *testing.T) {
	io, _ := testIO(true, map[string]string{"COLUMNS": "123"})
	if got := io.TerminalWidth(); got != 123 {
		t.Errorf("COLUMNS=123: width %d", got)
	}
	io, _ = testIO(false, map[string]string{"COLUMNS": "123"})
	if got := io.TerminalWidth(); got != 0 {
		t.Errorf("not a terminal: width %d, want 0", got)
	}
	io, _ = testIO(true, map[string]string{"COLUMNS": "wide"})
	if got := io.TerminalWidth(); got != 0 {
		t.Errorf("COLUMNS=wide on a buffer: width %d, want 0", got)
	}
}

// Control characters other than tab and newline (an escape sequence in a
// $USER the history recorded, a bidirectional override) reach a terminal
// escaped, in the table formats; the text format, for scripts, keeps them.
func TestTableEscapesControls(t *testing.T) {
	tb := Table{Headers: []string{"BY"}, Rows: [][]string{{"eve\x1b[31m@host\u202e"}}}
	for _, format := range []string{FormatTable} {
		var out bytes.Buffer
		io := &IO{Out: &out}
		if err := io.RenderTable(tb, format); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(out.String(), "\x1b\u202e") || !strings.Contains(out.String(), `eve\x1b[31m@host\u202e`) {
			t.Errorf("%s: %q", format, out.String())
		}
	}
}
