package cmd

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Version is set at build time: -ldflags "-X github.com/keyctl/keyctl/cmd.Version=v1.2.3".
var Version = "dev"

func newVersionCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print keyctl's version and the Go and go-jose versions it was built with",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			jose := "unknown"
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, d := range info.Deps {
					if d.Path == "github.com/go-jose/go-jose/v4" {
						jose = d.Version
					}
				}
			}
			fmt.Fprintf(f.IO.Out, "keyctl %s\ngo %s %s/%s\ngo-jose %s\n", f.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, jose)
			return nil
		},
	}
}
