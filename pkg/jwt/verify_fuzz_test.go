package jwt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/strictjson"
)

// The fixtures are throw-away keys and tokens signed with them
// (testdata/verify), valid until 2100.
const fixtureDir = "../../testdata/verify"

var fixtureNow = time.Unix(1767225600+3600, 0)

func fixtureKeys(t testing.TB) []TrustedKey {
	t.Helper()
	var out []TrustedKey
	for _, name := range []string{"es256", "rs256", "ed25519", "hs256"} {
		data, err := os.ReadFile(filepath.Join(fixtureDir, "throwaway-"+name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := jwk.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		if !k.IsSymmetric() {
			if k, err = k.Public(); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, TrustedKey{Key: k})
	}
	return out
}

func fixtureTokens(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fixtureDir, "tokens", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixture tokens: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".txt")] = strings.TrimSpace(string(data))
	}
	return out
}

func TestFixtures(t *testing.T) {
	v := newVerifier(t, fixtureKeys(t), Policy{Now: fixtureNow, Audience: "authenticated"})
	for name, tok := range fixtureTokens(t) {
		_, err := v.Verify(tok)
		if valid := strings.HasPrefix(name, "valid-"); valid != (err == nil) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

// FuzzVerify: nothing panics, every rejection is a *ValidationError with
// reasons and no claims, and nothing verifies that was not signed: a
// token that passes must carry the signing input of one of the genuine
// seeds (a fuzzer cannot forge a signature), be canonical, and verify
// with go-jose too.
func FuzzVerify(f *testing.F) {
	keys := fixtureKeys(f)
	toks := fixtureTokens(f)
	genuine := map[string]bool{}
	for name, tok := range toks {
		f.Add(tok)
		if strings.HasPrefix(name, "valid-") {
			genuine[tok[:strings.LastIndexByte(tok, '.')]] = true
		}
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat("A", MaxTokenBytes+1)} {
		f.Add(s)
	}
	ks, err := NewKeySet(keys)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(ks, Policy{Now: fixtureNow})
	if err != nil {
		f.Fatal(err)
	}
	known := []Check{CheckSize, CheckSegments, CheckEncoding, CheckHeader, CheckDuplicate, CheckAlgNone, CheckAlg,
		CheckHeaderKey, CheckCrit, CheckTyp, CheckKIDUnknown, CheckKIDMissing, CheckKeyState, CheckAlgKey, CheckSigFormat,
		CheckSignature, CheckClaims, CheckExp, CheckNbf, CheckIat, CheckSub, CheckRole, CheckIss, CheckAud, CheckRequired}
	f.Fuzz(func(t *testing.T, tok string) {
		_, _ = DecodeUnverified(tok) // must not panic either
		res, err := v.Verify(tok)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Failures) == 0 || res != nil {
				t.Fatalf("err %v (%T), result %v", err, err, res)
			}
			for _, fl := range ve.Failures {
				if fl.Reason == "" || !slices.Contains(known, fl.Check) {
					t.Fatalf("failure %+v", fl)
				}
			}
			return
		}
		dot := strings.LastIndexByte(tok, '.')
		if !genuine[tok[:dot]] {
			t.Fatalf("verified a token that was never signed: %q", tok)
		}
		p := strings.Split(tok, ".")
		for _, seg := range p {
			b, err := b64Strict.DecodeString(seg)
			if err != nil || b64.EncodeToString(b) != seg {
				t.Fatalf("verified a non-canonical segment %q", seg)
			}
		}
		obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.HS256, jose.EdDSA})
		if err != nil {
			t.Fatalf("go-jose cannot parse a token keyctl verified: %v", err)
		}
		if _, err := obj.Verify(res.Key.Key.PublicMaterial()); err != nil {
			t.Fatalf("go-jose rejects a token keyctl verified: %v", err)
		}
	})
}

// FuzzParseSet: a set jwk.ParseSet accepts from outside holds only public
// keys that the verifier can always index, each under its kid.
func FuzzParseSet(f *testing.F) {
	data, err := os.ReadFile(filepath.Join(fixtureDir, "throwaway-public-jwks.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, name := range []string{"es256", "rs256", "ed25519", "hs256"} {
		k, err := os.ReadFile(filepath.Join(fixtureDir, "throwaway-"+name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"keys":[` + strings.TrimSpace(string(k)) + `]}`))
	}
	f.Add([]byte(`{"keys":[{"kty":"AKP","pub":"AA"},{"kty":"EC","kid":"a","crv":"P-256","x":"AETSBTwx8wQWzfq6u93QjUBtuto7AKR7QQrea8MQZJs","y":"zrijjcKh6RiQ8X-EQq5v2HoXEf8vUo_wHyl5uAnEjjs"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	// The identity point as an Ed25519 key: pkg/jwk accepts it, the
	// verifier must not.
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"id","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := jwk.ParseSet(data, jwk.ParseSetOptions{})
		if err != nil {
			return
		}
		tks := make([]TrustedKey, len(set.Keys))
		weak := false
		for i, k := range set.Keys {
			if k.IsPrivate() {
				t.Fatalf("key %d is private", i)
			}
			if pub, ok := k.Material.(ed25519.PublicKey); ok && jwk.CheckEd25519Public(pub) != nil {
				weak = true
			}
			tks[i] = TrustedKey{Key: k}
		}
		ks, err := NewKeySet(tks)
		if weak {
			// pkg/jwk refuses small-order and non-canonical Ed25519
			// keys; should one get through, the verifier must refuse too.
			if !errors.Is(err, jwk.ErrWeakKey) {
				t.Fatalf("a set with a weak Ed25519 key made a key set: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseSet accepted a set NewKeySet refuses: %v", err)
		}
		for _, k := range set.Keys {
			if k.KID == "" {
				continue
			}
			if got, ok := ks.Lookup(k.KID); !ok || got.Key != k {
				t.Fatalf("kid %q not indexed", k.KID)
			}
		}
	})
}

// FuzzScanObject cross-checks the strict JSON scanner (pkg/strictjson)
// with encoding/json: it accepts exactly the valid UTF-8 JSON objects,
// less those that repeat a name, whose top-level names differ only in
// letter case, or that escape a lone surrogate.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":null}]}}`, `{"a":1,"A":2}`,
		`{"\u0061":1,"a":2}`, ` {"exp":1.5e9} `, `{"a":"\ud800"}`, `[]`, `{"a":}`, "{\"a\":\"\xff\"}", `{"":0,"":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		members, err := strictjson.ScanObject(data, nil)
		var je *strictjson.Error
		if errors.As(err, &je) && je.Surrogate && !hasLoneSurrogate(data) {
			t.Fatalf("%q: refused for a lone surrogate it does not have", data)
		}
		if err == nil && hasLoneSurrogate(data) {
			t.Fatalf("%q: accepted with a lone surrogate", data)
		}
		strict := json.Valid(data) && utf8.Valid(data) && bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{"))
		if err == nil {
			if !strict {
				t.Fatalf("ScanObject accepted %q, which encoding/json refuses", data)
			}
			var m map[string]json.RawMessage
			if json.Unmarshal(data, &m) != nil || len(m) != len(members) {
				t.Fatalf("%q: %d members, encoding/json sees %d", data, len(members), len(m))
			}
			for _, mb := range members {
				if !bytes.Equal(bytes.TrimSpace(m[string(mb.Name)]), mb.Value) {
					t.Fatalf("%q: member %q = %q, encoding/json says %q", data, mb.Name, mb.Value, m[string(mb.Name)])
				}
			}
			return
		}
		if strict && (!errors.As(err, &je) || (!je.NameClash() && !je.Surrogate)) {
			t.Fatalf("ScanObject refused %q (%v), a valid object with distinct names", data, err)
		}
	})
}

// hasLoneSurrogate is the oracle for loneSurrogate: it decodes every
// \u escape of data with utf16 and finds a surrogate that is not paired.
func hasLoneSurrogate(data []byte) bool {
	var units []uint16
	flush := func() bool {
		for i := 0; i < len(units); i++ {
			u := rune(units[i])
			if utf16.IsSurrogate(u) {
				if u < 0xDC00 && i+1 < len(units) && units[i+1] >= 0xDC00 && units[i+1] <= 0xDFFF {
					i++
					continue
				}
				return true
			}
		}
		units = units[:0]
		return false
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 >= len(data) {
			if flush() {
				return true
			}
			continue
		}
		if data[i+1] != 'u' {
			if flush() {
				return true
			}
			i++
			continue
		}
		if i+6 > len(data) {
			return flush()
		}
		n, err := strconv.ParseUint(string(data[i+2:i+6]), 16, 16)
		if err != nil {
			return flush()
		}
		units = append(units, uint16(n))
		i += 5
	}
	return flush()
}

// FuzzNumericDate cross-checks numericDate with an exact reading of the
// decimal text (math/big.Rat): a JSON number is a NumericDate exactly when
// it lies in [0, 253402300799], and then its float64 is within a rounding
// error of the exact value, and converts to a time in years 1970 to 9999.
func FuzzNumericDate(f *testing.F) {
	for _, s := range []string{"0", "-0", "-0.0e7", "1", "1.5", "1767225600", "1767225600.25", "253402300799",
		"253402300799.0", "253402300799.5", "253402300799.00001", "253402300800", "2.53402300799e11", "2.534023008e11",
		"1e15", "1e300", "1e400", "-1", "-1e-400", "1e-400", "9223372036854775807", "9223372036854775808",
		"-9223372036854775809", "18446744073709551616", "9223372036854775807.5", "1E3", "true", "\"1\"", "null", "01", "-", "1.", ".5",
		"0." + strings.Repeat("0", 63), "1796000000" + strings.Repeat("0", 791) + "e-791"} {
		f.Add(s)
	}
	jsonNumber := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
	expDigits := regexp.MustCompile(`[eE][-+]?0*([0-9]*)$`)
	maxDate := new(big.Rat).SetInt64(maxNumericDate)
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := numericDate([]byte(s))
		if !jsonNumber.MatchString(s) {
			// The scanner has checked the syntax before numericDate
			// sees a value; only the other JSON kinds reach it.
			if ok && (s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
				t.Fatalf("%q is no JSON number but read as %v", s, got)
			}
			return
		}
		if ok {
			if got < 0 || got > maxNumericDate {
				t.Fatalf("%q read as %v, out of range", s, got)
			}
			if y := secondsToTime(got).Year(); y < 1970 || y > 9999 {
				t.Fatalf("%q read as year %d", s, y)
			}
		}
		// big.Rat expands the exponent in full: only small ones.
		if m := expDigits.FindStringSubmatch(s); m != nil && len(m[1]) > 3 {
			return
		}
		exact, good := new(big.Rat).SetString(s)
		if !good {
			t.Fatalf("big.Rat cannot read the JSON number %q", s)
		}
		// Spellings longer than maxNumericDateText are malformed whatever
		// they say (strconv.ParseFloat misreads some of them).
		want := exact.Sign() >= 0 && exact.Cmp(maxDate) <= 0 && len(s) <= maxNumericDateText
		if ok != want {
			t.Fatalf("%q: numericDate ok=%v, exact reading says %v", s, ok, want)
		}
	})
}
