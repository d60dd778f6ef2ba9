//go:build unix

package serve

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// within runs fn and fails the test if it has not returned after d: a
// request that blocks on a FIFO blocks forever.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %s", what, d)
	}
}

// TestSourceSwappedForFIFO: a running serve whose source path becomes a
// FIFO keeps serving the last good set, says why in /healthz, never blocks
// a request and opens no descriptor per request; a regular file put back
// is served again.
func TestSourceSwappedForFIFO(t *testing.T) {
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	f := newFixture(t, a)
	good := body(t, f.do("GET", JWKSPath))
	fifo := filepath.Join(filepath.Dir(f.path), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := os.Rename(fifo, f.path); err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	within(t, 5*time.Second, "requests with a FIFO in place", func() {
		for range 200 {
			if got := body(t, f.do("GET", JWKSPath)); got != good {
				t.Errorf("served %s, want the last good set", got)
				return
			}
		}
		h := body(t, f.do("GET", HealthPath))
		if !strings.Contains(h, `"status":"stale"`) || !strings.Contains(h, "named pipe (FIFO), not a regular file") {
			t.Errorf("healthz: %s", h)
		}
	})
	if after := openFDs(t); after > before+2 {
		t.Errorf("open descriptors went from %d to %d over 200 requests", before, after)
	}
	if n := strings.Count(f.logs.String(), "cannot reload keys"); n != 1 {
		t.Errorf("%d error lines for one broken source, want 1:\n%s", n, f.logs)
	}
	if err := keysfile.Write(f.path, []*jwk.Key{b}); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "request after the FIFO was replaced", func() {
		if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{b.KID}) {
			t.Errorf("kids %v, want %v", got, []string{b.KID})
		}
	})
}

// TestFIFOBetweenStatAndRead: a FIFO swapped in after the stat said
// "regular file" is refused when opened, without blocking.
func TestFIFOBetweenStatAndRead(t *testing.T) {
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	f := newFixture(t, a)
	good := body(t, f.do("GET", JWKSPath))
	if err := keysfile.Write(f.path, []*jwk.Key{b}); err != nil {
		t.Fatal(err)
	}
	regular, err := statStamp(f.path) // what the stat saw
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.path)
	if err := syscall.Mkfifo(f.path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	f.h.mu.Lock()
	f.h.stat = func(string) (stamp, error) { return regular, nil }
	f.h.mu.Unlock()
	before := openFDs(t)
	within(t, 5*time.Second, "requests with a FIFO behind a regular stat", func() {
		for range 20 {
			if got := body(t, f.do("GET", JWKSPath)); got != good {
				t.Errorf("served %s, want the last good set", got)
				return
			}
		}
		if h := body(t, f.do("GET", HealthPath)); !strings.Contains(h, "named pipe (FIFO)") {
			t.Errorf("healthz: %s", h)
		}
	})
	if after := openFDs(t); after > before+2 {
		t.Errorf("open descriptors went from %d to %d", before, after)
	}
}
