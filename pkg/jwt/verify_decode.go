package jwt

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/keyctl/keyctl/pkg/strictjson"
)

// MaxDecodeBytes bounds what DecodeUnverified reads. Debugging may need to
// look at a token larger than Verify accepts, but not at anything.
const MaxDecodeBytes = 1 << 20

// Unverified is a token's contents read without checking anything: not the
// signature, not the claims. It exists for debugging; never act on it.
type Unverified struct {
	// Header and Claims are the decoded JSON objects, numbers as
	// json.Number.
	Header map[string]any
	Claims map[string]any
	// RawHeader and RawClaims are the decoded JSON text.
	RawHeader []byte
	RawClaims []byte
	// Signature is the decoded signature (nil when it could not be decoded).
	Signature []byte
	// Problems lists what Verify would refuse in the token's form
	// (non-canonical base64url, duplicate members, alg none...), so
	// debugging shows why a token is rejected. Signature and claim checks
	// are not made.
	Problems []string
}

// DecodeUnverified reads a compact JWS without verifying it. It is lenient
// where debugging needs it (surrounding white space, padded or standard
// base64 are decoded and reported as problems) and returns an error only
// when there is nothing sensible to show.
func DecodeUnverified(token string) (*Unverified, error) {
	if len(token) > MaxDecodeBytes {
		return nil, fmt.Errorf("token is %d bytes, over the %d-byte limit", len(token), MaxDecodeBytes)
	}
	u := &Unverified{}
	trimmed := strings.TrimSpace(token)
	if trimmed == "" {
		return nil, errors.New("empty token")
	}
	if trimmed != token {
		u.Problems = append(u.Problems, "token has white space around it")
	}
	if len(trimmed) > MaxTokenBytes {
		u.Problems = append(u.Problems, fmt.Sprintf("token is %d bytes, over the %d-byte limit verify applies", len(trimmed), MaxTokenBytes))
	}
	seg, f := splitCompact([]byte(trimmed))
	if f != nil {
		return nil, errors.New(f.Reason)
	}
	var parts [3][]byte
	for i, s := range seg {
		out, why := decodeSegment(nil, s)
		if why != "" {
			u.Problems = append(u.Problems, segmentNames[i]+" "+why)
			out = lenientBase64(s)
			if out == nil && i < 2 {
				return nil, fmt.Errorf("%s is not base64url: %s", segmentNames[i], base64Problem(s))
			}
		}
		parts[i] = out
	}
	u.RawHeader, u.RawClaims, u.Signature = parts[0], parts[1], parts[2]
	var err error
	if u.Header, err = u.object("header", parts[0]); err != nil {
		return nil, err
	}
	if u.Claims, err = u.object("claims", parts[1]); err != nil {
		return nil, err
	}
	if alg, ok := u.Header["alg"].(string); ok && strings.EqualFold(strings.TrimSpace(alg), "none") {
		u.Problems = append(u.Problems, fmt.Sprintf("alg %q: an unsigned token, which verify never accepts", alg))
	}
	for _, m := range []string{"crit", "jwk", "jku", "x5u", "x5c", "b64", "zip"} {
		if _, ok := u.Header[m]; ok {
			u.Problems = append(u.Problems, fmt.Sprintf("header carries %q, which verify refuses", m))
		}
	}
	return u, nil
}

// object decodes a header or claims object, noting duplicates as problems.
func (u *Unverified) object(what string, data []byte) (map[string]any, error) {
	if _, err := strictjson.ScanObject(data, nil); err != nil {
		var je *strictjson.Error
		switch {
		case errors.As(err, &je) && je.NameClash():
			u.Problems = append(u.Problems, fmt.Sprintf("%s has %s (verify refuses it; the last value is shown)", what, je.Error()))
		case errors.As(err, &je) && je.Surrogate:
			u.Problems = append(u.Problems, fmt.Sprintf("%s has a string escaping a lone UTF-16 surrogate (verify refuses it; shown as U+FFFD)", what))
		default:
			return nil, fmt.Errorf("%s is not a JSON object: %v", what, err)
		}
	}
	m, err := decodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %v", what, err)
	}
	return m, nil
}

// lenientBase64 decodes what a sloppy encoder might produce: padding,
// standard alphabet, embedded white space, stray bits. nil when even that
// fails.
func lenientBase64(seg []byte) []byte {
	clean := make([]byte, 0, len(seg))
	for _, c := range seg {
		switch c {
		case ' ', '\t', '\r', '\n', '\f', '\v', '=':
		case '+':
			clean = append(clean, '-')
		case '/':
			clean = append(clean, '_')
		default:
			clean = append(clean, c)
		}
	}
	out, err := base64.RawURLEncoding.DecodeString(string(clean))
	if err != nil {
		return nil
	}
	return out
}
