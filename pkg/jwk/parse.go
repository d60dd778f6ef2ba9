package jwk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/keyctl/keyctl/pkg/strictjson"
)

// MaxInputBytes bounds any key or key set keyctl parses.
const MaxInputBytes = 1 << 20

// MinImportSecretBytes is the shortest shared secret Parse (and
// FromCrypto) accepts: MinSecretBytes, as RFC 7518 section 3.2 requires of
// HS256 keys (at least the hash size). It was 16, Supabase's floor for
// imported oct keys, until a 16-byte secret was found verifying tokens.
const MinImportSecretBytes = MinSecretBytes

// CheckSecret refuses an HS256 secret shorter than MinSecretBytes.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretBytes {
		return fmt.Errorf("%w: %d-byte HS256 secret; RFC 7518 section 3.2 requires at least %d bytes (the size of the hash)", ErrWeakKey, len(secret), MinSecretBytes)
	}
	return nil
}

// ParseError describes a JWK that could not be used, and where.
type ParseError struct {
	Index  int // position in an array or set; -1 for a single key
	KID    string
	Member string // the offending member, if one is to blame
	Err    error
}

func (e *ParseError) Error() string {
	where := "key"
	if e.Index >= 0 {
		where = fmt.Sprintf("key %d", e.Index)
	}
	if e.KID != "" {
		where += fmt.Sprintf(" (kid %s)", quoteClip(e.KID))
	}
	if e.Member != "" {
		return fmt.Sprintf("%s: member %q: %v", where, e.Member, e.Err)
	}
	return fmt.Sprintf("%s: %v", where, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// rawKey holds every member keyctl reads. Strings stay encoded until checked.
type rawKey struct {
	Kty, KID, Use, Alg, Crv            *string
	X, Y, D, N, E, P, Q, DP, DQ, QI, K *string
	KeyOps                             []string
	Ext                                *bool
	HasOth                             bool

	// HasKeys is read only to tell a JWKS from a JWK in one pass.
	HasKeys bool
	// repair lets decodeEC left-pad short EC members (ParseRepairing);
	// padded names those it padded, short the first one's length.
	repair bool
	padded []string
	short  int
}

// readRawKey fills a rawKey from the members of an object strictjson has
// checked. Names match exactly (RFC 7517 member names are case-sensitive,
// unlike encoding/json's field matching); null is the same as absent, and
// a member of the wrong JSON type is an error naming it. This runs on every
// key load, so it avoids encoding/json's reflection.
func readRawKey(members []strictjson.Member) (rawKey, *memberError) {
	var r rawKey
	for _, m := range members {
		v := m.Value
		if string(m.Name) == "keys" {
			r.HasKeys = true // even null: the document means to be a set
			continue
		}
		if len(v) > 0 && v[0] == 'n' { // null
			continue
		}
		var dst **string
		switch string(m.Name) {
		case "kty":
			dst = &r.Kty
		case "kid":
			dst = &r.KID
		case "use":
			dst = &r.Use
		case "alg":
			dst = &r.Alg
		case "crv":
			dst = &r.Crv
		case "x":
			dst = &r.X
		case "y":
			dst = &r.Y
		case "d":
			dst = &r.D
		case "n":
			dst = &r.N
		case "e":
			dst = &r.E
		case "p":
			dst = &r.P
		case "q":
			dst = &r.Q
		case "dp":
			dst = &r.DP
		case "dq":
			dst = &r.DQ
		case "qi":
			dst = &r.QI
		case "k":
			dst = &r.K
		case "key_ops":
			ops, ok := strictjson.Strings(v)
			if !ok {
				return r, &memberError{"key_ops", fmt.Errorf("%s, not an array of strings", strictjson.Kind(v))}
			}
			r.KeyOps = ops
		case "ext":
			if v[0] != 't' && v[0] != 'f' {
				return r, &memberError{"ext", fmt.Errorf("%s, not a boolean", strictjson.Kind(v))}
			}
			b := v[0] == 't'
			r.Ext = &b
		case "oth":
			r.HasOth = true
		}
		if dst != nil {
			s, ok := strictjson.Unquote(v)
			if !ok {
				return r, &memberError{string(m.Name), fmt.Errorf("%s, not a string", strictjson.Kind(v))}
			}
			*dst = &s
		}
	}
	return r, nil
}

// errBothKeyAndSet refuses an object with both "kty" and "keys".
var errBothKeyAndSet = errors.New(`an object with both "kty" and "keys" is neither one JWK nor one JWK Set`)

// errIsSet marks a JSON object that is a JWKS, not a JWK.
var errIsSet = errors.New(`a JWK Set ({"keys":[...]}), not a single JWK`)

// Parse reads one JWK. It is strict: duplicate members, non-canonical
// base64url, points off the curve, members of the wrong length, RSA keys
// under 2048 bits, an alg that does not fit the key type, a use other than
// "sig" and unknown key_ops are all errors. A missing alg is inferred from
// the key type. Unknown members are ignored (RFC 7517 section 4).
func Parse(data []byte) (*Key, error) {
	k, err := parseOne(data, false)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.Index = -1
			return nil, pe
		}
		return nil, &ParseError{Index: -1, Err: err}
	}
	return k, nil
}

func parseOne(data []byte, repair bool) (*Key, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxInputBytes)
	}
	var mbuf [20]strictjson.Member
	members, err := strictjson.ScanObject(data, mbuf[:0])
	if err != nil {
		return nil, err
	}
	r, me := readRawKey(members)
	if me != nil {
		var kid string
		if r.KID != nil {
			kid = *r.KID
		}
		return nil, &ParseError{KID: kid, Member: me.member, Err: me.err}
	}
	r.repair = repair
	return r.build()
}

func (r *rawKey) build() (*Key, error) {
	k := &Key{}
	if r.KID != nil {
		k.KID = *r.KID
	}
	fail := func(member string, err error) (*Key, error) {
		return nil, &ParseError{KID: k.KID, Member: member, Err: err}
	}
	if err := CheckKIDSafe(k.KID); err != nil {
		return fail("kid", err)
	}
	if r.Kty == nil {
		if r.HasKeys {
			return nil, errIsSet
		}
		return fail("kty", errors.New("missing"))
	}
	if r.HasKeys {
		// One document, two readings (a key to --key, a set to --jwks):
		// refused by both.
		return fail("keys", errBothKeyAndSet)
	}
	if r.Use != nil {
		if *r.Use != "sig" {
			return fail("use", fmt.Errorf("%s is not for signatures (want \"sig\")", quoteClip(*r.Use)))
		}
		k.Use = *r.Use
	}
	if r.KeyOps != nil {
		seen := map[string]bool{}
		for _, op := range r.KeyOps {
			if op != OpSign && op != OpVerify {
				return fail("key_ops", fmt.Errorf("%s is not a signature operation", quoteClip(op)))
			}
			if seen[op] {
				return fail("key_ops", fmt.Errorf("%s listed twice", quoteClip(op)))
			}
			seen[op] = true
		}
		k.KeyOps = slices.Clone(r.KeyOps)
	}
	if r.Ext != nil {
		k.Ext = *r.Ext
	}
	if r.HasOth {
		return fail("oth", errors.New("multi-prime RSA keys are not supported"))
	}
	var want Algorithm
	var err error
	switch *r.Kty {
	case KtyEC:
		want = ES256
		k.Material, err = r.ec()
		k.padded = r.padded
	case KtyRSA:
		want = RS256
		k.Material, err = r.rsa()
	case KtyOct:
		want = HS256
		k.Material, err = r.oct()
	case KtyOKP:
		want = EdDSA
		k.Material, err = r.okp()
	default:
		return fail("kty", fmt.Errorf("%w %s", ErrUnsupportedKeyType, quoteClip(*r.Kty)))
	}
	if err != nil {
		var me *memberError
		if errors.As(err, &me) {
			return fail(me.member, me.err)
		}
		return fail("", err)
	}
	k.Alg = want
	if r.Alg != nil && *r.Alg != string(want) {
		return fail("alg", fmt.Errorf("%s does not fit a %s key (keyctl uses %s)", quoteClip(*r.Alg), *r.Kty, want))
	}
	if k.KeyOps != nil && slices.Contains(k.KeyOps, OpSign) && !k.IsPrivate() {
		return fail("key_ops", errors.New(`"sign" on a public key`))
	}
	return k, nil
}

type memberError struct {
	member string
	err    error
}

func (e *memberError) Error() string { return e.member + ": " + e.err.Error() }

// decode reads a base64url member strictly: no padding, no stray bits, no
// characters outside the URL-safe alphabet, optionally of a fixed size.
func decode(member string, v *string, size int) ([]byte, error) {
	if v == nil {
		return nil, &memberError{member, errors.New("missing")}
	}
	b, err := DecodeBase64URL(*v)
	if err != nil {
		return nil, &memberError{member, err}
	}
	if size > 0 && len(b) != size {
		return nil, &memberError{member, fmt.Errorf("%d bytes, want exactly %d", len(b), size)}
	}
	if len(b) == 0 {
		return nil, &memberError{member, errors.New("empty")}
	}
	return b, nil
}

// decodeInt reads an RSA integer member: as decode, and in its shortest
// form, without leading zero bytes (RFC 7518 section 6.3).
func decodeInt(member string, v *string) ([]byte, error) {
	b, err := decode(member, v, 0)
	if err != nil {
		return nil, err
	}
	if b[0] == 0 {
		return nil, &memberError{member, errors.New("has a leading zero byte")}
	}
	return b, nil
}

// DecodeBase64URL decodes unpadded base64url strictly (RFC 7515 section 2):
// padding, '+', '/', white space and non-zero trailing bits are errors.
func DecodeBase64URL(s string) ([]byte, error) {
	b, err := b64.Strict().DecodeString(s)
	if err != nil || bytes.ContainsAny([]byte(s), "=\r\n") {
		return nil, errors.New("not canonical unpadded base64url")
	}
	return b, nil
}

// ErrUnpaddedEC marks a P-256 member written without its left zero bytes,
// as older Supabase CLIs wrote about one key in a hundred. RFC 7518
// section 6.2.1 wants the full 32 bytes, and Supabase Auth refuses such a
// key; ParseRepairing reads it and pads it.
var ErrUnpaddedEC = errors.New("written without its left zero bytes")

type unpaddedError struct{ n int }

func (e *unpaddedError) Error() string { return fmt.Sprintf("%d bytes, want exactly 32", e.n) }
func (e *unpaddedError) Unwrap() error { return ErrUnpaddedEC }

// decodeEC reads a P-256 member: 32 bytes, or, when repairing, 24 to 31
// as older Supabase CLIs wrote them (the integer without its left zero
// bytes), left-padded to 32 and noted in r.padded. Shorter is no key
// anyone generated (the chance is 2^-64).
func (r *rawKey) decodeEC(member string, v *string) ([]byte, error) {
	b, err := decode(member, v, 0)
	if err != nil {
		return nil, err
	}
	switch {
	case len(b) == 32:
		return b, nil
	case len(b) > 32 || len(b) < 24:
		return nil, &memberError{member, fmt.Errorf("%d bytes, want exactly 32", len(b))}
	case !r.repair:
		return nil, &memberError{member, &unpaddedError{len(b)}}
	}
	r.padded = append(r.padded, member)
	return append(make([]byte, 32-len(b), 32), b...), nil
}

func (r *rawKey) ec() (any, error) {
	if r.Crv == nil {
		return nil, &memberError{"crv", errors.New("missing")}
	}
	if *r.Crv != "P-256" {
		return nil, &memberError{"crv", fmt.Errorf("curve %s is not supported (keyctl uses P-256 for ES256)", quoteClip(*r.Crv))}
	}
	x, err := r.decodeEC("x", r.X)
	if err != nil {
		return nil, err
	}
	y, err := r.decodeEC("y", r.Y)
	if err != nil {
		return nil, err
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, &memberError{"x", errors.New("the point is not on the P-256 curve")}
	}
	if r.D == nil {
		return pub, nil
	}
	d, err := r.decodeEC("d", r.D)
	if err != nil {
		return nil, err
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, &memberError{"d", errors.New("not a valid P-256 private scalar")}
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, &memberError{"d", errors.New("does not match x and y")}
	}
	return priv, nil
}

func (r *rawKey) rsa() (any, error) {
	nb, err := decode("n", r.N, 0)
	if err != nil {
		return nil, err
	}
	if nb[0] == 0 {
		return nil, &memberError{"n", errors.New("has a leading zero byte")}
	}
	n := new(big.Int).SetBytes(nb)
	if n.BitLen() < MinRSABits {
		return nil, &memberError{"n", fmt.Errorf("%w: %d-bit RSA modulus, want at least %d", ErrWeakKey, n.BitLen(), MinRSABits)}
	}
	eb, err := decode("e", r.E, 0)
	if err != nil {
		return nil, err
	}
	if len(eb) > 4 || eb[0] == 0 {
		return nil, &memberError{"e", errors.New("not a valid public exponent (odd, 3 to 2^31-1; 65537 is usual)")}
	}
	pub := &rsa.PublicKey{N: n, E: int(new(big.Int).SetBytes(eb).Int64())}
	if m, err := checkRSAPublic(pub); err != nil {
		return nil, &memberError{m, err}
	}
	if r.D == nil {
		if r.P != nil || r.Q != nil || r.DP != nil || r.DQ != nil || r.QI != nil {
			return nil, &memberError{"d", errors.New("missing while other private members are present")}
		}
		return pub, nil
	}
	d, err := decodeInt("d", r.D)
	if err != nil {
		return nil, err
	}
	if r.P == nil || r.Q == nil {
		return nil, &memberError{"p", errors.New("RSA private keys need p and q")}
	}
	p, err := decodeInt("p", r.P)
	if err != nil {
		return nil, err
	}
	q, err := decodeInt("q", r.Q)
	if err != nil {
		return nil, err
	}
	priv := &rsa.PrivateKey{
		PublicKey: *pub,
		D:         new(big.Int).SetBytes(d),
		Primes:    []*big.Int{new(big.Int).SetBytes(p), new(big.Int).SetBytes(q)},
	}
	if m, err := checkRSAPrivate(priv); err != nil {
		return nil, &memberError{m, err}
	}
	priv.Precompute()
	// When the CRT members are given they must be the right ones.
	for _, c := range []struct {
		name string
		v    *string
		want *big.Int
	}{{"dp", r.DP, priv.Precomputed.Dp}, {"dq", r.DQ, priv.Precomputed.Dq}, {"qi", r.QI, priv.Precomputed.Qinv}} {
		if c.v == nil {
			continue
		}
		b, err := decodeInt(c.name, c.v)
		if err != nil {
			return nil, err
		}
		if new(big.Int).SetBytes(b).Cmp(c.want) != 0 {
			return nil, &memberError{c.name, errors.New("does not match p, q and d")}
		}
	}
	return priv, nil
}

func (r *rawKey) oct() (any, error) {
	k, err := decode("k", r.K, 0)
	if err != nil {
		return nil, err
	}
	if err := CheckSecret(k); err != nil {
		return nil, &memberError{"k", err}
	}
	return k, nil
}

func (r *rawKey) okp() (any, error) {
	if r.Crv == nil {
		return nil, &memberError{"crv", errors.New("missing")}
	}
	if *r.Crv != "Ed25519" {
		return nil, &memberError{"crv", fmt.Errorf("curve %s is not supported (keyctl uses Ed25519 for EdDSA)", quoteClip(*r.Crv))}
	}
	x, err := decode("x", r.X, ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	if r.D == nil {
		if err := CheckEd25519Public(x); err != nil {
			return nil, &memberError{"x", err}
		}
		return ed25519.PublicKey(x), nil
	}
	d, err := decode("d", r.D, ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	priv := ed25519.NewKeyFromSeed(d)
	if !bytes.Equal(priv[32:], x) {
		return nil, &memberError{"d", errors.New("does not match x")}
	}
	return priv, nil
}

// ParseArray reads a JSON array of JWKs, the shape of Supabase's
// signing_keys.json and of GOTRUE_JWT_KEYS. An empty array is valid.
func ParseArray(data []byte) ([]*Key, error) { return parseArray(data, false) }

func parseArray(data []byte, repair bool) ([]*Key, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxInputBytes)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("not a JSON array of JWKs: %s", describeJSON(data, err))
	}
	if raws == nil {
		return nil, errors.New("not a JSON array of JWKs: null")
	}
	keys := make([]*Key, 0, len(raws))
	kids := map[string]bool{}
	for i, raw := range raws {
		k, err := parseOne(raw, repair)
		if err != nil {
			return nil, indexed(i, err)
		}
		if k.KID != "" {
			// Which key signs or verifies must not depend on its place.
			if kids[k.KID] {
				return nil, indexed(i, &ParseError{KID: k.KID, Member: "kid", Err: ErrDuplicateKID})
			}
			kids[k.KID] = true
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// describeJSON says in plain words why data is not the JSON array wanted,
// without encoding/json's Go type names.
func describeJSON(data []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	}
	t := bytes.TrimSpace(data)
	switch {
	case len(t) == 0:
		return "empty"
	case t[0] == '{':
		return "a single JSON object (a JWK or JWKS), not an array"
	case t[0] == '"':
		return "a JSON string, not an array"
	case t[0] == 'n':
		return "null"
	}
	if !json.Valid(t) {
		return "invalid JSON"
	}
	return "a JSON value that is not an array"
}

func indexed(i int, err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		pe.Index = i
		return pe
	}
	return &ParseError{Index: i, Err: err}
}

// ParseSetOptions tune ParseSet.
type ParseSetOptions struct {
	// AllowPrivate accepts private members and shared secrets. A JWKS read
	// from a file or URL must not carry them: off by default. A stack's
	// services JWKS, which holds the legacy HS256 secret, needs it.
	AllowPrivate bool
}

// ParsedSet is a JWKS with the entries that were skipped.
type ParsedSet struct {
	Keys []*Key
	// SkippedKeys are the entries keyctl cannot use, each with the reason,
	// in set order; Skipped is their number.
	SkippedKeys []SkippedKey
	Skipped     int
}

// ParseSet reads a JWK Set {"keys":[...]}. Entries keyctl cannot verify
// with (another key type, curve or algorithm, a use other than "sig") are
// skipped, as RFC 7517 section 5 asks, and listed in SkippedKeys. What is
// dangerous refuses the whole set: private members or shared secrets
// (unless allowed; ErrPrivateInSet), even on an entry that would be
// skipped, two usable keys with one kid (ErrDuplicateKID), a kid with
// control characters, and any malformed entry of a kind keyctl uses.
func ParseSet(data []byte, opts ParseSetOptions) (*ParsedSet, error) {
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", MaxInputBytes)
	}
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '[' {
		return nil, ErrKeyArray
	}
	var mbuf [8]strictjson.Member
	members, err := strictjson.ScanObject(data, mbuf[:0])
	if err != nil {
		return nil, fmt.Errorf("not a JWKS: %v", err)
	}
	// "keys" by its exact name: member names are case-sensitive (RFC 7517
	// section 4), and a JWK parsed alone is told from a set the same way.
	var keysRaw []byte
	hasKty := false
	for _, m := range members {
		switch string(m.Name) {
		case "keys":
			keysRaw = m.Value
		case "kty":
			hasKty = true
		}
	}
	if keysRaw == nil && hasKty {
		return nil, ErrSingleJWK
	}
	if keysRaw != nil && hasKty {
		return nil, errBothKeyAndSet
	}
	if keysRaw == nil || keysRaw[0] == 'n' {
		return nil, errors.New(`not a JWKS: no "keys" array`)
	}
	if keysRaw[0] != '[' {
		return nil, fmt.Errorf(`not a JWKS: "keys" is %s, not an array`, strictjson.Kind(keysRaw))
	}
	var keys []json.RawMessage
	if err := json.Unmarshal(keysRaw, &keys); err != nil {
		return nil, fmt.Errorf("not a JWKS: %v", err)
	}
	set := &ParsedSet{}
	kids := map[string]bool{}
	for i, raw := range keys {
		k, skip, err := parseSetEntry(raw, opts)
		if err != nil {
			return nil, indexed(i, err)
		}
		if skip != "" {
			set.SkippedKeys = append(set.SkippedKeys, SkippedKey{Index: i, KID: kidOf(raw), Reason: skip})
			continue
		}
		if k.KID != "" {
			if kids[k.KID] {
				return nil, indexed(i, &ParseError{KID: k.KID, Member: "kid", Err: ErrDuplicateKID})
			}
			kids[k.KID] = true
		}
		set.Keys = append(set.Keys, k)
	}
	set.Skipped = len(set.SkippedKeys)
	return set, nil
}

// parseSetEntry reads one entry of a set: the key, or why it is skipped.
func parseSetEntry(raw []byte, opts ParseSetOptions) (*Key, string, error) {
	var mbuf [20]strictjson.Member
	members, err := strictjson.ScanObject(raw, mbuf[:0])
	if err != nil {
		return nil, "", err
	}
	r, me := readRawKey(members)
	kid := ""
	if r.KID != nil {
		kid = *r.KID
	}
	if me != nil {
		return nil, "", &ParseError{KID: kid, Member: me.member, Err: me.err}
	}
	// The kid is shown in warnings even for a skipped key.
	if err := CheckKIDSafe(kid); err != nil {
		return nil, "", &ParseError{KID: kid, Member: "kid", Err: err}
	}
	if !opts.AllowPrivate {
		switch m := r.privateMember(); m {
		case "":
		case "k":
			return nil, "", &ParseError{KID: kid, Member: m, Err: privateError("a JWKS must not carry shared secrets")}
		default:
			return nil, "", &ParseError{KID: kid, Member: m, Err: privateError("a JWKS must not carry private keys")}
		}
	}
	if why := r.unusable(); why != "" {
		return nil, why, nil
	}
	k, err := r.build()
	return k, "", err
}

// kidOf returns the kid of an entry already read by parseSetEntry.
func kidOf(raw []byte) string {
	var mbuf [20]strictjson.Member
	members, _ := strictjson.ScanObject(raw, mbuf[:0])
	for _, m := range members {
		if string(m.Name) == "kid" {
			s, _ := strictjson.Unquote(m.Value)
			return s
		}
	}
	return ""
}

// ParseAny reads keys in whichever form data holds: a PEM block, a single
// JWK, a JSON array of JWKs, or a JWKS (private members allowed, since the
// caller chose the file).
func ParseAny(data []byte) ([]*Key, error) { return parseAny(data, false) }

// ParseRepairing is ParseAny for keys being imported: a P-256 member
// written without its left zero bytes (ErrUnpaddedEC), as older Supabase
// CLIs wrote about one key in a hundred, is read and left-padded to 32
// bytes (the key is the same); PaddedMembers names what was padded.
// Everything else is as strict as ParseAny.
func ParseRepairing(data []byte) ([]*Key, error) { return parseAny(data, true) }

func parseAny(data []byte, repair bool) ([]*Key, error) {
	t := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		k, err := ParsePEM(t)
		if err != nil {
			return nil, err
		}
		return []*Key{k}, nil
	case bytes.HasPrefix(t, []byte("[")):
		return parseArray(t, repair)
	case bytes.HasPrefix(t, []byte("{")):
		// One pass for the usual case, a single JWK; a JWKS is parsed again
		// as a set.
		k, err := parseOne(t, repair)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				pe = &ParseError{Err: err}
				err = pe
			}
			pe.Index = -1
		}
		if errors.Is(err, errIsSet) {
			set, err := ParseSet(t, ParseSetOptions{AllowPrivate: true})
			if err != nil {
				return nil, err
			}
			return set.Keys, nil
		}
		if err != nil {
			return nil, err
		}
		return []*Key{k}, nil
	}
	return nil, errors.New("not a JWK, a JSON array of JWKs, a JWKS or a PEM key")
}
