package jwk

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestES256MembersAlwaysFullWidth generates many keys and checks every one:
// the Supabase CLI drops leading zero bytes in about 1 key in 100, which
// Supabase Auth then refuses to load.
func TestES256MembersAlwaysFullWidth(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		k, err := Generate(ES256, GenerateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		assertFullWidth(t, k)
	}
}

func assertFullWidth(t *testing.T, k *Key) {
	t.Helper()
	out, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	var raw map[string]any
	json.Unmarshal(out, &raw)
	m = map[string]string{}
	for name, v := range raw {
		if s, ok := v.(string); ok {
			m[name] = s
		}
	}
	for _, name := range []string{"d", "x", "y"} {
		if len(m[name]) != 43 {
			t.Fatalf("member %s is %d characters, want 43: %s", name, len(m[name]), out)
		}
	}
}

// TestFullWidthWithLeadingZeros builds keys whose scalars start with zero
// bytes on purpose, the case random generation rarely hits.
func TestFullWidthWithLeadingZeros(t *testing.T) {
	found := map[string]bool{}
	for i := 0; i < 20000 && len(found) < 3; i++ {
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		d, _ := priv.Bytes()
		pub, _ := priv.PublicKey.Bytes()
		switch {
		case d[0] == 0:
			found["d"] = true
		case pub[1] == 0:
			found["x"] = true
		case pub[33] == 0:
			found["y"] = true
		default:
			continue
		}
		k := &Key{KID: "k", Alg: ES256, Material: priv}
		assertFullWidth(t, k)
		out, _ := k.MarshalJSON()
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if !back.Equal(k) {
			t.Fatal("round trip changed the key")
		}
	}
	if len(found) == 0 {
		t.Fatal("no key with a leading zero found; the test proves nothing")
	}
}

func TestGenerateAll(t *testing.T) {
	for _, alg := range Algorithms {
		t.Run(string(alg), func(t *testing.T) {
			k, err := Generate(alg, GenerateOptions{KID: "fixed"})
			if err != nil {
				t.Fatal(err)
			}
			if k.KID != "fixed" || k.Alg != alg || k.Use != "sig" || !k.Ext || strings.Join(k.KeyOps, ",") != "sign,verify" {
				t.Fatalf("envelope %+v", k)
			}
			if k.Kty() != alg.Kty() {
				t.Fatalf("kty %s, want %s", k.Kty(), alg.Kty())
			}
			out, err := k.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("parse own output: %v\n%s", err, out)
			}
			if !back.Equal(k) || back.KID != k.KID || back.Alg != alg {
				t.Fatal("round trip changed the key")
			}
			// go-jose reads it too.
			var jk jose.JSONWebKey
			if err := jk.UnmarshalJSON(out); err != nil {
				t.Fatalf("go-jose: %v", err)
			}
			if jk.KeyID != "fixed" || jk.Algorithm != string(alg) {
				t.Fatalf("go-jose sees kid %q alg %q", jk.KeyID, jk.Algorithm)
			}
		})
	}
}

func TestGenerateRefusesWeak(t *testing.T) {
	for _, c := range []struct {
		alg  Algorithm
		opts GenerateOptions
	}{
		{RS256, GenerateOptions{RSABits: 1024}},
		{RS256, GenerateOptions{RSABits: 2047}},
		{RS256, GenerateOptions{RSABits: 5000}},
		{HS256, GenerateOptions{SecretBytes: 31}},
	} {
		if _, err := Generate(c.alg, c.opts); err == nil {
			t.Errorf("%s %+v: no error", c.alg, c.opts)
		}
	}
	if _, err := Generate("PS256", GenerateOptions{}); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("PS256: %v", err)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"es256": ES256, "ES256": ES256, "Rs256": RS256, "hs256": HS256, "EDDSA": EdDSA, "eddsa": EdDSA} {
		got, err := ParseAlgorithm(in)
		if err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "none", "PS256", "ES384", "ES256 "} {
		if _, err := ParseAlgorithm(in); err == nil {
			t.Errorf("ParseAlgorithm(%q): no error", in)
		}
	}
}

func TestNewKIDIsUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		id := NewKID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsAny(id[19:20], "89ab") || strings.ToLower(id) != id {
			t.Fatalf("not a lowercase UUID v4: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
}

// TestThumbprintRFC7638 checks the example of RFC 7638 section 3.1 and
// agreement with go-jose for every key type.
func TestThumbprintRFC7638(t *testing.T) {
	k, err := Parse([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint %s, want %s", got, want)
	}
	for _, alg := range []Algorithm{ES256, RS256, EdDSA} { // go-jose has no oct thumbprint
		k, _ := Generate(alg, GenerateOptions{})
		out, _ := k.MarshalJSON()
		var jk jose.JSONWebKey
		if err := jk.UnmarshalJSON(out); err != nil {
			t.Fatal(err)
		}
		want, err := jk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := k.Thumbprint()
		if got != b64.EncodeToString(want) {
			t.Errorf("%s: thumbprint %s, go-jose %s", alg, got, b64.EncodeToString(want))
		}
	}
}

func TestPublic(t *testing.T) {
	for _, alg := range []Algorithm{ES256, RS256, EdDSA} {
		k, _ := Generate(alg, GenerateOptions{})
		pub, err := k.Public()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := pub.MarshalJSON()
		if strings.Contains(string(out), `"d"`) || strings.Contains(string(out), `"p"`) {
			t.Fatalf("public form leaks private members: %s", out)
		}
		if pub.IsPrivate() || strings.Join(pub.KeyOps, ",") != "verify" || pub.Use != "sig" || pub.KID != k.KID || pub.Alg != alg {
			t.Fatalf("public envelope wrong: %s", out)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("public form does not parse: %v", err)
		}
	}
	k, _ := Generate(HS256, GenerateOptions{})
	if _, err := k.Public(); !errors.Is(err, ErrSymmetric) {
		t.Fatalf("HS256 public: %v", err)
	}
	set, err := PublicSet([]*Key{k})
	if err != nil || len(set.Keys) != 0 {
		t.Fatalf("PublicSet published a secret: %v %v", set, err)
	}
}

func TestPEMRoundTrip(t *testing.T) {
	for _, alg := range []Algorithm{ES256, RS256, EdDSA} {
		k, _ := Generate(alg, GenerateOptions{})
		p, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePEM(p)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Equal(k) || back.Alg != alg {
			t.Fatalf("%s PEM round trip changed the key", alg)
		}
		pub, _ := k.Public()
		pp, _ := pub.MarshalPEM()
		if !strings.HasPrefix(string(pp), "-----BEGIN PUBLIC KEY-----") {
			t.Fatalf("public PEM: %s", pp)
		}
		backPub, err := ParsePEM(pp)
		if err != nil || backPub.IsPrivate() || !backPub.Equal(pub) {
			t.Fatalf("public PEM round trip: %v", err)
		}
	}
}

func TestParsePEMFormats(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	cases := []struct {
		name    string
		data    []byte
		alg     Algorithm
		wantErr string
	}{
		{"SEC1", enc("EC PRIVATE KEY", sec1), ES256, ""},
		{"PKCS1", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), RS256, ""},
		{"PKCS1 public", enc("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rk.PublicKey)), RS256, ""},
		{"weak RSA", enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak)), "", "too weak"},
		{"P-384", enc("PRIVATE KEY", p384der), "", "P-384"},
		{"certificate", enc("CERTIFICATE", []byte{1}), "", "not a key"},
		{"garbage", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "", "the PRIVATE KEY block is not a valid PKCS#8 key"},
		{"two blocks", append(enc("EC PRIVATE KEY", sec1), enc("EC PRIVATE KEY", sec1)...), "", "more than one"},
		{"none", []byte("hello"), "", "no PEM block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParsePEM(c.data)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != c.alg {
				t.Fatalf("alg %s, want %s", k.Alg, c.alg)
			}
		})
	}
}
