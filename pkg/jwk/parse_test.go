package jwk

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// mutate returns the JSON of a generated key with members changed.
func mutate(t *testing.T, alg Algorithm, change func(m map[string]any)) []byte {
	t.Helper()
	k, err := Generate(alg, GenerateOptions{KID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := k.MarshalJSON()
	var m map[string]any
	json.Unmarshal(out, &m)
	change(m)
	b, _ := json.Marshal(m)
	return b
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		data func(t *testing.T) []byte
		want string
	}{
		{"not json", func(*testing.T) []byte { return []byte("nope") }, "not a JSON object"},
		{"array", func(*testing.T) []byte { return []byte("[]") }, "not a JSON object"},
		{"duplicate member", func(*testing.T) []byte {
			return []byte(`{"kty":"oct","kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
		}, `duplicate member "kty"`},
		{"duplicate via escape", func(*testing.T) []byte {
			return []byte(`{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","\u006b":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
		}, `duplicate member "k"`},
		{"trailing data", func(*testing.T) []byte {
			return []byte(`{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {}`)
		}, "after the JSON object"},
		{"kty a number", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["kty"] = 2 }) }, `member "kty": a number, not a string`},
		{"x an object", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["x"] = map[string]any{} })
		}, `member "x": an object, not a string`},
		{"key_ops a string", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["key_ops"] = "sign" }) }, `member "key_ops": a string, not an array of strings`},
		{"key_ops holds a number", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["key_ops"] = []any{"sign", 1} })
		}, `member "key_ops": an array, not an array of strings`},
		{"ext a string", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["ext"] = "true" }) }, `member "ext": a string, not a boolean`},
		// Member names are case-sensitive (RFC 7517 section 4): "KTY" is
		// an unknown member, not kty, whatever encoding/json would match.
		{"kty in capitals", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["KTY"] = m["kty"]; delete(m, "kty") })
		}, `"kty": missing`},
		{"null kty is absent", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["kty"] = nil }) }, `"kty": missing`},
		{"no kty", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { delete(m, "kty") }) }, `"kty": missing`},
		{"unknown kty", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["kty"] = "XYZ" }) }, "unsupported key type"},
		{"use enc", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["use"] = "enc" }) }, "not for signatures"},
		{"key_ops encrypt", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["key_ops"] = []string{"encrypt"} })
		}, "not a signature operation"},
		{"key_ops twice", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["key_ops"] = []string{"sign", "sign"} })
		}, "listed twice"},
		{"alg mismatch", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["alg"] = "RS256" }) }, "does not fit"},
		{"alg none", func(t *testing.T) []byte { return mutate(t, HS256, func(m map[string]any) { m["alg"] = "none" }) }, "does not fit"},
		{"curve P-384", func(t *testing.T) []byte { return mutate(t, ES256, func(m map[string]any) { m["crv"] = "P-384" }) }, "not supported"},
		{"short x", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["x"] = m["x"].(string)[:42] })
		}, "member \"x\""},
		{"padded x", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["x"] = m["x"].(string) + "=" })
		}, "not canonical"},
		{"std alphabet", func(t *testing.T) []byte {
			return mutate(t, HS256, func(m map[string]any) { m["k"] = "+/" + m["k"].(string)[2:] })
		}, "not canonical"},
		{"stray bits", func(t *testing.T) []byte {
			return mutate(t, HS256, func(m map[string]any) {
				k := m["k"].(string) // 43 chars: the last carries 2 unused bits
				last := strings.IndexByte(b64alphabet, k[42])
				m["k"] = k[:42] + string(b64alphabet[last|1])
			})
		}, "not canonical"},
		{"newline in member", func(t *testing.T) []byte {
			return mutate(t, HS256, func(m map[string]any) { k := m["k"].(string); m["k"] = k[:20] + "\n" + k[20:] })
		}, "not canonical"},
		{"point off curve", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { delete(m, "d"); m["y"] = m["x"] })
		}, "not on the P-256 curve"},
		{"d mismatch", func(t *testing.T) []byte {
			other := mutate(t, ES256, func(map[string]any) {})
			var o map[string]any
			json.Unmarshal(other, &o)
			return mutate(t, ES256, func(m map[string]any) { m["d"] = o["d"] })
		}, "does not match"},
		{"weak secret", func(t *testing.T) []byte {
			return mutate(t, HS256, func(m map[string]any) { m["k"] = "c2hvcnQ" })
		}, "too weak"},
		{"ed25519 d mismatch", func(t *testing.T) []byte {
			return mutate(t, EdDSA, func(m map[string]any) { m["x"] = strings.Repeat("A", 43) })
		}, "does not match"},
		{"rsa short modulus", func(t *testing.T) []byte {
			return mutate(t, RS256, func(m map[string]any) {
				for _, k := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					delete(m, k)
				}
				m["n"] = m["n"].(string)[:172]
			})
		}, "too weak"},
		{"rsa even exponent", func(t *testing.T) []byte {
			return mutate(t, RS256, func(m map[string]any) { m["e"] = "AQAA" })
		}, "public exponent"},
		{"rsa bad crt", func(t *testing.T) []byte {
			return mutate(t, RS256, func(m map[string]any) { m["qi"] = m["dp"] })
		}, "does not match"},
		{"rsa private without primes", func(t *testing.T) []byte {
			return mutate(t, RS256, func(m map[string]any) { delete(m, "p") })
		}, "need p and q"},
		{"sign on public key", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { delete(m, "d") })
		}, `"sign" on a public key`},
		{"ed25519 identity point", func(*testing.T) []byte {
			return []byte(`{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
		}, "small order"},
		{"ed25519 zero point", func(*testing.T) []byte {
			return []byte(`{"kty":"OKP","crv":"Ed25519","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)
		}, "small order"},
		{"ed25519 non-canonical y", func(*testing.T) []byte {
			return []byte(`{"kty":"OKP","crv":"Ed25519","x":"7________________________________________38"}`)
		}, "not canonically encoded"},
		{"kid with escape", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["kid"] = "evil\x1b[2J" })
		}, "invalid kid"},
		{"kid with C1", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["kid"] = "a\u009bb" })
		}, "invalid kid"},
		{"kid with bidi override", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["kid"] = "a\u202eb" })
		}, "invalid kid"},
		{"kid too long", func(t *testing.T) []byte {
			return mutate(t, ES256, func(m map[string]any) { m["kid"] = strings.Repeat("k", 257) })
		}, "invalid kid"},
		{"multi-prime", func(t *testing.T) []byte {
			return mutate(t, RS256, func(m map[string]any) { m["oth"] = []any{} })
		}, "multi-prime"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data(t))
			if err == nil {
				t.Fatalf("parsed; want error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

const b64alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func TestParseInfersAlg(t *testing.T) {
	for _, alg := range Algorithms {
		data := mutate(t, alg, func(m map[string]any) { delete(m, "alg"); delete(m, "use"); delete(m, "key_ops") })
		k, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if k.Alg != alg || k.KeyOps != nil || !k.HasOp(OpSign) {
			t.Fatalf("%s: got alg %s ops %v", alg, k.Alg, k.KeyOps)
		}
	}
}

func TestParseSet(t *testing.T) {
	pubJSON := func(alg Algorithm, kid string) string {
		k, _ := Generate(alg, GenerateOptions{KID: kid})
		p, _ := k.Public()
		b, _ := p.MarshalJSON()
		return string(b)
	}
	priv, _ := Generate(ES256, GenerateOptions{KID: "priv"})
	privJSON, _ := priv.MarshalJSON()
	secret, _ := Generate(HS256, GenerateOptions{KID: "sec"})
	secretJSON, _ := secret.MarshalJSON()

	set, err := ParseSet([]byte(`{"keys":[`+pubJSON(ES256, "a")+`,{"kty":"XYZ","kid":"future"},`+pubJSON(RS256, "b")+`,`+pubJSON(EdDSA, "c")+`]}`), ParseSetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 3 || set.Skipped != 1 {
		t.Fatalf("got %d keys, %d skipped", len(set.Keys), set.Skipped)
	}
	for _, c := range []struct{ name, doc, want string }{
		{"private", `{"keys":[` + string(privJSON) + `]}`, "must not carry private keys"},
		{"secret", `{"keys":[` + string(secretJSON) + `]}`, "must not carry shared secrets"},
		{"duplicate kid", `{"keys":[` + pubJSON(ES256, "a") + `,` + pubJSON(ES256, "a") + `]}`, "duplicate kid"},
		{"no keys", `{"kty":"EC"}`, `a single JWK, not a JWK Set`},
		{"no keys at all", `{"use":"sig"}`, `no "keys" array`},
		{"keys twice", `{"keys":[],"keys":[]}`, "duplicate member"},
		{"bad entry", `{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`, "key 0"},
		// Names are case-sensitive: "KEYS" is not "keys" (encoding/json
		// would have matched it).
		{"keys in capitals", `{"KEYS":[` + pubJSON(ES256, "a") + `]}`, `no "keys" array`},
		{"keys null", `{"keys":null}`, `no "keys" array`},
		{"keys an object", `{"keys":{}}`, `"keys" is an object, not an array`},
		{"keys of numbers", `{"keys":[1]}`, "key 0"},
	} {
		if _, err := ParseSet([]byte(c.doc), ParseSetOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := ParseSet([]byte(`{"keys":[`+string(privJSON)+`]}`), ParseSetOptions{AllowPrivate: true}); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
	// ParseAny tells a set from a key by the same exact name.
	if _, err := ParseAny([]byte(`{"keys":null}`)); err == nil || !strings.Contains(err.Error(), `no "keys" array`) {
		t.Errorf(`ParseAny({"keys":null}): %v, want no "keys" array`, err)
	}
}

func TestParseArrayAndAny(t *testing.T) {
	a, _ := Generate(ES256, GenerateOptions{KID: "a"})
	b, _ := Generate(EdDSA, GenerateOptions{KID: "b"})
	aj, _ := a.MarshalJSON()
	bj, _ := b.MarshalJSON()
	arr := "[" + string(aj) + "," + string(bj) + "]"
	keys, err := ParseArray([]byte(arr))
	if err != nil || len(keys) != 2 || keys[1].KID != "b" {
		t.Fatalf("ParseArray: %v %v", keys, err)
	}
	if keys, err := ParseArray([]byte("[]")); err != nil || len(keys) != 0 {
		t.Fatalf("empty array: %v %v", keys, err)
	}
	for _, bad := range []string{"null", "{}", "[1]", `[{"kty":"EC"}]`} {
		if _, err := ParseArray([]byte(bad)); err == nil {
			t.Errorf("ParseArray(%s): no error", bad)
		}
	}
	var pe *ParseError
	_, err = ParseArray([]byte("[" + string(aj) + `,{"kty":"EC","kid":"bad"}]`))
	if !errors.As(err, &pe) || pe.Index != 1 || pe.KID != "bad" {
		t.Fatalf("error does not say which key: %v", err)
	}
	pemKey, _ := a.MarshalPEM()
	for name, in := range map[string]string{"jwk": string(aj), "array": arr, "set": `{"keys":[` + string(aj) + `]}`, "pem": string(pemKey)} {
		keys, err := ParseAny([]byte("\n " + in + "\n"))
		if err != nil || len(keys) == 0 || !keys[0].Equal(a) {
			t.Errorf("ParseAny %s: %v", name, err)
		}
	}
	if _, err := ParseAny([]byte("hello")); err == nil {
		t.Error("ParseAny(hello): no error")
	}
}

// TestShortSecretsRefused: an HS256 secret shorter than the hash (32
// bytes) is refused wherever a key is read, citing RFC 7518 section 3.2;
// 32 bytes are accepted.
func TestShortSecretsRefused(t *testing.T) {
	oct := func(n int) []byte {
		return []byte(`{"kty":"oct","kid":"s","alg":"HS256","k":"` + base64URL(make([]byte, n)) + `"}`)
	}
	const want = "RFC 7518 section 3.2"
	for _, n := range []int{16, 31} {
		if _, err := Parse(oct(n)); err == nil || !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse of a %d-byte oct key: %v, want ErrWeakKey citing %s", n, err, want)
		}
		if _, err := ParseSet([]byte(`{"keys":[`+string(oct(n))+`]}`), ParseSetOptions{AllowPrivate: true}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSet with a %d-byte oct key: %v, want refused citing %s", n, err, want)
		}
		if _, err := ParseAny(oct(n)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAny of a %d-byte oct key: %v, want refused citing %s", n, err, want)
		}
		if _, err := FromCrypto(make([]byte, n)); err == nil || !errors.Is(err, ErrWeakKey) || !strings.Contains(err.Error(), want) {
			t.Errorf("FromCrypto of a %d-byte secret: %v, want ErrWeakKey citing %s", n, err, want)
		}
	}
	if _, err := Parse(oct(MinSecretBytes)); err != nil {
		t.Errorf("a %d-byte secret: %v", MinSecretBytes, err)
	}
	if _, err := FromCrypto(make([]byte, MinSecretBytes)); err != nil {
		t.Errorf("a %d-byte secret: %v", MinSecretBytes, err)
	}
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// A P-256 member an older Supabase CLI wrote without its left zero byte:
// Parse refuses it (RFC 7518 section 6.2.1), marked ErrUnpaddedEC;
// ParseRepairing reads the same key padded and says so.
func TestParseRepairingPadsShortEC(t *testing.T) {
	const short = `{"kty":"EC","kid":"k1","alg":"ES256","d":"VoSdpsHR3mZoDdF-JMAX2x1wM_VDagC-04wV7C3SSvU","crv":"P-256","x":"RNIFPDHzBBbN-rq73dCNQG262jsApHtBCt5rwxBkmw","y":"zrijjcKh6RiQ8X-EQq5v2HoXEf8vUo_wHyl5uAnEjjs"}`
	if _, err := Parse([]byte(short)); !errors.Is(err, ErrUnpaddedEC) || !strings.Contains(err.Error(), `member "x": 31 bytes, want exactly 32`) {
		t.Fatalf("Parse: %v", err)
	}
	if _, err := ParseAny([]byte("[" + short + "]")); !errors.Is(err, ErrUnpaddedEC) {
		t.Fatalf("ParseAny: %v", err)
	}
	for _, in := range []string{short, "[" + short + "]"} {
		keys, err := ParseRepairing([]byte(in))
		if err != nil || len(keys) != 1 {
			t.Fatalf("ParseRepairing: %v", err)
		}
		if got := strings.Join(keys[0].PaddedMembers(), ","); got != "x" {
			t.Fatalf("padded %q", got)
		}
		out, _ := keys[0].MarshalJSON()
		if !strings.Contains(string(out), `"x":"AETSBTwx8wQWzfq6u93QjUBtuto7AKR7QQrea8MQZJs"`) {
			t.Fatalf("written back: %s", out)
		}
		if again, err := Parse(out); err != nil || !again.Equal(keys[0]) {
			t.Fatalf("the padded key does not read back strictly: %v", err)
		}
	}
	// Far too short (15 bytes) is no key anyone made: refused even when
	// repairing, as a plain length error.
	tiny := strings.Replace(short, "RNIFPDHzBBbN-rq73dCNQG262jsApHtBCt5rwxBkmw", "RNIFPDHzBBbN-rq73dCN", 1)
	if _, err := ParseRepairing([]byte(tiny)); err == nil || errors.Is(err, ErrUnpaddedEC) {
		t.Fatalf("a 15-byte member: %v", err)
	}
}

// One document must not be read as two different sets of keys: an array
// with a kid twice, or an object with both "kty" and "keys".
func TestParseOneReading(t *testing.T) {
	a, _ := Generate(ES256, GenerateOptions{KID: "same"})
	b, _ := Generate(ES256, GenerateOptions{KID: "same"})
	ja, _ := a.MarshalJSON()
	jb, _ := b.MarshalJSON()
	arr := "[" + string(ja) + "," + string(jb) + "]"
	for name, parse := range map[string]func([]byte) ([]*Key, error){"ParseArray": ParseArray, "ParseAny": ParseAny, "ParseRepairing": ParseRepairing} {
		if _, err := parse([]byte(arr)); !errors.Is(err, ErrDuplicateKID) {
			t.Errorf("%s: a kid twice: %v", name, err)
		}
	}
	pa, _ := a.Public()
	pb, _ := b.Public()
	jpa, _ := pa.MarshalJSON()
	jpb, _ := pb.MarshalJSON()
	both := strings.TrimSuffix(string(jpa), "}") + `,"keys":[` + string(jpb) + `]}`
	if _, err := Parse([]byte(both)); err == nil || !strings.Contains(err.Error(), `both "kty" and "keys"`) {
		t.Errorf("Parse: %v", err)
	}
	if _, err := ParseAny([]byte(both)); err == nil {
		t.Error("ParseAny accepted kty and keys together")
	}
	if _, err := ParseSet([]byte(both), ParseSetOptions{}); err == nil || !strings.Contains(err.Error(), `both "kty" and "keys"`) {
		t.Errorf("ParseSet: %v", err)
	}
}

// A hostile key or JWKS must not put its long members on stderr: every
// value quoted in a message is cut.
func TestMessagesClipInput(t *testing.T) {
	long := strings.Repeat("A", 100000)
	for name, doc := range map[string]string{
		"kid":     `{"kty":"oct","kid":"` + long + `","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		"kty":     `{"kty":"` + long + `"}`,
		"use":     `{"kty":"EC","use":"` + long + `"}`,
		"alg":     `{"kty":"EC","alg":"` + long + `","crv":"P-256"}`,
		"crv":     `{"kty":"EC","crv":"` + long + `"}`,
		"key_ops": `{"kty":"EC","key_ops":["` + long + `"]}`,
	} {
		_, err := Parse([]byte(doc))
		if err == nil || len(err.Error()) > 300 {
			t.Errorf("%s: %d-byte message", name, len(err.Error()))
		}
	}
	pub, _ := Generate(ES256, GenerateOptions{KID: "a"})
	pk, _ := pub.Public()
	jp, _ := pk.MarshalJSON()
	set, err := ParseSet([]byte(`{"keys":[`+string(jp)+`,{"kty":"EC","kid":"x","use":"`+long+`","crv":"P-256"}]}`), ParseSetOptions{})
	if err != nil || len(set.SkippedKeys) != 1 {
		t.Fatalf("set: %v", err)
	}
	if s := set.SkippedKeys[0].String(); len(s) > 300 {
		t.Errorf("skipped key: %d-byte message", len(s))
	}
	if got := quoteClip("é" + strings.Repeat("x", 62) + "ü" + long); !strings.HasPrefix(got, `"é`) || !strings.Contains(got, `"... (`) {
		t.Errorf("quoteClip: %s", got[:80])
	}
}
