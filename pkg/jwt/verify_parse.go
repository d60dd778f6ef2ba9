package jwt

import (
	"bytes"
	"encoding/base64"
	"fmt"
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
