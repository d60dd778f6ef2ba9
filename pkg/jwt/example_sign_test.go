package jwt_test

import (
	"fmt"
	"os"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/jwt"
)

func exampleKey(name string) *jwk.Key {
	data, err := os.ReadFile("testdata/keys/" + name)
	if err != nil {
		panic(err)
	}
	k, err := jwk.Parse(data)
	if err != nil {
		panic(err)
	}
	return k
}

// The claims `keyctl gen bearer-jwt --role authenticated` signs: Supabase's,
// with an anonymous user's is_anonymous.
func ExampleBuildClaims() {
	claims, err := jwt.BuildClaims(jwt.ClaimOptions{
		Role:     "authenticated",
		Now:      time.Unix(1767225600, 0),
		ValidFor: 30 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	out, _ := jwt.MarshalClaims(claims)
	fmt.Println(string(out))
	// Output: {"exp":1767227400,"iat":1767225600,"is_anonymous":true,"role":"authenticated"}
}

// MarshalClaims writes what encoding/json writes, sorted and HTML-escaped.
func ExampleMarshalClaims() {
	out, _ := jwt.MarshalClaims(map[string]any{"sub": "user-1", "email": "<dev@example.com>", "aud": []string{"a", "b"}})
	fmt.Println(string(out))
	// Output: {"aud":["a","b"],"email":"\u003cdev@example.com\u003e","sub":"user-1"}
}

// Ed25519 signatures are deterministic, so this token is always the same.
func ExampleSigner_Sign() {
	s, err := jwt.NewSigner(exampleKey("throwaway-eddsa.json"))
	if err != nil {
		panic(err)
	}
	tok, err := s.Sign(map[string]any{"role": "anon", "iat": 1767225600, "exp": 1767227400})
	if err != nil {
		panic(err)
	}
	fmt.Println(tok)
	// Output: eyJhbGciOiJFZERTQSIsImtpZCI6InRocm93YXdheS1lZGRzYSIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3NjcyMjc0MDAsImlhdCI6MTc2NzIyNTYwMCwicm9sZSI6ImFub24ifQ.FuHYg7OLvi6DZHECXNTooLsP-gddlQDMX3EJ-9MOghPbrO5XnhoTWG6pD4l2A8WRgEmL5KLHTj11N8ctzZDaCQ
}

// A Series mints tokens that differ only in one member, here the jti, at
// little more than the cost of the signature.
func ExampleSigner_NewSeries() {
	s, err := jwt.NewSigner(exampleKey("throwaway-hs256.json"))
	if err != nil {
		panic(err)
	}
	claims := map[string]any{"role": "service_role", "iat": 1767225600, "exp": 1767227400}
	series, err := s.NewSeries(claims, "jti", 4)
	if err != nil {
		panic(err)
	}
	var buf []byte
	for _, jti := range []string{"id-1", "id-2"} {
		buf, err = series.Append(buf[:0], []byte(jti))
		if err != nil {
			panic(err)
		}
		same, _ := s.Sign(map[string]any{"role": "service_role", "iat": 1767225600, "exp": 1767227400, "jti": jti})
		fmt.Println(string(buf) == same)
	}
	// Output:
	// true
	// true
}
