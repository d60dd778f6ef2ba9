package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(issue): placeholder until the command lands.
func newConfigCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "config",
		Short:  "Show the effective configuration",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("config is not built yet")
		},
	}
}
