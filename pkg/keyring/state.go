// Package keyring is keyctl's key lifecycle model, the one Supabase's "JWT
// signing keys" page describes: keys move through standby, in use,
// previously used and revoked; every move is reversible except delete; and
// the keys a verifier trusts follow from the states.
//
// The package is pure: no files, no clock, no randomness. Callers pass the
// time and the actor of every change, generate keys themselves, and persist
// the Keyring with internal/store. Key material is reached through the
// Material interface so a store can parse (or decrypt) only the keys a
// command needs.
package keyring

import (
	"slices"
	"time"

	"github.com/keyctl/keyctl/pkg/jwt"
)

// State is where a key stands in its lifecycle. The strings are Supabase's
// Management API names, shared with the verifier (pkg/jwt).
type State string

// The lifecycle states.
const (
	// Standby keys are published in the JWKS and trusted, but sign nothing
	// until rotated into use.
	Standby State = jwt.StateStandby
	// InUse is the one key that signs new tokens.
	InUse State = jwt.StateInUse
	// PreviouslyUsed keys signed tokens that may still be live: trusted and
	// published until revoked.
	PreviouslyUsed State = jwt.StatePreviouslyUsed
	// Revoked keys are no longer trusted, but keep their private material
	// so they can be moved back to standby.
	Revoked State = jwt.StateRevoked
	// Deleted keys are tombstones: the private material is destroyed, the
	// kid stays reserved so it is never reused.
	Deleted State = jwt.StateDeleted
)

// States lists every state in lifecycle order.
var States = []State{Standby, InUse, PreviouslyUsed, Revoked, Deleted}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Trusted reports whether a key in state s verifies tokens (and, if it is
// asymmetric, is published in the JWKS).
func (s State) Trusted() bool { return s == Standby || s == InUse || s == PreviouslyUsed }

// CanSign reports whether a key in state s may sign when named explicitly:
// the key in use, or a standby key (to test it before rotating).
func (s State) CanSign() bool { return s == Standby || s == InUse }

// Action names a change to the keyring, as recorded in its history.
type Action string

// Actions. Rotate, Revoke, Standby and Delete move an existing key and are
// governed by the transition table; the others add keys or change settings.
const (
	ActionCreate         Action = "create"
	ActionImport         Action = "import"
	ActionImportSupabase Action = "import-supabase"
	ActionMigrateLegacy  Action = "migrate-legacy"
	ActionRotate         Action = "rotate"
	ActionRetire         Action = "retire" // the old key's side of a rotation
	ActionRevoke         Action = "revoke"
	ActionStandby        Action = "standby"
	ActionDelete         Action = "delete"
	ActionSetLifetime    Action = "set-max-token-lifetime"
	ActionSetCacheWindow Action = "set-jwks-cache-window"
	ActionEncrypt        Action = "encrypt"
	ActionDecrypt        Action = "decrypt"
	ActionCopy           Action = "copy" // the keyring copied from another store
)

// Moves lists the actions that move an existing key, in the order the
// transition table is read.
var Moves = []Action{ActionRotate, ActionRevoke, ActionStandby, ActionDelete}

// transitions is the lifecycle: for each move, the states it applies to and
// the state it leads to. Anything not listed is refused. Rotating also moves
// the key in use to PreviouslyUsed (ActionRetire); that is part of Rotate,
// not a move a user asks for.
var transitions = map[Action]map[State]State{
	ActionRotate:  {Standby: InUse},
	ActionRevoke:  {PreviouslyUsed: Revoked, Standby: Revoked},
	ActionStandby: {PreviouslyUsed: Standby, Revoked: Standby},
	ActionDelete:  {Standby: Deleted, Revoked: Deleted},
}

// Next returns the state move leads to from, and whether the lifecycle
// allows it.
func Next(move Action, from State) (State, bool) {
	to, ok := transitions[move][from]
	return to, ok
}

// Allowed lists the moves a key in state from may make, in Moves order.
func Allowed(from State) []Action {
	var out []Action
	for _, a := range Moves {
		if _, ok := transitions[a][from]; ok {
			out = append(out, a)
		}
	}
	return out
}

// StatesFor lists the states move applies to, in States order (for shell
// completion: `keys rotate <TAB>` offers standby keys only).
func StatesFor(move Action) []State {
	var out []State
	for _, s := range States {
		if _, ok := transitions[move][s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// DefaultMaxTokenLifetime is the longest token lifetime assumed when the
// keyring records none: Supabase Auth's default access-token lifetime.
const DefaultMaxTokenLifetime = time.Hour

// DefaultJWKSCacheWindow is how long verifiers are assumed to cache the
// JWKS when the keyring records nothing: Supabase's edge and client caches,
// 10 minutes each.
const DefaultJWKSCacheWindow = 20 * time.Minute

// RevocationGrace is added to the max token lifetime before a key that was
// rotated out may be revoked: Supabase's guidance (token lifetime plus 15
// minutes) covers clock skew and tokens minted just before the rotation.
const RevocationGrace = 15 * time.Minute

// Stamp says when a change happened and who made it (user@host); every
// action takes one and records it in the history.
type Stamp struct {
	At time.Time
	By string
}

// Event is one line of the keyring's history.
type Event struct {
	At     time.Time
	Action Action
	KID    string // "" for keyring-wide changes
	From   State  // "" for a new key
	To     State
	By     string
	Note   string // e.g. "forced", "max token lifetime 2h0m0s"
}
