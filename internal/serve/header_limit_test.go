package serve

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// headOf is a raw request whose head (request line, header lines and the
// blank line that ends them) is exactly n bytes.
func headOf(t *testing.T, n int) string {
	t.Helper()
	const start = "GET " + JWKSPath + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: "
	const end = "\r\n\r\n"
	pad := n - len(start) - len(end)
	if pad < 1 {
		t.Fatalf("a head of %d bytes is too short", n)
	}
	return start + strings.Repeat("a", pad) + end
}

// statusFor sends raw on a new connection to addr and returns the status.
func statusFor(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// serveOn runs srv on a fresh 127.0.0.1 port until the test ends, and
// fails the test if Serve then returns an error.
func serveOn(t testing.TB, srv *http.Server) string {
	t.Helper()
	addr, cancel, done := startServe(t, srv, ShutdownGrace)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return addr
}

// TestHeaderLimitIsExact: the documented limit on a request's head is the
// real one, byte for byte, against a real listener (net/http adds 4 KiB of
// "bufio slop" to http.Server.MaxHeaderBytes).
func TestHeaderLimitIsExact(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	addr := serveOn(t, NewServer(f.h, nil, nil))
	if got := statusFor(t, addr, headOf(t, MaxHeaderBytes)); got != http.StatusOK {
		t.Errorf("a head of exactly %d bytes: status %d, want 200", MaxHeaderBytes, got)
	}
	if got := statusFor(t, addr, headOf(t, MaxHeaderBytes+1)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a head of %d bytes: status %d, want 431", MaxHeaderBytes+1, got)
	}
}

// TestSetHeaderLimit: any limit in range is exact too; out of range is an
// error, not a silent 1 MiB (net/http's default for 0 or less).
func TestSetHeaderLimit(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	for _, limit := range []int{MinHeaderLimit, 5000, 64 << 10} {
		srv := NewServer(f.h, nil, nil)
		if err := SetHeaderLimit(srv, limit); err != nil {
			t.Fatal(err)
		}
		addr := serveOn(t, srv)
		if got := statusFor(t, addr, headOf(t, limit)); got != http.StatusOK {
			t.Errorf("limit %d, a head of %d bytes: status %d, want 200", limit, limit, got)
		}
		if got := statusFor(t, addr, headOf(t, limit+1)); got != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("limit %d, a head of %d bytes: status %d, want 431", limit, limit+1, got)
		}
	}
	for _, bad := range []int{-1, 0, 4096, MaxHeaderLimit + 1} {
		if err := SetHeaderLimit(&http.Server{}, bad); err == nil {
			t.Errorf("limit %d accepted", bad)
		}
	}
}
