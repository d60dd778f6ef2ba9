package jwks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// server is a loopback JWKS server that counts requests and answers
// If-None-Match with 304.
type server struct {
	*httptest.Server
	mu           sync.Mutex
	body         string
	cacheControl string
	status       int
	full, cond   int // 200s and 304s
	block        chan struct{}
	// delay holds each answer back, so that requests overlap.
	delay time.Duration
	// hook sees each request as it arrives.
	hook func(*http.Request)
}

func newServer(t *testing.T, body string) *server {
	s := &server{body: body, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, cc, status, block, delay, hook := s.body, s.cacheControl, s.status, s.block, s.delay, s.hook
		s.mu.Unlock()
		if hook != nil {
			hook(r)
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		sum := sha256.Sum256([]byte(body))
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			s.cond++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.full++
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) set(f func(s *server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *server) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full, s.cond
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func publicJWKS(t *testing.T, kids ...string) string {
	var keys []*jwk.Key
	for _, kid := range kids {
		k, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: kid})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	set, err := jwk.PublicSet(keys)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func kids(s *Set) string {
	var out []string
	for _, k := range s.Keys {
		out = append(out, k.KID)
	}
	return strings.Join(out, ",")
}

type env struct {
	srv   *server
	clk   *clock
	dir   string
	url   string
	warns []string
}

func setup(t *testing.T, body string) *env {
	e := &env{srv: newServer(t, body), clk: &clock{t: time.Unix(1_800_000_000, 0)}, dir: t.TempDir()}
	e.url = e.srv.URL + "/auth/v1/.well-known/jwks.json"
	return e
}

// fetcher is a new process's fetcher: shared cache dir and clock only.
func (e *env) fetcher(ttl time.Duration) *Fetcher {
	return New(Options{CacheDir: e.dir, TTL: ttl, Now: e.clk.Now, Client: e.srv.Client(),
		Warn: func(f string, a ...any) { e.warns = append(e.warns, fmt.Sprintf(f, a...)) }})
}

func (e *env) want(t *testing.T, full, cond int) {
	t.Helper()
	if f, c := e.srv.counts(); f != full || c != cond {
		t.Fatalf("server saw %d full and %d conditional requests, want %d and %d", f, c, full, cond)
	}
}

func TestCacheAcrossProcesses(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	s, err := e.fetcher(DefaultTTL).Get(ctx, e.url)
	if err != nil || kids(s) != "a" || s.FromCache {
		t.Fatalf("%+v %v", s, err)
	}
	e.want(t, 1, 0)
	// Another process within the TTL: no request.
	e.clk.Add(9 * time.Minute)
	s, err = e.fetcher(DefaultTTL).Get(ctx, e.url)
	if err != nil || !s.FromCache || kids(s) != "a" {
		t.Fatalf("%+v %v", s, err)
	}
	e.want(t, 1, 0)
	// After the TTL: revalidated with the ETag, 304, fresh again.
	e.clk.Add(2 * time.Minute)
	s, err = e.fetcher(DefaultTTL).Get(ctx, e.url)
	if err != nil || !s.NotModified || kids(s) != "a" {
		t.Fatalf("%+v %v", s, err)
	}
	e.want(t, 1, 1)
	s, _ = e.fetcher(DefaultTTL).Get(ctx, e.url)
	if !s.FromCache {
		t.Fatal("not fresh after a 304")
	}
	e.want(t, 1, 1)
	// A changed set after expiry comes in full.
	e.srv.set(func(s *server) { s.body = publicJWKS(t, "a", "b") })
	e.clk.Add(11 * time.Minute)
	s, _ = e.fetcher(DefaultTTL).Get(ctx, e.url)
	if kids(s) != "a,b" {
		t.Fatalf("kids %s", kids(s))
	}
	e.want(t, 2, 1)
	// The cache file is private.
	st, err := os.Stat(CachePath(e.dir, e.url))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file %v %v", st, err)
	}
}

func TestRefreshRateLimit(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	// A token with a new kid, 10 s later, in another process: refused.
	e.clk.Add(10 * time.Second)
	_, err := e.fetcher(DefaultTTL).Refresh(ctx, e.url)
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Wait != 20*time.Second {
		t.Fatalf("err %v", err)
	}
	e.want(t, 1, 0)
	// 30 s after the fetch: one conditional request.
	e.clk.Add(20 * time.Second)
	e.srv.set(func(s *server) { s.body = publicJWKS(t, "a", "new") })
	s, err := e.fetcher(DefaultTTL).Refresh(ctx, e.url)
	if err != nil || kids(s) != "a,new" {
		t.Fatalf("%v %v", s, err)
	}
	e.want(t, 2, 0)
	// The refreshed set is cached for the next process.
	s, _ = e.fetcher(DefaultTTL).Get(ctx, e.url)
	if !s.FromCache || kids(s) != "a,new" {
		t.Fatalf("%+v", s)
	}
	// Within one process the limit holds without a cache dir too.
	f := New(Options{Now: e.clk.Now, Client: e.srv.Client(), TTL: DefaultTTL})
	if _, err := f.Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Refresh(ctx, e.url); !errors.As(err, &rl) {
		t.Fatalf("second fetch in one process allowed: %v", err)
	}
	e.want(t, 3, 0)
	// A clock that jumped back does not lock refetching out.
	e.clk.Add(-time.Hour)
	if _, err := f.Refresh(ctx, e.url); err != nil {
		t.Fatalf("refresh after a clock jump: %v", err)
	}
}

func TestFailedFetchCountsForTheRateLimit(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	e.srv.set(func(s *server) { s.status = http.StatusServiceUnavailable })
	e.clk.Add(time.Minute)
	if _, err := e.fetcher(DefaultTTL).Refresh(ctx, e.url); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err %v", err)
	}
	var rl *RateLimitError
	if _, err := e.fetcher(DefaultTTL).Refresh(ctx, e.url); !errors.As(err, &rl) {
		t.Fatalf("a failed attempt did not count: %v", err)
	}
	// The good body survives the failure and is still fresh.
	s, err := e.fetcher(DefaultTTL).Get(ctx, e.url)
	if err != nil || !s.FromCache {
		t.Fatalf("%+v %v", s, err)
	}
	// Once stale, a server that is down is an error: no stale fallback.
	e.clk.Add(DefaultTTL)
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err == nil {
		t.Fatal("stale copy used while the server is down")
	}
}

func TestCacheControl(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		cc         string
		ttl        time.Duration
		freshAfter time.Duration // still fresh after this long
		staleAfter time.Duration // not fresh after this long
	}{
		{"public, max-age=600", DefaultTTL, 599 * time.Second, 600 * time.Second},
		{"max-age=60", DefaultTTL, 59 * time.Second, 60 * time.Second},
		{"max-age=3600", DefaultTTL, 599 * time.Second, 600 * time.Second}, // the TTL caps it
		{"max-age=3600", time.Hour, 3599 * time.Second, time.Hour},
		{"no-cache", DefaultTTL, -1, 0},
		{"max-age=0", DefaultTTL, -1, 0},
		{"", time.Minute, 59 * time.Second, time.Minute},
		{"", 0, -1, 0},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.cc, tc.ttl), func(t *testing.T) {
			e := setup(t, publicJWKS(t, "a"))
			e.srv.set(func(s *server) { s.cacheControl = tc.cc })
			start := e.clk.Now()
			if _, err := e.fetcher(tc.ttl).Get(ctx, e.url); err != nil {
				t.Fatal(err)
			}
			if tc.freshAfter >= 0 {
				e.clk.t = start.Add(tc.freshAfter)
				if s, _ := e.fetcher(tc.ttl).Get(ctx, e.url); !s.FromCache {
					t.Errorf("not fresh after %s", tc.freshAfter)
				}
			}
			e.clk.t = start.Add(tc.staleAfter)
			if s, _ := e.fetcher(tc.ttl).Get(ctx, e.url); s.FromCache {
				t.Errorf("still fresh after %s", tc.staleAfter)
			}
		})
	}
}

func TestNoStoreKeepsBodyOffDisk(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	e.srv.set(func(s *server) { s.cacheControl = "no-store" })
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(CachePath(e.dir, e.url))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"keys"`) {
		t.Fatalf("body stored despite no-store: %s", data)
	}
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	e.want(t, 2, 0)
}

func TestRefusedSets(t *testing.T) {
	priv, _ := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: "p"})
	privJSON, _ := priv.MarshalJSON()
	secret, _ := jwk.Generate(jwk.HS256, jwk.GenerateOptions{KID: "s"})
	secretJSON, _ := secret.MarshalJSON()
	ctx := context.Background()
	for name, tc := range map[string]struct{ body, want string }{
		"private key":   {`{"keys":[` + string(privJSON) + `]}`, "must not carry private keys"},
		"shared secret": {`{"keys":[` + string(secretJSON) + `]}`, "must not carry shared secrets"},
		"not JSON":      {`<html>`, "not a JWKS"},
		"no keys":       {`{"keyz":[]}`, `no "keys" array`},
		"too large":     {`{"keys":[],"pad":"` + strings.Repeat("x", MaxBytes) + `"}`, "over the 1048576-byte limit"},
	} {
		t.Run(name, func(t *testing.T) {
			e := setup(t, tc.body)
			_, err := e.fetcher(DefaultTTL).Get(ctx, e.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			// Nothing usable was cached.
			if entry := e.fetcher(DefaultTTL).load(e.url); entry == nil || entry.Body != "" {
				t.Fatalf("entry %+v", entry)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	release := make(chan struct{})
	defer close(release)
	e.srv.set(func(s *server) { s.block = release })
	f := New(Options{Timeout: 50 * time.Millisecond, Client: e.srv.Client(), Now: e.clk.Now})
	_, err := f.Get(context.Background(), e.url)
	if err == nil || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err %v", err)
	}
}

func TestRedirectsAreChecked(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/loop" {
			http.Redirect(w, r, e.url, http.StatusFound)
			return
		}
		http.Redirect(w, r, "http://jwks.example.test/jwks.json", http.StatusFound)
	}))
	defer redirect.Close()
	f := New(Options{Client: redirect.Client(), Now: e.clk.Now})
	if _, err := f.Get(context.Background(), redirect.URL+"/away"); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("redirect to plain http elsewhere followed: %v", err)
	}
	if s, err := f.Get(context.Background(), redirect.URL+"/loop"); err != nil || kids(s) != "a" {
		t.Fatalf("loopback redirect: %v", err)
	}
}

func TestCorruptCacheIsIgnored(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if err := os.WriteFile(CachePath(e.dir, e.url), []byte(`{"version":1,"url":"`+e.url+`","body":"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}","fresh_until":"2100-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := e.fetcher(DefaultTTL).Get(ctx, e.url)
	if err != nil || s.FromCache || kids(s) != "a" {
		t.Fatalf("a cached body with a secret was used: %+v %v", s, err)
	}
	for _, junk := range []string{"", "{", `{"version":2}`, `{"version":1,"url":"x","extra":1}`} {
		os.WriteFile(CachePath(e.dir, e.url), []byte(junk), 0o600)
		if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
			t.Fatalf("junk %q: %v", junk, err)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://project.supabase.co/auth/v1/.well-known/jwks.json": true,
		"http://127.0.0.1:54321/auth/v1/.well-known/jwks.json":      true,
		"http://127.1.2.3/jwks.json":                                true,
		"http://localhost:8080/jwks.json":                           true,
		"http://LOCALHOST/jwks.json":                                true,
		"http://[::1]:54321/jwks.json":                              true,
		"http://example.com/jwks.json":                              false,
		"http://10.0.0.1/jwks.json":                                 false,
		"http://localhost.attacker.test/jwks.json":                  false,
		"http://127.0.0.1.nip.io/jwks.json":                         false,
		"ftp://127.0.0.1/jwks.json":                                 false,
		"file:///etc/passwd":                                        false,
		"https://user:pw@example.com/jwks.json":                     false,
		"https:///jwks.json":                                        false,
		"https://example.com/%zz":                                   false,
	} {
		_, err := CheckURL(raw)
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestParseCacheControl(t *testing.T) {
	for _, tc := range []struct {
		in               []string
		maxAge           time.Duration
		has, store, hold bool
	}{
		{[]string{"public, max-age=600"}, 600 * time.Second, true, false, false},
		{[]string{"MAX-AGE=60", "max-age=30"}, 30 * time.Second, true, false, false},
		{[]string{`max-age="90"`}, 90 * time.Second, true, false, false},
		{[]string{"max-age=-1"}, 0, true, false, false},           // malformed: stale
		{[]string{"max-age=abc, no-store"}, 0, true, true, false}, // malformed: stale
		{[]string{"max-age=600, max-age=x"}, 0, true, false, false},
		{[]string{"no-cache"}, 0, false, false, true},
		{[]string{"max-age=99999999999999"}, (1 << 31) * time.Second, true, false, false},
		{nil, 0, false, false, false},
	} {
		ma, has, noStore, noCache := ParseCacheControl(tc.in)
		if ma != tc.maxAge || has != tc.has || noStore != tc.store || noCache != tc.hold {
			t.Errorf("%q: %s %v %v %v", tc.in, ma, has, noStore, noCache)
		}
	}
}

func TestDefaultCacheDir(t *testing.T) {
	env := func(k string) (string, bool) {
		if k == "XDG_CACHE_HOME" {
			return "/tmp/c", true
		}
		return "", false
	}
	if got := DefaultCacheDir(env); got != "/tmp/c/keyctl/jwks" {
		t.Fatal(got)
	}
}

func FuzzParseEntry(f *testing.F) {
	f.Add([]byte(`{"version":1,"url":"https://x.test/j","body":"{\"keys\":[]}","etag":"\"1\"","fetched_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"fresh_until":"bad"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err == nil && e.Version != entryVersion {
			t.Fatalf("version %d accepted", e.Version)
		}
	})
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{"public, max-age=600", "no-store", "max-age=\"5\", no-cache", "max-age=1e3", ",,=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ma, has, _, _ := ParseCacheControl([]string{s})
		if ma < 0 || (!has && ma != 0) || ma > (1<<31)*time.Second {
			t.Fatalf("%q: max-age %s has %v", s, ma, has)
		}
	})
}

func TestShorterTTLAppliesToCachedSets(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(time.Hour).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Minute)
	if s, _ := e.fetcher(time.Hour).Get(ctx, e.url); !s.FromCache {
		t.Fatal("not fresh under the TTL it was cached with")
	}
	if s, _ := e.fetcher(time.Minute).Get(ctx, e.url); s.FromCache {
		t.Fatal("a shorter TTL did not apply to the cached set")
	}
	e.want(t, 1, 1)
}

// A cache directory others can write (a shared XDG_CACHE_HOME) is not
// used: a link planted where the cache file goes would be followed by a
// write, overwriting whatever it points at.
func TestUnsafeCacheDirIsNotUsed(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	shared := filepath.Join(e.dir, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(shared, 0o777) // past the umask
	victim := filepath.Join(e.dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	if err := os.Symlink(victim, CachePath(shared, e.url)); err != nil {
		t.Fatal(err)
	}
	e.dir = shared
	s, err := e.fetcher(DefaultTTL).Get(context.Background(), e.url)
	if err != nil || kids(s) != "a" {
		t.Fatalf("verification must go on without the cache: %+v %v", s, err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious\n" {
		t.Fatalf("the planted link was followed: %q", got)
	}
	if len(e.warns) != 1 || !strings.Contains(e.warns[0], "not using the JWKS cache") {
		t.Fatalf("warnings %q", e.warns)
	}
}

// In the user's own directory a link at a cache file's name is replaced,
// not written through.
func TestCacheWriteReplacesALink(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	if err := os.Symlink(victim, CachePath(e.dir, e.url)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fetcher(DefaultTTL).Get(context.Background(), e.url); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "precious\n" {
		t.Fatalf("the link was written through: %q", got)
	}
	if st, err := os.Lstat(CachePath(e.dir, e.url)); err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", st, err)
	}
}
