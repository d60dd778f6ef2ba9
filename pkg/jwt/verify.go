package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/strictjson"
)

// Policy is what a token must satisfy beyond a good signature. The zero
// value checks the time claims against the current time with no leeway
// and allows every supported algorithm.
type Policy struct {
	// Now is the instant the time claims are checked at; zero means the
	// time of each Verify call, read from Clock.
	Now time.Time
	// Clock gives the time of each Verify call when Now is zero (nil:
	// time.Now). A long-running verifier (a stream of tokens) passes its
	// clock here, so each token is checked when it is verified.
	Clock func() time.Time
	// Leeway forgives clock skew on exp, nbf and iat. RFC 8725 leaves it to
	// the verifier; keyctl defaults to none.
	Leeway time.Duration
	// Audience, when set, must be the aud claim or one of its elements.
	Audience string
	// Issuer, Role and Subject, when set, must equal those claims.
	Issuer  string
	Role    string
	Subject string
	// Require lists claims that must be present and not null, beyond exp,
	// which is always required.
	Require []string
	// Algorithms narrows the allowed algorithms; empty allows all four.
	// A key still verifies only with its own algorithm.
	Algorithms []jwk.Algorithm
}

// Verifier checks tokens against a key set and a policy. It is safe for
// concurrent use; build it once and verify many tokens.
type Verifier struct {
	keys    *KeySet
	policy  Policy
	allowed map[jwk.Algorithm]bool
	list    string // the allowed algorithms, for messages
}

// NewVerifier binds a key set to a policy, refusing a policy that makes no
// sense (negative leeway, unknown algorithm, empty required claim name).
func NewVerifier(keys *KeySet, p Policy) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("no key set")
	}
	if p.Leeway < 0 {
		return nil, fmt.Errorf("leeway must not be negative, not %s", p.Leeway)
	}
	for _, c := range p.Require {
		if c == "" {
			return nil, errors.New("a required claim name is empty")
		}
	}
	algs := p.Algorithms
	if len(algs) == 0 {
		algs = jwk.Algorithms
	}
	v := &Verifier{keys: keys, policy: p, allowed: map[jwk.Algorithm]bool{}}
	var names []string
	for _, a := range algs {
		if !slices.Contains(jwk.Algorithms, a) {
			return nil, fmt.Errorf("%w %q", jwk.ErrUnsupportedAlgorithm, string(a))
		}
		if !v.allowed[a] {
			names = append(names, string(a))
		}
		v.allowed[a] = true
	}
	v.list = strings.Join(names, ", ")
	v.policy.Require = slices.Clone(p.Require)
	return v, nil
}

// Keys returns the verifier's key set.
func (v *Verifier) Keys() *KeySet { return v.keys }

// Verified is a token that passed every check.
type Verified struct {
	// Header and Claims are the JSON exactly as signed (no duplicate
	// members, valid UTF-8).
	Header []byte
	Claims []byte
	// Alg and KID are from the header; KID is "" when the token has none.
	Alg jwk.Algorithm
	KID string
	// Key is the key that verified the signature.
	Key TrustedKey
	// Subject, Role and Issuer are those claims, "" when absent.
	Subject string
	Role    string
	Issuer  string
	// Expiry, IssuedAt and NotBefore are the time claims; zero when absent
	// (exp never is).
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
}

// ClaimsMap decodes the claims, numbers kept exact as json.Number.
func (t *Verified) ClaimsMap() (map[string]any, error) {
	return decodeObject(t.Claims)
}

func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// Verify checks a compact JWS. It returns the verified token, or a
// *ValidationError listing every check that failed (and no claims).
func (v *Verifier) Verify(token string) (*Verified, error) {
	return v.VerifyBytes([]byte(token))
}

// VerifyBytes is Verify for a token held as bytes; tok is not retained.
func (v *Verifier) VerifyBytes(tok []byte) (*Verified, error) {
	// Cheap structural checks first: nothing is decoded for a token that
	// fails them.
	if len(tok) > MaxTokenBytes {
		return nil, &ValidationError{Failures: []Failure{{CheckSize,
			fmt.Sprintf("token is %d bytes, over the %d-byte limit", len(tok), MaxTokenBytes)}}}
	}
	if problem, _ := PasteProblem(tok); problem != "" {
		check := CheckEncoding
		if len(tok) == 0 {
			check = CheckSegments
		}
		return nil, &ValidationError{Failures: []Failure{{check, problem}}}
	}
	seg, f := splitCompact(tok)
	if f != nil {
		return nil, &ValidationError{Failures: []Failure{*f}}
	}
	var c checker
	// One buffer holds the three decoded segments: decoding never grows.
	buf := make([]byte, 0, len(tok))
	var parts [3][]byte
	ok := [3]bool{}
	for i := range seg {
		out, why := decodeSegment(buf[len(buf):], seg[i])
		if why != "" {
			c.fail(CheckEncoding, segmentNames[i]+" "+why)
			continue
		}
		parts[i], ok[i] = out, true
		buf = buf[:len(buf)+len(out)]
	}

	var h header
	if ok[0] {
		h = c.header(parts[0], v)
	}
	var key *keyEntry
	if h.parsed {
		var kf *Failure
		key, kf = v.keys.resolve(h.kid, h.hasKID)
		if key != nil && key.Locked {
			// The token names a key whose material is not at hand: no
			// verdict either way, and no fallback to another key.
			return nil, &KeyUnavailableError{KID: key.kid(), Label: key.label}
		}
		if kf != nil {
			c.failures = append(c.failures, *kf)
			if kf.Check == CheckKIDUnknown {
				c.unknownKID = h.kid
			}
		}
	}
	if key != nil && h.algOK {
		if h.alg != string(key.alg) {
			c.fail(CheckAlgKey, fmt.Sprintf("alg %s does not match %s, which verifies %s only", clipName(string(h.alg)), key.label, key.alg))
		} else if ok[2] {
			signingInput := tok[:len(seg[0])+1+len(seg[1])]
			if sf := key.verify(signingInput, parts[2]); sf != nil {
				c.failures = append(c.failures, *sf)
			}
		}
	}
	// Reasons quote a time claim only from a token a trusted key signed;
	// they never quote a string claim at all (RFC 8725 section 3.11 spirit,
	// and keyctl's rule: no claim of a rejected token is shown as if it
	// meant something).
	c.authentic = len(c.failures) == 0 && key != nil && ok[2] && h.algOK
	var cl claimValues
	if ok[1] {
		cl = c.claims(parts[1], &v.policy)
	}
	if len(c.failures) > 0 {
		return nil, &ValidationError{Failures: c.failures, UnknownKID: c.unknownKID}
	}
	if key == nil || !ok[2] || !h.algOK {
		// Unreachable: every path that leaves these unset records a failure.
		return nil, &ValidationError{Failures: []Failure{{CheckSignature, "signature was not checked"}}}
	}
	return &Verified{
		Header:    parts[0],
		Claims:    parts[1],
		Alg:       jwk.Algorithm(h.alg),
		KID:       h.kid,
		Key:       key.TrustedKey,
		Subject:   cl.sub,
		Role:      cl.role,
		Issuer:    cl.iss,
		Expiry:    cl.exp,
		IssuedAt:  cl.iat,
		NotBefore: cl.nbf,
	}, nil
}

// checker collects failures.
type checker struct {
	failures   []Failure
	unknownKID string
	// authentic: the signature verified with a trusted key, so the
	// claims are what that key's holder wrote.
	authentic bool
}

func (c *checker) fail(check Check, reason string) {
	c.failures = append(c.failures, Failure{check, reason})
}

// jsonFailure records a header or claims object that did not scan.
func (c *checker) jsonFailure(what string, err error, syntax Check) {
	var je *strictjson.Error
	if errors.As(err, &je) && je.NameClash() {
		switch {
		case what == "claims" && !c.authentic:
			// Member names of claims no trusted key signed are not
			// quoted: they are the sender's text.
			if je.Duplicate {
				c.fail(CheckDuplicate, "claims has a duplicate member name")
			} else {
				c.fail(CheckDuplicate, "claims has two member names that differ only in letter case")
			}
		case je.Duplicate:
			c.fail(CheckDuplicate, fmt.Sprintf("%s has duplicate member %s", what, clipName(je.Dup)))
		default:
			c.fail(CheckDuplicate, fmt.Sprintf("%s has members %s and %s differ only in letter case", what, clipName(je.FoldA), clipName(je.FoldB)))
		}
		return
	}
	c.fail(syntax, fmt.Sprintf("%s is not one JSON object: %v", what, err))
}

// header is what Verify reads from the protected header.
type header struct {
	parsed bool // a JSON object without duplicates: kid and alg are known
	alg    string
	algOK  bool // alg is supported and allowed
	kid    string
	hasKID bool
}

func (c *checker) header(data []byte, v *Verifier) header {
	var h header
	var mbuf [8]strictjson.Member
	members, err := strictjson.ScanObject(data, mbuf[:0])
	if err != nil {
		c.jsonFailure("header", err, CheckHeader)
		return h
	}
	var alg, typ []byte
	hasAlg, hasTyp, kidOK := false, false, true
	for _, m := range members {
		switch string(m.Name) {
		case "alg":
			alg, hasAlg = m.Value, true
		case "kid":
			s, ok := stringValue(m.Value)
			if !ok {
				c.fail(CheckHeader, fmt.Sprintf("header kid is %s, not a string", jsonKind(m.Value)))
				kidOK = false
				continue
			}
			h.kid, h.hasKID = s, true
		case "typ":
			typ, hasTyp = m.Value, true
		case "crit":
			c.fail(CheckCrit, fmt.Sprintf("header has crit %s: keyctl understands no critical extensions (RFC 7515 section 4.1.11)", clip(m.Value)))
		case "jwk", "jku", "x5u", "x5c":
			// Keys or pointers to keys: a token must not choose the key
			// that verifies it (RFC 8725 section 3.10). keyctl never reads
			// or fetches them, and refuses tokens that carry them so that
			// nothing downstream is tempted to.
			c.fail(CheckHeaderKey, fmt.Sprintf("header carries %q: keys named by the token itself are never used or fetched", m.Name))
		case "b64":
			// RFC 7797 unencoded payloads: a library that honours b64
			// reads the payload segment as the raw claims, keyctl as
			// base64url. One token, two readings; JWTs never use it.
			c.fail(CheckHeader, fmt.Sprintf("header has b64 %s: unencoded payloads (RFC 7797) are not JWTs and keyctl does not read them", clip(m.Value)))
		case "zip":
			// Compression belongs to JWE (RFC 7516 section 4.1.3); a JWS
			// verifier that inflated the payload would read other claims.
			c.fail(CheckHeader, fmt.Sprintf("header has zip %s: compressed payloads belong to encrypted tokens, and keyctl does not inflate them", clip(m.Value)))
		case "cty":
			// cty "JWT" says the payload is itself a token (RFC 7519
			// section 5.2): its claims are not these.
			if s, ok := rawString(m.Value); ok && (bytes.EqualFold(s, []byte("JWT")) || bytes.EqualFold(s, []byte("application/jwt"))) {
				c.fail(CheckHeader, fmt.Sprintf("header has cty %s: a nested token, which keyctl does not verify", clipName(string(s))))
			}
		default:
			if reg := caseVariant(m.Name, headerNames); reg != "" {
				c.fail(CheckDuplicate, fmt.Sprintf("header member %s is %q in other letter case: names are case-sensitive (RFC 7515 section 4)", quoteName(m.Name), reg))
			}
		}
	}
	h.parsed = kidOK
	switch {
	case !hasAlg:
		c.fail(CheckAlg, "header has no alg")
	default:
		raw, isStr := rawString(alg)
		a, supported := supportedAlg(raw)
		switch {
		case !isStr:
			c.fail(CheckAlg, fmt.Sprintf("header alg is %s, not a string", jsonKind(alg)))
		case supported && v.allowed[a]:
			h.alg, h.algOK = string(a), true
		case supported:
			c.fail(CheckAlg, fmt.Sprintf("alg %q is not allowed by the policy (allowed: %s)", a, v.list))
		case strings.EqualFold(strings.TrimSpace(string(raw)), "none"):
			c.fail(CheckAlgNone, fmt.Sprintf("alg %s: unsigned tokens are never accepted", clipName(string(raw))))
		default:
			why := fmt.Sprintf("alg %s is not supported (keyctl verifies %s)", clipName(string(raw)), jwk.AlgorithmList())
			if a, err := jwk.ParseAlgorithm(string(raw)); err == nil {
				why = fmt.Sprintf("alg %s is not supported: algorithm names are case-sensitive (did the signer mean %s?)", clipName(string(raw)), a)
			}
			c.fail(CheckAlg, why)
		}
	}
	if hasTyp {
		s, isStr := rawString(typ)
		switch {
		case !isStr:
			c.fail(CheckTyp, fmt.Sprintf("typ is %s, not a string", jsonKind(typ)))
		case !typIsJWT(s):
			c.fail(CheckTyp, fmt.Sprintf("typ %s is not JWT", clipName(string(s))))
		}
	}
	return h
}

// typIsJWT accepts "JWT" and its full media type, in any letter case, as
// RFC 7515 section 4.1.9 and RFC 7519 section 5.1 allow. An absent typ is
// also fine (it is optional); any other type, such as "at+jwt" or
// "secevent+jwt", is a different kind of token.
func typIsJWT(s []byte) bool {
	return bytes.EqualFold(s, []byte("JWT")) || bytes.EqualFold(s, []byte("application/jwt"))
}

// supportedAlg matches the exact, case-sensitive name of a supported
// algorithm (RFC 7515 section 4.1.1) without allocating.
func supportedAlg(b []byte) (jwk.Algorithm, bool) {
	switch string(b) {
	case "ES256":
		return jwk.ES256, true
	case "RS256":
		return jwk.RS256, true
	case "HS256":
		return jwk.HS256, true
	case "EdDSA":
		return jwk.EdDSA, true
	}
	return "", false
}

// when words a time check's failure: with the claim's time for a token a
// trusted key signed, without it for any other.
func (c *checker) when(withTime, without string, t time.Time, at string) string {
	if c.authentic {
		return fmt.Sprintf("%s %s (%s)", withTime, formatTime(t), at)
	}
	return fmt.Sprintf("%s (%s)", without, at)
}

// notNumericDate says why a time claim is not a NumericDate; the number
// itself only for a token a trusted key signed.
func (c *checker) notNumericDate(name string, raw []byte) string {
	if jsonKind(raw) == "a number" && len(raw) > maxNumericDateText {
		return fmt.Sprintf("%s is a number spelled in %d characters: a NumericDate needs at most %d", name, len(raw), maxNumericDateText)
	}
	if jsonKind(raw) == "a number" {
		if c.authentic {
			name += " " + clip(raw)
		}
		return fmt.Sprintf("%s is out of range for a NumericDate (seconds from 0 to %d, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)", name, maxNumericDate)
	}
	return fmt.Sprintf("%s is %s, not a NumericDate (a number of seconds)", name, jsonKind(raw))
}

// headerNames and claimNames are the members keyctl reads or refuses. A
// member that is one of them in other letter case ("ALG", "Role") is
// refused: keyctl would ignore it, while a consumer that matches names
// without regard to case, as Go's encoding/json does, would read it.
var (
	headerNames = []string{"alg", "kid", "typ", "cty", "crit", "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "b64", "zip", "enc"}
	claimNames  = []string{"exp", "nbf", "iat", "sub", "role", "iss", "aud", "jti"}
)

// caseVariant returns the registered name that name equals but for letter
// case, or "" (also when name is exactly a registered name).
func caseVariant(name []byte, registered []string) string {
	if len(name) < 2 || len(name) > 3*len("x5t#S256") {
		return ""
	}
	for _, r := range registered {
		if bytes.EqualFold(name, []byte(r)) && string(name) != r {
			return r
		}
	}
	return ""
}

// clipName quotes a member name for a message, shortened and with
// anything unprintable escaped.
func clipName(name string) string { return clip([]byte(strconv.Quote(name))) }

// Quote quotes a value a token chose (a kid, an alg) for a message, as
// the verifier's own reasons do: escaped, and cut to 40 characters.
func Quote(s string) string { return clipName(s) }

// quoteName quotes a member name for a message.
func quoteName(name []byte) string { return strconv.Quote(string(name)) }

// clip shortens a raw JSON value for a message. JSON text may hold raw
// C1 controls and bidirectional overrides (only C0 controls must be
// escaped), so anything unprintable is escaped: the message goes to a
// terminal.
func clip(raw []byte) string {
	const max = 40
	var b strings.Builder
	for i, r := range string(raw) {
		if i >= max-3 && len(raw) > max {
			b.WriteString("...")
			break
		}
		if unicode.IsPrint(r) && r != utf8.RuneError {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// stringValue reads a JSON string value.
func stringValue(raw []byte) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	return strictjson.Unquote(raw)
}

// rawString reads a JSON string value without copying when it has no
// escapes; the result may alias raw.
func rawString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], true
	}
	s, ok := strictjson.Unquote(raw)
	return []byte(s), ok
}

// claimValues is what Verify reads from the claims.
type claimValues struct {
	sub, role, iss string
	exp, iat, nbf  time.Time
}

func (c *checker) claims(data []byte, p *Policy) claimValues {
	var cv claimValues
	var mbuf [16]strictjson.Member
	members, err := strictjson.ScanObject(data, mbuf[:0])
	if err != nil {
		c.jsonFailure("claims", err, CheckClaims)
		return cv
	}
	now := p.Now
	if now.IsZero() {
		if p.Clock != nil {
			now = p.Clock()
		} else {
			now = time.Now()
		}
	}
	nowSec := float64(now.Unix()) + float64(now.Nanosecond())/1e9
	leeway := p.Leeway.Seconds()
	at := func() string { // only built for a message
		return fmt.Sprintf("checked at %s, leeway %s", formatTime(now), p.Leeway)
	}

	var exp, nbf, iat, sub, role, iss, aud []byte
	for _, m := range members {
		switch string(m.Name) {
		case "exp":
			exp = m.Value
		case "nbf":
			nbf = m.Value
		case "iat":
			iat = m.Value
		case "sub":
			sub = m.Value
		case "role":
			role = m.Value
		case "iss":
			iss = m.Value
		case "aud":
			aud = m.Value
		default:
			if reg := caseVariant(m.Name, claimNames); reg != "" {
				name := "a claims member"
				if c.authentic {
					name = "claims member " + clipName(string(m.Name))
				}
				c.fail(CheckDuplicate, fmt.Sprintf("%s is %q in other letter case: names are case-sensitive (RFC 7519 section 4)", name, reg))
			}
		}
	}

	// exp: always required (RFC 8725 section 3.10 leaves it to the
	// application; keyctl's tokens always carry one, and a token that never
	// expires cannot be revoked by waiting).
	if exp == nil {
		c.fail(CheckExp, "exp is missing: every token must expire")
	} else if t, ok := numericDate(exp); !ok {
		c.fail(CheckExp, c.notNumericDate("exp", exp))
	} else {
		cv.exp = secondsToTime(t)
		if nowSec-leeway >= t {
			c.fail(CheckExp, c.when("token expired at", "token expired", cv.exp, at()))
		}
	}
	if nbf != nil {
		if t, ok := numericDate(nbf); !ok {
			c.fail(CheckNbf, c.notNumericDate("nbf", nbf))
		} else {
			cv.nbf = secondsToTime(t)
			if t > nowSec+leeway {
				c.fail(CheckNbf, c.when("token is not valid before", "token is not valid yet", cv.nbf, at()))
			}
		}
	}
	if iat != nil {
		if t, ok := numericDate(iat); !ok {
			c.fail(CheckIat, c.notNumericDate("iat", iat))
		} else {
			cv.iat = secondsToTime(t)
			if t > nowSec+leeway {
				c.fail(CheckIat, c.when("token was issued in the future, at", "token was issued in the future", cv.iat, at()))
			}
		}
	}
	cv.sub = c.nonEmptyString(CheckSub, "sub", sub, p.Subject)
	cv.role = c.nonEmptyString(CheckRole, "role", role, p.Role)
	if iss != nil {
		s, ok := stringValue(iss)
		switch {
		case !ok:
			c.fail(CheckIss, fmt.Sprintf("iss is %s, not a string", jsonKind(iss)))
		case p.Issuer != "" && s != p.Issuer:
			c.fail(CheckIss, fmt.Sprintf("iss does not match: want %q", p.Issuer))
		default:
			cv.iss = s
		}
	} else if p.Issuer != "" {
		c.fail(CheckIss, fmt.Sprintf("iss is missing, want %q", p.Issuer))
	}
	c.audience(aud, p.Audience)
	for _, name := range p.Require {
		found := false
		for _, m := range members {
			if string(m.Name) == name && string(m.Value) != "null" {
				found = true
				break
			}
		}
		if !found {
			c.fail(CheckRequired, fmt.Sprintf("required claim %q is missing", name))
		}
	}
	return cv
}

// nonEmptyString checks sub and role: when present they must be non-empty
// strings (an empty sub or role is how confused-deputy bugs start), and
// equal to want when the policy sets one.
func (c *checker) nonEmptyString(check Check, name string, raw []byte, want string) string {
	if raw == nil {
		if want != "" {
			c.fail(check, fmt.Sprintf("%s is missing, want %q", name, want))
		}
		return ""
	}
	s, ok := stringValue(raw)
	switch {
	case !ok:
		c.fail(check, fmt.Sprintf("%s is %s, not a string", name, jsonKind(raw)))
	case s == "":
		c.fail(check, fmt.Sprintf("%s is an empty string", name))
	case want != "" && s != want:
		c.fail(check, fmt.Sprintf("%s does not match: want %q", name, want))
	default:
		return s
	}
	return ""
}

// audience checks aud: a string or an array of strings (RFC 7519 section
// 4.1.3), holding want when the policy names one.
func (c *checker) audience(raw []byte, want string) {
	if raw == nil {
		if want != "" {
			c.fail(CheckAud, fmt.Sprintf("aud is missing, want %q", want))
		}
		return
	}
	if s, ok := rawString(raw); ok {
		if want != "" && string(s) != want {
			c.fail(CheckAud, fmt.Sprintf("aud does not include %q", want))
		}
		return
	}
	auds, ok := stringList(raw)
	if !ok {
		c.fail(CheckAud, fmt.Sprintf("aud is %s, not a string or an array of strings", jsonKind(raw)))
		return
	}
	if want != "" && !slices.Contains(auds, want) {
		c.fail(CheckAud, fmt.Sprintf("aud does not include %q", want))
	}
}

// stringList reads a string or an array of strings. encoding/json alone
// would let null elements through as "".
func stringList(raw []byte) ([]string, bool) {
	if s, ok := stringValue(raw); ok {
		return []string{s}, true
	}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, false
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		s, ok := stringValue(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// secondsToTime converts NumericDate seconds (already in range) to a time.
func secondsToTime(t float64) time.Time {
	sec, frac := math.Modf(t)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
