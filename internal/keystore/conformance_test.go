package keystore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/pgtest"
	"github.com/keyctl/keyctl/internal/store"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// The conformance suite: every lifecycle case runs against both stores,
// through the Store interface cmd/ uses, so the file keyring and the
// PostgreSQL keyring cannot drift apart.

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) keyring.Stamp { return keyring.Stamp{At: t0.Add(d), By: "alice@test"} }

// throwawayPassphrase and throwawayMasterKey are test fixtures only.
const throwawayPassphrase = "keyctl-test-throwaway-passphrase"

var throwawayMasterKey = []byte("keyctl-test-throwaway-master-key")

func secret(b []byte) func() ([]byte, error) { return func() ([]byte, error) { return b, nil } }

type storeMaker func(t *testing.T, o Options) Store

func makers(t *testing.T) map[string]storeMaker {
	m := map[string]storeMaker{
		"file": func(t *testing.T, o Options) Store {
			path := filepath.Join(t.TempDir(), "keyring.json")
			s, err := Open(path, o)
			if err != nil {
				t.Fatal(err)
			}
			return &reopen{Store: s, loc: path}
		},
	}
	m["postgres"] = func(t *testing.T, o Options) Store {
		u := pgtest.NewDatabase(t)
		if _, err := pgstore.New(u, pgstore.Options{}).Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if o.MasterKey == nil && o.Passphrase == nil && !o.InsecurePlaintext {
			o.MasterKey = secret(throwawayMasterKey)
		}
		s, err := Open(u, o)
		if err != nil {
			t.Fatal(err)
		}
		return &reopen{Store: s, loc: u}
	}
	return m
}

// reopen remembers the location so a case can open the same keyring with
// other options (another operator, another secret).
type reopen struct {
	Store
	loc string
}

func with(t *testing.T, s Store, o Options) Store {
	t.Helper()
	r := s.(*reopen)
	if r.Kind() == Postgres && o.MasterKey == nil && o.Passphrase == nil && !o.InsecurePlaintext {
		o.MasterKey = secret(throwawayMasterKey)
	}
	n, err := Open(r.loc, o)
	if err != nil {
		t.Fatal(err)
	}
	return &reopen{Store: n, loc: r.loc}
}

func gen(t *testing.T, alg jwk.Algorithm) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(alg, jwk.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func update(t *testing.T, s Store, fn func(*keyring.Keyring) error) *Handle {
	t.Helper()
	h, err := s.Update(context.Background(), true, fn)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func load(t *testing.T, s Store) *Handle {
	t.Helper()
	h, err := s.Load(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func states(kr *keyring.Keyring) string {
	var b []string
	for _, e := range kr.Keys {
		b = append(b, string(e.State))
	}
	return strings.Join(b, ",")
}

func events(kr *keyring.Keyring) string {
	var b []string
	for _, ev := range kr.History {
		b = append(b, string(ev.Action))
	}
	return strings.Join(b, ",")
}

// conformanceCases are run against every store.
var conformanceCases = []struct {
	name string
	run  func(t *testing.T, s Store)
}{
	{"missing keyring", func(t *testing.T, s Store) {
		_, err := s.Load(context.Background(), false)
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, pgstore.ErrNotFound) {
			t.Fatalf("Load of a missing keyring: %v", err)
		}
		_, err = s.Update(context.Background(), false, func(*keyring.Keyring) error { return nil })
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, pgstore.ErrNotFound) {
			t.Fatalf("Update without create: %v", err)
		}
	}},
	{"lifecycle", func(t *testing.T, s Store) {
		var a, b string
		update(t, s, func(kr *keyring.Keyring) error {
			e, err := kr.Create(gen(t, jwk.ES256), at(0))
			a = e.KID
			return err
		})
		update(t, s, func(kr *keyring.Keyring) error {
			_, _, err := kr.Rotate(a, at(time.Minute), keyring.Options{})
			return err
		})
		update(t, s, func(kr *keyring.Keyring) error {
			e, err := kr.Create(gen(t, jwk.EdDSA), at(2*time.Minute))
			b = e.KID
			return err
		})
		update(t, s, func(kr *keyring.Keyring) error {
			_, _, err := kr.Rotate(b, at(time.Hour), keyring.Options{})
			return err
		})
		h := load(t, s)
		if got := states(h.Keyring); got != "previously_used,in_use" {
			t.Fatalf("states after two rotations: %s", got)
		}
		if got := events(h.Keyring); got != "create,rotate,create,retire,rotate" {
			t.Fatalf("history: %s", got)
		}
		if e, _ := h.Keyring.Lookup(a); !e.RotatedOut.Equal(t0.Add(time.Hour)) {
			t.Fatalf("rotated out at %v", e.RotatedOut)
		}
		// Revoking early is refused and changes nothing.
		_, err := s.Update(context.Background(), false, func(kr *keyring.Keyring) error {
			_, err := kr.Revoke(a, at(time.Hour+time.Minute), keyring.Options{})
			return err
		})
		var early *keyring.TooEarlyError
		if !errors.As(err, &early) {
			t.Fatalf("early revoke: %v", err)
		}
		if got := states(load(t, s).Keyring); got != "previously_used,in_use" {
			t.Fatalf("a refused move changed the keyring: %s", got)
		}
		update(t, s, func(kr *keyring.Keyring) error {
			_, err := kr.Revoke(a, at(3*time.Hour), keyring.Options{})
			return err
		})
		update(t, s, func(kr *keyring.Keyring) error { _, err := kr.Standby(a, at(4*time.Hour)); return err })
		update(t, s, func(kr *keyring.Keyring) error {
			_, err := kr.Revoke(a, at(5*time.Hour), keyring.Options{})
			return err
		})
		update(t, s, func(kr *keyring.Keyring) error {
			_, err := kr.Delete(a, at(6*time.Hour), keyring.Options{})
			return err
		})
		h = load(t, s)
		e, _ := h.Keyring.Lookup(a)
		if e.State != keyring.Deleted || e.Material != nil {
			t.Fatalf("deleted key: state %s, material %v", e.State, e.Material)
		}
		// The kid stays taken.
		_, err = s.Update(context.Background(), false, func(kr *keyring.Keyring) error {
			k := gen(t, jwk.ES256)
			k.KID = a
			_, err := kr.Import(k, at(7*time.Hour), keyring.Options{})
			return err
		})
		if !errors.Is(err, keyring.ErrKIDTaken) {
			t.Fatalf("reusing a deleted kid: %v", err)
		}
		// The key in use still signs after every reload.
		sk, err := h.Keyring.SigningKey()
		if err != nil || sk.KID != b {
			t.Fatalf("signing key %v, %v", sk, err)
		}
		if _, err := sk.Material.Private(); err != nil {
			t.Fatal(err)
		}
		set, err := h.Keyring.PublicJWKS()
		if err != nil || len(set.Keys) != 1 || set.Keys[0].KID != b {
			t.Fatalf("published %v, %v", set, err)
		}
	}},
	{"refused moves change nothing", func(t *testing.T, s Store) {
		var a string
		update(t, s, func(kr *keyring.Keyring) error {
			e, err := kr.Create(gen(t, jwk.ES256), at(0))
			a = e.KID
			return err
		})
		before := load(t, s)
		for name, move := range map[string]func(kr *keyring.Keyring) error{
			"delete in use": func(kr *keyring.Keyring) error {
				if _, _, err := kr.Rotate(a, at(time.Minute), keyring.Options{}); err != nil {
					return err
				}
				_, err := kr.Delete(a, at(time.Minute), keyring.Options{})
				return err
			},
			"unknown kid": func(kr *keyring.Keyring) error { _, err := kr.Standby("nope", at(time.Minute)); return err },
			"fn fails": func(kr *keyring.Keyring) error {
				kr.Create(gen(t, jwk.ES256), at(time.Minute))
				return errors.New("changed my mind")
			},
		} {
			if _, err := s.Update(context.Background(), false, move); err == nil {
				t.Fatalf("%s: accepted", name)
			}
			after := load(t, s)
			if states(after.Keyring) != states(before.Keyring) || events(after.Keyring) != events(before.Keyring) {
				t.Fatalf("%s: changed the keyring: %s / %s", name, states(after.Keyring), events(after.Keyring))
			}
		}
	}},
	{"revocation wait kept through a store", func(t *testing.T, s Store) {
		// The waits the keyring computes live in fields each store keeps:
		// a lowered lifetime's high-water mark on the key in use, and a
		// standby key that signed.
		var a, b, c string
		update(t, s, func(kr *keyring.Keyring) error {
			ea, _ := kr.Create(gen(t, jwk.ES256), at(0))
			eb, _ := kr.Create(gen(t, jwk.ES256), at(0))
			ec, err := kr.Create(gen(t, jwk.ES256), at(0))
			a, b, c = ea.KID, eb.KID, ec.KID
			if err != nil {
				return err
			}
			if _, _, err := kr.Rotate(a, at(0), keyring.Options{}); err != nil {
				return err
			}
			return kr.SetMaxTokenLifetime(24*time.Hour, at(0))
		})
		update(t, s, func(kr *keyring.Keyring) error { return kr.SetMaxTokenLifetime(time.Hour, at(time.Minute)) })
		update(t, s, func(kr *keyring.Keyring) error { return kr.MarkSigned(c, at(2*time.Minute)) })
		update(t, s, func(kr *keyring.Keyring) error {
			_, _, err := kr.Rotate(b, at(time.Hour), keyring.Options{})
			return err
		})
		// a: rotated out at +1h with 24h tokens out; c: signed at +2m
		// under 1h, safe from +1h17m.
		for kid, when := range map[string]time.Duration{a: 3 * time.Hour, c: time.Hour} {
			var tooEarly *keyring.TooEarlyError
			_, err := s.Update(context.Background(), false, func(kr *keyring.Keyring) error {
				_, err := kr.Revoke(kid, at(when), keyring.Options{})
				return err
			})
			if !errors.As(err, &tooEarly) {
				t.Fatalf("revoke %s at +%s: %v, want too early", kid, when, err)
			}
		}
		update(t, s, func(kr *keyring.Keyring) error {
			_, err := kr.Revoke(c, at(2*time.Hour), keyring.Options{})
			return err
		})
	}},
	{"settings and actor", func(t *testing.T, s Store) {
		update(t, s, func(kr *keyring.Keyring) error { return kr.SetMaxTokenLifetime(10*time.Minute, at(0)) })
		h := load(t, s)
		if h.Keyring.Lifetime() != 10*time.Minute {
			t.Fatalf("lifetime %s", h.Keyring.Lifetime())
		}
		last := h.Keyring.History[len(h.Keyring.History)-1]
		if !strings.HasPrefix(last.By, "alice@test") || !last.At.Equal(t0) {
			t.Fatalf("history event %+v", last)
		}
	}},
	{"legacy secret", func(t *testing.T, s Store) {
		sec, err := jwk.Generate(jwk.HS256, jwk.GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		update(t, s, func(kr *keyring.Keyring) error {
			_, _, err := kr.MigrateLegacy(sec, gen(t, jwk.ES256), at(0), keyring.Options{})
			return err
		})
		h := load(t, s)
		lg := h.Keyring.Legacy()
		if lg == nil || lg.State != keyring.InUse {
			t.Fatalf("legacy %+v", lg)
		}
		k, err := lg.Material.Private()
		if err != nil || !k.Equal(sec) {
			t.Fatalf("legacy secret did not survive: %v", err)
		}
	}},
	{"encryption", func(t *testing.T, s Store) {
		var a string
		update(t, s, func(kr *keyring.Keyring) error {
			e, err := kr.Create(gen(t, jwk.ES256), at(0))
			a = e.KID
			return err
		})
		h, err := s.Encrypt(context.Background(), []byte(throwawayPassphrase), at(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if h.Seal != SealPassphrase || !h.Encrypted {
			t.Fatalf("seal %s", h.Seal)
		}
		if _, err := s.Encrypt(context.Background(), []byte("again"), at(time.Minute)); !errors.Is(err, store.ErrAlreadyEncrypted) {
			t.Fatalf("encrypting twice: %v", err)
		}
		// Without the passphrase: public keys read, private keys refuse.
		locked := with(t, s, Options{})
		if locked.Kind() == Postgres {
			locked = with(t, s, Options{Passphrase: func() ([]byte, error) { return nil, store.ErrNeedPassphrase }})
		}
		lh := load(t, locked)
		e, _ := lh.Keyring.Lookup(a)
		if _, err := e.Material.Public(); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Material.Private(); !errors.Is(err, store.ErrNeedPassphrase) {
			t.Fatalf("private key without the passphrase: %v", err)
		}
		wrong := with(t, s, Options{Passphrase: secret([]byte("wrong"))})
		wh := load(t, wrong)
		e, _ = wh.Keyring.Lookup(a)
		if _, err := e.Material.Private(); !errors.Is(err, store.ErrWrongPassphrase) {
			t.Fatalf("private key with a wrong passphrase: %v", err)
		}
		// With it, keys can be added and used.
		right := with(t, s, Options{Passphrase: secret([]byte(throwawayPassphrase))})
		update(t, right, func(kr *keyring.Keyring) error { _, err := kr.Create(gen(t, jwk.RS256), at(2*time.Minute)); return err })
		rh := load(t, right)
		for _, e := range rh.Keyring.Keys {
			if _, err := e.Material.Private(); err != nil {
				t.Fatalf("key %s: %v", e.KID, err)
			}
		}
		// Decrypting: a file goes back to the clear; a database keyring
		// keeps a seal unless asked for plaintext by name.
		_, err = right.Decrypt(context.Background(), at(3*time.Minute))
		if right.Kind() == Postgres {
			if !errors.Is(err, ErrKeepSeal) {
				t.Fatalf("unsealing a database keyring: %v", err)
			}
			plain := with(t, s, Options{Passphrase: secret([]byte(throwawayPassphrase)), InsecurePlaintext: true})
			if _, err = plain.Decrypt(context.Background(), at(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		if h := load(t, with(t, s, Options{InsecurePlaintext: true})); h.Encrypted {
			t.Fatalf("still encrypted: %s", h.Seal)
		}
		if got := events(load(t, with(t, s, Options{InsecurePlaintext: true})).Keyring); got != "create,encrypt,create,decrypt" {
			t.Fatalf("history %s", got)
		}
	}},
	{"concurrent writers", func(t *testing.T, s Store) {
		const n = 12
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Update(context.Background(), true, func(kr *keyring.Keyring) error {
					_, err := kr.Create(gen(t, jwk.ES256), at(0))
					return err
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		h := load(t, s)
		if len(h.Keyring.Keys) != n || len(h.Keyring.History) != n {
			t.Fatalf("%d writers left %d keys and %d events", n, len(h.Keyring.Keys), len(h.Keyring.History))
		}
	}},
}

func TestConformance(t *testing.T) {
	for kind, mk := range makers(t) {
		t.Run(kind, func(t *testing.T) {
			if kind == "postgres" {
				pgtest.AdminURL(t)
			}
			for _, c := range conformanceCases {
				t.Run(c.name, func(t *testing.T) {
					c.run(t, mk(t, Options{}))
				})
			}
		})
	}
}

// TestCopyRoundTrip copies a keyring file -> PostgreSQL -> file and checks
// every key, state, timestamp and event survives, and the private keys
// still open.
func TestCopyRoundTrip(t *testing.T) {
	m := makers(t)
	src := m["file"](t, Options{Passphrase: secret([]byte(throwawayPassphrase))})
	var a, b string
	update(t, src, func(kr *keyring.Keyring) error {
		e, err := kr.Create(gen(t, jwk.ES256), at(0))
		a = e.KID
		return err
	})
	update(t, src, func(kr *keyring.Keyring) error {
		_, _, err := kr.Rotate(a, at(time.Minute), keyring.Options{})
		return err
	})
	update(t, src, func(kr *keyring.Keyring) error {
		e, err := kr.Create(gen(t, jwk.RS256), at(2*time.Minute))
		b = e.KID
		return err
	})
	update(t, src, func(kr *keyring.Keyring) error {
		_, _, err := kr.Rotate(b, at(time.Hour), keyring.Options{})
		return err
	})
	// Two tombstones: a public key's keeps its thumbprint, a secret's its
	// check value; both must survive the copies.
	for _, alg := range []jwk.Algorithm{jwk.EdDSA, jwk.HS256} {
		update(t, src, func(kr *keyring.Keyring) error {
			e, err := kr.Create(gen(t, alg), at(time.Hour))
			if err != nil {
				return err
			}
			_, err = kr.Delete(e.KID, at(time.Hour), keyring.Options{})
			return err
		})
	}
	if _, err := src.Encrypt(context.Background(), []byte(throwawayPassphrase), at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	pgtest.AdminURL(t)
	db := m["postgres"](t, Options{})
	if _, _, err := Copy(context.Background(), src, db, CopyOptions{Stamp: at(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Not twice without Force.
	if _, _, err := Copy(context.Background(), src, db, CopyOptions{Stamp: at(3 * time.Hour)}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("second copy: %v", err)
	}
	back := m["file"](t, Options{Passphrase: secret([]byte("another-throwaway"))})
	_, dst, err := Copy(context.Background(), db, back, CopyOptions{Stamp: at(4 * time.Hour), FilePassphrase: secret([]byte("another-throwaway"))})
	if err != nil {
		t.Fatal(err)
	}
	if !dst.Encrypted {
		t.Fatal("a sealed keyring was copied to a file in the clear")
	}
	want, got := load(t, src).Keyring, load(t, back).Keyring
	if states(want) != states(got) {
		t.Fatalf("states %s -> %s", states(want), states(got))
	}
	for i, e := range want.Keys {
		g := got.Keys[i]
		if e.KID != g.KID || e.Alg != g.Alg || !e.Created.Equal(g.Created) || !e.Updated.Equal(g.Updated) || !e.RotatedOut.Equal(g.RotatedOut) ||
			e.Thumbprint != g.Thumbprint || e.SecretCheck != g.SecretCheck {
			t.Fatalf("key %d: %+v -> %+v", i, e, g)
		}
		if e.State == keyring.Deleted {
			if g.Material != nil || e.Thumbprint == "" && e.SecretCheck == "" {
				t.Fatalf("tombstone %s: material %v, thumbprint %q, secret check %q", e.KID, g.Material, e.Thumbprint, e.SecretCheck)
			}
			continue
		}
		wk, err := e.Material.Private()
		if err != nil {
			t.Fatal(err)
		}
		gk, err := g.Material.Private()
		if err != nil || !wk.Equal(gk) {
			t.Fatalf("key %s: private key changed in the copy (%v)", e.KID, err)
		}
	}
	if events(got) != events(want)+",copy,copy" {
		t.Fatalf("history %s -> %s", events(want), events(got))
	}
	// The file's events keep their actor: the database's db_role for them
	// is the copier's, which the note says, not the actor.
	for i, e := range want.History {
		g := got.History[i]
		if g.By != e.By || !strings.HasSuffix(g.Note, "(copied in by db role postgres)") {
			t.Fatalf("event %d: by %q note %q -> by %q note %q", i, e.By, e.Note, g.By, g.Note)
		}
	}
	// The copy into the database was done there: its own db role.
	if by := got.History[len(want.History)].By; !strings.HasSuffix(by, " (db role postgres)") {
		t.Fatalf("the copy event: by %q", by)
	}
}
