package jwk

import (
	"os"
	"testing"
)

// The parse benchmarks time the JSON side of reading a key: a shared
// secret and an Ed25519 public key cost little else, and the Keycloak set
// is mostly member names and base64 strings.

func benchParse(b *testing.B, alg Algorithm, public bool) {
	k, err := Generate(alg, GenerateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if public {
		if k, err = k.Public(); err != nil {
			b.Fatal(err)
		}
	}
	data, err := k.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHS256(b *testing.B)       { benchParse(b, HS256, false) }
func BenchmarkParseEdDSAPublic(b *testing.B) { benchParse(b, EdDSA, true) }
func BenchmarkParseSetKeycloak(b *testing.B) {
	data, err := os.ReadFile("testdata/keycloak_jwks.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSet(data, ParseSetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
