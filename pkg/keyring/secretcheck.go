package keyring

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A deleted shared secret's tombstone keeps a check value instead of a
// thumbprint. The RFC 7638 thumbprint of an oct key is an unsalted SHA-256
// of the secret in a fixed template: kept after deletion (and shown by
// keys show), it would let anyone who reads the keyring confirm a guessed
// secret at the speed of one hash, and a JWT secret chosen by a person (a
// Supabase project's legacy secret) may still be in use elsewhere. The
// check value is PBKDF2-HMAC-SHA256 over the secret with a random salt:
//
//	pbkdf2-sha256$ITERATIONS$SALT$KEY     (SALT and KEY in base64url)
//
// It still lets keyctl recognise the same secret brought back under
// another kid, at a cost per guess OWASP sets for stored passwords.

// SecretCheckIterations is the PBKDF2 iteration count of new check values
// (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
const SecretCheckIterations = 600_000

// secretCheckIterations is what NewSecretCheck uses: SecretCheckIterations,
// lowered to the floor by this package's tests (under the race detector
// one run at 600,000 takes about a second). The binary's end-to-end
// scripts check the real count.
var secretCheckIterations = SecretCheckIterations

// The iteration counts a check value read from a keyring may have: below
// the floor it would not slow a guess down; above the ceiling a crafted
// keyring could make every import hang.
const (
	minSecretCheckIterations = 100_000
	maxSecretCheckIterations = 10_000_000
)

const secretCheckScheme = "pbkdf2-sha256"

var b64url = base64.RawURLEncoding.Strict()

// NewSecretCheck returns a check value for secret.
func NewSecretCheck(secret []byte) (string, error) {
	salt := make([]byte, 16)
	rand.Read(salt)
	dk, err := pbkdf2.Key(sha256.New, string(secret), salt, secretCheckIterations, sha256.Size)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s$%d$%s$%s", secretCheckScheme, secretCheckIterations, b64url.EncodeToString(salt), b64url.EncodeToString(dk)), nil
}

type secretCheck struct {
	iter      int
	salt, key []byte
}

// ParseSecretCheck reports whether s is a well-formed check value.
func ParseSecretCheck(s string) error {
	_, err := parseSecretCheck(s)
	return err
}

func parseSecretCheck(s string) (*secretCheck, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != secretCheckScheme {
		return nil, fmt.Errorf("secret check %q is not %s$ITERATIONS$SALT$KEY", s, secretCheckScheme)
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || strconv.Itoa(iter) != parts[1] || iter < minSecretCheckIterations || iter > maxSecretCheckIterations {
		return nil, fmt.Errorf("secret check: iterations %q are not a number from %d to %d", parts[1], minSecretCheckIterations, maxSecretCheckIterations)
	}
	// Canonical base64url only: the decoder skips CR and LF, and a
	// value must read back as written.
	salt, err := b64url.DecodeString(parts[2])
	if err != nil || len(salt) < 16 || len(salt) > 64 || b64url.EncodeToString(salt) != parts[2] {
		return nil, errors.New("secret check: the salt is not 16 to 64 bytes of base64url")
	}
	key, err := b64url.DecodeString(parts[3])
	if err != nil || len(key) != sha256.Size || b64url.EncodeToString(key) != parts[3] {
		return nil, errors.New("secret check: the key is not 32 bytes of base64url")
	}
	return &secretCheck{iter: iter, salt: salt, key: key}, nil
}

// matchSecretCheck reports whether secret is the one check was made from.
func matchSecretCheck(check string, secret []byte) (bool, error) {
	c, err := parseSecretCheck(check)
	if err != nil {
		return false, err
	}
	dk, err := pbkdf2.Key(sha256.New, string(secret), c.salt, c.iter, len(c.key))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(dk, c.key) == 1, nil
}
