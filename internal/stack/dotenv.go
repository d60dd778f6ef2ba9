package stack

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// The env file keyctl writes must read back the same with docker
// compose's dotenv parser (a .env file and env_file:), with a POSIX shell's
// `set -a; . file`, and with the npm dotenv package. Single quotes are the
// one form all three take literally: no escapes, no ${...} interpolation,
// no # comments inside. So every value is single-quoted, and a value that
// holds a single quote, a newline or a NUL, which that form cannot carry, is
// refused, as is one ending with a backslash (compose reads \' as an
// escaped quote). keyctl's JSON never holds either.

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// QuoteValue returns v as a single-quoted env-file value.
func QuoteValue(v string) (string, error) {
	if strings.ContainsAny(v, "'\n\r\x00") || strings.HasSuffix(v, `\`) {
		// compose reads \' as a quote inside the value, so a value may
		// not end with a backslash either.
		return "", fmt.Errorf("a value holding a single quote or a line break, or ending with a backslash, cannot be written to an env file safely (%.20q...)", v)
	}
	if v == "" {
		// compose's parser refuses '' (it reads the second quote as the
		// start of a name): an empty value is written bare.
		return "", nil
	}
	return "'" + v + "'", nil
}

// FormatEnv writes vars as NAME='value' lines after a comment header
// (each header line gets "# ").
func FormatEnv(header []string, vars []Var) ([]byte, error) {
	var b bytes.Buffer
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	for _, v := range vars {
		line, err := envLine(v)
		if err != nil {
			return nil, err
		}
		b.WriteString(line + "\n")
	}
	return b.Bytes(), nil
}

func envLine(v Var) (string, error) {
	if !envName.MatchString(v.Name) {
		return "", fmt.Errorf("%q is not a variable name", v.Name)
	}
	q, err := QuoteValue(v.Value)
	if err != nil {
		return "", fmt.Errorf("%s: %w", v.Name, err)
	}
	return v.Name + "=" + q, nil
}

var envAssign = regexp.MustCompile(`^(export[ \t]+)?[A-Za-z_][A-Za-z0-9_]*[ \t]*=`)

// LooksLikeEnv reports whether data reads as an env file that keyctl may
// update in place: no NUL byte, and its first line that is neither blank
// nor a comment assigns a variable (NAME=... or export NAME=...). An empty
// file or one of comments only is one. A JSON keys file or a PEM file is
// not, so an export never appends variables to them.
func LooksLikeEnv(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		return envAssign.MatchString(t)
	}
	return true
}

// EnvFile is an env file read for editing: its lines kept byte for byte,
// with the variables each assigns.
type EnvFile struct {
	lines []string         // each with its line ending
	names map[string][]int // every line assigning each name
}

// ParseEnvFile reads an env file for Set. It understands NAME=value and
// export NAME=value lines; every other line (comments, blanks, anything)
// is kept as it is.
func ParseEnvFile(data []byte) *EnvFile {
	f := &EnvFile{names: map[string][]int{}}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line string
		if i < 0 {
			line, data = string(data), nil
		} else {
			line, data = string(data[:i+1]), data[i+1:]
		}
		if name, ok := assigned(line); ok {
			f.names[name] = append(f.names[name], len(f.lines))
		}
		f.lines = append(f.lines, line)
	}
	return f
}

var assignLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

func assigned(line string) (string, bool) {
	m := assignLine.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// Has reports whether the file assigns name.
func (f *EnvFile) Has(name string) bool { _, ok := f.names[name]; return ok }

// Value returns the raw text after NAME= on name's last line (quotes
// kept): the assignment a shell and compose end up with.
func (f *EnvFile) Value(name string) (string, bool) {
	idx, ok := f.names[name]
	if !ok {
		return "", false
	}
	_, rest, _ := strings.Cut(f.lines[idx[len(idx)-1]], "=")
	return strings.TrimRight(rest, "\r\n"), true
}

// Set gives name the value: its line is replaced in place (keeping an
// "export " prefix) or a line is appended. Every other line stays byte for
// byte.
func (f *EnvFile) Set(name, value string) error {
	line, err := envLine(Var{name, value})
	if err != nil {
		return err
	}
	if idx, ok := f.names[name]; ok {
		// Every assignment: a stale later one would win in a shell and
		// in compose.
		for _, i := range idx {
			old := f.lines[i]
			ending := old[len(strings.TrimRight(old, "\r\n")):]
			if ending == "" {
				ending = "\n"
			}
			l := line
			if strings.HasPrefix(strings.TrimSpace(old), "export ") {
				l = "export " + line
			}
			f.lines[i] = l + ending
		}
		return nil
	}
	if n := len(f.lines); n > 0 && !strings.HasSuffix(f.lines[n-1], "\n") {
		f.lines[n-1] += "\n"
	}
	f.names[name] = []int{len(f.lines)}
	f.lines = append(f.lines, line+"\n")
	return nil
}

// Bytes returns the file.
func (f *EnvFile) Bytes() []byte { return []byte(strings.Join(f.lines, "")) }
