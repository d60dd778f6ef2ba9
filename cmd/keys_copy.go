package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/keystore"
)

// --- keys copy ---

type keysCopyOptions struct {
	*keysCommon
	From, To         string
	FromName, ToName string
	Force            bool
}

func newKeysCopyCmd(kc *keysCommon) *cobra.Command {
	o := &keysCopyOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "copy --from SRC --to DST",
		Short: "Copy a whole keyring between a file and PostgreSQL",
		Long: `Copy a whole keyring from SRC to DST, each a file path, file:///path or
postgres://... URI: every key with its kid, state and timestamps, the
settings and the history, plus a "copy" event. Private keys are opened with
the source's secret and sealed again by the destination: a PostgreSQL
destination with its master key (KEYCTL_MASTER_KEY, --master-key-file) or
passphrase, a file destination encrypted with the passphrase when the
source was encrypted or sealed.

A destination that already holds keys is refused unless --force, which
replaces its keys (a database keyring's history is append-only: the copied
events are added to it). The source is never changed. --from-name and
--to-name name the keyrings within a database (default "default").`,
		Example: `  keyctl keys copy --from ~/.config/keyctl/keyring.json --to postgres://keyctl@db.internal/keys
  keyctl keys copy --from postgres:///keys --to ./backup-keyring.json`,
		Args: noArgs(nil),
		RunE: func(c *cobra.Command, args []string) error { return runKeysCopy(c.Context(), o) },
	}
	fl := c.Flags()
	fl.StringVar(&o.From, "from", "", "the keyring to copy: a path or postgres://... (required)")
	fl.StringVar(&o.To, "to", "", "where to copy it: a path or postgres://... (required)")
	fl.StringVar(&o.FromName, "from-name", "", "the source keyring's name within its database")
	fl.StringVar(&o.ToName, "to-name", "", "the destination keyring's name within its database")
	fl.BoolVar(&o.Force, "force", false, "replace the keys of a destination that holds some")
	fl.StringVar(&kc.F.Open.MasterKeyFile, "master-key-file", "", "file holding the master key of the PostgreSQL side(s) (also KEYCTL_MASTER_KEY_FILE or KEYCTL_MASTER_KEY)")
	return c
}

func runKeysCopy(ctx context.Context, o *keysCopyOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.From == "" || o.To == "" {
		return withHint(&UsageError{Err: errors.New("keys copy needs --from SRC and --to DST")}, "e.g. keyctl keys copy --from keyring.json --to postgres://keyctl@db/keys")
	}
	open := func(loc, name string) (keystore.Store, error) {
		saved := o.F.Open.Name
		o.F.Open.Name = name
		defer func() { o.F.Open.Name = saved }()
		return openKeyringAt(o.F, loc, o.PassphraseFile, o.LockTimeout)
	}
	from, err := open(o.From, o.FromName)
	if err != nil {
		return err
	}
	to, err := open(o.To, o.ToName)
	if err != nil {
		return err
	}
	if from.Location() == to.Location() || keystore.Same(from, to) {
		return &UsageError{Err: fmt.Errorf("--from and --to name the same keyring (%s)", from.Location())}
	}
	var replaced []string
	src, dst, err := keystore.Copy(ctx, from, to, keystore.CopyOptions{
		Replaced:          &replaced,
		Force:             o.Force,
		Stamp:             o.stamp(),
		FilePassphrase:    keyringPassphrase(o.F, to.Location(), o.PassphraseFile),
		InsecurePlaintext: o.F.Open.InsecurePlaintext,
	})
	var se *keystore.SourceError
	switch {
	case err == nil:
	case errors.As(err, &se):
		return keyringError(from.Location(), se.Err)
	case errors.Is(err, keystore.ErrNotEmpty):
		return withHint(fmt.Errorf("keyring %s: %w", to.Location(), err), "nothing was changed; --force replaces its keys")
	case errors.Is(err, keystore.ErrCopyNeedsPassphrase):
		return withHint(err, "set KEYCTL_PASSPHRASE (or --passphrase-file) to encrypt the copy; --insecure-plaintext writes it in the clear")
	default:
		return keyringError(to.Location(), err)
	}
	if len(replaced) > 0 {
		o.IO.Warnf("--force replaced keys of %s that %s does not hold: %s; their private keys are gone from it, and what they signed no longer verifies against it", to.Location(), from.Location(), strings.Join(replaced, ", "))
	}
	o.IO.Infof("copied %d keys and %d history events from %s to %s (%s)", len(src.Keyring.Keys), len(src.Keyring.History), from.Location(), to.Location(), sealWords(dst))
	return nil
}

// sealWords says how a keyring's private keys are protected.
func sealWords(h *keystore.Handle) string {
	switch h.Seal {
	case keystore.SealPassphrase:
		return "private keys encrypted with a passphrase"
	case keystore.SealMasterKey:
		return "private keys sealed with the master key"
	case keystore.SealPlaintext:
		return "private keys NOT sealed"
	}
	return "private keys in the clear, file mode 0600"
}
