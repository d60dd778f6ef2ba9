package jwt

// Red-team regression tests: every attack tried against the verifier,
// whether it was already refused or needed a fix, so that no refactor can
// let one through again silently. docs/verification.md says why each
// check exists; the cases here are the hostile inputs behind them.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// redTeamCase is a hostile token and the checks it must fail (exactly).
type redTeamCase struct {
	name string
	tok  string
	want map[Check]string
}

func runRedTeam(t *testing.T, v *Verifier, cases []redTeamCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { rejected(t, v, tc.tok, tc.want) })
	}
}

// exp60 is claims that are fine but for what the case adds.
func exp60(extra string) string {
	c := fmt.Sprintf(`{"exp":%d`, testNow.Unix()+60)
	if extra != "" {
		c += "," + extra
	}
	return c + "}"
}

// manyClaims is more top-level members than the scanner's small-object
// fast path holds, so the map path is taken.
func manyClaims(extra string) string {
	var m []string
	for i := range 20 {
		m = append(m, fmt.Sprintf(`"c%02d":%d`, i, i))
	}
	return exp60(strings.Join(m, ",") + "," + extra)
}

func TestRedTeamAlgorithmConfusion(t *testing.T) {
	k := getKeys(t)
	es, rs := signer(t, k.es), signer(t, k.rs)
	good := claimsJSON("")
	pubES, _ := k.es.Public()
	pubRS, _ := k.rs.Public()
	pubED, _ := k.ed.Public()
	jwkES, _ := pubES.MarshalJSON()
	jwkRS, _ := pubRS.MarshalJSON()
	pemES, _ := pubES.MarshalPEM()
	ecPub := k.es.Material.(*ecdsa.PrivateKey).PublicKey
	xBytes, _ := ecPub.Bytes() // 04 || x || y
	hmacWith := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte { return hmacSum(secret, in) }
	}
	pss := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsa.SignPSS(rand.Reader, k.rs.Material.(*rsa.PrivateKey), crypto.SHA256, sum[:], nil)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	v := newVerifier(t, trusted(k.es, k.es2, k.rs, k.ed, k.hs), Policy{})
	wrongKey := func(alg, label, keyAlg string) map[Check]string {
		return map[Check]string{CheckAlgKey: fmt.Sprintf(`alg %q does not match %s, which verifies %s only`, alg, label, keyAlg)}
	}
	runRedTeam(t, v, []redTeamCase{
		// HS256 keyed with what a public key looks like: the key's own
		// alg is never HS256, so no HMAC is even computed.
		{"HS256 keyed with the EC JWK", forge(hdr("HS256", "es"), good, hmacWith(jwkES)), wrongKey("HS256", `key "es"`, "ES256")},
		{"HS256 keyed with the RSA JWK", forge(hdr("HS256", "rs"), good, hmacWith(jwkRS)), wrongKey("HS256", `key "rs"`, "RS256")},
		{"HS256 keyed with the EC PEM", forge(hdr("HS256", "es"), good, hmacWith(pemES)), wrongKey("HS256", `key "es"`, "ES256")},
		{"HS256 keyed with the EC point", forge(hdr("HS256", "es"), good, hmacWith(xBytes)), wrongKey("HS256", `key "es"`, "ES256")},
		{"HS256 keyed with the x coordinate", forge(hdr("HS256", "es"), good, hmacWith(xBytes[1:33])), wrongKey("HS256", `key "es"`, "ES256")},
		{"HS256 keyed with the Ed25519 key", forge(hdr("HS256", "ed"), good, hmacWith(pubED.Material.(ed25519.PublicKey))), wrongKey("HS256", `key "ed"`, "EdDSA")},
		{"RS256 naming the EC key", forge(hdr("RS256", "es"), good, rs), wrongKey("RS256", `key "es"`, "ES256")},
		{"EdDSA naming the EC key", forge(hdr("EdDSA", "es"), good, signer(t, k.ed)), wrongKey("EdDSA", `key "es"`, "ES256")},
		{"ES256 naming the HMAC secret", forge(hdr("ES256", "hs"), good, es), wrongKey("ES256", `key "hs"`, "HS256")},
		{"PS256 (RSA-PSS) for the PKCS #1 key", forge(hdr("PS256", "rs"), good, pss), map[Check]string{CheckAlg: `alg "PS256" is not supported`}},
		{"PSS signature under RS256", forge(hdr("RS256", "rs"), good, pss), map[Check]string{CheckSignature: "RS256 signature does not verify"}},
		// none, every spelling.
		{"alg none", forge(`{"alg":"none","kid":"es"}`, good, nil), map[Check]string{CheckAlgNone: `alg "none"`, CheckEncoding: "signature is empty"}},
		{"alg None", forge(`{"alg":"None","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "None"`}},
		{"alg nOnE", forge(`{"alg":"nOnE","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "nOnE"`}},
		{"alg none with a trailing space", forge(`{"alg":"none ","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "none "`}},
		{"alg none with a leading tab", forge(`{"alg":"\tnone","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "\tnone"`}},
		{"alg none escaped", forge(`{"alg":"\u006e\u006f\u006e\u0065","kid":"es"}`, good, es), map[Check]string{CheckAlgNone: `alg "none"`}},
		// alg shapes and look-alikes.
		{"alg empty", forge(`{"alg":"","kid":"es"}`, good, es), map[Check]string{CheckAlg: `alg "" is not supported`}},
		{"alg with a trailing space", forge(`{"alg":"ES256 ","kid":"es"}`, good, es), map[Check]string{CheckAlg: `alg "ES256 " is not supported`}},
		{"alg with a NUL", forge(`{"alg":"ES256\u0000","kid":"es"}`, good, es), map[Check]string{CheckAlg: `alg "ES256\x00" is not supported`}},
		{"alg with a Cyrillic E", forge(`{"alg":"ЕS256","kid":"es"}`, good, es), map[Check]string{CheckAlg: `is not supported (keyctl verifies`}},
		{"alg with a fullwidth S", forge(`{"alg":"EＳ256","kid":"es"}`, good, es), map[Check]string{CheckAlg: `is not supported (keyctl verifies`}},
		{"alg lower case", forge(`{"alg":"hs256","kid":"hs"}`, good, hmacWith(k.hs.Material.([]byte))), map[Check]string{CheckAlg: "case-sensitive"}},
		{"alg null", forge(`{"alg":null,"kid":"es"}`, good, es), map[Check]string{CheckAlg: "header alg is null, not a string"}},
		{"alg number", forge(`{"alg":256,"kid":"es"}`, good, es), map[Check]string{CheckAlg: "a number, not a string"}},
		{"alg array", forge(`{"alg":["ES256"],"kid":"es"}`, good, es), map[Check]string{CheckAlg: "an array, not a string"}},
		{"alg object", forge(`{"alg":{"name":"ES256"},"kid":"es"}`, good, es), map[Check]string{CheckAlg: "an object, not a string"}},
		{"alg bool", forge(`{"alg":true,"kid":"es"}`, good, es), map[Check]string{CheckAlg: "a boolean, not a string"}},
		{"alg ES384", forge(`{"alg":"ES384","kid":"es"}`, good, es), map[Check]string{CheckAlg: `alg "ES384" is not supported`}},
		{"alg HS512", forge(`{"alg":"HS512","kid":"hs"}`, good, es), map[Check]string{CheckAlg: `alg "HS512" is not supported`}},
		{"alg Ed25519 (RFC 9864 name)", forge(`{"alg":"Ed25519","kid":"ed"}`, good, signer(t, k.ed)), map[Check]string{CheckAlg: `alg "Ed25519" is not supported`}},
		{"alg missing", forge(`{"kid":"es"}`, good, es), map[Check]string{CheckAlg: "header has no alg"}},
	})

	// A kid-less HS256 token against one public key: the key is meant,
	// and it does not do HMAC.
	one := newVerifier(t, trusted(pubES), Policy{})
	rejected(t, one, forge(hdr("HS256", ""), good, hmacWith(jwkES)), wrongKey("HS256", `key "es"`, "ES256"))
	pemKey := *pubES
	pemKey.KID = ""
	rejected(t, newSingleVerifier(t, TrustedKey{Key: &pemKey}, Policy{}), forge(hdr("HS256", "anything"), good, hmacWith(pemES)), wrongKey("HS256", "the key", "ES256"))
	// --alg narrows even a key's own alg.
	rejected(t, newVerifier(t, trusted(k.es, k.hs), Policy{Algorithms: []jwk.Algorithm{jwk.ES256}}),
		forge(hdr("HS256", "hs"), good, signer(t, k.hs)), map[Check]string{CheckAlg: `alg "HS256" is not allowed by the policy (allowed: ES256)`})
}

func TestRedTeamKID(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	good := claimsJSON("")
	v := newVerifier(t, trusted(k.es, k.es2, k.rs, k.ed, k.hs), Policy{})
	runRedTeam(t, v, []redTeamCase{
		{"kid number", forge(`{"alg":"ES256","kid":1}`, good, es), map[Check]string{CheckHeader: "header kid is a number, not a string"}},
		{"kid null", forge(`{"alg":"ES256","kid":null}`, good, es), map[Check]string{CheckHeader: "header kid is null, not a string"}},
		{"kid array", forge(`{"alg":"ES256","kid":["es"]}`, good, es), map[Check]string{CheckHeader: "header kid is an array, not a string"}},
		{"kid object", forge(`{"alg":"ES256","kid":{"es":1}}`, good, es), map[Check]string{CheckHeader: "header kid is an object, not a string"}},
		{"kid bool", forge(`{"alg":"ES256","kid":true}`, good, es), map[Check]string{CheckHeader: "header kid is a boolean, not a string"}},
		{"kid empty", forge(`{"alg":"ES256","kid":""}`, good, es), map[Check]string{CheckKIDUnknown: `kid "" is not among the 5 trusted kids`}},
		{"kid in other case", forge(hdr("ES256", "ES"), good, es), map[Check]string{CheckKIDUnknown: `kid "ES" is not among`}},
		{"kid with a trailing space", forge(hdr("ES256", "es "), good, es), map[Check]string{CheckKIDUnknown: `kid "es " is not among`}},
		{"kid with a NUL", forge(`{"alg":"ES256","kid":"es\u0000"}`, good, es), map[Check]string{CheckKIDUnknown: `kid "es\x00" is not among`}},
		{"kid path", forge(hdr("ES256", "../../../etc/passwd"), good, es), map[Check]string{CheckKIDUnknown: `kid "../../../etc/passwd" is not among`}},
		{"kid URL", forge(hdr("ES256", "https://attacker.test/key.json"), good, es), map[Check]string{CheckKIDUnknown: "is not among"}},
		{"kid SQL", forge(hdr("ES256", "' OR 1=1 --"), good, es), map[Check]string{CheckKIDUnknown: "is not among"}},
		{"kid twice", forge(`{"alg":"ES256","kid":"es2","kid":"es"}`, good, es), map[Check]string{CheckDuplicate: `header has duplicate member "kid"`}},
		{"kid twice, once escaped", forge(`{"alg":"ES256","kid":"es2","\u006bid":"es"}`, good, es), map[Check]string{CheckDuplicate: `header has duplicate member "kid"`}},
		{"kid and KID", forge(`{"alg":"ES256","kid":"es","KID":"es2"}`, good, es), map[Check]string{CheckDuplicate: `members "kid" and "KID" differ only in letter case`}},
		{"KID alone", forge(`{"alg":"ES256","KID":"es"}`, good, es), map[Check]string{
			CheckDuplicate: `header member "KID" is "kid" in other letter case`, CheckKIDMissing: "token has no kid"}},
		{"kid with a Kelvin sign", forge(`{"alg":"ES256","\u212aid":"es"}`, good, es), map[Check]string{
			CheckDuplicate: "header member \"\u212aid\" is \"kid\" in other letter case", CheckKIDMissing: "token has no kid"}},
		{"no kid, several keys", forge(hdr("ES256", ""), good, es), map[Check]string{CheckKIDMissing: "5 trusted keys could have signed it"}},
	})
	// An escaped kid is the same kid.
	accepted(t, v, forge(`{"alg":"ES256","kid":"\u0065s"}`, good, es))

	// Keyring states: revoked and deleted keys name themselves, and a
	// signature by the revoked key does not help.
	ring := newVerifier(t, []TrustedKey{
		{Key: k.es, State: StateRevoked},
		{Key: &jwk.Key{KID: "gone"}, State: StateDeleted},
		{Key: k.hs, State: StateRevoked, Legacy: true},
		{Key: k.es2, State: StateInUse},
	}, Policy{})
	runRedTeam(t, ring, []redTeamCase{
		{"revoked key", forge(hdr("ES256", "es"), good, es), map[Check]string{CheckKeyState: `kid "es" names a revoked key`}},
		{"deleted key", forge(hdr("ES256", "gone"), good, es), map[Check]string{CheckKeyState: `kid "gone" names a deleted key`}},
		{"revoked legacy secret, by kid", forge(hdr("HS256", "hs"), good, signer(t, k.hs)), map[Check]string{CheckKeyState: `kid "hs" names a revoked key`}},
		{"revoked legacy secret, kid-less", forge(hdr("HS256", ""), good, signer(t, k.hs)), map[Check]string{CheckKeyState: "legacy secret that verifies such tokens is revoked"}},
	})
}

func TestRedTeamHeader(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	good := claimsJSON("")
	v := newVerifier(t, trusted(k.es, k.es2), Policy{})
	runRedTeam(t, v, []redTeamCase{
		{"b64 false", forge(`{"alg":"ES256","kid":"es","b64":false}`, good, es), map[Check]string{CheckHeader: "header has b64 false: unencoded payloads (RFC 7797)"}},
		{"b64 false with crit", forge(`{"alg":"ES256","kid":"es","b64":false,"crit":["b64"]}`, good, es), map[Check]string{CheckHeader: "b64 false", CheckCrit: `crit ["b64"]`}},
		{"b64 true", forge(`{"alg":"ES256","kid":"es","b64":true}`, good, es), map[Check]string{CheckHeader: "header has b64 true"}},
		{"crit empty", forge(`{"alg":"ES256","kid":"es","crit":[]}`, good, es), map[Check]string{CheckCrit: "header has crit []"}},
		{"crit a string", forge(`{"alg":"ES256","kid":"es","crit":"exp"}`, good, es), map[Check]string{CheckCrit: `header has crit "exp"`}},
		{"crit null", forge(`{"alg":"ES256","kid":"es","crit":null}`, good, es), map[Check]string{CheckCrit: "header has crit null"}},
		{"CRIT", forge(`{"alg":"ES256","kid":"es","CRIT":["x"]}`, good, es), map[Check]string{CheckDuplicate: `header member "CRIT" is "crit" in other letter case`}},
		{"zip", forge(`{"alg":"ES256","kid":"es","zip":"DEF"}`, good, es), map[Check]string{CheckHeader: `header has zip "DEF"`}},
		{"cty JWT (nested)", forge(`{"alg":"ES256","kid":"es","cty":"JWT"}`, good, es), map[Check]string{CheckHeader: `header has cty "JWT": a nested token`}},
		{"cty jwt", forge(`{"alg":"ES256","kid":"es","cty":"jwt"}`, good, es), map[Check]string{CheckHeader: `cty "jwt"`}},
		{"cty application/jwt", forge(`{"alg":"ES256","kid":"es","cty":"application/JWT"}`, good, es), map[Check]string{CheckHeader: `cty "application/JWT"`}},
		{"typ JWT with a trailing space", forge(`{"alg":"ES256","kid":"es","typ":"JWT "}`, good, es), map[Check]string{CheckTyp: `typ "JWT " is not JWT`}},
		{"typ empty", forge(`{"alg":"ES256","kid":"es","typ":""}`, good, es), map[Check]string{CheckTyp: `typ "" is not JWT`}},
		{"typ JWS", forge(`{"alg":"ES256","kid":"es","typ":"JOSE"}`, good, es), map[Check]string{CheckTyp: `typ "JOSE" is not JWT`}},
		{"typ at+jwt", forge(`{"alg":"ES256","kid":"es","typ":"at+jwt"}`, good, es), map[Check]string{CheckTyp: `typ "at+jwt"`}},
		{"typ application/at+jwt", forge(`{"alg":"ES256","kid":"es","typ":"application/at+jwt"}`, good, es), map[Check]string{CheckTyp: "is not JWT"}},
		{"typ null", forge(`{"alg":"ES256","kid":"es","typ":null}`, good, es), map[Check]string{CheckTyp: "typ is null, not a string"}},
		{"typ array", forge(`{"alg":"ES256","kid":"es","typ":["JWT"]}`, good, es), map[Check]string{CheckTyp: "typ is an array"}},
		{"Typ in other case", forge(`{"alg":"ES256","kid":"es","Typ":"at+jwt"}`, good, es), map[Check]string{CheckDuplicate: `header member "Typ" is "typ"`}},
		{"jwk", forge(`{"alg":"ES256","kid":"es","jwk":{"kty":"oct","k":"AAAA"}}`, good, es), map[Check]string{CheckHeaderKey: `"jwk"`}},
		{"JWK in other case", forge(`{"alg":"ES256","kid":"es","JWK":{}}`, good, es), map[Check]string{CheckDuplicate: `header member "JWK" is "jwk"`}},
		{"jku to loopback", forge(`{"alg":"ES256","kid":"es","jku":"http://127.0.0.1/jwks.json"}`, good, es), map[Check]string{CheckHeaderKey: `"jku"`}},
		{"x5c", forge(`{"alg":"ES256","kid":"es","x5c":[]}`, good, es), map[Check]string{CheckHeaderKey: `"x5c"`}},
		{"x5u", forge(`{"alg":"ES256","kid":"es","x5u":"https://a.test/c.pem"}`, good, es), map[Check]string{CheckHeaderKey: `"x5u"`}},
		{"duplicate deep in the header", forge(`{"alg":"ES256","kid":"es","ext":{"a":{"b":1,"b":2}}}`, good, es), map[Check]string{CheckDuplicate: `header has duplicate member "b"`}},
		{"alg twice, once escaped", forge(`{"alg":"none","kid":"es","\u0061\u006cg":"ES256"}`, good, es), map[Check]string{CheckDuplicate: `duplicate member "alg"`}},
		{"header BOM", forge("\ufeff"+hdr("ES256", "es"), good, es), map[Check]string{CheckHeader: "not a JSON object"}},
		{"header an array", forge(`[{"alg":"ES256","kid":"es"}]`, good, es), map[Check]string{CheckHeader: "not a JSON object"}},
		{"header null", forge(`null`, good, es), map[Check]string{CheckHeader: "not a JSON object"}},
		{"header two objects", forge(`{"alg":"ES256","kid":"es"}{"alg":"none"}`, good, es), map[Check]string{CheckHeader: "unexpected data after the JSON object"}},
		{"header lone surrogate", forge(`{"alg":"ES256","kid":"es","x":"\udead"}`, good, es), map[Check]string{CheckHeader: "lone UTF-16 surrogate"}},
		{"header kid lone surrogate", forge(`{"alg":"ES256","kid":"es\ud800"}`, good, es), map[Check]string{CheckHeader: "lone UTF-16 surrogate"}},
		{"header invalid UTF-8", forge("{\"alg\":\"ES256\",\"kid\":\"es\xc0\xaf\"}", good, es), map[Check]string{CheckHeader: "not valid UTF-8"}},
		{"header raw control character", forge("{\"alg\":\"ES256\",\"kid\":\"es\x1b\"}", good, es), map[Check]string{CheckHeader: "control character"}},
		{"header nested too deeply", forge(`{"alg":"ES256","kid":"es","x":`+strings.Repeat("[", 70)+strings.Repeat("]", 70)+`}`, good, es), map[Check]string{CheckHeader: "nested too deeply"}},
	})
	// Header members keyctl does not know, in the right case, are fine.
	accepted(t, v, forge(`{"alg":"ES256","kid":"es","cty":"application/json","x5t":"abc","custom":1}`, good, es))
}

func TestRedTeamClaimsJSON(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es), Policy{})
	h := hdr("ES256", "es")
	runRedTeam(t, v, []redTeamCase{
		{"duplicate exp", forge(h, `{"exp":1,"exp":1900000000}`, es), map[Check]string{CheckDuplicate: `claims has duplicate member "exp"`}},
		{"duplicate role, escaped", forge(h, exp60(`"role":"anon","\u0072ole":"service_role"`), es), map[Check]string{CheckDuplicate: `duplicate member "role"`}},
		{"duplicate at depth", forge(h, exp60(`"app_metadata":{"x":[{"role":"a","role":"b"}]}`), es), map[Check]string{CheckDuplicate: `duplicate member "role"`}},
		{"role and ROLE", forge(h, exp60(`"role":"anon","ROLE":"service_role"`), es), map[Check]string{CheckDuplicate: `members "role" and "ROLE" differ only in letter case`}},
		{"ROLE alone", forge(h, exp60(`"ROLE":"service_role"`), es), map[Check]string{CheckDuplicate: `claims member "ROLE" is "role" in other letter case`}},
		{"Sub alone", forge(h, exp60(`"Sub":"admin"`), es), map[Check]string{CheckDuplicate: `claims member "Sub" is "sub"`}},
		{"sub with a long s alone", forge(h, exp60(`"ſub":"admin"`), es), map[Check]string{CheckDuplicate: `claims member "ſub" is "sub"`}},
		{"sub and a long-s sub", forge(h, exp60(`"sub":"u","ſub":"admin"`), es), map[Check]string{CheckDuplicate: `members "sub" and "ſub" differ only in letter case`}},
		{"EXP instead of exp", forge(h, fmt.Sprintf(`{"EXP":%d}`, testNow.Unix()+60), es), map[Check]string{CheckDuplicate: `claims member "EXP" is "exp"`, CheckExp: "exp is missing"}},
		// Past 16 members the scanner uses a map; it must fold the same way.
		{"many members, role and ROLE", forge(h, manyClaims(`"role":"a","ROLE":"b"`), es), map[Check]string{CheckDuplicate: `members "role" and "ROLE" differ only in letter case`}},
		{"many members, sub and long-s sub", forge(h, manyClaims(`"sub":"a","ſub":"b"`), es), map[Check]string{CheckDuplicate: `members "sub" and "ſub" differ only in letter case`}},
		{"many members, Kelvin sign", forge(h, manyClaims(`"kind":"a","\u212aind":"b"`), es), map[Check]string{CheckDuplicate: "differ only in letter case"}},
		{"many members, exact duplicate", forge(h, manyClaims(`"c05":1`), es), map[Check]string{CheckDuplicate: `duplicate member "c05"`}},
		{"lone high surrogate", forge(h, exp60(`"sub":"\ud800"`), es), map[Check]string{CheckClaims: "lone UTF-16 surrogate"}},
		{"lone low surrogate", forge(h, exp60(`"sub":"a\udfff"`), es), map[Check]string{CheckClaims: "lone UTF-16 surrogate"}},
		{"surrogates reversed", forge(h, exp60(`"sub":"\ude00\ud83d"`), es), map[Check]string{CheckClaims: "lone UTF-16 surrogate"}},
		{"high surrogate then text", forge(h, exp60(`"sub":"\ud83dx\ude00"`), es), map[Check]string{CheckClaims: "lone UTF-16 surrogate"}},
		{"lone surrogate in a name", forge(h, exp60(`"\ud800":1`), es), map[Check]string{CheckClaims: "lone UTF-16 surrogate"}},
		{"two lone surrogates as names", forge(h, exp60(`"\ud800":1,"\udbff":2`), es), map[Check]string{CheckClaims: "lone UTF-16 surrogate"}},
		{"invalid UTF-8", forge(h, exp60("\"sub\":\"\xff\""), es), map[Check]string{CheckClaims: "not valid UTF-8"}},
		{"overlong UTF-8 slash", forge(h, exp60("\"sub\":\"\xc0\xaf\""), es), map[Check]string{CheckClaims: "not valid UTF-8"}},
		{"UTF-8 encoded surrogate", forge(h, exp60("\"sub\":\"\xed\xa0\x80\""), es), map[Check]string{CheckClaims: "not valid UTF-8"}},
		{"BOM", forge(h, "\ufeff"+exp60(""), es), map[Check]string{CheckClaims: "not a JSON object"}},
		{"nested too deeply", forge(h, exp60(`"a":`+strings.Repeat(`{"a":`, 70)+"1"+strings.Repeat("}", 70)), es), map[Check]string{CheckClaims: "nested too deeply"}},
		{"raw newline in a string", forge(h, exp60("\"sub\":\"a\nb\""), es), map[Check]string{CheckClaims: "control character"}},
		{"trailing object", forge(h, exp60("")+"{}", es), map[Check]string{CheckClaims: "unexpected data after the JSON object"}},
		{"trailing comma", forge(h, fmt.Sprintf(`{"exp":%d,}`, testNow.Unix()+60), es), map[Check]string{CheckClaims: "expected a member name"}},
		{"single quotes", forge(h, `{'exp':1900000000}`, es), map[Check]string{CheckClaims: "expected a member name"}},
		{"array", forge(h, `[{"exp":1900000000}]`, es), map[Check]string{CheckClaims: "not a JSON object"}},
		{"string", forge(h, `"{\"exp\":1900000000}"`, es), map[Check]string{CheckClaims: "not a JSON object"}},
		{"null", forge(h, `null`, es), map[Check]string{CheckClaims: "not a JSON object"}},
		{"empty object", forge(h, `{}`, es), map[Check]string{CheckExp: "exp is missing"}},
		{"white space only", forge(h, "  ", es), map[Check]string{CheckClaims: "not a JSON object"}},
		{"NaN", forge(h, `{"exp":NaN}`, es), map[Check]string{CheckClaims: "unexpected character 'N'"}},
		{"Infinity", forge(h, `{"exp":Infinity}`, es), map[Check]string{CheckClaims: "unexpected character 'I'"}},
		{"leading zero", forge(h, `{"exp":01900000000}`, es), map[Check]string{CheckClaims: "expected ',' or '}'"}},
		{"plus sign", forge(h, `{"exp":+1900000000}`, es), map[Check]string{CheckClaims: "unexpected character '+'"}},
		{"hex", forge(h, `{"exp":0x71000000}`, es), map[Check]string{CheckClaims: "expected ',' or '}'"}},
		{"bare minus", forge(h, `{"exp":-}`, es), map[Check]string{CheckClaims: "bad number"}},
		{"dot without digits", forge(h, `{"exp":1900000000.}`, es), map[Check]string{CheckClaims: "bad number"}},
	})
	// What is fine stays fine: a surrogate pair, other claims in any case.
	accepted(t, v, forge(h, exp60(`"sub":"\ud83d\ude00","Custom":1,"custom2":{"ROLE":"nested names are not checked"}`), es))
}

// TestRedTeamNumericDateRange: a NumericDate outside 0 (1970-01-01) to
// 253402300799 (9999-12-31T23:59:59Z) is malformed, whichever time claim
// holds it. Other libraries read such values as "never expires", as a
// wrapped int64, as an unsigned number or as an error; keyctl refuses
// them all alike rather than pick one reading.
func TestRedTeamNumericDateRange(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es), Policy{})
	h := hdr("ES256", "es")
	now := testNow.Unix()
	const reason = "is out of range for a NumericDate (seconds from 0 to 253402300799, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z)"
	var cases []redTeamCase
	for _, val := range []string{
		"253402300800",                // 10000-01-01T00:00:00Z
		"253402300799.5",              // half a second into the last second of 9999, past its end
		"253402300799.00001",          // a fraction past the end
		"253402300799.9999999999",     // a fraction that rounds up to 10000-01-01
		"2.534023008e11",              // the same in exponent form
		"1e300",                       // huge but finite
		"1e15",                        // the old clamp
		"9223372036854775807",         // max int64
		"9223372036854775808",         // overflows int64
		"18446744073709551616",        // overflows uint64
		"9223372036854775807.5",       // a fraction that overflows int64
		"-1",                          // before 1970
		"-0.5",                        // a fraction before 1970
		"-9223372036854775808",        // min int64
		"-9223372036854775809",        // underflows int64
		"1" + strings.Repeat("0", 30), // written out in full
		"1e400",                       // beyond float64
		"-1e400",
		"-1e-400",                         // negative, though float64 reads -0
		"-0.0000000000000000000000000001", // the same, written out
		"253402300799.000000000000000000000000000000000000001",
		"2534023007990000000000000000000000000000000001e-34",
	} {
		shown := clip([]byte(val)) // a long value is shortened in the message
		cases = append(cases,
			redTeamCase{"exp " + val, forge(h, `{"exp":`+val+`}`, es), map[Check]string{CheckExp: "exp " + shown + " " + reason}},
			redTeamCase{"nbf " + val, forge(h, fmt.Sprintf(`{"exp":%d,"nbf":%s}`, now+60, val), es), map[Check]string{CheckNbf: "nbf " + shown + " " + reason}},
			redTeamCase{"iat " + val, forge(h, fmt.Sprintf(`{"exp":%d,"iat":%s}`, now+60, val), es), map[Check]string{CheckIat: "iat " + shown + " " + reason}},
		)
	}
	runRedTeam(t, v, cases)
	// The bounds themselves are NumericDates: 0 and -0 are 1970 (long
	// expired, or a fine nbf and iat), 253402300799 the last second of 9999.
	for _, c := range []string{
		fmt.Sprintf(`{"exp":%d,"nbf":0,"iat":0}`, now+60),
		fmt.Sprintf(`{"exp":%d,"nbf":-0,"iat":-0.0}`, now+60),
		fmt.Sprintf(`{"exp":%d,"nbf":0e5,"iat":1e-300}`, now+60),
		`{"exp":253402300799,"iat":0}`,
		`{"exp":253402300798.999}`,
		`{"exp":253402300799.000000000000000000000000000}`,
		`{"exp":2534023007990000000000000000000000000000000000e-34}`,
		fmt.Sprintf(`{"exp":%d,"nbf":-0.000e5,"iat":1e-400}`, now+60),
	} {
		accepted(t, v, forge(h, c, es))
	}
	got := accepted(t, v, forge(h, `{"exp":253402300799}`, es))
	if want := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC); !got.Expiry.Equal(want) {
		t.Errorf("expiry %s, want %s", got.Expiry, want)
	}
}

// overlong spells n exactly with 801 digits and a negative exponent, the
// spelling strconv.ParseFloat misreads.
func overlong(n int64) string {
	s := strconv.FormatInt(n, 10)
	pad := 801 - len(s)
	return s + strings.Repeat("0", pad) + "e-" + strconv.Itoa(pad)
}

func TestRedTeamTimeClaims(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es), Policy{})
	h := hdr("ES256", "es")
	now := testNow.Unix()
	at := func(c string) string { return forge(h, c, es) }
	runRedTeam(t, v, []redTeamCase{
		{"exp 1e400", at(`{"exp":1e400}`), map[Check]string{CheckExp: "exp 1e400 is out of range for a NumericDate"}},
		{"exp -1e400", at(`{"exp":-1e400}`), map[Check]string{CheckExp: "exp -1e400 is out of range"}},
		{"exp 1e309 in full", at(`{"exp":1` + strings.Repeat("0", 309) + `}`), map[Check]string{CheckExp: "exp is a number spelled in 310 characters: a NumericDate needs at most 64"}},
		// strconv.ParseFloat reads these as 1.796e8, about 1975: a year
		// ahead, or past 9999, would pass as long ago.
		{"nbf past 800 digits", at(fmt.Sprintf(`{"exp":%d,"nbf":%s}`, now+60, overlong(now+86400*365))), map[Check]string{CheckNbf: "nbf is a number spelled in 806 characters"}},
		{"iat past 800 digits", at(fmt.Sprintf(`{"exp":%d,"iat":%s}`, now+60, overlong(now+86400*365))), map[Check]string{CheckIat: "iat is a number spelled in 806 characters"}},
		{"exp past 800 digits", at(`{"exp":` + overlong(2000000000000) + `}`), map[Check]string{CheckExp: "exp is a number spelled in 806 characters"}},
		{"nbf 1e400", at(fmt.Sprintf(`{"exp":%d,"nbf":-1e400}`, now+60)), map[Check]string{CheckNbf: "nbf -1e400 is out of range"}},
		{"iat -1e400", at(fmt.Sprintf(`{"exp":%d,"iat":-1e400}`, now+60)), map[Check]string{CheckIat: "iat -1e400 is out of range"}},
		{"exp -0", at(`{"exp":-0}`), map[Check]string{CheckExp: "token expired at 1970-01-01T00:00:00Z"}},
		{"exp 0", at(`{"exp":0}`), map[Check]string{CheckExp: "token expired"}},
		{"exp negative", at(`{"exp":-1e300}`), map[Check]string{CheckExp: "exp -1e300 is out of range for a NumericDate"}},
		{"exp tiny", at(`{"exp":1e-300}`), map[Check]string{CheckExp: "token expired"}},
		{"exp a string", at(fmt.Sprintf(`{"exp":"%d"}`, now+60)), map[Check]string{CheckExp: "exp is a string, not a NumericDate"}},
		{"exp an RFC 3339 string", at(`{"exp":"2100-01-01T00:00:00Z"}`), map[Check]string{CheckExp: "exp is a string"}},
		{"exp NaN string", at(`{"exp":"NaN"}`), map[Check]string{CheckExp: "exp is a string"}},
		{"exp true", at(`{"exp":true}`), map[Check]string{CheckExp: "exp is a boolean"}},
		{"exp null", at(`{"exp":null}`), map[Check]string{CheckExp: "exp is null"}},
		{"exp array", at(fmt.Sprintf(`{"exp":[%d]}`, now+60)), map[Check]string{CheckExp: "exp is an array"}},
		{"exp object", at(fmt.Sprintf(`{"exp":{"$date":%d}}`, now+60)), map[Check]string{CheckExp: "exp is an object"}},
		{"exp equals now", at(fmt.Sprintf(`{"exp":%d}`, now)), map[Check]string{CheckExp: "token expired"}},
		{"exp half a second ago", at(fmt.Sprintf(`{"exp":%d.5}`, now-1)), map[Check]string{CheckExp: "token expired"}},
		{"nbf a second ahead", at(fmt.Sprintf(`{"exp":%d,"nbf":%d}`, now+60, now+1)), map[Check]string{CheckNbf: "not valid before"}},
		{"nbf far ahead", at(fmt.Sprintf(`{"exp":%d,"nbf":253402300799}`, now+60)), map[Check]string{CheckNbf: "not valid before 9999-12-31T23:59:59Z"}},
		{"iat a second ahead", at(fmt.Sprintf(`{"exp":%d,"iat":%d}`, now+60, now+1)), map[Check]string{CheckIat: "issued in the future"}},
		{"nbf null", at(fmt.Sprintf(`{"exp":%d,"nbf":null}`, now+60)), map[Check]string{CheckNbf: "nbf is null"}},
		{"iat string", at(fmt.Sprintf(`{"exp":%d,"iat":"%d"}`, now+60, now)), map[Check]string{CheckIat: "iat is a string"}},
	})
	// The edges that pass: exp a second ahead, nbf and iat exactly now,
	// a fraction, and the last second of year 9999 (the issuer's choice).
	for _, c := range []string{
		fmt.Sprintf(`{"exp":%d}`, now+1),
		fmt.Sprintf(`{"exp":%d.5}`, now),
		fmt.Sprintf(`{"exp":%d,"nbf":%d,"iat":%d}`, now+60, now, now),
		`{"exp":253402300799}`,
		`{"exp":2.53402300799e11}`,
		fmt.Sprintf(`{"exp":%de0}`, now+60),
	} {
		accepted(t, v, at(c))
	}
	// --at far ahead or far back never wraps: the latest exp there is is
	// still in the past for an instant beyond it.
	rejected(t, newVerifier(t, trusted(k.es), Policy{Now: time.Unix(1<<62, 0)}), at(`{"exp":253402300799}`), map[Check]string{CheckExp: "token expired"})
	rejected(t, newVerifier(t, trusted(k.es), Policy{Now: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}), at(`{"exp":2e11}`), map[Check]string{CheckExp: "token expired"})
	rejected(t, newVerifier(t, trusted(k.es), Policy{Now: time.Unix(-1<<62, 0)}), at(`{"exp":2e11,"iat":0}`), map[Check]string{CheckIat: "future"})
	// A leeway forgives exactly itself; a negative one is refused.
	ks, _ := NewKeySet(trusted(k.es))
	if _, err := NewVerifier(ks, Policy{Leeway: -time.Nanosecond}); err == nil {
		t.Error("a negative leeway was accepted")
	}
	rejected(t, newVerifier(t, trusted(k.es), Policy{Leeway: 10 * time.Second}), at(fmt.Sprintf(`{"exp":%d}`, now-10)), map[Check]string{CheckExp: "leeway 10s"})
	accepted(t, newVerifier(t, trusted(k.es), Policy{Leeway: 10 * time.Second}), at(fmt.Sprintf(`{"exp":%d}`, now-9)))
}

func TestRedTeamPolicyClaims(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	h := hdr("ES256", "es")
	tok := func(extra string) string { return forge(h, exp60(extra), es) }
	pol := Policy{Audience: "authenticated", Issuer: "https://p.test/auth/v1", Role: "service_role", Subject: "u1", Require: []string{"email"}}
	v := newVerifier(t, trusted(k.es), pol)
	ok := `"aud":"authenticated","iss":"https://p.test/auth/v1","role":"service_role","sub":"u1","email":"a@b.c"`
	accepted(t, v, tok(ok))
	swap := func(old, new string) string { return tok(strings.Replace(ok, old, new, 1)) }
	runRedTeam(t, v, []redTeamCase{
		{"aud with a number", swap(`"aud":"authenticated"`, `"aud":[1,"authenticated"]`), map[Check]string{CheckAud: "not a string or an array of strings"}},
		{"aud with null", swap(`"aud":"authenticated"`, `"aud":["authenticated",null]`), map[Check]string{CheckAud: "not a string or an array of strings"}},
		{"aud nested", swap(`"aud":"authenticated"`, `"aud":[["authenticated"]]`), map[Check]string{CheckAud: "not a string or an array of strings"}},
		{"aud object", swap(`"aud":"authenticated"`, `"aud":{"authenticated":true}`), map[Check]string{CheckAud: "aud is an object"}},
		{"aud empty array", swap(`"aud":"authenticated"`, `"aud":[]`), map[Check]string{CheckAud: `aud does not include "authenticated"`}},
		{"aud in other case", swap(`"aud":"authenticated"`, `"aud":"Authenticated"`), map[Check]string{CheckAud: "does not include"}},
		{"aud prefix", swap(`"aud":"authenticated"`, `"aud":"authenticated-not"`), map[Check]string{CheckAud: "does not include"}},
		{"aud null", swap(`"aud":"authenticated"`, `"aud":null`), map[Check]string{CheckAud: "aud is null"}},
		{"iss other case", swap(`"iss":"https://p.test/auth/v1"`, `"iss":"HTTPS://p.test/auth/v1"`), map[Check]string{CheckIss: `want "https://p.test/auth/v1"`}},
		{"iss with a trailing slash", swap(`"iss":"https://p.test/auth/v1"`, `"iss":"https://p.test/auth/v1/"`), map[Check]string{CheckIss: "want"}},
		{"iss array", swap(`"iss":"https://p.test/auth/v1"`, `"iss":["https://p.test/auth/v1"]`), map[Check]string{CheckIss: "iss is an array, not a string"}},
		{"role with a trailing space", swap(`"role":"service_role"`, `"role":"service_role "`), map[Check]string{CheckRole: `role does not match: want "service_role"`}},
		{"role array", swap(`"role":"service_role"`, `"role":["service_role"]`), map[Check]string{CheckRole: "role is an array"}},
		{"role with a NUL", swap(`"role":"service_role"`, `"role":"service_role\u0000"`), map[Check]string{CheckRole: `role does not match: want "service_role"`}},
		{"sub number", swap(`"sub":"u1"`, `"sub":1`), map[Check]string{CheckSub: "sub is a number"}},
		{"sub empty", swap(`"sub":"u1"`, `"sub":""`), map[Check]string{CheckSub: "sub is an empty string"}},
		{"required claim null", swap(`"email":"a@b.c"`, `"email":null`), map[Check]string{CheckRequired: `required claim "email" is missing`}},
		{"required claim in other case", swap(`"email":"a@b.c"`, `"EMAIL":"a@b.c"`), map[Check]string{CheckRequired: `required claim "email" is missing`}},
		{"required claim nested", swap(`"email":"a@b.c"`, `"user":{"email":"a@b.c"}`), map[Check]string{CheckRequired: `required claim "email" is missing`}},
	})
}

func TestRedTeamEncoding(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es), Policy{})
	tok := forge(hdr("ES256", "es"), claimsJSON(""), es)
	p := strings.Split(tok, ".")
	join := func(a, b, c string) string { return a + "." + b + "." + c }
	// The header of a kid-less token is 38 characters (38 % 4 == 2): its
	// last character carries 4 unused bits.
	kidless := strings.Split(forge(`{"alg":"ES256","typ":"JWT","x":"abc"}`, claimsJSON(""), es), ".")
	last := kidless[0][len(kidless[0])-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	stray := kidless[0][:len(kidless[0])-1] + string(alphabet[strings.IndexByte(alphabet, last)|1])
	if len(kidless[0])%4 == 0 || stray == kidless[0] {
		t.Fatalf("the stray-bits case needs a header whose length is not a multiple of 4: %d", len(kidless[0]))
	}
	runRedTeam(t, v, []redTeamCase{
		{"oversize by one", tok + strings.Repeat("A", MaxTokenBytes+1-len(tok)), map[Check]string{CheckSize: "over the 16384-byte limit"}},
		{"oversize dots", strings.Repeat(".", MaxTokenBytes+1), map[Check]string{CheckSize: "over the 16384-byte limit"}},
		{"many dots", strings.Repeat(".", 100), map[Check]string{CheckSegments: "101 segments"}},
		{"trailing dot", tok + ".", map[Check]string{CheckSegments: "4 segments"}},
		{"JWE shape", tok + ".a.b", map[Check]string{CheckSegments: "encrypted JWE"}},
		{"JSON serialization", `{"payload":"e30","protected":"e30","signature":"AA"}`, map[Check]string{CheckSegments: "1 segment: not a JWT"}},
		{"empty claims", join(p[0], "", p[2]), map[Check]string{CheckEncoding: "claims is empty", CheckSignature: "does not verify"}},
		{"padding on the header", join(p[0]+"==", p[1], p[2]), map[Check]string{CheckEncoding: `header is not canonical base64url: it has "=" padding`}},
		{"padding in the middle", join(p[0][:4]+"="+p[0][4:], p[1], p[2]), map[Check]string{CheckEncoding: `"=" padding`}},
		{"standard alphabet", join(p[0], p[1], strings.NewReplacer("-", "+", "_", "/").Replace(p[2])+"+"), map[Check]string{CheckEncoding: "standard base64"}},
		{"length 1 mod 4", join(p[0], p[1], p[2]+"AAA"), map[Check]string{CheckEncoding: "signature is not canonical base64url: its length is impossible for base64"}},
		{"stray bits in the header", join(stray, kidless[1], kidless[2]), map[Check]string{CheckEncoding: "header is not canonical base64url: its last character has non-zero unused bits"}},
		{"tab", join(p[0], p[1]+"\t", p[2]), map[Check]string{CheckEncoding: "white space", CheckSignature: "does not verify"}},
		{"carriage return", join(p[0], p[1], p[2]+"\r"), map[Check]string{CheckEncoding: "carriage return"}},
		{"line feed inside", join(p[0][:3]+"\n"+p[0][3:], p[1], p[2]), map[Check]string{CheckEncoding: "white space"}},
		{"trailing newline", tok + "\n", map[Check]string{CheckEncoding: "line break after it"}},
		{"leading space", " " + tok, map[Check]string{CheckEncoding: "white space"}},
		{"NUL", join(p[0], p[1], p[2]+"\x00"), map[Check]string{CheckEncoding: `'\x00', outside the base64url alphabet`}},
		{"percent-encoded", join(p[0], p[1], p[2][:10]+"%2D"+p[2][10:]), map[Check]string{CheckEncoding: `'%', outside the base64url alphabet`}},
		{"non-ASCII", join(p[0], p[1], p[2]+"é"), map[Check]string{CheckEncoding: "outside the base64url alphabet"}},
	})
	// Empty segments: each is named.
	_, err := v.Verify("..")
	var ve *ValidationError
	if !errors.As(err, &ve) || strings.Join(ve.Reasons(), "; ") != "header is empty; claims is empty; signature is empty" {
		t.Errorf("empty segments: %v", err)
	}
	// Exactly at the limit is looked at (and fails on its own merits).
	atLimit := join(p[0], p[1], p[2]+strings.Repeat("A", MaxTokenBytes-len(tok)))
	if len(atLimit) != MaxTokenBytes {
		t.Fatal(len(atLimit))
	}
	_, err = v.Verify(atLimit)
	if !errors.As(err, &ve) || ve.Has(CheckSize) {
		t.Fatalf("a token of exactly %d bytes: %v", MaxTokenBytes, err)
	}
}

// p256N is the order of P-256.
var p256N = elliptic.P256().Params().N

func TestRedTeamECDSA(t *testing.T) {
	k := getKeys(t)
	priv := k.es.Material.(*ecdsa.PrivateKey)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es, k.es2), Policy{})
	h, c := hdr("ES256", "es"), claimsJSON("")
	with := func(f func(sig []byte) []byte) func([]byte) []byte {
		return func(in []byte) []byte { return f(es(in)) }
	}
	fill := func(r, s *big.Int) []byte {
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	nMinus1 := new(big.Int).Sub(p256N, big.NewInt(1))
	runRedTeam(t, v, []redTeamCase{
		{"r = s = 0 (psychic signature)", forge(h, c, func([]byte) []byte { return make([]byte, 64) }), map[Check]string{CheckSigFormat: "r = 0"}},
		{"r = 0", forge(h, c, with(func(s []byte) []byte { clear(s[:32]); return s })), map[Check]string{CheckSigFormat: "r = 0"}},
		{"s = 0", forge(h, c, with(func(s []byte) []byte { clear(s[32:]); return s })), map[Check]string{CheckSigFormat: "s = 0"}},
		{"r = s = n", forge(h, c, func([]byte) []byte { return fill(p256N, p256N) }), map[Check]string{CheckSignature: "ES256 signature does not verify"}},
		{"r = n", forge(h, c, with(func(s []byte) []byte { p256N.FillBytes(s[:32]); return s })), map[Check]string{CheckSignature: "does not verify"}},
		{"s = n", forge(h, c, with(func(s []byte) []byte { p256N.FillBytes(s[32:]); return s })), map[Check]string{CheckSignature: "does not verify"}},
		{"r + n does not fit", forge(h, c, func([]byte) []byte { return append(make([]byte, 1), fill(nMinus1, nMinus1)...) }), map[Check]string{CheckSigFormat: "65 bytes"}},
		{"r = s = n - 1", forge(h, c, func([]byte) []byte { return fill(nMinus1, nMinus1) }), map[Check]string{CheckSignature: "does not verify"}},
		{"all ones", forge(h, c, func([]byte) []byte { return []byte(strings.Repeat("\xff", 64)) }), map[Check]string{CheckSignature: "does not verify"}},
		{"r = s = 1", forge(h, c, func([]byte) []byte { return fill(big.NewInt(1), big.NewInt(1)) }), map[Check]string{CheckSignature: "does not verify"}},
		{"DER", forge(h, c, func(in []byte) []byte {
			sum := sha256.Sum256(in)
			der, _ := ecdsa.SignASN1(rand.Reader, priv, sum[:])
			return der
		}), map[Check]string{CheckSigFormat: "it looks DER-encoded"}},
		{"63 bytes", forge(h, c, with(func(s []byte) []byte { return s[1:] })), map[Check]string{CheckSigFormat: "63 bytes"}},
		{"65 bytes", forge(h, c, with(func(s []byte) []byte { return append(s, 0) })), map[Check]string{CheckSigFormat: "65 bytes"}},
		{"65 bytes, leading zero", forge(h, c, with(func(s []byte) []byte { return append([]byte{0}, s...) })), map[Check]string{CheckSigFormat: "65 bytes"}},
		{"128 bytes", forge(h, c, with(func(s []byte) []byte { return append(s, s...) })), map[Check]string{CheckSigFormat: "128 bytes"}},
		{"empty", forge(h, c, nil), map[Check]string{CheckEncoding: "signature is empty"}},
		{"r and s swapped", forge(h, c, with(func(s []byte) []byte { return append(s[32:], s[:32]...) })), map[Check]string{CheckSignature: "does not verify"}},
		{"signed by the other key", forge(h, c, signer(t, k.es2)), map[Check]string{CheckSignature: "does not verify"}},
		{"signature of other claims", func() string {
			other := strings.Split(forge(h, claimsJSON(`"x":1`), es), ".")
			return strings.Join(strings.Split(forge(h, c, nil), ".")[:2], ".") + "." + other[2]
		}(), map[Check]string{CheckSignature: "does not verify"}},
	})
	// High s: (r, n - s) verifies as well as (r, s). ECDSA is malleable
	// and RFC 7518 does not ask for low s; Go's own signer produces high s
	// about half the time, so refusing it would refuse genuine tokens.
	// Decision (docs/verification.md): accepted. A token's identity must
	// never be its signature bytes.
	for i := range 4 {
		highS := forge(h, claimsJSON(fmt.Sprintf(`"n":%d`, i)), with(func(sig []byte) []byte {
			s := new(big.Int).SetBytes(sig[32:])
			s.Sub(p256N, s)
			s.FillBytes(sig[32:])
			return sig
		}))
		accepted(t, v, highS)
	}
}

func TestRedTeamRSA(t *testing.T) {
	k := getKeys(t)
	rs := signer(t, k.rs)
	priv := k.rs.Material.(*rsa.PrivateKey)
	v := newVerifier(t, trusted(k.rs), Policy{})
	h, c := hdr("RS256", "rs"), claimsJSON("")
	with := func(f func(sig []byte) []byte) func([]byte) []byte {
		return func(in []byte) []byte { return f(rs(in)) }
	}
	runRedTeam(t, v, []redTeamCase{
		{"a byte short", forge(h, c, with(func(s []byte) []byte { return s[1:] })), map[Check]string{CheckSigFormat: "RSA signature is 255 bytes, want 256"}},
		{"leading zero added", forge(h, c, with(func(s []byte) []byte { return append([]byte{0}, s...) })), map[Check]string{CheckSigFormat: "257 bytes"}},
		{"zero", forge(h, c, func([]byte) []byte { return make([]byte, 256) }), map[Check]string{CheckSignature: "does not verify"}},
		{"one", forge(h, c, func([]byte) []byte { s := make([]byte, 256); s[255] = 1; return s }), map[Check]string{CheckSignature: "does not verify"}},
		{"n - 1", forge(h, c, func([]byte) []byte { return new(big.Int).Sub(priv.N, big.NewInt(1)).FillBytes(make([]byte, 256)) }), map[Check]string{CheckSignature: "does not verify"}},
		{"n", forge(h, c, func([]byte) []byte { return priv.N.FillBytes(make([]byte, 256)) }), map[Check]string{CheckSignature: "does not verify"}},
		{"all ones", forge(h, c, func([]byte) []byte { return []byte(strings.Repeat("\xff", 256)) }), map[Check]string{CheckSignature: "does not verify"}},
		{"sig + n", forge(h, c, with(func(s []byte) []byte {
			x := new(big.Int).Add(new(big.Int).SetBytes(s), priv.N)
			return x.FillBytes(make([]byte, 257))
		})), map[Check]string{CheckSigFormat: "257 bytes"}},
	})
	// e = 1 makes the padded digest its own signature. pkg/jwk refuses
	// such keys in a JWKS, and NewKeySet refuses them from anywhere else
	// (a keyring, a PEM): crypto/rsa happens to refuse them too, but the
	// verifier must not depend on that.
	for _, e := range []int{1, 2, 65536} {
		weak := &jwk.Key{KID: "weak", Alg: jwk.RS256, Material: &rsa.PublicKey{N: priv.N, E: e}}
		if _, err := NewKeySet(trusted(weak)); !errors.Is(err, jwk.ErrWeakKey) {
			t.Errorf("e = %d: NewKeySet %v, want a weak-key error", e, err)
		}
	}
	if _, err := jwk.ParseSet(rsaSetWithE(t, priv.N, 1), jwk.ParseSetOptions{}); err == nil {
		t.Error("a JWKS with e = 1 was accepted")
	}
}

func rsaSetWithE(t *testing.T, n *big.Int, e int64) []byte {
	t.Helper()
	set := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"e","n":%q,"e":%q}]}`, enc.EncodeToString(n.Bytes()), enc.EncodeToString(big.NewInt(e).Bytes()))
	return []byte(set)
}

// ed25519Base is the encoding of the Ed25519 base point B.
var ed25519Base, _ = hex.DecodeString("5866666666666666666666666666666666666666666666666666666666666666")

// forgedEd25519 is (R = B, S = 1): it verifies for a message m under the
// public key A when [k]A is the identity, k = SHA-512(R || A || m). For a
// small-order A that happens for 1 message in 8 or more.
func forgedEd25519() []byte {
	s := make([]byte, 32)
	s[0] = 1
	return append(append([]byte{}, ed25519Base...), s...)
}

func TestRedTeamEd25519SmallOrderKeys(t *testing.T) {
	k := getKeys(t)
	// The attack is real: crypto/ed25519 alone accepts a forged
	// signature under each canonical small-order key, for some message
	// among the first 64 (deterministic: k depends only on the inputs).
	for i, bad := range jwk.SmallOrderEd25519 {
		for _, sign := range []byte{0, 0x80} {
			pub := append([]byte{}, bad[:]...)
			pub[31] |= sign
			forged := false
			for m := range 64 {
				if ed25519.Verify(pub, []byte(fmt.Sprintf("m%d", m)), forgedEd25519()) {
					forged = true
					break
				}
			}
			canonical := i < 5 && !(bad == [32]byte{} && sign != 0) && !(i == 0 && sign != 0)
			if canonical && !forged {
				t.Errorf("small-order key %x: no forgery found; is the list right?", pub)
			}
			// Whatever crypto/ed25519 makes of it, the verifier refuses it.
			weak := &jwk.Key{KID: "weak", Alg: jwk.EdDSA, Material: ed25519.PublicKey(pub)}
			if _, err := NewKeySet(trusted(weak)); !errors.Is(err, jwk.ErrWeakKey) {
				t.Errorf("small-order key %x: NewKeySet %v, want a weak-key error", pub, err)
			}
		}
	}
	// End to end: a JWKS with the identity as its key, which pkg/jwk
	// accepts, and a token "signed" for it.
	set := []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"id","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`)
	if ps, err := jwk.ParseSet(set, jwk.ParseSetOptions{}); err == nil {
		if _, err := NewKeySet(trusted(ps.Keys...)); !errors.Is(err, jwk.ErrWeakKey) {
			t.Fatalf("a JWKS holding the identity point made a key set: %v", err)
		}
	}
	// Non-canonical encodings (y >= p) of otherwise ordinary values.
	for _, low := range []byte{0xef, 0xf0, 0xff} {
		pub := make([]byte, 32)
		for i := range pub {
			pub[i] = 0xff
		}
		pub[0], pub[31] = low, 0x7f
		if _, err := NewKeySet(trusted(&jwk.Key{KID: "nc", Alg: jwk.EdDSA, Material: ed25519.PublicKey(pub)})); !errors.Is(err, jwk.ErrWeakKey) {
			t.Errorf("non-canonical key %x: %v", pub, err)
		}
	}
	// An ordinary key still works, and its signatures cannot be bent:
	// S + L (non-canonical S) and the forgery above are refused.
	v := newVerifier(t, trusted(k.ed), Policy{})
	h, c := hdr("EdDSA", "ed"), claimsJSON("")
	good := forge(h, c, signer(t, k.ed))
	accepted(t, v, good)
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	runRedTeam(t, v, []redTeamCase{
		{"S + L", forge(h, c, func(in []byte) []byte {
			sig := signer(t, k.ed)(in)
			le := func(b []byte) []byte { // little-endian <-> big-endian
				out := make([]byte, len(b))
				for i := range b {
					out[len(b)-1-i] = b[i]
				}
				return out
			}
			s := new(big.Int).SetBytes(le(sig[32:]))
			s.Add(s, l)
			return append(sig[:32:32], le(s.FillBytes(make([]byte, 32)))...)
		}), map[Check]string{CheckSignature: "EdDSA signature does not verify"}},
		{"R = B, S = 1", forge(h, c, func([]byte) []byte { return forgedEd25519() }), map[Check]string{CheckSignature: "does not verify"}},
		{"63 bytes", forge(h, c, func(in []byte) []byte { return signer(t, k.ed)(in)[1:] }), map[Check]string{CheckSigFormat: "Ed25519 signature is 63 bytes"}},
		{"zero", forge(h, c, func([]byte) []byte { return make([]byte, 64) }), map[Check]string{CheckSignature: "does not verify"}},
	})
}

func TestRedTeamHMAC(t *testing.T) {
	k := getKeys(t)
	hs := signer(t, k.hs)
	v := newVerifier(t, trusted(k.hs), Policy{})
	h, c := hdr("HS256", "hs"), claimsJSON("")
	runRedTeam(t, v, []redTeamCase{
		{"truncated to 16 bytes", forge(h, c, func(in []byte) []byte { return hs(in)[:16] }), map[Check]string{CheckSigFormat: "HMAC-SHA256 signature is 16 bytes, want exactly 32"}},
		{"31 bytes", forge(h, c, func(in []byte) []byte { return hs(in)[:31] }), map[Check]string{CheckSigFormat: "31 bytes"}},
		{"33 bytes", forge(h, c, func(in []byte) []byte { return append(hs(in), 0) }), map[Check]string{CheckSigFormat: "33 bytes"}},
		{"HMAC-SHA512", forge(h, c, func(in []byte) []byte { return append(hs(in), hs(in)...) }), map[Check]string{CheckSigFormat: "64 bytes"}},
		{"zero", forge(h, c, func([]byte) []byte { return make([]byte, 32) }), map[Check]string{CheckSignature: "HS256 signature does not verify"}},
		{"keyed with an empty secret", forge(h, c, func(in []byte) []byte { return hmacSum(nil, in) }), map[Check]string{CheckSignature: "does not verify"}},
		{"keyed with the kid", forge(h, c, func(in []byte) []byte { return hmacSum([]byte("hs"), in) }), map[Check]string{CheckSignature: "does not verify"}},
	})
}

// TestRedTeamJWKS feeds hostile sets through jwk.ParseSet (what --jwks FILE
// and URL use) and NewKeySet: none may yield a key set with a key in it.
func TestRedTeamJWKS(t *testing.T) {
	k := getKeys(t)
	pub := func(key *jwk.Key) map[string]any {
		p, _ := key.Public()
		b, _ := p.MarshalJSON()
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	priv := func(key *jwk.Key) map[string]any {
		b, _ := key.MarshalJSON()
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return m
	}
	with := func(m map[string]any, kv ...any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	es := pub(k.es)
	short := enc.EncodeToString(make([]byte, 31))
	for name, keys := range map[string][]any{
		"private EC key":            {priv(k.es)},
		"private RSA key":           {priv(k.rs)},
		"private Ed25519 key":       {priv(k.ed)},
		"oct secret":                {priv(k.hs)},
		"RSA 1024":                  {map[string]any{"kty": "RSA", "kid": "w", "n": enc.EncodeToString(weakRSA.N.Bytes()), "e": "AQAB"}},
		"RSA e = 1":                 {with(pub(k.rs), "e", "AQ")},
		"RSA e even":                {with(pub(k.rs), "e", "AQAA")},
		"EC off the curve":          {with(es, "y", es["x"])},
		"EC 31-byte x":              {with(es, "x", short)},
		"EC coordinate padded":      {with(es, "x", es["x"].(string)+"=")},
		"EC wrong curve name":       {with(es, "crv", "P-384")},
		"duplicate kids":            {es, with(pub(k.es2), "kid", "es")},
		"use enc":                   {with(es, "use", "enc")},
		"key_ops encrypt":           {with(es, "key_ops", []string{"encrypt"})},
		"key_ops sign on public":    {with(es, "key_ops", []string{"sign"})},
		"alg HS256 on an EC key":    {with(es, "alg", "HS256")},
		"alg RS256 on an EC key":    {with(es, "alg", "RS256")},
		"alg none":                  {with(es, "alg", "none")},
		"alg PS256 on an RSA key":   {with(pub(k.rs), "alg", "PS256")},
		"kid a number":              {with(es, "kid", 7)},
		"Ed25519 x of 31 bytes":     {with(pub(k.ed), "x", short)},
		"Ed25519 with crv X25519":   {with(pub(k.ed), "crv", "X25519")},
		"kty missing":               {with(es, "kty", nil)},
		"multi-prime RSA (oth)":     {with(pub(k.rs), "oth", []any{})},
		"private d on an RSA entry": {with(pub(k.rs), "d", "AQAB")},
	} {
		t.Run(name, func(t *testing.T) {
			data, _ := json.Marshal(map[string]any{"keys": keys})
			set, err := jwk.ParseSet(data, jwk.ParseSetOptions{})
			// A key keyctl cannot use may be skipped (RFC 7517 section 5):
			// what matters is that no hostile entry becomes a trusted key.
			if err == nil && len(set.Keys) > 0 {
				if _, kerr := NewKeySet(trusted(set.Keys...)); kerr == nil {
					t.Fatalf("accepted: %s", data)
				}
			}
		})
	}
	// Whole-document tricks.
	for name, data := range map[string]string{
		"duplicate keys member":  `{"keys":[],"keys":[]}`,
		"keys in other case":     `{"KEYS":[]}`,
		"keys not an array":      `{"keys":{}}`,
		"not an object":          `[]`,
		"over 1 MiB":             `{"keys":[],"pad":"` + strings.Repeat("x", jwk.MaxInputBytes) + `"}`,
		"duplicate member deep":  `{"keys":[{"kty":"EC","kty":"EC"}]}`,
		"trailing data":          `{"keys":[]}{}`,
		"invalid UTF-8 in a kid": "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"\xff\"}]}",
	} {
		set, err := jwk.ParseSet([]byte(data), jwk.ParseSetOptions{})
		if err == nil && len(set.Keys) > 0 {
			t.Errorf("%s: accepted with keys", name)
		}
	}
	// An entry of unknown kty is skipped, and its kid names nothing.
	data, _ := json.Marshal(map[string]any{"keys": []any{es, map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AA"}}})
	set, err := jwk.ParseSet(data, jwk.ParseSetOptions{})
	if err != nil || set.Skipped != 1 {
		t.Fatalf("unknown kty: %v %+v", err, set)
	}
	v := newVerifier(t, trusted(set.Keys...), Policy{})
	rejected(t, v, forge(hdr("ES256", "pq"), claimsJSON(""), signer(t, k.es)), map[Check]string{CheckKIDUnknown: `kid "pq" is not among the trusted keys (the only kid is "es")`})
}

// TestRedTeamRejectionCarriesNoClaims: whatever fails, Verify hands back no
// claims, and the reasons escape what they quote from the token.
func TestRedTeamRejectionCarriesNoClaims(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es), Policy{Role: "anon", Subject: "s", Issuer: "i", Audience: "a"})
	// JSON text may carry C1 controls and bidi overrides raw (only C0
	// must be escaped); json.Marshal leaves them so.
	nasty, _ := json.Marshal("\u001b[2J\u009b31m\u202e\u0007")
	tok := forge(`{"alg":"ES256","kid":"es","crit":["`+"\u009b\u202e"+`"]}`,
		exp60(fmt.Sprintf(`"role":%s,"sub":%s,"iss":%s,"aud":["\u009b",%s]`, nasty, nasty, nasty, nasty)), es)
	res, err := v.Verify(tok)
	var ve *ValidationError
	if res != nil || !errors.As(err, &ve) {
		t.Fatalf("result %v, err %v", res, err)
	}
	for _, r := range ve.Reasons() {
		for _, bad := range []string{"\x1b", "\u009b", "\u202e", "\a"} {
			if strings.Contains(r, bad) {
				t.Errorf("reason %q carries %q raw", r, bad)
			}
		}
	}
	if len(ve.Failures) != 5 {
		t.Errorf("failures %q", ve.Reasons())
	}
}

// TestRedTeamDecodeUnverified: decode is lenient for debugging, but names
// every form verify refuses, and never fails on what it can show.
func TestRedTeamDecodeUnverified(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	u, err := DecodeUnverified(forge(`{"alg":"ES256","kid":"es","b64":false,"zip":"DEF"}`, exp60(`"sub":"\ud800"`), es))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"claims has a string escaping a lone UTF-16 surrogate (verify refuses it; shown as U+FFFD)",
		`header carries "b64", which verify refuses`,
		`header carries "zip", which verify refuses`,
	}
	if strings.Join(u.Problems, "\n") != strings.Join(want, "\n") || u.Claims["sub"] != "\ufffd" {
		t.Fatalf("problems %q, sub %q", u.Problems, u.Claims["sub"])
	}
}

// Header values a forger chooses are cut in every reason: a 3,000-byte
// kid, alg or typ does not land whole on stderr.
func TestRedTeamHeaderValuesClipped(t *testing.T) {
	k := getKeys(t)
	es := signer(t, k.es)
	v := newVerifier(t, trusted(k.es), Policy{})
	long := strings.Repeat("K", 3000)
	claims := fmt.Sprintf(`{"exp":%d}`, testNow.Unix()+60)
	for name, h := range map[string]string{
		"kid": `{"alg":"ES256","kid":"` + long + `"}`,
		"alg": `{"alg":"` + long + `","kid":"es"}`,
		"typ": `{"alg":"ES256","kid":"es","typ":"` + long + `"}`,
	} {
		_, err := v.Verify(forge(h, claims, es))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %v", name, err)
		}
		for _, r := range ve.Reasons() {
			if len(r) > 200 {
				t.Errorf("%s: a %d-byte reason: %.80s...", name, len(r), r)
			}
		}
	}
}
