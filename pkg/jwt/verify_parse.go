package jwt

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// MaxTokenBytes is the largest token Verify looks at. Anything longer is
// refused before any decoding work, so hostile input costs one length
// comparison.
const MaxTokenBytes = 16 << 10

var b64Strict = base64.RawURLEncoding.Strict()

// segmentNames names the three parts of a compact JWS for messages.
var segmentNames = [3]string{"header", "claims", "signature"}

// splitCompact splits a compact JWS into its three segments, or returns a
// failure when the token has another number of segments.
func splitCompact(tok []byte) (seg [3][]byte, f *Failure) {
	n := bytes.Count(tok, []byte{'.'}) + 1
	if n != 3 {
		why := fmt.Sprintf("token has %d segments, want 3 (header.claims.signature)", n)
		switch {
		case n == 5:
			why = "token has 5 segments: an encrypted JWE, which keyctl does not accept (want 3: header.claims.signature)"
		case n == 1:
			why = "token has 1 segment: not a JWT (want 3: header.claims.signature)"
		}
		return seg, &Failure{CheckSegments, why}
	}
	i := bytes.IndexByte(tok, '.')
	j := i + 1 + bytes.IndexByte(tok[i+1:], '.')
	return [3][]byte{tok[:i], tok[i+1 : j], tok[j+1:]}, nil
}

// decodeSegment appends the strict base64url decoding of seg to dst. On
// failure it returns dst unchanged and a reason saying what is
// non-canonical about the segment (RFC 7515 section 2 wants unpadded
// base64url with no white space or line breaks; RFC 4648 section 3.5 says
// the unused bits of the last character must be zero).
func decodeSegment(dst, seg []byte) ([]byte, string) {
	if len(seg) == 0 {
		return dst, "is empty"
	}
	// The standard decoder skips CR and LF even in strict mode.
	if bytes.IndexByte(seg, '\n') < 0 && bytes.IndexByte(seg, '\r') < 0 {
		if out, err := b64Strict.AppendDecode(dst, seg); err == nil {
			return out, ""
		}
	}
	return dst, "is not canonical base64url: " + base64Problem(seg)
}

// base64Problem names what is wrong with a segment that did not decode.
func base64Problem(seg []byte) string {
	switch {
	case bytes.ContainsAny(seg, " \t\r\n\f\v"):
		return "it contains white space"
	case bytes.IndexByte(seg, '=') >= 0:
		return `it has "=" padding`
	case bytes.ContainsAny(seg, "+/"):
		return `it uses "+" or "/" (standard base64, not base64url)`
	}
	for _, c := range seg {
		if !isBase64URL(c) {
			return fmt.Sprintf("it contains %q, outside the base64url alphabet", c)
		}
	}
	if len(seg)%4 == 1 {
		return "its length is impossible for base64"
	}
	return "its last character has non-zero unused bits"
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// PasteProblem names the ways a token gets mangled on its way from a
// header, a file or a clipboard, and the fix: empty, white space or line
// breaks around it, a carriage return at its end (a file with Windows
// line endings), the "Bearer " of an Authorization header before it.
// problem is "" when the token shows none of these; white space inside a
// token is left to the encoding check, which names the segment.
//
// Verify rejects such tokens rather than trimming them: a token is checked
// byte for byte, and a verifier that accepts near misses accepts two
// spellings of one token.
func PasteProblem(tok []byte) (problem, fix string) {
	const trimFix = "pass the token without it: tr -d '[:space:]' removes white space and line breaks"
	if len(bytes.TrimSpace(tok)) == 0 {
		fix = "pass the token itself: an empty argument is often an unset shell variable"
		if len(tok) == 0 {
			return "empty token", fix
		}
		return "token is only white space", fix
	}
	if i := bytes.IndexAny(tok, " \t"); i > 0 && strings.EqualFold(string(tok[:i]), "bearer") {
		j := i
		for j < len(tok) && (tok[j] == ' ' || tok[j] == '\t') {
			j++
		}
		return fmt.Sprintf("token starts with %q: that is the Authorization header's scheme, not part of the token", tok[:j]),
			`pass only the part after "Bearer ": keyctl verify "${AUTH#Bearer }"`
	}
	if bytes.HasSuffix(tok, []byte("\r")) || bytes.HasSuffix(tok, []byte("\r\n")) {
		return `token ends with a carriage return (\r), as read from a file with Windows line endings`,
			`remove it: TOKEN=$(tr -d '\r' < token.txt)`
	}
	before := len(tok) - len(bytes.TrimLeft(tok, " \t\r\n\f\v"))
	after := len(tok) - len(bytes.TrimRight(tok, " \t\r\n\f\v"))
	if before == 0 && after == 0 {
		return "", ""
	}
	kind := func(b []byte) string {
		if bytes.ContainsAny(b, " \t\f\v") {
			return "white space"
		}
		if len(b) == 1 {
			return "a line break"
		}
		return "line breaks"
	}
	switch {
	case before > 0 && after > 0:
		k := kind(tok[:before])
		if k != kind(tok[len(tok)-after:]) {
			k = "white space"
		}
		if k == "a line break" {
			k = "line breaks"
		}
		return "token has " + k + " before and after it", trimFix
	case before > 0:
		return "token has " + kind(tok[:before]) + " before it", trimFix
	}
	return "token has " + kind(tok[len(tok)-after:]) + " after it", trimFix
}
