// Command gojose is the baseline of keyctl's start-up benchmark: the least
// a Go program needs to do what `keyctl gen bearer-jwt --key KEY --role
// ROLE` does with go-jose v4. It reads a private JWK, signs the Supabase
// claims (iat, exp, role, is_anonymous) with the header {"alg","kid","typ"}
// and prints the token. testdata/bench/peers.sh builds and times it.
//
// It lives under testdata so that `go build ./...` and `go vet ./...` of
// keyctl skip it; it builds with keyctl's go.mod (go-jose is a dependency).
package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gojose KEY.json ROLE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(data); err != nil {
		fail(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KeyID))
	if err != nil {
		fail(err)
	}
	now := time.Now().Unix()
	role := os.Args[2]
	claims := map[string]any{"iat": now, "exp": now + 1800, "role": role}
	if strings.EqualFold(role, "authenticated") {
		claims["is_anonymous"] = true
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		fail(err)
	}
	fmt.Println(tok)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gojose:", err)
	os.Exit(1)
}
