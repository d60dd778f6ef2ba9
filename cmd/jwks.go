package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/ui"
)

type jwksOptions struct {
	F      *Factory
	IO     *ui.IO
	Output string
}

func newJWKSCmd(f *Factory) *cobra.Command {
	o := &jwksOptions{F: f, IO: f.IO}
	c := &cobra.Command{
		Use:   "jwks",
		Short: "Print the public JWKS of the keyring's trusted keys",
		Long: `Print the JWK Set verifiers need: the public half of every asymmetric key
in standby, in use or previously used, each with kid, alg, use "sig" and
key_ops ["verify"]. Private members and shared secrets are never printed;
revoked and deleted keys are left out.

One compact line, a raw artefact for files and pipes ({"keys":[...]}, as
Supabase Auth serves at /auth/v1/.well-known/jwks.json); -o json indents
it. Needs no passphrase. "keyctl serve" publishes the same set over HTTP.`,
		Example: `  keyctl jwks > public/.well-known/jwks.json
  keyctl jwks | jq -r '.keys[].kid'`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runJWKS(o) },
	}
	addKeyringFlag(c, f)
	c.Flags().StringVarP(&o.Output, "output", "o", "", "output: compact (default, one line) or json (indented)")
	_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"compact\tone line (default)", "json\tindented"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runJWKS(o *jwksOptions) error {
	if o.Output != "" && o.Output != "compact" && o.Output != "json" {
		return &UsageError{Err: fmt.Errorf("output format %q: want compact or json", o.Output)}
	}
	path, err := keyringPath(o.F)
	if err != nil {
		return err
	}
	set, where, err := loadKeyringPublicSet(o.F, path)
	if err != nil {
		return err
	}
	if len(set.Keys) == 0 {
		o.IO.Warnf("no key to publish: the keyring %s has no asymmetric key in standby, in use or previously used", where)
	}
	if o.Output == "json" {
		return o.IO.PrintJSON(set)
	}
	data, err := json.Marshal(set)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.IO.Out, "%s\n", data)
	return err
}
