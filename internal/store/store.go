package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyctl/keyctl/internal/safefile"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// Permissions of what the store creates.
const (
	FilePerm = 0o600
	DirPerm  = 0o700
)

// Options tune Load and Update.
type Options struct {
	// Passphrase is asked, at most once, when an encrypted keyring's
	// private key must be opened or a new key sealed. Nil: such commands
	// fail with ErrNeedPassphrase.
	Passphrase func() ([]byte, error)
	// LockTimeout bounds the wait for another writer (0: DefaultLockTimeout).
	LockTimeout time.Duration
	// Create makes Update start an empty keyring (and its directory, 0700)
	// when none exists.
	Create bool
	// History makes Load read the history too (Update always does); without
	// it Keyring.History stays nil until File.LoadHistory.
	History bool
}

// File is a keyring read from disk.
type File struct {
	Path      string
	Keyring   *keyring.Keyring
	Encrypted bool

	vault *vault
	doc   *document
}

// LoadHistory reads the keyring's history into Keyring.History, if Load
// left it out.
func (f *File) LoadHistory() error {
	if f.doc == nil {
		return nil
	}
	if err := f.doc.loadHistory(); err != nil {
		return &CorruptError{Path: f.Path, Err: err}
	}
	return nil
}

// ErrNotFound reports a keyring file that does not exist.
var ErrNotFound = errors.New("no keyring")

// ErrAlreadyEncrypted and ErrNotEncrypted refuse a pointless Encrypt or
// Decrypt.
var (
	ErrAlreadyEncrypted = errors.New("the keyring is already encrypted")
	ErrNotEncrypted     = errors.New("the keyring is not encrypted")
)

// PermissionError refuses a keyring others can read, as ssh refuses a
// private key: the private keys inside are only as safe as the file.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("keyring %s is accessible by group or others (mode %04o)", e.Path, e.Mode.Perm())
}

// ReadOnlyError refuses to change a keyring whose owner write bit is off:
// chmod 400 is the operator's "do not change".
type ReadOnlyError struct {
	Path string
	Mode fs.FileMode
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("keyring %s is read-only (mode %04o), so keyctl does not change it", e.Path, e.Mode.Perm())
}

// Hint says how to allow changes.
func (e *ReadOnlyError) Hint() string { return "chmod 600 " + e.Path + " to allow changes" }

// CorruptError reports a keyring that cannot be read or fails validation.
// Such a keyring is never rewritten.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string { return fmt.Sprintf("keyring %s: %v", e.Path, e.Err) }
func (e *CorruptError) Unwrap() error { return e.Err }

// Load reads the keyring at path without locking (writers replace the file
// atomically, so a reader sees a whole version). It checks the document's
// structure but parses no key material until a key is used, so listing or
// signing with a large keyring stays fast.
func Load(path string, opts Options) (*File, error) {
	at, err := locate(path)
	if err != nil {
		return nil, err
	}
	if at != path {
		// Reached through a link: the directories holding the links
		// count too (readKeyring checks the real file's).
		if err := safefile.CheckDir(path, "keyring"); err != nil {
			return nil, err
		}
	}
	data, _, err := readKeyring(at)
	if err != nil {
		return nil, err
	}
	return parseFile(path, data, opts)
}

// Parse reads a keyring document held in memory (path is for messages).
func Parse(path string, data []byte, opts Options) (*File, error) { return parseFile(path, data, opts) }

func parseFile(path string, data []byte, opts Options) (*File, error) {
	doc, err := parse(data, opts.Passphrase, opts.History)
	if err != nil {
		return nil, &CorruptError{Path: path, Err: err}
	}
	return &File{Path: path, Keyring: doc.kr, Encrypted: doc.vault != nil, vault: doc.vault, doc: doc}, nil
}

// Marshal encodes the file's keyring as it would be written.
func (f *File) Marshal() ([]byte, error) { return marshal(f.Keyring, f.vault) }

// readKeyring reads the keyring file at path (already resolved), which
// must be a regular file (a FIFO is refused without blocking), owned by
// the user or root, private, in a directory only the user or root can
// write: whoever can replace the file decides which keys are trusted.
func readKeyring(path string) ([]byte, fs.FileInfo, error) {
	file, st, err := safefile.Open(path, safefile.Trusted("keyring"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w at %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, nil, err
	}
	defer file.Close()
	if st.Mode().Perm()&0o077 != 0 {
		return nil, nil, &PermissionError{Path: path, Mode: st.Mode()}
	}
	if st.Size() > MaxFileBytes {
		return nil, nil, &CorruptError{Path: path, Err: fmt.Errorf("larger than %d bytes", MaxFileBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(file, MaxFileBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, nil, &CorruptError{Path: path, Err: fmt.Errorf("larger than %d bytes", MaxFileBytes)}
	}
	return data, st, nil
}

// Update changes the keyring at path under its exclusive lock: it loads
// and fully validates the keyring (a damaged one is reported and left
// untouched), calls fn, validates the result, and replaces the file
// atomically (temporary file, fsync, rename, fsync of the directory). If fn
// returns an error nothing is written.
func Update(path string, opts Options, fn func(*keyring.Keyring) error) (*File, error) {
	return update(path, opts, func(f *File) error { return fn(f.Keyring) })
}

// Encrypt protects every private key of the keyring at path with
// passphrase (see SchemePBES2DataKey); public members stay readable.
func Encrypt(path string, opts Options, passphrase []byte, s keyring.Stamp) (*File, error) {
	return update(path, opts, func(f *File) error {
		if f.vault != nil {
			return ErrAlreadyEncrypted
		}
		v, err := newVault(passphrase)
		if err != nil {
			return err
		}
		f.vault = v
		f.Encrypted = true
		f.Keyring.Note(keyring.ActionEncrypt, s, fmt.Sprintf("private keys encrypted (%s, PBES2-HS256+A128KW, %d iterations)", SchemePBES2DataKey, PBES2Iterations))
		return nil
	})
}

// Decrypt removes the keyring's encryption; opts.Passphrase must unlock it.
func Decrypt(path string, opts Options, s keyring.Stamp) (*File, error) {
	return update(path, opts, func(f *File) error {
		if f.vault == nil {
			return ErrNotEncrypted
		}
		// Open every key now: a wrong passphrase fails before anything is
		// written.
		for _, e := range f.Keyring.Keys {
			if e.Material == nil {
				continue
			}
			if _, err := e.Material.Private(); err != nil {
				return fmt.Errorf("key %q: %w", e.KID, err)
			}
		}
		f.vault = nil
		f.Encrypted = false
		f.Keyring.Note(keyring.ActionDecrypt, s, "private keys stored in the clear")
		return nil
	})
}

// locate resolves every symlink in path once, so that the lock, the
// temporary file, the fsync and the rename all happen at the real keyring,
// in its directory: a write through a link must change the file the link
// points to, not replace the link with a private copy. A path with no link
// in it is used as given, so messages keep the user's spelling.
func locate(path string) (string, error) {
	real, err := safefile.Resolve(path)
	if err != nil {
		return "", fmt.Errorf("keyring %s: %w", path, err)
	}
	if abs, err := filepath.Abs(path); err == nil && abs == real {
		return path, nil
	}
	return real, nil
}

func update(userPath string, opts Options, fn func(*File) error) (*File, error) {
	path, err := locate(userPath)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !opts.Create {
			return nil, fmt.Errorf("%w at %s", ErrNotFound, userPath)
		}
		// The directories to make go under one that passes the directory
		// rule, or are not made at all.
		existing := filepath.Dir(path)
		for {
			if _, err := os.Stat(existing); err == nil || filepath.Dir(existing) == existing {
				break
			}
			existing = filepath.Dir(existing)
		}
		if existing != filepath.Dir(path) {
			if err := safefile.CheckDir(filepath.Join(existing, filepath.Base(path)), "keyring"); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(filepath.Dir(path), DirPerm); err != nil {
			return nil, fmt.Errorf("create keyring directory: %w", err)
		}
	}
	// Before the lock file is made: nothing is created in a directory
	// another user could write.
	if err := safefile.CheckDir(userPath, "keyring"); err != nil {
		return nil, err
	}
	unlock, err := lock(path, opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()
	cleanTemps(path)

	var f *File
	data, st, err := readKeyring(path)
	switch {
	case errors.Is(err, ErrNotFound) && opts.Create:
		f = &File{Path: userPath, Keyring: &keyring.Keyring{}}
	case err != nil:
		return nil, err
	case st.Mode()&0o200 == 0:
		// Checked here, not left to the kernel: root may write any file,
		// and the rename would replace it anyway.
		return nil, &ReadOnlyError{Path: path, Mode: st.Mode()}
	default:
		opts.History = true
		if f, err = parseFile(userPath, data, opts); err != nil {
			return nil, err
		}
		if err := f.Keyring.Validate(); err != nil {
			return nil, &CorruptError{Path: userPath, Err: errors.New(strings.TrimPrefix(err.Error(), keyring.ErrInvalid.Error()+": "))}
		}
	}
	if err := fn(f); err != nil {
		return nil, err
	}
	if err := f.Keyring.Validate(); err != nil {
		return nil, fmt.Errorf("refusing to write an invalid keyring: %w", err)
	}
	out, err := marshal(f.Keyring, f.vault)
	if err != nil {
		return nil, err
	}
	// What is written must read back: a last guard against a bug that
	// would leave an unreadable keyring.
	if len(out) > MaxFileBytes {
		return nil, fmt.Errorf("refusing to write a keyring of %d bytes: every command refuses one over %d (nothing was changed)", len(out), MaxFileBytes)
	}
	if _, err := parse(out, nil, true); err != nil {
		return nil, fmt.Errorf("refusing to write a keyring that would not load: %w", err)
	}
	if err := WriteFileAtomic(path, out, FilePerm); err != nil {
		return nil, fmt.Errorf("write keyring %s: %w", path, err)
	}
	return f, nil
}

// cleanTemps removes temporary files a killed writer left next to the
// keyring. Only called under the lock, when no writer is mid-write. It
// lists the directory and compares names: a glob built from the path would
// read "[", "*" or "?" in a directory name as patterns and reach into
// another keyring's directory.
func cleanTemps(path string) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if isTempOf(e.Name(), filepath.Base(path)) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// isTempOf reports whether name is one of WriteFileAtomic's temporary
// files for base: the prefix, base, "-" and os.CreateTemp's random digits,
// so "keyring.json" never claims the temporary files of "keyring.json-2".
func isTempOf(name, base string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix+base+"-")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
