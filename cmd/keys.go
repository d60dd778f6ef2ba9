package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/keystore"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// keysCommon is what every keys subcommand shares: the factory and the
// keys group's persistent flags.
type keysCommon struct {
	F              *Factory
	IO             *ui.IO
	Now            func() time.Time
	PassphraseFile string
	LockTimeout    time.Duration
}

func newKeysCmd(f *Factory) *cobra.Command {
	kc := &keysCommon{F: f, IO: f.IO, Now: f.Now}
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the keyring: create, rotate, revoke, import, export",
		Long: `Manage the keyring, a local file of signing keys that follow Supabase's
signing-key lifecycle:

  create, import      (new)                     -> standby
  rotate [KID]        standby                   -> in use  (the key in use -> previously used)
  revoke KID          previously used, standby  -> revoked
  standby KID         previously used, revoked  -> standby
  delete KID          revoked, standby          -> deleted (private key destroyed, kid kept)

Standby, in-use and previously used keys are trusted and published by
"keyctl jwks"; exactly one key signs ("keyctl gen bearer-jwt"). Every move is
reversible except delete. Revoking a key rotated out less than the max token
lifetime plus 15 minutes ago is refused unless --force.

The keyring is $XDG_CONFIG_HOME/keyctl/keyring.json unless --keyring,
KEYCTL_KEYRING or the config file say otherwise. It is written atomically
under a lock, mode 0600; "keys encrypt" protects its private keys with a
passphrase (KEYCTL_PASSPHRASE, --passphrase-file or a prompt).`,
		Args: groupArgs,
		RunE: groupRunE,
	}
	pf := c.PersistentFlags()
	pf.StringVar(&kc.PassphraseFile, "passphrase-file", "", "file holding the passphrase of an encrypted keyring (also KEYCTL_PASSPHRASE_FILE; else KEYCTL_PASSPHRASE or a prompt)")
	pf.BoolVar(&kc.F.Open.InsecurePlaintext, "insecure-plaintext", false, "create a keyring in PostgreSQL without sealing its private keys (throw-away use only; every write warns)")
	pf.DurationVar(&kc.LockTimeout, "lock-timeout", store.DefaultLockTimeout, "how long to wait for another keyctl changing the keyring (0: do not wait)")
	c.AddCommand(
		newKeysCreateCmd(kc), newKeysImportCmd(kc),
		newKeysRotateCmd(kc), newKeysRevokeCmd(kc), newKeysStandbyCmd(kc), newKeysDeleteCmd(kc),
		newKeysListCmd(kc), newKeysShowCmd(kc), newKeysHistoryCmd(kc),
		newKeysMigrateLegacyCmd(kc), newKeysExportCmd(kc), newKeysImportSupabaseCmd(kc),
		newKeysEncryptCmd(kc), newKeysDecryptCmd(kc), newKeysMaxTokenLifetimeCmd(kc), newKeysJWKSCacheWindowCmd(kc),
		newKeysCopyCmd(kc),
	)
	return c
}

// open opens the keyring the command names (a file or a database).
func (kc *keysCommon) open() (keystore.Store, error) {
	t := kc.LockTimeout
	if t == 0 {
		t = -1 // the stores' "do not wait"; their 0 is their default
	}
	return openKeyring(kc.F, kc.PassphraseFile, t)
}

// load reads the keyring for a read-only command.
func (kc *keysCommon) load(history bool) (*keystore.Handle, error) {
	s, err := kc.open()
	if err != nil {
		return nil, err
	}
	f, err := s.Load(context.Background(), history)
	if err != nil {
		return nil, keyringError(s.Location(), err)
	}
	return f, nil
}

// update changes the keyring under exclusive access; create starts a new
// keyring when none exists.
func (kc *keysCommon) update(create bool, fn func(kr *keyring.Keyring) error) (*keystore.Handle, error) {
	s, err := kc.open()
	if err != nil {
		return nil, err
	}
	f, err := s.Update(context.Background(), create, fn)
	if err != nil {
		return nil, keyringError(s.Location(), err)
	}
	return f, nil
}

func (kc *keysCommon) stamp() keyring.Stamp { return keyringStamp(kc.F) }

// completeKIDs completes the first argument with the kids of keys in the
// given states (all keys when none), each with its algorithm, state and
// age: `keys rotate <TAB>` offers standby keys only.
func completeKIDs(kc *keysCommon, states ...keyring.State) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		s, err := kc.open()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		f, err := s.Load(c.Context(), false)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		entries := f.Keyring.Keys
		if len(states) > 0 {
			entries = f.Keyring.Filter(states...)
		}
		now := kc.Now()
		var out []string
		for _, e := range entries {
			if !strings.HasPrefix(e.KID, toComplete) {
				continue
			}
			out = append(out, fmt.Sprintf("%s\t%s %s, created %s", e.KID, e.Alg, e.State.Label(), ui.Relative(e.Created, now)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// oneKID accepts exactly one KID argument, with a usage error naming it.
func oneKID(c *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return withHint(&UsageError{Err: fmt.Errorf("%s needs the kid of a key", strings.TrimPrefix(c.CommandPath(), "keyctl "))}, "list the keys: keyctl keys list")
	case len(args) > 1:
		return &UsageError{Err: fmt.Errorf("%s takes one kid (got %d arguments)", strings.TrimPrefix(c.CommandPath(), "keyctl "), len(args))}
	}
	return nil
}

// fmtTime shows t for format: words relative to now in a table, RFC 3339
// otherwise.
func fmtTime(t, now time.Time, format string) string { return ui.FormatTime(t, now, format) }

// rfc3339 is t in UTC for JSON, or "" for a zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
