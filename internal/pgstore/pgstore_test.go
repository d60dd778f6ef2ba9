package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyctl/keyctl/internal/pgtest"
	"github.com/keyctl/keyctl/pkg/jwk"
	"github.com/keyctl/keyctl/pkg/keyring"
)

func init() { PBES2Iterations, MinPBES2Iterations = 1000, 1000 }

var ctx = context.Background()

func pass(p string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(p), nil } }

func newStore(t *testing.T, uri string, o Options) *Store {
	t.Helper()
	if o.Secrets.Passphrase == nil && o.CreateScheme == "" {
		o.Secrets.Passphrase = pass("correct horse")
		o.CreateScheme = SchemePassphrase
	}
	o.Create = true
	return New(uri, o)
}

func migrated(t *testing.T) string {
	t.Helper()
	uri := pgtest.NewDatabase(t)
	if _, err := New(uri, Options{}).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return uri
}

func stamp(at time.Time) keyring.Stamp {
	return keyring.Stamp{At: at.UTC().Truncate(time.Microsecond), By: "tester"}
}

func genKey(t *testing.T, alg jwk.Algorithm) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(alg, jwk.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMigrateIsIdempotentAndRecorded(t *testing.T) {
	uri := pgtest.NewDatabase(t)
	s := New(uri, Options{})
	if _, err := s.Load(ctx); !isSchemaErr(err, 0) {
		t.Fatalf("load before migrate: %v, want a schema error", err)
	}
	res, err := s.Migrate(ctx)
	if err != nil || res.From != 0 || res.To != SchemaVersion() {
		t.Fatalf("migrate: %+v %v", res, err)
	}
	res, err = s.Migrate(ctx)
	if err != nil || len(res.Applied) != 0 {
		t.Fatalf("second migrate: %+v %v", res, err)
	}
	// A newer schema: readers read, writers refuse, migrate refuses.
	pgtest.Exec(t, uri, fmt.Sprintf("INSERT INTO keyctl.schema_migrations (version, name) VALUES (%d, 'future')", SchemaVersion()+1))
	if _, err := s.Migrate(ctx); !isSchemaErr(err, SchemaVersion()+1) {
		t.Fatalf("migrate a newer schema: %v", err)
	}
	_, err = newStore(t, uri, Options{}).Update(ctx, func(*Keyring) error { return nil })
	if !isSchemaErr(err, SchemaVersion()+1) {
		t.Fatalf("write to a newer schema: %v", err)
	}
}

func TestConcurrentMigrators(t *testing.T) {
	uri := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := New(uri, Options{}).Migrate(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func isSchemaErr(err error, have int) bool {
	var se *SchemaError
	return errors.As(err, &se) && se.Have == have
}

func TestLifecycleRoundTrip(t *testing.T) {
	uri := migrated(t)
	s := newStore(t, uri, Options{})
	now := time.Now()
	var a, b *jwk.Key
	_, err := s.Update(ctx, func(kr *Keyring) error {
		a, b = genKey(t, jwk.ES256), genKey(t, jwk.RS256)
		if _, err := kr.Create(a, stamp(now)); err != nil {
			return err
		}
		if _, err := kr.Create(b, stamp(now)); err != nil {
			return err
		}
		_, _, err := kr.Rotate(a.KID, stamp(now), keyring.Options{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, func(kr *Keyring) error {
		_, _, err := kr.Rotate(b.KID, stamp(now.Add(time.Minute)), keyring.Options{Force: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := New(uri, Options{History: true, Secrets: Secrets{Passphrase: pass("correct horse")}}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(kr.Keys) != 2 || kr.Keys[0].State != keyring.PreviouslyUsed || kr.Keys[1].State != keyring.InUse {
		t.Fatalf("states: %v %v", kr.Keys[0].State, kr.Keys[1].State)
	}
	if kr.Version != 3 {
		t.Errorf("version %d, want 3 (created, then two updates)", kr.Version)
	}
	if len(kr.History) != 5 || !strings.Contains(kr.History[0].By, "db role postgres") {
		t.Errorf("history: %+v", kr.History)
	}
	signer, err := kr.SigningKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := signer.Material.Private()
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(b) {
		t.Error("the unsealed private key differs from the one stored")
	}
	// A wrong passphrase opens nothing, and says so.
	kr, err = New(uri, Options{Secrets: Secrets{Passphrase: pass("wrong")}}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Keys[0].Material.Private(); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
}

func TestNoPlaintextInTheDatabase(t *testing.T) {
	uri := migrated(t)
	s := newStore(t, uri, Options{})
	k := genKey(t, jwk.ES256)
	if _, err := s.Update(ctx, func(kr *Keyring) error { _, err := kr.Create(k, stamp(time.Now())); return err }); err != nil {
		t.Fatal(err)
	}
	var dump string
	conn := connect(t, uri)
	if err := conn.QueryRow(ctx, "SELECT string_agg(k::text, ' ') FROM keyctl.keys k").Scan(&dump); err != nil {
		t.Fatal(err)
	}
	priv, _ := k.MarshalJSON()
	dMember := between(string(priv), `"d":"`, `"`)
	if dMember == "" || strings.Contains(dump, dMember) {
		t.Fatalf("the private member is in the database in the clear (d %q)", dMember)
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

func connect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestResealIsOneTransaction(t *testing.T) {
	uri, inUse, _, secret := seeded(t)
	master := make([]byte, MasterKeyBytes)
	master[0] = 7
	masterSrc := func() ([]byte, error) { return master, nil }
	// A wrong current passphrase: nothing changes.
	_, err := New(uri, Options{Secrets: Secrets{Passphrase: pass("wrong")}}).Reseal(ctx, SchemeMasterKey, Secrets{MasterKey: masterSrc}, stamp(time.Now()))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("reseal with a wrong passphrase: %v", err)
	}
	kr, err := New(uri, Options{Secrets: Secrets{Passphrase: pass("correct horse")}}).Reseal(ctx, SchemeMasterKey, Secrets{MasterKey: masterSrc}, stamp(time.Now()))
	if err != nil || kr.Scheme != SchemeMasterKey {
		t.Fatalf("reseal: %v", err)
	}
	// Now only the master key opens the keys.
	kr, err = New(uri, Options{Secrets: Secrets{MasterKey: masterSrc}}).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{inUse, secret} {
		e, _ := kr.Lookup(kid)
		if _, err := e.Material.Private(); err != nil {
			t.Fatalf("key %s after reseal: %v", kid, err)
		}
	}
	kr, _ = New(uri, Options{Secrets: Secrets{Passphrase: pass("correct horse")}}).Load(ctx)
	if _, err := kr.Keys[0].Material.Private(); !errors.Is(err, ErrNeedMasterKey) {
		t.Fatalf("the old passphrase after reseal: %v", err)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://alice:s3cret@db:5432/keys?sslmode=verify-full": "postgres://alice:xxxxx@db:5432/keys?sslmode=verify-full",
		"postgresql://db/keys?password=s3cret&user=alice":          "postgresql://db/keys?password=xxxxx",
		"postgres://alice@db/keys":                                 "postgres://alice@db/keys",
		// sslpassword unlocks the client's TLS key: a secret too.
		"postgres://alice@db/keys?sslpassword=s3cret&sslmode=verify-full": "postgres://alice@db/keys?sslpassword=xxxxx",
		"postgres://alice@db/keys?SSLPassword=s3cret":                     "postgres://alice@db/keys?SSLPassword=xxxxx",
		"postgres://u@127.0.0.1:notaport/db?sslpassword=s3cret":           "postgres://u@127.0.0.1:notaport/db?sslpassword=xxxxx",
		"host=db sslpassword=s3cret user=alice":                           "host=db sslpassword=xxxxx user=alice",
		// Read as libpq and pgx read them, not as net/url does.
		"postgres://op@127.0.0.1:5432/db?sslmode=disable&password=Top;Secret": "postgres://op@127.0.0.1:5432/db?sslmode=disable&password=xxxxx",
		"postgres://op@h/db?password=50%off":                                  "postgres://op@h/db?password=xxxxx",
		"postgres://postgres:2024#SECRET@h/db":                                "postgres://postgres:xxxxx@h/db",
		"postgres://postgres:2024?SECRET@h/db":                                "postgres://postgres:xxxxx@h/db",
		"postgres://az@srv:S3CRET%@h/db":                                      "postgres://az@srv:xxxxx@h/db",
		"postgres://h?password=s3cret":                                        "postgres://h?password=xxxxx",
		"postgres://h/db?pass%77ord=s3cret":                                   "postgres://h/db?xxxxx",
		// Any scheme: a mistyped one is echoed in errors.
		"Postgres://alice:S3CRET@h/x":       "Postgres://alice:xxxxx@h/x",
		"postgresql+ssl://alice:S3CRET@h/x": "postgresql+ssl://alice:xxxxx@h/x",
		"postgres://db:5432/keys":           "postgres://db:5432/keys",
		// A password holding "/" in the user part, typos in the query.
		"postgres://ops:hunter2/x@127.0.0.1:5432/postgres":      "postgres://ops:xxxxx@127.0.0.1:5432/postgres",
		"postgres://ops@h/db?sslmode=require?password=hunter2":  "postgres://ops@h/db?sslmode=require?password=xxxxx",
		"postgres://ops@h/db?sslmode=require;password=hunter2":  "postgres://ops@h/db?sslmode=require;password=xxxxx",
		"postgres://ops@h/db?password=a&b=c&d":                  "postgres://ops@h/db?password=xxxxx",
		"postgres://[a?x=1]/db?password=secret":                 "postgres://[a?x=1]/db?password=xxxxx",
		"postgres:///db?host=/var/run/postgresql":               "postgres:///db?host=/var/run/postgresql",
		"dbname=keys password=hunter2 host=/var/run/postgresql": "dbname=keys password=xxxxx host=/var/run/postgresql",
		"host=db password='s3 cret' user=alice":                 "host=db password=xxxxx user=alice",
		// URLs net/url refuses still lose their password.
		"postgres://u:s3cret@127.0.0.1:notaport/db": "postgres://u:xxxxx@127.0.0.1:notaport/db",
		"postgres://u:s3%zzcret@[::1/db":            "postgres://u:xxxxx@[::1/db",
		"postgres://u:p@ss@127.0.0.1:notaport/db":   "postgres://u:xxxxx@127.0.0.1:notaport/db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// lock_timeout 0 means "wait forever" to PostgreSQL: a sub-millisecond or
// negative --lock-timeout must not become it, nor overflow its range.
func TestLockTimeoutBounds(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		500 * time.Microsecond: time.Millisecond,
		-time.Second:           time.Millisecond,
		0:                      DefaultLockTimeout,
		24 * 365 * time.Hour:   math.MaxInt32 * time.Millisecond,
		3 * time.Second:        3 * time.Second,
	} {
		if got := New("postgres://x@h/db", Options{LockTimeout: in}).opts.LockTimeout; got != want {
			t.Errorf("LockTimeout %s -> %s, want %s", in, got, want)
		}
	}
}

// A key=value connection string is told from a file name with "=" in it.
func TestLooksLikeDSN(t *testing.T) {
	for s, want := range map[string]bool{
		"host=db user=ops password=x dbname=keys": true,
		" dbname = keys":              true,
		"service=prod":                true,
		"keys=1.json":                 false,
		"keyring.json":                false,
		"dir/host=1.json":             false,
		"postgres://u@h/db?host=/tmp": false,
		"dbname=keys password=x host=/var/run/postgresql": true,
		"load_balance_hosts=random host=db1,db2 user=ops": true,
		"a/b/password=x.json":                             true, // never a file name
		"./user=alice.json":                               false,
	} {
		if LooksLikeDSN(s) != want {
			t.Errorf("LooksLikeDSN(%q) = %v", s, !want)
		}
	}
}
