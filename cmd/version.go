package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/ui"
)

// Version is set at build time: -ldflags "-X github.com/keyctl/keyctl/cmd.Version=v1.2.3"
// (make build does it from git describe). "dev" means a plain go build.
var Version = "dev"

// joseModule is the JOSE library whose version users ask about when a token
// is rejected somewhere else.
const joseModule = "github.com/go-jose/go-jose/v4"

// joseNotLinked is reported when the build does not include go-jose (no
// package keyctl links uses it).
const joseNotLinked = "not linked"

// versionInfo is what `keyctl version` reports; its JSON form is stable.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	GoJOSE  string `json:"go_jose"`
}

// buildVersion gathers the version: the -X value, else the module version
// `go install module@version` records; the VCS commit when the build
// recorded one; the go-jose version linked in.
func buildVersion(version string, info *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoJOSE: joseNotLinked}
	if !ok || info == nil {
		return v
	}
	if (v.Version == "" || v.Version == "dev") && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v.Version = info.Main.Version
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	for _, d := range info.Deps {
		if d.Path == joseModule {
			v.GoJOSE = d.Version
			if d.Replace != nil {
				v.GoJOSE = d.Replace.Version + " (replaced)"
			}
		}
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
			if len(v.Commit) > 12 {
				v.Commit = v.Commit[:12]
			}
		case "vcs.modified":
			if s.Value == "true" && v.Commit != "" {
				v.Commit += "-dirty"
			}
		}
	}
	return v
}

type versionOptions struct {
	IO      *ui.IO
	Version string
	Output  string
}

func newVersionCmd(f *Factory) *cobra.Command {
	o := &versionOptions{IO: f.IO}
	c := &cobra.Command{
		Use:   "version",
		Short: "Print keyctl's version and the Go and go-jose versions it was built with",
		Long: `Print keyctl's version, the Go toolchain and platform it was built for, and
the go-jose version it links: the facts a bug report needs.

"dev" is a build without a version stamped in (go build); make build stamps
the output of git describe.`,
		Example: `  keyctl version
  keyctl version -o json | jq -r .version`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error {
			o.Version = f.Version
			return runVersion(o)
		},
	}
	c.Flags().StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text\tthree lines for people", "json\tone object for scripts"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runVersion(o *versionOptions) error {
	info, ok := debug.ReadBuildInfo()
	v := buildVersion(o.Version, info, ok)
	switch o.Output {
	case ui.FormatJSON:
		return o.IO.PrintJSON(v)
	case ui.FormatText, ui.FormatTable:
	default:
		return withHint(&UsageError{Err: fmt.Errorf("-o %q: want text or json", o.Output)}, "use -o json for scripts")
	}
	version := v.Version
	if v.Commit != "" {
		version += " (" + v.Commit + ")"
	}
	_, err := fmt.Fprintf(o.IO.Out, "keyctl %s\ngo %s %s/%s\ngo-jose %s\n", version, v.Go, v.OS, v.Arch, v.GoJOSE)
	return err
}
