package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(issue): placeholder until the command lands.
func newDecodeCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "decode",
		Short:  "Show a token's header and claims without verifying it",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("decode is not built yet")
		},
	}
}
