package serve

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestNetHTTPAnswersLogged: the answers net/http gives itself, before any
// handler runs (a head too large, a request it cannot read, an Expect it
// does not meet), are logged as the handler's are, with no method or path
// (there is none it read), so every 4xx and 5xx has its line; and an
// answer the handler gives is not logged twice.
func TestNetHTTPAnswersLogged(t *testing.T) {
	f := newFixture(t, genKey(t, "ES256"))
	logs := &syncBuffer{}
	addr := serveOn(t, NewServer(f.h, slog.New(slog.NewTextHandler(logs, nil)), nil))
	for _, tc := range []struct {
		name, raw string
		status    string
	}{
		{"a head over the limit", headOf(t, MaxHeaderBytes+1), "431"},
		{"no Host", "GET /.well-known/jwks.json HTTP/1.1\r\n\r\n", "400"},
		{"garbage", "garbage\r\n\r\n", "400"},
		{"a transfer coding", "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
		{"HTTP/3.0", "GET /healthz HTTP/3.0\r\nHost: x\r\n\r\n", "505"},
		{"an Expect", "GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n", "417"},
		{"an Expect, HTTP/1.0", "GET /healthz HTTP/1.0\r\nExpect: something\r\n\r\n", "417"},
		// On a connection net/http already served a request on.
		{"after a request", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: a b\r\n\r\n", "400"},
	} {
		before := logs.String()
		got := exchange(t, addr, []byte(tc.raw))
		if !strings.Contains(got, "HTTP/1.") || !strings.Contains(got, " "+tc.status+" ") {
			t.Fatalf("%s: answered %q, want %s", tc.name, got, tc.status)
		}
		want := `msg=request method="" path="" status=` + tc.status + " bytes="
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(strings.TrimPrefix(logs.String(), before), want) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if lines := strings.TrimPrefix(logs.String(), before); !strings.Contains(lines, want) || !strings.Contains(lines, "remote=127.0.0.1:") {
			t.Errorf("%s: no line %q with the client's address in the log:\n%s", tc.name, want, lines)
		}
	}
	if n := strings.Count(logs.String(), "status=404"); n != 1 {
		t.Errorf("the handler's 404 logged %d times, want once:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "msg=request"); n != 9 {
		t.Errorf("%d request lines for 9 answers:\n%s", n, logs.String())
	}
}
