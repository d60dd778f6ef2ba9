package keystore

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// ErrNotEmpty refuses to copy over a keyring that holds keys.
var ErrNotEmpty = errors.New("the destination keyring already holds keys")

// ErrCopyNeedsPassphrase refuses to copy a sealed keyring into a file in
// the clear.
var ErrCopyNeedsPassphrase = errors.New("the source keyring is sealed, and a file keyring is encrypted only with a passphrase; none was given")

// SourceError is a failure reading the source of a copy.
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

// CopyOptions tune Copy.
type CopyOptions struct {
	// Force replaces a destination that holds keys.
	Force bool
	// Stamp records the copy in the history.
	Stamp keyring.Stamp
	// FilePassphrase encrypts a file destination (required when the source
	// is sealed: keys never reach a file in the clear by a copy).
	FilePassphrase func() ([]byte, error)
	// InsecurePlaintext lets a sealed source reach a file in the clear.
	InsecurePlaintext bool
	// Replaced, if set, receives the destination's live keys (not
	// deleted) that the copy replaced and the source does not hold, "KID
	// (in use)" for the one that signed: with Force, what is gone.
	Replaced *[]string
}

// Copy writes the whole keyring of from into to: kids, states,
// timestamps, settings and history, with the private keys re-sealed by the
// destination (its passphrase or master key). It refuses a destination that
// holds keys unless o.Force.
func Copy(ctx context.Context, from, to Store, o CopyOptions) (src, dst *Handle, err error) {
	src, err = from.Load(ctx, true)
	if err != nil {
		return nil, nil, &SourceError{err}
	}
	// Open every private key first: a wrong secret fails before anything
	// is written.
	for _, e := range src.Keyring.Keys {
		if e.Material == nil {
			continue
		}
		if _, err := e.Material.Private(); err != nil {
			return src, nil, &SourceError{fmt.Errorf("key %q: %w", e.KID, err)}
		}
	}
	note := fmt.Sprintf("copied from %s (%d keys)", from.Location(), len(src.Keyring.Keys))
	fill := func(kr *keyring.Keyring) error {
		if len(kr.Keys) > 0 && !o.Force {
			return fmt.Errorf("%w (%d)", ErrNotEmpty, len(kr.Keys))
		}
		if o.Replaced != nil {
			*o.Replaced = nil // fill may run again (a retried transaction)
			for _, e := range kr.Keys {
				if e.Material == nil {
					continue
				}
				if _, err := src.Keyring.Lookup(e.KID); err == nil {
					continue
				}
				w := e.KID
				if e.State == keyring.InUse {
					w += " (in use)"
				}
				*o.Replaced = append(*o.Replaced, w)
			}
		}
		history := append([]keyring.Event(nil), src.Keyring.History...)
		*kr = *src.Keyring
		kr.Keys = append([]*keyring.Entry(nil), src.Keyring.Keys...)
		kr.History = history
		kr.Note(keyring.ActionCopy, o.Stamp, note)
		return nil
	}
	dst, err = to.replace(ctx, src, o, fill)
	return src, dst, err
}

func (t *fileStore) replace(_ context.Context, src *Handle, o CopyOptions, fill func(*keyring.Keyring) error) (*Handle, error) {
	var pass []byte
	if src.Encrypted {
		var perr error
		if o.FilePassphrase != nil {
			pass, perr = o.FilePassphrase()
		}
		if perr != nil && !errors.Is(perr, store.ErrNeedPassphrase) {
			return nil, perr
		}
		if pass == nil && !o.InsecurePlaintext {
			return nil, ErrCopyNeedsPassphrase
		}
	}
	f, err := store.Replace(t.path, t.options(true, false), pass, fill)
	if err != nil {
		return nil, err
	}
	return fileHandle(f), nil
}

func (t *pgStore) replace(ctx context.Context, src *Handle, o CopyOptions, fill func(*keyring.Keyring) error) (*Handle, error) {
	po := pgOptions(t.o, true)
	po.Replace = o.Force
	if src.Seal == SealPassphrase && t.o.MasterKey == nil && t.o.Passphrase != nil {
		po.CreateScheme = pgstore.SchemePassphrase
	}
	kr, err := t.pg.WithOptions(po).Update(ctx, func(kr *pgstore.Keyring) error {
		if err := fill(kr.Keyring); err != nil {
			return err
		}
		// fill put the source's history first, then the copy's own event.
		kr.Copied = len(src.Keyring.History)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.handle(kr), nil
}
