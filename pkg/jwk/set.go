package jwk

import (
	"errors"
	"fmt"
	"slices"
)

// Errors ParseSet wraps in a *ParseError, so callers can say what to do.
var (
	// ErrPrivateInSet: a private member or a shared secret in a set that
	// must hold public keys only.
	ErrPrivateInSet = errors.New("private material in a public JWKS")
	// ErrDuplicateKID: two usable keys of one set share a kid.
	ErrDuplicateKID = errors.New("duplicate kid")
	// ErrSingleJWK: a single JWK where a JWK Set was wanted.
	ErrSingleJWK = errors.New(`a single JWK, not a JWK Set ({"keys":[...]})`)
	// ErrKeyArray: a JSON array of JWKs (a signing_keys.json) where a JWK
	// Set was wanted.
	ErrKeyArray = errors.New(`a JSON array of JWKs (as in signing_keys.json), not a JWK Set ({"keys":[...]})`)
)

// privateError is a refusal of private material: its message is the
// reason alone, and it matches ErrPrivateInSet.
type privateError string

func (e privateError) Error() string        { return string(e) }
func (e privateError) Is(target error) bool { return target == ErrPrivateInSet }

// SkippedKey is a JWKS entry ParseSet left out because keyctl cannot use
// it for verifying: another key type, curve, algorithm or use.
type SkippedKey struct {
	Index  int    // position in "keys"
	KID    string // "" when the entry has none
	Reason string // why, for people: `use "enc": not a signature key`
}

// String is "key 1 (kid "x"): reason".
func (s SkippedKey) String() string {
	where := fmt.Sprintf("key %d", s.Index)
	if s.KID != "" {
		where += fmt.Sprintf(" (kid %s)", quoteClip(s.KID))
	}
	return where + ": " + s.Reason
}

// privateMember names the first private member r carries ("d", "p", ...,
// "k" for a shared secret), or "".
func (r *rawKey) privateMember() string {
	if r.Kty != nil && *r.Kty == KtyOct || r.K != nil {
		return "k"
	}
	for _, m := range []struct {
		name string
		v    *string
	}{{"d", r.D}, {"p", r.P}, {"q", r.Q}, {"dp", r.DP}, {"dq", r.DQ}, {"qi", r.QI}} {
		if m.v != nil {
			return m.name
		}
	}
	return ""
}

// unusable says why keyctl cannot verify with the entry r, or "" when it
// might: a key type, curve or algorithm keyctl does not verify, or a key
// meant for something else than signatures. Such keys are skipped, as RFC
// 7517 section 5 asks, not refused: an issuer's set legitimately holds
// them (Keycloak publishes its encryption key beside its signing keys).
// Whatever this lets through is checked strictly by build.
func (r *rawKey) unusable() string {
	if r.Kty == nil {
		return "" // malformed: build refuses it
	}
	var want Algorithm
	curve := ""
	switch *r.Kty {
	case KtyEC:
		want, curve = ES256, "P-256"
	case KtyOKP:
		want, curve = EdDSA, "Ed25519"
	case KtyRSA:
		want = RS256
	case KtyOct:
		want = HS256
	default:
		return fmt.Sprintf("key type %s is not supported", quoteClip(*r.Kty))
	}
	if r.Use != nil && *r.Use != "sig" {
		return fmt.Sprintf("use %s: not a signature key", quoteClip(*r.Use))
	}
	for _, op := range r.KeyOps {
		if op != OpSign && op != OpVerify {
			return fmt.Sprintf("key_ops %s: not a signature key", quoteClip(op))
		}
	}
	if r.KeyOps != nil && !slices.Contains(r.KeyOps, OpVerify) {
		return `key_ops without "verify"`
	}
	if curve != "" && r.Crv != nil && *r.Crv != curve {
		return fmt.Sprintf("curve %s: keyctl verifies %s on %s only", quoteClip(*r.Crv), want, curve)
	}
	if r.Alg != nil && *r.Alg != string(want) {
		return fmt.Sprintf("alg %s: keyctl verifies %s with %s keys", quoteClip(*r.Alg), want, *r.Kty)
	}
	if r.HasOth {
		return "multi-prime RSA keys are not supported"
	}
	return ""
}
