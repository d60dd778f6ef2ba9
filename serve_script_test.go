package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/internal/config"
	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

func init() {
	scriptCmds["servebg"] = cmdServeBG
	scriptCmds["httpget"] = cmdHTTPGet
	scriptCmds["jwkspublic"] = cmdJWKSPublic
	scriptSetups = append(scriptSetups, func(env *testscript.Env) error {
		env.Values[serveStateKey{}] = &serveState{env: env}
		return nil
	})
}

// scriptWait bounds every wait on a background keyctl serve, so a hung
// server fails the script instead of the whole test binary's timeout. It
// is a guard, not a measurement: on a healthy machine every wait ends in
// milliseconds.
const scriptWait = 60 * time.Second

type serveStateKey struct{}

// serveState is one script's background keyctl serve.
type serveState struct {
	env  *testscript.Env
	proc *serveProc
}

// serveProc is a running keyctl serve whose stderr is collected as it
// comes, so scripts can wait for a log line while it runs.
type serveProc struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	stderr  bytes.Buffer
	changed chan struct{} // closed and replaced at every new stderr line
	url     chan string
	done    chan struct{}
	waitErr error
}

func (p *serveProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// next returns the current stderr and a channel closed at the next line.
func (p *serveProc) next() (string, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String(), p.changed
}

// scriptEnviron rebuilds the script's environment for a process started
// outside testscript's exec: the variables Setup made, and the KEYCTL_*
// ones a script may have set since, at their current values.
func scriptEnviron(ts *testscript.TestScript, st *serveState) []string {
	names := map[string]bool{"KEYCTL_CONFIG": true, "GORACE": true}
	for _, kv := range st.env.Vars {
		if name, _, ok := strings.Cut(kv, "="); ok {
			names[name] = true
		}
	}
	for _, s := range config.Settings {
		names[config.EnvName(s.Key)] = true
	}
	var env []string
	for name := range names {
		if v := ts.Getenv(name); v != "" || slices.Contains(st.env.Vars, name+"=") {
			env = append(env, name+"="+v)
		}
	}
	sort.Strings(env)
	return env
}

// servebg start ARGS...: run "keyctl serve ARGS..." in the background, wait
// for the URL it prints, and set $SERVE (http://HOST:PORT) and $SERVE_ADDR
// (HOST:PORT).
// servebg wait REGEXP: wait until a line of its stderr matches.
// servebg stop [INT|TERM]: signal it (TERM by default), wait for it to
// exit, and make its whole stderr the command's stderr. It must exit 0
// (with !, non-zero).
func cmdServeBG(ts *testscript.TestScript, neg bool, args []string) {
	st, _ := ts.Value(serveStateKey{}).(*serveState)
	if st == nil || len(args) == 0 {
		ts.Fatalf("usage: servebg start ARGS... | wait REGEXP | stop [INT|TERM]")
	}
	switch args[0] {
	case "start":
		if neg {
			ts.Fatalf("unsupported: ! servebg start (use ! exec keyctl serve ...)")
		}
		if st.proc != nil {
			ts.Fatalf("keyctl serve is already running")
		}
		st.proc = startServe(ts, st, args[1:])
	case "wait":
		if len(args) != 2 || st.proc == nil {
			ts.Fatalf("usage: servebg wait REGEXP (after servebg start)")
		}
		re, err := regexp.Compile("(?m)" + args[1])
		ts.Check(err)
		found := waitServeLog(st.proc, re)
		if neg && found {
			ts.Fatalf("keyctl serve logged %q", args[1])
		}
		if !neg && !found {
			ts.Fatalf("keyctl serve never logged %q; stderr:\n%s", args[1], st.proc.output())
		}
	case "stop":
		if st.proc == nil {
			ts.Fatalf("servebg stop: nothing running")
		}
		sig := os.Signal(syscall.SIGTERM)
		if len(args) > 1 {
			switch args[1] {
			case "INT":
				sig = os.Interrupt
			case "TERM":
			default:
				ts.Fatalf("servebg stop: unknown signal %q", args[1])
			}
		}
		p := st.proc
		st.proc = nil
		err := p.stop(sig)
		fmt.Fprint(ts.Stderr(), p.output())
		if neg && err == nil {
			ts.Fatalf("keyctl serve exited 0")
		}
		if !neg && err != nil {
			ts.Fatalf("keyctl serve: %v", err)
		}
	default:
		ts.Fatalf("servebg: unknown subcommand %q", args[0])
	}
}

func startServe(ts *testscript.TestScript, st *serveState, args []string) *serveProc {
	bin, err := exec.LookPath("keyctl")
	ts.Check(err)
	p, base, err := launchServe(bin, ts.MkAbs("."), scriptEnviron(ts, st), args)
	if p != nil {
		ts.Defer(p.kill)
	}
	if err != nil {
		ts.Fatalf("%v", err)
	}
	ts.Setenv("SERVE", base)
	ts.Setenv("SERVE_ADDR", strings.TrimPrefix(base, "http://"))
	return p
}

// launchServe starts "keyctl serve ARGS..." and returns once it printed its
// URL and /healthz answered, with the base URL (http://HOST:PORT). The
// process, when it started, is returned even with an error, to be killed.
func launchServe(bin, dir string, env, args []string) (*serveProc, string, error) {
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	p := &serveProc{cmd: cmd, changed: make(chan struct{}), url: make(chan string, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "keyctl: serving JWKS on "); ok {
				select {
				case p.url <- u:
				default:
				}
			}
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		io.Copy(io.Discard, pipe)
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	var url string
	select {
	case url = <-p.url:
	case <-p.done:
		return p, "", fmt.Errorf("keyctl serve exited before serving: %v\n%s", p.waitErr, p.output())
	case <-time.After(scriptWait):
		return p, "", fmt.Errorf("keyctl serve printed no URL within %s:\n%s", scriptWait, p.output())
	}
	base, ok := strings.CutSuffix(url, "/.well-known/jwks.json")
	if !ok || !strings.HasPrefix(base, "http://") {
		return p, "", fmt.Errorf("unexpected URL line %q", url)
	}
	// The URL is printed once the port is bound: /healthz answers now.
	resp, err := httpClient().Get(base + "/healthz")
	if err != nil {
		return p, "", err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return p, "", fmt.Errorf("/healthz: status %d", resp.StatusCode)
	}
	return p, base, nil
}

// stop signals the server and waits for it to exit; the error is its exit
// status, or the guard running out.
func (p *serveProc) stop(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(scriptWait):
		p.kill()
		return fmt.Errorf("keyctl serve did not stop within %s of %v", scriptWait, sig)
	}
}

// kill ends the server if it still runs.
func (p *serveProc) kill() {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitServeLog waits for re to match the server's stderr; false if the
// server exits or the guard runs out first.
func waitServeLog(p *serveProc, re *regexp.Regexp) bool {
	deadline := time.After(scriptWait)
	for {
		out, changed := p.next()
		if re.MatchString(out) {
			return true
		}
		select {
		case <-changed:
		case <-p.done:
			return re.MatchString(p.output())
		case <-deadline:
			return false
		}
	}
}

func httpClient() *http.Client {
	return &http.Client{
		Timeout:   scriptWait,
		Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// httpget [-X METHOD] [-H 'Name: value']... URL: the body goes to stdout;
// "HTTP <status>" and every response header ("Name: value", canonical
// names, sorted, Date left out) to stderr. $ETAG is set to the response's
// ETag. It fails only when no response comes (with !, it expects that).
//
// -until REGEXP repeats the request until its status line, headers or body
// match (serve takes in a change within milliseconds, not synchronously
// with the write); -cacert FILE trusts that PEM CA for https.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	method := "GET"
	var headers [][2]string
	var until *regexp.Regexp
	client := httpClient()
	for len(args) > 1 && (args[0] == "-X" || args[0] == "-H" || args[0] == "-until" || args[0] == "-cacert") {
		switch args[0] {
		case "-X":
			method = args[1]
		case "-until":
			re, err := regexp.Compile("(?m)" + args[1])
			ts.Check(err)
			until = re
		case "-cacert":
			pem, err := os.ReadFile(ts.MkAbs(args[1]))
			ts.Check(err)
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				ts.Fatalf("httpget: no certificate in %s", args[1])
			}
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = &tls.Config{RootCAs: pool}
			client = &http.Client{Transport: t, Timeout: client.Timeout}
		default:
			name, value, ok := strings.Cut(args[1], ":")
			if !ok {
				ts.Fatalf("httpget: header %q is not Name: value", args[1])
			}
			headers = append(headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
		}
		args = args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: httpget [-X METHOD] [-H 'Name: value']... [-until REGEXP] [-cacert FILE] URL")
	}
	deadline := time.Now().Add(scriptWait)
	for {
		req, err := http.NewRequest(method, args[0], nil)
		ts.Check(err)
		for _, h := range headers {
			req.Header.Add(h[0], h[1])
		}
		resp, err := client.Do(req)
		if err != nil {
			if neg {
				return
			}
			ts.Fatalf("httpget: %v", err)
		}
		if neg {
			resp.Body.Close()
			ts.Fatalf("httpget: got a response (%s)", resp.Status)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ts.Check(err)
		var head strings.Builder
		fmt.Fprintf(&head, "HTTP %d\n", resp.StatusCode)
		var names []string
		for name := range resp.Header {
			if name != "Date" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			for _, v := range resp.Header[name] {
				fmt.Fprintf(&head, "%s: %s\n", name, v)
			}
		}
		if until != nil && !until.MatchString(head.String()+"\n"+string(b)) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		ts.Stdout().Write(b)
		fmt.Fprint(ts.Stderr(), head.String())
		ts.Setenv("ETAG", resp.Header.Get("ETag"))
		return
	}
}

// jwkspublic FILE N [KEYSFILE]: FILE is a JWKS of N keys that a strict
// verifier accepts, with public members only (keyctl's parser and go-jose
// agree), use "sig" and key_ops ["verify"] on each; with KEYSFILE, the keys
// are the public halves of KEYSFILE's asymmetric keys, in order.
func cmdJWKSPublic(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: jwkspublic FILE N [KEYSFILE]")
	}
	err := checkPublicJWKS(ts, []byte(ts.ReadFile(args[0])), args[1], args[2:])
	if neg && err == nil {
		ts.Fatalf("%s is a valid public JWKS", args[0])
	}
	if !neg && err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
}

func checkPublicJWKS(ts *testscript.TestScript, data []byte, n string, keysFile []string) error {
	set, err := jwk.ParseSet(data, jwk.ParseSetOptions{})
	if err != nil {
		return err
	}
	if fmt.Sprint(len(set.Keys)) != n {
		return fmt.Errorf("%d keys, want %s", len(set.Keys), n)
	}
	var js jose.JSONWebKeySet
	if err := json.Unmarshal(data, &js); err != nil {
		return fmt.Errorf("go-jose: %v", err)
	}
	if len(js.Keys) != len(set.Keys) {
		return fmt.Errorf("go-jose reads %d keys, keyctl %d", len(js.Keys), len(set.Keys))
	}
	var raw struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for i, m := range raw.Keys {
		if !js.Keys[i].IsPublic() || !js.Keys[i].Valid() {
			return fmt.Errorf("key %d: go-jose says it is not a valid public key", i)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
			if _, ok := m[private]; ok {
				return fmt.Errorf("key %d has private member %q", i, private)
			}
		}
		if string(m["use"]) != `"sig"` || string(m["key_ops"]) != `["verify"]` {
			return fmt.Errorf("key %d: use %s key_ops %s, want \"sig\" [\"verify\"]", i, m["use"], m["key_ops"])
		}
	}
	if len(keysFile) == 0 {
		return nil
	}
	keys, err := keysfile.Read(ts.MkAbs(keysFile[0]))
	if err != nil {
		return err
	}
	var want []*jwk.Key
	for _, k := range keys {
		if !k.IsSymmetric() {
			want = append(want, k)
		}
	}
	if len(want) != len(set.Keys) {
		return fmt.Errorf("%d keys, %s has %d asymmetric keys", len(set.Keys), keysFile[0], len(want))
	}
	for i, k := range set.Keys {
		if k.KID != want[i].KID || k.Alg != want[i].Alg {
			return fmt.Errorf("key %d is %s %s, want %s %s", i, k.KID, k.Alg, want[i].KID, want[i].Alg)
		}
		if pub, _ := want[i].Public(); !k.Equal(pub) {
			return errors.New("key " + k.KID + " is not the public half of the private key")
		}
	}
	return nil
}
