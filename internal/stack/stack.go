// Package stack shapes a keyring into what each service of a Supabase
// stack reads: Auth's GOTRUE_JWT_KEYS (private JWKs, exactly one signing
// key) and the JWKS that PostgREST, Realtime, Storage and Edge Functions
// verify with (public keys, plus every trusted HS256 secret: the legacy one
// while it is trusted, so the legacy anon and service_role tokens keep
// working, and any other, so tokens Auth signs with it verify). The
// services' JWKS holds a secret whenever one is in it: it is private
// material, never for publishing.
package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// Service is one service of the stack and the variable it reads.
type Service struct {
	Name     string // --service value
	Label    string // for messages
	Variable string
	// JWKS: the service reads the services' JWKS; otherwise Auth's keys.
	JWKS bool
}

// Services are the stack's services, in the order the env file lists them.
var Services = []Service{
	{Name: "auth", Label: "Auth (GoTrue)", Variable: "GOTRUE_JWT_KEYS"},
	{Name: "postgrest", Label: "PostgREST", Variable: "PGRST_JWT_SECRET", JWKS: true},
	{Name: "realtime", Label: "Realtime", Variable: "API_JWT_JWKS", JWKS: true},
	{Name: "storage", Label: "Storage", Variable: "JWT_JWKS", JWKS: true},
	{Name: "functions", Label: "Edge Functions", Variable: "SUPABASE_JWKS", JWKS: true},
}

// ServiceNames lists the --service values.
func ServiceNames() []string {
	var out []string
	for _, s := range Services {
		out = append(out, s.Name)
	}
	return out
}

// LookupService finds a service by its --service name.
func LookupService(name string) (Service, bool) {
	for _, s := range Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// LeftOut is a key the export does not carry, and why.
type LeftOut struct {
	KID    string
	Reason string
}

// Export is the keyring shaped for the stack.
type Export struct {
	// Auth is GOTRUE_JWT_KEYS: the key in use first with key_ops
	// ["sign","verify"], then every other trusted key with ["verify"]
	// (the legacy secret too, as Auth's own set has it), use "sig", ext.
	Auth []*jwk.Key
	// JWKS is what the other services verify with: the public form of
	// every trusted asymmetric key, every other trusted HS256 key as an
	// oct key with its kid, and the legacy secret as an oct key without
	// kid (kid-less legacy tokens must match it) while trusted.
	JWKS *jwk.Set
	// Signer is the kid of the key in use.
	Signer string
	// Legacy reports the legacy secret in both sets (JWKS then holds a
	// secret).
	Legacy bool
	// Shared are the kids of the other trusted HS256 keys: the services
	// must verify what Auth signs with them, so JWKS holds them too, as
	// oct keys with their kid (JWKS then holds a secret).
	Shared []string
	// Left are the keys left out (revoked, deleted).
	Left []LeftOut
}

// ErrNoSigner refuses a keyring with no key in use: Auth would not start.
var ErrNoSigner = errors.New("no key is in use: Auth starts only with exactly one signing key")

// Build shapes kr for the stack. It opens every trusted private key, so an
// encrypted keyring needs its passphrase.
func Build(kr *keyring.Keyring) (*Export, error) {
	cur, err := kr.SigningKey()
	if errors.Is(err, keyring.ErrNoSigningKey) {
		return nil, ErrNoSigner
	}
	if err != nil {
		return nil, err
	}
	x := &Export{JWKS: &jwk.Set{Keys: []*jwk.Key{}}, Signer: cur.KID}
	// The key in use first: the CLI signs its anon and service_role keys
	// with the first key, and Auth's loader reads it first.
	trusted := []*keyring.Entry{cur}
	for _, e := range kr.TrustedKeys() {
		if e != cur {
			trusted = append(trusted, e)
		}
	}
	for _, e := range trusted {
		k, err := e.Material.Private()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		ops := []string{jwk.OpVerify}
		if e == cur {
			ops = []string{jwk.OpSign, jwk.OpVerify}
		}
		x.Auth = append(x.Auth, &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: ops, Ext: true, Material: k.Material})
		if e.Symmetric() {
			if e.Legacy {
				x.Legacy = true
				x.JWKS.Keys = append(x.JWKS.Keys, &jwk.Key{Material: k.Material})
			} else {
				x.Shared = append(x.Shared, e.KID)
				x.JWKS.Keys = append(x.JWKS.Keys, &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: []string{jwk.OpVerify}, Material: k.Material})
			}
			continue
		}
		pub, err := k.Public()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		x.JWKS.Keys = append(x.JWKS.Keys, &jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", KeyOps: []string{jwk.OpVerify}, Material: pub.Material})
	}
	for _, e := range kr.Keys {
		switch e.State {
		case keyring.Revoked:
			x.Left = append(x.Left, LeftOut{e.KID, "revoked"})
		case keyring.Deleted:
			x.Left = append(x.Left, LeftOut{e.KID, "deleted"})
		}
	}
	return x, nil
}

// HoldsSecret reports a shared secret in JWKS.
func (x *Export) HoldsSecret() bool { return x.Legacy || len(x.Shared) > 0 }

// AuthJSON is the GOTRUE_JWT_KEYS value: one line.
func (x *Export) AuthJSON() ([]byte, error) { return json.Marshal(x.Auth) }

// JWKSJSON is the services' JWKS: one line.
func (x *Export) JWKSJSON() ([]byte, error) { return json.Marshal(x.JWKS) }

// Value is the value of s's variable.
func (x *Export) Value(s Service) ([]byte, error) {
	if s.JWKS {
		return x.JWKSJSON()
	}
	return x.AuthJSON()
}

// Variables returns every variable of the stack and its value, in Services
// order.
func (x *Export) Variables() ([]Var, error) {
	var out []Var
	for _, s := range Services {
		v, err := x.Value(s)
		if err != nil {
			return nil, err
		}
		out = append(out, Var{Name: s.Variable, Value: string(v)})
	}
	return out, nil
}

// Var is one NAME=value of an env file.
type Var struct {
	Name, Value string
}

// LeftOutWords says which keys were left out, for a message: "k1 (revoked),
// k2 (deleted)".
func (x *Export) LeftOutWords() string {
	var parts []string
	for _, l := range x.Left {
		parts = append(parts, l.KID+" ("+l.Reason+")")
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
