package ui

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	for _, c := range []struct {
		input string
		def   bool
		want  bool
		err   error
	}{
		{"y\n", false, true, nil},
		{"YES\n", false, true, nil},
		{" yes \n", false, true, nil},
		{"n\n", true, false, nil},
		{"\n", true, true, nil},
		{"\n", false, false, nil},
		{"maybe\n", true, false, nil},
		{"y", false, true, nil}, // EOF right after the answer
		{"", true, false, ErrNoAnswer},
	} {
		var errOut bytes.Buffer
		s := &IO{In: strings.NewReader(c.input), ErrOut: &errOut}
		got, err := Confirm(s, "Delete key k1?", c.def)
		if got != c.want || !errors.Is(err, c.err) {
			t.Errorf("input %q default %v: %v, %v; want %v, %v", c.input, c.def, got, err, c.want, c.err)
		}
		want := "Delete key k1? [y/N] "
		if c.def {
			want = "Delete key k1? [Y/n] "
		}
		if !strings.HasPrefix(errOut.String(), want) {
			t.Errorf("prompt %q, want %q", errOut.String(), want)
		}
	}
}

func TestConfirmLeavesTheRestOfStdin(t *testing.T) {
	in := strings.NewReader("y\nsecond line\n")
	s := &IO{In: in, ErrOut: io.Discard}
	if ok, err := Confirm(s, "ok?", false); !ok || err != nil {
		t.Fatalf("%v %v", ok, err)
	}
	rest, _ := io.ReadAll(in)
	if string(rest) != "second line\n" {
		t.Fatalf("Confirm consumed more than its line: rest %q", rest)
	}
}

func TestMessages(t *testing.T) {
	var errOut, out bytes.Buffer
	s := &IO{Out: &out, ErrOut: &errOut}
	s.Infof("wrote %s\n", "k1")
	s.Warnf("HS256 shares one secret")
	s.Hintf("run %q", "keyctl keys rotate")
	want := "keyctl: wrote k1\nkeyctl: warning: HS256 shares one secret\nhint: run \"keyctl keys rotate\"\n"
	if errOut.String() != want {
		t.Fatalf("stderr %q, want %q", errOut.String(), want)
	}
	if out.Len() != 0 {
		t.Fatalf("messages on stdout: %q", out.String())
	}
}
