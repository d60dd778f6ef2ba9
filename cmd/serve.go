package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(issue): placeholder until the command lands.
func newServeCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "serve",
		Short:  "Serve the keyring's JWKS over HTTP",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("serve is not built yet")
		},
	}
}
