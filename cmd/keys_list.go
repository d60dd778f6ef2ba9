package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// keyJSON is one key in `keys list -o json` and `keys show -o json`.
type keyJSON struct {
	KID            string      `json:"kid"`
	Alg            string      `json:"alg"`
	State          string      `json:"state"`
	Legacy         bool        `json:"legacy"`
	Origin         string      `json:"origin"`
	CreatedAt      string      `json:"created_at"`
	UpdatedAt      string      `json:"updated_at"`
	RotatedOutAt   string      `json:"rotated_out_at,omitempty"`
	SafeToRevokeAt string      `json:"safe_to_revoke_at,omitempty"`
	PublishedAt    string      `json:"published_at,omitempty"`
	SafeToRotateAt string      `json:"safe_to_rotate_at,omitempty"`
	CacheWindow    string      `json:"jwks_cache_window,omitempty"`
	Thumbprint     string      `json:"thumbprint,omitempty"`
	Encrypted      *bool       `json:"encrypted,omitempty"`
	History        []eventJSON `json:"history,omitempty"`
}

// eventJSON is one history event in JSON.
type eventJSON struct {
	At     string `json:"at"`
	Action string `json:"action"`
	KID    string `json:"kid,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	By     string `json:"by,omitempty"`
	Note   string `json:"note,omitempty"`
}

func toKeyJSON(e *keyring.Entry, lifetime time.Duration) keyJSON {
	j := keyJSON{
		KID: e.KID, Alg: string(e.Alg), State: string(e.State), Legacy: e.Legacy, Origin: string(e.Origin),
		CreatedAt: rfc3339(e.Created), UpdatedAt: rfc3339(e.Updated), RotatedOutAt: rfc3339(e.RotatedOut),
	}
	if safe, ok := safeToRevoke(e, lifetime); ok {
		j.SafeToRevokeAt = rfc3339(safe)
	}
	return j
}

// safeToRevoke is when a trusted key that once signed may be revoked.
func safeToRevoke(e *keyring.Entry, lifetime time.Duration) (time.Time, bool) {
	if e.State != keyring.PreviouslyUsed && e.State != keyring.Standby {
		return time.Time{}, false
	}
	return keyring.SafeToRevoke(e, e.WaitLifetime(lifetime))
}

func toEventJSON(ev keyring.Event) eventJSON {
	return eventJSON{At: rfc3339(ev.At), Action: string(ev.Action), KID: ev.KID, From: string(ev.From), To: string(ev.To), By: ev.By, Note: ev.Note}
}

// algLabel marks the legacy secret in tables.
func algLabel(e *keyring.Entry) string {
	if e.Legacy {
		return string(e.Alg) + " (legacy)"
	}
	return string(e.Alg)
}

// stateCell shows a state as people read it in a table, as scripts read it
// otherwise.
func stateCell(s keyring.State, format string) string {
	if format == ui.FormatTable {
		return ui.StateLabel(string(s))
	}
	return string(s)
}

// --- keys list ---

type keysListOptions struct {
	*keysCommon
	Output string
}

func newKeysListCmd(kc *keysCommon) *cobra.Command {
	o := &keysListOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the keyring's keys with their states",
		Long: `List every key of the keyring, deleted ones included: kid, algorithm,
state, when it was created and when its state last changed.

On a terminal: a table with states in colour and times in words. Piped:
tab-separated lines (kid, algorithm, state, created, changed; RFC 3339
times, states as in_use). -o json: an array with every field, including
rotated_out_at and safe_to_revoke_at. Needs no passphrase.`,
		Example: `  keyctl keys list
  keyctl keys list -o json | jq -r '.[] | select(.state == "in_use") | .kid'`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runKeysList(o) },
	}
	addKeyringFlag(c, kc.F)
	c.Flags().StringVarP(&o.Output, "output", "o", "", ui.OutputFlagUsage)
	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
	return c
}

func runKeysList(o *keysListOptions) error {
	format, err := o.IO.ResolveFormat(o.Output)
	if err != nil {
		return &UsageError{Err: err}
	}
	f, err := o.load(false)
	if err != nil {
		return err
	}
	kr := f.Keyring
	if format == ui.FormatJSON {
		out := make([]keyJSON, len(kr.Keys))
		for i, e := range kr.Keys {
			out[i] = toKeyJSON(e, kr.Lifetime())
		}
		return o.IO.PrintJSON(out)
	}
	if len(kr.Keys) == 0 {
		o.IO.Infof("the keyring %s holds no keys", f.Path)
		o.IO.Hintf("create one: keyctl keys create")
		return nil
	}
	now := o.Now()
	t := ui.Table{Headers: []string{"KID", "ALGORITHM", "STATE", "CREATED", "CHANGED"}}
	for _, e := range kr.Keys {
		t.Rows = append(t.Rows, []string{e.KID, algLabel(e), stateCell(e.State, format), fmtTime(e.Created, now, format), fmtTime(e.Updated, now, format)})
	}
	t.Style = func(row, col int, value string) lipgloss.Style {
		if col == 2 {
			return ui.StateStyle(string(kr.Keys[row].State))
		}
		return lipgloss.NewStyle()
	}
	return o.IO.RenderTable(t, format)
}

// --- keys show ---

type keysShowOptions struct {
	*keysCommon
	KID    string
	Output string
}

func newKeysShowCmd(kc *keysCommon) *cobra.Command {
	o := &keysShowOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "show KID",
		Short: "Show one key: state, times, thumbprint and history",
		Long: `Show one key of the keyring: algorithm, state, origin, when it was created,
last changed and rotated out, since when it is published, when rotating to
it (a standby key, while another key is in use: after the keyring's JWKS
cache window) and revoking it become safe, its RFC 7638 thumbprint (kept by
a deleted key's tombstone; never shown for a shared secret, where it is a
fast hash of the secret), and its history. Needs no passphrase.`,
		Example:           `  keyctl keys show 5b0c3c9e-3f5e-4a53-9d3c-0d5d0a9b2f11 -o json`,
		Args:              oneKID,
		ValidArgsFunction: completeKIDs(kc),
		RunE: func(c *cobra.Command, args []string) error {
			o.KID = args[0]
			return runKeysShow(o)
		},
	}
	addKeyringFlag(c, kc.F)
	c.Flags().StringVarP(&o.Output, "output", "o", "", ui.OutputFlagUsage)
	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
	return c
}

func runKeysShow(o *keysShowOptions) error {
	format, err := o.IO.ResolveFormat(o.Output)
	if err != nil {
		return &UsageError{Err: err}
	}
	f, err := o.load(true)
	if err != nil {
		return err
	}
	kr := f.Keyring
	e, err := kr.Lookup(o.KID)
	if err != nil {
		return keyringError(f.Path, err)
	}
	j := toKeyJSON(e, kr.Lifetime())
	var safeRotate time.Time
	if e.State.Trusted() {
		j.PublishedAt = rfc3339(e.PublishedSince())
	}
	if cur, err := kr.SigningKey(); err == nil && e.State == keyring.Standby && cur != e {
		safeRotate = keyring.SafeToRotate(e, kr.CacheWindow())
		j.SafeToRotateAt = rfc3339(safeRotate)
		j.CacheWindow = keyring.ShortDuration(kr.CacheWindow())
	}
	// A deleted key's tombstone keeps its thumbprint. A shared secret's
	// thumbprint is a fast hash of the secret and is never shown (nor its
	// tombstone's check value, which is not an identifier).
	if !e.Symmetric() {
		j.Thumbprint = e.Thumbprint
	}
	if e.Material != nil && !e.Symmetric() {
		pub, err := e.Material.Public()
		if err != nil {
			return keyringError(f.Path, fmt.Errorf("key %q: %w", e.KID, err))
		}
		if j.Thumbprint, err = pub.Thumbprint(); err != nil {
			return err
		}
	}
	enc := f.Encrypted
	j.Encrypted = &enc
	for _, ev := range kr.History {
		if ev.KID == e.KID {
			j.History = append(j.History, toEventJSON(ev))
		}
	}
	if format == ui.FormatJSON {
		return o.IO.PrintJSON(j)
	}
	now := o.Now()
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		if format == ui.FormatTable {
			return fmt.Sprintf("%s (%s)", rfc3339(t), ui.Relative(t, now))
		}
		return rfc3339(t)
	}
	type field struct{ name, value string }
	fields := []field{
		{"kid", e.KID},
		{"algorithm", algLabel(e)},
		{"state", stateCell(e.State, format)},
		{"origin", string(e.Origin)},
		{"created", at(e.Created)},
		{"changed", at(e.Updated)},
		{"rotated out", at(e.RotatedOut)},
	}
	if j.PublishedAt != "" {
		fields = append(fields, field{"published", at(e.PublishedSince())})
	}
	if !safeRotate.IsZero() {
		fields = append(fields, field{"safe to rotate", at(safeRotate)}, field{"jwks cache", j.CacheWindow})
	}
	if safe, ok := safeToRevoke(e, kr.Lifetime()); ok {
		fields = append(fields, field{"safe to revoke", at(safe)})
	}
	if j.Thumbprint != "" {
		fields = append(fields, field{"thumbprint", j.Thumbprint})
	}
	fields = append(fields, field{"encrypted", map[bool]string{true: "yes", false: "no"}[enc]})
	if format == ui.FormatText {
		// One tab-separated "field value" line each, history lines as
		// "history TIME EVENT", for cut and awk like every other text
		// output (RenderTable keeps a tab or newline inside a value, such
		// as a $USER in the history, from making a line of its own).
		t := ui.Table{}
		for _, fl := range fields {
			t.Rows = append(t.Rows, []string{fl.name, fl.value})
		}
		for _, ev := range kr.History {
			if ev.KID == e.KID {
				t.Rows = append(t.Rows, []string{"history", at(ev.At), describeEvent(ev)})
			}
		}
		return o.IO.RenderTable(t, format)
	}
	// On a terminal, aligned "field: value" lines and the history indented
	// under them, control characters shown escaped.
	var b strings.Builder
	for _, fl := range fields {
		fmt.Fprintf(&b, "%-15s %s\n", fl.name+":", displayText(fl.value))
	}
	if len(j.History) > 0 {
		b.WriteString("history:\n")
	}
	for _, ev := range kr.History {
		if ev.KID == e.KID {
			fmt.Fprintf(&b, "  %s  %s\n", at(ev.At), displayText(describeEvent(ev)))
		}
	}
	_, err = fmt.Fprint(o.IO.Out, b.String())
	return err
}

// describeEvent says what an event did, in a few words.
func describeEvent(ev keyring.Event) string {
	var s string
	switch {
	case ev.From == "" && ev.To != "":
		s = fmt.Sprintf("%s -> %s", ev.Action, ev.To.Label())
	case ev.To != "":
		s = fmt.Sprintf("%s: %s -> %s", ev.Action, ev.From.Label(), ev.To.Label())
	default:
		s = string(ev.Action)
	}
	if ev.By != "" {
		s += " by " + ev.By
	}
	if ev.Note != "" {
		s += " (" + ev.Note + ")"
	}
	return s
}

// --- keys history ---

type keysHistoryOptions struct {
	*keysCommon
	KID    string
	Output string
}

func newKeysHistoryCmd(kc *keysCommon) *cobra.Command {
	o := &keysHistoryOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "history [KID]",
		Short: "List every change to the keyring: when, what, from, to, by whom",
		Long: `List the keyring's history, oldest first: every key created, imported,
rotated, revoked, moved to standby or deleted, and every setting changed,
with the time, the states before and after, and who did it (user@host).
With KID, only that key's events.`,
		Example: `  keyctl keys history
  keyctl keys history -o json | jq -r '.[] | select(.action == "revoke") | .kid'`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &UsageError{Err: fmt.Errorf("keys history takes at most one kid (got %d arguments)", len(args))}
			}
			return nil
		},
		ValidArgsFunction: completeKIDs(kc),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.KID = args[0]
			}
			return runKeysHistory(o)
		},
	}
	addKeyringFlag(c, kc.F)
	c.Flags().StringVarP(&o.Output, "output", "o", "", ui.OutputFlagUsage)
	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
	return c
}

func runKeysHistory(o *keysHistoryOptions) error {
	format, err := o.IO.ResolveFormat(o.Output)
	if err != nil {
		return &UsageError{Err: err}
	}
	f, err := o.load(true)
	if err != nil {
		return err
	}
	if o.KID != "" {
		if _, err := f.Keyring.Lookup(o.KID); err != nil {
			return keyringError(f.Path, err)
		}
	}
	var events []keyring.Event
	for _, ev := range f.Keyring.History {
		if o.KID == "" || ev.KID == o.KID {
			events = append(events, ev)
		}
	}
	if format == ui.FormatJSON {
		out := make([]eventJSON, len(events))
		for i, ev := range events {
			out[i] = toEventJSON(ev)
		}
		return o.IO.PrintJSON(out)
	}
	now := o.Now()
	t := ui.Table{Headers: []string{"WHEN", "ACTION", "KID", "FROM", "TO", "BY", "NOTE"}}
	dash := func(s string) string {
		if s == "" && format == ui.FormatTable {
			return "-"
		}
		return s
	}
	for _, ev := range events {
		t.Rows = append(t.Rows, []string{
			fmtTime(ev.At, now, format), string(ev.Action), dash(ev.KID),
			dash(stateCell(ev.From, format)), dash(stateCell(ev.To, format)), dash(ev.By), dash(ev.Note),
		})
	}
	t.Style = func(row, col int, value string) lipgloss.Style {
		switch col {
		case 3:
			return ui.StateStyle(string(events[row].From))
		case 4:
			return ui.StateStyle(string(events[row].To))
		}
		return lipgloss.NewStyle()
	}
	return o.IO.RenderTable(t, format)
}
