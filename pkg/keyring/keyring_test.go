package keyring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func stamp(d time.Duration) Stamp { return Stamp{At: t0.Add(d), By: "tester@host"} }

func genKey(t testing.TB, alg jwk.Algorithm, kid string) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(alg, jwk.GenerateOptions{KID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withKeyIn builds a keyring holding key "k" in state s, plus the other
// keys a real keyring in that state would have (a key in use when k is not
// the one), built through the actions themselves.
func withKeyIn(t *testing.T, s State) *Keyring {
	t.Helper()
	kr := &Keyring{}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(kr.Create(genKey(t, jwk.ES256, "k"), stamp(0)))
	switch s {
	case Standby:
		must(kr.Create(genKey(t, jwk.ES256, "other"), stamp(0)))
		must2(t)(kr.Rotate("other", stamp(0), Options{Force: true}))
	case InUse:
		must2(t)(kr.Rotate("k", stamp(0), Options{Force: true}))
	case PreviouslyUsed, Revoked, Deleted:
		must2(t)(kr.Rotate("k", stamp(0), Options{Force: true}))
		must(kr.Create(genKey(t, jwk.ES256, "other"), stamp(0)))
		must2(t)(kr.Rotate("other", stamp(0), Options{Force: true}))
		if s != PreviouslyUsed {
			must(kr.Revoke("k", stamp(3*time.Hour), Options{}))
		}
		if s == Deleted {
			must(kr.Delete("k", stamp(3*time.Hour), Options{}))
		}
	}
	e, err := kr.Lookup("k")
	if err != nil || e.State != s {
		t.Fatalf("setup: key k is %v (%v), want %s", e, err, s)
	}
	if err := kr.Check(); err != nil {
		t.Fatalf("setup: %v", err)
	}
	return kr
}

func must2(t *testing.T) func(_, _ *Entry, err error) {
	return func(_, _ *Entry, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestTransitionTable applies every move to a key in every state. The
// expected table is written out here, independently of the package's own.
func TestTransitionTable(t *testing.T) {
	want := map[State]map[Action]State{ // absent: refused
		Standby:        {ActionRotate: InUse, ActionRevoke: Revoked, ActionDelete: Deleted},
		InUse:          {},
		PreviouslyUsed: {ActionRevoke: Revoked, ActionStandby: Standby},
		Revoked:        {ActionStandby: Standby, ActionDelete: Deleted},
		Deleted:        {},
	}
	apply := map[Action]func(kr *Keyring) error{
		ActionRotate: func(kr *Keyring) error {
			_, _, err := kr.Rotate("k", stamp(4*time.Hour), Options{Force: true})
			return err
		},
		ActionRevoke: func(kr *Keyring) error { _, err := kr.Revoke("k", stamp(4*time.Hour), Options{}); return err },
		ActionStandby: func(kr *Keyring) error {
			_, err := kr.Standby("k", stamp(4*time.Hour))
			return err
		},
		ActionDelete: func(kr *Keyring) error { _, err := kr.Delete("k", stamp(4*time.Hour), Options{}); return err },
	}
	for _, from := range States {
		for _, action := range Moves {
			t.Run(fmt.Sprintf("%s/%s", from, action), func(t *testing.T) {
				kr := withKeyIn(t, from)
				before := len(kr.History)
				err := apply[action](kr)
				e, _ := kr.Lookup("k")
				to, allowed := want[from][action]
				if allowed {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if e.State != to {
						t.Fatalf("state %s, want %s", e.State, to)
					}
					last := kr.History[len(kr.History)-1]
					if last.KID != "k" || last.Action != action || last.From != from || last.To != to || last.By != "tester@host" || !last.At.Equal(t0.Add(4*time.Hour)) {
						t.Fatalf("history event %+v", last)
					}
					if err := kr.Check(); err != nil {
						t.Fatalf("invariants broken: %v", err)
					}
					if (to == Deleted) != (e.Material == nil) {
						t.Fatalf("material %v after %s", e.Material, action)
					}
					if got, ok := Next(action, from); !ok || got != to {
						t.Fatalf("Next(%s, %s) = %s, %v", action, from, got, ok)
					}
					return
				}
				var te *TransitionError
				if !errors.As(err, &te) {
					t.Fatalf("err = %v, want a TransitionError", err)
				}
				if te.KID != "k" || te.From != from || te.Action != action || te.To != targets[action] {
					t.Fatalf("TransitionError %+v", te)
				}
				var wantAllowed []Action
				for _, a := range Moves {
					if _, ok := want[from][a]; ok {
						wantAllowed = append(wantAllowed, a)
					}
				}
				if !slices.Equal(te.Allowed, wantAllowed) {
					t.Fatalf("allowed %v, want %v", te.Allowed, wantAllowed)
				}
				if e.State != from || len(kr.History) != before {
					t.Fatalf("a refused move changed the keyring: %s, %d events", e.State, len(kr.History)-before)
				}
			})
		}
	}
}

// TestNewKeysNeverReuseKIDs adds a key under a kid held in every state,
// tombstones included.
func TestNewKeysNeverReuseKIDs(t *testing.T) {
	for _, s := range States {
		for _, action := range []Action{ActionCreate, ActionImport, ActionMigrateLegacy, ActionImportSupabase} {
			t.Run(fmt.Sprintf("%s/%s", s, action), func(t *testing.T) {
				kr := withKeyIn(t, s)
				var err error
				switch action {
				case ActionCreate:
					_, err = kr.Create(genKey(t, jwk.ES256, "k"), stamp(time.Hour))
				case ActionImport:
					_, err = kr.Import(genKey(t, jwk.EdDSA, "k"), stamp(time.Hour), Options{})
				case ActionMigrateLegacy:
					// Nothing may be in use for a migration: demote the key in use.
					kr2 := cloneStates(kr)
					for _, e := range kr2.Keys {
						if e.State == InUse {
							e.State = PreviouslyUsed
						}
					}
					_, _, err = kr2.MigrateLegacy(genKey(t, jwk.HS256, "k"), genKey(t, jwk.ES256, "n"), stamp(time.Hour), Options{})
				case ActionImportSupabase:
					_, err = kr.ImportSupabase([]*jwk.Key{genKey(t, jwk.ES256, "k")}, stamp(time.Hour), Options{Force: true})
				}
				if !errors.Is(err, ErrKIDTaken) {
					t.Fatalf("err = %v, want ErrKIDTaken", err)
				}
			})
		}
	}
}

func TestRotate(t *testing.T) {
	kr := &Keyring{}
	if _, _, err := kr.Rotate("", stamp(0), Options{Force: true}); !errors.Is(err, ErrNoStandbyKey) {
		t.Fatalf("empty keyring: %v", err)
	}
	a, _ := kr.Create(genKey(t, jwk.ES256, "a"), stamp(0))
	cur, prev, err := kr.Rotate("", stamp(time.Minute), Options{Force: true})
	if err != nil || cur != a || prev != nil {
		t.Fatalf("first rotation: %v %v %v", cur, prev, err)
	}
	if !a.RotatedOut.IsZero() {
		t.Fatal("the new key in use has a rotated-out time")
	}
	kr.Create(genKey(t, jwk.RS256, "b"), stamp(2*time.Minute))
	kr.Create(genKey(t, jwk.EdDSA, "c"), stamp(2*time.Minute))
	var amb *AmbiguousRotationError
	if _, _, err := kr.Rotate("", stamp(3*time.Minute), Options{Force: true}); !errors.As(err, &amb) || !slices.Equal(amb.Standby, []string{"b", "c"}) {
		t.Fatalf("two standby keys: %v", err)
	}
	cur, prev, err = kr.Rotate("c", stamp(4*time.Minute), Options{Force: true})
	if err != nil || cur.KID != "c" || prev != a {
		t.Fatalf("rotate c: %v %v %v", cur, prev, err)
	}
	if a.State != PreviouslyUsed || !a.RotatedOut.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("old key: %s rotated out %v", a.State, a.RotatedOut)
	}
	if got := len(kr.Filter(InUse)); got != 1 {
		t.Fatalf("%d keys in use", got)
	}
	if _, _, err := kr.Rotate("nope", stamp(5*time.Minute), Options{Force: true}); !errors.Is(err, ErrUnknownKID) {
		t.Fatalf("unknown kid: %v", err)
	}
}

func TestRevokeWaitsForTokensToExpire(t *testing.T) {
	kr := &Keyring{}
	kr.Create(genKey(t, jwk.ES256, "a"), stamp(0))
	kr.Rotate("a", stamp(0), Options{Force: true})
	kr.Create(genKey(t, jwk.ES256, "b"), stamp(0))
	kr.Rotate("b", stamp(time.Hour), Options{Force: true}) // a rotated out at t0+1h

	safe := t0.Add(time.Hour + DefaultMaxTokenLifetime + RevocationGrace)
	var early *TooEarlyError
	if _, err := kr.Revoke("a", Stamp{At: safe.Add(-time.Second)}, Options{}); !errors.As(err, &early) {
		t.Fatalf("revoke a second early: %v", err)
	}
	if !early.SafeAt.Equal(safe) || early.KID != "a" || early.MaxTokenLifetime != time.Hour {
		t.Fatalf("TooEarlyError %+v", early)
	}
	// A shorter lifetime for this move does not shorten the wait below the
	// lifetime in force at the rotation (1h); force lets it through.
	kr2 := cloneStates(kr)
	if _, err := kr2.Revoke("a", Stamp{At: t0.Add(time.Hour + 20*time.Minute)}, Options{MaxTokenLifetime: time.Minute}); !errors.As(err, &early) {
		t.Fatalf("with a 1m lifetime: %v, want TooEarlyError", err)
	}
	kr3 := cloneStates(kr)
	if _, err := kr3.Revoke("a", Stamp{At: t0.Add(time.Hour)}, Options{Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if n := kr3.History[len(kr3.History)-1].Note; n == "" {
		t.Fatal("a forced revocation leaves no note")
	}
	// Lowering the keyring's lifetime later does not shorten it either.
	kr4 := cloneStates(kr)
	kr4.SetMaxTokenLifetime(10*time.Minute, stamp(0))
	if _, err := kr4.Revoke("a", Stamp{At: t0.Add(time.Hour + 25*time.Minute)}, Options{}); !errors.As(err, &early) {
		t.Fatalf("10m lifetime set after the rotation, 25m later: %v, want TooEarlyError", err)
	}
	if _, err := kr.Revoke("a", Stamp{At: safe}, Options{}); err != nil {
		t.Fatalf("revoke when safe: %v", err)
	}
	// Back to standby and then deleted straight away: the wait still holds,
	// since the key signed tokens recently.
	kr5 := &Keyring{}
	kr5.Create(genKey(t, jwk.ES256, "a"), stamp(0))
	kr5.Rotate("a", stamp(0), Options{Force: true})
	kr5.Create(genKey(t, jwk.ES256, "b"), stamp(0))
	kr5.Rotate("b", stamp(0), Options{Force: true})
	kr5.Standby("a", stamp(time.Minute))
	if _, err := kr5.Delete("a", stamp(2*time.Minute), Options{}); !errors.As(err, &early) {
		t.Fatalf("delete a standby key rotated out a minute ago: %v", err)
	}
	// A standby key that never signed is revoked at once.
	kr5.Create(genKey(t, jwk.ES256, "c"), stamp(0))
	if _, err := kr5.Revoke("c", stamp(0), Options{}); err != nil {
		t.Fatalf("revoke a never-used standby key: %v", err)
	}
}

func noKID(k *jwk.Key) *jwk.Key {
	k.KID = ""
	return k
}

// cloneStates copies entries (not material) so each case starts the same.
func cloneStates(kr *Keyring) *Keyring {
	out := &Keyring{MaxTokenLifetime: kr.MaxTokenLifetime}
	for _, e := range kr.Keys {
		c := *e
		out.Keys = append(out.Keys, &c)
	}
	return out
}

func TestDelete(t *testing.T) {
	kr := &Keyring{}
	kr.Create(genKey(t, jwk.ES256, "a"), stamp(0))
	e, err := kr.Delete("a", stamp(time.Minute), Options{})
	if err != nil || e.State != Deleted || e.Material != nil {
		t.Fatalf("delete: %v %v", e, err)
	}
	if _, err := kr.Create(genKey(t, jwk.ES256, "a"), stamp(time.Minute)); !errors.Is(err, ErrKIDTaken) {
		t.Fatalf("reusing a deleted kid: %v", err)
	}
	// The legacy secret needs force.
	kr = &Keyring{}
	kr.MigrateLegacy(genKey(t, jwk.HS256, "legacy"), genKey(t, jwk.ES256, "new"), stamp(0), Options{})
	kr.Rotate("new", stamp(0), Options{Force: true})
	kr.Revoke("legacy", stamp(2*time.Hour), Options{})
	if _, err := kr.Delete("legacy", stamp(3*time.Hour), Options{}); !errors.Is(err, ErrLegacyDelete) {
		t.Fatalf("delete legacy: %v", err)
	}
	if _, err := kr.Delete("legacy", stamp(3*time.Hour), Options{Force: true}); err != nil {
		t.Fatalf("delete legacy with force: %v", err)
	}
}

func TestMigrateLegacy(t *testing.T) {
	kr := &Keyring{}
	secret := genKey(t, jwk.HS256, "legacy")
	legacy, standby, err := kr.MigrateLegacy(secret, genKey(t, jwk.ES256, "next"), stamp(0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !legacy.Legacy || legacy.State != InUse || legacy.Origin != OriginLegacy || standby.State != Standby {
		t.Fatalf("legacy %+v standby %+v", legacy, standby)
	}
	if sk, _ := kr.SigningKey(); sk != legacy {
		t.Fatal("the legacy secret does not sign")
	}
	if _, _, err := kr.MigrateLegacy(genKey(t, jwk.HS256, "l2"), genKey(t, jwk.ES256, "n2"), stamp(0), Options{}); !errors.Is(err, ErrLegacyExists) {
		t.Fatalf("second migration: %v", err)
	}
	kr2 := &Keyring{}
	kr2.Create(genKey(t, jwk.ES256, "a"), stamp(0))
	kr2.Rotate("a", stamp(0), Options{Force: true})
	if _, _, err := kr2.MigrateLegacy(genKey(t, jwk.HS256, "l"), genKey(t, jwk.ES256, "n"), stamp(0), Options{}); !errors.Is(err, ErrAlreadyInUse) {
		t.Fatalf("migration with a key in use: %v", err)
	}
	if _, _, err := (&Keyring{}).MigrateLegacy(genKey(t, jwk.ES256, "l"), genKey(t, jwk.ES256, "n"), stamp(0), Options{}); err == nil {
		t.Fatal("an ES256 key accepted as the legacy secret")
	}
	if _, _, err := (&Keyring{}).MigrateLegacy(genKey(t, jwk.HS256, "l"), genKey(t, jwk.HS256, "n"), stamp(0), Options{}); err == nil {
		t.Fatal("a shared secret accepted as the key to rotate to")
	}
	// Supabase export leaves the legacy secret out, and refuses while it signs.
	if _, err := kr.SupabaseExport(); !errors.Is(err, ErrLegacyInUse) {
		t.Fatalf("export with the legacy key in use: %v", err)
	}
	kr.Rotate("next", stamp(time.Minute), Options{Force: true})
	keys, err := kr.SupabaseExport()
	if err != nil || len(keys) != 1 || keys[0].KID != "next" {
		t.Fatalf("export: %v %v", keys, err)
	}
}

func TestDuplicateMaterial(t *testing.T) {
	kr := &Keyring{}
	k := genKey(t, jwk.ES256, "a")
	kr.Create(k, stamp(0))
	again := *k
	again.KID = "b"
	if _, err := kr.Import(&again, stamp(0), Options{}); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("same EC key twice: %v", err)
	}
	s := genKey(t, jwk.HS256, "s")
	kr.Import(s, stamp(0), Options{})
	s2 := *s
	s2.KID = "s2"
	if _, err := kr.Import(&s2, stamp(0), Options{}); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("same secret twice: %v", err)
	}
	pub, _ := genKey(t, jwk.ES256, "p").Public()
	if _, err := kr.Import(pub, stamp(0), Options{}); !errors.Is(err, jwk.ErrNotPrivate) {
		t.Fatalf("public key imported: %v", err)
	}
	if _, err := kr.Import(noKID(genKey(t, jwk.ES256, "x")), stamp(0), Options{}); err == nil {
		t.Fatal("a key without kid imported")
	}
}

func TestViews(t *testing.T) {
	kr := &Keyring{}
	if _, err := kr.SigningKey(); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("empty: %v", err)
	}
	for _, c := range []struct {
		kid string
		alg jwk.Algorithm
	}{{"ec", jwk.ES256}, {"rsa", jwk.RS256}, {"ed", jwk.EdDSA}, {"hs", jwk.HS256}, {"gone", jwk.ES256}, {"rev", jwk.ES256}} {
		kr.Create(genKey(t, c.alg, c.kid), stamp(0))
	}
	kr.Rotate("ec", stamp(0), Options{Force: true})
	kr.Revoke("rev", stamp(0), Options{})
	kr.Delete("gone", stamp(0), Options{})
	kr.Rotate("rsa", stamp(time.Minute), Options{Force: true}) // ec: previously used

	set, err := kr.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
		if k.IsPrivate() || k.Use != "sig" || !slices.Equal(k.KeyOps, []string{"verify"}) {
			t.Fatalf("published key %s: private %v use %q ops %v", k.KID, k.IsPrivate(), k.Use, k.KeyOps)
		}
	}
	if !slices.Equal(kids, []string{"ec", "rsa", "ed"}) {
		t.Fatalf("JWKS kids %v", kids)
	}
	trusted := kr.TrustedKeys()
	if len(trusted) != 4 {
		t.Fatalf("%d trusted keys, want 4 (ec, rsa, ed, hs)", len(trusted))
	}
	keys, err := kr.SupabaseExport()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string][]string{}
	for _, k := range keys {
		if !k.IsPrivate() || !k.Ext || k.Use != "sig" {
			t.Fatalf("export %s: private %v ext %v", k.KID, k.IsPrivate(), k.Ext)
		}
		ops[k.KID] = k.KeyOps
	}
	if len(ops) != 4 || !slices.Equal(ops["rsa"], []string{"sign", "verify"}) || !slices.Equal(ops["ec"], []string{"verify"}) || !slices.Equal(ops["hs"], []string{"verify"}) {
		t.Fatalf("export ops %v", ops)
	}
	if e, err := kr.SignableKey("ed"); err != nil || e.KID != "ed" {
		t.Fatalf("sign with standby key: %v", err)
	}
	var nu *NotUsableError
	for _, kid := range []string{"rev", "gone", "ec"} {
		if _, err := kr.SignableKey(kid); !errors.As(err, &nu) {
			t.Fatalf("sign with %s: %v", kid, err)
		}
	}
	if e, _ := kr.SignableKey(""); e.KID != "rsa" {
		t.Fatalf("default signer %s", e.KID)
	}
}

func TestImportSupabase(t *testing.T) {
	a, b, c := genKey(t, jwk.ES256, "a"), genKey(t, jwk.RS256, "b"), genKey(t, jwk.ES256, "c")
	file := []*jwk.Key{a.WithOps("verify"), b.WithOps("sign", "verify"), c.WithOps("verify")}
	kr := &Keyring{}
	res, err := kr.ImportSupabase(file, stamp(0), Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 3 || res.InUse == nil || res.InUse.KID != "b" || res.Previous != nil {
		t.Fatalf("result %+v", res)
	}
	// Round trip: the export gives the same keys and roles back, the key
	// in use first (the Supabase CLI signs with the first key), the others
	// in the file's order.
	out, err := kr.SupabaseExport()
	if err != nil {
		t.Fatal(err)
	}
	want := []*jwk.Key{file[1], file[0], file[2]}
	for i, k := range out {
		if k.KID != want[i].KID || !slices.Equal(k.KeyOps, want[i].KeyOps) || !k.Equal(want[i]) {
			t.Fatalf("key %d: %s %v", i, k.KID, k.KeyOps)
		}
	}
	// Importing again changes nothing.
	n := len(kr.History)
	res, err = kr.ImportSupabase(file, stamp(time.Minute), Options{Force: true})
	if err != nil || len(res.Added) != 0 || len(res.Unchanged) != 3 || len(kr.History) != n {
		t.Fatalf("re-import: %+v %v, %d new events", res, err, len(kr.History)-n)
	}
	// A new signer in the file is rotated in.
	d := genKey(t, jwk.ES256, "d")
	res, err = kr.ImportSupabase([]*jwk.Key{d.WithOps("sign", "verify"), b.WithOps("verify")}, stamp(2*time.Minute), Options{Force: true})
	if err != nil || res.InUse.KID != "d" || res.Previous.KID != "b" {
		t.Fatalf("new signer: %+v %v", res, err)
	}
	// Refusals change nothing.
	for name, keys := range map[string][]*jwk.Key{
		"two signers":           {genKey(t, jwk.ES256, "x").WithOps("sign", "verify"), genKey(t, jwk.ES256, "y").WithOps("sign", "verify")},
		"kid clash":             {genKey(t, jwk.ES256, "x"), genKey(t, jwk.ES256, "a")},
		"duplicate kid":         {genKey(t, jwk.ES256, "x"), genKey(t, jwk.ES256, "x")},
		"same key twice":        {a.WithOps("verify"), func() *jwk.Key { k := *a; k.KID = "z"; return &k }()},
		"no kid":                {noKID(genKey(t, jwk.ES256, "x"))},
		"previously used signs": {b.WithOps("sign", "verify")},
	} {
		before := len(kr.Keys)
		if _, err := kr.ImportSupabase(keys, stamp(3*time.Minute), Options{Force: true}); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if len(kr.Keys) != before {
			t.Errorf("%s: keys added by a refused import", name)
		}
	}
}

func TestCheckInvariants(t *testing.T) {
	good := func() *Keyring {
		kr := &Keyring{}
		kr.Create(genKey(t, jwk.ES256, "a"), stamp(0))
		kr.Create(genKey(t, jwk.ES256, "b"), stamp(0))
		kr.Rotate("a", stamp(0), Options{Force: true})
		return kr
	}
	if err := good().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(kr *Keyring){
		"two in use":        func(kr *Keyring) { kr.Keys[1].State = InUse },
		"duplicate kid":     func(kr *Keyring) { kr.Keys[1].KID = "a" },
		"empty kid":         func(kr *Keyring) { kr.Keys[1].KID = "" },
		"unknown state":     func(kr *Keyring) { kr.Keys[1].State = "retired" },
		"unknown origin":    func(kr *Keyring) { kr.Keys[1].Origin = "stolen" },
		"unknown alg":       func(kr *Keyring) { kr.Keys[1].Alg = "PS256" },
		"deleted with key":  func(kr *Keyring) { kr.Keys[1].State = Deleted },
		"no material":       func(kr *Keyring) { kr.Keys[1].Material = nil },
		"legacy ES256":      func(kr *Keyring) { kr.Keys[1].Legacy = true },
		"no timestamps":     func(kr *Keyring) { kr.Keys[1].Created = time.Time{} },
		"negative lifetime": func(kr *Keyring) { kr.MaxTokenLifetime = -time.Second },
	} {
		kr := good()
		breakIt(kr)
		if err := kr.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMessages(t *testing.T) {
	kr := withKeyIn(t, InUse)
	_, err := kr.Revoke("k", stamp(0), Options{})
	if got, want := err.Error(), `cannot revoke key "k": it is in use`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	_, _, err = kr.Rotate("k", stamp(0), Options{Force: true})
	if got, want := err.Error(), `cannot rotate to key "k": it is already in use`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	kr = withKeyIn(t, PreviouslyUsed)
	_, err = kr.Delete("k", stamp(0), Options{})
	if got, want := err.Error(), `cannot delete key "k": it is previously used (a previously used key can: revoke, standby)`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	_, err = kr.Revoke("k", stamp(time.Minute), Options{})
	if got, want := err.Error(), `key "k" was in use until 2026-03-01T12:00:00Z: tokens it signed may be valid until 2026-03-01T13:15:00Z (max token lifetime 1h + 15m)`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 90 * time.Minute: "1h30m", 15 * time.Minute: "15m", 90 * time.Second: "1m30s", 87600 * time.Hour: "87600h"} {
		if got := ShortDuration(d); got != want {
			t.Errorf("ShortDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestStatesFor(t *testing.T) {
	if got := StatesFor(ActionRotate); !slices.Equal(got, []State{Standby}) {
		t.Fatalf("rotate: %v", got)
	}
	if got := StatesFor(ActionDelete); !slices.Equal(got, []State{Standby, Revoked}) {
		t.Fatalf("delete: %v", got)
	}
}

func TestSetMaxTokenLifetime(t *testing.T) {
	kr := &Keyring{}
	if kr.Lifetime() != time.Hour {
		t.Fatalf("default %s", kr.Lifetime())
	}
	if err := kr.SetMaxTokenLifetime(0, stamp(0)); err == nil {
		t.Fatal("zero accepted")
	}
	if err := kr.SetMaxTokenLifetime(2*time.Hour, stamp(0)); err != nil || kr.Lifetime() != 2*time.Hour {
		t.Fatalf("set: %v %s", err, kr.Lifetime())
	}
	if ev := kr.History[0]; ev.Action != ActionSetLifetime || ev.Note != "max token lifetime 2h (was 1h)" {
		t.Fatalf("event %+v", ev)
	}
}

// A huge lifetime (a flag, a hand-edited keyring) waits the longest,
// never wraps around into an immediate revocation.
func TestHugeLifetimeDoesNotWrap(t *testing.T) {
	kr := &Keyring{}
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	st := func(d time.Duration) Stamp { return Stamp{At: t0.Add(d), By: "t"} }
	for _, kid := range []string{"a", "b"} {
		k, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: kid})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.Create(k, st(0)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := kr.Rotate("a", st(time.Minute), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := kr.Rotate("b", st(time.Hour), Options{}); err != nil {
		t.Fatal(err)
	}
	_, err := kr.Revoke("a", st(time.Hour+time.Second), Options{MaxTokenLifetime: math.MaxInt64 - 1})
	var early *TooEarlyError
	if !errors.As(err, &early) {
		t.Fatalf("revoke with a huge lifetime: %v, want TooEarlyError", err)
	}
}
