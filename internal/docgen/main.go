// Command docgen writes keyctl's command reference from the cobra tree:
// markdown (one page per command, plus an index) and man pages. The
// reference is checked in and TestDocsUpToDate fails when it is stale.
//
//	go run ./internal/docgen -out docs/reference    (make docs)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/keyctl/keyctl/cmd"
	"github.com/keyctl/keyctl/internal/ui"
)

func main() {
	out := flag.String("out", "docs/reference", "directory to write the reference to")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintf(os.Stderr, "docgen: %v\n", err)
		os.Exit(1)
	}
}

// placeholderEnv is the environment the tree is built in: defaults that
// come from the user's directories read as the variables' names, so the
// reference is the same on every machine and says where a path comes from.
var placeholderEnv = map[string]string{
	"HOME":            "$HOME",
	"XDG_CONFIG_HOME": "$XDG_CONFIG_HOME",
	"XDG_CACHE_HOME":  "$XDG_CACHE_HOME",
	"XDG_DATA_HOME":   "$XDG_DATA_HOME",
	"XDG_STATE_HOME":  "$XDG_STATE_HOME",
}

// setPlaceholderEnv sets placeholderEnv in the process environment (code
// that computes a default from os.Getenv sees it too) and returns a func
// restoring it.
func setPlaceholderEnv() func() {
	old := map[string]*string{}
	for k, v := range placeholderEnv {
		if cur, ok := os.LookupEnv(k); ok {
			old[k] = &cur
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, v := range old {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}
}

// tree builds keyctl's command tree as users see it, the completion and
// help commands included.
func tree() *cobra.Command {
	defer setPlaceholderEnv()()
	f := &cmd.Factory{
		IO: &ui.IO{Env: func(k string) (string, bool) {
			v, ok := placeholderEnv[k]
			return v, ok
		}},
		Now:     time.Now,
		Version: "dev",
	}
	root := cmd.NewRootCmd(f)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

// commands lists the documented commands: those cobra's doc generator
// would visit (available, not help topics), depth first in name order.
func commands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	subs := c.Commands()
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	for _, s := range subs {
		if !s.IsAvailableCommand() || s.IsAdditionalHelpTopicCommand() {
			continue
		}
		out = append(out, commands(s)...)
	}
	return out
}

// manDate is the date cobra stamps into each page; render removes it from
// the .TH line, since a date that changes every month would make the pages
// stale without any change to keyctl.
var manDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var thDate = regexp.MustCompile(`(?m)^(\.TH "[^"]*" "[^"]*") "` + manDate.Format("Jan 2006") + `"`)

// render returns the whole reference as file name -> content, names
// relative to the output directory (man pages under man/).
func render() (map[string][]byte, error) {
	root := tree()
	files := map[string][]byte{}
	var index bytes.Buffer
	index.WriteString("# keyctl command reference\n\n")
	index.WriteString("Generated from the command tree by `make docs` (`go run ./internal/docgen -out docs/reference`); do not edit.\n")
	index.WriteString("Man pages are in [man/](man/): `man -l docs/reference/man/keyctl.1`.\n\n")
	index.WriteString("| command | what it does |\n| --- | --- |\n")
	for _, c := range commands(root) {
		c.DisableAutoGenTag = true
		base := strings.ReplaceAll(c.CommandPath(), " ", "_")
		var md bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &md, func(s string) string { return s }); err != nil {
			return nil, fmt.Errorf("markdown for %s: %w", c.CommandPath(), err)
		}
		files[base+".md"] = md.Bytes()
		fmt.Fprintf(&index, "| [%s](%s.md) | %s |\n", c.CommandPath(), base, strings.ReplaceAll(c.Short, "|", `\|`))

		var man bytes.Buffer
		date := manDate
		header := &doc.GenManHeader{Title: strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-")), Section: "1", Date: &date, Source: "keyctl", Manual: "keyctl manual"}
		if err := doc.GenMan(c, header, &man); err != nil {
			return nil, fmt.Errorf("man page for %s: %w", c.CommandPath(), err)
		}
		files[filepath.Join("man", strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")] = thDate.ReplaceAll(man.Bytes(), []byte(`$1 ""`))
	}
	files["README.md"] = index.Bytes()
	return files, nil
}

// generated reports whether a file under the output directory is one
// docgen writes (and so may remove when its command is gone).
func generated(rel string) bool {
	rel = filepath.ToSlash(rel)
	return rel == "README.md" ||
		(strings.HasPrefix(rel, "keyctl") && strings.HasSuffix(rel, ".md") && !strings.Contains(rel, "/")) ||
		(strings.HasPrefix(rel, "man/keyctl") && strings.HasSuffix(rel, ".1"))
}

// existing lists the generated files now under dir.
func existing(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == dir {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() || !generated(rel) {
			return nil
		}
		data, err := os.ReadFile(path)
		files[rel] = data
		return err
	})
	return files, err
}

// write brings dir up to date: new and changed files written, pages of
// commands that no longer exist removed.
func write(dir string) error {
	want, err := render()
	if err != nil {
		return err
	}
	have, err := existing(dir)
	if err != nil {
		return err
	}
	for rel := range have {
		if _, ok := want[rel]; !ok {
			if err := os.Remove(filepath.Join(dir, rel)); err != nil {
				return err
			}
		}
	}
	for rel, data := range want {
		if bytes.Equal(have[rel], data) {
			continue
		}
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
