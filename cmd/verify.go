package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

// TODO(issue): placeholder until the command lands.
func newVerifyCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:    "verify",
		Short:  "Verify a token strictly against a JWKS, a key or the keyring",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("verify is not built yet")
		},
	}
}
