// Package supabasecompat reproduces, for tests, how Supabase's own software
// reads keyctl's output. It is imported by tests only, so its dependencies
// never reach the keyctl binary.
package supabasecompat

import (
	"encoding/json"
	"errors"
	"fmt"

	lestrrat "github.com/lestrrat-go/jwx/v2/jwk"
)

// LoadAuthKeys mirrors how Supabase Auth (GoTrue) loads
// GOTRUE_JWT_KEYS / signing_keys.json with lestrrat-go/jwx v2: parse every
// key, derive and validate its public form, and require exactly one key
// with "sign" in key_ops. Auth refuses to start when this fails.
func LoadAuthKeys(data []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return err
	}
	signing := 0
	for i, raw := range raws {
		priv, err := lestrrat.ParseKey(raw)
		if err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		if err := priv.Validate(); err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		// As Auth does for every key, symmetric ones included.
		pub, err := lestrrat.PublicKeyOf(priv)
		if err != nil {
			return fmt.Errorf("key %d: %w", i, err)
		}
		if pub != nil {
			if err := pub.Validate(); err != nil {
				return fmt.Errorf("key %d public: %w", i, err)
			}
		}
		for _, op := range priv.KeyOps() {
			if op == lestrrat.KeyOpSign {
				signing++
				break
			}
		}
	}
	switch {
	case signing == 0:
		return errors.New("no signing key detected")
	case signing > 1:
		return errors.New("multiple signing keys detected, only 1 signing key is supported")
	}
	return nil
}
