package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

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

// OutputFormatCompletions are the values of -o with a description, for
// shell completion (cobra shows the text after the tab).
var OutputFormatCompletions = []string{
	FormatTable + "\taligned columns (the default on a terminal)",
	FormatText + "\ttab-separated, no header (the default when piped)",
	FormatJSON + "\tstable indented JSON for scripts",
}

// OutputFlagUsage is the help text of -o/--output, the same on every command.
const OutputFlagUsage = "output format: table, text or json (default table on a terminal, text when piped)"

// ResolveFormat turns the -o value into a concrete format: "" means a
// table on a terminal and text when piped. Letter case is ignored.
func (s *IO) ResolveFormat(f string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(f)) {
	case "":
		if s.IsStdoutTTY() {
			return FormatTable, nil
		}
		return FormatText, nil
	case FormatTable:
		return FormatTable, nil
	case FormatText:
		return FormatText, nil
	case FormatJSON:
		return FormatJSON, nil
	}
	return "", fmt.Errorf("output format %q: want one of %s", f, strings.Join(OutputFormats, ", "))
}

// Table is rows of cells under headers. Style, when set, styles a cell on a
// colour terminal (e.g. a lifecycle state in its colour); it is never
// called otherwise, so plain output cannot carry escape codes.
type Table struct {
	Headers []string
	Rows    [][]string
	Style   func(row, col int, value string) lipgloss.Style
}

// RenderTable writes t to stdout. "text" is tab-separated rows without a
// header, for cut and awk. "table" is a lipgloss table with rounded borders
// and styled cells when colour is enabled (see ColorEnabled) and the
// terminal is wide enough (else the same colours without borders), and
// otherwise columns aligned with spaces and no escape codes, as gh prints
// them.
func (s *IO) RenderTable(t Table, format string) error {
	var out string
	switch {
	case format == FormatText:
		out = renderText(t)
	case s.ColorEnabled():
		out = s.renderStyled(t)
	default:
		out = renderAligned(t, nil)
	}
	_, err := io.WriteString(s.Out, out)
	return err
}

// cellText keeps one cell on one line and in one column: a tab or newline
// inside a value would otherwise break every row after it. The text format
// (for scripts) keeps every other byte as it is.
func cellText(v string) string {
	if !strings.ContainsAny(v, "\t\r\n") {
		return v
	}
	return strings.NewReplacer("\t", " ", "\r\n", " ", "\r", " ", "\n", " ").Replace(v)
}

// cellTerm is cellText for the formats a terminal shows: control
// characters (an escape sequence in a $USER the history recorded, a
// bidirectional override) are shown escaped, never sent raw.
func cellTerm(v string) string {
	plain := true
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && !unicode.IsPrint(r)) {
			plain = false
			break
		}
	}
	if plain {
		return v
	}
	var b strings.Builder
	for _, r := range v {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && !unicode.IsPrint(r)) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func renderText(t Table) string {
	var b strings.Builder
	for _, r := range t.Rows {
		for i, c := range r {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(cellText(c))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// columnGap separates aligned columns.
const columnGap = "  "

// renderAligned lines columns up with spaces, no borders. paint, when not
// nil, styles a cell's text after the padding is measured (row -1 is the
// header), so escape codes never disturb the alignment.
func renderAligned(t Table, paint func(row, col int, text string) string) string {
	rows := make([][]string, 0, len(t.Rows)+1)
	first := 0
	if len(t.Headers) > 0 {
		rows = append(rows, t.Headers)
		first = -1
	}
	rows = append(rows, t.Rows...)
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], lipgloss.Width(cellTerm(cellText(c))))
		}
	}
	var b strings.Builder
	for ri, r := range rows {
		var line strings.Builder
		pad := ""
		for i, c := range r {
			c = cellTerm(cellText(c))
			line.WriteString(pad)
			if paint != nil {
				line.WriteString(paint(ri+first, i, c))
			} else {
				line.WriteString(c)
			}
			pad = strings.Repeat(" ", widths[i]-lipgloss.Width(c)) + columnGap
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *IO) renderStyled(t Table) string {
	r := lipgloss.NewRenderer(s.Out)
	// The colour decision is ours (ColorEnabled); lipgloss's own detection
	// would turn colour off for a writer that is not an *os.File and read
	// NO_COLOR differently. Every colour keyctl uses is one of the 16 ANSI
	// colours, so the ANSI profile loses nothing.
	r.SetColorProfile(termenv.ANSI)
	header := r.NewStyle().Bold(true)
	cell := r.NewStyle()
	rows := make([][]string, len(t.Rows))
	for i, row := range t.Rows {
		rows[i] = make([]string, len(row))
		for j, c := range row {
			rows[i][j] = cellTerm(cellText(c))
		}
	}
	styleOf := func(row, col int) lipgloss.Style {
		if row == table.HeaderRow {
			return header
		}
		if t.Style != nil && row >= 0 && row < len(rows) && col < len(rows[row]) {
			// cell first: its renderer (ours) does the rendering; Inherit
			// copies the colours and attributes over.
			return cell.Inherit(t.Style(row, col, rows[row][col]))
		}
		return cell
	}
	out := table.New().
		Headers(t.Headers...).
		Rows(rows...).
		Border(lipgloss.RoundedBorder()).
		BorderStyle(r.NewStyle().Foreground(lipgloss.Color("8"))).
		StyleFunc(func(row, col int) lipgloss.Style { return styleOf(row, col).Padding(0, 1) }).
		Render() + "\n"
	if w := s.TerminalWidth(); w > 0 && lipgloss.Width(out) > w {
		// Too wide for the terminal with borders: drop them rather than
		// wrap cells, so a kid stays on one line and can be copied.
		out = renderAligned(Table{Headers: t.Headers, Rows: rows}, func(row, col int, text string) string {
			st := styleOf(row, col)
			if row == -1 {
				st = header
			}
			return st.Render(text)
		})
	}
	return out
}

// PrintJSON writes v as stable, 2-space indented JSON and a newline, with
// <, > and & left as they are (tokens and URLs stay readable).
func (s *IO) PrintJSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
