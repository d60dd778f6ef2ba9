package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/pgtest"
)

// The PostgreSQL keyring under many processes and faults: every test runs
// real keyctl processes against a real server, in a database of its own.

// pgKeyring makes a migrated database and the environment of keyctl
// processes using it (throw-away master key, private home).
func pgKeyring(t *testing.T) (url string, env []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts many processes")
	}
	u := pgtest.NewDatabase(t)
	if _, err := pgstore.New(u, pgstore.Options{}).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	mk := make([]byte, 32)
	rand.Read(mk)
	home := t.TempDir()
	env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "KEYCTL_KEYRING="+u,
		"KEYCTL_MASTER_KEY="+base64.StdEncoding.EncodeToString(mk), "NO_COLOR=1", "USER=tester")
	return u, env
}

func keyctlProc(env []string, args ...string) *exec.Cmd {
	c := exec.Command("keyctl", args...)
	c.Env = env
	return c
}

func mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := keyctlProc(env, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("keyctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func pgCount(t *testing.T, u, sql string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// parallel runs n commands at once and returns their outputs and errors.
func parallel(n int, cmd func(i int) *exec.Cmd) ([]string, []error) {
	outs, errs := make([]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cmd(i)
			<-start
			out, err := c.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	close(start)
	wg.Wait()
	return outs, errs
}

// TestPGConcurrentCreate: 50 processes create keys at once -> exactly 50
// new keys and 50 history events.
func TestPGConcurrentCreate(t *testing.T) {
	u, env := pgKeyring(t)
	mustRun(t, env, "keys", "create", "--kid", "first")
	outs, errs := parallel(50, func(i int) *exec.Cmd {
		return keyctlProc(env, "keys", "create", "--kid", fmt.Sprintf("p%02d", i), "--lock-timeout", "60s")
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	if n := pgCount(t, u, "SELECT count(*) FROM keyctl.keys"); n != 51 {
		t.Fatalf("%d keys, want 51", n)
	}
	if n := pgCount(t, u, "SELECT count(*) FROM keyctl.history WHERE event = 'create'"); n != 51 {
		t.Fatalf("%d create events, want 51", n)
	}
	// A new keyring starts at version 1; every change adds one.
	if v := pgCount(t, u, "SELECT version FROM keyctl.keyrings"); v != 52 {
		t.Fatalf("version %d, want 52 (one per change)", v)
	}
}

// TestPGConcurrentRotate: 10 processes rotate to the same standby key at
// once -> one wins, never two keys in use, the nine others are refused
// with one clear line.
func TestPGConcurrentRotate(t *testing.T) {
	u, env := pgKeyring(t)
	mustRun(t, env, "keys", "create", "--kid", "old")
	mustRun(t, env, "keys", "rotate", "old")
	mustRun(t, env, "keys", "create", "--kid", "new")
	outs, errs := parallel(10, func(i int) *exec.Cmd {
		return keyctlProc(env, append([]string{"keys", "rotate", "new", "--lock-timeout", "60s"}, rotateForce(t, env)...)...)
	})
	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			continue
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
		if !strings.HasPrefix(outs[i], "keyctl: key new is already in use") && !strings.Contains(outs[i], "already in use") {
			t.Errorf("process %d: unclear refusal:\n%s", i, outs[i])
		}
	}
	if winners != 1 {
		t.Fatalf("%d winners, want 1", winners)
	}
	if n := pgCount(t, u, "SELECT count(*) FROM keyctl.keys WHERE state = 'in_use'"); n != 1 {
		t.Fatalf("%d keys in use", n)
	}
	if n := pgCount(t, u, "SELECT count(*) FROM keyctl.history WHERE event = 'rotate'"); n != 2 {
		t.Fatalf("%d rotate events, want 2 (the first key's and the winner's)", n)
	}
}

// rotateForce is --force when keys rotate has it (the rotation wait).
func rotateForce(t *testing.T, env []string) []string {
	out, _ := keyctlProc(env, "keys", "rotate", "--help").CombinedOutput()
	if strings.Contains(string(out), "--force") {
		return []string{"--force"}
	}
	return nil
}

// TestPGKilledWriters kills writers with SIGKILL at random moments: the
// keyring is always the old one or the new one, never half-written, and the
// next writer does not wait on a dead one's lock.
func TestPGKilledWriters(t *testing.T) {
	u, env := pgKeyring(t)
	mustRun(t, env, "keys", "create", "--kid", "timed")
	begin := time.Now()
	mustRun(t, env, "keys", "create", "--kid", "timed2")
	span := time.Since(begin)
	keys := 2
	rng := mrand.New(mrand.NewPCG(1, uint64(time.Now().UnixNano())))
	killed := 0
	for i := range 20 {
		c := keyctlProc(env, "keys", "create", "--kid", fmt.Sprintf("k%02d", i), "--lock-timeout", "5s")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(span) * 11 / 10)))
		c.Process.Signal(syscall.SIGKILL)
		if c.Wait() != nil {
			killed++
		}
		got := pgCount(t, u, "SELECT count(*) FROM keyctl.keys")
		events := pgCount(t, u, "SELECT count(*) FROM keyctl.history")
		version := pgCount(t, u, "SELECT version FROM keyctl.keyrings")
		if got != keys && got != keys+1 {
			t.Fatalf("round %d: %d keys, want %d or %d", i, got, keys, keys+1)
		}
		if events != got || version != got+1 {
			t.Fatalf("round %d: %d keys but %d events and version %d: a change was half-written", i, got, events, version)
		}
		keys = got
	}
	if killed == 0 {
		t.Fatal("no writer was killed: the test proved nothing")
	}
	// The keyring still works for the next writer.
	mustRun(t, env, "keys", "create", "--kid", "after", "--lock-timeout", "5s")
}

// TestPGFaults: a wrong password, an unreachable server, a statement
// timeout and a held lock each end with one clear line (and a hint), the
// password never shown, and nothing changed.
func TestPGFaults(t *testing.T) {
	u, env := pgKeyring(t)
	mustRun(t, env, "keys", "create", "--kid", "first")
	pgtest.Exec(t, u,
		"DROP ROLE IF EXISTS keyctl_fault_user",
		"CREATE ROLE keyctl_fault_user LOGIN PASSWORD 'right-throwaway-pw'",
		"GRANT USAGE ON SCHEMA keyctl TO keyctl_fault_user",
		"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA keyctl TO keyctl_fault_user",
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA keyctl TO keyctl_fault_user")
	t.Cleanup(func() {
		pgtest.Exec(t, u, "DROP OWNED BY keyctl_fault_user", "DROP ROLE IF EXISTS keyctl_fault_user")
	})
	check := func(name, keyringURI, secret string, code int, want string, extra ...string) {
		t.Helper()
		c := keyctlProc(env, append([]string{"keys", "create", "--kid", "never", "--keyring", keyringURI}, extra...)...)
		var stdout, stderr strings.Builder
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != code {
			t.Fatalf("%s: exit %v, want %d\n%s", name, err, code, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) > 2 || !strings.HasPrefix(lines[0], "keyctl: ") || (len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
			t.Fatalf("%s: not one line and a hint:\n%s", name, stderr.String())
		}
		if !strings.Contains(lines[0], want) {
			t.Fatalf("%s: %q does not say %q", name, lines[0], want)
		}
		if secret != "" && strings.Contains(stderr.String()+stdout.String(), secret) {
			t.Fatalf("%s: the password was printed:\n%s", name, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Fatalf("%s: stdout %q", name, stdout.String())
		}
	}
	wrong := pgtest.WithUser(u, "keyctl_fault_user", "wrong-throwaway-pw")
	check("wrong password", wrong, "wrong-throwaway-pw", 1, "password authentication failed")
	unreachable := "postgres://keyctl_fault_user:unreachable-throwaway-pw@127.0.0.1:1/keys?connect_timeout=2"
	check("unreachable", unreachable, "unreachable-throwaway-pw", 1, "cannot connect")

	// Hold the keyring's row lock from another session.
	ctx := context.Background()
	holder, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	tx, err := holder.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM keyctl.keyrings FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	right := pgtest.WithUser(u, "keyctl_fault_user", "right-throwaway-pw")
	timeout := right + "&options=-c%20statement_timeout%3D300"
	if !strings.Contains(right, "?") {
		timeout = right + "?options=-c%20statement_timeout%3D300"
	}
	check("statement timeout", timeout, "right-throwaway-pw", 1, "statement timed out", "--lock-timeout", "30s")
	check("lock held", right, "right-throwaway-pw", 4, "waiting for another writer", "--lock-timeout", "300ms")
	tx.Rollback(ctx)

	if n := pgCount(t, u, "SELECT count(*) FROM keyctl.keys"); n != 1 {
		t.Fatalf("%d keys after the faults, want 1", n)
	}
	// And with the right password it works.
	mustRun(t, env, "keys", "create", "--kid", "second", "--keyring", right)
}
