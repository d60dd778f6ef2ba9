package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// mintFixture loads a throw-away key from testdata/keys.
func mintFixture(t testing.TB, alg string) *jwk.Key {
	t.Helper()
	data, err := os.ReadFile("testdata/keys/throwaway-" + strings.ToLower(alg) + ".json")
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var mintAlgs = []string{"ES256", "RS256", "HS256", "EdDSA"}

// mintClaims are the claims the signer tests sign.
func mintClaims() map[string]any {
	return map[string]any{
		"iat": int64(1767225600), "exp": int64(1767227400), "role": "authenticated", "is_anonymous": true,
		"email": "dev+<tag>@example.com", "app_metadata": map[string]any{"providers": []any{"email"}, "n": json.Number("1.50")},
	}
}

// joseVerify checks tok with go-jose against k's public half, allowing only
// k's algorithm, and returns the payload.
func joseVerify(t *testing.T, tok string, k *jwk.Key) []byte {
	t.Helper()
	obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.Alg)})
	if err != nil {
		t.Fatalf("go-jose cannot parse %s: %v", tok, err)
	}
	payload, err := obj.Verify(k.PublicMaterial())
	if err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	return payload
}

func TestSignVerifiesWithGoJose(t *testing.T) {
	for _, alg := range mintAlgs {
		t.Run(alg, func(t *testing.T) {
			k := mintFixture(t, alg)
			s, err := NewSigner(k)
			if err != nil {
				t.Fatal(err)
			}
			claims := mintClaims()
			tok, err := s.Sign(claims)
			if err != nil {
				t.Fatal(err)
			}
			payload := joseVerify(t, tok, k)
			if want := jsonMarshal(t, claims); string(payload) != want {
				t.Errorf("payload %s, want %s", payload, want)
			}
			parts := strings.Split(tok, ".")
			header, _ := b64.DecodeString(parts[0])
			if want := fmt.Sprintf(`{"alg":"%s","kid":"throwaway-%s","typ":"JWT"}`, alg, strings.ToLower(alg)); string(header) != want {
				t.Errorf("header %s, want %s", header, want)
			}
			sig, _ := b64.DecodeString(parts[2])
			if want := map[string]int{"ES256": 64, "RS256": 256, "HS256": 32, "EdDSA": 64}[alg]; len(sig) != want {
				t.Errorf("signature is %d bytes, want %d", len(sig), want)
			}
			// A second token from the same signer verifies too (nothing
			// pooled leaks from one token into the next).
			tok2, err := s.Sign(map[string]any{"role": "anon"})
			if err != nil {
				t.Fatal(err)
			}
			if p := joseVerify(t, tok2, k); string(p) != `{"role":"anon"}` {
				t.Errorf("second payload %s", p)
			}
		})
	}
}

// For the deterministic algorithms keyctl's tokens are byte-identical to
// go-jose's for the same key, header and claims.
func TestSignIsByteIdenticalToGoJose(t *testing.T) {
	for _, alg := range []string{"HS256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			k := mintFixture(t, alg)
			s, err := NewSigner(k)
			if err != nil {
				t.Fatal(err)
			}
			js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: k.Material},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KID))
			if err != nil {
				t.Fatal(err)
			}
			// Claims of the types keyctl's commands build. (See
			// TestGoJoseJSONDiffers for where go-jose's JSON fork parts
			// from encoding/json.)
			claims := mintClaims()
			claims["app_metadata"].(map[string]any)["n"] = 1.5
			for _, claims := range []map[string]any{claims, {}, {"s": "\u2028<\xff>", "f": 0.25, "big": 1e21, "i": int64(-1)}} {
				want, err := josejwt.Signed(js).Claims(claims).Serialize()
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.Sign(claims)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("keyctl:  %s\ngo-jose: %s", got, want)
				}
			}
		})
	}
}

// ES256 signatures are randomised, so the tokens differ; everything the
// signature covers (header and claims) is byte-identical to go-jose's.
func TestES256SigningInputIsGoJoses(t *testing.T) {
	k := mintFixture(t, "ES256")
	s, _ := NewSigner(k)
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.Material},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KID))
	if err != nil {
		t.Fatal(err)
	}
	claims := mintClaims()
	claims["app_metadata"].(map[string]any)["n"] = 1.5
	want, err := josejwt.Signed(js).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := got[:strings.LastIndexByte(got, '.')], want[:strings.LastIndexByte(want, '.')]; g != w {
		t.Errorf("signing input differs:\nkeyctl:  %s\ngo-jose: %s", g, w)
	}
	joseVerify(t, got, k)
}

// go-jose serialises claims with its own fork of an older encoding/json.
// MarshalClaims follows today's encoding/json (the Supabase CLI's), which
// differs from the fork in two places: json.Number (the fork does not know
// the type and writes a string) and exponents (the fork pads 1e-07). If
// this test fails, go-jose changed and the docs should say so.
func TestGoJoseJSONDiffers(t *testing.T) {
	k := mintFixture(t, "HS256")
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: k.Material}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for claims, want := range map[*map[string]any][2]string{
		{"n": json.Number("1.50")}: {`{"n":1.50}`, `{"n":"1.50"}`},
		{"f": 1e-7}:                {`{"f":1e-7}`, `{"f":1e-07}`},
	} {
		ours, err := MarshalClaims(*claims)
		if err != nil || string(ours) != want[0] {
			t.Errorf("MarshalClaims = %s, %v; want %s", ours, err, want[0])
		}
		tok, err := josejwt.Signed(js).Claims(*claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := b64.DecodeString(strings.Split(tok, ".")[1])
		if string(payload) != want[1] {
			t.Errorf("go-jose now writes %s (was %s): update the docs", payload, want[1])
		}
	}
}

func TestSignWithoutKID(t *testing.T) {
	k := mintFixture(t, "EdDSA")
	k.KID = ""
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Sign(map[string]any{"role": "anon"})
	if err != nil {
		t.Fatal(err)
	}
	header, _ := b64.DecodeString(strings.Split(tok, ".")[0])
	if string(header) != `{"alg":"EdDSA","typ":"JWT"}` {
		t.Errorf("header %s", header)
	}
	joseVerify(t, tok, k)
}

func TestNewSignerRefuses(t *testing.T) {
	priv := mintFixture(t, "ES256")
	pub, err := priv.Public()
	if err != nil {
		t.Fatal(err)
	}
	verifyOnly := priv.WithOps(jwk.OpVerify)
	weird := &jwk.Key{KID: "x", Alg: jwk.ES256, Material: "not a key"}
	for name, k := range map[string]*jwk.Key{"public key": pub, "key_ops without sign": verifyOnly, "unknown material": weird} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewSigner(k); !errors.Is(err, ErrCannotSign) {
				t.Errorf("err = %v, want ErrCannotSign", err)
			}
		})
	}
}

func TestSignRefusesUnencodableClaims(t *testing.T) {
	s, err := NewSigner(mintFixture(t, "HS256"))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := s.Sign(map[string]any{"n": json.Number("x")}); err == nil {
		t.Errorf("signed %s", tok)
	}
}

func TestAppendSignedAppends(t *testing.T) {
	k := mintFixture(t, "EdDSA")
	s, _ := NewSigner(k)
	payload := []byte(`{"role":"anon"}`)
	// The payload may live in the same buffer the token is appended to.
	buf := append([]byte("token: "), payload...)
	out, err := s.AppendSigned(buf, buf[len("token: "):])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Sign(map[string]any{"role": "anon"})
	if string(out) != `token: {"role":"anon"}`+want {
		t.Errorf("got %s", out)
	}
}

func TestAppendToken(t *testing.T) {
	s, _ := NewSigner(mintFixture(t, "HS256"))
	want1, _ := s.Sign(map[string]any{"n": 1})
	want2, _ := s.Sign(map[string]any{"n": 2, "pad": strings.Repeat("<x>", 100)})
	// Tokens accumulate in one buffer, whatever its spare room.
	for _, capacity := range []int{0, 10, 4096} {
		buf := append(make([]byte, 0, capacity), "a:"...)
		buf, err := s.AppendToken(buf, map[string]any{"n": 1})
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, "\nb:"...)
		buf, err = s.AppendToken(buf, map[string]any{"n": 2, "pad": strings.Repeat("<x>", 100)})
		if err != nil {
			t.Fatal(err)
		}
		if want := "a:" + want1 + "\nb:" + want2; string(buf) != want {
			t.Fatalf("cap %d:\n got %s\nwant %s", capacity, buf, want)
		}
	}
	// A refused claim leaves dst as it was.
	buf, err := s.AppendToken([]byte("kept"), map[string]any{"bad": json.Number("x")})
	if err == nil || string(buf) != "kept" {
		t.Errorf("AppendToken = %q, %v", buf, err)
	}
}

func TestSignConcurrent(t *testing.T) {
	for _, alg := range []string{"HS256", "ES256"} {
		k := mintFixture(t, alg)
		s, _ := NewSigner(k)
		var wg sync.WaitGroup
		toks := make([]string, 8)
		for i := range toks {
			wg.Go(func() {
				for j := range 20 {
					tok, err := s.Sign(map[string]any{"i": i, "j": j})
					if err != nil {
						t.Error(err)
						return
					}
					toks[i] = tok
				}
			})
		}
		wg.Wait()
		for i, tok := range toks {
			if p := joseVerify(t, tok, k); string(p) != fmt.Sprintf(`{"i":%d,"j":19}`, i) {
				t.Errorf("%s token %d carries %s", alg, i, p)
			}
		}
	}
}

// Many ECDSA signatures cover r and s values with leading zero bytes
// (about 1 in 128 signatures has one) and high bits set (DER pads those).
func TestES256SignaturesAreFixedWidth(t *testing.T) {
	k := mintFixture(t, "ES256")
	s, _ := NewSigner(k)
	pub := &k.Material.(*ecdsa.PrivateKey).PublicKey
	payload := []byte(`{}`)
	short := 0
	for range 1500 {
		tok, err := s.AppendSigned(nil, payload)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.LastIndexByte(tok, '.')
		sig, err := b64.DecodeString(string(tok[i+1:]))
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature %q: %v", tok[i+1:], err)
		}
		if sig[0] == 0 || sig[32] == 0 {
			short++
		}
		sum := sha256.Sum256(tok[:i])
		if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatalf("signature does not verify: %s", tok)
		}
	}
	t.Logf("%d signatures with a short r or s", short)
}

func TestAppendRawECDSA(t *testing.T) {
	tests := []struct {
		name string
		der  []byte
		want string // hex of the raw signature, "" for an error
	}{
		{"small values", []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, "0001" + "0002"},
		{"zero padding dropped", []byte{0x30, 0x08, 0x02, 0x02, 0x00, 0xff, 0x02, 0x02, 0x00, 0x80}, "00ff" + "0080"},
		{"full width", []byte{0x30, 0x08, 0x02, 0x02, 0x12, 0x34, 0x02, 0x02, 0x56, 0x78}, "1234" + "5678"},
		{"too wide", []byte{0x30, 0x09, 0x02, 0x03, 0x01, 0x02, 0x03, 0x02, 0x02, 0x00, 0x01}, ""},
		{"not a sequence", []byte{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, ""},
		{"wrong length", []byte{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02}, ""},
		{"not an integer", []byte{0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x02}, ""},
		{"integer overruns", []byte{0x30, 0x06, 0x02, 0x05, 0x01, 0x02, 0x01, 0x02}, ""},
		{"trailing data", []byte{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00}, ""},
		{"one integer", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendRawECDSA([]byte("x"), tt.der, 2)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %x, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%x", got[1:]) != tt.want || got[0] != 'x' {
				t.Errorf("got %x, want 78%s", got, tt.want)
			}
		})
	}
}

func TestSeriesMatchesSign(t *testing.T) {
	// Claims of every prefix length modulo 3, with the open member first,
	// in the middle and last, so that every base64 block alignment occurs.
	var claimSets []map[string]any
	for pad := range 3 {
		p := strings.Repeat("x", pad)
		claimSets = append(claimSets,
			map[string]any{"a" + p: 1},
			map[string]any{"z" + p: 1},
			map[string]any{"a": p, "z": "<" + p + ">"},
			map[string]any{"exp": int64(1767227400), "iat": int64(1767225600), "is_anonymous": true, "role": "authenticated" + p},
			map[string]any{"iss": p},
			map[string]any{},
		)
	}
	values := []string{
		"0b9f6f43-6c4e-4d8b-a1f2-3e5c7d9b1a2f", // the fast path's length
		"short", "", "needs <escape>", "0b9f6f43-6c4e-4d8b-a1f2-3e5c7d9b1a2\xff",
	}
	for _, alg := range []string{"HS256", "EdDSA"} {
		k := mintFixture(t, alg)
		s, _ := NewSigner(k)
		for _, claims := range claimSets {
			ser, err := s.NewSeries(claims, "jti", 36)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				with := map[string]any{"jti": v}
				for k, x := range claims {
					with[k] = x
				}
				want, err := s.Sign(with)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ser.Append([]byte("prefix:"), []byte(v))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != "prefix:"+want {
					t.Fatalf("%s claims %v jti %q:\n got %s\nwant %s", alg, claims, v, got[7:], want)
				}
			}
		}
	}
}

func TestSeriesES256Verifies(t *testing.T) {
	k := mintFixture(t, "ES256")
	s, _ := NewSigner(k)
	ser, err := s.NewSeries(mintClaims(), "jti", 36)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ser.Append(nil, []byte("0b9f6f43-6c4e-4d8b-a1f2-3e5c7d9b1a2f"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(joseVerify(t, string(tok), k), &got); err != nil {
		t.Fatal(err)
	}
	if got["jti"] != "0b9f6f43-6c4e-4d8b-a1f2-3e5c7d9b1a2f" || got["role"] != "authenticated" {
		t.Errorf("claims %v", got)
	}
}

// FuzzSeries: for any claims prefix and any value, a Series token is the
// token Sign makes of the same claims.
func FuzzSeries(f *testing.F) {
	f.Add("iss", "https://x.test", "0b9f6f43-6c4e-4d8b-a1f2-3e5c7d9b1a2f", 36)
	f.Add("", "", "", 0)
	f.Add("zz", "<\u2028>", "abc", 3)
	s, err := NewSigner(mintFixture(f, "HS256"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key, val, jti string, n int) {
		if n < 0 || n > 1000 {
			return
		}
		claims := map[string]any{key: val, "exp": time.Unix(int64(len(val)), 0)}
		ser, err := s.NewSeries(claims, "jti", n)
		if err != nil {
			t.Fatal(err)
		}
		with := map[string]any{"exp": claims["exp"], "jti": jti}
		if key != "jti" {
			with[key] = val
		}
		want, err := s.Sign(with)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ser.Append(nil, []byte(jti))
		if err != nil || string(got) != want {
			t.Fatalf("got %s (%v)\nwant %s", got, err, want)
		}
	})
}

func TestSeriesConcurrent(t *testing.T) {
	k := mintFixture(t, "EdDSA")
	s, _ := NewSigner(k)
	ser, _ := s.NewSeries(map[string]any{"role": "anon"}, "jti", 2)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			var buf []byte
			for j := range 50 {
				v := fmt.Sprintf("%d%d", i, j%10)
				var err error
				buf, err = ser.Append(buf[:0], []byte(v))
				if err != nil {
					t.Error(err)
					return
				}
				if p := joseVerify(t, string(buf), k); string(p) != `{"jti":"`+v+`","role":"anon"}` {
					t.Errorf("payload %s", p)
				}
			}
		})
	}
	wg.Wait()
}
