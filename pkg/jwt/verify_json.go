package jwt

import (
	"math"
	"math/big"
	"strconv"

	"github.com/keyctl/keyctl/pkg/strictjson"
)

// jsonKind names the JSON type of a raw value for messages.
func jsonKind(raw []byte) string { return strictjson.Kind(raw) }

// maxNumericDate is 9999-12-31T23:59:59Z, the last second every
// library, database and RFC 3339 timestamp can hold.
const maxNumericDate = 253402300799

// maxNumericDateText bounds how a NumericDate may be spelled: 64
// characters hold any second with any fraction a clock has.
const maxNumericDateText = 64

// numericDate reads a NumericDate (RFC 7519 section 2): a JSON number of
// seconds, fractions allowed, from 0 (1970-01-01T00:00:00Z) to
// maxNumericDate. Anything else is malformed rather than clamped: libraries
// read such values differently (as "never expires", as a wrapped int64, as
// an unsigned number, or as an error), and a token whose lifetime depends
// on who reads it has none.
func numericDate(raw []byte) (float64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, false
	}
	// No time needs more than maxNumericDateText characters, and
	// strconv.ParseFloat misreads numbers of more than 800 digits (it
	// reads 1796000000 padded with 791 zeros and e-791 as 1.796e8): such
	// a spelling is malformed, not a second reading of the same token.
	if len(raw) > maxNumericDateText {
		return 0, false
	}
	// 1e400 is a JSON number but no float64 (ParseFloat fails, or gives
	// Inf, which JavaScript reads as a token that never expires). A
	// fraction that rounds past the bound is past it too.
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return 0, false
	}
	// float64 rounds: -1e-400 reads as -0 and 253402300799.00001 as the
	// bound itself. Decide those two edges on the decimal text.
	if raw[0] == '-' && !zeroMantissa(raw) {
		return 0, false
	}
	if f == maxNumericDate && !atMostMax(raw) {
		return 0, false
	}
	return f, true
}

// zeroMantissa reports whether a JSON number's digits before any exponent
// are all zero (-0, -0.000e5).
func zeroMantissa(raw []byte) bool {
	for _, c := range raw {
		switch {
		case c == 'e' || c == 'E':
			return true
		case c >= '1' && c <= '9':
			return false
		}
	}
	return true
}

// atMostMax compares a JSON number that float64 rounds to maxNumericDate
// with the bound exactly. The precision grows with the text, so that no
// digit past the bound is rounded away.
func atMostMax(raw []byte) bool {
	x, _, err := big.ParseFloat(string(raw), 10, uint(4*len(raw)+64), big.ToNearestEven)
	return err == nil && x.Cmp(big.NewFloat(maxNumericDate)) <= 0
}
