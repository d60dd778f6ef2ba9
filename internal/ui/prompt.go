package ui

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNoAnswer is returned by Confirm when stdin ends before an answer.
var ErrNoAnswer = errors.New("no answer on standard input")

// Confirm asks question on stderr with a default answer and reads one line
// from stdin: "y" or "yes" (any case) is yes, an empty line the default,
// anything else no. Callers check CanPrompt first: scripts must never wait
// here, and a destructive action off a terminal needs --yes or --force.
func Confirm(s *IO, question string, def bool) (bool, error) {
	choices := "[y/N]"
	if def {
		choices = "[Y/n]"
	}
	fmt.Fprintf(s.ErrOut, "%s %s ", question, choices)
	line, err := readLine(s.In)
	if err != nil && line == "" {
		// The question is left without a newline; end it so the error that
		// follows starts on its own line.
		fmt.Fprintln(s.ErrOut)
		return false, ErrNoAnswer
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def, nil
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readLine reads up to a newline one byte at a time, so no input after the
// answer is consumed (a later read of stdin still sees it). Lines are
// capped: an answer is a word.
func readLine(r io.Reader) (string, error) {
	const maxLine = 1024
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < maxLine {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
	return b.String(), nil
}
