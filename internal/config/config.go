// Package config layers keyctl's settings: flags > KEYCTL_* environment
// variables > the config file > defaults. One viper instance per run, no
// globals. The file is YAML; it is checked line by line before viper reads
// it, so every mistake in it is reported with its file and line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// Annotation marks a flag that the environment and config file may fill;
// its value is the setting's key (e.g. "valid_for").
const Annotation = "keyctl_config_key"

// EnvPrefix is the prefix of every environment variable keyctl reads.
const EnvPrefix = "KEYCTL"

// EnvConfig names the config file when --config is not given.
const EnvConfig = EnvPrefix + "_CONFIG"

// MaxFileBytes caps the config file: a few settings, never megabytes.
const MaxFileBytes = 64 << 10

// Kind says what a setting's value is, so a bad value is refused with a
// message that says what was expected, wherever it came from.
type Kind int

// Kinds of setting values.
const (
	KindPath      Kind = iota // a file path; "~/" and paths relative to the config file are resolved
	KindAlgorithm             // ES256, RS256, EdDSA or HS256, any letter case
	KindDuration              // a positive Go duration: 30m, 1h, 90s (zero too with AllowZero)
	KindAddress               // host:port
)

// Settings lists every setting with its flag and meaning, for `config show`
// and the docs. Order is the order `config show` prints.
var Settings = []Setting{
	{Key: "keyring", Flag: "keyring", Kind: KindPath, Help: "the keyring: a file path or postgres://... (docs/team.md)"},
	{Key: "algorithm", Flag: "algorithm", Kind: KindAlgorithm, Help: "default algorithm for new keys"},
	{Key: "valid_for", Flag: "valid-for", Kind: KindDuration, Help: "default lifetime of minted tokens"},
	{Key: "max_token_lifetime", Flag: "max-token-lifetime", Kind: KindDuration, Help: "longest token lifetime, used to time safe revocation"},
	{Key: "cache_ttl", Flag: "cache-ttl", Kind: KindDuration, AllowZero: true, Help: "how long a fetched JWKS is cached (0: always ask the server)"},
	{Key: "serve_addr", Flag: "addr", Kind: KindAddress, Help: "address keyctl serve listens on"},
}

// Setting is one configurable value.
type Setting struct {
	Key  string
	Flag string
	Help string
	Kind Kind
	// AllowZero accepts a zero duration (a cache TTL of 0 means "always
	// revalidate"); durations are otherwise positive.
	AllowZero bool
}

// Env returns the environment variable of the setting: KEYCTL_VALID_FOR.
func (s Setting) Env() string { return EnvName(s.Key) }

// Find returns the setting named key.
func Find(key string) (Setting, bool) {
	for _, s := range Settings {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// Check reports whether v is a valid value for the setting, in words a
// user can act on.
func (s Setting) Check(v string) error {
	_, err := s.normalize(v)
	return err
}

// normalize validates v and returns its canonical form (ES256 for
// "es256"), so `config show` prints what commands will use.
func (s Setting) normalize(v string) (string, error) {
	if strings.TrimSpace(v) == "" {
		return "", errors.New("empty value")
	}
	switch s.Kind {
	case KindAlgorithm:
		a, err := jwk.ParseAlgorithm(v)
		if err != nil {
			return "", fmt.Errorf("%q is not an algorithm (want one of %s)", v, jwk.AlgorithmList())
		}
		return string(a), nil
	case KindDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return "", fmt.Errorf("%q is not a duration (write it like 30m, 1h or 90s)", v)
		}
		if d < 0 || (d == 0 && !s.AllowZero) {
			return "", fmt.Errorf("%q: the duration must be positive", v)
		}
		return ShortDuration(d), nil
	case KindAddress:
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return "", fmt.Errorf("%q is not an address (write it as host:port, e.g. 127.0.0.1:54321)", v)
		}
		return v, nil
	}
	return v, nil
}

// ShortDuration writes d as people write it: 30m, 1h, 1h30m, 90s (Go's
// String writes 30m0s and 1h0m0s).
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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
	v        *viper.Viper
	path     string         // the file looked for ("" when no path could be found)
	file     string         // the file read, "" when none
	explicit bool           // path came from --config or KEYCTL_CONFIG
	lines    map[string]int // setting key -> line in the file
	env      func(string) (string, bool)
}

// FileError is a problem in the config file, located to its line when
// possible. Hint, when not empty, is the next step for the user.
type FileError struct {
	Path string
	Line int // 1-based; 0 when the problem is the file as a whole
	Msg  string
	hint string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("config file %s, line %d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("config file %s: %s", e.Path, e.Msg)
}

// Hint returns the next step for the user, or "".
func (e *FileError) Hint() string { return e.hint }

// Dir returns keyctl's configuration directory: $XDG_CONFIG_HOME/keyctl,
// else ~/.config/keyctl on Unix, else the OS's user config directory. It
// reads the environment through env so tests and callers control it.
func Dir(env func(string) (string, bool)) string {
	if dir, ok := env("XDG_CONFIG_HOME"); ok && dir != "" {
		return filepath.Join(dir, "keyctl")
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" && runtime.GOOS != "ios" && runtime.GOOS != "plan9" {
		if home, ok := env("HOME"); ok && home != "" {
			return filepath.Join(home, ".config", "keyctl")
		}
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "keyctl")
}

// DefaultPath returns $XDG_CONFIG_HOME/keyctl/config.yaml (or the OS
// equivalent, see Dir); "" when no directory can be found.
func DefaultPath(env func(string) (string, bool)) string {
	dir := Dir(env)
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "config.yaml")
}

// ResolvePath returns the config file keyctl uses: path (--config) when
// given, else KEYCTL_CONFIG, else DefaultPath. explicit is true for the
// first two: such a file must exist.
func ResolvePath(path string, env func(string) (string, bool)) (resolved string, explicit bool) {
	if path != "" {
		return path, true
	}
	if p, ok := env(EnvConfig); ok && p != "" {
		return p, true
	}
	return DefaultPath(env), false
}

// Load reads the config file at path (explicit: it must exist) or, with an
// empty path, KEYCTL_CONFIG's file or the default file if it exists. Every
// problem in the file is a *FileError naming the file and line.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	path, explicit := ResolvePath(path, env)
	c := &Config{v: viper.New(), path: path, explicit: explicit, lines: map[string]int{}, env: env}
	if path == "" {
		return c, nil
	}
	data, err := readFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return c, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, &FileError{Path: path, Msg: "no such file", hint: "create it, or leave out --config and " + EnvConfig + " to use " + DefaultPath(env)}
	case safefile.Refused(err):
		return nil, err // names the file, with its own hint
	case err != nil:
		return nil, &FileError{Path: path, Msg: err.Error()}
	}
	if err := c.check(path, data); err != nil {
		return nil, err
	}
	c.v.SetConfigType("yaml")
	if err := c.v.ReadConfig(bytes.NewReader(data)); err != nil {
		// check accepted the file, so this is not expected; still one line.
		return nil, &FileError{Path: path, Msg: oneLine(err.Error())}
	}
	c.file = path
	return c, nil
}

// readFile reads the config file: a regular file (a FIFO is refused
// without blocking) owned by the user or root, in a directory no one else
// can write, since its settings choose the keyring and keys keyctl trusts.
func readFile(path string) ([]byte, error) {
	data, err := safefile.ReadFile(path, MaxFileBytes, safefile.Trusted("config file"))
	var pe *fs.PathError
	var tl *safefile.TooLargeError
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fs.ErrNotExist
	case errors.As(err, &tl):
		return nil, fmt.Errorf("larger than %d KiB: not a keyctl config file", MaxFileBytes>>10)
	case errors.As(err, &pe):
		return nil, pe.Err // "permission denied", without the path twice
	}
	return nil, err
}

// check parses data as YAML and accepts only a mapping of known settings to
// single valid values, recording the line of each.
func (c *Config) check(path string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line, msg := yamlErrorLine(err, data)
		return &FileError{Path: path, Line: line, Msg: msg, hint: "each line is \"setting: value\", e.g. \"algorithm: ES256\"; see \"keyctl config show --help\""}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty file, or comments only
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	if root.Kind != yaml.MappingNode {
		return &FileError{Path: path, Line: root.Line, Msg: "want settings as \"key: value\" lines, found " + nodeKind(root), hint: "e.g. \"algorithm: ES256\""}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		s, ok := Find(k.Value)
		if !ok {
			hint := "remove it; the settings are listed by \"keyctl config show\""
			if m := suggest(k.Value); m != "" {
				hint = fmt.Sprintf("did you mean %q?", m)
			}
			return &FileError{Path: path, Line: k.Line, Msg: fmt.Sprintf("unknown setting %q (known: %s)", k.Value, knownList()), hint: hint}
		}
		if first, dup := c.lines[s.Key]; dup {
			return &FileError{Path: path, Line: k.Line, Msg: fmt.Sprintf("%s is set twice (first on line %d)", s.Key, first), hint: "keep one of them"}
		}
		c.lines[s.Key] = k.Line
		if v.Kind == yaml.AliasNode || v.Kind != yaml.ScalarNode {
			return &FileError{Path: path, Line: v.Line, Msg: fmt.Sprintf("%s: want a single value, found %s", s.Key, nodeKind(v))}
		}
		if v.Tag == "!!null" || v.Value == "" {
			return &FileError{Path: path, Line: k.Line, Msg: fmt.Sprintf("%s has no value", s.Key), hint: "give one, or remove the line to use the default"}
		}
		if err := s.Check(v.Value); err != nil {
			return &FileError{Path: path, Line: v.Line, Msg: fmt.Sprintf("%s: %v", s.Key, err)}
		}
	}
	return nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("the value %q", n.Value)
}

// yamlLineRE is compiled on first use: only a malformed config file needs it,
// and every run would pay for it at package init.
var yamlLineRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// yamlErrorLine turns a YAML syntax error into a 1-based line and a message
// without the "yaml:" prefix. The YAML library numbers lines unevenly:
// scanner errors 1-based, parser errors ("did not find expected ...") from
// the line before, and none at all for the first line; this evens it out.
func yamlErrorLine(err error, data []byte) (int, string) {
	msg := oneLine(err.Error())
	line := 1
	if m := yamlLineRE().FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if strings.HasPrefix(msg, "did not find expected") {
			line++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
		if l := badCharLine(data); l > 0 {
			line = l
		}
	}
	if n := lineCount(data); line > n {
		line = n
	}
	return line, msg
}

// lineCount counts lines as YAML does: "\n", "\r\n" and a lone "\r" each
// end one.
func lineCount(data []byte) int {
	return bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n")) + 1
}

// badCharLine finds the first line holding a control character or invalid
// UTF-8, the reader errors the YAML library reports without a line.
func badCharLine(data []byte) int {
	line := 1
	for i, r := range string(data) {
		switch {
		case r == '\n':
			line++
		case r == '\r':
			if !bytes.HasPrefix(data[i:], []byte("\r\n")) {
				line++
			}
		case r == '\t':
		case r == 0xFFFD && !bytes.HasPrefix(data[i:], []byte("\uFFFD")):
			return line
		case r < 0x20 || r == 0x7f:
			return line
		}
	}
	return 0
}

// suggest returns the known setting a mistyped key most likely meant.
func suggest(key string) string {
	norm := strings.ToLower(strings.NewReplacer("-", "_", ".", "_", " ", "_").Replace(key))
	best, bestDist := "", 3
	for _, s := range Settings {
		if norm == s.Key || norm == strings.ReplaceAll(s.Flag, "-", "_") || (len(norm) >= 3 && strings.HasPrefix(s.Key, norm)) {
			return s.Key
		}
		if d := editDistance(norm, s.Key); d < bestDist {
			best, bestDist = s.Key, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
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

// Path returns the config file keyctl looked for, read or not ("" when no
// config directory exists).
func (c *Config) Path() string { return c.path }

// Line returns the line of the file that sets key, 0 when it does not.
func (c *Config) Line(key string) int { return c.lines[key] }

// OtherEnv are the KEYCTL_* variables keyctl reads that are not settings.
var OtherEnv = []string{"KEYCTL_CONFIG", "KEYCTL_KEYRING_NAME", "KEYCTL_PASSPHRASE", "KEYCTL_PASSPHRASE_FILE", "KEYCTL_MASTER_KEY", "KEYCTL_MASTER_KEY_FILE"}

// EnvTypo is a KEYCTL_* variable keyctl does not read, and the one it
// probably meant.
type EnvTypo struct{ Name, Meant string }

// EnvTypos finds the KEYCTL_* names in environ (NAME=value entries) that
// keyctl does not read but that are a small typo away from one it does
// (KEYCTL_KEYRNG): such a variable is silently ignored, and a key would go
// to another keyring than meant. Other KEYCTL_* names (a script's own)
// are left alone.
func EnvTypos(environ []string) []EnvTypo {
	known := slices.Clone(OtherEnv)
	for _, s := range Settings {
		known = append(known, s.Env())
	}
	var out []EnvTypo
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix+"_") || slices.Contains(known, name) {
			continue
		}
		best, bestDist := "", 3
		for _, k := range known {
			if d := editDistance(name, k); d < bestDist {
				best, bestDist = k, d
			}
		}
		if best != "" {
			out = append(out, EnvTypo{Name: name, Meant: best})
		}
	}
	return out
}

// EnvName returns the environment variable for a setting key.
func EnvName(key string) string { return EnvPrefix + "_" + strings.ToUpper(key) }

// Lookup returns the value of key from the environment or the file, in
// its canonical form. Paths from the file are resolved: "~/" against HOME,
// relative ones against the file's directory (not the working directory,
// which changes from run to run). Values are not checked here; Apply and
// Effective check them.
func (c *Config) Lookup(key string) (string, Source, bool) {
	if c.env != nil {
		if v, ok := c.env(EnvName(key)); ok && v != "" {
			return v, SourceEnv, true
		}
	}
	if c.file != "" && c.v.IsSet(key) {
		v := c.v.GetString(key)
		if s, ok := Find(key); ok && s.Kind == KindPath {
			v = c.resolveFilePath(v)
		}
		return v, SourceFile, true
	}
	return "", "", false
}

func (c *Config) resolveFilePath(p string) string {
	if hasScheme(p) || pgstore.LooksLikeDSN(p) {
		// postgres://..., file:///..., or a key=value connection string
		// (which the keyring then refuses): a location, not a path, and
		// maybe one holding a password that must not become a file name.
		return p
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, found := c.env("HOME"); found && home != "" {
			return filepath.Join(home, rest)
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(filepath.Dir(c.file), p)
	}
	return p
}

// hasScheme reports whether p starts with a URI scheme and "://"
// (RFC 3986: a letter, then letters, digits, "+", "-" or ".").
func hasScheme(p string) bool {
	i := strings.Index(p, "://")
	if i < 1 {
		return false
	}
	for j, r := range p[:i] {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case j > 0 && (r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// origin names where a value from src came from: the variable, or the file
// and line.
func (c *Config) origin(key string, src Source) string {
	switch src {
	case SourceEnv:
		return EnvName(key)
	case SourceFile:
		return fmt.Sprintf("%s:%d", c.file, c.lines[key])
	}
	return ""
}

// valueError says what is wrong with a value from the environment or file,
// naming where it came from.
func (c *Config) valueError(key string, src Source, err error) error {
	if src == SourceFile {
		return &FileError{Path: c.file, Line: c.lines[key], Msg: fmt.Sprintf("%s: %v", key, err)}
	}
	return &EnvError{Name: EnvName(key), Msg: err.Error()}
}

// EnvError is a bad value in a KEYCTL_* environment variable.
type EnvError struct {
	Name string
	Msg  string
}

func (e *EnvError) Error() string { return fmt.Sprintf("environment variable %s: %s", e.Name, e.Msg) }

// Hint returns the next step for the user.
func (e *EnvError) Hint() string {
	return fmt.Sprintf("fix it, or unset it (unset %s) to fall back to the config file or default", e.Name)
}

// Apply fills every annotated flag of cmd that the user did not set from
// the environment or the config file. A bad value names its variable or
// file and line.
func (c *Config) Apply(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		keys := f.Annotations[Annotation]
		if f.Changed || len(keys) == 0 {
			return
		}
		val, src, ok := c.Lookup(keys[0])
		if !ok {
			return
		}
		if s, known := Find(keys[0]); known {
			norm, err := s.normalize(val)
			if err != nil {
				errs = append(errs, c.valueError(keys[0], src, err))
				return
			}
			val = norm
		}
		if err := f.Value.Set(val); err != nil {
			errs = append(errs, c.valueError(keys[0], src, fmt.Errorf("invalid value %q for --%s", val, f.Name)))
		}
	})
	return errors.Join(errs...)
}

// Value is a setting's effective value and where it came from.
type Value struct {
	Setting
	Value  string
	Source Source
	// Origin details the source: "--algorithm", "KEYCTL_ALGORITHM",
	// "/home/me/.config/keyctl/config.yaml:3"; "" for a default.
	Origin string
	// Err is set when the value is invalid; Value then holds it as given.
	Err error
}

// Effective returns every setting's value as a command with flags fs
// would see it, in Settings order: a flag the user set (fs may be nil),
// else the environment, else the file, else defaults[key] (which may be
// empty when no command has a default).
func (c *Config) Effective(fs *pflag.FlagSet, defaults map[string]string) []Value {
	changed := map[string]*pflag.Flag{}
	if fs != nil {
		fs.Visit(func(f *pflag.Flag) {
			if keys := f.Annotations[Annotation]; len(keys) > 0 {
				changed[keys[0]] = f
			}
		})
	}
	out := make([]Value, 0, len(Settings))
	for _, s := range Settings {
		v := Value{Setting: s}
		if f, ok := changed[s.Key]; ok {
			v.Value, v.Source, v.Origin = f.Value.String(), SourceFlag, "--"+f.Name
		} else if val, src, ok := c.Lookup(s.Key); ok {
			v.Value, v.Source, v.Origin = val, src, c.origin(s.Key, src)
		} else {
			v.Value, v.Source = defaults[s.Key], SourceDefault
		}
		if v.Source != SourceDefault || v.Value != "" {
			norm, err := s.normalize(v.Value)
			if err != nil && v.Source != SourceDefault {
				v.Err = c.valueError(s.Key, v.Source, err)
				if v.Source == SourceFlag {
					v.Err = fmt.Errorf("--%s: %v", s.Flag, err)
				}
			} else if err == nil {
				v.Value = norm
			}
		}
		out = append(out, v)
	}
	return out
}

// Bind marks a flag as configurable under key.
func Bind(fs *pflag.FlagSet, flag, key string) {
	_ = fs.SetAnnotation(flag, Annotation, []string{key})
}
