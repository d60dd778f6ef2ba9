// Package pgtest gives tests a real PostgreSQL database: the throw-away
// cluster that testdata/pg/with-cluster.sh starts (make test and .ci/run do)
// and exports as KEYCTL_TEST_DATABASE_URL. Each test gets a database of its
// own, dropped when the test ends.
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the test cluster's superuser URL.
const EnvURL = "KEYCTL_TEST_DATABASE_URL"

// AdminURL returns the test cluster's superuser URL. Without one the test
// skips, saying how to get one; under CI=true it fails instead, so a CI run
// cannot pass without the database tests.
func AdminURL(t testing.TB) string {
	t.Helper()
	return required(t, EnvURL, "no PostgreSQL test cluster: run the tests with make test (it starts one when PostgreSQL is installed: apt-get install postgresql), or set "+EnvURL)
}

// required returns the variable env, or skips the test with msg when it
// is not set (fails it under CI=true).
func required(t testing.TB, env, msg string) string {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return v
}

// EnvBouncerURL names the variable holding the URL of a PgBouncer in
// transaction mode in front of the test cluster (testdata/pg/bouncer.sh,
// started by with-cluster.sh when pgbouncer is installed).
const EnvBouncerURL = "KEYCTL_TEST_PGBOUNCER_URL"

// ThroughBouncer returns u (a database of the test cluster) reached
// through the test PgBouncer. Without one the test skips, saying how to
// get one; under CI=true it fails instead.
func ThroughBouncer(t testing.TB, u string) string {
	t.Helper()
	b := required(t, EnvBouncerURL, "no PgBouncer in front of the test cluster: run the tests with make test (it starts one when pgbouncer is installed: apt-get install pgbouncer), or set "+EnvBouncerURL)
	bu, err := url.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.Host = bu.Host
	return p.String()
}

// NewDatabase creates an empty database for this test and returns its
// superuser URL; the database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	var b [6]byte
	rand.Read(b[:])
	name := "keyctl_test_" + hex.EncodeToString(b[:])
	exec1(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return WithDatabase(admin, name)
}

// WithDatabase returns u naming database db instead.
func WithDatabase(u, db string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.Path = "/" + db
	return p.String()
}

// WithUser returns u with another user and password.
func WithUser(u, user, password string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.User = url.UserPassword(user, password)
	return p.String()
}

// Exec runs statements on the database at u.
func Exec(t testing.TB, u string, sql ...string) {
	t.Helper()
	for _, s := range sql {
		exec1(t, u, s)
	}
}

func exec1(t testing.TB, u, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Restart stops and starts the test cluster's server on the same port (for
// fault tests). It fails the test when the cluster was not started by
// with-cluster.sh.
func Restart(t testing.TB) {
	t.Helper()
	dir := os.Getenv("KEYCTL_TEST_PG_DIR")
	if dir == "" {
		t.Skip("the test cluster was not started by testdata/pg/with-cluster.sh: cannot restart it")
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "pg", "cluster.sh")
	out, err := exec.Command("bash", script, "restart", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("restart the test cluster: %v\n%s", err, out)
	}
}

// Describe names the server of u for messages (no password).
func Describe(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%s%s", p.Host, p.Path)
}

// Cluster is a PostgreSQL server of one test's own (for fault tests that
// restart it without disturbing the tests sharing the main cluster).
type Cluster struct {
	URL string // superuser URL
	dir string
}

func clusterScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "pg", "cluster.sh")
}

// NewCluster starts a throw-away cluster for this test on a free loopback
// port, stopped and removed when the test ends. It needs what the shared
// cluster needs (AdminURL skips or fails the same way).
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	AdminURL(t)
	// Not under t.TempDir: as root the server runs as postgres, which
	// must be able to reach the directory.
	dir, err := os.MkdirTemp("", "keyctl-pg-")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", clusterScript(), "start", dir).Output()
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("start a test cluster: %v", err)
	}
	c := &Cluster{URL: string(bytes.TrimSpace(out)), dir: dir}
	t.Cleanup(func() {
		exec.Command("bash", clusterScript(), "stop", dir).Run()
		os.RemoveAll(dir)
	})
	return c
}

// Restart stops the server and starts it again on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("bash", clusterScript(), "restart", c.dir).CombinedOutput(); err != nil {
		t.Fatalf("restart the test cluster: %v\n%s", err, out)
	}
}

// Stop stops the server, leaving its directory (removed when the test
// ends).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("bash", clusterScript(), "halt", c.dir).CombinedOutput(); err != nil {
		t.Fatalf("stop the test cluster: %v\n%s", err, out)
	}
}
