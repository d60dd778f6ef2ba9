package ui

import "github.com/charmbracelet/lipgloss"

// StateLabel turns a lifecycle state ("in_use") into the words people read
// ("in use").
func StateLabel(state string) string {
	switch state {
	case "in_use":
		return "in use"
	case "previously_used":
		return "previously used"
	}
	return state
}

// StateStyle gives each lifecycle state its colour, so a table shows at a
// glance which key signs (green), which wait (blue), which only verify
// (yellow) and which are gone (red, grey). Colours are ANSI indices, so
// they follow the user's terminal theme.
func StateStyle(state string) lipgloss.Style {
	s := lipgloss.NewStyle()
	switch state {
	case "in_use", "in use":
		return s.Foreground(lipgloss.Color("2")).Bold(true)
	case "standby":
		return s.Foreground(lipgloss.Color("4"))
	case "previously_used", "previously used":
		return s.Foreground(lipgloss.Color("3"))
	case "revoked":
		return s.Foreground(lipgloss.Color("1"))
	case "deleted":
		// Grey, not struck through: strikethrough is styled rune by rune
		// and many terminals do not draw it.
		return s.Foreground(lipgloss.Color("8")).Faint(true)
	}
	return s
}
