package keyring

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// Material gives an entry's key. A store implements it lazily so that
// loading a keyring of a thousand keys parses (and decrypts) only the keys a
// command touches; FromKey wraps a key already in memory.
type Material interface {
	// Private returns the private key or shared secret.
	Private() (*jwk.Key, error)
	// Public returns the public half; jwk.ErrSymmetric for a shared secret.
	Public() (*jwk.Key, error)
	// Check validates everything that can be validated without asking for
	// a passphrase.
	Check() error
}

// FromKey wraps a key held in memory as Material.
func FromKey(k *jwk.Key) Material { return keyMaterial{k} }

type keyMaterial struct{ k *jwk.Key }

func (m keyMaterial) Private() (*jwk.Key, error) { return m.k, nil }
func (m keyMaterial) Public() (*jwk.Key, error)  { return m.k.Public() }
func (m keyMaterial) Check() error               { return nil }

// Origin says how a key entered the keyring.
type Origin string

// Origins.
const (
	OriginCreated  Origin = "created"
	OriginImported Origin = "imported"
	OriginSupabase Origin = "supabase"
	OriginLegacy   Origin = "legacy"
)

var origins = []Origin{OriginCreated, OriginImported, OriginSupabase, OriginLegacy}

// Valid reports whether o is a known origin.
func (o Origin) Valid() bool { return slices.Contains(origins, o) }

// Entry is one key of the keyring.
type Entry struct {
	KID    string
	Alg    jwk.Algorithm
	State  State
	Legacy bool // the legacy HS256 JWT secret: verifies tokens without a kid
	Origin Origin

	Created time.Time
	Updated time.Time // last state change
	// RotatedOut is when the key last left InUse, or last signed a token
	// while standby (MarkSigned); zero if it never signed. Revocation
	// waits for tokens it signed to expire from this moment.
	RotatedOut time.Time
	// RotatedOutLifetime is the longest max token lifetime the key may
	// have signed under (zero if unknown): lowering the keyring's lifetime
	// never shortens the wait for tokens it signed before, whether it was
	// in use, standby or already rotated out then.
	RotatedOutLifetime time.Duration
	// Published is when the key last became published (trusted) after
	// being revoked; zero means since Created. See PublishedSince.
	Published time.Time

	// Material is nil once the key is deleted.
	Material Material
	// Thumbprint is the key's RFC 7638 SHA-256 thumbprint (base64url),
	// kept by the tombstone once the material is destroyed so the same key
	// cannot come back under another kid. Empty for live keys, for shared
	// secrets (SecretCheck instead; tombstones of secrets written before
	// 2026-12-03 keep the oct key's thumbprint) and for tombstones written
	// before keyctl kept it.
	Thumbprint string
	// SecretCheck is what a deleted shared secret's tombstone keeps in
	// place of a thumbprint: a salted PBKDF2 check value (see
	// NewSecretCheck), so the secret is recognised if it comes back but a
	// guess at it costs what a guess at a stored password does.
	SecretCheck string
}

// PublishedSince is when verifiers could first have seen the key in the
// JWKS: when it was moved back from revoked to standby, else when it was
// created or imported.
func (e *Entry) PublishedSince() time.Time {
	if e.Published.IsZero() {
		return e.Created
	}
	return e.Published
}

// Symmetric reports whether the key is a shared secret.
func (e *Entry) Symmetric() bool { return e.Alg.Symmetric() }

// Keyring is the set of keys and their history. The zero value is an empty
// keyring with the default max token lifetime.
type Keyring struct {
	// MaxTokenLifetime is the longest lifetime of the tokens the keys sign;
	// zero means DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration
	// JWKSCacheWindow is how long verifiers may cache the JWKS, which a
	// new key must have been published for before it is rotated into use;
	// zero means DefaultJWKSCacheWindow.
	JWKSCacheWindow time.Duration
	Keys            []*Entry
	History         []Event
}

// Lifetime returns the max token lifetime in force.
func (kr *Keyring) Lifetime() time.Duration {
	if kr.MaxTokenLifetime <= 0 {
		return DefaultMaxTokenLifetime
	}
	return kr.MaxTokenLifetime
}

// CacheWindow returns the JWKS cache window in force.
func (kr *Keyring) CacheWindow() time.Duration {
	if kr.JWKSCacheWindow <= 0 {
		return DefaultJWKSCacheWindow
	}
	return kr.JWKSCacheWindow
}

// Lookup finds the key with kid, tombstones included.
func (kr *Keyring) Lookup(kid string) (*Entry, error) {
	for _, e := range kr.Keys {
		if e.KID == kid {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownKID, kid)
}

// Filter returns the keys in any of states, in keyring order.
func (kr *Keyring) Filter(states ...State) []*Entry {
	var out []*Entry
	for _, e := range kr.Keys {
		if slices.Contains(states, e.State) {
			out = append(out, e)
		}
	}
	return out
}

// Legacy returns the legacy JWT secret, or nil.
func (kr *Keyring) Legacy() *Entry {
	for _, e := range kr.Keys {
		if e.Legacy {
			return e
		}
	}
	return nil
}

// Check verifies the keyring's invariants without touching key material:
// every kid non-empty and unique (tombstones included), known states,
// origins and algorithms, at most one key in use and one legacy secret
// (an HS256 key), material present exactly for keys that are not deleted.
func (kr *Keyring) Check() error {
	seen := make(map[string]bool, len(kr.Keys))
	inUse, legacy := "", ""
	for i, e := range kr.Keys {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: key %d (kid %q): %s", ErrInvalid, i, e.KID, fmt.Sprintf(format, args...))
		}
		switch {
		case e.KID == "":
			return bad("empty kid")
		case jwk.CheckKIDSafe(e.KID) != nil:
			return bad("%v", jwk.CheckKIDSafe(e.KID))
		case seen[e.KID]:
			return bad("duplicate kid")
		case !e.State.Valid():
			return bad("unknown state %q", e.State)
		case !e.Origin.Valid():
			return bad("unknown origin %q", e.Origin)
		case e.Alg.Kty() == "":
			return bad("unsupported algorithm %q", e.Alg)
		case e.Created.IsZero() || e.Updated.IsZero():
			return bad("missing timestamps")
		case e.State == Deleted && e.Material != nil:
			return bad("deleted but still holds key material")
		case e.State != Deleted && e.Material == nil:
			return bad("holds no key material")
		case e.Legacy && e.Alg != jwk.HS256:
			return bad("the legacy secret must be HS256, not %s", e.Alg)
		}
		seen[e.KID] = true
		if e.State == InUse {
			if inUse != "" {
				return fmt.Errorf("%w: two keys in use (%q and %q)", ErrInvalid, inUse, e.KID)
			}
			inUse = e.KID
		}
		if e.Legacy {
			if legacy != "" {
				return fmt.Errorf("%w: two legacy secrets (%q and %q)", ErrInvalid, legacy, e.KID)
			}
			legacy = e.KID
		}
	}
	if kr.MaxTokenLifetime < 0 {
		return fmt.Errorf("%w: negative max token lifetime", ErrInvalid)
	}
	if kr.JWKSCacheWindow < 0 {
		return fmt.Errorf("%w: negative JWKS cache window", ErrInvalid)
	}
	return nil
}

// Validate checks the invariants and then every key's material as far as
// it can without a passphrase. Stores run it before every write.
func (kr *Keyring) Validate() error {
	if err := kr.Check(); err != nil {
		return err
	}
	for i, e := range kr.Keys {
		if e.Material == nil {
			continue
		}
		if err := e.Material.Check(); err != nil {
			return fmt.Errorf("%w: key %d (kid %q): %v", ErrInvalid, i, e.KID, err)
		}
	}
	return nil
}

func (kr *Keyring) record(s Stamp, action Action, kid string, from, to State, note string) {
	kr.History = append(kr.History, Event{At: s.At, Action: action, KID: kid, From: from, To: to, By: s.By, Note: note})
}

// Create adds a key generated for the keyring as a standby key.
func (kr *Keyring) Create(k *jwk.Key, s Stamp) (*Entry, error) {
	return kr.add(k, OriginCreated, ActionCreate, Standby, false, s)
}

// Import adds a key brought from elsewhere as a standby key. The material
// of a revoked or deleted key is refused with a RetiredKeyError unless
// o.Force.
func (kr *Keyring) Import(k *jwk.Key, s Stamp, o Options) (*Entry, error) {
	return kr.addWith(k, OriginImported, ActionImport, Standby, false, s, o)
}

// CheckNew reports whether k could join the keyring: a private key of a
// supported algorithm whose kid is unused (deleted keys keep theirs) and
// whose material is not already there under another kid, nor the material
// of a revoked or deleted key (RetiredKeyError).
func (kr *Keyring) CheckNew(k *jwk.Key) error { return kr.checkNew(k, Options{}) }

// Retired returns the revoked or deleted key whose material k holds (a
// tombstone matches by its thumbprint or, for a shared secret, its check
// value: a PBKDF2 run of about 0.1 s per deleted secret), or nil.
func (kr *Keyring) Retired(k *jwk.Key) (*Entry, error) {
	var tp string
	for _, e := range kr.Keys {
		switch {
		case e.State == Deleted && e.SecretCheck != "" && e.Alg == k.Alg:
			secret, ok := k.Material.([]byte)
			if !ok {
				continue
			}
			same, err := matchSecretCheck(e.SecretCheck, secret)
			if err != nil {
				return nil, fmt.Errorf("compare with key %q: %w", e.KID, err)
			}
			if same {
				return e, nil
			}
		case e.State == Deleted && e.Thumbprint != "":
			if tp == "" {
				var err error
				if tp, err = k.Thumbprint(); err != nil {
					return nil, err
				}
			}
			if tp == e.Thumbprint {
				return e, nil
			}
		case e.State == Revoked && e.Material != nil && e.Alg == k.Alg:
			same, err := sameMaterial(e, k)
			if err != nil {
				return nil, fmt.Errorf("compare with key %q: %w", e.KID, err)
			}
			if same {
				return e, nil
			}
		}
	}
	return nil, nil
}

func (kr *Keyring) checkNew(k *jwk.Key, o Options) error {
	if k.KID == "" {
		return errors.New("the key has no kid")
	}
	if err := jwk.CheckKID(k.KID); err != nil {
		return err
	}
	if strings.HasPrefix(k.KID, "-") {
		// "keyctl keys rotate -f" would read it as --force: every command
		// and hint that names the key would be a trap.
		return fmt.Errorf("%w %q: a keyring kid must not start with \"-\" (a command line reads it as a flag)", jwk.ErrBadKID, k.KID)
	}
	if !k.IsPrivate() {
		return fmt.Errorf("key %q: %w (the keyring signs with its keys)", k.KID, jwk.ErrNotPrivate)
	}
	if k.Alg.Kty() == "" || k.Alg.Kty() != k.Kty() {
		return fmt.Errorf("key %q: algorithm %q does not fit a %s key", k.KID, k.Alg, k.Kty())
	}
	if old, err := kr.Lookup(k.KID); err == nil {
		return fmt.Errorf("%w: %q (a %s key)", ErrKIDTaken, k.KID, old.State.Label())
	}
	if !o.Force {
		retired, err := kr.Retired(k)
		if err != nil {
			return err
		}
		if retired != nil {
			return &RetiredKeyError{KID: retired.KID, State: retired.State, Symmetric: retired.Symmetric()}
		}
	}
	for _, e := range kr.Keys {
		if e.Material == nil || e.Alg != k.Alg || e.State == Revoked {
			continue
		}
		same, err := sameMaterial(e, k)
		if err != nil {
			return fmt.Errorf("compare with key %q: %w", e.KID, err)
		}
		if same {
			return fmt.Errorf("%w as %q (%s)", ErrDuplicateKey, e.KID, e.State.Label())
		}
	}
	return nil
}

func sameMaterial(e *Entry, k *jwk.Key) (bool, error) {
	if k.IsSymmetric() {
		have, err := e.Material.Private()
		if err != nil {
			return false, err
		}
		return have.Equal(k), nil
	}
	have, err := e.Material.Public()
	if err != nil {
		return false, err
	}
	pub, err := k.Public()
	if err != nil {
		return false, err
	}
	return have.Equal(pub), nil
}

// stored is the form a key is kept in: its kid, algorithm and material;
// key_ops follow from the state and are set by the views.
func stored(k *jwk.Key) *jwk.Key {
	return &jwk.Key{KID: k.KID, Alg: k.Alg, Use: "sig", Material: k.Material}
}

func (kr *Keyring) add(k *jwk.Key, origin Origin, action Action, state State, legacy bool, s Stamp) (*Entry, error) {
	return kr.addWith(k, origin, action, state, legacy, s, Options{})
}

// addWith adds k; o.Force lets in the material of a revoked or deleted
// key, noting which in the history.
func (kr *Keyring) addWith(k *jwk.Key, origin Origin, action Action, state State, legacy bool, s Stamp, o Options) (*Entry, error) {
	note := ""
	if o.Force {
		retired, err := kr.Retired(k)
		if err != nil {
			return nil, err
		}
		if retired != nil {
			note = fmt.Sprintf("forced: the same key as %s key %q", retired.State.Label(), retired.KID)
		}
	}
	if err := kr.checkNew(k, o); err != nil {
		return nil, err
	}
	e := &Entry{
		KID: k.KID, Alg: k.Alg, State: state, Legacy: legacy, Origin: origin,
		Created: s.At, Updated: s.At, Material: FromKey(stored(k)),
	}
	kr.Keys = append(kr.Keys, e)
	kr.record(s, action, e.KID, "", state, note)
	return e, nil
}

// move checks the transition table for one key.
func (kr *Keyring) move(kid string, action Action) (*Entry, State, error) {
	e, err := kr.Lookup(kid)
	if err != nil {
		return nil, "", err
	}
	to, ok := Next(action, e.State)
	if !ok {
		target := targets[action]
		return nil, "", &TransitionError{KID: kid, Action: action, From: e.State, To: target, Allowed: Allowed(e.State)}
	}
	return e, to, nil
}

// targets is the state each move aims at, for TransitionError.To.
var targets = map[Action]State{ActionRotate: InUse, ActionRevoke: Revoked, ActionStandby: Standby, ActionDelete: Deleted}

func (kr *Keyring) set(e *Entry, action Action, to State, s Stamp, note string) {
	from := e.State
	e.State = to
	e.Updated = s.At
	kr.record(s, action, e.KID, from, to, note)
}

// Rotate puts the standby key kid in use; the key in use before, if any,
// becomes previously used. An empty kid means the only standby key.
// It returns the new key in use and the previous one (or nil).
//
// While another key (or the legacy secret) is in use, a key published
// less than the JWKS cache window ago is refused with a
// RotationTooEarlyError unless o.Force: verifiers holding a JWKS cached
// before it existed would reject every token it signs. The first key of a
// keyring needs no wait.
func (kr *Keyring) Rotate(kid string, s Stamp, o Options) (current, previous *Entry, err error) {
	if kid == "" {
		standby := kr.Filter(Standby)
		switch len(standby) {
		case 0:
			return nil, nil, ErrNoStandbyKey
		case 1:
			kid = standby[0].KID
		default:
			kids := make([]string, len(standby))
			for i, e := range standby {
				kids[i] = e.KID
			}
			return nil, nil, &AmbiguousRotationError{Standby: kids}
		}
	}
	e, to, err := kr.move(kid, ActionRotate)
	if err != nil {
		return nil, nil, err
	}
	note := ""
	if old, err := kr.SigningKey(); err == nil {
		safe := SafeToRotate(e, kr.CacheWindow())
		if s.At.Before(safe) {
			if !o.Force {
				return nil, nil, &RotationTooEarlyError{KID: e.KID, InUse: old.KID, Published: e.PublishedSince(), SafeAt: safe, Window: kr.CacheWindow()}
			}
			note = "forced before " + safe.UTC().Format(time.RFC3339)
		}
	}
	if old, err := kr.SigningKey(); err == nil {
		// Never shorter than before: a key rotated out under 24h, brought
		// back and rotated out again under 1h still has 24h tokens out.
		old.RotatedOut = s.At
		old.RotatedOutLifetime = max(kr.Lifetime(), old.RotatedOutLifetime)
		kr.set(old, ActionRetire, PreviouslyUsed, s, "rotated out for "+kid)
		previous = old
	}
	if !e.RotatedOut.IsZero() && !s.At.Before(e.RotatedOut.Add(e.RotatedOutLifetime+RevocationGrace)) {
		// Every token of its earlier turns has expired: from now on the
		// wait counts what it signs this time only.
		e.RotatedOutLifetime = 0
	}
	kr.set(e, ActionRotate, to, s, note)
	return e, previous, nil
}

// MarkSigned records that the standby key kid signed a token at s.At
// (gen bearer-jwt --kid): its revocation then waits for that token as for
// a key rotated out at that moment. Nothing is recorded for a key in use,
// whose wait starts when it is rotated out.
func (kr *Keyring) MarkSigned(kid string, s Stamp) error {
	e, err := kr.Lookup(kid)
	if err != nil {
		return err
	}
	if e.State != Standby {
		return nil
	}
	e.RotatedOutLifetime = max(kr.Lifetime(), e.RotatedOutLifetime)
	if e.RotatedOut.Before(s.At) {
		e.RotatedOut = s.At
	}
	return nil
}

// SafeToRotate returns the moment every verifier's cached JWKS holds e:
// window after it was published.
func SafeToRotate(e *Entry, window time.Duration) time.Time {
	return e.PublishedSince().Add(window)
}

// SafeToRevoke returns the moment tokens e signed have all expired (its
// RotatedOut plus lifetime plus RevocationGrace), and false when e never
// signed, so nothing needs waiting for.
func SafeToRevoke(e *Entry, lifetime time.Duration) (time.Time, bool) {
	if e.RotatedOut.IsZero() {
		return time.Time{}, false
	}
	// A lifetime beyond any keyctl sets (a hand-edited file or database
	// row) must not wrap around into the past and revoke at once.
	lifetime = min(max(lifetime, 0), MaxMaxTokenLifetime)
	return e.RotatedOut.Add(lifetime + RevocationGrace), true
}

// Options tune the moves that stop trusting a key and the ways keys come
// in.
type Options struct {
	// Force skips the safe-revocation wait (an incident), for Delete
	// allows deleting the legacy secret, and for the ways keys come in
	// (Import, MigrateLegacy, ImportSupabase) lets in the material of a
	// revoked or deleted key.
	Force bool
	// MaxTokenLifetime overrides the keyring's for this move (0: keep); it
	// never shortens the wait below the lifetime in force when the key
	// was rotated out.
	MaxTokenLifetime time.Duration
}

// WaitLifetime is the token lifetime the revocation wait of e uses: the
// larger of current (the lifetime in force now) and the one in force when
// e left InUse.
func (e *Entry) WaitLifetime(current time.Duration) time.Duration {
	return max(current, e.RotatedOutLifetime)
}

func (kr *Keyring) checkWait(e *Entry, action Action, o Options, now time.Time) (string, error) {
	lifetime := kr.Lifetime()
	if o.MaxTokenLifetime > 0 {
		lifetime = o.MaxTokenLifetime
	}
	lifetime = e.WaitLifetime(lifetime)
	safe, ok := SafeToRevoke(e, lifetime)
	if !ok || !now.Before(safe) {
		return "", nil
	}
	if o.Force {
		return "forced before " + safe.UTC().Format(time.RFC3339), nil
	}
	return "", &TooEarlyError{KID: e.KID, Action: action, RotatedOut: e.RotatedOut, SafeAt: safe, MaxTokenLifetime: lifetime}
}

// Revoke stops trusting a previously used or standby key. A key rotated out
// less than the max token lifetime plus RevocationGrace ago is refused with
// a TooEarlyError unless o.Force.
func (kr *Keyring) Revoke(kid string, s Stamp, o Options) (*Entry, error) {
	e, to, err := kr.move(kid, ActionRevoke)
	if err != nil {
		return nil, err
	}
	note, err := kr.checkWait(e, ActionRevoke, o, s.At)
	if err != nil {
		return nil, err
	}
	kr.set(e, ActionRevoke, to, s, note)
	return e, nil
}

// Standby moves a previously used or revoked key back to standby: trusted
// again, and ready to rotate into use.
//
// A revoked key was out of the JWKS: it counts as published from now.
func (kr *Keyring) Standby(kid string, s Stamp) (*Entry, error) {
	e, to, err := kr.move(kid, ActionStandby)
	if err != nil {
		return nil, err
	}
	if e.State == Revoked {
		e.Published = s.At
	}
	kr.set(e, ActionStandby, to, s, "")
	return e, nil
}

// Delete destroys a revoked or standby key's material and leaves a
// tombstone that keeps its kid. The legacy secret needs o.Force, and so
// does a standby key rotated out too recently to stop trusting.
func (kr *Keyring) Delete(kid string, s Stamp, o Options) (*Entry, error) {
	e, to, err := kr.move(kid, ActionDelete)
	if err != nil {
		return nil, err
	}
	var notes []string
	if e.Legacy {
		if !o.Force {
			return nil, fmt.Errorf("%w: key %q", ErrLegacyDelete, kid)
		}
		notes = append(notes, "legacy secret deleted with force")
	}
	if e.State.Trusted() {
		note, err := kr.checkWait(e, ActionDelete, o, s.At)
		if err != nil {
			return nil, err
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	if e.Thumbprint == "" && e.SecretCheck == "" {
		if err := keepIdentity(e); err != nil {
			what := "its thumbprint"
			if e.Symmetric() {
				what = "its check value"
			}
			return nil, fmt.Errorf("key %q: the tombstone keeps %s, so the same key cannot come back under another kid, and reading it failed: %w", kid, what, err)
		}
	}
	e.Material = nil
	kr.set(e, ActionDelete, to, s, joinNotes(notes))
	return e, nil
}

// keepIdentity sets what e's tombstone keeps to recognise its key: the
// public key's RFC 7638 thumbprint, or a shared secret's check value.
func keepIdentity(e *Entry) error {
	if e.Symmetric() {
		k, err := e.Material.Private()
		if err != nil {
			return err
		}
		secret, ok := k.Material.([]byte)
		if !ok {
			return jwk.ErrUnsupportedKeyType
		}
		e.SecretCheck, err = NewSecretCheck(secret)
		return err
	}
	k, err := e.Material.Public()
	if err != nil {
		return err
	}
	e.Thumbprint, err = k.Thumbprint()
	return err
}

func joinNotes(notes []string) string {
	out := ""
	for i, n := range notes {
		if i > 0 {
			out += "; "
		}
		out += n
	}
	return out
}

// ErrAlreadyInUse: migrate-legacy needs a keyring where nothing signs yet.
var ErrAlreadyInUse = errors.New("a key is already in use")

// MigrateLegacy brings a legacy HS256 JWT secret into the keyring as the key
// in use, marked legacy (it verifies tokens without a kid, as Supabase's
// anon and service_role keys are), and adds next, the asymmetric key to
// rotate to, as a standby key.
//
// Either key holding the material of a revoked or deleted key is refused
// (RetiredKeyError) unless o.Force.
func (kr *Keyring) MigrateLegacy(secret, next *jwk.Key, s Stamp, o Options) (legacy, standby *Entry, err error) {
	if old := kr.Legacy(); old != nil {
		return nil, nil, fmt.Errorf("%w (kid %q)", ErrLegacyExists, old.KID)
	}
	if cur, err := kr.SigningKey(); err == nil {
		return nil, nil, fmt.Errorf("%w (kid %q): the legacy secret can only start a keyring", ErrAlreadyInUse, cur.KID)
	}
	if secret.Alg != jwk.HS256 || !secret.IsSymmetric() {
		return nil, nil, fmt.Errorf("the legacy JWT secret must be an HS256 shared secret, not %s", secret.Alg)
	}
	if next.IsSymmetric() {
		return nil, nil, errors.New("the key to rotate to must be asymmetric (ES256, RS256 or EdDSA)")
	}
	if secret.KID == next.KID {
		return nil, nil, fmt.Errorf("%w: %q named twice", ErrKIDTaken, secret.KID)
	}
	if err := kr.checkNew(secret, o); err != nil {
		return nil, nil, err
	}
	if err := kr.checkNew(next, o); err != nil {
		return nil, nil, err
	}
	legacy, err = kr.addWith(secret, OriginLegacy, ActionMigrateLegacy, InUse, true, s, o)
	if err != nil {
		return nil, nil, err
	}
	standby, err = kr.addWith(next, OriginCreated, ActionCreate, Standby, false, s, o)
	return legacy, standby, err
}

// SupabaseImport is what ImportSupabase did.
type SupabaseImport struct {
	Added     []*Entry
	Unchanged []*Entry // already in the keyring with the same material
	InUse     *Entry   // the file's signing key, now in use (nil if none)
	Previous  *Entry   // the key it replaced in use, if any
}

// ImportSupabase reads back a Supabase signing_keys.json: every key joins
// as a standby key (or is recognised when the keyring already holds it
// under the same kid), and the key whose key_ops hold "sign" is rotated
// into use. Nothing changes unless every key can be taken. The material of
// a revoked or deleted key is refused (RetiredKeyError) unless o.Force.
func (kr *Keyring) ImportSupabase(keys []*jwk.Key, s Stamp, o Options) (*SupabaseImport, error) {
	var signer *jwk.Key
	kids := map[string]bool{}
	for i, k := range keys {
		if k.KID == "" {
			return nil, fmt.Errorf("key %d has no kid", i)
		}
		if kids[k.KID] {
			return nil, fmt.Errorf("key %d: duplicate kid %q", i, k.KID)
		}
		kids[k.KID] = true
		if k.KeyOps != nil && slices.Contains(k.KeyOps, jwk.OpSign) {
			if signer != nil {
				return nil, fmt.Errorf("two keys have \"sign\" in key_ops (%q and %q); Supabase Auth would refuse the file too", signer.KID, k.KID)
			}
			signer = k
		}
	}
	res := &SupabaseImport{}
	var fresh []*jwk.Key
	for _, k := range keys {
		e, err := kr.Lookup(k.KID)
		if err != nil {
			if err := kr.checkNew(k, o); err != nil {
				return nil, err
			}
			for _, f := range fresh {
				if f.Equal(k) {
					return nil, fmt.Errorf("%w: %q and %q hold the same key", ErrDuplicateKey, f.KID, k.KID)
				}
			}
			fresh = append(fresh, k)
			continue
		}
		if e.Material == nil {
			return nil, fmt.Errorf("%w: %q (a deleted key)", ErrKIDTaken, k.KID)
		}
		same, err := sameMaterial(e, k)
		if err != nil {
			return nil, fmt.Errorf("compare with key %q: %w", e.KID, err)
		}
		if !same {
			return nil, fmt.Errorf("%w: %q holds a different key in the keyring", ErrKIDTaken, k.KID)
		}
		if k == signer && e.State != InUse {
			if _, ok := Next(ActionRotate, e.State); !ok {
				return nil, &TransitionError{KID: e.KID, Action: ActionRotate, From: e.State, To: InUse, Allowed: Allowed(e.State)}
			}
		}
		res.Unchanged = append(res.Unchanged, e)
	}
	// A new signer is published only now: check the rotation wait before
	// anything is added.
	if cur, err := kr.SigningKey(); err == nil && signer != nil && !o.Force && slices.Contains(fresh, signer) {
		w := kr.CacheWindow()
		return nil, &RotationTooEarlyError{KID: signer.KID, InUse: cur.KID, Published: s.At, SafeAt: s.At.Add(w), Window: w}
	}
	for _, k := range fresh {
		e, err := kr.addWith(k, OriginSupabase, ActionImportSupabase, Standby, false, s, o)
		if err != nil {
			return nil, err
		}
		res.Added = append(res.Added, e)
	}
	if signer != nil {
		e, _ := kr.Lookup(signer.KID)
		if e.State == InUse {
			res.InUse = e
		} else {
			cur, prev, err := kr.Rotate(e.KID, s, o)
			if err != nil {
				return nil, err
			}
			res.InUse, res.Previous = cur, prev
		}
	}
	return res, nil
}

// MinMaxTokenLifetime and MaxMaxTokenLifetime bound SetMaxTokenLifetime.
const (
	MinMaxTokenLifetime = time.Second
	MaxMaxTokenLifetime = 100 * 365 * 24 * time.Hour
)

// SetMaxTokenLifetime records the longest lifetime of the tokens the keys
// sign, which times safe revocation.
func (kr *Keyring) SetMaxTokenLifetime(d time.Duration, s Stamp) error {
	if d < MinMaxTokenLifetime || d > MaxMaxTokenLifetime {
		return fmt.Errorf("max token lifetime %s is out of range (%s to %s)", d, MinMaxTokenLifetime, shortDuration(MaxMaxTokenLifetime))
	}
	old := kr.Lifetime()
	if d < old {
		// The keys that may have signed under the old lifetime keep it
		// for their revocation wait: the key in use, and standby keys
		// that signed (gen bearer-jwt --kid records it) or were in use.
		for _, e := range kr.Keys {
			if e.State == InUse || e.State == Standby && !e.RotatedOut.IsZero() {
				e.RotatedOutLifetime = max(e.RotatedOutLifetime, old)
			}
		}
	}
	kr.MaxTokenLifetime = d
	kr.record(s, ActionSetLifetime, "", "", "", fmt.Sprintf("max token lifetime %s (was %s)", shortDuration(d), shortDuration(old)))
	return nil
}

// MinJWKSCacheWindow and MaxJWKSCacheWindow bound SetJWKSCacheWindow.
const (
	MinJWKSCacheWindow = time.Second
	MaxJWKSCacheWindow = 7 * 24 * time.Hour
)

// SetJWKSCacheWindow records how long verifiers may cache the JWKS, which
// times safe rotation.
func (kr *Keyring) SetJWKSCacheWindow(d time.Duration, s Stamp) error {
	if d < MinJWKSCacheWindow || d > MaxJWKSCacheWindow {
		return fmt.Errorf("JWKS cache window %s is out of range (%s to %s)", d, MinJWKSCacheWindow, shortDuration(MaxJWKSCacheWindow))
	}
	old := kr.CacheWindow()
	kr.JWKSCacheWindow = d
	kr.record(s, ActionSetCacheWindow, "", "", "", fmt.Sprintf("JWKS cache window %s (was %s)", shortDuration(d), shortDuration(old)))
	return nil
}

// Note records a keyring-wide event (encrypt, decrypt) in the history.
func (kr *Keyring) Note(action Action, s Stamp, note string) {
	kr.record(s, action, "", "", "", note)
}

// SigningKey returns the key in use, or ErrNoSigningKey.
func (kr *Keyring) SigningKey() (*Entry, error) {
	for _, e := range kr.Keys {
		if e.State == InUse {
			return e, nil
		}
	}
	return nil, ErrNoSigningKey
}

// SignableKey returns the key named kid if its state lets it sign (in use,
// or standby to try it before rotating); an empty kid means the key in use.
func (kr *Keyring) SignableKey(kid string) (*Entry, error) {
	if kid == "" {
		return kr.SigningKey()
	}
	e, err := kr.Lookup(kid)
	if err != nil {
		return nil, err
	}
	if !e.State.CanSign() {
		return nil, &NotUsableError{KID: kid, State: e.State}
	}
	return e, nil
}

// TrustedKeys returns the keys that verify tokens: standby, in use and
// previously used, in keyring order.
func (kr *Keyring) TrustedKeys() []*Entry {
	return kr.Filter(Standby, InUse, PreviouslyUsed)
}

// PublicJWKS returns the JWKS to publish: the public half of every trusted
// asymmetric key, with kid, alg, use "sig" and key_ops ["verify"]. Shared
// secrets are never published. It needs no private material.
func (kr *Keyring) PublicJWKS() (*jwk.Set, error) {
	set := &jwk.Set{Keys: []*jwk.Key{}}
	for _, e := range kr.TrustedKeys() {
		if e.Symmetric() {
			continue
		}
		pub, err := e.Material.Public()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		set.Keys = append(set.Keys, &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: []string{jwk.OpVerify}, Material: pub.Material})
	}
	return set, nil
}

// ErrLegacyInUse: Supabase reads the legacy secret from [auth] jwt_secret,
// so a signing_keys.json cannot carry it as the signing key.
var ErrLegacyInUse = errors.New("the key in use is the legacy JWT secret, which Supabase takes from [auth] jwt_secret rather than signing_keys.json")

// SupabaseExport returns the private keys for Supabase's signing_keys.json
// (and GOTRUE_JWT_KEYS): the key in use with key_ops ["sign","verify"],
// first, then standby and previously used keys with ["verify"] in keyring
// order (the Supabase CLI signs with the first key of the file); use
// "sig" and ext true on each. Revoked and deleted keys and the legacy
// secret are left out, so Supabase Auth starts with exactly one signing key.
func (kr *Keyring) SupabaseExport() ([]*jwk.Key, error) {
	cur, err := kr.SigningKey()
	if err != nil {
		return nil, err
	}
	if cur.Legacy {
		return nil, ErrLegacyInUse
	}
	// The key in use first: the Supabase CLI signs its anon and
	// service_role keys, and its gen bearer-jwt without a kid, with the
	// first key of the file.
	trusted := []*Entry{cur}
	for _, e := range kr.TrustedKeys() {
		if e != cur && !e.Legacy {
			trusted = append(trusted, e)
		}
	}
	var out []*jwk.Key
	for _, e := range trusted {
		k, err := e.Material.Private()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		ops := []string{jwk.OpVerify}
		if e == cur {
			ops = []string{jwk.OpSign, jwk.OpVerify}
		}
		out = append(out, &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: ops, Ext: true, Material: k.Material})
	}
	return out, nil
}
