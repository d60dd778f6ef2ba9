package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keyctl serve and signals, as a real process (issue 14 item 7).

// serveKeysFile writes a keys file of n ES256 keys in a fresh home and
// returns the environment and the file.
func serveKeysFile(t *testing.T, n int) (env []string, file string) {
	t.Helper()
	home := t.TempDir()
	env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "NO_COLOR=1")
	file = filepath.Join(home, "signing_keys.json")
	for i := range n {
		args := []string{"gen", "signing-key", "--keys-file", file}
		if i > 0 {
			args = append(args, "--append")
		}
		mustRun(t, env, args...)
	}
	return env, file
}

// exited waits for r's process to exit within limit, its stderr read to
// the end, and returns its error and how long it took.
func exited(t *testing.T, r *replica, limit time.Duration) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { <-r.logsDone; done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return err, time.Since(start)
	case <-time.After(limit):
		r.cmd.Process.Kill()
		t.Fatalf("serve still running %s after the signal", limit)
		return nil, 0
	}
}

// TestServeSIGHUP: SIGHUP re-checks the source at once and serve keeps
// running (without its handler, SIGHUP's default action kills the
// process, and this test fails on the first request after it).
func TestServeSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	env, file := serveKeysFile(t, 1)
	r := startReplica(t, env, "--keys-file", file)
	_, _, etag, err := r.get("/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "gen", "signing-key", "--keys-file", file, "--append")
	if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, body, now, err := r.get("/.well-known/jwks.json")
		if err != nil {
			t.Fatalf("after SIGHUP: %v (serve died?)\n%s", err, r.logs.String())
		}
		if code == http.StatusOK && now != etag && strings.Count(body, `"kid"`) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second key was not served 2s after SIGHUP")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// One more SIGHUP with nothing changed: still serving, and it says so.
	r.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(100 * time.Millisecond)
	if code, _, _, err := r.get("/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("after a second SIGHUP: %d %v", code, err)
	}
	r.mu.Lock()
	logs := r.logs.String()
	r.mu.Unlock()
	if n := strings.Count(logs, `"msg":"SIGHUP: reloading"`); n != 2 {
		t.Errorf("%d SIGHUP log lines, want 2:\n%s", n, logs)
	}
}

// TestServeSIGTERMDrains: at SIGTERM serve stops accepting at once, closes
// idle keep-alive connections, answers a request under way, prints
// "stopped" and exits 0, well within the grace.
func TestServeSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	env, file := serveKeysFile(t, 2)
	r := startReplica(t, env, "--keys-file", file)
	addr := strings.TrimPrefix(r.base, "http://")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(15 * time.Second))
		t.Cleanup(func() { c.Close() })
		return c
	}
	// An idle kept-alive connection, after one request; and one with half
	// a request sent.
	idle := dial()
	idle.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n"))
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	busy := dial()
	busy.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\nHo"))
	time.Sleep(50 * time.Millisecond)

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The idle connection is closed at once.
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection after SIGTERM: %v, want EOF", err)
	}
	// No new connection is accepted.
	time.Sleep(100 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after SIGTERM")
	}
	// The request under way is answered.
	busy.Write([]byte("st: x\r\n\r\n"))
	resp, err = http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatalf("the request under way at SIGTERM: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), `"kid"`) != 2 {
		t.Errorf("the request under way at SIGTERM: %d %q", resp.StatusCode, body)
	}
	err, took := exited(t, r, 10*time.Second)
	if err != nil {
		t.Errorf("serve after SIGTERM: %v, want exit 0", err)
	}
	if took > 3*time.Second {
		t.Errorf("serve took %s to stop with nothing left to answer", took)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !strings.Contains(r.logs.String(), "stopped") {
		t.Errorf("no \"stopped\" line:\n%s", r.logs.String())
	}
}

// TestServeSIGTERMStalledClient: a client that stops in the middle of its
// request's head does not hold serve past that head's timeout (5 s from
// the connection's start): serve waits for it after SIGTERM, in case it
// finishes, then closes it and exits 0 (docs/serve.md, Signals). A test
// with a shorter grace than the header timeout, where the request is cut
// off and Serve says so, is TestFastPathGraceCutOff in internal/serve.
func TestServeSIGTERMStalledClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and waits 5 s")
	}
	env, file := serveKeysFile(t, 1)
	r := startReplica(t, env, "--keys-file", file)
	c, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connected := time.Now()
	c.Write([]byte("GET /.well-known/jwks.json HTTP/1.1\r\n"))
	time.Sleep(2 * time.Second)
	r.cmd.Process.Signal(syscall.SIGTERM)
	err, took := exited(t, r, 15*time.Second)
	if err != nil {
		t.Errorf("serve after SIGTERM with a stalled client: %v, want exit 0", err)
	}
	if since := time.Since(connected); took < time.Second || since > 7*time.Second {
		t.Errorf("serve stopped %s after SIGTERM (%s after the client connected), want at its header timeout, 5s after it connected", took, since)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !strings.Contains(r.logs.String(), "stopped") || strings.Contains(r.logs.String(), "cut off") {
		t.Errorf("want \"stopped\" and nothing cut off:\n%s", r.logs.String())
	}
}
