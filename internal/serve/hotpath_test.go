package serve

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// TestRequestsDoNotTouchSource: a request is answered from memory, with
// no stat and no read of the source, whatever the path.
func TestRequestsDoNotTouchSource(t *testing.T) {
	f := newFixture(t, genKey(t, jwk.ES256))
	var stats, reads atomic.Int64
	f.h.mu.Lock()
	stat, read := f.h.stat, f.h.read
	f.h.stat = func(p string) (stamp, error) { stats.Add(1); return stat(p) }
	f.h.read = func(p string) ([]byte, fs.FileInfo, error) { reads.Add(1); return read(p) }
	f.h.mu.Unlock()
	for range 1000 {
		for _, p := range []string{JWKSPath, SupabaseJWKSPath, HealthPath, ReadyPath, DiscoveryPath} {
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
			if rec.Code != 200 {
				t.Fatalf("%s: status %d", p, rec.Code)
			}
		}
	}
	if stats.Load() != 0 || reads.Load() != 0 {
		t.Errorf("5000 requests made %d stats and %d reads of the source, want none", stats.Load(), reads.Load())
	}
}

// TestJWKSResponseAllocations: the JWKS is a prepared response; serving it
// allocates no body and no header values.
func TestJWKSResponseAllocations(t *testing.T) {
	f := newFixture(t, genKey(t, jwk.ES256))
	req := httptest.NewRequest("GET", JWKSPath, nil)
	w := &discardWriter{h: http.Header{}}
	allocs := testing.AllocsPerRun(1000, func() {
		clear(w.h)
		f.h.ServeHTTP(w, req)
	})
	if allocs > 0 {
		t.Errorf("%v allocations per JWKS request, want 0", allocs)
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// waitKIDs polls the handler's JWKS, without asking it to reload, until it
// publishes want.
func waitKIDs(t *testing.T, h *Handler, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", JWKSPath, nil))
		if got = kids(t, rec.Body.String()); slices.Equal(got, want) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("kids %v, want %v", got, want)
}

// TestWatchTakesInRenames: with inotify, a write renamed into place is
// served without any request asking for it and without waiting for the
// timed stat (an hour here).
func TestWatchTakesInRenames(t *testing.T) {
	a, b, c := genKey(t, jwk.ES256), genKey(t, jwk.ES256), genKey(t, jwk.EdDSA)
	f := newFixture(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if !f.h.Watch(ctx, time.Hour) {
		t.Skip("no inotify here")
	}
	if err := keysfile.Write(f.path, []*jwk.Key{a, b}); err != nil {
		t.Fatal(err)
	}
	waitKIDs(t, f.h, []string{a.KID, b.KID})
	if err := keysfile.Write(f.path, []*jwk.Key{c}); err != nil {
		t.Fatal(err)
	}
	waitKIDs(t, f.h, []string{c.KID})
}

// TestWatchStatFallback: without inotify the timed stat finds the change.
func TestWatchStatFallback(t *testing.T) {
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	f := newFixture(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.h.watch(ctx, nil, 20*time.Millisecond)
	if err := keysfile.Write(f.path, []*jwk.Key{b}); err != nil {
		t.Fatal(err)
	}
	waitKIDs(t, f.h, []string{b.KID})
}

// TestReadyz: a pushed handler with nothing yet is not ready (/readyz and
// the JWKS answer 503, /healthz says loading) until the first Push.
func TestReadyz(t *testing.T) {
	h, err := NewPushed(Options{Path: "postgres://db/keys", Source: "keyring", MaxAge: DefaultMaxAge}, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func(p string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		return rec
	}
	for _, p := range []string{ReadyPath, JWKSPath, DiscoveryPath} {
		if r := get(p); r.Code != 503 {
			t.Errorf("%s before the first load: %d, want 503", p, r.Code)
		}
	}
	if r := get(HealthPath); r.Code != 200 || !strings.Contains(r.Body.String(), `"status":"loading"`) {
		t.Errorf("healthz before the first load: %d %s", r.Code, r.Body)
	}
	h.PushFailure(errString("connection refused"))
	if r := get(ReadyPath); r.Code != 503 || !strings.Contains(r.Body.String(), "connection refused") {
		t.Errorf("readyz after a failure: %d %s", r.Code, r.Body)
	}
	k := genKey(t, jwk.ES256)
	h.Push(&jwk.Set{Keys: []*jwk.Key{k}})
	for _, p := range []string{ReadyPath, JWKSPath, DiscoveryPath, HealthPath} {
		if r := get(p); r.Code != 200 {
			t.Errorf("%s after a push: %d, want 200", p, r.Code)
		}
	}
	// A file handler is ready from the start: New needs a good load.
	f := newFixture(t, k)
	if r := f.do("GET", ReadyPath); r.StatusCode != 200 {
		t.Errorf("file handler readyz %d", r.StatusCode)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestRequestLogSampling: past RequestLogRate lines a second, successful
// requests are counted and summed up in one line; errors are all logged.
func TestRequestLogSampling(t *testing.T) {
	logs := &syncBuffer{}
	status := 200
	now := time.Unix(1000, 0)
	h := logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }),
		slog.New(slog.NewJSONHandler(logs, nil)), func() time.Time { return now }, 10)
	do := func(n int) {
		for range n {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", JWKSPath, nil))
		}
	}
	do(100)
	status = 500
	do(20)
	status = 404
	do(5)
	if n := strings.Count(logs.String(), `"msg":"request"`); n != 10+20+5 {
		t.Errorf("%d request lines in the first second, want 35 (10 sampled, every error):\n%s", n, logs)
	}
	now = now.Add(time.Second)
	status = 200
	do(1)
	if !strings.Contains(logs.String(), `"msg":"request lines left out","skipped":90`) {
		t.Errorf("no summary of the 90 lines left out:\n%s", logs)
	}
}
