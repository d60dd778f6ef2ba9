//go:build unix

package jwks

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRedTeamCacheFileIsAFIFO: a FIFO planted where the cache file goes
// (another user's, in a shared XDG_CACHE_HOME) must not hang verify before
// its fetch timeout even starts: it is ignored with a warning, the set is
// fetched, and the cache written in its place.
func TestRedTeamCacheFileIsAFIFO(t *testing.T) {
	e := setup(t, publicJWKS(t, "genuine"))
	path := CachePath(e.dir, e.url)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	type result struct {
		s   *Set
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := e.fetcher(DefaultTTL).Get(context.Background(), e.url)
		done <- result{s, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(5 * time.Second):
		// Unblock the reader so the test binary can finish.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatal("Get blocked on a FIFO planted as the cache file")
	}
	if r.err != nil || kids(r.s) != "genuine" || r.s.FromCache {
		t.Fatalf("%+v %v", r.s, r.err)
	}
	if len(e.warns) != 1 || !strings.Contains(e.warns[0], "ignoring the JWKS cache file") || !strings.Contains(e.warns[0], "not a regular file") {
		t.Fatalf("warnings %q", e.warns)
	}
	if st, err := os.Lstat(path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("the cache was not written in the FIFO's place: %v %v", st, err)
	}
}
