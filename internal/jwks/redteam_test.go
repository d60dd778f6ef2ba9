package jwks

// Red-team regression tests: a hostile or broken JWKS server, and a cache
// that outlives a clock error, must never make keyctl trust keys it should
// not, hang, fill memory or write to the terminal what the server chose.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// handlerServer is a loopback server running h, with a fetcher for it.
func handlerServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *Fetcher) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, New(Options{Client: srv.Client(), Timeout: 2 * time.Second})
}

func TestRedTeamHTTPSDowngradeRedirect(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, publicJWKS(t, "planted"))
	}))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/jwks.json", http.StatusFound)
	}))
	defer tls.Close()
	f := New(Options{Client: tls.Client()})
	// http://127.0.0.1 is allowed as a starting point, but not as where
	// an https URL ends up: that would let the remote server pick a
	// service on this machine as the source of trusted keys.
	s, err := f.Get(context.Background(), tls.URL+"/jwks.json")
	if !errors.Is(err, ErrInsecureURL) || s != nil {
		t.Fatalf("https redirected to plain http was followed: %v %v", s, err)
	}
	// https to https, and http loopback to https, are fine.
	tls2 := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, "/jwks.json", http.StatusMovedPermanently)
			return
		}
		fmt.Fprint(w, publicJWKS(t, "a"))
	}))
	defer tls2.Close()
	if s, err := New(Options{Client: tls2.Client()}).Get(context.Background(), tls2.URL+"/hop"); err != nil || kids(s) != "a" {
		t.Fatalf("https to https: %v", err)
	}
}

func TestRedTeamRedirects(t *testing.T) {
	var srv *httptest.Server
	srv, f := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/creds":
			http.Redirect(w, r, strings.Replace(srv.URL, "http://", "http://user:pass@", 1)+"/ok", http.StatusFound)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/elsewhere":
			http.Redirect(w, r, "http://192.0.2.1/jwks.json", http.StatusFound)
		case "/zero":
			http.Redirect(w, r, "http://0.0.0.0:1/jwks.json", http.StatusFound)
		case "/localhost-dot":
			http.Redirect(w, r, "http://localhost.:1/jwks.json", http.StatusFound)
		default:
			fmt.Fprint(w, publicJWKS(t, "a"))
		}
	})
	for path, want := range map[string]string{
		"/loop":          "redirects",
		"/creds":         "credentials",
		"/file":          "has no host",
		"/elsewhere":     "https",
		"/zero":          "https",
		"/localhost-dot": "https",
	} {
		if _, err := f.Get(context.Background(), srv.URL+path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error about %s", path, err, want)
		}
	}
}

func TestRedTeamClockWentBack(t *testing.T) {
	e := setup(t, publicJWKS(t, "a"))
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	// The set was fetched under a clock a year fast; the clock is then
	// corrected. Freshness counted from the future would keep the set
	// (and any key since revoked) for a year; it is asked for again.
	e.clk.Add(-365 * 24 * time.Hour)
	s, err := e.fetcher(DefaultTTL).Get(ctx, e.url)
	if err != nil || s.FromCache {
		t.Fatalf("a set fetched in the future was used from the cache: %+v %v", s, err)
	}
	e.want(t, 1, 1)
	// Now it is fresh again, counted from the corrected clock.
	if s, _ := e.fetcher(DefaultTTL).Get(ctx, e.url); !s.FromCache {
		t.Fatal("not cached after revalidation")
	}
	// A hand-edited cache file claiming a far future is no better.
	path := CachePath(e.dir, e.url)
	data, _ := os.ReadFile(path)
	entry, err := ParseEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	entry.FetchedAt = entry.FetchedAt.Add(100 * 365 * 24 * time.Hour)
	entry.FreshUntil = entry.FetchedAt.Add(time.Hour)
	out, _ := json.Marshal(entry)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.fetcher(DefaultTTL).Get(ctx, e.url); s == nil || s.FromCache {
		t.Fatal("a cache entry from the future was trusted")
	}
}

func TestRedTeamMalformedMaxAgeIsStale(t *testing.T) {
	for _, cc := range []string{"max-age=-1", "max-age=abc", "max-age=", "max-age=1.5", "max-age=+60", "max-age=600, max-age=oops"} {
		t.Run(cc, func(t *testing.T) {
			e := setup(t, publicJWKS(t, "a"))
			e.srv.set(func(s *server) { s.cacheControl = cc })
			ctx := context.Background()
			if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
				t.Fatal(err)
			}
			e.clk.Add(time.Second)
			if s, _ := e.fetcher(DefaultTTL).Get(ctx, e.url); s == nil || s.FromCache {
				t.Fatalf("Cache-Control %q: cached for the full TTL", cc)
			}
		})
	}
	// A huge max-age never lengthens the TTL.
	e := setup(t, publicJWKS(t, "a"))
	e.srv.set(func(s *server) { s.cacheControl = "max-age=99999999999999999999999" })
	ctx := context.Background()
	if _, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(DefaultTTL)
	if s, _ := e.fetcher(DefaultTTL).Get(ctx, e.url); s.FromCache {
		t.Fatal("a huge max-age outlived the TTL")
	}
}

// rawServer answers every connection with resp, verbatim.
func rawServer(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				fmt.Fprint(c, resp)
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/jwks.json"
}

func TestRedTeamStatusTextNotEchoed(t *testing.T) {
	url := rawServer(t, "HTTP/1.1 500 \x1b[2J\x1b]0;owned\x07\u009b31m\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	_, err := New(Options{}).Get(context.Background(), url)
	if err == nil {
		t.Fatal("a 500 was accepted")
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\x07\u009b") || !strings.Contains(msg, "500 Internal Server Error") {
		t.Fatalf("error %q", msg)
	}
}

func TestRedTeamETags(t *testing.T) {
	for name, tc := range map[string]struct {
		etag string
		keep bool
	}{
		"strong":         {`"abc"`, true},
		"weak":           {`W/"abc"`, true},
		"unquoted":       {`abc`, false},
		"C1 control":     {"\"a\u009bb\"", false},
		"non-ASCII":      {`"ä"`, false},
		"quote inside":   {`"a"b"`, false},
		"space inside":   {`"a b"`, false},
		"too long":       {`"` + strings.Repeat("x", maxETagBytes) + `"`, false},
		"just the quote": {`"`, false},
	} {
		t.Run(name, func(t *testing.T) {
			body := publicJWKS(t, "a")
			srv, _ := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", tc.etag)
				fmt.Fprint(w, body)
			})
			dir := t.TempDir()
			f := New(Options{Client: srv.Client(), CacheDir: dir})
			if _, err := f.Get(context.Background(), srv.URL); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(CachePath(dir, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ParseEntry(data)
			if err != nil {
				t.Fatal(err)
			}
			if kept := e.ETag == tc.etag; kept != tc.keep || (!tc.keep && e.ETag != "") {
				t.Fatalf("ETag %q stored as %q", tc.etag, e.ETag)
			}
		})
	}
}

func TestRedTeamBodies(t *testing.T) {
	es, err := jwk.Generate(jwk.ES256, jwk.GenerateOptions{KID: "es"})
	if err != nil {
		t.Fatal(err)
	}
	private, _ := es.MarshalJSON()
	secret, err := jwk.Generate(jwk.HS256, jwk.GenerateOptions{KID: "hs"})
	if err != nil {
		t.Fatal(err)
	}
	oct, _ := secret.MarshalJSON()
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write([]byte(`{"keys":[],"pad":"`))
	zw.Write(make([]byte, 8<<20)) // 8 MiB of zero bytes in 8 KiB
	zw.Close()
	big := `{"keys":[],"pad":"` + strings.Repeat("x", MaxBytes) + `"}`
	for name, h := range map[string]http.HandlerFunc{
		"private key":   func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, `{"keys":[%s]}`, private) },
		"shared secret": func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, `{"keys":[%s]}`, oct) },
		"not JSON":      func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>hello</html>") },
		"no keys":       func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"kys":[]}`) },
		"duplicate":     func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"keys":[],"keys":[]}`) },
		"over 1 MiB, chunked": func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush() // no Content-Length
			fmt.Fprint(w, big)
		},
		"over 1 MiB, Content-Length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			fmt.Fprint(w, big)
		},
		"lying Content-Length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			fmt.Fprint(w, big) // the server cuts it at 10 bytes
		},
		"gzip bomb": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		},
		"304 to an unconditional request": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) },
		"204":                             func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
	} {
		t.Run(name, func(t *testing.T) {
			srv, f := handlerServer(t, h)
			if s, err := f.Get(context.Background(), srv.URL); err == nil {
				t.Fatalf("accepted: %d keys", len(s.Keys))
			}
		})
	}
}

func TestRedTeamSlowServer(t *testing.T) {
	// A server that sends its headers and then one byte at a time: the
	// timeout covers the whole response, body included.
	srv, _ := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for i := 0; i < 1000; i++ {
			if _, err := w.Write([]byte(" ")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	f := New(Options{Client: srv.Client(), Timeout: 200 * time.Millisecond})
	_, err := f.Get(context.Background(), srv.URL)
	if err == nil || !strings.Contains(err.Error(), "within 200ms") {
		t.Fatalf("slow body: %v", err)
	}
}

func TestRedTeamPlantedCacheFile(t *testing.T) {
	// Another user who can write to a shared cache directory plants an
	// entry holding their own key, fresh and for the right URL.
	e := setup(t, publicJWKS(t, "genuine"))
	planted := Entry{Version: entryVersion, URL: e.url, Body: publicJWKS(t, "planted"),
		FetchedAt: e.clk.Now(), FreshUntil: e.clk.Now().Add(time.Hour)}
	data, _ := json.Marshal(planted)
	path := CachePath(e.dir, e.url)
	plant := func(mode os.FileMode, uid int) {
		t.Helper()
		os.Remove(path)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			if err := os.Chown(path, uid, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	// The control: a private file of this user is the cache.
	plant(0o600, -1)
	if s, err := e.fetcher(DefaultTTL).Get(ctx, e.url); err != nil || kids(s) != "planted" || !s.FromCache {
		t.Fatalf("control: %v %v", s, err)
	}
	cases := map[string]func(){
		"group-writable": func() { plant(0o620, -1) },
		"world-writable": func() { plant(0o666, -1) },
	}
	if os.Geteuid() == 0 {
		cases["another user's"] = func() { plant(0o600, 4242) }
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			setup()
			e.warns = nil
			s, err := e.fetcher(DefaultTTL).Get(ctx, e.url)
			if err != nil || kids(s) != "genuine" || s.FromCache {
				t.Fatalf("a planted cache file was trusted: %v %v", s, err)
			}
			if len(e.warns) != 1 || !strings.Contains(e.warns[0], "ignoring the JWKS cache file") {
				t.Fatalf("warnings %q", e.warns)
			}
		})
	}
}

func TestRedTeamLocalhostMustBeLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, publicJWKS(t, "a"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	url := "http://localhost:" + port + "/jwks.json"
	defer func(orig func(context.Context, string) ([]net.IPAddr, error)) { lookupIPAddr = orig }(lookupIPAddr)
	answer := func(ips ...string) {
		lookupIPAddr = func(_ context.Context, host string) ([]net.IPAddr, error) {
			if host != "localhost" {
				t.Errorf("looked up %q", host)
			}
			var out []net.IPAddr
			for _, ip := range ips {
				out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
			}
			return out, nil
		}
	}
	// A hosts file without localhost and a spoofed DNS answer: the plain
	// http fetch must not leave the machine.
	answer("192.0.2.1")
	if _, err := New(Options{}).Get(context.Background(), url); !errors.Is(err, ErrInsecureURL) {
		t.Fatalf("localhost resolving elsewhere was dialled: %v", err)
	}
	// Loopback answers, among others, are used, and only they.
	answer("192.0.2.1", "127.0.0.1")
	if s, err := New(Options{}).Get(context.Background(), url); err != nil || kids(s) != "a" {
		t.Fatalf("localhost on loopback: %v", err)
	}
}
