package cmd

import "github.com/spf13/cobra"

func newSupabaseDoctorCmd(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "doctor", Hidden: true}
}
