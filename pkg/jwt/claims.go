package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MarshalClaims encodes a claims object as compact JSON with sorted keys at
// every depth, as encoding/json (and so go-jose and the Supabase CLI) does,
// but without reflection for the types claims hold: string, bool, nil,
// json.Number, the Go integer and float types, time.Time (as Unix seconds),
// []string, []any and map[string]any. Anything else falls back to
// encoding/json.
func MarshalClaims(claims map[string]any) ([]byte, error) {
	return appendValue(make([]byte, 0, 256), claims, 0)
}

const maxClaimsDepth = 64

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxClaimsDepth {
		return nil, errors.New("claims nested too deeply")
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("claim value %v is not valid JSON", x)
		}
		b, err := json.Marshal(x)
		return append(dst, b...), err
	case json.Number:
		if !json.Valid([]byte(x)) || x == "" {
			return nil, fmt.Errorf("claim value %q is not a JSON number", string(x))
		}
		return append(dst, x...), nil
	case time.Time:
		return strconv.AppendInt(dst, x.Unix(), 10), nil
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendValue(dst, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendString writes s as a JSON string exactly as encoding/json does
// (HTML-safe escapes, invalid UTF-8 replaced, U+2028/U+2029 escaped).
func appendString(dst []byte, s string) []byte {
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// ClaimOptions describe the claims of a bearer token, as `keyctl gen
// bearer-jwt` takes them.
type ClaimOptions struct {
	Role     string
	Subject  string
	Now      time.Time
	ValidFor time.Duration
	Expiry   time.Time // zero: Now + ValidFor; else iat = Expiry - ValidFor
	Payload  map[string]any
	Issuer   string
	Audience []string
	JTI      string
	Extra    map[string]any // --claim key=value, applied last
}

// BuildClaims computes the claims Supabase's `gen bearer-jwt` emits (iat,
// exp, role, sub when given, is_anonymous for an anonymous authenticated
// user), then merges Payload over them, then the explicit options (iss, aud,
// jti, extra claims) over that.
func BuildClaims(o ClaimOptions) (map[string]any, error) {
	if o.ValidFor <= 0 {
		return nil, fmt.Errorf("valid-for must be positive, not %s", o.ValidFor)
	}
	iat := o.Now
	exp := o.Now.Add(o.ValidFor)
	if !o.Expiry.IsZero() {
		exp = o.Expiry
		iat = exp.Add(-o.ValidFor)
	}
	if !exp.After(o.Now) {
		return nil, fmt.Errorf("expiry %s is not in the future", exp.UTC().Format(time.RFC3339))
	}
	c := make(map[string]any, 8+len(o.Payload)+len(o.Extra))
	c["iat"] = iat.Unix()
	c["exp"] = exp.Unix()
	if o.Role != "" {
		c["role"] = o.Role
	}
	if o.Subject != "" {
		c["sub"] = o.Subject
	} else if strings.EqualFold(o.Role, "authenticated") {
		c["is_anonymous"] = true
	}
	for k, v := range o.Payload {
		c[k] = v
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
	for k, v := range o.Extra {
		c[k] = v
	}
	return c, nil
}

// ParseClaimFlag splits "key=value"; the value is JSON when it parses as
// JSON, else a string.
func ParseClaimFlag(s string) (string, any, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return "", nil, fmt.Errorf("claim %q is not key=value", s)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err == nil && !dec.More() {
		if _, err := dec.Token(); err != nil { // nothing after the value
			return k, val, nil
		}
	}
	return k, v, nil
}
