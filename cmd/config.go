package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/keyring"
)

func newConfigCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Show the effective settings and where each comes from",
		Long: `Settings come from, highest precedence first: command-line flags, KEYCTL_*
environment variables, the config file, and built-in defaults.

The config file is YAML, one "setting: value" per line, read from --config,
else KEYCTL_CONFIG, else $XDG_CONFIG_HOME/keyctl/config.yaml (~/.config/keyctl
on Linux when XDG_CONFIG_HOME is unset). A missing default file is fine; a
file named with --config or KEYCTL_CONFIG must exist. In the file, "~/" is
your home directory and relative paths are relative to the file.

Settings, with their environment variable and flag (docs/configuration.md
says what each does):

` + settingsHelp(),
		Args: groupArgs,
		RunE: groupRunE,
		// Replaces the root's hook for the config commands, to give a bad
		// file or variable its hint (see configError).
		PersistentPreRunE: func(c *cobra.Command, args []string) error {
			warnEnvTypos(f)
			if !needsConfig(c) {
				return nil
			}
			cfg, err := f.Config()
			if err != nil {
				return configError(err)
			}
			return configError(cfg.Apply(c))
		},
	}
	c.AddCommand(newConfigShowCmd(f), newConfigPathCmd(f))
	return c
}

// settingsHelp lists the settings for help text, from the one table in
// internal/config so the help cannot drift from the code.
func settingsHelp() string {
	var b strings.Builder
	for _, s := range config.Settings {
		// Indented four spaces: a code block in the generated markdown and
		// man pages, so the columns survive.
		fmt.Fprintf(&b, "    %-19s %-26s --%s\n", s.Key, s.Env(), s.Flag)
	}
	return strings.TrimRight(b.String(), "\n")
}

// groupArgs refuses an unknown subcommand of a command group with a usage
// error and a suggestion, where cobra would print the help and exit 0.
func groupArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	err := &UsageError{Err: fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		return withHint(err, "did you mean %q?", c.CommandPath()+" "+s[0])
	}
	return withHint(err, "see \"%s --help\" for its commands", c.CommandPath())
}

// groupRunE shows a command group's help when it is run alone.
func groupRunE(c *cobra.Command, args []string) error { return c.Help() }

type configShowOptions struct {
	IO      *ui.IO
	Factory *Factory
	Output  string
	// Flags are the command's flags, to tell which settings were given on
	// the command line.
	Flags *pflag.FlagSet
	// Defaults are the defaults of the commands that use each setting.
	Defaults func() map[string]string
}

func newConfigShowCmd(f *Factory) *cobra.Command {
	o := &configShowOptions{IO: f.IO, Factory: f}
	c := &cobra.Command{
		Use:   "show",
		Short: "Print every setting with its value and source (flag, env, config file, default)",
		Long: `Print every setting keyctl reads, its effective value, and where the value
comes from: a flag, an environment variable, the config file (with its line)
or the default of the commands that use it.

Each setting's flag may be given here too, to see how a command line would
combine with the environment and the file.

A table on a terminal, tab-separated text when piped (setting, value, source,
origin), JSON with -o json.`,
		Example: `  keyctl config show
  KEYCTL_VALID_FOR=5m keyctl config show -o json
  keyctl config show --config ./ci-config.yaml --algorithm RS256`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			return runConfigShow(o)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&o.Output, "output", "o", "", ui.OutputFlagUsage)
	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
	addKeyringFlag(c, f)
	for _, s := range config.Settings {
		if fl.Lookup(s.Flag) != nil {
			continue // --keyring, above
		}
		fl.String(s.Flag, "", s.Help)
		config.Bind(fl, s.Flag, s.Key)
	}
	_ = c.RegisterFlagCompletionFunc("algorithm", completeAlgorithms)
	o.Flags = fl
	o.Defaults = func() map[string]string {
		// Run builds only the config subtree; the defaults live in the
		// whole tree. A copy of the factory keeps the flags of this run
		// (bound to f's fields) from being reset by a second tree.
		io := *f.IO
		return settingDefaults(f, NewRootCmd(&Factory{IO: &io, Now: f.Now, Version: f.Version}))
	}
	return c
}

// settingDefaults finds each setting's default in the flags bound to it
// anywhere in the command tree, so `config show` reports what commands
// really use. The keyring's default path comes from the keyring code.
func settingDefaults(f *Factory, root *cobra.Command) map[string]string {
	defs := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		visit := func(fl *pflag.Flag) {
			keys := fl.Annotations[config.Annotation]
			// A zero default means "not set here": keys revoke's
			// --max-token-lifetime 0 defers to the keyring's own value.
			if len(keys) == 0 || fl.DefValue == "" || fl.DefValue == "0s" || fl.DefValue == "0" || defs[keys[0]] != "" {
				return
			}
			defs[keys[0]] = fl.DefValue
		}
		c.LocalFlags().VisitAll(visit)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if defs["keyring"] == "" {
		defs["keyring"] = defaultKeyringPath(f)
	}
	return defs
}

// defaultKeyringPath is where the keyring lives when nothing says
// otherwise. It asks the keyring code with no --keyring, KEYCTL_KEYRING or
// config file value in play.
func defaultKeyringPath(f *Factory) string {
	p, err := defaultKeyringFile(f)
	if err != nil {
		// No home and no XDG_CONFIG_HOME: no default the other commands
		// would use either (defaultNotes says so).
		return ""
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home := envValue(f, "HOME"); home != "" {
			p = filepath.Join(home, rest)
		}
	}
	return p
}

// defaultNotes say, in the table, what applies when a setting has no
// default of its own.
var defaultNotes = map[string]string{
	"keyring":            "none: $HOME and $XDG_CONFIG_HOME are unset; set KEYCTL_KEYRING or pass --keyring",
	"max_token_lifetime": "the keyring's (keys max-token-lifetime)",
}

// configShowJSON is the stable JSON form of `config show`.
type configShowJSON struct {
	ConfigFile       string              `json:"config_file"`
	ConfigFileExists bool                `json:"config_file_exists"`
	Settings         []configSettingJSON `json:"settings"`
}

type configSettingJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
	Origin string `json:"origin,omitempty"`
	Env    string `json:"env"`
	Flag   string `json:"flag"`
	Help   string `json:"help"`
}

func runConfigShow(o *configShowOptions) error {
	format, err := o.IO.ResolveFormat(o.Output)
	if err != nil {
		return withHint(&UsageError{Err: fmt.Errorf("-o: %w", err)}, "use -o table, -o text or -o json")
	}
	cfg, err := o.Factory.Config()
	if err != nil {
		return configError(err)
	}
	values := cfg.Effective(o.Flags, o.Defaults())
	for _, v := range values {
		if v.Err != nil {
			return withHint(&UsageError{Err: v.Err}, "see \"keyctl config --help\" for each setting's form")
		}
	}
	fillKeyringLifetime(o.Factory, values)
	for i, v := range values {
		// A database URI (or a mistyped one, or a key=value connection
		// string) may hold a password: never shown.
		if v.Key == "keyring" {
			values[i].Value = pgstore.Redact(v.Value)
		}
	}
	values = append(values, keyringCacheWindow(o.Factory))
	if format == ui.FormatJSON {
		out := configShowJSON{ConfigFile: cfg.Path(), ConfigFileExists: cfg.File() != ""}
		for _, v := range values {
			js := configSettingJSON{
				Key: v.Key, Value: v.Value, Source: string(v.Source), Origin: v.Origin,
				Env: v.Env(), Flag: "--" + v.Flag, Help: v.Help,
			}
			if v.Flag == "" {
				// A keyring-only setting: no variable or flag sets it.
				js.Env, js.Flag = "", ""
			}
			out.Settings = append(out.Settings, js)
		}
		return o.IO.PrintJSON(out)
	}
	t := ui.Table{Headers: []string{"SETTING", "VALUE", "SOURCE"}}
	for _, v := range values {
		src := string(v.Source)
		if format == ui.FormatTable {
			src = sourceLabel(v, cfg)
		}
		value := v.Value
		if value == "" && format == ui.FormatTable {
			value = "-"
			if note, ok := defaultNotes[v.Key]; ok && v.Source == config.SourceDefault {
				value = note
			}
		}
		row := []string{v.Key, value, src}
		if format == ui.FormatText {
			row = append(row, v.Origin)
		}
		t.Rows = append(t.Rows, row)
	}
	t.Style = func(row, col int, _ string) lipgloss.Style {
		// Defaults recede so what was set by someone stands out.
		if values[row].Source == config.SourceDefault {
			return lipgloss.NewStyle().Foreground(lipgloss.Color("8"))
		}
		return lipgloss.NewStyle()
	}
	if format == ui.FormatTable {
		switch {
		case cfg.File() != "":
			o.IO.Infof("config file: %s", cfg.File())
		case cfg.Path() != "":
			o.IO.Infof("no config file at %s (defaults apply)", cfg.Path())
		}
	}
	return o.IO.RenderTable(t, format)
}

// sourceKeyring marks a value read from the keyring file itself: the max
// token lifetime when no flag, variable or config file sets one.
const sourceKeyring config.Source = "keyring"

// fillKeyringLifetime shows the max token lifetime that applies when
// nothing sets max_token_lifetime: the keyring's own (keys
// max-token-lifetime). It reads the keyring without a lock or passphrase
// (the lifetime is not secret); a keyring that is missing or unreadable
// leaves the value unset, and config show says where it would come from.
func fillKeyringLifetime(f *Factory, values []config.Value) {
	for i, v := range values {
		if v.Key != "max_token_lifetime" || v.Source != config.SourceDefault || v.Value != "" {
			continue
		}
		s, err := openKeyring(f, "", 0)
		if err != nil {
			return
		}
		file, err := s.Load(context.Background(), false)
		if err != nil {
			return
		}
		path := s.Location()
		values[i].Value = keyring.ShortDuration(file.Keyring.Lifetime())
		values[i].Source, values[i].Origin = sourceKeyring, path
	}
}

// keyringCacheWindow is the JWKS cache window, a setting of the keyring
// alone (keys jwks-cache-window): no flag, variable or config file may
// shorten the rotation wait. Without a readable keyring it is the default.
func keyringCacheWindow(f *Factory) config.Value {
	v := config.Value{
		Setting: config.Setting{Key: "jwks_cache_window", Kind: config.KindDuration, Help: "how long verifiers cache the JWKS, used to time safe rotation (keys jwks-cache-window)"},
		Value:   keyring.ShortDuration(keyring.DefaultJWKSCacheWindow),
		Source:  config.SourceDefault,
	}
	if s, err := openKeyring(f, "", 0); err == nil {
		if file, err := s.Load(context.Background(), false); err == nil && file.Keyring.JWKSCacheWindow > 0 {
			v.Value = keyring.ShortDuration(file.Keyring.JWKSCacheWindow)
			v.Source, v.Origin = sourceKeyring, s.Location()
		}
	}
	return v
}

// sourceLabel says where a value came from in words for the table:
// "env KEYCTL_VALID_FOR", "config file, line 3", "flag --addr".
func sourceLabel(v config.Value, cfg *config.Config) string {
	switch v.Source {
	case config.SourceFlag, config.SourceEnv:
		return string(v.Source) + " " + v.Origin
	case config.SourceFile:
		return fmt.Sprintf("config file, line %d", cfg.Line(v.Key))
	case sourceKeyring:
		return "keyring (keys " + strings.ReplaceAll(v.Key, "_", "-") + ")"
	}
	return string(v.Source)
}

// configError gives a problem in the config file or a KEYCTL_* variable
// its hint (the first one's, when Apply joined several). The root's
// PersistentPreRunE could use it for every command.
func configError(err error) error {
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		return withHint(err, "%s", h.Hint())
	}
	return err
}

type configPathOptions struct {
	IO         *ui.IO
	ConfigPath *string
}

func newConfigPathCmd(f *Factory) *cobra.Command {
	o := &configPathOptions{IO: f.IO, ConfigPath: &f.ConfigPath}
	return &cobra.Command{
		Use:   "path",
		Short: "Print the path of the config file keyctl reads",
		Long: `Print the path of the config file keyctl reads: --config, else
KEYCTL_CONFIG, else $XDG_CONFIG_HOME/keyctl/config.yaml. The path is printed
whether or not the file exists (a note on stderr says when it does not), so
"$EDITOR $(keyctl config path)" creates it.`,
		Example: `  keyctl config path
  mkdir -p "$(dirname "$(keyctl config path)")" && $EDITOR "$(keyctl config path)"`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			return runConfigPath(o)
		},
	}
}

func runConfigPath(o *configPathOptions) error {
	path, _ := config.ResolvePath(*o.ConfigPath, o.IO.Env)
	if path == "" {
		return withHint(errors.New("no config directory: neither XDG_CONFIG_HOME nor HOME is set"), "set XDG_CONFIG_HOME, or name a file with --config")
	}
	if _, err := os.Stat(path); err != nil {
		o.IO.Infof("%s does not exist yet; keyctl uses its defaults", path)
	}
	_, err := fmt.Fprintln(o.IO.Out, path)
	return err
}
