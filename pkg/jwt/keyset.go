package jwt

import "github.com/keyctl/keyctl/pkg/jwk"

// Key states as the verifier sees them. They mirror pkg/keyring's states
// (and Supabase's Management API names); keys from a JWKS file, URL or
// --key have no state ("").
const (
	StateStandby        = "standby"
	StateInUse          = "in_use"
	StatePreviouslyUsed = "previously_used"
	StateRevoked        = "revoked"
	StateDeleted        = "deleted"
)

// TrustedKey is one key a verifier may be asked to use.
type TrustedKey struct {
	// Key is the verification material: a public key, or the shared secret
	// for HS256. Its Alg is the only algorithm it verifies. Material may be
	// nil for a deleted key or a revoked shared secret: such a key is kept
	// only so that the verifier can name its state.
	Key *jwk.Key
	// State is the keyring state; "" for keys from outside a keyring.
	// Revoked and deleted keys are kept so the verifier can say so.
	State string
	// Legacy marks the keyring's legacy HS256 secret, which verifies
	// tokens that carry no kid (Supabase's anon and service_role keys).
	Legacy bool
	// Locked marks a trusted key whose material could not be read (a
	// shared secret in an encrypted keyring opened without a passphrase).
	// It still takes part in choosing the key, so the verdict never
	// depends on whether a passphrase was given: a token it would verify
	// gets a *KeyUnavailableError, not another key.
	Locked bool
}
