package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// testKeys are generated once per test binary: RSA generation is slow.
type testKeys struct {
	es, es2, rs, ed, hs *jwk.Key
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		gen := func(alg jwk.Algorithm, kid string) *jwk.Key {
			k, err := jwk.Generate(alg, jwk.GenerateOptions{KID: kid})
			if err != nil {
				panic(err)
			}
			return k
		}
		keys = testKeys{
			es:  gen(jwk.ES256, "es"),
			es2: gen(jwk.ES256, "es2"),
			rs:  gen(jwk.RS256, "rs"),
			ed:  gen(jwk.EdDSA, "ed"),
			hs:  gen(jwk.HS256, "hs"),
		}
	})
	return keys
}

var enc = base64.RawURLEncoding

// rawSign signs the signing input with k's own algorithm; ES256 gives r||s.
func rawSign(t testing.TB, k *jwk.Key, in []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(in)
	switch m := k.Material.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, m, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(nil, m, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(m, in)
	case []byte:
		return hmacSum(m, in)
	}
	t.Fatalf("cannot sign with %T", k.Material)
	return nil
}

func hmacSum(secret, in []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(in)
	return mac.Sum(nil)
}

// forge builds a compact token from literal header and claims JSON, signed
// by sign (nil: an empty signature).
func forge(header, claims string, sign func(in []byte) []byte) string {
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + enc.EncodeToString(sig)
}

func signer(t testing.TB, k *jwk.Key) func([]byte) []byte {
	return func(in []byte) []byte { return rawSign(t, k, in) }
}

func hdr(alg, kid string) string {
	if kid == "" {
		return fmt.Sprintf(`{"alg":%q,"typ":"JWT"}`, alg)
	}
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, kid)
}

var testNow = time.Unix(1_800_000_000, 0)

func claimsJSON(extra string) string {
	c := fmt.Sprintf(`{"exp":%d,"iat":%d,"role":"authenticated","sub":"user-1"`, testNow.Unix()+600, testNow.Unix()-60)
	if extra != "" {
		c += "," + extra
	}
	return c + "}"
}

func trusted(ks ...*jwk.Key) []TrustedKey {
	out := make([]TrustedKey, len(ks))
	for i, k := range ks {
		out[i] = TrustedKey{Key: k}
	}
	return out
}

func newVerifier(t testing.TB, tks []TrustedKey, p Policy) *Verifier {
	t.Helper()
	ks, err := NewKeySet(tks)
	return verifierOn(t, ks, err, p)
}

// verifierOn binds ks (built with error err) to p, checking at testNow
// unless p says otherwise.
func verifierOn(t testing.TB, ks *KeySet, err error, p Policy) *Verifier {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if p.Now.IsZero() {
		p.Now = testNow
	}
	v, err := NewVerifier(ks, p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// rejected asserts that tok fails with exactly the given checks and that
// each reason contains the matching fragment.
func rejected(t *testing.T, v *Verifier, tok string, want map[Check]string) {
	t.Helper()
	got, err := v.Verify(tok)
	if got != nil {
		t.Fatalf("claims returned for a rejected token: %+v", got)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want *ValidationError", err, err)
	}
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("errors.Is(err, ErrRejected) is false")
	}
	checks := ve.Checks()
	for c, frag := range want {
		i := slices.Index(checks, c)
		if i < 0 {
			t.Errorf("check %s did not fail; failures: %q", c, ve.Reasons())
			continue
		}
		if !strings.Contains(ve.Failures[i].Reason, frag) {
			t.Errorf("check %s reason %q does not contain %q", c, ve.Failures[i].Reason, frag)
		}
	}
	if len(checks) != len(want) {
		t.Errorf("failed checks %v, want exactly %d: %q", checks, len(want), ve.Reasons())
	}
}

func accepted(t *testing.T, v *Verifier, tok string) *Verified {
	t.Helper()
	got, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	return got
}

func TestVerifyEachAlgorithm(t *testing.T) {
	k := getKeys(t)
	for _, key := range []*jwk.Key{k.es, k.rs, k.ed, k.hs} {
		t.Run(string(key.Alg), func(t *testing.T) {
			v := newVerifier(t, trusted(k.es, k.es2, k.rs, k.ed, k.hs), Policy{})
			// A token from the production signer verifies.
			s, err := NewSigner(key)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Sign(map[string]any{"exp": testNow.Unix() + 60, "role": "anon", "sub": "u", "iss": "me"})
			if err != nil {
				t.Fatal(err)
			}
			got := accepted(t, v, tok)
			if got.Alg != key.Alg || got.KID != key.KID || got.Key.Key != key {
				t.Errorf("alg %s kid %s key %v", got.Alg, got.KID, got.Key.Key.KID)
			}
			if got.Role != "anon" || got.Subject != "u" || got.Issuer != "me" || got.Expiry.Unix() != testNow.Unix()+60 {
				t.Errorf("claims read wrong: %+v", got)
			}
			m, err := got.ClaimsMap()
			if err != nil || m["role"] != "anon" {
				t.Errorf("ClaimsMap %v %v", m, err)
			}
			// Flipping any bit of the signature breaks it.
			parts := strings.Split(tok, ".")
			sig, _ := enc.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			bad := parts[0] + "." + parts[1] + "." + enc.EncodeToString(sig)
			rejected(t, v, bad, map[Check]string{CheckSignature: "does not verify"})
			// So does changing the claims.
			other := parts[0] + "." + enc.EncodeToString([]byte(`{"exp":1900000000,"role":"service_role"}`)) + "." + parts[2]
			rejected(t, v, other, map[Check]string{CheckSignature: "does not verify"})
		})
	}
}

func TestVerifyRejections(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	good := claimsJSON("")
	pubES, _ := k.es.Public()
	pubRS, _ := k.rs.Public()
	pubBytes, _ := pubES.MarshalJSON()
	pemRS, _ := pubRS.MarshalPEM()
	v := newVerifier(t, trusted(k.es, k.es2, k.rs, k.ed, k.hs), Policy{})

	validTok := forge(hdr("ES256", "es"), good, es)
	parts := strings.Split(validTok, ".")
	sigBytes, _ := enc.DecodeString(parts[2])

	derSig := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := ecdsa.SignASN1(rand.Reader, k.es.Material.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	zeroR := func(in []byte) []byte { s := es(in); clear(s[:32]); return s }
	zeroS := func(in []byte) []byte { s := es(in); clear(s[32:]); return s }

	cases := []struct {
		name string
		tok  string
		want map[Check]string
	}{
		{"oversize", strings.Repeat("a", MaxTokenBytes+1), map[Check]string{CheckSize: "over the 16384-byte limit"}},
		{"two segments", parts[0] + "." + parts[1], map[Check]string{CheckSegments: "2 segments"}},
		{"four segments", validTok + ".x", map[Check]string{CheckSegments: "4 segments"}},
		{"five segments", validTok + ".x.y", map[Check]string{CheckSegments: "encrypted JWE"}},
		{"one segment", "garbage", map[Check]string{CheckSegments: "not a JWT"}},
		{"empty", "", map[Check]string{CheckSegments: "empty token"}},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], map[Check]string{CheckEncoding: `header is not canonical base64url: it has "=" padding`}},
		{"plus slash", strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]+"."+parts[1]+"."+parts[2]) + "+/", map[Check]string{CheckEncoding: "standard base64"}},
		{"white space", parts[0] + "." + parts[1][:5] + " " + parts[1][5:] + "." + parts[2], map[Check]string{CheckEncoding: "claims is not canonical base64url: it contains white space", CheckSignature: "does not verify"}},
		{"line break", parts[0] + "." + parts[1][:5] + "\n" + parts[1][5:] + "." + parts[2], map[Check]string{CheckEncoding: "white space", CheckSignature: "does not verify"}},
		{"leading space", " " + validTok, map[Check]string{CheckEncoding: "token has white space before it"}},
		{"trailing newline", validTok + "\n", map[Check]string{CheckEncoding: "token has a line break after it"}},
		{"surrounding white space", "\t" + validTok + " ", map[Check]string{CheckEncoding: "token has white space before and after it"}},
		{"carriage return", validTok + "\r", map[Check]string{CheckEncoding: `token ends with a carriage return (\r)`}},
		{"bearer prefix", "Bearer " + validTok, map[Check]string{CheckEncoding: `token starts with "Bearer "`}},
		{"bearer lower case", "bearer " + validTok, map[Check]string{CheckEncoding: `token starts with "bearer "`}},
		{"stray bits", parts[0] + "." + parts[1] + "." + parts[2][:85] + "B", map[Check]string{CheckEncoding: "signature is not canonical base64url: its last character has non-zero unused bits"}},
		{"alien character", parts[0] + "." + parts[1] + "." + parts[2][:85] + "*", map[Check]string{CheckEncoding: `'*', outside the base64url alphabet`}},
		{"alg none", forge(`{"alg":"none","typ":"JWT"}`, good, nil), map[Check]string{CheckAlgNone: `alg "none": unsigned`, CheckEncoding: "signature is empty", CheckKIDMissing: "no kid"}},
		{"alg None with kid", forge(`{"alg":"None","kid":"es"}`, good, nil), map[Check]string{CheckAlgNone: `alg "None"`, CheckEncoding: "signature is empty"}},
		{"alg NONE with signature", forge(`{"alg":"NONE","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "NONE"`}},
		{"alg nOnE escaped", forge(`{"alg":"n\u004fnE","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "nOnE"`}},
		{"alg missing", forge(`{"kid":"es"}`, good, es), map[Check]string{CheckAlg: "no alg"}},
		{"alg number", forge(`{"alg":256,"kid":"es"}`, good, es), map[Check]string{CheckAlg: "a number, not a string"}},
		{"alg PS256", forge(hdr("PS256", "rs"), good, signer(t, k.rs)), map[Check]string{CheckAlg: `alg "PS256" is not supported`}},
		{"alg lower case", forge(hdr("es256", "es"), good, es), map[Check]string{CheckAlg: "case-sensitive"}},
		{"HS256 with the public key as secret", forge(hdr("HS256", "es"), good, func(in []byte) []byte { return hmacSum(pubBytes, in) }),
			map[Check]string{CheckAlgKey: `alg "HS256" does not match key "es", which verifies ES256 only`}},
		{"HS256 with the PEM as secret", forge(hdr("HS256", "rs"), good, func(in []byte) []byte { return hmacSum(pemRS, in) }),
			map[Check]string{CheckAlgKey: `which verifies RS256 only`}},
		{"RS256 token against an EC key", forge(hdr("RS256", "es"), good, signer(t, k.rs)), map[Check]string{CheckAlgKey: `alg "RS256" does not match key "es"`}},
		{"ES256 token naming the Ed25519 key", forge(hdr("ES256", "ed"), good, es), map[Check]string{CheckAlgKey: "verifies EdDSA only"}},
		{"unknown kid", forge(hdr("ES256", "nope"), good, es), map[Check]string{CheckKIDUnknown: `kid "nope" is not among the 5 trusted kids`}},
		{"no kid, several keys", forge(hdr("ES256", ""), good, es), map[Check]string{CheckKIDMissing: "token has no kid and 5 trusted keys could have signed it"}},
		{"kid not a string", forge(`{"alg":"ES256","kid":7}`, good, es), map[Check]string{CheckHeader: "kid is a number"}},
		{"crit", forge(`{"alg":"ES256","kid":"es","crit":["exp"],"exp":1}`, good, es), map[Check]string{CheckCrit: `crit ["exp"]`}},
		{"crit empty", forge(`{"alg":"ES256","kid":"es","crit":[]}`, good, es), map[Check]string{CheckCrit: "critical"}},
		{"jwk header", forge(`{"alg":"ES256","kid":"es","jwk":`+string(pubBytes)+`}`, good, es), map[Check]string{CheckHeaderKey: `header carries "jwk"`}},
		{"jku header", forge(`{"alg":"ES256","kid":"es","jku":"https://attacker.test/jwks.json"}`, good, es), map[Check]string{CheckHeaderKey: `"jku"`}},
		{"x5u header", forge(`{"alg":"ES256","kid":"es","x5u":"https://attacker.test/cert.pem"}`, good, es), map[Check]string{CheckHeaderKey: `"x5u"`}},
		{"x5c header", forge(`{"alg":"ES256","kid":"es","x5c":["MIIB"]}`, good, es), map[Check]string{CheckHeaderKey: `"x5c"`}},
		{"typ at+jwt", forge(`{"alg":"ES256","kid":"es","typ":"at+jwt"}`, good, es), map[Check]string{CheckTyp: `typ "at+jwt" is not JWT`}},
		{"typ number", forge(`{"alg":"ES256","kid":"es","typ":1}`, good, es), map[Check]string{CheckTyp: "a number"}},
		{"header duplicate", forge(`{"alg":"ES256","kid":"es","alg":"none"}`, good, es), map[Check]string{CheckDuplicate: `header has duplicate member "alg"`}},
		{"header escaped duplicate", forge(`{"alg":"ES256","kid":"es","\u0061lg":"HS256"}`, good, es), map[Check]string{CheckDuplicate: `duplicate member "alg"`}},
		{"header case duplicate", forge(`{"alg":"ES256","kid":"es","ALG":"none"}`, good, es), map[Check]string{CheckDuplicate: `members "alg" and "ALG" differ only in letter case`}},
		{"header not an object", forge(`["ES256"]`, good, es), map[Check]string{CheckHeader: "header is not one JSON object"}},
		{"header trailing data", forge(hdr("ES256", "es")+"{}", good, es), map[Check]string{CheckHeader: "after the JSON object"}},
		{"header invalid UTF-8", forge("{\"alg\":\"ES256\",\"kid\":\"es\",\"x\":\"\xff\"}", good, es), map[Check]string{CheckHeader: "UTF-8"}},
		{"DER signature", forge(hdr("ES256", "es"), good, derSig), map[Check]string{CheckSigFormat: "want exactly 64 (r||s"}},
		{"zero r", forge(hdr("ES256", "es"), good, zeroR), map[Check]string{CheckSigFormat: "r = 0"}},
		{"zero s", forge(hdr("ES256", "es"), good, zeroS), map[Check]string{CheckSigFormat: "s = 0"}},
		{"all-zero signature", parts[0] + "." + parts[1] + "." + enc.EncodeToString(make([]byte, 64)), map[Check]string{CheckSigFormat: "r = 0"}},
		{"short signature", parts[0] + "." + parts[1] + "." + enc.EncodeToString(sigBytes[:63]), map[Check]string{CheckSigFormat: "63 bytes"}},
		{"claims duplicate", forge(hdr("ES256", "es"), `{"exp":1900000000,"role":"anon","role":"service_role"}`, es), map[Check]string{CheckDuplicate: `claims has duplicate member "role"`}},
		{"claims nested duplicate", forge(hdr("ES256", "es"), `{"exp":1900000000,"app":{"a":1,"a":2}}`, es), map[Check]string{CheckDuplicate: `duplicate member "a"`}},
		{"claims case duplicate", forge(hdr("ES256", "es"), `{"exp":1900000000,"EXP":1}`, es), map[Check]string{CheckDuplicate: "differ only in letter case"}},
		{"claims not an object", forge(hdr("ES256", "es"), `"hello"`, es), map[Check]string{CheckClaims: "not one JSON object"}},
		{"exp missing", forge(hdr("ES256", "es"), `{"role":"anon"}`, es), map[Check]string{CheckExp: "exp is missing"}},
		{"exp string", forge(hdr("ES256", "es"), `{"exp":"1900000000"}`, es), map[Check]string{CheckExp: "exp is a string, not a NumericDate"}},
		{"exp null", forge(hdr("ES256", "es"), `{"exp":null}`, es), map[Check]string{CheckExp: "exp is null"}},
		{"exp past", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d}`, testNow.Unix()-1), es), map[Check]string{CheckExp: "token expired at 2027-01-15T07:59:59Z (checked at 2027-01-15T08:00:00Z, leeway 0s)"}},
		{"exp equals now", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d}`, testNow.Unix()), es), map[Check]string{CheckExp: "token expired at 2027-01-15T08:00:00Z"}},
		{"nbf future", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"nbf":%d}`, testNow.Unix()+60, testNow.Unix()+1), es), map[Check]string{CheckNbf: "not valid before 2027-01-15T08:00:01Z"}},
		{"nbf string", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"nbf":"0"}`, testNow.Unix()+60), es), map[Check]string{CheckNbf: "nbf is a string"}},
		{"iat future", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"iat":%d}`, testNow.Unix()+60, testNow.Unix()+30), es), map[Check]string{CheckIat: "issued in the future"}},
		{"iat bool", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"iat":true}`, testNow.Unix()+60), es), map[Check]string{CheckIat: "iat is a boolean"}},
		{"sub number", forge(hdr("ES256", "es"), claimsJSON(`"x":1`)[:0]+fmt.Sprintf(`{"exp":%d,"sub":42}`, testNow.Unix()+60), es), map[Check]string{CheckSub: "sub is a number, not a string"}},
		{"sub empty", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"sub":""}`, testNow.Unix()+60), es), map[Check]string{CheckSub: "sub is an empty string"}},
		{"role null", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"role":null}`, testNow.Unix()+60), es), map[Check]string{CheckRole: "role is null, not a string"}},
		{"role empty", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"role":""}`, testNow.Unix()+60), es), map[Check]string{CheckRole: "role is an empty string"}},
		{"role array", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"role":["admin"]}`, testNow.Unix()+60), es), map[Check]string{CheckRole: "role is an array"}},
		{"iss number", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"iss":1}`, testNow.Unix()+60), es), map[Check]string{CheckIss: "iss is a number"}},
		{"aud with null", forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"aud":["a",null]}`, testNow.Unix()+60), es), map[Check]string{CheckAud: "not a string or an array of strings"}},
		{"everything at once", forge(`{"alg":"ES256","kid":"es","crit":["b64"],"typ":"JOSE+JSON"}`, `{"exp":"soon","sub":"","role":7}`, zeroR),
			map[Check]string{CheckCrit: "crit", CheckTyp: "typ", CheckSigFormat: "r = 0", CheckExp: "exp is a string", CheckSub: "empty", CheckRole: "a number"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { rejected(t, v, tc.tok, tc.want) })
	}
}

func TestVerifyAccepts(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	exp := testNow.Unix() + 60
	v := newVerifier(t, trusted(k.es, k.es2), Policy{})
	for name, tok := range map[string]string{
		"typ absent":                forge(`{"alg":"ES256","kid":"es"}`, fmt.Sprintf(`{"exp":%d}`, exp), es),
		"typ lower case":            forge(`{"alg":"ES256","kid":"es","typ":"jwt"}`, fmt.Sprintf(`{"exp":%d}`, exp), es),
		"typ media type":            forge(`{"alg":"ES256","kid":"es","typ":"application/JWT"}`, fmt.Sprintf(`{"exp":%d}`, exp), es),
		"fractional exp":            forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d.5}`, testNow.Unix()), es),
		"exp exponent":              forge(hdr("ES256", "es"), `{"exp":1.9e9}`, es),
		"unknown header members":    forge(`{"alg":"ES256","kid":"es","cty":"x","x5t":"abc","custom":{"a":[1]}}`, fmt.Sprintf(`{"exp":%d}`, exp), es),
		"white space in JSON":       forge("{ \"alg\" : \"ES256\",\n\"kid\":\"es\" }", fmt.Sprintf("{\n  \"exp\": %d\n}", exp), es),
		"aud array":                 forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"aud":["a","b"]}`, exp), es),
		"iat and nbf now":           forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"iat":%d,"nbf":%d}`, exp, testNow.Unix(), testNow.Unix()), es),
		"escaped role":              forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"role":"auth\u0065nticated"}`, exp), es),
		"nested same names allowed": forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"a":{"exp":1},"b":[{"exp":2},{"exp":3}]}`, exp), es),
	} {
		t.Run(name, func(t *testing.T) { accepted(t, v, tok) })
	}
}

func TestVerifyPolicy(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	tok := forge(hdr("ES256", "es"), claimsJSON(`"aud":["authenticated","x"],"iss":"https://p.test/auth/v1","email":"a@b.c","nothing":null`), es)
	tks := trusted(k.es)
	accepted(t, newVerifier(t, tks, Policy{Audience: "authenticated", Issuer: "https://p.test/auth/v1", Role: "authenticated", Subject: "user-1", Require: []string{"email", "iat"}}), tok)
	rejected(t, newVerifier(t, tks, Policy{Audience: "other", Issuer: "x", Role: "anon", Subject: "user-2", Require: []string{"jti"}}), tok, map[Check]string{
		CheckAud: `does not include "other"`, CheckIss: `iss does not match: want "x"`, CheckRole: `role does not match: want "anon"`,
		CheckSub: `sub does not match: want "user-2"`, CheckRequired: `required claim "jti" is missing`,
	})
	// A null claim is as good as missing.
	rejected(t, newVerifier(t, tks, Policy{Require: []string{"nothing"}}), tok, map[Check]string{CheckRequired: `"nothing" is missing`})
	bare := forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d}`, testNow.Unix()+60), es)
	rejected(t, newVerifier(t, tks, Policy{Audience: "a", Issuer: "i", Role: "r", Subject: "s"}), bare, map[Check]string{
		CheckAud: "aud is missing", CheckIss: "iss is missing", CheckRole: "role is missing", CheckSub: "sub is missing",
	})
	// --alg narrows; a key still verifies only its own alg.
	rejected(t, newVerifier(t, tks, Policy{Algorithms: []jwk.Algorithm{jwk.RS256, jwk.EdDSA}}), tok, map[Check]string{CheckAlg: "not allowed by the policy (allowed: RS256, EdDSA)"})
	accepted(t, newVerifier(t, tks, Policy{Algorithms: []jwk.Algorithm{jwk.ES256}}), tok)

	// Leeway forgives skew on exp, nbf and iat alike, and only as much as given.
	skew := forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d,"nbf":%d,"iat":%d}`, testNow.Unix()-5, testNow.Unix()+5, testNow.Unix()+5), es)
	rejected(t, newVerifier(t, tks, Policy{}), skew, map[Check]string{CheckExp: "expired", CheckNbf: "not valid before", CheckIat: "future"})
	accepted(t, newVerifier(t, tks, Policy{Leeway: 6 * time.Second}), skew)
	rejected(t, newVerifier(t, tks, Policy{Leeway: 5 * time.Second}), skew, map[Check]string{CheckExp: "leeway 5s"})

	// Policy mistakes are errors, not silent defaults.
	ks, _ := NewKeySet(tks)
	for _, p := range []Policy{{Leeway: -time.Second}, {Algorithms: []jwk.Algorithm{"none"}}, {Require: []string{""}}} {
		if _, err := NewVerifier(ks, p); err == nil {
			t.Errorf("policy %+v accepted", p)
		}
	}
}

func TestVerifyKeySelection(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	hs := signer(t, k.hs)
	good := claimsJSON("")
	kidless := forge(hdr("ES256", ""), good, es)

	// One key: a kid-less token is fine.
	accepted(t, newVerifier(t, trusted(k.es), Policy{}), kidless)
	// One key without a kid (a PEM file given with --key): the token's kid
	// has nothing to pick.
	pem, _ := k.es.Public()
	pem.KID = ""
	got := accepted(t, newSingleVerifier(t, TrustedKey{Key: pem}, Policy{}), forge(hdr("ES256", "whatever"), good, es))
	if got.KID != "whatever" {
		t.Errorf("KID %q", got.KID)
	}
	// One key with a different kid: unknown.
	rejected(t, newVerifier(t, trusted(k.es2), Policy{}), forge(hdr("ES256", "es"), good, es), map[Check]string{CheckKIDUnknown: `the only kid is "es2"`})

	// Keyring states.
	ring := []TrustedKey{
		{Key: k.es, State: StatePreviouslyUsed},
		{Key: k.es2, State: StateInUse},
		{Key: k.rs, State: StateRevoked},
		{Key: &jwk.Key{KID: "gone"}, State: StateDeleted},
		{Key: &jwk.Key{KID: "old-secret", Alg: jwk.HS256}, State: StateRevoked}, // a revoked secret is not decrypted
		{Key: k.hs, State: StateStandby, Legacy: true},
		{Key: k.ed, State: "compromised"},
	}
	v := newVerifier(t, ring, Policy{})
	accepted(t, v, forge(hdr("ES256", "es"), good, es))
	accepted(t, v, forge(hdr("ES256", "es2"), good, signer(t, k.es2)))
	rejected(t, v, forge(hdr("RS256", "rs"), good, signer(t, k.rs)), map[Check]string{CheckKeyState: `kid "rs" names a revoked key`})
	rejected(t, v, forge(hdr("ES256", "gone"), good, es), map[Check]string{CheckKeyState: `kid "gone" names a deleted key`})
	rejected(t, v, forge(hdr("EdDSA", "ed"), good, signer(t, k.ed)), map[Check]string{CheckKeyState: `state "compromised"`})
	rejected(t, v, forge(hdr("HS256", "old-secret"), good, hs), map[Check]string{CheckKeyState: `kid "old-secret" names a revoked key`})
	// Kid-less HS256 means the legacy secret.
	got = accepted(t, v, forge(hdr("HS256", ""), good, hs))
	if !got.Key.Legacy {
		t.Error("kid-less HS256 token not verified by the legacy secret")
	}
	// ... and only HS256.
	rejected(t, v, kidless, map[Check]string{CheckAlgKey: `does not match key "hs", which verifies HS256 only`})
	// A revoked legacy secret verifies nothing.
	ring[5].State = StateRevoked
	rejected(t, newVerifier(t, ring, Policy{}), forge(hdr("HS256", ""), good, hs), map[Check]string{CheckKeyState: "legacy secret that verifies such tokens is revoked"})
	// A lone revoked key says so for kid-less tokens too.
	rejected(t, newVerifier(t, []TrustedKey{{Key: k.es, State: StateRevoked}}, Policy{}), kidless, map[Check]string{CheckKeyState: `the only key, key "es", is revoked`})
	// key_ops without verify.
	noVerify := k.es.WithOps(jwk.OpSign)
	rejected(t, newVerifier(t, trusted(noVerify), Policy{}), kidless, map[Check]string{CheckKeyState: "may not verify"})
	// No keys at all.
	rejected(t, newVerifier(t, nil, Policy{}), kidless, map[Check]string{CheckKIDMissing: "no keys"})
	// Unknown kid is reported for a refetch.
	_, err := newVerifier(t, trusted(k.es), Policy{}).Verify(forge(hdr("ES256", "new"), good, es))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.UnknownKID != "new" {
		t.Errorf("UnknownKID not set: %v", err)
	}
}

func TestNewKeySetRefuses(t *testing.T) {
	k := getKeys(t)
	weak := &jwk.Key{KID: "w", Alg: jwk.HS256, Material: []byte("short")}
	mismatch := &jwk.Key{KID: "m", Alg: jwk.RS256, Material: k.es.Material}
	for name, tks := range map[string][]TrustedKey{
		"duplicate kid":     {{Key: k.es}, {Key: k.es.WithOps()}},
		"two legacy":        {{Key: k.hs, Legacy: true}, {Key: &jwk.Key{KID: "h2", Alg: jwk.HS256, Material: make([]byte, 32)}, Legacy: true}},
		"legacy not HS256":  {{Key: k.es, Legacy: true}},
		"no material":       {{Key: &jwk.Key{KID: "x"}, State: StateInUse}},
		"nil key":           {{State: StateStandby}},
		"weak secret":       {{Key: weak}},
		"alg does not fit":  {{Key: mismatch}},
		"unknown material":  {{Key: &jwk.Key{KID: "u", Material: 42}}},
		"deleted duplicate": {{Key: k.es}, {Key: &jwk.Key{KID: "es"}, State: StateDeleted}},
	} {
		if _, err := NewKeySet(tks); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	k := getKeys(t)
	v := newVerifier(t, trusted(k.es, k.ed, k.hs), Policy{})
	toks := []string{
		forge(hdr("ES256", "es"), claimsJSON(""), signer(t, k.es)),
		forge(hdr("EdDSA", "ed"), claimsJSON(""), signer(t, k.ed)),
		forge(hdr("HS256", "hs"), claimsJSON(""), signer(t, k.hs)),
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := v.Verify(toks[(g+i)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRawToDER(t *testing.T) {
	// Every shape of r and s (leading zeros, high bit set) must round-trip
	// through the standard library's own DER parser.
	k := getKeys(t)
	priv := k.es.Material.(*ecdsa.PrivateKey)
	sum := sha256.Sum256([]byte("x"))
	for i := range 200 {
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		if i%3 == 0 {
			sig[0] = 0 // a short r
		}
		der := rawToDER(nil, sig)
		// The oracle: the standard library on the same (possibly altered) r and s.
		want := ecdsa.Verify(&priv.PublicKey, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		if got := ecdsa.VerifyASN1(&priv.PublicKey, sum[:], der); got != want {
			t.Fatalf("signature %x: VerifyASN1 %v, want %v", sig, got, want)
		}
	}
}

func TestDecodeUnverified(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	tok := forge(hdr("ES256", "es"), claimsJSON(""), es)
	u, err := DecodeUnverified(tok)
	if err != nil || u.Header["kid"] != "es" || u.Claims["role"] != "authenticated" || len(u.Signature) != 64 || len(u.Problems) != 0 {
		t.Fatalf("%+v %v", u, err)
	}
	// Sloppy but readable: shown, with the problems named.
	p := strings.Split(tok, ".")
	sloppy := " " + p[0] + "=." + p[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(p[2]) + "\n"
	u, err = DecodeUnverified(sloppy)
	if err != nil || u.Claims["sub"] != "user-1" || len(u.Problems) < 2 {
		t.Fatalf("%+v %v", u, err)
	}
	u, err = DecodeUnverified(forge(`{"alg":"x","alg":"none"}`, `{"a":1,"a":2}`, nil))
	if err != nil || len(u.Problems) != 4 {
		t.Fatalf("problems %q, err %v", u.Problems, err)
	}
	for _, garbage := range []string{"", "   ", "abc", "a.b", "a.b.c.d", "!!!.!!!.!!!", "e30.e30", "W10.e30.", "e30.W10.", "e30.bm90IGpzb24.", "a.b.c.d.e"} {
		if u, err := DecodeUnverified(garbage); err == nil {
			t.Errorf("%q decoded: %+v", garbage, u)
		}
	}
}

// A rejection reason never quotes a string claim, and quotes a time claim
// only from a token a trusted key signed: a forged token's claims are not
// shown as if they meant something (RFC 8725; keyctl's rule).
func TestReasonsDoNotQuoteForgedClaims(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	other := signer(t, k.es2) // signs as "es" with another key
	claims := `{"exp":1000000000,"nbf":9999999999,"iat":9999999999,"role":"service_role\u202e","sub":"evil-sub","iss":"evil-iss","aud":["evil-aud"]}`
	p := Policy{Role: "authenticated", Subject: "user-1", Issuer: "https://p.test", Audience: "authenticated"}
	v := newVerifier(t, trusted(k.es), p)
	for name, tok := range map[string]string{
		"forged":    forge(hdr("ES256", "es"), claims, other),
		"authentic": forge(hdr("ES256", "es"), claims, es),
	} {
		_, err := v.Verify(tok)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %v", name, err)
		}
		all := strings.Join(ve.Reasons(), "\n")
		for _, leak := range []string{"evil", "service_role", "\u202e"} {
			if strings.Contains(all, leak) {
				t.Errorf("%s token: reasons quote the claim %q:\n%s", name, leak, all)
			}
		}
		times := strings.Contains(all, "2001-09-09") || strings.Contains(all, "2286-11-20")
		if times != (name == "authentic") {
			t.Errorf("%s token: claim times shown %v:\n%s", name, times, all)
		}
	}
	// Member names are the sender's text too.
	for _, dup := range []string{`{"exp":1,"evil: call +1-555":1,"evil: call +1-555":2}`, `{"exp":1,"evil-Name":1,"evil-name":2}`, `{"exp":1,"ROLE":"evil"}`} {
		_, err := v.Verify(forge(hdr("ES256", "es"), dup, other))
		var ve *ValidationError
		if !errors.As(err, &ve) || !slices.Contains(ve.Checks(), CheckDuplicate) {
			t.Fatalf("%s: %v", dup, err)
		}
		if all := strings.Join(ve.Reasons(), "\n"); strings.Contains(all, "evil") || strings.Contains(all, "ROLE") {
			t.Errorf("forged %s: reasons quote a member name:\n%s", dup, all)
		}
	}
}

// A verifier built once for a stream checks each token at its Clock's time
// when verified, not at the time it was built.
func TestPolicyClock(t *testing.T) {
	k := getKeys(t)
	tok := forge(hdr("ES256", "es"), fmt.Sprintf(`{"exp":%d}`, testNow.Unix()+60), signer(t, k.es))
	now := testNow
	ks, err := NewKeySet(trusted(k.es))
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(ks, Policy{Clock: func() time.Time { return now }}) // not newVerifier: it sets Now
	if err != nil {
		t.Fatal(err)
	}
	accepted(t, v, tok)
	now = testNow.Add(time.Minute)
	rejected(t, v, tok, map[Check]string{CheckExp: "token expired at"})
	// Now, when set, wins over Clock.
	v = newVerifier(t, trusted(k.es), Policy{Now: testNow, Clock: func() time.Time { return now }})
	accepted(t, v, tok)
}
