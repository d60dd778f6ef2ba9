// Package serve is keyctl's JWKS discovery endpoint: an http.Handler that
// publishes the public form of a key source (the keyring, or a Supabase
// signing_keys.json) the way Supabase Auth does, and reloads the source when
// its file changes.
package serve

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// Publish returns the JWKS document for set: the public form of every
// asymmetric key (use "sig", key_ops ["verify"]), in order, as one compact
// JSON line. Shared secrets are skipped and private members are never
// written, whatever the source hands over: the key set is re-derived here
// and the result is parsed back as a public JWKS before it is served.
func Publish(set *jwk.Set) ([]byte, int, error) {
	body, n, _, err := publish(set)
	return body, n, err
}

// publish is Publish that also counts the shared secrets left out.
func publish(set *jwk.Set) ([]byte, int, int, error) {
	out := &jwk.Set{Keys: []*jwk.Key{}}
	skipped := 0
	if set != nil {
		for _, k := range set.Keys {
			if k == nil {
				continue
			}
			if k.IsSymmetric() {
				skipped++
				continue
			}
			pub, err := k.Public()
			if err != nil {
				return nil, 0, 0, fmt.Errorf("key %q: %w", k.KID, err)
			}
			out.Keys = append(out.Keys, pub)
		}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, 0, 0, err
	}
	// The last line of defence: what leaves the server must be a JWKS a
	// strict verifier accepts, with no private member, no shared secret and
	// no duplicate kid.
	if _, err := jwk.ParseSet(body, jwk.ParseSetOptions{}); err != nil {
		return nil, 0, 0, fmt.Errorf("refusing to publish: %w", err)
	}
	return append(body, '\n'), len(out.Keys), skipped, nil
}

// ETag returns the strong entity tag of a JWKS body: a hash of its exact
// bytes, so two servers publishing the same keys agree on it.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}
