package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// Channel is the LISTEN/NOTIFY channel every change to a keyring notifies,
// with the keyring's name as the payload.
const Channel = "keyctl_keyring"

// DefaultPollInterval is how often a replica checks the keyring's version
// in case a notification was lost (or a pooler does not pass LISTEN on).
const DefaultPollInterval = 30 * time.Second

// Published is what a replica serves: the public JWKS of the keyring's
// trusted keys, read from the public views alone, and the version it was
// read at.
type Published struct {
	Version int64
	Set     *jwk.Set
}

// LoadPublished reads the published keys through the public views, which
// is all a read-only role may see. The JWKS is built by the same code as
// for a file keyring, so every replica and every store publishes the same
// bytes for the same keys.
func (s *Store) LoadPublished(ctx context.Context, conn *pgx.Conn) (*Published, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, s.wrap(err)
	}
	defer tx.Rollback(context.Background())
	if err := checkSchema(ctx, tx, false); err != nil {
		return nil, s.wrap(err)
	}
	var version int64
	err = tx.QueryRow(ctx, "SELECT version FROM keyctl.keyring_versions WHERE keyring = $1", s.opts.Name).Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w %q in %s", ErrNotFound, s.opts.Name, Redact(s.uri))
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	rows, err := tx.Query(ctx, "SELECT kid, alg, state, public_jwk FROM keyctl.published_keys WHERE keyring = $1 ORDER BY position", s.opts.Name)
	if err != nil {
		return nil, s.wrap(err)
	}
	kr := &keyring.Keyring{}
	for rows.Next() {
		var kid, alg, state string
		var public []byte
		if err := rows.Scan(&kid, &alg, &state, &public); err != nil {
			rows.Close()
			return nil, s.wrap(err)
		}
		kr.Keys = append(kr.Keys, &keyring.Entry{KID: kid, Alg: jwk.Algorithm(alg), State: keyring.State(state),
			Material: &rowMaterial{kid: kid, alg: jwk.Algorithm(alg), public: public}})
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err)
	}
	set, err := kr.PublicJWKS()
	if err != nil {
		return nil, err
	}
	return &Published{Version: version, Set: set}, nil
}

// WatchOptions tune Watch.
type WatchOptions struct {
	// Poll is the version check interval (0: DefaultPollInterval).
	Poll time.Duration
	// NoListen relies on polling alone, for poolers that break LISTEN
	// (pgbouncer in transaction mode).
	NoListen bool
	// Retry is the pause before reconnecting after a failure (0: 1s).
	Retry time.Duration
}

// Watch calls load with every new published set: once connected, on
// every notification for this keyring, when the polled version moves, and
// after every reconnect. A failure (the database down, a timeout) calls
// fail and Watch reconnects on its own; it returns when ctx ends.
func (s *Store) Watch(ctx context.Context, o WatchOptions, load func(*Published), fail func(error)) {
	if o.Poll <= 0 {
		o.Poll = DefaultPollInterval
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	for ctx.Err() == nil {
		err := s.watchOnce(ctx, o, load)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			fail(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(o.Retry):
		}
	}
}

func (s *Store) watchOnce(ctx context.Context, o WatchOptions, load func(*Published)) error {
	cctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	conn, err := s.Connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if !o.NoListen {
		if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
			return s.wrap(err)
		}
	}
	reload := func() (int64, error) {
		qctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
		defer cancel()
		p, err := s.LoadPublished(qctx, conn)
		if err != nil {
			return 0, err
		}
		load(p)
		return p.Version, nil
	}
	version, err := reload()
	if err != nil {
		return err
	}
	next := time.Now().Add(o.Poll)
	for {
		wait := time.Until(next)
		if o.NoListen {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		} else if wait > 0 {
			wctx, cancel := context.WithTimeout(ctx, wait)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			switch {
			case ctx.Err() != nil:
				return nil
			case err == nil:
				if n.Payload == s.opts.Name {
					if version, err = reload(); err != nil {
						return err
					}
				}
				continue
			case !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout"):
				return s.wrap(err)
			}
		}
		// Poll: a lost notification still arrives within the interval.
		next = time.Now().Add(o.Poll)
		var now int64
		qctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
		err := conn.QueryRow(qctx, "SELECT version FROM keyctl.keyring_versions WHERE keyring = $1", s.opts.Name).Scan(&now)
		cancel()
		if err != nil {
			return s.wrap(err)
		}
		if now != version {
			if version, err = reload(); err != nil {
				return err
			}
		}
	}
}

// ReaderGrants returns the statements that make role a read-only role for
// serve replicas: it may read the public views and the schema version,
// and nothing else (docs/team.md shows the same statements).
func ReaderGrants(role, password string) []string {
	return []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, strings.ReplaceAll(password, "'", "''")),
		fmt.Sprintf("GRANT USAGE ON SCHEMA keyctl TO %s", role),
		fmt.Sprintf("GRANT SELECT ON keyctl.published_keys, keyctl.keyring_versions, keyctl.schema_migrations TO %s", role),
	}
}
