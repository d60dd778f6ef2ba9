package ui

import (
	"bufio"
	"fmt"
	"strings"
)

// Confirm asks a yes/no question on stderr and reads the answer from stdin.
// Callers check CanPrompt first: scripts must never wait here.
func (s *IO) confirm(question string, def bool) (bool, error) {
	choices := "[y/N]"
	if def {
		choices = "[Y/n]"
	}
	fmt.Fprintf(s.ErrOut, "%s %s ", question, choices)
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("no answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def, nil
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// Confirm asks question with a default answer.
func Confirm(s *IO, question string, def bool) (bool, error) { return s.confirm(question, def) }
