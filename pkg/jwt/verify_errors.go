package jwt

import (
	"errors"
	"strings"
)

// Check names one verification check. The names are stable: scripts read
// them from `keyctl verify --each-line` output and docs/verification.md
// lists them with their reasons.
type Check string

// The checks, in the order Verify runs them.
const (
	CheckSize       Check = "size"        // token over MaxTokenBytes
	CheckSegments   Check = "segments"    // not exactly three dot-separated segments
	CheckEncoding   Check = "encoding"    // a segment is not canonical unpadded base64url
	CheckHeader     Check = "header"      // header is not one JSON object of the right member types
	CheckDuplicate  Check = "duplicate"   // a member name repeats in header or claims
	CheckAlgNone    Check = "alg-none"    // alg "none" in any letter case
	CheckAlg        Check = "alg"         // alg missing, unsupported or not allowed by policy
	CheckHeaderKey  Check = "header-key"  // jwk, jku, x5u or x5c in the header
	CheckCrit       Check = "crit"        // any crit header
	CheckTyp        Check = "typ"         // typ other than JWT
	CheckKIDUnknown Check = "kid-unknown" // kid names no trusted key
	CheckKIDMissing Check = "kid-missing" // no kid and more than one key could be meant
	CheckKeyState   Check = "key-state"   // the key is revoked, deleted or may not verify
	CheckAlgKey     Check = "alg-key"     // alg is not the one algorithm the key verifies
	CheckSigFormat  Check = "sig-format"  // signature of the wrong shape (DER, zero r or s, length)
	CheckSignature  Check = "signature"   // signature does not verify
	CheckClaims     Check = "claims"      // claims are not one JSON object
	CheckExp        Check = "exp"         // exp missing, not a number, or passed
	CheckNbf        Check = "nbf"         // nbf not a number or in the future
	CheckIat        Check = "iat"         // iat not a number or in the future
	CheckSub        Check = "sub"         // sub not a non-empty string, or not the expected one
	CheckRole       Check = "role"        // role not a non-empty string, or not the expected one
	CheckIss        Check = "iss"         // iss not a string, or not the expected one
	CheckAud        Check = "aud"         // aud of the wrong type, or without the expected audience
	CheckRequired   Check = "required"    // a claim the policy requires is missing
)

// Failure is one failed check and the reason, a sentence for people.
type Failure struct {
	Check  Check
	Reason string
}

// ErrRejected matches every *ValidationError with errors.Is, so callers can
// tell "the token is bad" from "the token could not be checked".
var ErrRejected = errors.New("token rejected")

// ValidationError lists every check a token failed. Verify returns it with
// no claims: a rejected token's contents are never handed out as verified.
type ValidationError struct {
	Failures []Failure

	// UnknownKID is the token's kid when it named no key of the set, so a
	// caller holding a remote JWKS can refetch it once and try again.
	UnknownKID string
}

// Error joins the reasons on one line.
func (e *ValidationError) Error() string {
	return "token rejected: " + strings.Join(e.Reasons(), "; ")
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *ValidationError) Is(target error) bool { return target == ErrRejected }

// Reasons returns the reason of every failed check, in check order.
func (e *ValidationError) Reasons() []string {
	out := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Reason
	}
	return out
}

// Checks returns the name of every failed check, in check order.
func (e *ValidationError) Checks() []Check {
	out := make([]Check, len(e.Failures))
	for i, f := range e.Failures {
		out[i] = f.Check
	}
	return out
}

// Has reports whether check c failed.
func (e *ValidationError) Has(c Check) bool {
	for _, f := range e.Failures {
		if f.Check == c {
			return true
		}
	}
	return false
}

// KeyUnavailableError reports a token whose key is trusted but locked (see
// TrustedKey.Locked): the token could not be checked, which is not the same
// as rejected.
type KeyUnavailableError struct {
	KID   string
	Label string
}

func (e *KeyUnavailableError) Error() string {
	return e.Label + " is encrypted and no passphrase was given, so the token could not be checked"
}
