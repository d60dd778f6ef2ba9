package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// genKey makes a throw-away key for alg.
func genKey(t testing.TB, alg jwk.Algorithm) *jwk.Key {
	t.Helper()
	k, err := jwk.Generate(alg, jwk.GenerateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// loadKeysFile is the --keys-file source: private keys in, as the command
// passes them (jwk.PublicSet), or raw when raw is set, to prove the handler
// strips private members itself.
func loadKeysFile(path string, data []byte, _ fs.FileInfo) (*jwk.Set, error) {
	keys, err := keysfile.Parse(data)
	if err != nil {
		return nil, err
	}
	return &jwk.Set{Keys: keys}, nil
}

type fixture struct {
	t    testing.TB
	path string
	h    *Handler
	logs *syncBuffer
}

// newFixture writes keys to a keys file and serves it.
func newFixture(t testing.TB, keys ...*jwk.Key) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signing_keys.json")
	if err := keysfile.Write(path, keys); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	h, err := New(Options{Path: path, Load: loadKeysFile, Source: "keys file", MaxAge: DefaultMaxAge,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, path: path, h: h, logs: logs}
}

// do checks the source, as a watcher event would, and makes the request.
func (f *fixture) do(method, path string, header ...string) *http.Response {
	f.t.Helper()
	f.h.Reload()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kids parses a served JWKS strictly (no private members, no secrets) and
// returns its kids in order.
func kids(t *testing.T, doc string) []string {
	t.Helper()
	set, err := jwk.ParseSet([]byte(doc), jwk.ParseSetOptions{})
	if err != nil {
		t.Fatalf("served JWKS does not parse as a public JWKS: %v\n%s", err, doc)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KID)
	}
	return out
}

func TestPublishOnlyPublicMembers(t *testing.T) {
	es, rs, ed, hs := genKey(t, jwk.ES256), genKey(t, jwk.RS256), genKey(t, jwk.EdDSA), genKey(t, jwk.HS256)
	pub, err := es.Public()
	if err != nil {
		t.Fatal(err)
	}
	pub.KID = "already-public"
	doc, n, err := Publish(&jwk.Set{Keys: []*jwk.Key{es, hs, rs, ed, pub}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("published %d keys, want 4 (the shared secret skipped)", n)
	}
	if !bytes.HasSuffix(doc, []byte("}\n")) || bytes.Count(doc, []byte("\n")) != 1 {
		t.Errorf("want one JSON line, got %q", doc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	wantKids := []string{es.KID, rs.KID, ed.KID, "already-public"}
	for i, m := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := m[private]; ok {
				t.Errorf("key %d publishes private member %q", i, private)
			}
		}
		if m["kid"] != wantKids[i] || m["use"] != "sig" || fmt.Sprint(m["key_ops"]) != "[verify]" {
			t.Errorf("key %d: kid %v use %v key_ops %v, want %s sig [verify]", i, m["kid"], m["use"], m["key_ops"], wantKids[i])
		}
		if m["kty"] == "oct" {
			t.Errorf("key %d is a shared secret", i)
		}
	}
	if string(doc) == "" || kids(t, string(doc)) == nil {
		t.Fatal("no keys")
	}
}

func TestPublishEmptyAndDuplicate(t *testing.T) {
	doc, n, err := Publish(&jwk.Set{Keys: []*jwk.Key{genKey(t, jwk.HS256)}})
	if err != nil || n != 0 || string(doc) != "{\"keys\":[]}\n" {
		t.Errorf("only a secret: got %q, %d, %v; want an empty JWKS", doc, n, err)
	}
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	b.KID = a.KID
	if _, _, err := Publish(&jwk.Set{Keys: []*jwk.Key{a, b}}); err == nil || !strings.Contains(err.Error(), "duplicate kid") {
		t.Errorf("duplicate kids: err %v, want a refusal", err)
	}
}

func TestRoutes(t *testing.T) {
	es := genKey(t, jwk.ES256)
	f := newFixture(t, es)
	snap := f.h.Current()
	tests := []struct {
		method, path string
		status       int
		allow        string
		wantBody     string // substring; "=" prefix means exact
	}{
		{"GET", JWKSPath, 200, "", "=" + string(snap.Body)},
		{"GET", SupabaseJWKSPath, 200, "", "=" + string(snap.Body)},
		{"GET", JWKSPath + "?kid=x", 200, "", "=" + string(snap.Body)},
		{"HEAD", JWKSPath, 200, "", "="},
		{"HEAD", SupabaseJWKSPath, 200, "", "="},
		{"OPTIONS", SupabaseJWKSPath, 204, "GET, HEAD, OPTIONS", "="},
		{"POST", JWKSPath, 405, "GET, HEAD, OPTIONS", `"error_code":"method_not_allowed"`},
		{"PUT", SupabaseJWKSPath, 405, "GET, HEAD, OPTIONS", "method PUT not allowed"},
		{"DELETE", JWKSPath, 405, "GET, HEAD, OPTIONS", "method_not_allowed"},
		{"PATCH", JWKSPath, 405, "GET, HEAD, OPTIONS", "method_not_allowed"},
		{"GET", HealthPath, 200, "", `"status":"ok"`},
		{"HEAD", HealthPath, 200, "", "="},
		{"POST", HealthPath, 405, "GET, HEAD", "method_not_allowed"},
		{"GET", "/", 404, "", `"error_code":"not_found"`},
		{"GET", "/auth/v1/user", 404, "", "keyctl serve publishes the JWKS at /.well-known/jwks.json"},
		{"GET", "/.well-known/jwks.json/", 404, "", "not_found"},
		{"GET", "/.well-known/openid-configuration", 200, "", `"jwks_uri":`},
		{"POST", "/auth/v1/.well-known/openid-configuration", 405, "GET, HEAD", "method_not_allowed"},
		{"GET", ReadyPath, 200, "", `"status":"ready"`},
		{"GET", MetricsPath, 404, "", "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := f.do(tt.method, tt.path)
			b := body(t, r)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", r.StatusCode, tt.status, b)
			}
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if exact, ok := strings.CutPrefix(tt.wantBody, "="); ok {
				if b != exact {
					t.Errorf("body %q, want %q", b, exact)
				}
			} else if !strings.Contains(b, tt.wantBody) {
				t.Errorf("body %q, want it to contain %q", b, tt.wantBody)
			}
			if r.StatusCode >= 400 && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("error Content-Type %q, want application/json", r.Header.Get("Content-Type"))
			}
		})
	}
}

func TestJWKSHeaders(t *testing.T) {
	f := newFixture(t, genKey(t, jwk.ES256), genKey(t, jwk.RS256))
	snap := f.h.Current()
	for _, method := range []string{"GET", "HEAD"} {
		r := f.do(method, SupabaseJWKSPath)
		want := map[string]string{
			"Cache-Control":               "public, max-age=600",
			"Content-Type":                "application/json",
			"Content-Length":              fmt.Sprint(len(snap.Body)),
			"ETag":                        snap.ETag,
			"Access-Control-Allow-Origin": "*",
			"X-Content-Type-Options":      "nosniff",
		}
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", method, k, got, v)
			}
		}
	}
	if snap.ETag != ETag(snap.Body) || !strings.HasPrefix(snap.ETag, `"`) || strings.HasPrefix(snap.ETag, "W/") {
		t.Errorf("ETag %s is not the strong tag of the body", snap.ETag)
	}
}

func TestMaxAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	if err := keysfile.Write(path, []*jwk.Key{genKey(t, jwk.ES256)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		age  time.Duration
		want string
	}{{0, "public, max-age=0"}, {90 * time.Second, "public, max-age=90"}, {24 * time.Hour, "public, max-age=86400"}} {
		h, err := New(Options{Path: path, Load: loadKeysFile, MaxAge: tt.age})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", JWKSPath, nil))
		if got := rec.Header().Get("Cache-Control"); got != tt.want {
			t.Errorf("max-age %s: Cache-Control %q, want %q", tt.age, got, tt.want)
		}
	}
	for _, bad := range []time.Duration{-time.Second, 1500 * time.Millisecond} {
		if _, err := New(Options{Path: path, Load: loadKeysFile, MaxAge: bad}); err == nil {
			t.Errorf("max-age %s accepted", bad)
		}
	}
}

func TestConditionalGet(t *testing.T) {
	f := newFixture(t, genKey(t, jwk.ES256))
	etag := f.h.Current().ETag
	opaque := strings.Trim(etag, `"`)
	tests := []struct {
		name   string
		header []string
		status int
	}{
		{"exact", []string{"If-None-Match", etag}, 304},
		{"weak form matches (weak comparison)", []string{"If-None-Match", "W/" + etag}, 304},
		{"in a list", []string{"If-None-Match", `"other", ` + etag + `, "third"`}, 304},
		{"in a second header line", []string{"If-None-Match", `"other"`, "If-None-Match", etag}, 304},
		{"star", []string{"If-None-Match", "*"}, 304},
		{"other tag", []string{"If-None-Match", `"other"`}, 200},
		{"unquoted", []string{"If-None-Match", opaque}, 200},
		{"malformed list", []string{"If-None-Match", etag + ` junk`}, 200},
		{"empty", []string{"If-None-Match", ""}, 200},
		{"none", nil, 200},
	}
	for _, tt := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			r := f.do(method, JWKSPath, tt.header...)
			b := body(t, r)
			if r.StatusCode != tt.status {
				t.Errorf("%s %s: status %d, want %d", tt.name, method, r.StatusCode, tt.status)
				continue
			}
			if r.Header.Get("ETag") != etag || r.Header.Get("Cache-Control") != "public, max-age=600" {
				t.Errorf("%s %s: ETag %q Cache-Control %q", tt.name, method, r.Header.Get("ETag"), r.Header.Get("Cache-Control"))
			}
			if tt.status == 304 && b != "" {
				t.Errorf("%s: 304 with a body %q", tt.name, b)
			}
		}
	}
}

func TestReloadOnRotation(t *testing.T) {
	a := genKey(t, jwk.ES256)
	f := newFixture(t, a)
	first := f.h.Current()
	if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{a.KID}) {
		t.Fatalf("kids %v", got)
	}
	// keysfile.Write renames a new file into place, as every keyctl write does.
	b := genKey(t, jwk.RS256)
	if err := keysfile.Write(f.path, []*jwk.Key{a, b}); err != nil {
		t.Fatal(err)
	}
	r := f.do("GET", SupabaseJWKSPath, "If-None-Match", first.ETag)
	if r.StatusCode != 200 {
		t.Fatalf("old ETag after a rotation: status %d, want 200", r.StatusCode)
	}
	if got := kids(t, body(t, r)); !slices.Equal(got, []string{a.KID, b.KID}) {
		t.Fatalf("after adding a key: kids %v", got)
	}
	if r.Header.Get("ETag") == first.ETag {
		t.Error("ETag unchanged after the key set changed")
	}
	// Revocation: the old key leaves the set.
	if err := keysfile.Write(f.path, []*jwk.Key{b}); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{b.KID}) {
		t.Fatalf("after removing a key: kids %v", got)
	}
	if n := strings.Count(f.logs.String(), `"msg":"keys reloaded"`); n != 2 {
		t.Errorf("%d reload log lines, want 2:\n%s", n, f.logs)
	}
}

func TestReloadInPlace(t *testing.T) {
	// Two EdDSA keys with same-length kids make files of the same size: an
	// edit in place keeps size and inode, and we put the mtime back too.
	a, b := genKey(t, jwk.EdDSA), genKey(t, jwk.EdDSA)
	f := newFixture(t, a)
	fi, err := os.Stat(f.path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := keysfile.Marshal([]*jwk.Key{b})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != fi.Size() {
		t.Fatalf("fixture sizes differ: %d, %d", len(data), fi.Size())
	}
	if err := os.WriteFile(f.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f.path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{b.KID}) {
		t.Fatalf("after an in-place edit: kids %v, want %v", got, []string{b.KID})
	}
}

// TestRacyContentCheck freezes stat: only the content check can see the
// change. It runs once the racy window of a file read while fresh has
// passed, and never for a file read well after it was written.
func TestRacyContentCheck(t *testing.T) {
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	for _, tt := range []struct {
		name   string
		age    time.Duration // file mtime relative to the last read
		reload bool
	}{
		{"written just before the read", -time.Second, true},
		{"written long before the read", -time.Hour, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, a)
			cnt := f.counted()
			frozen, err := statStamp(f.path)
			if err != nil {
				t.Fatal(err)
			}
			f.h.mu.Lock()
			frozen.mtime = f.h.confirmed.Add(tt.age).UnixNano()
			cnt.now = f.h.confirmed
			f.h.seen = frozen
			f.h.stat = func(string) (stamp, error) { return frozen, nil }
			f.h.mu.Unlock()
			if err := keysfile.Write(f.path, []*jwk.Key{b}); err != nil {
				t.Fatal(err)
			}
			// Within the window: no read yet, the set stays.
			cnt.now = cnt.now.Add(racyWindow + tt.age - time.Millisecond)
			if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{a.KID}) || cnt.reads != 0 {
				t.Fatalf("within the window: kids %v, %d reads", got, cnt.reads)
			}
			// Past it: one read, which sees the change if the file is racy.
			cnt.now = cnt.now.Add(2 * time.Millisecond)
			for range 10 {
				got := kids(t, body(t, f.do("GET", JWKSPath)))
				want := []string{a.KID}
				if tt.reload {
					want = []string{b.KID}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("kids %v, want %v", got, want)
				}
			}
			want := 0
			if tt.reload {
				want = 1 // the content check, whose bytes are then parsed
			}
			if cnt.reads != want {
				t.Errorf("%d reads, want %d", cnt.reads, want)
			}
		})
	}
}

func TestBrokenSourceKeepsLastGoodSet(t *testing.T) {
	a := genKey(t, jwk.ES256)
	f := newFixture(t, a)
	good := body(t, f.do("GET", JWKSPath))
	etag := f.h.Current().ETag

	health := func() Health {
		t.Helper()
		var h Health
		if err := json.Unmarshal([]byte(body(t, f.do("GET", HealthPath))), &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := health(); h.Status != "ok" || h.Keys != 1 || h.ETag != etag || h.Error != "" || h.Source != "keys file" {
		t.Fatalf("healthy: %+v", h)
	}

	steps := []struct {
		name   string
		damage func()
		err    string
	}{
		{"not JSON", func() { os.WriteFile(f.path, []byte("{not json"), 0o600) }, "not a JSON array"},
		{"a public key only", func() {
			pub, _ := a.Public()
			data, _ := json.Marshal([]*jwk.Key{pub})
			os.WriteFile(f.path, data, 0o600)
		}, "is a public key"},
		{"removed", func() { os.Remove(f.path) }, "no such file"},
		{"a directory", func() { os.Mkdir(f.path, 0o700) }, "directory"},
	}
	for i, s := range steps {
		s.damage()
		for range 3 {
			r := f.do("GET", JWKSPath)
			if b := body(t, r); b != good || r.Header.Get("ETag") != etag {
				t.Fatalf("%s: served %q, want the last good set", s.name, b)
			}
		}
		h := health()
		if h.Status != "stale" || h.Keys != 1 || !strings.Contains(h.Error, s.err) {
			t.Errorf("%s: health %+v, want stale with %q", s.name, h, s.err)
		}
		// One log line per distinct failure, however many requests.
		if n := strings.Count(f.logs.String(), "cannot reload keys"); n != i+1 {
			t.Errorf("%s: %d error log lines, want %d:\n%s", s.name, n, i+1, f.logs)
		}
		if s.name == "a directory" {
			os.Remove(f.path)
		}
	}
	// Fixed: the new set is served and the recovery logged.
	b := genKey(t, jwk.RS256)
	if err := keysfile.Write(f.path, []*jwk.Key{a, b}); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, body(t, f.do("GET", JWKSPath))); !slices.Equal(got, []string{a.KID, b.KID}) {
		t.Fatalf("after the fix: kids %v", got)
	}
	if h := health(); h.Status != "ok" || h.Keys != 2 || h.Error != "" {
		t.Errorf("after the fix: health %+v", h)
	}
	if !strings.Contains(f.logs.String(), "keys readable again") {
		t.Errorf("no recovery log line:\n%s", f.logs)
	}
}

func TestNewNeedsAGoodSource(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("[1]"), 0o600)
	for _, o := range []Options{
		{Path: filepath.Join(dir, "missing.json"), Load: loadKeysFile},
		{Path: bad, Load: loadKeysFile},
		{Path: bad},
		{Load: loadKeysFile},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%s) succeeded", o.Path)
		}
	}
}

// TestConcurrentRequestsDuringRotation is for the race detector: requests
// from many goroutines while the file is rewritten. Every response must be
// a whole, consistent set (body and ETag from the same version).
func TestConcurrentRequestsDuringRotation(t *testing.T) {
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.EdDSA)
	f := newFixture(t, a)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				rec := httptest.NewRecorder()
				f.h.ServeHTTP(rec, httptest.NewRequest("GET", SupabaseJWKSPath, nil))
				got := rec.Body.Bytes()
				set, err := jwk.ParseSet(got, jwk.ParseSetOptions{})
				if err != nil || len(set.Keys) < 1 || len(set.Keys) > 2 || rec.Header().Get("ETag") != ETag(got) {
					errs <- fmt.Errorf("inconsistent response %q (ETag %s): %v", got, rec.Header().Get("ETag"), err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		keys := []*jwk.Key{a}
		if i%2 == 0 {
			keys = append(keys, b)
		}
		if err := keysfile.Write(f.path, keys); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
