package keyring

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, for errors.Is. The typed errors below carry the details.
var (
	// ErrNoSigningKey: no key is in use (nothing was ever rotated in).
	ErrNoSigningKey = errors.New("no key is in use")
	// ErrUnknownKID: no key (not even a tombstone) has the kid.
	ErrUnknownKID = errors.New("no key with that kid")
	// ErrKIDTaken: a new key would reuse a kid, possibly a deleted one's.
	ErrKIDTaken = errors.New("kid already used in this keyring")
	// ErrDuplicateKey: the same key material is already in the keyring.
	ErrDuplicateKey = errors.New("key already in the keyring")
	// ErrNoStandbyKey: rotate found no standby key to put in use.
	ErrNoStandbyKey = errors.New("no standby key to rotate to")
	// ErrLegacyExists: the keyring already holds a legacy secret.
	ErrLegacyExists = errors.New("the keyring already holds a legacy JWT secret")
	// ErrLegacyDelete: deleting the legacy secret needs force, as on the
	// platform, because legacy API keys signed with it stop working.
	ErrLegacyDelete = errors.New("the legacy JWT secret is not deleted without force")
	// ErrInvalid: the keyring breaks an invariant (see Keyring.Check).
	ErrInvalid = errors.New("invalid keyring")
)

// verbs phrase moves in messages.
var verbs = map[Action]string{
	ActionRotate:  "rotate to",
	ActionRevoke:  "revoke",
	ActionStandby: "move to standby",
	ActionDelete:  "delete",
}

// Label turns a state into the words people read ("in use").
func (s State) Label() string { return strings.ReplaceAll(string(s), "_", " ") }

// TransitionError is a move the lifecycle refuses: it names the key, its
// state, the state the move leads to, and the moves its state allows.
type TransitionError struct {
	KID     string
	Action  Action
	From    State
	To      State
	Allowed []Action
}

func (e *TransitionError) Error() string {
	if e.From == e.To {
		return fmt.Sprintf("cannot %s key %q: it is already %s", verbs[e.Action], e.KID, e.From.Label())
	}
	msg := fmt.Sprintf("cannot %s key %q: it is %s", verbs[e.Action], e.KID, e.From.Label())
	if len(e.Allowed) > 0 {
		names := make([]string, len(e.Allowed))
		for i, a := range e.Allowed {
			names[i] = string(a)
		}
		msg += fmt.Sprintf(" (a %s key can: %s)", e.From.Label(), strings.Join(names, ", "))
	}
	return msg
}

// TooEarlyError refuses to stop trusting a key that was rotated out less
// than the max token lifetime plus RevocationGrace ago: tokens it signed may
// still be live.
type TooEarlyError struct {
	KID              string
	Action           Action
	RotatedOut       time.Time
	SafeAt           time.Time
	MaxTokenLifetime time.Duration
}

func (e *TooEarlyError) Error() string {
	return fmt.Sprintf("key %q was in use until %s: tokens it signed may be valid until %s (max token lifetime %s + %s)",
		e.KID, e.RotatedOut.UTC().Format(time.RFC3339), e.SafeAt.UTC().Format(time.RFC3339), shortDuration(e.MaxTokenLifetime), shortDuration(RevocationGrace))
}

// RetiredKeyError refuses a new key whose material is that of a revoked or
// deleted key (a tombstone matches by its RFC 7638 thumbprint, or a shared
// secret's by its check value): a key taken out of trust must not come
// back under another kid unnoticed.
type RetiredKeyError struct {
	KID       string // the revoked or deleted key
	State     State
	Symmetric bool // a shared secret
}

func (e *RetiredKeyError) Error() string {
	same := "same RFC 7638 thumbprint"
	if e.Symmetric {
		same = "same secret"
	}
	return fmt.Sprintf("this is the key of %s key %q (%s): a key taken out of trust does not come back under another kid", e.State.Label(), e.KID, same)
}

// RotationTooEarlyError refuses to rotate to a key published less than the
// JWKS cache window ago while another key is in use: verifiers that cached
// the JWKS before it was published would reject every token it signs.
type RotationTooEarlyError struct {
	KID       string
	InUse     string // the key in use now
	Published time.Time
	SafeAt    time.Time
	Window    time.Duration
}

func (e *RotationTooEarlyError) Error() string {
	return fmt.Sprintf("key %q is published only since %s: verifiers that cached the JWKS before then reject its tokens until %s (JWKS cache window %s)",
		e.KID, e.Published.UTC().Format(time.RFC3339), e.SafeAt.UTC().Format(time.RFC3339), shortDuration(e.Window))
}

// AmbiguousRotationError: rotate without a kid found several standby keys.
type AmbiguousRotationError struct {
	Standby []string
}

func (e *AmbiguousRotationError) Error() string {
	return fmt.Sprintf("%d standby keys (%s): name the one to rotate to", len(e.Standby), strings.Join(e.Standby, ", "))
}

// NotUsableError: a key named for signing is in a state that cannot sign.
type NotUsableError struct {
	KID   string
	State State
}

func (e *NotUsableError) Error() string {
	return fmt.Sprintf("key %q is %s and cannot sign (only the key in use or a standby key can)", e.KID, e.State.Label())
}

// shortDuration prints 1h0m0s as 1h and 15m0s as 15m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ShortDuration formats a duration without zero trailing units ("1h",
// "1h30m", "15m"), as messages and the keyring file show them.
func ShortDuration(d time.Duration) string { return shortDuration(d) }
