// Package config layers keyctl's settings: flags > KEYCTL_* environment
// variables > the config file > defaults. One viper instance, no globals.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Annotation marks a flag that the environment and config file may fill;
// its value is the setting's key (e.g. "valid_for").
const Annotation = "keyctl_config_key"

// EnvPrefix is the prefix of every environment variable keyctl reads.
const EnvPrefix = "KEYCTL"

// Settings lists every setting with its flag and meaning, for `config show`
// and the docs.
var Settings = []Setting{
	{Key: "keyring", Flag: "keyring", Help: "path of the keyring file"},
	{Key: "algorithm", Flag: "algorithm", Help: "default algorithm for new keys"},
	{Key: "valid_for", Flag: "valid-for", Help: "default lifetime of minted tokens"},
	{Key: "max_token_lifetime", Flag: "max-token-lifetime", Help: "longest token lifetime, used to time safe revocation"},
	{Key: "cache_ttl", Flag: "cache-ttl", Help: "how long a fetched JWKS is cached"},
	{Key: "serve_addr", Flag: "addr", Help: "address keyctl serve listens on"},
}

// Setting is one configurable value.
type Setting struct {
	Key  string
	Flag string
	Help string
}

// Source says where an effective value came from.
type Source string

// Sources, highest precedence first.
const (
	SourceFlag    Source = "flag"
	SourceEnv     Source = "env"
	SourceFile    Source = "config file"
	SourceDefault Source = "default"
)

// Config is the loaded environment and config file.
type Config struct {
	v    *viper.Viper
	file string // "" when no file was read
	env  func(string) (string, bool)
}

// DefaultPath returns $XDG_CONFIG_HOME/keyctl/config.yaml (or the OS
// equivalent).
func DefaultPath(env func(string) (string, bool)) string {
	if dir, ok := env("XDG_CONFIG_HOME"); ok && dir != "" {
		return filepath.Join(dir, "keyctl", "config.yaml")
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "keyctl", "config.yaml")
}

// Load reads the config file at path (explicit: it must exist) or, with an
// empty path, the default file if it exists.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	v := viper.New()
	explicit := path != ""
	if !explicit {
		if p, ok := env("KEYCTL_CONFIG"); ok && p != "" {
			path, explicit = p, true
		} else {
			path = DefaultPath(env)
		}
	}
	c := &Config{v: v, env: env}
	if path == "" {
		return c, nil
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			return c, nil
		}
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	v.SetConfigFile(path)
	if filepath.Ext(path) == "" {
		v.SetConfigType("yaml")
	}
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("config file %s: %v", path, oneLine(err.Error()))
	}
	known := map[string]bool{}
	for _, s := range Settings {
		known[s.Key] = true
	}
	for _, k := range v.AllKeys() {
		if !known[k] {
			return nil, fmt.Errorf("config file %s: unknown setting %q (known: %s)", path, k, knownList())
		}
	}
	c.file = path
	return c, nil
}

func knownList() string {
	var names []string
	for _, s := range Settings {
		names = append(names, s.Key)
	}
	return strings.Join(names, ", ")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// File returns the config file that was read, or "".
func (c *Config) File() string { return c.file }

// EnvName returns the environment variable for a setting key.
func EnvName(key string) string { return EnvPrefix + "_" + strings.ToUpper(key) }

// Lookup returns the value of key from the environment or the file.
func (c *Config) Lookup(key string) (string, Source, bool) {
	if c.env != nil {
		if v, ok := c.env(EnvName(key)); ok && v != "" {
			return v, SourceEnv, true
		}
	}
	if c.file != "" && c.v.IsSet(key) {
		return c.v.GetString(key), SourceFile, true
	}
	return "", "", false
}

// Apply fills every annotated flag of cmd that the user did not set from
// the environment or the config file.
func (c *Config) Apply(cmd *cobra.Command) error {
	var errs []error
	apply := func(f *pflag.Flag) {
		keys := f.Annotations[Annotation]
		if f.Changed || len(keys) == 0 {
			return
		}
		val, src, ok := c.Lookup(keys[0])
		if !ok {
			return
		}
		if err := f.Value.Set(val); err != nil {
			where := EnvName(keys[0])
			if src == SourceFile {
				where = fmt.Sprintf("%s in %s", keys[0], c.file)
			}
			errs = append(errs, fmt.Errorf("%s: invalid value %q: %v", where, val, err))
		}
	}
	cmd.Flags().VisitAll(apply)
	return errors.Join(errs...)
}

// Bind marks a flag as configurable under key.
func Bind(fs *pflag.FlagSet, flag, key string) {
	_ = fs.SetAnnotation(flag, Annotation, []string{key})
}
