//go:build unix

package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// processes runs do in n goroutines at once, each with a fetcher of its
// own, as n keyctl processes sharing the cache directory would.
func (e *env) processes(t *testing.T, n int, do func(f *Fetcher) (*Set, error)) ([]*Set, []error) {
	t.Helper()
	sets, errs := make([]*Set, n), make([]error, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		f := New(Options{CacheDir: e.dir, TTL: DefaultTTL, Now: e.clk.Now, Client: e.srv.Client(),
			Warn: func(format string, a ...any) {
				mu.Lock()
				defer mu.Unlock()
				e.warns = append(e.warns, fmt.Sprintf(format, a...))
			}})
		wg.Go(func() { sets[i], errs[i] = do(f) })
	}
	wg.Wait()
	return sets, errs
}

// TestOverlappingProcessesFetchOnce: processes that find the cache stale
// at the same moment make one request between them; the others wait for
// it and use what it brought.
func TestOverlappingProcessesFetchOnce(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	// Each answer takes a while, so that every process has decided to
	// fetch before the first answer is in.
	e.srv.set(func(s *server) { s.delay = 300 * time.Millisecond })
	sets, errs := e.processes(t, 4, func(f *Fetcher) (*Set, error) { return f.Get(context.Background(), e.url) })
	fetched := 0
	for i := range sets {
		if errs[i] != nil || kids(sets[i]) != "a" {
			t.Fatalf("process %d: %+v %v", i, sets[i], errs[i])
		}
		if !sets[i].FromCache {
			fetched++
		}
	}
	e.want(t, 1, 0)
	if fetched != 1 {
		t.Fatalf("%d processes say they fetched, want 1", fetched)
	}
}

// TestOverlappingRefreshesFetchOnce: processes that meet a token with a
// new kid at the same moment refetch once between them, 30 s limit or
// not; the others get the set that one refetch brought, without a
// request of their own.
func TestOverlappingRefreshesFetchOnce(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(MinRefetchInterval + time.Second)
	e.srv.set(func(s *server) {
		s.body = publicJWKS(t, "a", "new")
		s.delay = 300 * time.Millisecond
	})
	sets, errs := e.processes(t, 4, func(f *Fetcher) (*Set, error) {
		if s, err := f.Get(ctx, e.url); err != nil || !s.FromCache || kids(s) != "a" {
			return s, fmt.Errorf("before the refresh: %+v %v", s, err)
		}
		return f.Refresh(ctx, e.url)
	})
	for i := range sets {
		if errs[i] != nil || kids(sets[i]) != "a,new" {
			t.Fatalf("process %d: %+v %v", i, sets[i], errs[i])
		}
	}
	e.want(t, 2, 0)
	// Without a set of their own to compare, later processes are told
	// the URL was just fetched.
	_, errs = e.processes(t, 3, func(f *Fetcher) (*Set, error) { return f.Refresh(ctx, e.url) })
	for i, err := range errs {
		var rl *RateLimitError
		if !errors.As(err, &rl) {
			t.Fatalf("process %d: %v, want a rate limit", i, err)
		}
	}
	e.want(t, 2, 0)
}

// TestAttemptRecordedBeforeTheRequest: while a request is on its way, the
// cache already says it was made, so a process that reads the cache then
// (one that could not take the lock, or was killed mid-request) counts it.
func TestAttemptRecordedBeforeTheRequest(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Hour)
	var seen time.Time
	e.srv.set(func(s *server) {
		s.hook = func(*http.Request) {
			if entry := New(Options{CacheDir: e.dir}).load(e.url); entry != nil {
				seen = entry.LastAttempt
			}
		}
	})
	if _, err := e.fetcher(DefaultTTL).Refresh(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	if !seen.Equal(e.clk.Now()) {
		t.Fatalf("during the request the cache said the last attempt was at %s, want %s", seen, e.clk.Now())
	}
}

// TestLockFile: the lock is a private file beside the cache file.
func TestLockFile(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	if _, err := e.fetcher(DefaultTTL).Get(context.Background(), e.url); err != nil {
		t.Fatal(err)
	}
	path := lockPath(e.dir, e.url)
	if filepath.Dir(path) != e.dir || !strings.HasSuffix(path, ".lock") {
		t.Fatalf("lock file %s", path)
	}
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %v %v", st, err)
	}
	// One made looser by hand is made private again.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(time.Hour)
	if _, err := e.fetcher(DefaultTTL).Get(context.Background(), e.url); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file %v %v", st, err)
	}
	if len(e.warns) != 0 {
		t.Fatalf("warnings %q", e.warns)
	}
}

// TestLockHeldTooLong: a holder stuck for longer than a fetch can take
// (a stopped process) delays the others by twice the timeout, then they
// go on without the lock, and the attempt it recorded still counts.
func TestLockHeldTooLong(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	held, err := os.OpenFile(lockPath(e.dir, e.url), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f := New(Options{CacheDir: e.dir, Timeout: 100 * time.Millisecond, Now: e.clk.Now, Client: e.srv.Client(),
		Warn: func(format string, a ...any) { e.warns = append(e.warns, fmt.Sprintf(format, a...)) }})
	start := time.Now()
	_, err = f.Refresh(ctx, e.url)
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err %v, want a rate limit", err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("went on after %s, want twice the 100ms timeout", waited)
	}
	if len(e.warns) != 1 || !strings.Contains(e.warns[0], "held by another keyctl process for over 200ms; going on without it") {
		t.Fatalf("warnings %q", e.warns)
	}
	// A caller that gives up first is not kept waiting.
	e.clk.Add(time.Hour)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := f.Get(cctx, e.url); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	e.want(t, 1, 0)
}

// TestLockFileRefused: a lock file keyctl did not make (a symlink, a
// FIFO, another user's) is not used; verification goes on without it.
func TestLockFileRefused(t *testing.T) {
	for name, plant := range map[string]func(path string) error{
		"symlink": func(path string) error { return os.Symlink(filepath.Join(filepath.Dir(path), "elsewhere"), path) },
		"FIFO":    func(path string) error { return syscall.Mkfifo(path, 0o600) },
		"another user's": func(path string) error {
			if os.Geteuid() != 0 {
				return errSkip
			}
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				return err
			}
			return os.Chown(path, 4242, -1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := setup(t, publicJWKS(t, "a"))
			path := lockPath(e.dir, e.url)
			if err := plant(path); errors.Is(err, errSkip) {
				t.Skip("needs root")
			} else if err != nil {
				t.Fatal(err)
			}
			s, err := e.fetcher(DefaultTTL).Get(context.Background(), e.url)
			if err != nil || kids(s) != "a" {
				t.Fatalf("%+v %v", s, err)
			}
			if len(e.warns) != 1 || !strings.Contains(e.warns[0], "cannot lock the JWKS cache, going on without the lock") {
				t.Fatalf("warnings %q", e.warns)
			}
			if _, err := os.Lstat(filepath.Join(e.dir, "elsewhere")); err == nil {
				t.Fatal("a symlink planted as the lock file was followed")
			}
		})
	}
}

var errSkip = errors.New("skip")
