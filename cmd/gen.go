package cmd

import (
	"github.com/spf13/cobra"
)

func newGenCmd(f *Factory) *cobra.Command {
	c := &cobra.Command{
		Use:   "gen",
		Short: "Generate signing keys and bearer tokens (as the Supabase CLI's gen does)",
		Args:  groupArgs,
		RunE:  groupRunE,
	}
	c.AddCommand(newGenSigningKeyCmd(f), newGenBearerJWTCmd(f))
	return c
}
