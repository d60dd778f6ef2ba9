package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/muesli/termenv"
)

// Output formats for -o/--output.
const (
	FormatTable = "table"
	FormatText  = "text"
	FormatJSON  = "json"
)

// OutputFormats lists the values -o accepts.
var OutputFormats = []string{FormatTable, FormatText, FormatJSON}

// ResolveFormat turns the -o value into a concrete format: "" means a
// table on a terminal and text when piped.
func (s *IO) ResolveFormat(f string) (string, error) {
	switch f {
	case "":
		if s.IsStdoutTTY() {
			return FormatTable, nil
		}
		return FormatText, nil
	case FormatTable, FormatText, FormatJSON:
		return f, nil
	}
	return "", fmt.Errorf("output format %q: want one of %s", f, strings.Join(OutputFormats, ", "))
}

// Table is rows of cells under headers. Style, when set, styles a cell on a
// terminal (e.g. a lifecycle state in its colour).
type Table struct {
	Headers []string
	Rows    [][]string
	Style   func(row, col int, value string) lipgloss.Style
}

// Render writes the table: styled with borders on a colour terminal, aligned
// without escape codes in "table" mode otherwise, tab-separated in "text".
func (s *IO) RenderTable(t Table, format string) error {
	if format == FormatText {
		var b strings.Builder
		for _, r := range t.Rows {
			b.WriteString(strings.Join(r, "\t"))
			b.WriteByte('\n')
		}
		_, err := io.WriteString(s.Out, b.String())
		return err
	}
	color := s.ColorEnabled()
	r := lipgloss.NewRenderer(s.Out)
	if !color {
		r.SetColorProfile(termenv.Ascii)
	}
	tbl := table.New().Headers(t.Headers...).Rows(t.Rows...)
	header := r.NewStyle().Bold(true).Padding(0, 1)
	cell := r.NewStyle().Padding(0, 1)
	if color {
		tbl = tbl.Border(lipgloss.RoundedBorder()).BorderStyle(r.NewStyle().Foreground(lipgloss.Color("8")))
	} else {
		tbl = tbl.Border(lipgloss.HiddenBorder()).BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).BorderColumn(false).BorderHeader(false)
	}
	tbl = tbl.StyleFunc(func(row, col int) lipgloss.Style {
		if row == table.HeaderRow {
			return header
		}
		st := cell
		if color && t.Style != nil && row >= 0 && row < len(t.Rows) && col < len(t.Rows[row]) {
			st = t.Style(row, col, t.Rows[row][col]).Inherit(cell)
		}
		return st
	})
	out := tbl.Render()
	if !color {
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(l, " ")
		}
		out = strings.Join(lines, "\n")
	}
	_, err := fmt.Fprintln(s.Out, out)
	return err
}

// PrintJSON writes v as stable, 2-space indented JSON and a newline.
func (s *IO) PrintJSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
