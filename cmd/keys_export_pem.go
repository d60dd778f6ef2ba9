package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/pkg/keyring"
)

// keys export --format pem: one key of the keyring as PEM, for the tools
// that take PEM (openssl, jsonwebtoken, python-jose).

// keysExportPEMOptions are the flags only --format pem reads.
type keysExportPEMOptions struct {
	KID    string
	Public bool
}

func addKeysExportPEMFlags(c *cobra.Command, o *keysExportOptions) {
	c.Flags().StringVar(&o.pem.KID, "kid", "", "with --format pem: the key to export (default the key in use)")
	c.Flags().BoolVar(&o.pem.Public, "public", false, "with --format pem: the public key only (SPKI)")
	_ = c.RegisterFlagCompletionFunc("kid", completeKIDs(o.keysCommon, keyring.Standby, keyring.InUse, keyring.PreviouslyUsed, keyring.Revoked))
}

// usesPEM reports whether keys export runs the PEM export: --format pem, or
// a flag only it takes (which it then refuses without --format pem).
func (o *keysExportOptions) usesPEM(c *cobra.Command) bool {
	return o.Format == "pem" || c.Flags().Changed("kid") || c.Flags().Changed("public")
}

func runKeysExportPEM(o *keysExportOptions) error {
	switch {
	case o.Format != "pem":
		return withHint(&UsageError{Err: errors.New("--kid and --public go with --format pem")}, "keyctl keys export --format pem --kid KID")
	case o.Service != "":
		return &UsageError{Err: errors.New("--service picks a variable of the stack's formats, not of --format pem")}
	}
	f, err := o.load(false)
	if err != nil {
		return err
	}
	if err := notTheKeyring(o.Out, f.Path); err != nil {
		return err
	}
	var e *keyring.Entry
	if o.pem.KID == "" {
		if e, err = f.Keyring.SigningKey(); err != nil {
			return withHint(fmt.Errorf("keyring %s: %w", f.Path, err), "name the key to export: keyctl keys export --format pem --kid KID (keyctl keys list shows the kids)")
		}
	} else if e, err = f.Keyring.Lookup(o.pem.KID); err != nil {
		return withHint(fmt.Errorf("keyring %s: %w", f.Path, err), "list the keys: keyctl keys list")
	}
	switch {
	case e.Material == nil:
		return fmt.Errorf("key %q is deleted: its key material is gone", e.KID)
	case e.Symmetric():
		return withHint(fmt.Errorf("key %q is an HS256 shared secret, which has no PEM form", e.KID), "verifiers take the secret itself; keyctl keys export --format gotrue holds it as a JWK")
	}
	if e.State == keyring.Revoked {
		o.IO.Warnf("key %s is revoked: keyctl no longer trusts the tokens it signs", e.KID)
	}
	k, err := e.Material.Private()
	if o.pem.Public {
		k, err = e.Material.Public()
	}
	if err != nil {
		return materialError(f.Path, e.KID, err)
	}
	out, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	return writePEM(o.F, out, o.Out, o.Force, !o.pem.Public)
}
