package jwk_test

import (
	"fmt"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// Generate a key, publish its public half, and read it back.
func Example() {
	key, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: "example"})
	if err != nil {
		panic(err)
	}
	pub, _ := key.Public()
	set, _ := jwk.PublicSet([]*jwk.Key{key})
	data, _ := pub.MarshalJSON()
	back, _ := jwk.Parse(data)
	fmt.Println(back.KID, back.Alg, back.IsPrivate(), len(set.Keys), back.KeyOps)
	// Output: example ES256 false 1 [verify]
}

func ExampleParseAlgorithm() {
	alg, _ := jwk.ParseAlgorithm("eddsa")
	fmt.Println(alg, alg.Kty())
	// Output: EdDSA OKP
}
