// Package keystore is the seam between keyctl's commands and where a
// keyring lives: a file (internal/store) or a PostgreSQL database
// (internal/pgstore). Both run the same lifecycle, pkg/keyring; a command
// opens a keyring from its location (a path, file://..., postgres://...)
// with Open and never learns which store it talks to.
package keystore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// Kind is a store's backend.
type Kind string

// The stores.
const (
	File     Kind = "file"
	Postgres Kind = "postgres"
)

// Seal names how a keyring's private keys are protected.
const (
	SealNone       = "none"       // a file keyring, not encrypted
	SealPassphrase = "passphrase" // encrypted under a passphrase
	SealMasterKey  = "master-key" // PostgreSQL: sealed under a master key
	SealPlaintext  = "plaintext"  // PostgreSQL: created with --insecure-plaintext
)

// Options say how to open a keyring.
type Options struct {
	// Name is the keyring within a database (pgstore.DefaultName when
	// empty). A file keyring has no name: a non-default one is refused.
	Name string
	// Passphrase and MasterKey are asked, at most once, when a private key
	// must be opened or sealed.
	Passphrase func() ([]byte, error)
	MasterKey  func() ([]byte, error)
	// InsecurePlaintext lets Update create a PostgreSQL keyring without a
	// seal.
	InsecurePlaintext bool
	// LockTimeout bounds the wait for another writer (0: the store's
	// default).
	LockTimeout time.Duration
	// Warn receives warnings (writes to an unsealed PostgreSQL keyring).
	Warn func(format string, args ...any)
	// Now is the clock changes are stamped with; a PostgreSQL keyring
	// refuses writes from a clock far from the server's.
	Now func() time.Time
}

// Handle is a keyring as loaded or written.
type Handle struct {
	// Path is where the keyring lives, for messages: the file's path, or
	// the redacted URI and the keyring's name.
	Path    string
	Keyring *keyring.Keyring
	// Encrypted reports private keys protected by a secret (a file's
	// passphrase, a database seal).
	Encrypted bool
	// Seal is one of the Seal* names.
	Seal string
	// Version counts the changes of a PostgreSQL keyring (0 for a file).
	Version int64

	loadHistory func() error
}

// LoadHistory reads the history into Keyring.History if Load left it out.
func (h *Handle) LoadHistory() error {
	if h.loadHistory == nil || h.Keyring.History != nil {
		return nil
	}
	return h.loadHistory()
}

// Store is one keyring's home.
type Store interface {
	Kind() Kind
	// Location names the keyring for messages (never with a password).
	Location() string
	// Load reads the keyring (and its history when asked), without a lock.
	Load(ctx context.Context, history bool) (*Handle, error)
	// Update changes the keyring under exclusive access: fn runs on the
	// current keyring and its result is written whole, or nothing is.
	// create starts an empty keyring when none exists.
	Update(ctx context.Context, create bool, fn func(*keyring.Keyring) error) (*Handle, error)
	// Encrypt protects the private keys with passphrase; Decrypt removes
	// the protection (a PostgreSQL keyring only with InsecurePlaintext).
	Encrypt(ctx context.Context, passphrase []byte, s keyring.Stamp) (*Handle, error)
	Decrypt(ctx context.Context, s keyring.Stamp) (*Handle, error)

	// replace writes a whole keyring (Copy).
	replace(ctx context.Context, src *Handle, o CopyOptions, fill func(*keyring.Keyring) error) (*Handle, error)
}

// IsDatabase reports whether location names a PostgreSQL keyring.
func IsDatabase(location string) bool { return pgstore.IsURI(location) }

// ErrNameWithFile refuses --keyring-name with a file keyring.
var ErrNameWithFile = errors.New("--keyring-name applies to a keyring in PostgreSQL only; a file holds one keyring")

// FilePath returns the path of a file location: a plain path, or a
// file:// URI (file:///abs/path or file://localhost/abs/path).
func FilePath(location string) (string, error) {
	if !strings.HasPrefix(location, "file:") {
		return location, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("keyring %q: not a file:// URI", pgstore.Redact(location))
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("keyring %q: a file:// keyring must be on this machine (file:///path)", pgstore.Redact(location))
	}
	if u.Path == "" {
		return "", fmt.Errorf("keyring %q: no path (file:///path/to/keyring.json)", pgstore.Redact(location))
	}
	return u.Path, nil
}

// Open returns the store of the keyring at location. It does not touch the
// file or the database until used.
func Open(location string, o Options) (Store, error) {
	if IsDatabase(location) {
		return openPostgres(location, o), nil
	}
	if scheme, _, ok := strings.Cut(location, "://"); ok && scheme != "file" && !strings.ContainsAny(scheme, `/\.`) {
		return nil, fmt.Errorf("keyring %q: unknown scheme %q (a path, file:///path or postgres://...)", pgstore.Redact(location), scheme)
	}
	if pgstore.LooksLikeDSN(location) {
		return nil, fmt.Errorf("keyring %q is a key=value connection string: keyctl takes a postgres:// URI (postgres://USER@HOST/DB?sslmode=...)", pgstore.Redact(location))
	}
	path, err := FilePath(location)
	if err != nil {
		return nil, err
	}
	if o.Name != "" && o.Name != pgstore.DefaultName {
		return nil, ErrNameWithFile
	}
	return &fileStore{path: path, o: o}, nil
}

// --- the file store ---

type fileStore struct {
	path string
	o    Options
}

func (s *fileStore) Kind() Kind       { return File }
func (s *fileStore) Location() string { return s.path }

func (s *fileStore) options(create, history bool) store.Options {
	return store.Options{Passphrase: s.o.Passphrase, LockTimeout: s.o.LockTimeout, Create: create, History: history}
}

func fileHandle(f *store.File) *Handle {
	h := &Handle{Path: f.Path, Keyring: f.Keyring, Encrypted: f.Encrypted, Seal: SealNone, loadHistory: f.LoadHistory}
	if f.Encrypted {
		h.Seal = SealPassphrase
	}
	return h
}

func (s *fileStore) Load(_ context.Context, history bool) (*Handle, error) {
	f, err := store.Load(s.path, s.options(false, history))
	if err != nil {
		return nil, err
	}
	return fileHandle(f), nil
}

func (s *fileStore) Update(_ context.Context, create bool, fn func(*keyring.Keyring) error) (*Handle, error) {
	f, err := store.Update(s.path, s.options(create, false), fn)
	if err != nil {
		return nil, err
	}
	return fileHandle(f), nil
}

func (s *fileStore) Encrypt(_ context.Context, passphrase []byte, st keyring.Stamp) (*Handle, error) {
	f, err := store.Encrypt(s.path, s.options(false, false), passphrase, st)
	if err != nil {
		return nil, err
	}
	return fileHandle(f), nil
}

func (s *fileStore) Decrypt(_ context.Context, st keyring.Stamp) (*Handle, error) {
	f, err := store.Decrypt(s.path, s.options(false, false), st)
	if err != nil {
		return nil, err
	}
	return fileHandle(f), nil
}

// --- the PostgreSQL store ---

type pgStore struct {
	pg *pgstore.Store
	o  Options
}

func openPostgres(uri string, o Options) *pgStore {
	return &pgStore{pg: pgstore.New(uri, pgOptions(o, false)), o: o}
}

func pgOptions(o Options, create bool) pgstore.Options {
	po := pgstore.Options{
		Name:        o.Name,
		Secrets:     pgstore.Secrets{Passphrase: o.Passphrase, MasterKey: o.MasterKey},
		Create:      create,
		LockTimeout: o.LockTimeout,
		Warn:        o.Warn,
		Now:         o.Now,
	}
	if create {
		po.CreateScheme = createScheme(o)
	}
	return po
}

// createScheme picks a new database keyring's seal: a master key when one
// is configured, else a passphrase when one can be had, else plaintext
// only when asked for by name.
func createScheme(o Options) string {
	switch {
	case o.MasterKey != nil:
		return pgstore.SchemeMasterKey
	case o.InsecurePlaintext:
		return pgstore.SchemePlaintext
	case o.Passphrase != nil:
		return pgstore.SchemePassphrase
	}
	return ""
}

func (s *pgStore) Kind() Kind       { return Postgres }
func (s *pgStore) Location() string { return s.pg.Location() }

// DB returns the underlying PostgreSQL store, for what only a database
// keyring does (serve's watch, db migrate).
func (s *pgStore) DB() *pgstore.Store { return s.pg }

func (s *pgStore) handle(kr *pgstore.Keyring) *Handle {
	h := &Handle{Path: s.Location(), Keyring: kr.Keyring, Version: kr.Version, Seal: kr.Scheme}
	switch kr.Scheme {
	case pgstore.SchemePassphrase:
		h.Seal, h.Encrypted = SealPassphrase, true
	case pgstore.SchemeMasterKey:
		h.Seal, h.Encrypted = SealMasterKey, true
	default:
		h.Seal = SealPlaintext
	}
	h.loadHistory = func() error {
		full, err := s.store(false, true).Load(context.Background())
		if err != nil {
			return err
		}
		h.Keyring.History = full.History
		return nil
	}
	return h
}

func (s *pgStore) store(create, history bool) *pgstore.Store {
	po := pgOptions(s.o, create)
	po.History = history
	return s.pg.WithOptions(po)
}

func (s *pgStore) Load(ctx context.Context, history bool) (*Handle, error) {
	kr, err := s.store(false, history).Load(ctx)
	if err != nil {
		return nil, err
	}
	return s.handle(kr), nil
}

func (s *pgStore) Update(ctx context.Context, create bool, fn func(*keyring.Keyring) error) (*Handle, error) {
	kr, err := s.store(create, false).Update(ctx, func(kr *pgstore.Keyring) error { return fn(kr.Keyring) })
	if err != nil {
		return nil, err
	}
	return s.handle(kr), nil
}

// Encrypt (re)seals the keyring under passphrase; the current seal must
// open first.
func (s *pgStore) Encrypt(ctx context.Context, passphrase []byte, st keyring.Stamp) (*Handle, error) {
	// Refuse before asking for the current seal's secret.
	if cur, err := s.store(false, false).Load(ctx); err != nil {
		return nil, err
	} else if cur.Scheme == pgstore.SchemePassphrase {
		return nil, store.ErrAlreadyEncrypted
	}
	next := pgstore.Secrets{Passphrase: func() ([]byte, error) { return passphrase, nil }}
	kr, err := s.store(false, false).Reseal(ctx, pgstore.SchemePassphrase, next, st)
	if errors.Is(err, pgstore.ErrSameSeal) {
		return nil, store.ErrAlreadyEncrypted
	}
	if err != nil {
		return nil, err
	}
	return s.handle(kr), nil
}

// ErrKeepSeal refuses to unseal a database keyring without
// --insecure-plaintext.
var ErrKeepSeal = errors.New("a keyring in PostgreSQL keeps its private keys sealed")

func (s *pgStore) Decrypt(ctx context.Context, st keyring.Stamp) (*Handle, error) {
	if !s.o.InsecurePlaintext {
		return nil, ErrKeepSeal
	}
	kr, err := s.store(false, false).Reseal(ctx, pgstore.SchemePlaintext, pgstore.Secrets{}, st)
	if errors.Is(err, pgstore.ErrSameSeal) {
		return nil, store.ErrNotEncrypted
	}
	if err != nil {
		return nil, err
	}
	return s.handle(kr), nil
}

// Database returns the PostgreSQL store behind s, if it is one.
func Database(s Store) (*pgstore.Store, bool) {
	p, ok := s.(*pgStore)
	if !ok {
		return nil, false
	}
	return p.pg, true
}

// Same reports whether a and b are one keyring however they are spelled:
// the same file (after symlinks), or the same database and keyring name
// whatever the user, password or URI form.
func Same(a, b Store) bool {
	switch x := a.(type) {
	case *fileStore:
		y, ok := b.(*fileStore)
		if !ok {
			return false
		}
		if x.path == y.path {
			return true
		}
		sa, errA := os.Stat(x.path)
		sb, errB := os.Stat(y.path)
		if errA == nil && errB == nil {
			return os.SameFile(sa, sb)
		}
		pa, errA := filepath.Abs(x.path)
		pb, errB := filepath.Abs(y.path)
		return errA == nil && errB == nil && pa == pb
	case *pgStore:
		y, ok := b.(*pgStore)
		return ok && x.pg.Identity() == y.pg.Identity()
	}
	return false
}
