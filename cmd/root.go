// Package cmd is keyctl's cobra command tree. It stays thin: parsing flags,
// choosing streams and exit codes. The work is done in pkg/ and internal/.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/internal/ui"
)

// Exit codes. They are part of keyctl's interface: scripts depend on them.
const (
	ExitOK       = 0 // success
	ExitFailure  = 1 // could not do the job (bad input file, I/O, network)
	ExitUsage    = 2 // the command line was wrong
	ExitRejected = 3 // a token failed verification
	ExitBusy     = 4 // the keyring is locked by another keyctl process
)

// Factory carries what commands share. Fields are set by Main; tests may
// replace them.
type Factory struct {
	IO  *ui.IO
	Now func() time.Time

	// ConfigPath is --config; Config is loaded once, lazily.
	ConfigPath string
	config     *config.Config

	// KeyringFlag is --keyring on the commands that use the keyring;
	// Open the other flags that say how to open it.
	KeyringFlag string
	Open        keyringOpen

	// Version information, set at build time.
	Version string
}

// Config returns the loaded configuration.
func (f *Factory) Config() (*config.Config, error) {
	if f.config == nil {
		c, err := config.Load(f.ConfigPath, f.IO.Env)
		if err != nil {
			return nil, err
		}
		f.config = c
	}
	return f.config, nil
}

// Main runs keyctl with args (without the program name) and returns the
// exit code. It is the only place that decides one.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := &Factory{
		IO:      &ui.IO{In: stdin, Out: stdout, ErrOut: stderr, Env: os.LookupEnv},
		Now:     time.Now,
		Version: Version,
	}
	return Run(context.Background(), f, args)
}

// Run executes the command tree with a prepared factory.
func Run(ctx context.Context, f *Factory, args []string) int {
	// keyctl -v and --version print what "keyctl version" prints: one
	// answer to "which version is this", whichever way it is asked.
	if len(args) == 1 && (args[0] == "-v" || args[0] == "--version") {
		args = []string{"version"}
	}
	root := newRootCmd(f, topCommand(args))
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	ran, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	if ran == nil {
		ran = root
	}
	return reportError(f.IO, ran, err)
}

type topLevel struct {
	group string
	name  string
	build func(*Factory) *cobra.Command
}

// warnEnvTypos warns about KEYCTL_* variables a typo away from one keyctl
// reads: ignored silently, KEYCTL_KEYRNG would send a key to another
// keyring than meant.
func warnEnvTypos(f *Factory) {
	for _, t := range config.EnvTypos(os.Environ()) {
		f.IO.Warnf("%s is not a keyctl variable and is ignored; did you mean %s?", t.Name, t.Meant)
	}
}

// topCommands lists the top-level commands, in the groups --help shows
// them. (A function, not a variable: config show builds the tree too.)
func topCommands() []topLevel {
	return []topLevel{
		{"keys", "gen", newGenCmd},
		{"keys", "jwk", newJWKCmd},
		{"keys", "keys", newKeysCmd},
		{"keys", "db", newDBCmd},
		{"keys", "supabase", newSupabaseCmd},
		{"verify", "jwks", newJWKSCmd},
		{"verify", "verify", newVerifyCmd},
		{"verify", "decode", newDecodeCmd},
		{"verify", "serve", newServeCmd},
		{"other", "config", newConfigCmd},
		{"other", "version", newVersionCmd},
	}
}

// topCommand returns the top-level command args name when it is one of
// ours, so that Run builds that subtree alone: a CI loop minting one token
// per process should not build every command and flag of the tree. Help,
// completion, flags before the command and typos get the whole tree.
func topCommand(args []string) string {
	if len(args) == 0 {
		return ""
	}
	for _, c := range topCommands() {
		if c.name == args[0] {
			return c.name
		}
	}
	return ""
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *Factory) *cobra.Command { return newRootCmd(f, "") }

// newRootCmd builds the tree, or only the subtree of the top-level command
// named only.
func newRootCmd(f *Factory, only string) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyctl",
		Short: "JWT signing keys: generate, rotate, mint, publish and verify",
		Long: `keyctl manages JWT signing keys the way Supabase Auth does, locally.

Generate keys as JWKs (ES256 recommended, RS256, EdDSA, HS256), keep them in a
file-backed keyring that moves them through standby, in use, previously used
and revoked, mint tokens with the key in use, publish the trusted public keys
as a JWKS and verify tokens strictly.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			if err := refuseEmptySources(c); err != nil {
				return err
			}
			warnEnvTypos(f)
			if !needsConfig(c) {
				return nil
			}
			cfg, err := f.Config()
			if err != nil {
				return err
			}
			return cfg.Apply(c)
		},
	}
	// --version is rewritten to "keyctl version" in Run. No version template: any text/template execution in the binary
	// makes the linker keep every exported method of every reachable type
	// (reflect.Value.MethodByName), which costs about 2.5 MB and start-up
	// time on every run (docs/performance.md).
	root.Version = f.Version
	root.PersistentFlags().StringVar(&f.ConfigPath, "config", "", "config file (default $XDG_CONFIG_HOME/keyctl/config.yaml)")
	root.PersistentFlags().BoolVar(&f.IO.NoColor, "no-color", false, "never style output")
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(
		&cobra.Group{ID: "keys", Title: "Keys and tokens:"},
		&cobra.Group{ID: "verify", Title: "Publishing and verifying:"},
		&cobra.Group{ID: "other", Title: "Other commands:"},
	)
	for _, c := range topCommands() {
		if only != "" && c.name != only {
			continue
		}
		sub := c.build(f)
		sub.GroupID = c.group
		root.AddCommand(sub)
	}
	if only != "" {
		// A run of one subtree never runs "completion": spare building it
		// (five commands with long help texts).
		root.CompletionOptions.DisableDefaultCmd = true
		return root
	}
	root.SetHelpCommand(newHelpCmd())
	root.SetHelpCommandGroupID("other")
	root.SetCompletionCommandGroupID("other")
	// cobra adds "completion" lazily; add it now so an unknown shell is a
	// usage error rather than a help page and exit 0.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = groupArgs
			c.RunE = groupRunE
		}
	}
	return root
}

// sourceFlags name files, URLs and addresses. Given empty (--jwks "$URL"
// with URL unset), they must not fall back to a default source: a CI check
// would then verify against the local keyring and pass.
var sourceFlags = []string{"key", "keys-file", "jwks", "keyring", "config", "passphrase-file", "claims-from", "out", "secret-file", "secret-env", "addr", "kid"}

func refuseEmptySources(c *cobra.Command) error {
	for _, name := range sourceFlags {
		fl := c.Flags().Lookup(name)
		if fl == nil || !fl.Changed || fl.Value.Type() != "string" || fl.Value.String() != "" {
			continue
		}
		return withHint(&UsageError{Err: fmt.Errorf("--%s is empty", name)},
			"give it a value, or leave --%s out (an unset shell variable gives an empty value)", name)
	}
	return nil
}

// needsConfig reports whether any flag of c reads settings: commands that
// have none skip loading the config file entirely.
func needsConfig(c *cobra.Command) bool {
	found := false
	c.Flags().VisitAll(func(fl *pflag.Flag) {
		if len(fl.Annotations[config.Annotation]) > 0 {
			found = true
		}
	})
	return found
}

// UsageError marks a command-line mistake (exit 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// HintError attaches a next step to an error.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// withHint wraps err with a hint line.
func withHint(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if safefile.Refused(err) {
		return err // a refused file's own hint says what to do
	}
	return &HintError{Err: err, Hint: fmt.Sprintf(format, args...)}
}

// ExitError carries a specific exit code; Silent means the command already
// reported everything on stderr.
type ExitError struct {
	Code   int
	Err    error
	Silent bool
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func reportError(io *ui.IO, ran *cobra.Command, err error) int {
	code := ExitFailure
	var ee *ExitError
	var ue *UsageError
	switch {
	case errors.As(err, &ee):
		code = ee.Code
		if ee.Silent {
			return code
		}
	case errors.As(err, &ue) || isCobraUsage(err):
		code = ExitUsage
	}
	msg := err.Error()
	var suggestion string
	if head, tail, ok := strings.Cut(msg, "\n\nDid you mean this?\n"); ok {
		// cobra's unknown-command error carries its suggestions, in the
		// order of the command tree; keyctl picks the nearest itself.
		msg = head
		if f := strings.Fields(tail); len(f) > 0 {
			suggestion = f[0]
		}
		if typed, ok := unknownCommandWord(head); ok && ran != nil {
			if best := nearestCommand(ran, typed); best != "" {
				suggestion = best
			}
		}
	}
	fmt.Fprintf(io.ErrOut, "keyctl: %s\n", oneLine(plainCobraError(msg)))
	if suggestion != "" {
		io.Hintf("did you mean %q?", strings.TrimSpace(ran.CommandPath()+" "+suggestion))
		return code
	}
	var he *HintError
	var hinter interface{ Hint() string }
	switch {
	case errors.As(err, &he) && he.Hint != "":
		io.Hintf("%s", he.Hint)
	case errors.As(err, &hinter) && hinter.Hint() != "":
		io.Hintf("%s", hinter.Hint())
	case code == ExitUsage:
		io.Hintf("run \"%s --help\" for usage", ran.CommandPath())
	}
	return code
}

// isCobraUsage recognises cobra's own argument errors, which it returns as
// plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "received ", "unknown flag", "unknown shorthand", "required flag", "if any flags in the group", "none of the others can be", "at least one of the flags"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// The patterns of cobra's and pflag's messages, compiled on first use: most
// runs never print an error, and regexp compilation at init time is a
// measurable share of a one-token process.
var cobraPatterns = sync.OnceValue(func() (p struct{ exclusive, oneOf, together, required, invalid *regexp.Regexp }) {
	p.exclusive = regexp.MustCompile(`^if any flags in the group \[([^\]]*)\] are set none of the others can be; \[([^\]]*)\] were all set$`)
	p.oneOf = regexp.MustCompile(`^at least one of the flags in the group \[([^\]]*)\] is required$`)
	p.together = regexp.MustCompile(`^if any flags in the group \[([^\]]*)\] are set they must all be set; missing \[([^\]]*)\]$`)
	p.required = regexp.MustCompile(`^required flag\(s\) (.*) not set$`)
	p.invalid = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: `)
	return p
})

// dashed turns cobra's "[key keys-file]" into "--key, --keys-file".
func dashed(list string, sep string) string {
	names := strings.Fields(strings.ReplaceAll(list, `"`, ""))
	for i, n := range names {
		names[i] = "--" + n
	}
	return strings.Join(names, sep)
}

// plainCobraError rewrites cobra's flag-group messages in keyctl's words.
func plainCobraError(msg string) string {
	re := cobraPatterns()
	if m := re.exclusive.FindStringSubmatch(msg); m != nil {
		return dashed(m[2], " and ") + " cannot be used together"
	}
	if m := re.oneOf.FindStringSubmatch(msg); m != nil {
		return "one of " + dashed(m[1], ", ") + " is required"
	}
	if m := re.together.FindStringSubmatch(msg); m != nil {
		return dashed(m[1], ", ") + " go together; missing " + dashed(m[2], ", ")
	}
	if m := re.required.FindStringSubmatch(msg); m != nil {
		names := dashed(m[1], ", ")
		if strings.Contains(names, ",") {
			return names + " are required"
		}
		return names + " is required"
	}
	return msg
}

// flagError turns pflag's parse errors, which quote Go internals
// ("strconv.ParseInt: parsing ..."), into one plain usage error.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if m := cobraPatterns().invalid.FindStringSubmatch(msg); m != nil {
		value, flag := m[1], m[2]
		want := "a valid value"
		name := strings.TrimLeft(flag, "-")
		if i := strings.Index(name, ", --"); i >= 0 { // "-o, --output"
			name = name[i+4:]
		}
		if fl := c.Flags().Lookup(name); fl != nil {
			switch fl.Value.Type() {
			case "duration":
				want = "a duration such as 30s, 15m or 1h30m"
			case "int", "int64", "int32", "uint", "uint64":
				want = "a whole number"
			case "bool":
				want = "true or false"
			case "float64", "float32":
				want = "a number"
			}
			flag = "--" + fl.Name
		}
		return &UsageError{Err: fmt.Errorf("%s: %q is not %s", flag, value, want)}
	}
	return &UsageError{Err: err}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.Join(strings.Fields(s), " ")
	}
	return s
}

// noArgs refuses positional arguments with a usage error naming the command;
// suggest may offer a hint for the first argument.
func noArgs(suggest func(arg string) string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		err := &UsageError{Err: fmt.Errorf("%s takes no arguments (got %q)", strings.TrimPrefix(c.CommandPath(), "keyctl "), args[0])}
		if suggest != nil {
			if h := suggest(args[0]); h != "" {
				return withHint(err, "%s", h)
			}
		}
		return withHint(err, "see \"%s --help\"", c.CommandPath())
	}
}

// newHelpCmd replaces cobra's help command, which prints the usage and
// exits 0 for a topic it does not know.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help provides help for any command in the application.\nSimply type keyctl help [path to command] for full details.",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			target, _, err := c.Root().Find(args)
			if err != nil || target == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name()+"\t"+sub.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || target == nil || len(rest) > 0 {
				topic := strings.Join(args, " ")
				uerr := &UsageError{Err: fmt.Errorf("unknown help topic %q", topic)}
				parent := c.Root()
				if target != nil {
					parent = target
				}
				parent.SuggestionsMinimumDistance = 2
				if len(args) > 0 {
					if s := parent.SuggestionsFor(args[len(args)-1]); len(s) > 0 {
						return withHint(uerr, "did you mean \"keyctl help %s\"?", strings.TrimSpace(strings.TrimPrefix(parent.CommandPath()+" "+s[0], "keyctl ")))
					}
				}
				return withHint(uerr, "run \"keyctl --help\" to see every command")
			}
			target.InitDefaultHelpFlag()
			target.InitDefaultVersionFlag()
			return target.Help()
		},
	}
}

// unknownCommandWord returns the word of cobra's `unknown command "X" for
// "Y"` error.
func unknownCommandWord(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, `unknown command "`)
	if !ok {
		return "", false
	}
	word, _, ok := strings.Cut(rest, `"`)
	return word, ok
}

// nearestCommand picks the subcommand of c nearest to typed: a command the
// word is a prefix of (or that is a prefix of the word) first, then the
// smallest edit distance, then the shorter name. "key" suggests "keys",
// not "gen".
func nearestCommand(c *cobra.Command, typed string) string {
	typed = strings.ToLower(typed)
	best, bestScore := "", 1<<30
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		for _, name := range append([]string{sub.Name()}, sub.Aliases...) {
			d := editDistance(typed, strings.ToLower(name))
			score := d * 10
			if strings.HasPrefix(name, typed) || strings.HasPrefix(typed, name) {
				score = d
			}
			if d > 2 && score == d*10 {
				continue
			}
			if score < bestScore || (score == bestScore && len(sub.Name()) < len(best)) {
				best, bestScore = sub.Name(), score
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
