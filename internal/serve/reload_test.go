package serve

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// counted makes f's handler count its reads of the source and run on a
// clock the test moves (the real clock is what the racy check compares
// file times with). Call it before the write under test.
type counted struct {
	reads int
	now   time.Time
}

func (f *fixture) counted() *counted {
	c := &counted{now: time.Now()}
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	read := f.h.read
	f.h.read = func(p string) ([]byte, fs.FileInfo, error) { c.reads++; return read(p) }
	f.h.clock = func() time.Time { return c.now }
	return c
}

// TestServeAfterWriteReadsOnce: once a change has been taken in, requests
// cost a stat and no read of the file, however many come and however long
// they go on. A write leaves the file "racy" for a few seconds (a second
// write in the same timestamp tick could keep its stat alike); that costs
// one more read once the window has passed, not one per request.
func TestServeAfterWriteReadsOnce(t *testing.T) {
	a, b, c := genKey(t, jwk.ES256), genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	f := newFixture(t, a)
	cnt := f.counted()
	if err := keysfile.Write(f.path, []*jwk.Key{a, b}); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		cnt.now = cnt.now.Add(10 * time.Millisecond) // 10 s in all
		if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{a.KID, b.KID}) {
			t.Fatalf("request %d: kids %v, want %v", i, got, []string{a.KID, b.KID})
		}
	}
	if cnt.reads > 2 {
		t.Errorf("1000 requests after a write read the file %d times, want at most 2", cnt.reads)
	}
	// Still watching: the next write is served on the next request.
	cnt.reads = 0
	if err := keysfile.Write(f.path, []*jwk.Key{c}); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{c.KID}) {
		t.Fatalf("after the second write: kids %v, want %v", got, []string{c.KID})
	}
	for range 1000 {
		f.do("GET", JWKSPath)
	}
	if cnt.reads > 2 {
		t.Errorf("1000 requests after the second write read the file %d times, want at most 2", cnt.reads)
	}
}

// benchSource writes a keys file of n ES256 keys and serves it.
func benchSource(b *testing.B, n int) (string, *Handler) {
	b.Helper()
	keys := make([]*jwk.Key, n)
	for i := range keys {
		keys[i] = genKey(b, jwk.ES256)
	}
	path := filepath.Join(b.TempDir(), "signing_keys.json")
	if err := keysfile.Write(path, keys); err != nil {
		b.Fatal(err)
	}
	// Written long ago: no racy window at start.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		b.Fatal(err)
	}
	h, err := New(Options{Path: path, Load: loadKeysFile, Source: "keys file", MaxAge: DefaultMaxAge})
	if err != nil {
		b.Fatal(err)
	}
	return path, h
}

func benchRequests(b *testing.B, h *Handler) {
	req := httptest.NewRequest("GET", JWKSPath, nil)
	b.ReportAllocs()
	b.ResetTimer()
	w := &discardWriter{h: http.Header{}}
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
}

// BenchmarkServe is the steady state: a source last written long ago.
func BenchmarkServe(b *testing.B) {
	_, h := benchSource(b, 1000)
	benchRequests(b, h)
}

// BenchmarkServeAfterWrite is the same after a write has been taken in:
// it should run at BenchmarkServe's speed, not at one file read per request.
func BenchmarkServeAfterWrite(b *testing.B) {
	path, h := benchSource(b, 1000)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := keysfile.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	if err := keysfile.Write(path, keys[1:]); err != nil {
		b.Fatal(err)
	}
	h.Reload() // what the watcher does on the write's event
	if h.Current().Keys != len(keys)-1 {
		b.Fatal("the write was not taken in")
	}
	benchRequests(b, h)
}
