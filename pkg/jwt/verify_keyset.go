package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// KeySet is the keys a verifier trusts, prepared once: indexed by kid, each
// bound to its one algorithm with its verification function ready, so that
// verifying many tokens repeats no key work. It is safe for concurrent use.
type KeySet struct {
	entries []*keyEntry
	byKID   map[string]*keyEntry
	legacy  *keyEntry // the keyring's legacy HS256 secret, for kid-less tokens
	trusted []*keyEntry
	// chosen marks NewSingleKeySet's set: one key the user named, which a
	// token's kid does not select among others.
	chosen bool
}

// keyEntry is one key with everything verification needs from it.
type keyEntry struct {
	TrustedKey
	alg    jwk.Algorithm
	label  string // `key "kid"` or `the key` for messages
	verify func(signingInput, sig []byte) *Failure
}

// NewKeySet prepares keys for verification. Revoked and deleted keys may be
// included (deleted ones without material) so a token naming them is told
// why it fails. Two keys with the same kid, two legacy secrets, or a key
// whose material does not fit its algorithm are errors.
func NewKeySet(keys []TrustedKey) (*KeySet, error) {
	s := &KeySet{byKID: make(map[string]*keyEntry, len(keys))}
	for i, tk := range keys {
		e, err := prepare(tk)
		if err != nil {
			kid := ""
			if tk.Key != nil {
				kid = tk.Key.KID
			}
			return nil, fmt.Errorf("key %d (kid %q): %w", i, kid, err)
		}
		if kid := e.kid(); kid != "" {
			if _, dup := s.byKID[kid]; dup {
				return nil, fmt.Errorf("key %d: duplicate kid %q", i, kid)
			}
			s.byKID[kid] = e
		}
		if tk.Legacy {
			if s.legacy != nil {
				return nil, fmt.Errorf("key %d (kid %q): a second legacy secret", i, e.kid())
			}
			s.legacy = e
		}
		if e.isTrusted() {
			s.trusted = append(s.trusted, e)
		}
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// NewSingleKeySet prepares the one key the user chose for verification
// (keyctl verify --key). It differs from a set of one in a single way:
// when the key has no kid (a PEM file), it verifies tokens whatever kid
// they carry, since the user picked the key and the kid has nothing to
// select. In any set (NewKeySet: a JWKS, a keys file, a keyring) a
// token's kid must name a key, as RFC 7515 section 4.1.4 and RFC 7517
// section 4.5 use it, so that an unknown kid is seen and, for a JWKS URL,
// can be fetched.
func NewSingleKeySet(key TrustedKey) (*KeySet, error) {
	s, err := NewKeySet([]TrustedKey{key})
	if err != nil {
		return nil, err
	}
	s.chosen = true
	return s, nil
}

// Len returns the number of keys in the set, untrusted ones included.
func (s *KeySet) Len() int { return len(s.entries) }

// Lookup returns the key with the given kid.
func (s *KeySet) Lookup(kid string) (TrustedKey, bool) {
	e, ok := s.byKID[kid]
	if !ok {
		return TrustedKey{}, false
	}
	return e.TrustedKey, true
}

// KIDs returns the kids of the set in order (kid-less keys left out).
func (s *KeySet) KIDs() []string {
	var out []string
	for _, e := range s.entries {
		if kid := e.kid(); kid != "" {
			out = append(out, kid)
		}
	}
	return out
}

func (e *keyEntry) kid() string {
	if e.Key == nil {
		return ""
	}
	return e.Key.KID
}

// isTrusted: keys outside a keyring ("") and the keyring's standby, in-use
// and previously used keys verify; revoked, deleted and unknown states
// never do.
func (e *keyEntry) isTrusted() bool {
	return trustedState(e.State) && e.Key != nil && (e.Key.Material != nil || e.Locked)
}

func trustedState(state string) bool {
	switch state {
	case "", StateStandby, StateInUse, StatePreviouslyUsed:
		return true
	}
	return false
}

func prepare(tk TrustedKey) (*keyEntry, error) {
	e := &keyEntry{TrustedKey: tk, label: "the key"}
	// A key that is not trusted (revoked, deleted) may come without
	// material: it is only there so a token naming it is told why.
	untrusted := !trustedState(tk.State)
	if tk.Locked {
		if tk.Key == nil || tk.Key.Alg == "" {
			return nil, errors.New("a locked key needs its kid and algorithm")
		}
		if tk.Key.KID != "" {
			e.label = fmt.Sprintf("key %q", tk.Key.KID)
		}
		if tk.Legacy && tk.Key.Alg != jwk.HS256 {
			return nil, errors.New("the legacy secret must be an HS256 shared secret")
		}
		e.alg = tk.Key.Alg
		return e, nil
	}
	if tk.Key == nil {
		if !untrusted {
			return nil, errors.New("no key material")
		}
		return e, nil
	}
	if tk.Key.KID != "" {
		e.label = fmt.Sprintf("key %q", tk.Key.KID)
	}
	if tk.Key.Material == nil {
		if !untrusted {
			return nil, errors.New("no key material")
		}
		return e, nil
	}
	mat := tk.Key.PublicMaterial()
	alg := tk.Key.Alg
	var want jwk.Algorithm
	switch m := mat.(type) {
	case *ecdsa.PublicKey:
		if m.Curve != elliptic.P256() {
			return nil, errors.New("EC key not on P-256")
		}
		want = jwk.ES256
		e.verify = verifyES256(m)
	case *rsa.PublicKey:
		if m.N.BitLen() < jwk.MinRSABits {
			return nil, fmt.Errorf("%w: %d-bit RSA modulus", jwk.ErrWeakKey, m.N.BitLen())
		}
		if m.E < 3 || m.E%2 == 0 {
			// e = 1 makes every padded digest its own signature.
			return nil, fmt.Errorf("%w: RSA public exponent %d", jwk.ErrWeakKey, m.E)
		}
		want = jwk.RS256
		e.verify = verifyRS256(m)
	case ed25519.PublicKey:
		if len(m) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key of the wrong size")
		}
		if err := jwk.CheckEd25519Public(m); err != nil {
			return nil, err
		}
		want = jwk.EdDSA
		e.verify = verifyEdDSA(m)
	case []byte:
		if len(m) < jwk.MinImportSecretBytes {
			return nil, fmt.Errorf("%w: %d-byte secret", jwk.ErrWeakKey, len(m))
		}
		want = jwk.HS256
		e.verify = verifyHS256(slices.Clone(m))
	default:
		return nil, fmt.Errorf("%w %T", jwk.ErrUnsupportedKeyType, mat)
	}
	if alg == "" {
		alg = want
	}
	if alg != want {
		return nil, fmt.Errorf("alg %s does not fit a %s key", alg, tk.Key.Kty())
	}
	if tk.Legacy && alg != jwk.HS256 {
		return nil, errors.New("the legacy secret must be an HS256 shared secret")
	}
	e.alg = alg
	return e, nil
}

// resolve finds the key a token means, by the rules in docs/verification.md:
// the kid names it (any kid names NewSingleKeySet's kid-less key); a
// kid-less token means the legacy secret when there is one, else the only
// trusted key. It returns nil and the failure otherwise.
func (s *KeySet) resolve(kid string, hasKID bool) (*keyEntry, *Failure) {
	var e *keyEntry
	if hasKID {
		e = s.byKID[kid]
		if e == nil {
			// One key given without a kid (a PEM file, say): the user
			// chose it, so the token's kid hint has nothing to pick from.
			// A set's kid-less key is no such choice: a kid it lacks is
			// unknown, and may be a key the set gained since.
			if s.chosen && s.entries[0].kid() == "" {
				e = s.entries[0]
			} else {
				return nil, &Failure{CheckKIDUnknown, fmt.Sprintf("kid %s is not among the %s", clipName(kid), s.describe())}
			}
		}
	} else {
		switch {
		case s.legacy != nil:
			e = s.legacy
		case len(s.trusted) == 1:
			e = s.trusted[0]
		case len(s.trusted) == 0 && len(s.entries) == 1:
			e = s.entries[0] // fails the state check below with its reason
		case len(s.entries) == 0:
			return nil, &Failure{CheckKIDMissing, "token has no kid and there are no keys to verify it with"}
		default:
			return nil, &Failure{CheckKIDMissing, fmt.Sprintf("token has no kid and %d trusted keys could have signed it", len(s.trusted))}
		}
	}
	if !e.isTrusted() {
		switch e.State {
		case StateRevoked, StateDeleted:
			if !hasKID {
				if e.Legacy {
					return nil, &Failure{CheckKeyState, fmt.Sprintf("token has no kid and the legacy secret that verifies such tokens is %s", e.State)}
				}
				return nil, &Failure{CheckKeyState, fmt.Sprintf("token has no kid and the only key, %s, is %s", e.label, e.State)}
			}
			return nil, &Failure{CheckKeyState, fmt.Sprintf("kid %s names a %s key", clipName(kid), e.State)}
		default:
			return nil, &Failure{CheckKeyState, fmt.Sprintf("%s is in state %q, which is not trusted", e.label, e.State)}
		}
	}
	if !e.Key.HasOp(jwk.OpVerify) {
		return nil, &Failure{CheckKeyState, fmt.Sprintf("%s may not verify (key_ops %q)", e.label, e.Key.KeyOps)}
	}
	return e, nil
}

func (s *KeySet) describe() string {
	switch len(s.byKID) {
	case 0:
		return "trusted keys (none has a kid)"
	case 1:
		return "trusted keys (the only kid is " + fmt.Sprintf("%q", s.KIDs()[0]) + ")"
	}
	return fmt.Sprintf("%d trusted kids", len(s.byKID))
}

// The verification functions. Each takes the signing input and the raw
// signature and checks the signature's shape before any arithmetic, so a
// malformed signature gets a reason of its own.

func verifyES256(pub *ecdsa.PublicKey) func(in, sig []byte) *Failure {
	return func(in, sig []byte) *Failure {
		if len(sig) != 64 {
			why := fmt.Sprintf("ECDSA signature is %d bytes, want exactly 64 (r||s, RFC 7518 section 3.4)", len(sig))
			if len(sig) > 2 && sig[0] == 0x30 {
				why += "; it looks DER-encoded"
			}
			return &Failure{CheckSigFormat, why}
		}
		if allZero(sig[:32]) {
			return &Failure{CheckSigFormat, "ECDSA signature has r = 0"}
		}
		if allZero(sig[32:]) {
			return &Failure{CheckSigFormat, "ECDSA signature has s = 0"}
		}
		sum := sha256.Sum256(in)
		var der [72]byte
		if !ecdsa.VerifyASN1(pub, sum[:], rawToDER(der[:0], sig)) {
			return &Failure{CheckSignature, "ES256 signature does not verify"}
		}
		return nil
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// rawToDER turns a 64-byte r||s signature into the ASN.1 SEQUENCE the
// standard library verifies, without big.Int round trips.
func rawToDER(dst, sig []byte) []byte {
	r := derInt(sig[:32])
	s := derInt(sig[32:])
	rl, sl := len(r), len(s)
	if r[0]&0x80 != 0 {
		rl++
	}
	if s[0]&0x80 != 0 {
		sl++
	}
	dst = append(dst, 0x30, byte(2+rl+2+sl))
	dst = appendDERInt(dst, r, rl)
	return appendDERInt(dst, s, sl)
}

func derInt(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func appendDERInt(dst, v []byte, n int) []byte {
	dst = append(dst, 0x02, byte(n))
	if n > len(v) {
		dst = append(dst, 0)
	}
	return append(dst, v...)
}

func verifyRS256(pub *rsa.PublicKey) func(in, sig []byte) *Failure {
	size := pub.Size()
	return func(in, sig []byte) *Failure {
		if len(sig) != size {
			return &Failure{CheckSigFormat, fmt.Sprintf("RSA signature is %d bytes, want %d for this %d-bit key", len(sig), size, pub.N.BitLen())}
		}
		sum := sha256.Sum256(in)
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
			return &Failure{CheckSignature, "RS256 signature does not verify"}
		}
		return nil
	}
}

func verifyEdDSA(pub ed25519.PublicKey) func(in, sig []byte) *Failure {
	return func(in, sig []byte) *Failure {
		if len(sig) != ed25519.SignatureSize {
			return &Failure{CheckSigFormat, fmt.Sprintf("Ed25519 signature is %d bytes, want exactly 64", len(sig))}
		}
		if !ed25519.Verify(pub, in, sig) {
			return &Failure{CheckSignature, "EdDSA signature does not verify"}
		}
		return nil
	}
}

func verifyHS256(secret []byte) func(in, sig []byte) *Failure {
	// Keyed HMAC states are reused: setting up the key costs as much as
	// hashing a short token.
	type state struct {
		mac hash.Hash
		sum [sha256.Size]byte
	}
	pool := sync.Pool{New: func() any { return &state{mac: hmac.New(sha256.New, secret)} }}
	return func(in, sig []byte) *Failure {
		if len(sig) != sha256.Size {
			return &Failure{CheckSigFormat, fmt.Sprintf("HMAC-SHA256 signature is %d bytes, want exactly 32", len(sig))}
		}
		st := pool.Get().(*state)
		st.mac.Reset()
		st.mac.Write(in)
		ok := hmac.Equal(st.mac.Sum(st.sum[:0]), sig)
		pool.Put(st)
		if !ok {
			return &Failure{CheckSignature, "HS256 signature does not verify"}
		}
		return nil
	}
}
