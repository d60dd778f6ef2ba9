package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/pgstore"
	"github.com/keyctl/keyctl/internal/pgtest"
)

// serve replicas backed by a keyring in PostgreSQL, as real processes.

type replica struct {
	base string
	cmd  *exec.Cmd
	logs *strings.Builder
	mu   *sync.Mutex
	// logsDone is closed once stderr is read to its end (the process
	// exited): only then may cmd.Wait be called, which closes the pipe.
	logsDone chan struct{}
}

var servingLine = regexp.MustCompile(`serving JWKS on (http://127\.0\.0\.1:\d+)/`)

// startReplica runs keyctl serve on a free loopback port and waits for
// its address; the process is stopped (SIGTERM) when the test ends.
func startReplica(t *testing.T, env []string, args ...string) *replica {
	t.Helper()
	c := keyctlProc(env, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: c, logs: &strings.Builder{}, mu: &sync.Mutex{}, logsDone: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(r.logsDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.logs.WriteString(line + "\n")
			r.mu.Unlock()
			if m := servingLine.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { <-r.logsDone; c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.Process.Kill()
		}
	})
	select {
	case r.base = <-found:
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		t.Fatalf("serve did not start:\n%s", r.logs.String())
	}
	return r
}

func (r *replica) get(path string) (int, string, string, error) {
	resp, err := http.Get(r.base + path)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header.Get("ETag"), err
}

// waitFor polls until every replica's JWKS satisfies ok, or fails after
// limit; it returns how long it took.
func waitFor(t *testing.T, limit time.Duration, what string, ok func(body string) bool, rs ...*replica) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		all := true
		for _, r := range rs {
			code, body, _, err := r.get("/.well-known/jwks.json")
			if err != nil || code != 200 || !ok(body) {
				all = false
				break
			}
		}
		if all {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not on every replica after %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasKID(kid string) func(string) bool {
	return func(body string) bool { return strings.Contains(body, `"kid":"`+kid+`"`) }
}

// TestPGReplicasSurviveRestart: three replicas under a bounded load while
// the database restarts: no request fails (they serve the last good set),
// each reconnects on its own and picks up a rotation made after the
// restart within the poll interval.
func TestPGReplicasSurviveRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and servers")
	}
	cl := pgtest.NewCluster(t)
	u := pgtest.WithDatabase(cl.URL, "postgres")
	if _, err := pgstore.New(u, pgstore.Options{}).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	env := pgEnv(t, u)
	mustRun(t, env, "keys", "create", "--kid", "before")
	mustRun(t, env, "keys", "rotate", "before")
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, env, "--poll-interval", "1s"))
	}
	// Bounded load: 3 clients, one request every 5 ms each, for the test's
	// length (at most ~1,500 requests per replica).
	var stop atomic.Bool
	var failed, served atomic.Int64
	var lastErr atomic.Value
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load() && n < 2000; n++ {
				code, _, _, err := rs[(i+n)%3].get("/.well-known/jwks.json")
				if err != nil || code != 200 {
					failed.Add(1)
					lastErr.Store(fmt.Sprint(code, err))
				} else {
					served.Add(1)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	cl.Restart(t)
	// A rotation made after the restart, by another process.
	mustRun(t, env, "keys", "create", "--kid", "after")
	mustRun(t, env, append([]string{"keys", "rotate", "after"}, rotateForce(t, env)...)...)
	took := waitFor(t, 10*time.Second, "the key created after the restart", hasKID("after"), rs...)
	stop.Store(true)
	wg.Wait()
	t.Logf("rotation after the restart reached all replicas in %s; %d requests served, %d failed", took, served.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed during the restart (last: %v)", failed.Load(), lastErr.Load())
	}
	if took > 3*time.Second {
		t.Fatalf("the change took %s, more than the 1s poll interval and reconnect allow", took)
	}
	// Every replica serves the same bytes and ETag.
	_, b0, e0, _ := rs[0].get("/.well-known/jwks.json")
	for _, r := range rs[1:] {
		_, b, e, _ := r.get("/.well-known/jwks.json")
		if b != b0 || e != e0 {
			t.Fatalf("replicas disagree: %s %q vs %s %q", e0, b0, e, b)
		}
	}
}

// TestPGReplicaHealthStale: with the database gone, /healthz says stale and
// since when, and the last good set is still served; it recovers alone.
func TestPGReplicaHealthStale(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and servers")
	}
	cl := pgtest.NewCluster(t)
	u := cl.URL
	if _, err := pgstore.New(u, pgstore.Options{}).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	env := pgEnv(t, u)
	mustRun(t, env, "keys", "create", "--kid", "k1")
	r := startReplica(t, env, "--poll-interval", "200ms")
	// Terminate the replica's connection from the server side: it must
	// reconnect, and /healthz may say stale meanwhile.
	pgtest.Exec(t, u, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keyctl' AND pid <> pg_backend_pid()")
	mustRun(t, env, "keys", "create", "--kid", "k2")
	waitFor(t, 5*time.Second, "k2 after the connection was killed", hasKID("k2"), r)
	// Stop the server for good: stale, with the last set still served.
	cl2 := cl
	stopCluster(t, cl2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body, _, err := r.get("/healthz")
		if err == nil && strings.Contains(body, `"status":"stale"`) {
			if !strings.Contains(body, `"stale_since":"`) {
				t.Fatalf("stale without since when: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz never said stale: %s %v", body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body, _, err := r.get("/.well-known/jwks.json")
	if err != nil || code != 200 || !hasKID("k2")(body) {
		t.Fatalf("the last good set is not served: %d %v %s", code, err, body)
	}
	r.mu.Lock()
	logs := r.logs.String()
	r.mu.Unlock()
	if strings.Contains(logs, "keyctl-test-throwaway") {
		t.Fatalf("a log line shows the password:\n%s", logs)
	}
}

func stopCluster(t *testing.T, c *pgtest.Cluster) {
	t.Helper()
	c.Stop(t)
}

// pgEnv is the environment of keyctl processes using the keyring at u.
func pgEnv(t *testing.T, u string) []string {
	mk := make([]byte, 32)
	rand.Read(mk)
	home := t.TempDir()
	return append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "KEYCTL_KEYRING="+u,
		"KEYCTL_MASTER_KEY="+base64.StdEncoding.EncodeToString(mk), "NO_COLOR=1", "USER=tester")
}

// TestPGTwoOperatorsStory: two operators on two machines (two HOMEs, one
// master key between them) rotate one keyring in PostgreSQL while two
// replicas, connected as a read-only role, publish it. Every token minted
// along the way verifies against either replica until its key is revoked,
// and none after. The read-only role cannot read sealed private material.
func TestPGTwoOperatorsStory(t *testing.T) {
	u, env1 := pgKeyring(t)
	// The second machine: its own home, the same master key.
	home2 := t.TempDir()
	var env2 []string
	for _, kv := range env1 {
		switch {
		case strings.HasPrefix(kv, "HOME="), strings.HasPrefix(kv, "XDG_CONFIG_HOME="), strings.HasPrefix(kv, "USER="):
		default:
			env2 = append(env2, kv)
		}
	}
	env2 = append(env2, "HOME="+home2, "XDG_CONFIG_HOME="+home2+"/.config", "USER=operator2")

	// The replicas' read-only role, as docs/team.md sets it up.
	pgtest.Exec(t, u, "DROP ROLE IF EXISTS keyctl_story_reader")
	pgtest.Exec(t, u, pgstore.ReaderGrants("keyctl_story_reader", "reader-throwaway-pw")...)
	t.Cleanup(func() {
		pgtest.Exec(t, u, "DROP OWNED BY keyctl_story_reader", "DROP ROLE IF EXISTS keyctl_story_reader")
	})
	reader := pgtest.WithUser(u, "keyctl_story_reader", "reader-throwaway-pw")
	readerEnv := append(append([]string(nil), env1...), "KEYCTL_KEYRING="+reader, "KEYCTL_MASTER_KEY=")

	// Operator 1 starts the keyring and puts a key in use.
	mustRun(t, env1, "keys", "create", "--kid", "k1")
	mustRun(t, env1, "keys", "rotate", "k1")
	r1 := startReplica(t, readerEnv)
	r2 := startReplica(t, readerEnv)
	// The reader cannot read the keyring itself (sealed material).
	if out, err := keyctlProc(readerEnv, "keys", "list").CombinedOutput(); err == nil {
		t.Fatalf("the read-only role listed the keyring:\n%s", out)
	} else if !strings.Contains(string(out), "permission denied") {
		t.Fatalf("the read-only role: %s", out)
	}

	mint := func(env []string, sub string) string {
		t.Helper()
		return strings.TrimSpace(mustRun(t, env, "gen", "bearer-jwt", "--role", "authenticated", "--sub", sub, "--any-sub"))
	}
	verifies := func(r *replica, token string) bool {
		c := keyctlProc(env1, "verify", "--jwks", r.base+"/.well-known/jwks.json", "--cache-ttl", "0", token)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Logf("verify against %s: %s", r.base, strings.TrimSpace(string(out)))
		}
		return err == nil
	}
	t1 := mint(env1, "user-1")
	// Operator 2 publishes a new key; both replicas pick it up.
	mustRun(t, env2, "keys", "create", "--kid", "k2")
	waitFor(t, 5*time.Second, "k2 published", hasKID("k2"), r1, r2)
	// ...waits, then rotates.
	mustRun(t, env2, append([]string{"keys", "rotate", "k2"}, rotateForce(t, env2)...)...)
	t2 := mint(env2, "user-2")
	t1b := mint(env1, "user-1b") // operator 1's machine now signs with k2 too
	for _, r := range []*replica{r1, r2} {
		for _, tok := range []string{t1, t2, t1b} {
			if !verifies(r, tok) {
				t.Fatalf("a token did not verify against %s before any revocation", r.base)
			}
		}
	}
	// Operator 1 revokes k1 (forced: its tokens have not expired).
	mustRun(t, env1, "keys", "revoke", "k1", "--force")
	waitFor(t, 5*time.Second, "k1 withdrawn", func(b string) bool { return !hasKID("k1")(b) }, r1, r2)
	for _, r := range []*replica{r1, r2} {
		if verifies(r, t1) {
			t.Fatalf("a token of the revoked key still verifies against %s", r.base)
		}
		if !verifies(r, t2) || !verifies(r, t1b) {
			t.Fatalf("a token of the key in use stopped verifying against %s", r.base)
		}
	}
	// The history tells who did what, from which machine.
	hist := mustRun(t, env2, "keys", "history", "-o", "json")
	for _, who := range []string{"tester@", "operator2@"} {
		if !strings.Contains(hist, who) {
			t.Fatalf("history does not name %s:\n%s", who, hist)
		}
	}
}
