package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyctl/keyctl/pkg/jwk"
)

// pair is the same Handler served twice: through Serve, whose fast path
// answers the JWKS requests, and through net/http alone.
type pair struct {
	h          *Handler
	fast, slow string // addresses
}

func newPair(t testing.TB) *pair {
	t.Helper()
	return pairFor(t, newFixture(t, genKey(t, "ES256"), genKey(t, "RS256")).h)
}

// pairFor serves h both ways until the test ends.
func pairFor(t testing.TB, h *Handler) *pair {
	t.Helper()
	p := &pair{h: h, fast: serveOn(t, NewServer(h, nil, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(h, nil, nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.slow = ln.Addr().String()
	return p
}

// exchange sends raw on a new connection to addr, half-closes it, and
// returns everything the server writes until it closes.
func exchange(t testing.TB, addr string, raw []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("reading the response: %v", err)
	}
	return string(got)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

var dateHeader = regexp.MustCompile(`(?m)^Date: [^\r\n]*\r\n`)

func maskDate(s string) string { return dateHeader.ReplaceAllString(s, "Date: *\r\n") }

// fastCases are requests the fast path answers and requests it must leave
// to net/http; every one must get the answer net/http gives.
var fastCases = []struct{ name, raw string }{
	{"get", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
	{"head", "HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"},
	{"supabase path", "GET /auth/v1/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nUser-Agent: supabase-js\r\nAccept: */*\r\n\r\n"},
	{"if-none-match", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: {{etag}}\r\n\r\n"},
	{"if-none-match weak", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: W/{{etag}}\r\n\r\n"},
	{"if-none-match star", "HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nif-none-match: *\r\n\r\n"},
	{"if-none-match other", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"nope\"\r\n\r\n"},
	{"if-none-match two lines", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"a\"\r\nIf-None-Match: {{etag}}\r\n\r\n"},
	{"if-none-match malformed", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: {{etag}}x\r\n\r\n"},
	{"pipelined", strings.Repeat("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", 3)},
	{"pipelined then other path", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"pipelined then close", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\nGET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"keep-alive", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n"},
	{"connection close", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
	{"http/1.0", "GET /.well-known/jwks.json HTTP/1.0\r\n\r\n"},
	{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"},
	{"no host", "GET /.well-known/jwks.json HTTP/1.1\r\n\r\n"},
	{"two hosts", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
	{"empty host", "GET /.well-known/jwks.json HTTP/1.1\r\nHost:\r\n\r\n"},
	{"odd host", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: a b\r\n\r\n"},
	{"lower-case names", "GET /.well-known/jwks.json HTTP/1.1\r\nhost: x\r\naccept: application/json\r\n\r\n"},
	{"query", "GET /.well-known/jwks.json?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"escaped path", "GET /.well-known/jwks%2Ejson HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"absolute form", "GET http://x/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"bare LF", "GET /.well-known/jwks.json HTTP/1.1\nHost: x\n\n"},
	{"bare CR", "GET /.well-known/jwks.json HTTP/1.1\rHost: x\r\n\r\n"},
	{"leading CRLF", "\r\nGET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"space before colon", "GET /.well-known/jwks.json HTTP/1.1\r\nHost : x\r\n\r\n"},
	{"folded header", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
	{"no colon", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n"},
	{"control byte", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"},
	{"NUL in value", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"},
	{"obs-text", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n"},
	{"content-length 0", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
	{"content-length body", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"},
	{"chunked", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{"expect", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n"},
	{"upgrade", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"},
	{"post", "POST /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
	{"options", "OPTIONS /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nAccess-Control-Request-Headers: x-client-info\r\n\r\n"},
	{"lower-case method", "get /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"two spaces", "GET  /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"healthz", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"readyz", "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"discovery", "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"metrics off", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"not found", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"partial head", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n"},
	{"partial request line", "GET /.well-kn"},
	{"garbage", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"},
	{"empty", ""},
}

func (p *pair) expand(raw string) []byte {
	return []byte(strings.ReplaceAll(raw, "{{etag}}", p.h.Current().ETag))
}

// TestFastPathMatchesNetHTTP: for every request, the fast path's answer
// is net/http's, byte for byte but for the Date, whether the fast path
// answers it or hands it on.
func TestFastPathMatchesNetHTTP(t *testing.T) {
	p := newPair(t)
	for _, tc := range fastCases {
		t.Run(tc.name, func(t *testing.T) {
			raw := p.expand(tc.raw)
			want := maskDate(exchange(t, p.slow, raw))
			got := maskDate(exchange(t, p.fast, raw))
			if got != want {
				t.Errorf("request %q:\nfast path: %q\nnet/http:  %q", raw, got, want)
			}
		})
	}
}

// TestFastPathAnswers: the requests a verifier sends are answered by the
// fast path itself (a test that the differential one above cannot fail by
// handing everything on).
func TestFastPathAnswers(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	var handed atomic.Int64
	srv := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handed.Add(1)
		f.h.ServeHTTP(w, r)
	}), nil, nil)
	// Serve a *Handler through the logging wrapper, as NewServer does, but
	// count what reaches net/http.
	srv.Handler.(*loggedHandler).next = f.h
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fast := newFastServer(srv, ln)
	if fast == nil {
		t.Fatal("no fast path for a Handler served by NewServer")
	}
	inner := fast.handoff
	counting := &countingListener{Listener: inner, n: &handed}
	go fast.acceptLoop()
	go srv.Serve(counting)
	t.Cleanup(func() { fast.shutdown(time.Now()); fast.wait(closedChan); srv.Close() })
	addr := ln.Addr().String()
	for _, raw := range []string{
		"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /auth/v1/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + f.h.Current().ETag + "\r\n\r\n",
		strings.Repeat("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", 5),
	} {
		if got := exchange(t, addr, []byte(raw)); !strings.HasPrefix(got, "HTTP/1.1 ") {
			t.Fatalf("no answer to %q: %q", raw, got)
		}
	}
	if n := handed.Load(); n != 0 {
		t.Errorf("%d connections handed to net/http, want 0", n)
	}
	exchange(t, addr, []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
	if n := handed.Load(); n != 1 {
		t.Errorf("/healthz: %d connections handed to net/http, want 1", n)
	}
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestFastPathSplitHead: a head that arrives a few bytes at a time is read
// whole, and bytes after it are the next request's.
func TestFastPathSplitHead(t *testing.T) {
	p := newPair(t)
	raw := p.expand("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: {{etag}}\r\n\r\nHEAD /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
	want := maskDate(exchange(t, p.slow, raw))
	c, err := net.Dial("tcp", p.fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < len(raw); i += 7 {
		if _, err := c.Write(raw[i:min(i+7, len(raw))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	c.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(c)
	if maskDate(string(got)) != want {
		t.Errorf("split head:\nfast path: %q\nnet/http:  %q", got, want)
	}
}

// TestFastPathIdleTimeout: a kept-alive connection that sends nothing is
// closed after the idle timeout, and one that stops in the middle of a
// head after the header timeout, as net/http does.
func TestFastPathIdleTimeout(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	srv := NewServer(f.h, nil, nil)
	srv.IdleTimeout, srv.ReadHeaderTimeout = 200*time.Millisecond, time.Second
	addr := serveOn(t, srv)
	for _, tc := range []struct {
		name, raw string
		min, max  time.Duration
	}{
		{"idle after a request", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", 200 * time.Millisecond, 5 * time.Second},
		// Once, not twice: a stalled head is not handed to net/http to
		// time out again.
		{"stalled head", "GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n", time.Second, 1900 * time.Millisecond},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		start := time.Now()
		c.Write([]byte(tc.raw))
		io.ReadAll(c)
		if took := time.Since(start); took < tc.min || took > tc.max {
			t.Errorf("%s: closed after %s, want after %s and before %s", tc.name, took, tc.min, tc.max)
		}
		c.Close()
	}
}

// TestFastPathShutdown: at shutdown an idle connection closes at once and
// a request under way is still answered.
func TestFastPathShutdown(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	addr, cancel, done := startServe(t, NewServer(f.h, nil, nil), 5*time.Second)
	idle, busy := dialT(t, addr), dialT(t, addr)
	idle.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"))
	buf := make([]byte, 64<<10)
	if n, _ := idle.Read(buf); !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 OK")) {
		t.Fatalf("first answer: %q", buf[:n])
	}
	busy.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n"))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	if _, err := idle.Read(buf); err != io.EOF {
		t.Errorf("idle connection at shutdown: %v, want EOF", err)
	}
	time.Sleep(50 * time.Millisecond)
	busy.Write([]byte("\r\n"))
	got, _ := io.ReadAll(busy)
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200 OK")) {
		t.Errorf("request under way at shutdown: %q", got)
	}
	if err, took := waitServe(t, done, start); err != nil || took > 2*time.Second {
		t.Errorf("Serve: %v after %s, want nil soon", err, took)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("a new connection was accepted after shutdown")
	}
}

// FuzzFastPath: whatever bytes arrive, the fast path answers as net/http
// does, byte for byte but for the Date.
func FuzzFastPath(f *testing.F) {
	for _, tc := range fastCases {
		f.Add([]byte(tc.raw))
	}
	p := newPair(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		want := maskDate(exchange(t, p.slow, raw))
		got := maskDate(exchange(t, p.fast, raw))
		if got != want {
			t.Errorf("request %q:\nfast path: %q\nnet/http:  %q", raw, got, want)
		}
	})
}

// TestFastPathLargeBody: a body too large to copy (sent with sendfile on
// Linux, writev elsewhere) is answered as net/http answers it.
func TestFastPathLargeBody(t *testing.T) {
	keys := make([]*jwk.Key, 200)
	for i := range keys {
		keys[i] = genKey(t, "ES256")
	}
	f := newFixture(t, keys...)
	if n := len(f.h.Current().Body); n <= copyLimit {
		t.Fatalf("the body is %d bytes, want more than %d", n, copyLimit)
	}
	if runtime.GOOS == "linux" && f.h.live.Load().bodyFile == nil {
		t.Error("no memfd for a large body on Linux")
	}
	p := pairFor(t, f.h)
	etag := f.h.Current().ETag
	for _, raw := range []string{
		"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n",
		strings.Repeat("GET /auth/v1/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n", 4),
	} {
		want := maskDate(exchange(t, p.slow, []byte(raw)))
		got := maskDate(exchange(t, p.fast, []byte(raw)))
		if got != want {
			t.Errorf("request %q: fast path and net/http differ (%d and %d bytes)", raw, len(got), len(want))
		}
	}
	// A slow reader: the body leaves in several sendfile calls, waiting
	// for the socket between them.
	c, err := net.Dial("tcp", p.fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"))
	time.Sleep(100 * time.Millisecond)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(b, f.h.Current().Body) {
		t.Errorf("slow reader: %d bytes, %v; want the %d-byte body", len(b), err, len(f.h.Current().Body))
	}
}

// TestFastPathLogsRequests: requests the fast path answers are logged as
// net/http's are: method, path, status, bytes, duration, client address.
func TestFastPathLogsRequests(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	logs := &syncBuffer{}
	addr := serveOn(t, NewServer(f.h, slog.New(slog.NewTextHandler(logs, nil)), nil))
	exchange(t, addr, []byte("HEAD /auth/v1/.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\nGET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"))
	got := logs.String()
	for _, want := range []string{
		"msg=request method=HEAD path=/auth/v1/.well-known/jwks.json status=200 bytes=0 duration=",
		"msg=request method=GET path=/.well-known/jwks.json status=200 bytes=" + strconv.Itoa(len(f.h.Current().Body)) + " duration=",
		"remote=127.0.0.1:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %q:\n%s", want, got)
		}
	}
}

// BenchmarkFastPath: one JWKS request and its answer over a kept-alive
// loopback connection, client and fast path both in this process; the
// client reads into a fixed buffer, so allocs/op are the server's.
func BenchmarkFastPath(b *testing.B) {
	f := newFixture(b, genKey(b, "ES256"), genKey(b, "ES256"), genKey(b, "ES256"))
	addr := serveOn(b, NewServer(f.h, slog.New(slog.DiscardHandler), nil))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
	want := len(exchange(b, addr, req))
	buf := make([]byte, 2*want)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < want; {
			n, err := c.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
	}
}

// TestFastPathGraceCutOff: a request still unfinished when the grace ends
// is cut off, and Serve says so, whether the connection gives up at the
// drain deadline or is closed by Serve.
func TestFastPathGraceCutOff(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	for range 3 {
		addr, cancel, done := startServe(t, NewServer(f.h, nil, nil), 200*time.Millisecond)
		c := dialT(t, addr)
		c.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\n"))
		time.Sleep(50 * time.Millisecond)
		cancel()
		if err, _ := waitServe(t, done, time.Now()); err == nil || !strings.Contains(err.Error(), "cut off") {
			t.Errorf("Serve with a request unfinished at the end of the grace: %v", err)
		}
	}
}

// startServe runs Serve(srv) on a fresh port with grace and returns the
// address, a stop function and the channel Serve's result arrives on.
func startServe(t testing.TB, srv *http.Server, grace time.Duration) (string, context.CancelFunc, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, grace) }()
	t.Cleanup(cancel)
	return ln.Addr().String(), cancel, done
}

func dialT(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// waitServe returns Serve's result and how long it took from start.
func waitServe(t *testing.T, done chan error, start time.Time) (error, time.Duration) {
	t.Helper()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil, 0
	}
}

// TestFastPathTimeoutsAsNetHTTP: the cases a review found where the fast
// path's timing differed from net/http's.
func TestFastPathTimeoutsAsNetHTTP(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	req := []byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
	readOne := func(t *testing.T, c net.Conn, br *bufio.Reader) *http.Response {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		return resp
	}

	t.Run("deadlines and Date use the real clock, not the log's", func(t *testing.T) {
		past := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		addr, _, _ := startServe(t, NewServer(f.h, nil, func() time.Time { return past }), time.Second)
		c := dialT(t, addr)
		c.Write(req)
		resp := readOne(t, c, bufio.NewReader(c))
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if resp.StatusCode != 200 || err != nil || time.Since(d).Abs() > time.Minute {
			t.Errorf("with a log clock in the past: %s, Date %q", resp.Status, resp.Header.Get("Date"))
		}
	})

	t.Run("a head handed on mid-way keeps its header time", func(t *testing.T) {
		srv := NewServer(f.h, nil, nil)
		srv.ReadHeaderTimeout = 2 * time.Second
		addr, _, _ := startServe(t, srv, time.Second)
		c := dialT(t, addr)
		start := time.Now()
		c.Write([]byte("GET /.well-known/jwks.json HTTP/1.1"))
		time.Sleep(1500 * time.Millisecond)
		c.Write([]byte("\nHost: x\n")) // bare LF: handed to net/http, head still open
		io.ReadAll(c)
		// Once: 2s after the head began; twice would be 3.5s.
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("closed %s after the head began, want about 2s (once, not twice)", took)
		}
	})

	t.Run("no idle timeout: a later request is not cut by the first one's header deadline", func(t *testing.T) {
		srv := NewServer(f.h, nil, nil)
		srv.IdleTimeout, srv.ReadTimeout, srv.ReadHeaderTimeout = 0, 0, 300*time.Millisecond
		addr, _, _ := startServe(t, srv, time.Second)
		c := dialT(t, addr)
		br := bufio.NewReader(c)
		c.Write(req)
		readOne(t, c, br)
		time.Sleep(600 * time.Millisecond)
		c.Write(req)
		if resp := readOne(t, c, br); resp.StatusCode != 200 {
			t.Errorf("second request: %s", resp.Status)
		}
	})

	t.Run("a byte or three after a request is still idle", func(t *testing.T) {
		srv := NewServer(f.h, nil, nil)
		srv.IdleTimeout, srv.ReadHeaderTimeout = 3*time.Second, 200*time.Millisecond
		addr, _, _ := startServe(t, srv, time.Second)
		c := dialT(t, addr)
		br := bufio.NewReader(c)
		c.Write(req)
		readOne(t, c, br)
		c.Write([]byte("GE"))
		c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
		if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("after 2 bytes of a next request: %v, want the connection still open after the header timeout", err)
		}
	})

	t.Run("shutdown: a kept-alive connection with a byte or three is idle", func(t *testing.T) {
		addr, cancel, done := startServe(t, NewServer(f.h, nil, nil), 10*time.Second)
		c := dialT(t, addr)
		br := bufio.NewReader(c)
		c.Write(req)
		readOne(t, c, br)
		c.Write([]byte("\r\n"))
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		cancel()
		if err, took := waitServe(t, done, start); err != nil || took > 5*time.Second {
			t.Errorf("Serve: %v after %s, want nil at once, not after the 10s grace", err, took)
		}
	})

	t.Run("shutdown: a stalled head gets its header time, not the whole grace", func(t *testing.T) {
		srv := NewServer(f.h, nil, nil)
		srv.ReadHeaderTimeout = 300 * time.Millisecond
		addr, cancel, done := startServe(t, srv, 10*time.Second)
		c := dialT(t, addr)
		c.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\n"))
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		cancel()
		if err, took := waitServe(t, done, start); err != nil || took > 5*time.Second {
			t.Errorf("Serve: %v after %s, want nil once the head's 300ms ran out, not after the 10s grace", err, took)
		}
	})
}

// TestFastPathAnswersPartialAsNetHTTP: a head that is not whole yet is
// answered as soon as net/http answers it (a malformed line net/http
// refuses at once), and not answered while net/http waits for the rest:
// the fast path holds heads it will hand over until net/http would act.
func TestFastPathAnswersPartialAsNetHTTP(t *testing.T) {
	p := newPair(t)
	// early sends raw without closing and returns what addr answers in
	// the next window.
	early := func(addr string, raw string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		got, _ := io.ReadAll(c)
		return maskDate(string(got))
	}
	for _, raw := range []string{
		"GET /.well-known/jwks.json HTTP/1.1\nHost: x\n",          // waits
		"GET /.well-known/jwks.json HTTP/1.1\nHost: x\r\n",        // waits
		"GET /.well-known/jwks.json HTTP/1.1\nHost: x\n\n",        // whole
		"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\n\r\n",    // whole
		"GET /.well-known/jwks.json HTTP/9.9\nHost: x\n",          // bad version
		"GET /.well-known/jwks.json HTTP/1.1\rX\nHost: x\n",       // CR in the request line
		"GET /.well-known/jwks.json\nHost: x\n",                   // no version
		"\nGET /.well-known/jwks.json HTTP/1.1\nHost: x\n",        // empty line first
		"GET /.well-known/jwks.json HTTP/1.1\nnocolon\n",          // no colon
		"GET /.well-known/jwks.json HTTP/1.1\nHost: x\n folded\n", // a folded line
		"GET /.well-known/jwks.json HTTP/1.1\nX-A: a\x01b\n",      // control byte
		"GET /.well-known/jwks.json HTTP/1.1\nBad Name: x\n",      // space in a name
		"G\x00T /.well-known/jwks.json HTTP/1.1\nHost: x\n",       // NUL in the method
		"GET x HTTP/1.1\nHost: x\n",                               // a target net/http cannot parse
		"GET /%zz HTTP/1.1\nHost: x\n",                            // a bad escape
		"GET * HTTP/1.1\nHost: x\n",                               // an asterisk: parsed, so it waits
		"CONNECT example.com:443 HTTP/1.1\nHost: x\n",             // an authority: parsed, so it waits
		"CONNECT %zz HTTP/1.1\nHost: x\n",                         // a bad authority
		"GET http://x/.well-known/jwks.json HTTP/1.1\nHost: x\n",  // absolute form: waits
	} {
		want := early(p.slow, raw)
		got := early(p.fast, raw)
		if got != want {
			t.Errorf("%q not yet whole:\nfast path: %q\nnet/http:  %q", raw, got, want)
		}
		// The same with CRLF line endings, the fast path's own: a refused
		// line is answered at once there too, not at the header timeout.
		crlf := strings.ReplaceAll(raw, "\n", "\r\n")
		if want, got := early(p.slow, crlf), early(p.fast, crlf); got != want {
			t.Errorf("%q not yet whole:\nfast path: %q\nnet/http:  %q", crlf, got, want)
		}
	}
}

// TestScanResumes: scanning a head as it arrives, resuming where the last
// scan stopped, finds what one scan of the whole finds, for every split.
func TestScanResumes(t *testing.T) {
	for _, tc := range fastCases {
		checkResume(t, []byte(tc.raw))
	}
}

func checkResume(t *testing.T, b []byte) {
	t.Helper()
	wantN, _, wantOK := scanHead(b, 0)
	wantNow, _ := headForNetHTTP(b, 0)
	for cut := 0; cut <= len(b); cut++ {
		n, next, ok := scanHead(b[:cut], 0)
		if ok && n == 0 {
			n, _, ok = scanHead(b, next)
		}
		if n != wantN || ok != wantOK {
			t.Fatalf("scanHead(%q) resumed at %d: %d %v, want %d %v", b, cut, n, ok, wantN, wantOK)
		}
		now, next := headForNetHTTP(b[:cut], 0)
		if !now {
			now, _ = headForNetHTTP(b, next)
		}
		if now != wantNow {
			t.Fatalf("headForNetHTTP(%q) resumed at %d: %v, want %v", b, cut, now, wantNow)
		}
	}
}

func FuzzScanResumes(f *testing.F) {
	for _, tc := range fastCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkResume(t, b) })
}

// errMore is what the reader behind netHTTPWaits panics with once its
// bytes are read: net/http asking for more means that on a connection it
// would block there, waiting. (A Read error would not do: bufio hands a
// partial line to textproto as a whole one when the read fails.)
var errMore = errors.New("more input wanted")

type moreReader struct{ b []byte }

func (r *moreReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		panic(errMore)
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// netHTTPWaits reports whether net/http, having read b and no more,
// would wait for more bytes rather than answer, and the error it answers
// with otherwise. It reads through a buffer of net/http's size (4 KiB).
func netHTTPWaits(b []byte) (waits bool, err error) {
	defer func() {
		if r := recover(); r == errMore {
			waits = true
		} else if r != nil {
			panic(r)
		}
	}()
	_, err = http.ReadRequest(bufio.NewReaderSize(&moreReader{b: b}, 4096))
	return false, err
}

// FuzzHeadForNetHTTP: whenever the fast path holds a head it will hand
// over (reads on), net/http would be waiting for more of it too, so no
// client waits for an answer net/http would already have given.
func FuzzHeadForNetHTTP(f *testing.F) {
	for _, tc := range fastCases {
		f.Add([]byte(tc.raw))
	}
	for _, s := range []string{
		"GET / HTTP/1.1\nHost: x\n", "GET x HTTP/1.1\n", "CONNECT a:1 HTTP/1.0\nX: y\n",
		"GET / HTTP/1.1\nX-A: a\x01\n", "GET /%zz HTTP/1.1\n", "GET / HTTP/1.1\nHost: x\n folded\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if now, _ := headForNetHTTP(b, 0); !now {
			if waits, err := netHTTPWaits(b); !waits {
				t.Fatalf("%q is held, but net/http answers it at once: %v", b, err)
			}
		}
	})
}

// TestFastPathShutdownSaysClose: the answer the fast path gives to a
// request under way at shutdown, its last on that connection, says
// Connection: close, as net/http's answers do once Shutdown began; byte
// for byte (but the Date) what the one-request server gives a request it
// leaves to net/http then (bare LF line endings).
func TestFastPathShutdownSaysClose(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	addr, cancel, done := startServe(t, NewServer(f.h, nil, nil), 5*time.Second)
	fast, handed := dialT(t, addr), dialT(t, addr)
	fast.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n"))
	handed.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\nHost: x\n"))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	time.Sleep(50 * time.Millisecond)
	fast.Write([]byte("\r\n"))
	handed.Write([]byte("\n"))
	got, _ := io.ReadAll(fast)
	want, _ := io.ReadAll(handed)
	if !bytes.Contains(got, []byte("\r\nConnection: close\r\n\r\n")) {
		t.Errorf("the fast path's last answer at shutdown lacks Connection: close: %q", got)
	}
	if maskDate(string(got)) != maskDate(string(want)) {
		t.Errorf("at shutdown:\nfast path: %q\nnet/http:  %q", got, want)
	}
	if err, _ := waitServe(t, done, start); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
