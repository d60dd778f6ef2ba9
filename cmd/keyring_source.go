package cmd

import "github.com/keyctl/keyctl/pkg/jwk"

// keyringSigningKey returns the keyring's key in use (or the key named kid,
// if it may sign). Placeholder until the keyring lands.
func keyringSigningKey(f *Factory, kid string) (*jwk.Key, error) {
	return nil, errNoKeyring
}
