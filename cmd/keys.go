package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(issue): placeholder until the command lands.
func newKeysCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "keys",
		Short:  "Manage the keyring: create, rotate, revoke, import, export",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("keys is not built yet")
		},
	}
}
