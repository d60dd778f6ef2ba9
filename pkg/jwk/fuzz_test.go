package jwk

import (
	"os"
	"path/filepath"
	"testing"
)

// seedKeys adds generated keys of every kind and the throw-away fixtures in
// testdata to a fuzz corpus.
func seedKeys(f *testing.F) {
	for _, alg := range Algorithms {
		k, _ := Generate(alg, GenerateOptions{})
		out, _ := k.MarshalJSON()
		f.Add(out)
		if pub, err := k.Public(); err == nil {
			b, _ := pub.MarshalJSON()
			f.Add(b)
		}
		if p, err := k.MarshalPEM(); err == nil {
			f.Add(p)
		}
	}
	files, _ := filepath.Glob("../../testdata/keys/*")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	if b, err := os.ReadFile("testdata/keycloak_jwks.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":""}`))
}

// FuzzParse: no input panics, and whatever parses re-encodes to a key that
// parses to the same key.
func FuzzParse(f *testing.F) {
	seedKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Parse(data)
		if err != nil {
			return
		}
		out, err := k.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed key does not encode: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded key does not parse: %v\n%s", err, out)
		}
		if !back.Equal(k) || back.KID != k.KID || back.Alg != k.Alg {
			t.Fatal("round trip changed the key")
		}
		if _, err := k.Thumbprint(); err != nil {
			t.Fatalf("thumbprint: %v", err)
		}
	})
}

// FuzzParseAny covers the array, set and PEM paths.
func FuzzParseAny(f *testing.F) {
	seedKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseAny(data)
		if err != nil {
			return
		}
		for _, k := range keys {
			if k.Kty() == "" {
				t.Fatal("parsed a key with no type")
			}
		}
	})
}

// FuzzParseSet: a JWKS read from outside never yields private material.
func FuzzParseSet(f *testing.F) {
	seedKeys(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := ParseSet(data, ParseSetOptions{})
		if err != nil {
			return
		}
		for _, k := range set.Keys {
			if k.IsPrivate() {
				t.Fatalf("JWKS yielded private material for kid %q", k.KID)
			}
		}
	})
}
