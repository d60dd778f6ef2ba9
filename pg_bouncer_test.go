package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/pgtest"
)

// A keyring in PostgreSQL reached through PgBouncer in transaction mode
// (testdata/pg/bouncer.sh), the pooler teams put in front of PostgreSQL:
// every command works through it, writers still serialize, and serve
// replicas, whose LISTEN a transaction pooler breaks, still take in a
// change within their poll interval.
func TestPGThroughPgbouncer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many processes")
	}
	direct := pgtest.NewDatabase(t)
	via := pgtest.ThroughBouncer(t, direct)
	env := pgEnv(t, via)
	mustRun(t, env, "db", "migrate")
	mustRun(t, env, "keys", "create", "--kid", "one")
	mustRun(t, env, "keys", "rotate", "one")

	out, err := keyctlProc(env, "gen", "bearer-jwt", "--role", "authenticated").Output()
	if err != nil {
		t.Fatalf("gen bearer-jwt through PgBouncer: %v", err)
	}
	if out := mustRun(t, env, "verify", strings.TrimSpace(string(out))); !strings.Contains(out, `"role":"authenticated"`) {
		t.Errorf("verify through PgBouncer: %s", out)
	}

	// Writers still serialize: 20 at once, 20 keys and 20 events.
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := keyctlProc(env, "keys", "create", "--kid", fmt.Sprintf("c%02d", i)).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := pgCount(t, direct, "SELECT count(*) FROM keyctl.keys WHERE kid LIKE 'c%'"); got != n {
		t.Errorf("%d keys after %d concurrent creates through PgBouncer", got, n)
	}
	if got := pgCount(t, direct, "SELECT count(*) FROM keyctl.history WHERE event = 'create' AND kid LIKE 'c%'"); got != n {
		t.Errorf("%d history events after %d concurrent creates through PgBouncer", got, n)
	}

	// Replicas through the pooler, with LISTEN (which it breaks) and with
	// --no-listen: a rotation reaches both within the poll interval.
	listening := startReplica(t, env, "--poll-interval", "500ms")
	polling := startReplica(t, env, "--poll-interval", "500ms", "--no-listen")
	waitFor(t, 5*time.Second, "the first key", hasKID("one"), listening, polling)
	mustRun(t, env, "keys", "create", "--kid", "two")
	mustRun(t, env, append([]string{"keys", "rotate", "two"}, rotateForce(t, env)...)...)
	took := waitFor(t, 5*time.Second, "the key rotated in", hasKID("two"), listening, polling)
	if took > 2*time.Second {
		t.Errorf("the rotation took %s to reach the replicas, more than a 500ms poll interval allows", took)
	}
	_, b0, e0, _ := listening.get("/.well-known/jwks.json")
	_, b1, e1, _ := polling.get("/.well-known/jwks.json")
	if b0 != b1 || e0 != e1 {
		t.Errorf("replicas disagree: %s and %s", e0, e1)
	}
}
