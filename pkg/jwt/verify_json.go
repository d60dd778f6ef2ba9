package jwt

import (
	"math"
	"strconv"

	"github.com/keyctl/keyctl/pkg/strictjson"
)

// jsonKind names the JSON type of a raw value for messages.
func jsonKind(raw []byte) string { return strictjson.Kind(raw) }

// numericDate reads a NumericDate (RFC 7519 section 2): a JSON number of
// seconds, fractions allowed. Values beyond any plausible date are clamped
// so that the arithmetic that follows stays exact and overflow-free.
func numericDate(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		// 1e400 is a JSON number but no float64: go-jose refuses it and
		// JavaScript reads Infinity, a token that never expires.
		return 0, false
	}
	const limit = 1e15 // about 31 million years either side of 1970
	return math.Max(-limit, math.Min(limit, f)), true
}
