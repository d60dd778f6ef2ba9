package cmd

import (
	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/ui"
)

// completeOutputFormats completes -o/--output on every command that has
// it: table, text and json, each with what it is for. Register it with
//
//	_ = c.RegisterFlagCompletionFunc("output", completeOutputFormats)
func completeOutputFormats(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return ui.OutputFormatCompletions, cobra.ShellCompDirectiveNoFileComp
}
