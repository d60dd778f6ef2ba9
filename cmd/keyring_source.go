package cmd

import (
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

// The keyring's contract with the rest of the command tree. The keyring
// issue fills these in; until then they report errNoKeyring.

// keyringSigningKey returns the keyring's key in use, or the key named kid
// if its state lets it sign (standby or in use; never revoked or deleted).
func keyringSigningKey(f *Factory, kid string) (*jwk.Key, error) {
	return nil, errNoKeyring
}

// keyringVerificationKeys returns every key of the keyring with its state,
// revoked and deleted ones included (material may be nil for deleted keys),
// for `keyctl verify`'s default key source.
func keyringVerificationKeys(f *Factory) ([]jwt.TrustedKey, error) {
	return nil, errNoKeyring
}

// keyringPath returns the keyring file keyctl uses: --keyring,
// KEYCTL_KEYRING, the config file, else $XDG_CONFIG_HOME/keyctl/keyring.json.
func keyringPath(f *Factory) (string, error) {
	return "", errNoKeyring
}

// loadKeyringPublicSet reads the keyring file at path and returns its
// public JWKS (standby, in use and previously used asymmetric keys), for
// `keyctl jwks` and `keyctl serve`. It needs no passphrase.
func loadKeyringPublicSet(path string) (*jwk.Set, error) {
	return nil, errNoKeyring
}
