// Package pgstore keeps keyrings in PostgreSQL: one row per keyring with a
// version every change bumps, one row per key with its private material
// sealed by keyctl before it reaches the database, and an append-only
// history. Writers serialize on the keyring's row; every change commits
// whole or not at all, and notifies serve replicas through LISTEN/NOTIFY.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

// DefaultName is the keyring a database holds when none is named.
const DefaultName = "default"

// DefaultLockTimeout bounds the wait for another writer's transaction.
const DefaultLockTimeout = 10 * time.Second

// ConnectTimeout bounds connecting to the server.
const ConnectTimeout = 10 * time.Second

// IsURI reports whether s names a PostgreSQL keyring.
func IsURI(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

var dsnPassword = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
})

// LooksLikeDSN reports whether location is a libpq key=value connection
// string ("host=db user=ops dbname=keys"), which keyctl does not take as
// a keyring (and must never take for a file name, password and all): it
// starts with "key=" and names a libpq setting, or it sets a password
// anywhere. A file whose name starts so is named "./user=x.json".
func LooksLikeDSN(location string) bool {
	if strings.Contains(location, "://") {
		return false
	}
	return dsnStart().MatchString(location) && dsnKeyword().MatchString(location) || dsnPasswordKey().MatchString(location)
}

var (
	dsnStart   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`) })
	dsnKeyword = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|passfile|service|servicefile|sslmode|sslrootcert|sslcert|sslkey|sslpassword|sslnegotiation|options|application_name|connect_timeout|target_session_attrs|load_balance_hosts|require_auth|channel_binding|gssencmode|krbsrvname|keepalives[a-z_]*|tcp_user_timeout|min_read_buffer_size)\s*=`)
	})
	dsnPasswordKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)password\s*=`) })
	// queryPassword: a setting whose name holds "password" and all that
	// follows it, wherever it sits (after "?", "&", ";", or a second "?").
	queryPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)(password[^=&?;/]*=).*`) })
)

// Redact returns uri with any password replaced by "xxxxx", for every
// message, log line and listing. It errs on the side of hiding, so that
// whatever libpq, pgx or a typo makes of the text, no password shows:
//   - the user part: from the first ":" to the last "@" anywhere in the
//     URI (a password may hold "/", "#", "?" or "@" unescaped);
//   - from any setting whose name holds "password" (password,
//     sslpassword, ...) to the end, wherever it sits;
//   - in a key=value connection string, every password= value.
//
// Any scheme is handled alike, so a mistyped "Postgres://" or
// "postgresql+ssl://" is hidden too.
func Redact(uri string) string {
	i := strings.Index(uri, "://")
	if i < 0 {
		return dsnPassword().ReplaceAllString(uri, "${1}xxxxx")
	}
	head, rest := uri[:i+3], uri[i+3:]
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if c := strings.IndexByte(rest, ':'); c >= 0 && c < at {
			rest = rest[:c] + ":xxxxx" + rest[at:]
		}
	}
	if queryPassword().MatchString(rest) {
		return head + queryPassword().ReplaceAllString(rest, "${1}xxxxx")
	}
	if strings.Contains(rest, "%") && queryPassword().MatchString(lenientUnescape(rest)) {
		// A setting name spelled with escapes ("pass%77ord"): hide the
		// whole query.
		if q := strings.IndexByte(rest, '?'); q >= 0 {
			return head + rest[:q+1] + "xxxxx"
		}
		return head + "xxxxx"
	}
	return head + rest
}

// lenientUnescape decodes every valid %XX of s and keeps the rest.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Options tune a Store.
type Options struct {
	// Name is the keyring within the database (DefaultName when empty).
	Name string
	// Secrets open the seal (and make one for a new keyring).
	Secrets Secrets
	// Create makes Update start an empty keyring when none exists, sealed
	// with CreateScheme.
	Create       bool
	CreateScheme string
	// LockTimeout bounds the wait for another writer (0: default).
	LockTimeout time.Duration
	// History makes Load read the history too.
	History bool
	// Warn receives warnings (every write to a plaintext keyring warns).
	Warn func(format string, args ...any)
	// Replace makes Update write fn's keyring whole: the keyring's key rows
	// are deleted and fn's keys inserted, in the same transaction (keys
	// copy --force). The history stays append-only: fn's new events are
	// added to it.
	Replace bool
	// Now is the clock the caller stamps its changes with. When set, a
	// write is refused if it is more than MaxClockSkew away from the
	// database server's: revocation and rotation waits are timed by the
	// writers' clocks, so a machine with a wrong clock must not write.
	Now func() time.Time
}

// MaxClockSkew bounds the difference between a writer's clock and the
// database server's.
const MaxClockSkew = time.Minute

// ClockSkewError refuses a write from a machine whose clock is off.
type ClockSkewError struct {
	Local, Database time.Time
}

func (e *ClockSkewError) Error() string {
	return fmt.Sprintf("this machine's clock (%s) is %s away from the database server's (%s); keyctl times rotations and revocations by the writer's clock and refuses to write",
		e.Local.UTC().Format(time.RFC3339), e.Local.Sub(e.Database).Abs().Round(time.Second), e.Database.UTC().Format(time.RFC3339))
}

// Hint says what to do.
func (e *ClockSkewError) Hint() string {
	return "set this machine's clock right (NTP: timedatectl set-ntp true); nothing was changed"
}

// Store is one keyring in one database.
type Store struct {
	uri  string
	opts Options
}

// New returns the store of the keyring opts.Name in the database at uri.
// It does not connect until used.
func New(uri string, opts Options) *Store {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	switch {
	case opts.LockTimeout == 0:
		opts.LockTimeout = DefaultLockTimeout
	case opts.LockTimeout < time.Millisecond:
		// PostgreSQL reads lock_timeout 0 as "wait forever": the shortest
		// wait it knows stands for "do not wait" (the file store's < 0).
		opts.LockTimeout = time.Millisecond
	case opts.LockTimeout > math.MaxInt32*time.Millisecond:
		opts.LockTimeout = math.MaxInt32 * time.Millisecond
	}
	return &Store{uri: uri, opts: opts}
}

// Location names the keyring for messages: the URI, redacted, and the
// keyring's name.
func (s *Store) Location() string {
	return Redact(s.uri) + " (keyring " + s.opts.Name + ")"
}

// Identity names the keyring for comparison: server, port, database and
// keyring name, whatever the user, password or URI spelling ("" when the
// URI does not parse).
func (s *Store) Identity() string {
	cfg, err := pgx.ParseConfig(s.uri)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s:%d/%s#%s", cfg.Host, cfg.Port, cfg.Database, s.opts.Name)
}

// WithOptions returns the store of the same database with other options.
func (s *Store) WithOptions(opts Options) *Store { return New(s.uri, opts) }

// Name is the keyring's name within the database.
func (s *Store) Name() string { return s.opts.Name }

// ErrNotFound reports a keyring the database does not hold.
var ErrNotFound = errors.New("no keyring")

// RefusedError is a change the database's schema refused (SQLSTATE
// class 22 or 23): the transaction was rolled back and nothing changed.
type RefusedError struct{ Err *pgconn.PgError }

func (e *RefusedError) Error() string {
	msg := "the database refused the change: " + e.Err.Message
	if e.Err.ConstraintName != "" && !strings.Contains(e.Err.Message, e.Err.ConstraintName) {
		msg += " (" + e.Err.ConstraintName + ")"
	}
	return msg + " (SQLSTATE " + e.Err.Code + ")"
}

func (e *RefusedError) Unwrap() error { return e.Err }

// ConnError reports a database keyctl could not use: unreachable, refused
// credentials, a timeout. Its message never holds a password.
type ConnError struct {
	Location string
	Err      error
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("database %s: %s", e.Location, describe(e.Err))
}
func (e *ConnError) Unwrap() error { return e.Err }

// describe shortens pgx's errors to their cause, without the
// connection string pgx sometimes repeats.
func describe(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return pgErr.Message
		case "57014":
			return "statement timed out (statement_timeout)"
		case "55P03":
			return "timed out waiting for another writer's lock"
		}
		return pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		msg := ce.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return "cannot connect: " + msg
	}
	return err.Error()
}

// Connect opens a connection to the store's database.
func (s *Store) Connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, &ConnError{Location: Redact(s.uri), Err: err}
	}
	return conn, nil
}

// config is the connection's configuration: the URI with the libpq
// environment and files, keyctl's timeout and application name.
func (s *Store) config() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(s.uri)
	if err != nil {
		// pgx's message quotes pieces of the URI (a "port" that was the
		// rest of a password): keep its words, never its quotes.
		return nil, &ConnError{Location: Redact(s.uri), Err: errors.New(unquote(err.Error()))}
	}
	cfg.ConnectTimeout = ConnectTimeout
	// keyctl connects for one command: preparing each statement (pgx's
	// default) would double the round trips of statements run once.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "keyctl"
	}
	return cfg, nil
}

var quoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("`[^`]*`|\"(?:[^\"\\\\]|\\\\.)*\"") })

// unquote replaces every quoted or backquoted piece of msg with "...".
func unquote(msg string) string { return quoted().ReplaceAllString(msg, "...") }

func (s *Store) wrap(err error) error {
	if err == nil {
		return nil
	}
	var ce *ConnError
	var se *SchemaError
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &ce), errors.As(err, &se):
		return err
	case errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23")):
		// A data exception or an integrity constraint: the server was
		// reached and refused this change, which a retry will not fix.
		return &RefusedError{Err: pgErr}
	case errors.As(err, &pgErr), errors.Is(err, context.DeadlineExceeded):
		return &ConnError{Location: Redact(s.uri), Err: err}
	}
	var nerr interface{ Timeout() bool }
	if errors.As(err, &nerr) || pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") {
		return &ConnError{Location: Redact(s.uri), Err: err}
	}
	return err
}

// Migrate creates or upgrades the schema.
func (s *Store) Migrate(ctx context.Context) (*MigrateResult, error) {
	conn, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	res, err := Migrate(ctx, conn)
	return res, s.wrap(err)
}

// Keyring is a keyring loaded from the database.
type Keyring struct {
	*keyring.Keyring
	Version int64
	Scheme  string
	// Copied says the first Copied events of History came from another
	// keyring (keys copy): they are stored marked as copied, since the
	// db_role the database records for them is the copier's.
	Copied int
}

// keyringRow is the keyrings row.
type keyringRow struct {
	version  int64
	lifetime int64
	settings []byte
	scheme   string
	seal     *string
}

// keyRow is a keys row as read, to find what a change touched.
type keyRow struct {
	state      string
	updated    time.Time
	rotatedOut *time.Time
	extra      []byte
}

const keyringRowSQL = "SELECT version, max_token_lifetime_ns, settings, seal_scheme, seal FROM keyctl.keyrings WHERE name = $1"

func (s *Store) readRow(ctx context.Context, tx pgx.Tx, lock bool) (*keyringRow, error) {
	q := keyringRowSQL
	if lock {
		q += " FOR UPDATE"
	}
	return s.scanRow(tx.QueryRow(ctx, q, s.opts.Name))
}

func (s *Store) scanRow(row interface{ Scan(...any) error }) (*keyringRow, error) {
	var r keyringRow
	err := row.Scan(&r.version, &r.lifetime, &r.settings, &r.scheme, &r.seal)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w %q in %s", ErrNotFound, s.opts.Name, Redact(s.uri))
	}
	return &r, err
}

func (s *Store) sealerFor(r *keyringRow) *sealer {
	if r.scheme == SchemePlaintext || r.seal == nil {
		return nil
	}
	return &sealer{keyring: s.opts.Name, scheme: r.scheme, wrapped: *r.seal, secrets: s.opts.Secrets}
}

// Load reads the keyring in one read-only transaction (a consistent
// snapshot), parsing no key material until it is used. Its statements go
// out together, one round trip for all (pipelined), which is what a
// command pays through a pooler.
func (s *Store) Load(ctx context.Context) (*Keyring, error) {
	conn, err := s.connectWire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	kr, err := s.load(ctx, conn)
	return kr, s.wrap(err)
}

func (s *Store) load(ctx context.Context, conn *pgconn.PgConn) (*Keyring, error) {
	name := [][]byte{[]byte(s.opts.Name)}
	b, n := &pgconn.Batch{}, 0
	queue := func(sql string, params [][]byte, results []int16) {
		b.ExecParams(sql, params, nil, nil, results)
		n++
	}
	queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", nil, nil)
	queue(schemaVersionSQL, nil, binaryResults)
	queue(keyringRowSQL, name, binaryResults)
	queue(keysSQL, name, binaryResults)
	if s.opts.History {
		queue(historySQL, name, binaryResults)
	}
	queue("ROLLBACK", nil, nil)
	res, err := conn.ExecBatch(ctx, b).ReadAll()
	// An error ends the batch: the statement that failed is the last
	// result if that holds the error, else the first without a result
	// (an error the server found parsing it). A missing schema fails the
	// version query (1): a SchemaError.
	failed := len(res)
	if failed > 0 && res[failed-1].Err != nil {
		failed--
		err = res[failed].Err
	}
	if err != nil {
		if failed == 1 {
			return nil, schemaFrom(err, 0, false)
		}
		return nil, err
	}
	if len(res) != n {
		return nil, fmt.Errorf("pgstore: %d results of a load, want %d", len(res), n)
	}
	var have int
	err = wireRow{res[1]}.Scan(&have)
	if err := schemaFrom(err, have, false); err != nil {
		return nil, err
	}
	r, err := s.scanRow(wireRow{res[2]})
	if err != nil {
		return nil, err
	}
	out, err := s.newKeyring(r, s.sealerFor(r))
	if err != nil {
		return nil, err
	}
	if _, err := s.scanKeys(&wireRows{res: res[3]}, out, s.sealerFor(r)); err != nil {
		return nil, err
	}
	if s.opts.History {
		if err := scanHistory(&wireRows{res: res[4]}, out.Keyring); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const keysSQL = `SELECT kid, alg, state, legacy, origin, created_at, updated_at, rotated_out_at, extra, public_jwk, private_sealed
		FROM keyctl.keys WHERE keyring = $1 ORDER BY position`

const historySQL = `SELECT at, event, kid, from_state, to_state, actor, db_role, note, copied
		FROM keyctl.history WHERE keyring = $1 ORDER BY id`

func (s *Store) readKeys(ctx context.Context, tx pgx.Tx, r *keyringRow, seal *sealer, history bool) (*Keyring, map[string]keyRow, error) {
	out, err := s.newKeyring(r, seal)
	if err != nil {
		return nil, nil, err
	}
	rows, err := tx.Query(ctx, keysSQL, s.opts.Name)
	if err != nil {
		return nil, nil, err
	}
	seen, err := s.scanKeys(rows, out, seal)
	if err != nil {
		return nil, nil, err
	}
	if history {
		rows, err := tx.Query(ctx, historySQL, s.opts.Name)
		if err != nil {
			return nil, nil, err
		}
		if err := scanHistory(rows, out.Keyring); err != nil {
			return nil, nil, err
		}
	}
	return out, seen, nil
}

// newKeyring is the keyring of row r, without its keys yet.
func (s *Store) newKeyring(r *keyringRow, seal *sealer) (*Keyring, error) {
	if seal != nil {
		if _, err := checkWrapped(s.opts.Name, r.scheme, *r.seal); err != nil {
			return nil, err
		}
	}
	out := &Keyring{Keyring: &keyring.Keyring{MaxTokenLifetime: time.Duration(r.lifetime)}, Version: r.version, Scheme: r.scheme}
	if err := decodeSettings(r.settings, out.Keyring); err != nil {
		return nil, err
	}
	return out, nil
}

// rowReader is what scanKeys and scanHistory need of rows: pgx.Rows, or
// wireRows for a load.
type rowReader interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// scanKeys reads the rows of keysSQL into out, checks the result, and
// returns what each row held (to find what a change touched).
func (s *Store) scanKeys(rows rowReader, out *Keyring, seal *sealer) (map[string]keyRow, error) {
	defer rows.Close()
	seen := map[string]keyRow{}
	for rows.Next() {
		var (
			e          keyring.Entry
			alg, state string
			origin     string
			rotatedOut *time.Time
			extra      []byte
			public     []byte
			sealed     *string
		)
		if err := rows.Scan(&e.KID, &alg, &state, &e.Legacy, &origin, &e.Created, &e.Updated, &rotatedOut, &extra, &public, &sealed); err != nil {
			return nil, err
		}
		e.Alg, e.State, e.Origin = jwk.Algorithm(alg), keyring.State(state), keyring.Origin(origin)
		e.Created, e.Updated = e.Created.UTC(), e.Updated.UTC()
		if rotatedOut != nil {
			e.RotatedOut = rotatedOut.UTC()
		}
		if err := decodeExtra(extra, &e); err != nil {
			return nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		if sealed != nil {
			e.Material = &rowMaterial{kid: e.KID, alg: e.Alg, public: public, sealed: *sealed, sealer: seal}
		}
		seen[e.KID] = keyRow{state: state, updated: e.Updated, rotatedOut: rotatedOut, extra: extra}
		out.Keys = append(out.Keys, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := out.Keyring.Check(); err != nil {
		return nil, err
	}
	return seen, nil
}

// scanHistory reads the rows of historySQL into kr.History.
func scanHistory(rows rowReader, kr *keyring.Keyring) error {
	defer rows.Close()
	for rows.Next() {
		var ev keyring.Event
		var action, from, to, actor, role string
		var copied bool
		if err := rows.Scan(&ev.At, &action, &ev.KID, &from, &to, &actor, &role, &ev.Note, &copied); err != nil {
			return err
		}
		ev.At = ev.At.UTC()
		ev.Action, ev.From, ev.To = keyring.Action(action), keyring.State(from), keyring.State(to)
		// The role is the database's own record (current_user when the
		// row was written), never taken from the actor text. A copied
		// event's row was written by whoever copied it in, which is
		// not who did what it records: the note says so instead.
		if copied {
			ev.By = actor
			ev.Note = strings.TrimSpace(ev.Note + " (copied in by db role " + role + ")")
		} else {
			ev.By = actor + " (db role " + role + ")"
		}
		kr.History = append(kr.History, ev)
	}
	return rows.Err()
}

// Update changes the keyring under its row lock in one transaction: it
// reads the keyring, calls fn, validates the result, writes what changed,
// appends fn's history events and bumps the version. If fn or any step
// fails, nothing is written.
func (s *Store) Update(ctx context.Context, fn func(*Keyring) error) (*Keyring, error) {
	conn, err := s.Connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	kr, err := s.update(ctx, conn, fn)
	return kr, s.wrap(err)
}

func (s *Store) update(ctx context.Context, conn *pgx.Conn, fn func(*Keyring) error) (*Keyring, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	kr, r, seal, before, err := s.readLocked(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := fn(kr); err != nil {
		return nil, err
	}
	if err := kr.Validate(); err != nil {
		return nil, fmt.Errorf("refusing to write an invalid keyring: %w", err)
	}
	if kr.Scheme != r.scheme {
		return nil, errors.New("the seal changes only through Reseal")
	}
	w := &writes{}
	if s.opts.Replace {
		w.queue("", "DELETE FROM keyctl.keys WHERE keyring = $1", s.opts.Name)
		before = map[string]keyRow{}
	}
	if err := s.writeKeys(w, kr.Keyring, before, seal); err != nil {
		return nil, err
	}
	s.appendHistory(w, kr.History, kr.Copied)
	settings, err := encodeSettings(kr.Keyring)
	if err != nil {
		return nil, err
	}
	w.queue("", `UPDATE keyctl.keyrings SET version = version + 1, max_token_lifetime_ns = $2,
		settings = $3, updated_at = now() WHERE name = $1 RETURNING version`,
		s.opts.Name, int64(kr.MaxTokenLifetime), jsonArg(settings))
	if err := w.send(ctx, tx, []any{&kr.Version}); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	if r.scheme == SchemePlaintext && s.opts.Warn != nil {
		s.opts.Warn("keyring %s holds its private keys unsealed (created with --insecure-plaintext)", s.Location())
	}
	return kr, nil
}

// readLocked reads the keyring for a change, its row locked, in tx: its
// statements go out together, one round trip (pipelined). A keyring that
// does not exist yet is created when the store may.
func (s *Store) readLocked(ctx context.Context, tx pgx.Tx) (*Keyring, *keyringRow, *sealer, map[string]keyRow, error) {
	b := &pgx.Batch{}
	b.Queue(fmt.Sprintf("SET LOCAL lock_timeout = %d", s.opts.LockTimeout.Milliseconds()))
	b.Queue(schemaVersionSQL)
	if s.opts.Now != nil {
		b.Queue("SELECT statement_timestamp()")
	}
	b.Queue(keyringRowSQL+" FOR UPDATE", s.opts.Name)
	b.Queue(keysSQL, s.opts.Name)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, nil, nil, nil, err
	}
	var have int
	err := br.QueryRow().Scan(&have) // before have is read
	if err := schemaFrom(err, have, true); err != nil {
		return nil, nil, nil, nil, err
	}
	if s.opts.Now != nil {
		var dbNow time.Time
		if err := br.QueryRow().Scan(&dbNow); err != nil {
			return nil, nil, nil, nil, err
		}
		if local := s.opts.Now(); local.Sub(dbNow).Abs() > MaxClockSkew {
			return nil, nil, nil, nil, &ClockSkewError{Local: local, Database: dbNow}
		}
	}
	r, err := s.scanRow(br.QueryRow())
	if errors.Is(err, ErrNotFound) && s.opts.Create {
		if err := br.Close(); err != nil {
			return nil, nil, nil, nil, err
		}
		r, seal, err := s.create(ctx, tx)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		kr, before, err := s.readKeys(ctx, tx, r, seal, false)
		return kr, r, seal, before, err
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	seal := s.sealerFor(r)
	kr, err := s.newKeyring(r, seal)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	before, err := s.scanKeys(rows, kr, seal)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return kr, r, seal, before, br.Close()
}

// create inserts a new keyring row with a fresh seal and returns it
// locked, with its sealer already unlocked (the secret is asked once).
func (s *Store) create(ctx context.Context, tx pgx.Tx) (*keyringRow, *sealer, error) {
	scheme := s.opts.CreateScheme
	if scheme == "" {
		return nil, nil, ErrNoSeal
	}
	seal, err := newSealer(s.opts.Name, scheme, s.opts.Secrets)
	if err != nil {
		return nil, nil, err
	}
	var wrapped *string
	if seal != nil {
		wrapped = &seal.wrapped
	}
	// ON CONFLICT: another writer created it first; then wait for its lock.
	if _, err := tx.Exec(ctx, `INSERT INTO keyctl.keyrings (name, seal_scheme, seal, created_at, updated_at)
		VALUES ($1, $2, $3, now(), now()) ON CONFLICT (name) DO NOTHING`, s.opts.Name, scheme, wrapped); err != nil {
		return nil, nil, err
	}
	r, err := s.readRow(ctx, tx, true)
	if err != nil {
		return nil, nil, err
	}
	if seal == nil || r.seal == nil || *r.seal != seal.wrapped {
		// Another writer created it first: use its seal.
		seal = s.sealerFor(r)
	}
	return r, seal, nil
}

// writeKeys writes the rows fn added or changed. Rows leaving "in use" are
// written before the row entering it, so the one-key-in-use index holds at
// every statement.
func (s *Store) writeKeys(w *writes, kr *keyring.Keyring, before map[string]keyRow, seal *sealer) error {
	type pending struct {
		pos int
		e   *keyring.Entry
	}
	var first, last []pending
	for i, e := range kr.Keys {
		if e.State == keyring.InUse {
			last = append(last, pending{i, e})
		} else {
			first = append(first, pending{i, e})
		}
	}
	if len(kr.Keys) < len(before) {
		return errors.New("refusing to drop keys from the keyring (deleted keys stay as tombstones)")
	}
	for _, p := range append(first, last...) {
		old, known := before[p.e.KID]
		extra, err := encodeExtra(p.e)
		if err != nil {
			return err
		}
		var rotatedOut *time.Time
		if !p.e.RotatedOut.IsZero() {
			t := p.e.RotatedOut
			rotatedOut = &t
		}
		if !known {
			public, sealed, err := s.material(p.e, seal)
			if err != nil {
				return err
			}
			w.queue(p.e.KID, `INSERT INTO keyctl.keys (keyring, kid, position, alg, state, legacy, origin,
				created_at, updated_at, rotated_out_at, extra, public_jwk, private_sealed)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				s.opts.Name, p.e.KID, p.pos, string(p.e.Alg), string(p.e.State), p.e.Legacy, string(p.e.Origin),
				p.e.Created, p.e.Updated, rotatedOut, jsonArg(extra), jsonArg(public), sealed)
			continue
		}
		if old.state == string(p.e.State) && old.updated.Equal(p.e.Updated) && sameTime(old.rotatedOut, rotatedOut) && sameExtra(old.extra, extra) {
			continue
		}
		if p.e.State == keyring.Deleted {
			w.queue(p.e.KID, `UPDATE keyctl.keys SET state = 'deleted', updated_at = $3, rotated_out_at = $4, extra = $5,
				public_jwk = NULL, private_sealed = NULL WHERE keyring = $1 AND kid = $2`,
				s.opts.Name, p.e.KID, p.e.Updated, rotatedOut, jsonArg(extra))
		} else {
			w.queue(p.e.KID, `UPDATE keyctl.keys SET state = $3, updated_at = $4, rotated_out_at = $5, extra = $6
				WHERE keyring = $1 AND kid = $2`, s.opts.Name, p.e.KID, string(p.e.State), p.e.Updated, rotatedOut, jsonArg(extra))
		}
	}
	return nil
}

// writes is a transaction's statements queued to go out together, one
// round trip for all (pipelined); each knows the key it writes (or "") to
// name it in an error.
type writes struct {
	b    pgx.Batch
	kids []string
}

func (w *writes) queue(kid, sql string, args ...any) {
	w.b.Queue(sql, args...)
	w.kids = append(w.kids, kid)
}

// send runs the queued statements in tx, then scans the result of
// returning (queued last, or nil) into dst.
func (w *writes) send(ctx context.Context, tx pgx.Tx, returning []any) error {
	if w.b.Len() == 0 {
		return nil
	}
	br := tx.SendBatch(ctx, &w.b)
	defer br.Close()
	n := len(w.kids)
	if returning != nil {
		n--
	}
	for _, kid := range w.kids[:n] {
		if _, err := br.Exec(); err != nil {
			if kid != "" {
				return fmt.Errorf("key %q: %w", kid, err)
			}
			return err
		}
	}
	if returning != nil {
		if err := br.QueryRow().Scan(returning...); err != nil {
			return err
		}
	}
	return br.Close()
}

// jsonArg passes JSON to a json or jsonb column as text (NULL for nil):
// without prepared statements pgx would send []byte as bytea.
func jsonArg(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// sameExtra compares extra columns by value: jsonb gives back its own
// spacing and member order.
func sameExtra(a, b []byte) bool {
	var x, y keyExtra
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return x.Thumbprint == y.Thumbprint && x.SecretCheck == y.SecretCheck && x.RotatedOutLifetimeNS == y.RotatedOutLifetimeNS && sameTime(x.PublishedAt, y.PublishedAt)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// material returns a new key's public JWK and its sealed private JWK.
func (s *Store) material(e *keyring.Entry, seal *sealer) (public []byte, sealed *string, err error) {
	if e.Material == nil {
		return nil, nil, nil
	}
	priv, err := e.Material.Private()
	if err != nil {
		return nil, nil, fmt.Errorf("key %q: %w", e.KID, err)
	}
	if !e.Alg.Symmetric() {
		pub, err := e.Material.Public()
		if err != nil {
			return nil, nil, fmt.Errorf("key %q: %w", e.KID, err)
		}
		if public, err = (&jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", Material: pub.Material}).MarshalJSON(); err != nil {
			return nil, nil, err
		}
	}
	plain, err := (&jwk.Key{KID: e.KID, Alg: e.Alg, Use: "sig", Material: priv.Material}).MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	out := string(plain)
	if seal != nil {
		if out, err = seal.seal(e.KID, plain); err != nil {
			return nil, nil, err
		}
	}
	return public, &out, nil
}

// copiedRole is the " (db role R)" a history read from a database adds to
// an actor: an event copied from there keeps R in its note, and the actor
// column gets the bare actor.
var copiedRole = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(` \(db role ([^()]*)\)$`) })

func (s *Store) appendHistory(w *writes, events []keyring.Event, copied int) {
	for i, ev := range events {
		if m := copiedRole().FindStringSubmatchIndex(ev.By); m != nil {
			role := ev.By[m[2]:m[3]]
			ev.By = ev.By[:m[0]]
			ev.Note = strings.TrimSpace(ev.Note + " (recorded by db role " + role + " where it was copied from)")
		}
		w.queue("", `INSERT INTO keyctl.history (keyring, at, event, kid, from_state, to_state, actor, note, copied)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.opts.Name, ev.At, string(ev.Action), ev.KID,
			string(ev.From), string(ev.To), ev.By, ev.Note, i < copied)
	}
}

// keyExtra holds per-key fields that have no column of their own.
type keyExtra struct {
	// Thumbprint: a deleted key's RFC 7638 thumbprint (keyring.Entry).
	Thumbprint string `json:"thumbprint,omitempty"`
	// SecretCheck: a deleted shared secret's check value (keyring.Entry).
	SecretCheck string `json:"secret_check,omitempty"`
	// RotatedOutLifetimeNS: the max token lifetime in force when the key
	// last left in use, in nanoseconds (keyring.Entry.RotatedOutLifetime).
	RotatedOutLifetimeNS int64 `json:"rotated_out_max_token_lifetime_ns,omitempty"`
	// PublishedAt: when the key came back from revoked to standby
	// (keyring.Entry.Published); absent, since created_at.
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

func encodeExtra(e *keyring.Entry) ([]byte, error) {
	x := keyExtra{RotatedOutLifetimeNS: int64(e.RotatedOutLifetime)}
	if !e.Published.IsZero() && !e.Published.Equal(e.Created) {
		t := e.Published.UTC()
		x.PublishedAt = &t
	}
	if e.State == keyring.Deleted {
		x.Thumbprint, x.SecretCheck = e.Thumbprint, e.SecretCheck
	}
	return json.Marshal(x)
}

func decodeExtra(data []byte, e *keyring.Entry) error {
	var x keyExtra
	if err := json.Unmarshal(data, &x); err != nil {
		return err
	}
	if x.RotatedOutLifetimeNS < 0 {
		return errors.New("negative rotated_out_max_token_lifetime_ns")
	}
	if x.SecretCheck != "" {
		if err := keyring.ParseSecretCheck(x.SecretCheck); err != nil {
			return err
		}
	}
	e.Thumbprint, e.SecretCheck = x.Thumbprint, x.SecretCheck
	e.RotatedOutLifetime = time.Duration(x.RotatedOutLifetimeNS)
	if x.PublishedAt != nil {
		e.Published = x.PublishedAt.UTC()
	}
	return nil
}

// keyringSettings holds keyring-wide settings that have no column.
type keyringSettings struct {
	// JWKSCacheWindowNS: keyring.Keyring.JWKSCacheWindow in nanoseconds
	// (absent: the default).
	JWKSCacheWindowNS int64 `json:"jwks_cache_window_ns,omitempty"`
}

func encodeSettings(kr *keyring.Keyring) ([]byte, error) {
	return json.Marshal(keyringSettings{JWKSCacheWindowNS: int64(kr.JWKSCacheWindow)})
}

func decodeSettings(data []byte, kr *keyring.Keyring) error {
	var x keyringSettings
	if err := json.Unmarshal(data, &x); err != nil {
		return err
	}
	if x.JWKSCacheWindowNS < 0 {
		return errors.New("negative jwks_cache_window_ns")
	}
	kr.JWKSCacheWindow = time.Duration(x.JWKSCacheWindowNS)
	return nil
}
