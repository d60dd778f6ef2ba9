package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyctl/keyctl/pkg/keyring"
)

// ErrSameSeal refuses a reseal that changes nothing.
var ErrSameSeal = errors.New("the keyring is already sealed that way")

// Reseal seals every private key of the keyring again under a new data key
// wrapped by scheme's secret from next (or stores them unsealed, for
// SchemePlaintext), in one transaction: every key opens with the old
// secret first, so a wrong one fails before anything is written.
func (s *Store) Reseal(ctx context.Context, scheme string, next Secrets, st keyring.Stamp) (*Keyring, error) {
	conn, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	kr, err := s.reseal(ctx, conn, scheme, next, st)
	return kr, s.wrap(err)
}

func (s *Store) reseal(ctx context.Context, conn *pgx.Conn, scheme string, next Secrets, st keyring.Stamp) (*Keyring, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", s.opts.LockTimeout.Milliseconds())); err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, tx, true); err != nil {
		return nil, err
	}
	// A reseal writes history stamped by this machine's clock: the same
	// bound as every other write.
	if s.opts.Now != nil {
		var dbNow time.Time
		if err := tx.QueryRow(ctx, "SELECT statement_timestamp()").Scan(&dbNow); err != nil {
			return nil, err
		}
		if local := s.opts.Now(); local.Sub(dbNow).Abs() > MaxClockSkew {
			return nil, &ClockSkewError{Local: local, Database: dbNow}
		}
	}
	r, err := s.readRow(ctx, tx, true)
	if err != nil {
		return nil, err
	}
	if scheme == r.scheme && scheme == SchemePlaintext {
		return nil, ErrSameSeal
	}
	kr, _, err := s.readKeys(ctx, tx, r, s.sealerFor(r), false)
	if err != nil {
		return nil, err
	}
	seal, err := newSealer(s.opts.Name, scheme, next)
	if err != nil {
		return nil, err
	}
	for _, e := range kr.Keys {
		if e.Material == nil {
			continue
		}
		_, sealed, err := s.material(e, seal)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, "UPDATE keyctl.keys SET private_sealed = $3 WHERE keyring = $1 AND kid = $2",
			s.opts.Name, e.KID, *sealed); err != nil {
			return nil, err
		}
	}
	var wrapped *string
	action, note := keyring.ActionEncrypt, "private keys sealed with a "+scheme
	if seal != nil {
		wrapped = &seal.wrapped
		if scheme == SchemePassphrase {
			note = fmt.Sprintf("private keys sealed with a passphrase (PBES2-HS256+A128KW, %d iterations)", PBES2Iterations)
		}
	} else {
		action, note = keyring.ActionDecrypt, "private keys stored unsealed"
	}
	kr.Note(action, st, note)
	w := &writes{}
	s.appendHistory(w, kr.History, 0)
	w.queue("", `UPDATE keyctl.keyrings SET version = version + 1, seal_scheme = $2, seal = $3, updated_at = now()
		WHERE name = $1 RETURNING version`, s.opts.Name, scheme, wrapped)
	if err := w.send(ctx, tx, []any{&kr.Version}); err != nil {
		return nil, err
	}
	kr.Scheme = scheme
	return kr, tx.Commit(ctx)
}
