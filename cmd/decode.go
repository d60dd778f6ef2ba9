package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/jwt"
)

type decodeOptions struct {
	IO     *ui.IO
	Now    func() time.Time
	Args   []string
	Output string
}

func newDecodeCmd(f *Factory) *cobra.Command {
	o := &decodeOptions{IO: f.IO, Now: f.Now}
	c := &cobra.Command{
		Use:   "decode [TOKEN | -]",
		Short: "Show a token's header and claims without verifying it",
		Long: `Show what a JWT says, without checking whether it is genuine: for debugging.

Nothing is verified, not the signature, not the expiry; stderr says so every
time. Use "keyctl verify" to trust a token.

The token is the argument, or stdin with "-" (or when stdin is not a
terminal). On a terminal each header member and claim gets a row, with exp,
iat and nbf shown as dates relative to now; -o text gives the same rows
tab-separated (times in RFC 3339), -o json one object with "header",
"claims" and "problems". Problems are what "keyctl verify" would refuse in
the token's form (padding, duplicate members, alg none...); they are shown as
warnings and the token is still decoded.`,
		Example: `  keyctl decode "$TOKEN"
  pbpaste | keyctl decode -
  keyctl decode -o json "$TOKEN" | jq .claims.role`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &UsageError{Err: fmt.Errorf("decode takes one token (got %d arguments)", len(args))}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Args = args
			return runDecode(o)
		},
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "", ui.OutputFlagUsage)
	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
	return c
}

func runDecode(o *decodeOptions) error {
	format, err := o.IO.ResolveFormat(o.Output)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("-o: %w", err)}
	}
	tok, err := readTokenArg(o.IO, o.Args, jwt.MaxDecodeBytes)
	if err != nil {
		return err
	}
	u, err := jwt.DecodeUnverified(string(tok))
	if err != nil {
		return withHint(fmt.Errorf("cannot decode the token: %w", err),
			"a JWT is three base64url parts joined by dots: header.claims.signature")
	}
	o.IO.Warnf("nothing was verified: this is what the token says, not whether it is genuine")
	for _, p := range u.Problems {
		o.IO.Warnf("%s", displayText(p))
	}
	if format == ui.FormatJSON {
		problems := u.Problems
		if problems == nil {
			problems = []string{}
		}
		// As ui.PrintJSON writes it, with the strings' unprintable runes
		// escaped: anyone can hand a token to decode.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(decodedJSON{Verified: false, Header: u.Header, Claims: u.Claims, Problems: problems}); err != nil {
			return err
		}
		_, err := o.IO.Out.Write(escapeJSONText(buf.Bytes()))
		return err
	}
	// Every cell is a token's text: escape what a terminal would obey.
	return o.IO.RenderTable(displayTable(decodedTable(u, format, o.Now())), format)
}

// decodedJSON is decode's -o json output; "verified": false comes first so
// nobody mistakes it for the output of verify.
type decodedJSON struct {
	Verified bool           `json:"verified"`
	Header   map[string]any `json:"header"`
	Claims   map[string]any `json:"claims"`
	Problems []string       `json:"problems"`
}

// timeClaims are the NumericDate claims shown as dates.
var timeClaims = []string{"exp", "iat", "nbf", "auth_time"}

// decodedTable lists every header member and claim, sorted by name within
// each part, values as compact JSON (strings bare).
func decodedTable(u *jwt.Unverified, format string, now time.Time) ui.Table {
	var rows [][]string
	add := func(part string, m map[string]any) {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			v := displayValue(m[k])
			if part == "claims" && slices.Contains(timeClaims, k) {
				if t, ok := numericTime(m[k]); ok {
					if format == ui.FormatTable {
						v += " (" + t.UTC().Format(time.RFC3339) + ", " + ui.Relative(t, now) + ")"
					} else {
						v = t.UTC().Format(time.RFC3339)
					}
				}
			}
			rows = append(rows, []string{part, k, v})
		}
	}
	add("header", u.Header)
	add("claims", u.Claims)
	sig := fmt.Sprintf("%d bytes, not checked", len(u.Signature))
	rows = append(rows, []string{"signature", "-", sig})
	return ui.Table{
		Headers: []string{"PART", "NAME", "VALUE"},
		Rows:    rows,
		Style: func(row, col int, value string) lipgloss.Style {
			st := lipgloss.NewStyle()
			if col == 0 {
				return st.Faint(true)
			}
			if rows[row][0] == "signature" && col == 2 {
				return st.Foreground(lipgloss.Color("3"))
			}
			return st
		},
	}
}

// displayValue shows a string as itself and anything else as compact JSON.
func displayValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// numericTime reads a NumericDate decoded as json.Number.
func numericTime(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) > 1e12 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
