package cmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/ui"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// --- keys rotate ---

type keysRotateOptions struct {
	*keysCommon
	KID   string
	Force bool
}

func newKeysRotateCmd(kc *keysCommon) *cobra.Command {
	o := &keysRotateOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "rotate [KID]",
		Short: "Put a standby key in use; the key in use becomes previously used",
		Long: `Put a standby key in use: from now on it signs new tokens. The key in use
before becomes previously used: still trusted and published, so the tokens
it signed keep verifying until they expire. Nobody is signed out.

Without KID the only standby key is taken; with several, name one. To go
back, move the old key to standby and rotate to it.

While another key (or the legacy secret) is in use, a key published for
less than the JWKS cache window (the keyring's, default 20m; see "keyctl
keys jwks-cache-window") is refused: verifiers that cached the JWKS before
it existed would reject every token it signs. The error says when rotating
becomes safe. A key counts as published from its creation or import, or
from its move back from revoked to standby. --force rotates at once, for an
incident. The first key of a keyring needs no wait.`,
		Example: `  keyctl keys rotate
  keyctl keys rotate 5b0c3c9e-3f5e-4a53-9d3c-0d5d0a9b2f11`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &UsageError{Err: fmt.Errorf("keys rotate takes at most one kid (got %d arguments)", len(args))}
			}
			return nil
		},
		ValidArgsFunction: completeKIDs(kc, keyring.StatesFor(keyring.ActionRotate)...),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.KID = args[0]
			}
			return runKeysRotate(o)
		},
	}
	addKeyringFlag(c, kc.F)
	c.Flags().BoolVarP(&o.Force, "force", "f", false, "rotate now, even if verifiers' cached JWKS may not hold the key yet")
	return c
}

// rotationError gives a refused early rotation its way out.
func rotationError(err error) error {
	var early *keyring.RotationTooEarlyError
	if errors.As(err, &early) {
		return withHint(err, "rotating is safe from %s; --force rotates now (an incident: verifiers with an older JWKS reject new tokens until their cache refreshes)", early.SafeAt.UTC().Format(time.RFC3339))
	}
	return err
}

func runKeysRotate(o *keysRotateOptions) error {
	var cur, prev keyring.Entry
	var hadPrev bool
	var lifetime time.Duration
	var forced string
	_, err := o.update(false, func(kr *keyring.Keyring) error {
		c, p, err := kr.Rotate(o.KID, o.stamp(), keyring.Options{Force: o.Force})
		if err != nil {
			return err
		}
		cur, lifetime = *c, kr.Lifetime()
		forced = kr.History[len(kr.History)-1].Note
		if p != nil {
			prev, hadPrev = *p, true
		}
		return nil
	})
	if err != nil {
		return rotationError(err)
	}
	if forced != "" {
		o.IO.Warnf("rotated to %s before every cached JWKS can hold it (%s): verifiers with an older JWKS reject its tokens until they refresh", cur.KID, forced)
	}
	if !hadPrev {
		o.IO.Infof("%s (%s) is in use: it signs new tokens", cur.KID, cur.Alg)
		o.IO.Hintf("mint a token: keyctl gen bearer-jwt --role authenticated")
		return nil
	}
	o.IO.Infof("%s (%s) is in use; %s is previously used and still verifies the tokens it signed", cur.KID, cur.Alg, prev.KID)
	safe, _ := keyring.SafeToRevoke(&prev, lifetime)
	o.IO.Hintf("revoke %s from %s (max token lifetime %s + %s): keyctl keys revoke %s",
		prev.KID, safe.UTC().Format(time.RFC3339), keyring.ShortDuration(lifetime), keyring.ShortDuration(keyring.RevocationGrace), shellQuote(prev.KID))
	return nil
}

// --- keys revoke ---

type keysRevokeOptions struct {
	*keysCommon
	KID              string
	Force            bool
	MaxTokenLifetime time.Duration
	lifetimeSet      bool
}

func newKeysRevokeCmd(kc *keysCommon) *cobra.Command {
	o := &keysRevokeOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "revoke KID",
		Short: "Stop trusting a previously used or standby key",
		Long: `Revoke a previously used or standby key: it leaves the JWKS and no longer
verifies tokens. "keyctl keys standby KID" undoes it.

A key that was in use is refused until the tokens it signed have expired:
the max token lifetime (the keyring's, default 1h; see "keyctl keys
max-token-lifetime") plus 15 minutes after it was rotated out, as Supabase
advises. The error says when that is. --force revokes at once, for an
incident (a leaked key): the tokens it signed stop verifying.`,
		Example: `  keyctl keys revoke 5b0c3c9e-3f5e-4a53-9d3c-0d5d0a9b2f11
  keyctl keys revoke --force LEAKED-KID`,
		Args:              oneKID,
		ValidArgsFunction: completeKIDs(kc, keyring.StatesFor(keyring.ActionRevoke)...),
		RunE: func(c *cobra.Command, args []string) error {
			o.KID = args[0]
			o.lifetimeSet = c.Flags().Changed("max-token-lifetime")
			return runKeysRevoke(o)
		},
	}
	addKeyringFlag(c, kc.F)
	fl := c.Flags()
	fl.BoolVarP(&o.Force, "force", "f", false, "revoke now, even if tokens the key signed may still be valid")
	fl.DurationVar(&o.MaxTokenLifetime, "max-token-lifetime", 0, "longest token lifetime for this revocation (default the keyring's)")
	config.Bind(fl, "max-token-lifetime", "max_token_lifetime")
	return c
}

// checkLifetimeFlag checks the --max-token-lifetime of a move that waits
// for tokens to expire (revoke, delete).
func checkLifetimeFlag(d time.Duration, set bool) error {
	if d > keyring.MaxMaxTokenLifetime {
		return &UsageError{Err: fmt.Errorf("--max-token-lifetime %s is longer than %s, the longest keyctl knows", keyring.ShortDuration(d), keyring.ShortDuration(keyring.MaxMaxTokenLifetime))}
	}
	if d < 0 || (set && d == 0) {
		return withHint(&UsageError{Err: fmt.Errorf("--max-token-lifetime must be positive, not %s", keyring.ShortDuration(d))},
			"leave it out to use the keyring's (keyctl keys max-token-lifetime)")
	}
	return nil
}

func runKeysRevoke(o *keysRevokeOptions) error {
	if err := checkLifetimeFlag(o.MaxTokenLifetime, o.lifetimeSet); err != nil {
		return err
	}
	var forced string
	_, err := o.update(false, func(kr *keyring.Keyring) error {
		_, err := kr.Revoke(o.KID, o.stamp(), keyring.Options{Force: o.Force, MaxTokenLifetime: o.MaxTokenLifetime})
		if err == nil {
			forced = kr.History[len(kr.History)-1].Note
		}
		return err
	})
	if err != nil {
		return err
	}
	if forced != "" {
		o.IO.Warnf("revoked %s before its tokens expired (%s): they no longer verify", o.KID, forced)
	}
	o.IO.Infof("revoked %s: it is no longer trusted or published", o.KID)
	o.IO.Hintf("undo with: keyctl keys standby %s", shellQuote(o.KID))
	return nil
}

// --- keys standby ---

type keysStandbyOptions struct {
	*keysCommon
	KID string
}

func newKeysStandbyCmd(kc *keysCommon) *cobra.Command {
	o := &keysStandbyOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "standby KID",
		Short: "Move a revoked or previously used key back to standby",
		Long: `Move a revoked or previously used key back to standby: trusted and published
again, and ready to be rotated back into use.`,
		Example:           `  keyctl keys standby 5b0c3c9e-3f5e-4a53-9d3c-0d5d0a9b2f11`,
		Args:              oneKID,
		ValidArgsFunction: completeKIDs(kc, keyring.StatesFor(keyring.ActionStandby)...),
		RunE: func(c *cobra.Command, args []string) error {
			o.KID = args[0]
			return runKeysStandby(o)
		},
	}
	addKeyringFlag(c, kc.F)
	return c
}

func runKeysStandby(o *keysStandbyOptions) error {
	var from keyring.State
	_, err := o.update(false, func(kr *keyring.Keyring) error {
		e, err := kr.Lookup(o.KID)
		if err == nil {
			from = e.State
		}
		_, err = kr.Standby(o.KID, o.stamp())
		return err
	})
	if err != nil {
		return err
	}
	o.IO.Infof("%s is back in standby (was %s): trusted and published again", o.KID, from.Label())
	o.IO.Hintf("to sign with it again: keyctl keys rotate %s", shellQuote(o.KID))
	return nil
}

// --- keys delete ---

type keysDeleteOptions struct {
	*keysCommon
	KID              string
	Yes              bool
	Force            bool
	MaxTokenLifetime time.Duration
	lifetimeSet      bool
}

func newKeysDeleteCmd(kc *keysCommon) *cobra.Command {
	o := &keysDeleteOptions{keysCommon: kc}
	c := &cobra.Command{
		Use:   "delete KID",
		Short: "Destroy a revoked or standby key; its kid is kept so it is never reused",
		Long: `Delete a revoked or standby key: its private key (or secret) is destroyed and
a tombstone keeps the kid, so it is never reused and "keyctl keys history"
still tells its story. This cannot be undone.

keyctl asks on a terminal; in a script pass --yes. The legacy JWT secret is
only deleted with --force (legacy API keys signed with it stop verifying for
good), and so is a standby key rotated out too recently to stop trusting.`,
		Example: `  keyctl keys delete 5b0c3c9e-3f5e-4a53-9d3c-0d5d0a9b2f11
  keyctl keys delete --yes OLD-KID`,
		Args:              oneKID,
		ValidArgsFunction: completeKIDs(kc, keyring.StatesFor(keyring.ActionDelete)...),
		RunE: func(c *cobra.Command, args []string) error {
			o.KID = args[0]
			o.lifetimeSet = c.Flags().Changed("max-token-lifetime")
			return runKeysDelete(o)
		},
	}
	addKeyringFlag(c, kc.F)
	fl := c.Flags()
	fl.BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	fl.BoolVar(&o.Force, "force", false, "also delete the legacy JWT secret, or a key whose tokens may still be valid (implies --yes)")
	fl.DurationVar(&o.MaxTokenLifetime, "max-token-lifetime", 0, "longest token lifetime for this deletion's wait (default the keyring's)")
	config.Bind(fl, "max-token-lifetime", "max_token_lifetime")
	return c
}

func runKeysDelete(o *keysDeleteOptions) error {
	if err := checkLifetimeFlag(o.MaxTokenLifetime, o.lifetimeSet); err != nil {
		return err
	}
	opts := keyring.Options{Force: o.Force, MaxTokenLifetime: o.MaxTokenLifetime}
	// Check the move before asking, so nobody confirms a refused delete.
	f, err := o.load(false)
	if err != nil {
		return err
	}
	probe := &keyring.Keyring{MaxTokenLifetime: f.Keyring.MaxTokenLifetime, Keys: f.Keyring.Keys}
	if _, err := probe.Delete(o.KID, o.stamp(), opts); err != nil {
		return keyringError(f.Path, err)
	}
	if !o.Yes && !o.Force {
		if !o.IO.CanPrompt() {
			return withHint(fmt.Errorf("keys delete destroys the private key of %s and needs confirmation", o.KID), "pass --yes to delete without asking")
		}
		ok, err := ui.Confirm(o.IO, fmt.Sprintf("Delete key %s? Its private key is destroyed; this cannot be undone.", o.KID), false)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("nothing deleted")
		}
	}
	_, err = o.update(false, func(kr *keyring.Keyring) error {
		_, err := kr.Delete(o.KID, o.stamp(), opts)
		return err
	})
	if err != nil {
		return err
	}
	o.IO.Infof("deleted %s: its private key is destroyed; the kid stays reserved", o.KID)
	return nil
}
