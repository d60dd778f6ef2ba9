package ui

import (
	"bytes"
	"strings"
	"testing"
)

func TestRenderTablePlainHasNoEscapes(t *testing.T) {
	yes := true
	var out bytes.Buffer
	io := &IO{Out: &out, StdoutTTY: &yes, Env: func(k string) (string, bool) {
		if k == "NO_COLOR" {
			return "1", true
		}
		return "", false
	}}
	err := io.RenderTable(Table{Headers: []string{"KID", "STATE"}, Rows: [][]string{{"a", "in use"}, {"bbb", "standby"}}}, FormatTable)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Fatalf("escape codes with NO_COLOR: %q", out.String())
	}
	if !strings.Contains(out.String(), "bbb") || !strings.Contains(out.String(), "KID") {
		t.Fatalf("table lost cells: %q", out.String())
	}
}

func TestRenderTableText(t *testing.T) {
	var out bytes.Buffer
	io := &IO{Out: &out}
	if err := io.RenderTable(Table{Headers: []string{"A", "B"}, Rows: [][]string{{"1", "2"}, {"3", "4"}}}, FormatText); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "1\t2\n3\t4\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
