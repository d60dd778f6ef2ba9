// Package ui holds the terminal side of keyctl: IO streams, the decision to
// style output, and the printers for messages, tables and JSON.
package ui

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

// IO bundles the streams a command uses. Tests build one over buffers.
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// Env looks up environment variables (os.LookupEnv in production).
	Env func(string) (string, bool)

	// NoColor is set by --no-color.
	NoColor bool

	// Overrides for tests; nil means "ask the file descriptor".
	StdoutTTY *bool
	StdinTTY  *bool
	StderrTTY *bool
}

// System returns the IO of the running process.
func System() *IO {
	return &IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Env: os.LookupEnv}
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IO) IsStdoutTTY() bool {
	if s.StdoutTTY != nil {
		return *s.StdoutTTY
	}
	return isTerminal(s.Out)
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IO) IsStdinTTY() bool {
	if s.StdinTTY != nil {
		return *s.StdinTTY
	}
	return isTerminal(s.In)
}

// IsStderrTTY reports whether stderr is a terminal.
func (s *IO) IsStderrTTY() bool {
	if s.StderrTTY != nil {
		return *s.StderrTTY
	}
	return isTerminal(s.ErrOut)
}

// CanPrompt reports whether keyctl may ask a question: both stdin and stderr
// are terminals. Scripts never wait on stdin.
func (s *IO) CanPrompt() bool { return s.IsStdinTTY() && s.IsStderrTTY() }

func (s *IO) getenv(k string) string {
	if s.Env == nil {
		return ""
	}
	v, _ := s.Env(k)
	return v
}

// ColorEnabled decides styling for stdout: a terminal, NO_COLOR unset or
// empty (https://no-color.org: any non-empty value, even "0" or "false",
// turns colour off), TERM not "dumb", and no --no-color. keyctl decides this
// itself rather than trusting lipgloss, whose detection reads the process
// environment, not the one a test or caller passes in Env.
func (s *IO) ColorEnabled() bool {
	if s.NoColor || s.getenv("NO_COLOR") != "" || s.getenv("TERM") == "dumb" {
		return false
	}
	return s.IsStdoutTTY()
}

// TerminalWidth returns the width of the terminal stdout is on: COLUMNS
// when set to a positive number (so tests and users can fix it), else the
// size the terminal reports; 0 when stdout is not a terminal or the width
// is unknown.
func (s *IO) TerminalWidth() int {
	if !s.IsStdoutTTY() {
		return 0
	}
	if n, err := strconv.Atoi(s.getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := s.Out.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
	}
	return 0
}

// Warnf prints "keyctl: warning: ..." on stderr.
func (s *IO) Warnf(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "keyctl: warning: %s\n", strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

// Infof prints "keyctl: ..." on stderr.
func (s *IO) Infof(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "keyctl: %s\n", strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}

// Hintf prints "hint: ..." on stderr, on its own line.
func (s *IO) Hintf(format string, args ...any) {
	fmt.Fprintf(s.ErrOut, "hint: %s\n", strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
}
