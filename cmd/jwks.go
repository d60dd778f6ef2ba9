package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(issue): placeholder until the command lands.
func newJWKSCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "jwks",
		Short:  "Print the public JWKS of the keyring's trusted keys",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("jwks is not built yet")
		},
	}
}
