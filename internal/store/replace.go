package store

import "github.com/keyctl/keyctl/pkg/keyring"

// Replace writes a whole keyring at path under its lock (keys copy): fn
// gets the keyring there (an empty one when none exists and opts.Create)
// and fills it. With passphrase set, a keyring not yet encrypted is
// encrypted with it in the same write, so copied private keys never
// reach the disk in the clear.
func Replace(path string, opts Options, passphrase []byte, fn func(*keyring.Keyring) error) (*File, error) {
	return update(path, opts, func(f *File) error {
		if passphrase != nil && f.vault == nil {
			v, err := newVault(passphrase)
			if err != nil {
				return err
			}
			f.vault, f.Encrypted = v, true
		}
		return fn(f.Keyring)
	})
}
