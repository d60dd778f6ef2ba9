package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyctl/keyctl/pkg/strictjson"
)

// MarshalClaims encodes a claims object as compact JSON with sorted keys at
// every depth. The bytes are exactly what encoding/json (and so go-jose and
// the Supabase CLI) writes for the same map, HTML escapes and all, but
// without reflection for the types claims hold: string, bool, nil,
// json.Number, the Go integer and float types, []string, []any and
// map[string]any. One deliberate difference: a time.Time is written as Unix
// seconds (a JWT NumericDate), where encoding/json would write RFC 3339.
// Any other type is handed to encoding/json.
func MarshalClaims(claims map[string]any) ([]byte, error) {
	return appendClaimsValue(make([]byte, 0, 256), claims, 0)
}

// AppendClaims is MarshalClaims appending to dst, so that a caller minting
// many tokens reuses one buffer.
func AppendClaims(dst []byte, claims map[string]any) ([]byte, error) {
	return appendClaimsValue(dst, claims, 0)
}

// fastClaimsDepth bounds the recursion of the reflection-free encoder;
// anything nested deeper goes to encoding/json, which writes the same bytes
// and detects cycles.
const fastClaimsDepth = 64

// claimMember is one map member during encoding; sorting these avoids a
// second map lookup per key.
type claimMember struct {
	key string
	val any
}

func appendClaimsValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > fastClaimsDepth {
		return appendJSONFallback(dst, v)
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		return appendJSONFloat(dst, x, 64)
	case float32:
		return appendJSONFloat(dst, float64(x), 32)
	case json.Number:
		s := string(x)
		if s == "" {
			s = "0" // encoding/json's rule for the zero Number
		}
		if !validJSONNumber(s) {
			return nil, fmt.Errorf("claim value %q is not a JSON number", s)
		}
		return append(dst, s...), nil
	case time.Time:
		return strconv.AppendInt(dst, x.Unix(), 10), nil
	case []string:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']'), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendClaimsValue(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		return appendClaimsObject(dst, x, depth)
	}
	return appendJSONFallback(dst, v)
}

func appendClaimsObject(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(dst, "null"...), nil
	}
	// Claims objects are small: sort them in a stack array when they fit.
	var stack [16]claimMember
	members := stack[:0]
	if len(m) > len(stack) {
		members = make([]claimMember, 0, len(m))
	}
	for k, v := range m {
		members = append(members, claimMember{k, v})
	}
	sortClaimMembers(members)
	dst = append(dst, '{')
	for i, mb := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, mb.key)
		dst = append(dst, ':')
		var err error
		if dst, err = appendClaimsValue(dst, mb.val, depth+1); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// sortClaimMembers orders members by key, byte-wise as encoding/json does.
// Claims objects hold a handful of members, where a plain insertion sort
// beats the general one.
func sortClaimMembers(m []claimMember) {
	if len(m) > 24 {
		slices.SortFunc(m, func(a, b claimMember) int { return strings.Compare(a.key, b.key) })
		return
	}
	for i := 1; i < len(m); i++ {
		for j := i; j > 0 && m[j].key < m[j-1].key; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

func appendJSONFallback(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendJSONFloat writes f as encoding/json does: like ES6 number to string
// conversion, %f between 1e-6 and 1e21, else %e with a short exponent.
func appendJSONFloat(dst []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("claim value %v is not valid JSON", f)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9, as encoding/json
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// validJSONNumber is the JSON number grammar (RFC 8259 section 6), which
// encoding/json enforces for json.Number.
func validJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		if s = s[1:]; s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			if s = s[1:]; s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}

// jsonSafe marks the bytes encoding/json writes unescaped when it escapes
// HTML (its default): printable ASCII but " \ < > &. Bytes from 0x80 up
// are false: they start UTF-8 sequences, checked one rune at a time.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// anyUnsafe8 reports whether any of the 8 bytes of s is not jsonSafe, a
// word at a time (the "has zero byte" and "has byte less than" bit tricks;
// each is exact about whether some byte matches).
func anyUnsafe8(s string) bool {
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - lo) &^ v & hi }
	return (x&hi |
		(x-0x20*lo)&^x&hi | // a control byte
		zero(x^('"'*lo)) | zero(x^('\\'*lo)) |
		zero(x^('<'*lo)) | zero(x^('>'*lo)) | zero(x^('&'*lo))) != 0
}

const lowerHex = "0123456789abcdef"

// appendJSONString writes s as a JSON string exactly as encoding/json does:
// short escapes for \b \f \n \r \t, \u00XX for other control bytes and for
// < > &, U+FFFD for invalid UTF-8, and \u2028 \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Most claim strings need no escape at all: find the first byte that
	// does before doing anything else, and copy everything up to it at once.
	i := 0
	for i+8 <= len(s) && !anyUnsafe8(s[i:i+8]) {
		i += 8
	}
	for i < len(s) && jsonSafe[s[i]] {
		i++
	}
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[b>>4], lowerHex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', lowerHex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ClaimsTemplate is a claims object serialised once with one member left
// open, for minting many tokens that differ only in that member: the jti of
// `keyctl gen bearer-jwt --count`. Filling it costs a copy and the encoding
// of one string, where MarshalClaims would sort and encode every member.
type ClaimsTemplate struct {
	prefix []byte // `{...,"member":`
	suffix []byte // `,...}` or `}`
}

// NewClaimsTemplate prepares claims with member open; any value claims hold
// for member is ignored.
func NewClaimsTemplate(claims map[string]any, member string) (*ClaimsTemplate, error) {
	before, after := map[string]any{}, map[string]any{}
	for k, v := range claims {
		switch {
		case k < member:
			before[k] = v
		case k > member:
			after[k] = v
		}
	}
	b, err := MarshalClaims(before)
	if err != nil {
		return nil, err
	}
	a, err := MarshalClaims(after)
	if err != nil {
		return nil, err
	}
	t := &ClaimsTemplate{}
	t.prefix = b[:len(b)-1] // drop '}'
	if len(before) > 0 {
		t.prefix = append(t.prefix, ',')
	}
	t.prefix = appendJSONString(t.prefix, member)
	t.prefix = append(t.prefix, ':')
	if len(after) > 0 {
		t.suffix = append([]byte{','}, a[1:]...) // drop '{'
	} else {
		t.suffix = []byte{'}'}
	}
	return t, nil
}

// AppendString appends the claims JSON with the open member set to the
// string value.
func (t *ClaimsTemplate) AppendString(dst []byte, value string) []byte {
	dst = append(dst, t.prefix...)
	dst = appendJSONString(dst, value)
	return append(dst, t.suffix...)
}

// MinTime and MaxTime bound the times keyctl writes in a token: a
// NumericDate before 1970 or after the year 9999 means different things to
// different libraries (or overflows them), so it is never minted.
var (
	MinTime = time.Unix(0, 0).UTC()
	MaxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// MaxLifetime is the longest lifetime (exp - iat) keyctl mints: 100 years,
// the most a keyring's max token lifetime may be, and well inside what a
// time.Duration holds.
const MaxLifetime = 100 * 365 * 24 * time.Hour

// ClaimOptions describe the claims of a bearer token, as `keyctl gen
// bearer-jwt` takes them.
type ClaimOptions struct {
	Role     string
	Subject  string
	Now      time.Time     // the minting time: iat unless IssuedAt is set
	IssuedAt time.Time     // zero: Now (--iat, for reproducible fixtures)
	ValidFor time.Duration // the lifetime when Expiry is zero
	Expiry   time.Time     // zero: iat + ValidFor
	// NotBefore sets nbf; zero: no nbf claim.
	NotBefore time.Time
	Payload   map[string]any // --payload
	Issuer    string
	Audience  []string
	JTI       string
	Extra     map[string]any // --claim key=value

	// The claims Supabase Auth puts in its own access tokens, so a test can
	// mint one of the same shape: session_id, aal, amr (each method with
	// iat as its timestamp), email and phone. Empty: left out.
	SessionID string
	AAL       string
	AMR       []string
	Email     string
	Phone     string
	// UUIDSubject requires sub (from Subject or a --claims-from line) to be
	// a UUID: Auth's /user and Postgres's auth.uid() need a user's id.
	UUIDSubject bool
	// AudienceDefault marks Audience as a default (aud "authenticated" for
	// role authenticated) that a --claims-from line may replace.
	AudienceDefault bool
}

// ErrSubjectNotUUID refuses a sub that is not a UUID when one is required.
var ErrSubjectNotUUID = errors.New("is not a UUID: Supabase Auth's /user and Postgres's auth.uid() need the user's id, a UUID")

// IsUUID reports whether s is a UUID in its canonical text form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// flagOf names the flag of `keyctl gen bearer-jwt` that sets each claim
// with one: such a claim may come from that flag only.
var flagOf = map[string]string{
	"exp":          "--exp or --valid-for",
	"iat":          "--iat",
	"nbf":          "--nbf",
	"sub":          "--sub",
	"role":         "--role",
	"aud":          "--aud",
	"iss":          "--iss",
	"jti":          "--jti",
	"is_anonymous": "--role and --sub",
}

// authClaims are the claims of Auth's access tokens that have a flag of
// their own but may also come from --payload, --claim or a --claims-from
// line (one token per user with its email, say): never from both.
func (o ClaimOptions) authClaims() map[string]bool {
	set := map[string]bool{}
	for name, v := range map[string]bool{"session_id": o.SessionID != "", "aal": o.AAL != "", "amr": len(o.AMR) > 0, "email": o.Email != "", "phone": o.Phone != ""} {
		if v {
			set[name] = true
		}
	}
	return set
}

// checkAuthClaims refuses a claim of Auth's set both by its flag and by
// another source.
func (o ClaimOptions) checkAuthClaims(source string, m map[string]any) error {
	for name := range o.authClaims() {
		for given := range m {
			if strings.EqualFold(given, name) {
				return fmt.Errorf("%s is set by --%s and by %s: give it once", name, strings.ReplaceAll(name, "_", "-"), source)
			}
		}
	}
	return nil
}

// ClaimSourceError reports a claim given through a source that may not set
// it: one that has its own flag, given through --claim, --payload or a line
// of --claims-from (Name == Claim), or a name differing from such a claim
// only in letter case (Name != Claim).
type ClaimSourceError struct {
	Name   string // the name as given
	Claim  string // the claim with a flag it matches
	Flag   string // the flag that sets Claim
	Source string // where Name was given: "--claim", "--payload", "--claims-from"
}

func (e *ClaimSourceError) Error() string {
	if e.Name != e.Claim {
		return fmt.Sprintf("%q differs only in letter case from %s, which is set by %s, not %s", e.Name, e.Claim, e.Flag, e.Source)
	}
	return fmt.Sprintf("%s is set by %s, not %s", e.Claim, e.Flag, e.Source)
}

// ownedClaim returns the claim with a flag that name is, or equals but for
// letter case.
func ownedClaim(name string) (claim, flag string, ok bool) {
	if flag, ok := flagOf[name]; ok {
		return name, flag, true
	}
	for claim, flag := range flagOf {
		if strings.EqualFold(claim, name) {
			return claim, flag, true
		}
	}
	return "", "", false
}

// checkTime refuses a time outside MinTime..MaxTime.
func checkTime(name string, t time.Time) error {
	switch {
	case t.Before(MinTime):
		return fmt.Errorf("%s is before %s", name, MinTime.Format(time.RFC3339))
	case t.After(MaxTime):
		return fmt.Errorf("%s is after %s", name, MaxTime.Format(time.RFC3339))
	}
	return nil
}

// BuildClaims computes the claims Supabase's `gen bearer-jwt` emits (iat,
// exp, role, sub when given, is_anonymous for an anonymous authenticated
// user), with iss, aud, jti and nbf when given, and the claims of Payload
// and Extra beside them. iat is the minting time (Now, to the second) or
// IssuedAt; exp is Expiry or iat + ValidFor. A token that would not verify
// is refused: exp not after iat or not after Now, a lifetime under a second
// or over MaxLifetime, a time outside MinTime..MaxTime, nbf not before exp.
// A claim that has a flag (see ClaimSourceError) may not come from Payload
// or Extra, and no two claims may differ only in letter case.
func BuildClaims(o ClaimOptions) (map[string]any, error) {
	iat := o.Now.Truncate(time.Second)
	if !o.IssuedAt.IsZero() {
		iat = o.IssuedAt
		if err := checkTime("iat", iat); err != nil {
			return nil, err
		}
	}
	exp := o.Expiry
	if exp.IsZero() {
		switch {
		case o.ValidFor < time.Second:
			return nil, fmt.Errorf("valid-for must be at least 1s, not %s", o.ValidFor)
		case o.ValidFor > MaxLifetime:
			return nil, fmt.Errorf("valid-for %s is longer than 100 years, the longest lifetime keyctl mints", o.ValidFor)
		}
		exp = iat.Add(o.ValidFor)
	}
	if err := checkTime("exp", exp); err != nil {
		return nil, err
	}
	if exp.Unix() <= iat.Unix() {
		return nil, fmt.Errorf("exp %s is not after iat %s", rfc3339(exp), rfc3339(iat))
	}
	if exp.Unix()-iat.Unix() > int64(MaxLifetime/time.Second) {
		return nil, fmt.Errorf("the lifetime from iat %s to exp %s is longer than 100 years, the longest keyctl mints", rfc3339(iat), rfc3339(exp))
	}
	if !exp.After(o.Now) {
		return nil, fmt.Errorf("exp %s is not in the future", rfc3339(exp))
	}
	if !o.NotBefore.IsZero() {
		if err := checkTime("nbf", o.NotBefore); err != nil {
			return nil, err
		}
		if o.NotBefore.Unix() >= exp.Unix() {
			return nil, fmt.Errorf("nbf %s is not before exp %s: the token would never be valid", rfc3339(o.NotBefore), rfc3339(exp))
		}
	}
	if err := checkSourceNames(o.Payload, "--payload", o.Extra, "--claim"); err != nil {
		return nil, err
	}
	if err := o.checkAuthClaims("--payload", o.Payload); err != nil {
		return nil, err
	}
	if err := o.checkAuthClaims("--claim", o.Extra); err != nil {
		return nil, err
	}
	c := make(map[string]any, 8+len(o.Payload)+len(o.Extra))
	c["iat"] = iat.Unix()
	c["exp"] = exp.Unix()
	if !o.NotBefore.IsZero() {
		c["nbf"] = o.NotBefore.Unix()
	}
	if o.Role != "" {
		c["role"] = o.Role
	}
	if o.Subject != "" {
		if o.UUIDSubject && !IsUUID(o.Subject) {
			return nil, fmt.Errorf("sub %q %w", o.Subject, ErrSubjectNotUUID)
		}
		c["sub"] = o.Subject
	} else if IsAnonymousRole(o.Role) {
		c["is_anonymous"] = true
	}
	if o.Issuer != "" {
		c["iss"] = o.Issuer
	}
	switch len(o.Audience) {
	case 0:
	case 1:
		c["aud"] = o.Audience[0]
	default:
		c["aud"] = slices.Clone(o.Audience)
	}
	if o.JTI != "" {
		c["jti"] = o.JTI
	}
	if o.SessionID != "" {
		c["session_id"] = o.SessionID
	}
	if o.AAL != "" {
		c["aal"] = o.AAL
	}
	if len(o.AMR) > 0 {
		amr := make([]any, len(o.AMR))
		for i, m := range o.AMR {
			amr[i] = map[string]any{"method": m, "timestamp": iat.Unix()}
		}
		c["amr"] = amr
	}
	if o.Email != "" {
		c["email"] = o.Email
	}
	if o.Phone != "" {
		c["phone"] = o.Phone
	}
	maps.Copy(c, o.Payload)
	maps.Copy(c, o.Extra)
	return c, nil
}

// checkSourceNames refuses, in the claims of two sources, a claim that has
// a flag, a name given by both, and two names differing only in letter
// case. Within one source the parser has refused the last two already.
func checkSourceNames(a map[string]any, aSource string, b map[string]any, bSource string) error {
	for _, src := range []struct {
		m    map[string]any
		name string
	}{{a, aSource}, {b, bSource}} {
		for name := range src.m {
			if claim, flag, ok := ownedClaim(name); ok {
				return &ClaimSourceError{Name: name, Claim: claim, Flag: flag, Source: src.name}
			}
		}
	}
	for x := range a {
		for y := range b {
			switch {
			case x == y:
				return fmt.Errorf("claim %q is given by both %s and %s", x, aSource, bSource)
			case strings.EqualFold(x, y):
				return fmt.Errorf("claims %q (%s) and %q (%s) differ only in letter case", x, aSource, y, bSource)
			}
		}
	}
	return nil
}

// CheckLineClaims checks the claims of one line of --claims-from, which
// are merged over base, the claims BuildClaims made of o. A line may set
// sub, iss, aud and jti when o does not (one token per user is what
// --claims-from is for), and override a claim of Payload or Extra; it may
// never set exp, iat, nbf, role or is_anonymous, which the command line
// decides for every token, nor a name differing only in letter case from a
// claim of base or one with a flag.
func (o ClaimOptions) CheckLineClaims(line, base map[string]any) error {
	const source = "--claims-from"
	// The registered claims a line may set have the types keyctl's own
	// verifier (and Auth and PostgREST) read: a token with "sub":12345 or
	// "sub":null would be minted only to be refused.
	for _, name := range []string{"sub", "iss", "jti"} {
		if v, ok := line[name]; ok {
			if s, isString := v.(string); !isString || s == "" {
				return fmt.Errorf("%s, want a non-empty string", describeLineValue(name, v))
			}
		}
	}
	if v, ok := line["aud"]; ok && !audienceValue(v) {
		return errors.New("aud must be a non-empty string or a non-empty array of non-empty strings")
	}
	if sub, ok := line["sub"].(string); ok && o.UUIDSubject && !IsUUID(sub) {
		return fmt.Errorf("sub %q %w", sub, ErrSubjectNotUUID)
	}
	if err := o.checkAuthClaims(source, line); err != nil {
		return err
	}
	for name := range line {
		if claim, flag, ok := ownedClaim(name); ok {
			given := true
			if name == claim {
				switch claim {
				case "sub":
					given = o.Subject != ""
				case "iss":
					given = o.Issuer != ""
				case "aud":
					given = len(o.Audience) > 0 && !o.AudienceDefault
				case "jti":
					given = o.JTI != ""
				}
			}
			if given {
				return &ClaimSourceError{Name: name, Claim: claim, Flag: flag, Source: source}
			}
			continue
		}
		if _, same := base[name]; same {
			continue
		}
		for b := range base {
			if strings.EqualFold(b, name) {
				src := "--claim"
				if _, ok := o.Payload[b]; ok {
					src = "--payload"
				}
				return fmt.Errorf("claims %q (%s) and %q (%s) differ only in letter case", b, src, name, source)
			}
		}
	}
	return nil
}

// describeLineValue names a line's claim and its JSON type for a message.
func describeLineValue(name string, v any) string {
	switch v := v.(type) {
	case nil:
		return name + " is null"
	case string:
		return name + " is an empty string"
	case bool:
		return name + " is a boolean"
	case []any:
		return name + " is an array"
	case map[string]any:
		return name + " is an object"
	default:
		_ = v
		return name + " is a number"
	}
}

// audienceValue reports an aud a line may set: a non-empty string, or a
// non-empty array of non-empty strings.
func audienceValue(v any) bool {
	switch v := v.(type) {
	case string:
		return v != ""
	case []any:
		if len(v) == 0 {
			return false
		}
		for _, e := range v {
			if s, ok := e.(string); !ok || s == "" {
				return false
			}
		}
		return true
	}
	return false
}

// Lifetime returns how long a token with claims BuildClaims made is valid
// for when minted at now: exp - iat, or exp - now when iat is later (a
// future --iat must not stretch a keyring's max token lifetime: the token
// verifies until exp, for any verifier that ignores iat), 0 if exp or iat
// is missing.
func Lifetime(claims map[string]any, now time.Time) time.Duration {
	iat, ok1 := claims["iat"].(int64)
	exp, ok2 := claims["exp"].(int64)
	if !ok1 || !ok2 {
		return 0
	}
	iat = min(iat, now.Unix())
	if exp < iat || exp-iat > int64(MaxLifetime/time.Second) {
		return 0
	}
	return time.Duration(exp-iat) * time.Second
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ParseTime reads a token time as `keyctl gen bearer-jwt --exp`, --iat and
// --nbf take it: Unix seconds (digits, optionally a leading "-") or RFC
// 3339 in whole seconds, between MinTime and MaxTime.
func ParseTime(s string) (time.Time, error) {
	digits := strings.TrimPrefix(s, "-")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil && s[0] == '-', err == nil && n < MinTime.Unix():
			return time.Time{}, fmt.Errorf("%s is before %s", s, MinTime.Format(time.RFC3339))
		case err != nil, n > MaxTime.Unix():
			return time.Time{}, fmt.Errorf("%s is after %s", s, MaxTime.Format(time.RFC3339))
		}
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-01-02T15:04:05Z) nor Unix seconds", s)
	}
	if t.Nanosecond() != 0 {
		return time.Time{}, fmt.Errorf("%s has a fraction of a second: token times are whole seconds", s)
	}
	if err := checkTime(s, t); err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// IsAnonymousRole reports whether a token with role and no sub is an
// anonymous user's, which Supabase marks with is_anonymous: true: the role
// "authenticated" in any letter case.
func IsAnonymousRole(role string) bool { return strings.EqualFold(role, "authenticated") }

// ApplyAnonymousRule sets is_anonymous: true in claims when their role is
// an anonymous one (IsAnonymousRole) and they have no sub (absent, null or
// ""), and removes is_anonymous otherwise: Supabase's rule, decided on the
// claims as they finally are (`gen bearer-jwt --claims-from` applies it to
// each line's merged claims).
func ApplyAnonymousRule(claims map[string]any) {
	role, _ := claims["role"].(string)
	if sub := claims["sub"]; IsAnonymousRole(role) && (sub == nil || sub == "") {
		claims["is_anonymous"] = true
	} else {
		delete(claims, "is_anonymous")
	}
}

// ErrClaimsNotObject reports claims input that is not one JSON object.
var ErrClaimsNotObject = errors.New("not a JSON object")

// ParseClaims reads one JSON object of claims (a --payload, a line of
// --claims-from), numbers kept exact as json.Number. Duplicate member names
// at any depth are refused: which of the two a verifier would see is
// undefined (RFC 8725 section 3.11).
func ParseClaims(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, ErrClaimsNotObject
	}
	if err := strictjson.CheckObject(data); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseClaimFlag splits "key=value"; the value is JSON when it parses as
// JSON, else a string. Both must be valid UTF-8, and a JSON value is read
// as strictly as ParseClaims reads an object: no duplicate member names, no
// lone UTF-16 surrogate escapes.
func ParseClaimFlag(s string) (string, any, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", nil, fmt.Errorf("claim %q is not key=value", s)
	}
	if !utf8.ValidString(s) {
		return "", nil, fmt.Errorf("claim %q is not valid UTF-8", s)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err == nil && !dec.More() {
		if _, err := dec.Token(); err != nil { // nothing after the value
			if err := strictjson.CheckObject([]byte(`{"v":` + v + `}`)); err != nil {
				return "", nil, fmt.Errorf("claim %q: %w", k, err)
			}
			return k, val, nil
		}
	}
	return k, v, nil
}

// ParseClaimFlags reads every --claim key=value (ParseClaimFlag) into one
// claims object, refusing a name given twice and two names that differ
// only in letter case, as ParseClaims does for an object.
func ParseClaimFlags(args []string) (map[string]any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(args))
	for _, s := range args {
		k, v, err := ParseClaimFlag(s)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("claim %q is given twice", k)
		}
		for prev := range out {
			if strings.EqualFold(prev, k) {
				return nil, fmt.Errorf("claims %q and %q differ only in letter case", prev, k)
			}
		}
		out[k] = v
	}
	return out, nil
}
