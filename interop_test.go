package main

// Interop tests: real JWT clients (panva/jose and @supabase/auth-js from
// the npm registry, Debian's python3-jwt) against keyctl's keys, tokens and
// `keyctl serve`. Versions are pinned in testdata/interop/package-lock.json
// and installed by .ci/run. Without the tools a local run skips with what
// to install; under CI (CI set) a missing tool fails the test.

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

const interopDir = "testdata/interop"

// requireInterop skips (locally) or fails (in CI) when a client is missing.
func requireInterop(t *testing.T, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing, and CI must run the interop tests: %s (.ci/run does)", what, install)
	}
	reportSkip(t, fmt.Sprintf("%s is missing: %s", what, install))
	t.Skipf("%s is missing: %s", what, install)
}

// skipReportEnv names a file each skipped interop test appends a line to
// ("TestName: what is missing: how to install it"); make test sets it and
// prints the file after go test, so skips show without -v.
const skipReportEnv = "KEYCTL_TEST_SKIP_REPORT"

func reportSkip(t *testing.T, why string) {
	t.Helper()
	path := os.Getenv(skipReportEnv)
	if path == "" {
		return
	}
	// One write per line with O_APPEND: parallel tests do not interleave.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Errorf("%s: %v", skipReportEnv, err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(t.Name() + ": " + why + "\n"); err != nil {
		t.Errorf("%s: %v", skipReportEnv, err)
	}
}

// needNode returns node, after checking that the npm packages are
// installed at exactly the versions package-lock.json pins.
func needNode(t *testing.T, pkgs ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	requireInterop(t, err == nil, "node", "install Node.js 20 or later")
	lockData, err := os.ReadFile(filepath.Join(interopDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(lockData, &lock); err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		want := lock.Packages["node_modules/"+pkg].Version
		if want == "" {
			t.Fatalf("%s is not in package-lock.json", pkg)
		}
		data, err := os.ReadFile(filepath.Join(interopDir, "node_modules", pkg, "package.json"))
		requireInterop(t, err == nil, "npm package "+pkg, "run: npm ci --prefix "+interopDir)
		var installed struct{ Version string }
		json.Unmarshal(data, &installed)
		if installed.Version != want {
			t.Fatalf("%s %s is installed, package-lock.json pins %s: run npm ci --prefix %s", pkg, installed.Version, want, interopDir)
		}
		t.Logf("%s %s", pkg, installed.Version)
	}
	return node
}

// needPyJWT returns Debian's python3, which has PyJWT (python3-jwt) with
// its cryptography backend. Any other python3 on PATH (pyenv) does not.
func needPyJWT(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	out, err := exec.Command(py, "-c", "import jwt, cryptography; print(jwt.__version__)").CombinedOutput()
	requireInterop(t, err == nil, "Debian's python3-jwt", "run: apt-get install -y python3-jwt python3-cryptography")
	t.Logf("PyJWT %s", strings.TrimSpace(string(out)))
	return py
}

// keyctlEnv runs the keyctl binary (the test binary, which testscript put
// on PATH under that name) in a scratch directory and home.
type keyctlEnv struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newKeyctlEnv(t *testing.T) *keyctlEnv {
	t.Helper()
	bin, err := exec.LookPath("keyctl")
	if err != nil {
		t.Fatalf("keyctl is not on PATH (TestMain puts it there): %v", err)
	}
	dir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYCTL_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+dir+"/.home", "XDG_CONFIG_HOME="+dir+"/.home/.config", "XDG_CACHE_HOME="+dir+"/.home/.cache", "NO_COLOR=1")
	if os.Getenv("GORACE") == "" {
		// Under -race the keyctl binary is the race-enabled test binary,
		// which sleeps a second at exit by default: per keyctl run.
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	return &keyctlEnv{t: t, bin: bin, dir: dir, env: env}
}

func (k *keyctlEnv) path(name string) string { return filepath.Join(k.dir, name) }

// exec runs keyctl and returns stdout, stderr and the exit code.
func (k *keyctlEnv) exec(stdin string, args ...string) (string, string, int) {
	k.t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Dir, cmd.Env = k.dir, k.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatalf("keyctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// run runs keyctl, which must succeed, and returns its stdout trimmed.
func (k *keyctlEnv) run(args ...string) string {
	k.t.Helper()
	out, errOut, code := k.exec("", args...)
	if code != 0 {
		k.t.Fatalf("keyctl %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return strings.TrimSpace(out)
}

// serve starts keyctl serve on a free loopback port and returns its base URL.
func (k *keyctlEnv) serve(args ...string) (*serveProc, string) {
	k.t.Helper()
	p, base, err := launchServe(k.bin, k.dir, k.env, append([]string{"--addr", "127.0.0.1:0"}, args...))
	if p != nil {
		k.t.Cleanup(func() {
			if err := p.stop(syscall.SIGTERM); err != nil {
				k.t.Errorf("keyctl serve: %v\n%s", err, p.output())
			}
		})
	}
	if err != nil {
		k.t.Fatal(err)
	}
	return p, base
}

// keysFileWith makes a Supabase keys file holding a key per algorithm (the
// first signs) and returns its path and the kid of each algorithm's key.
func (k *keyctlEnv) keysFileWith(name string, algs ...jwk.Algorithm) (string, map[jwk.Algorithm]string) {
	k.t.Helper()
	path := k.path(name)
	for i, alg := range algs {
		args := []string{"gen", "signing-key", "--keys-file", path, "--algorithm", string(alg)}
		if i > 0 {
			args = append(args, "--append")
		}
		k.run(args...)
	}
	keys, err := keysfile.Read(path)
	if err != nil {
		k.t.Fatal(err)
	}
	kids := map[jwk.Algorithm]string{}
	for _, key := range keys {
		kids[key.Alg] = key.KID
	}
	return path, kids
}

// mint makes a token with keyctl gen bearer-jwt from the keys file.
func (k *keyctlEnv) mint(keysFile, kid, sub string, extra ...string) string {
	k.t.Helper()
	args := append([]string{"gen", "bearer-jwt", "--role", "authenticated", "--sub", sub, "--any-sub", "--aud", "authenticated",
		"--claim", "email=dev@example.com", "--keys-file", keysFile, "--kid", kid}, extra...)
	return k.run(args...)
}

// clientResult is one answer of an interop script.
type clientResult struct {
	OK     bool           `json:"ok"`
	Alg    string         `json:"alg"`
	Kid    string         `json:"kid"`
	Claims map[string]any `json:"claims"`
	Code   any            `json:"code"`
	Error  string         `json:"error"`
	Token  string         `json:"token"`
	Type   string         `json:"type"`
	Public map[string]any `json:"public"`
	JWK    map[string]any `json:"jwk"`
	// Private is the private JWK a signing script generated.
	Private map[string]any `json:"private"`
	PEM     string         `json:"pem"`
}

// lineClient is a running interop script: one request per line in, one
// JSON result per line out.
type lineClient struct {
	t      *testing.T
	name   string
	in     io.WriteCloser
	lines  chan string
	done   chan struct{}
	mu     sync.Mutex
	stderr strings.Builder
}

func startClient(t *testing.T, argv ...string) *lineClient {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = interopDir
	c := &lineClient{t: t, name: filepath.Base(argv[1]), lines: make(chan string), done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.stderr.Write(p)
	})
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.in = in
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-c.done:
		case <-time.After(scriptWait):
			cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// ask sends one line and returns the script's answer.
func (c *lineClient) ask(line string) clientResult {
	c.t.Helper()
	if _, err := io.WriteString(c.in, line+"\n"); err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	var out string
	select {
	case out = <-c.lines:
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.t.Fatalf("%s exited:\n%s", c.name, c.stderr.String())
	case <-time.After(scriptWait):
		c.t.Fatalf("%s gave no answer within %s", c.name, scriptWait)
	}
	var r clientResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		c.t.Fatalf("%s: %v in %q", c.name, err, out)
	}
	return r
}

// wantVerified checks a successful verification and its claims.
func wantVerified(t *testing.T, who string, r clientResult, alg jwk.Algorithm, kid, sub string) {
	t.Helper()
	if !r.OK {
		t.Errorf("%s rejected a keyctl %s token: %v %s", who, alg, r.Code, r.Error)
		return
	}
	if r.Alg != string(alg) || r.Kid != kid {
		t.Errorf("%s: header alg %s kid %s, want %s %s", who, r.Alg, r.Kid, alg, kid)
	}
	if r.Claims["sub"] != sub || r.Claims["role"] != "authenticated" || r.Claims["email"] != "dev@example.com" || r.Claims["aud"] != "authenticated" {
		t.Errorf("%s: claims %v", who, r.Claims)
	}
}

// wantRejected checks a failure and that its code or message says why.
func wantRejected(t *testing.T, who, what string, r clientResult, why string) {
	t.Helper()
	if r.OK {
		t.Errorf("%s accepted %s", who, what)
		return
	}
	if got := fmt.Sprint(r.Code) + " " + r.Error; !strings.Contains(got, why) {
		t.Errorf("%s rejected %s with %q, want %q", who, what, got, why)
	}
}

// tamper flips the signature's first character to another valid one.
func tamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 1
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// expiredToken signs, with go-jose and the keys file's key for kid, a token
// that expired an hour ago (keyctl refuses to mint one).
func expiredToken(t *testing.T, keysFile, kid string) string {
	t.Helper()
	keys, err := keysfile.Read(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	idx := slices.IndexFunc(keys, func(k *jwk.Key) bool { return k.KID == kid })
	if idx < 0 {
		t.Fatalf("no key %s", kid)
	}
	k := keys[idx]
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Alg), Key: k.Material},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	payload, _ := json.Marshal(map[string]any{"role": "authenticated", "sub": "expired", "aud": "authenticated", "iat": now - 7200, "exp": now - 3600})
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dropKey rewrites the keys file without kid, the way a revocation leaves
// it (a new file renamed into place).
func dropKey(t *testing.T, keysFile, kid string) {
	t.Helper()
	keys, err := keysfile.Read(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	keys = slices.DeleteFunc(keys, func(k *jwk.Key) bool { return k.KID == kid })
	if err := keysfile.Write(keysFile, keys); err != nil {
		t.Fatal(err)
	}
}

// TestInteropJoseRemoteJWKS: panva/jose's jwtVerify with createRemoteJWKSet
// pointed at keyctl serve accepts keyctl's ES256, RS256 and EdDSA tokens,
// rejects forged ones, and sees a rotation on its next fetch.
func TestInteropJoseRemoteJWKS(t *testing.T) {
	t.Parallel()
	node := needNode(t, "jose")
	k := newKeyctlEnv(t)
	keys, kids := k.keysFileWith("signing_keys.json", jwk.ES256, jwk.RS256, jwk.EdDSA, jwk.HS256)
	_, base := k.serve("--keys-file", keys)
	jwksURL := base + "/.well-known/jwks.json"
	c := startClient(t, node, "jose-verify.mjs", jwksURL)

	tokens := map[jwk.Algorithm]string{}
	for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA} {
		tokens[alg] = k.mint(keys, kids[alg], "user-"+string(alg))
		wantVerified(t, "jose", c.ask(tokens[alg]), alg, kids[alg], "user-"+string(alg))
	}
	for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA} {
		wantRejected(t, "jose", "a tampered "+string(alg)+" token", c.ask(tamper(tokens[alg])), "ERR_JWS_SIGNATURE_VERIFICATION_FAILED")
	}
	// The shared secret is never published: its tokens cannot verify.
	wantRejected(t, "jose", "an HS256 token", c.ask(k.mint(keys, kids[jwk.HS256], "hs")), "ERR_JOSE_ALG_NOT_ALLOWED")
	wantRejected(t, "jose", "an expired token", c.ask(expiredToken(t, keys, kids[jwk.ES256])), "ERR_JWT_EXPIRED")
	otherKeys, otherKids := k.keysFileWith("other.json", jwk.ES256)
	wantRejected(t, "jose", "a token from a key not served", c.ask(k.mint(otherKeys, otherKids[jwk.ES256], "x")), "ERR_JWKS_NO_MATCHING_KEY")

	// Rotation in "another terminal": a new signing key. The same jose
	// client fetches again for the unknown kid and gets it: no restart.
	k.run("gen", "signing-key", "--keys-file", keys, "--append", "--in-use", "--algorithm", "ES256")
	newKey, err := keysfile.Read(keys)
	if err != nil {
		t.Fatal(err)
	}
	newKID := newKey[keysfile.SigningIndex(newKey)].KID
	waitJWKS(t, jwksURL, newKID, true)
	rotated := k.mint(keys, newKID, "after-rotation")
	wantVerified(t, "jose", c.ask(rotated), jwk.ES256, newKID, "after-rotation")

	// Revocation: the old key leaves the file; a client that fetches the
	// set afresh no longer accepts its tokens.
	dropKey(t, keys, kids[jwk.ES256])
	waitJWKS(t, jwksURL, kids[jwk.ES256], false)
	fresh := startClient(t, node, "jose-verify.mjs", jwksURL)
	wantRejected(t, "jose", "a token of a revoked key", fresh.ask(tokens[jwk.ES256]), "ERR_JWKS_NO_MATCHING_KEY")
	wantVerified(t, "jose", fresh.ask(rotated), jwk.ES256, newKID, "after-rotation")
	wantVerified(t, "jose", fresh.ask(tokens[jwk.RS256]), jwk.RS256, kids[jwk.RS256], "user-RS256")
}

// TestInteropSupabaseGetClaims: @supabase/auth-js's getClaims(), with
// keyctl serve as the Supabase URL, accepts keyctl's ES256 and RS256
// tokens, as Supabase backends would, and fails the rest with Supabase's
// own reasons.
func TestInteropSupabaseGetClaims(t *testing.T) {
	t.Parallel()
	node := needNode(t, "@supabase/auth-js")
	k := newKeyctlEnv(t)
	keys, kids := k.keysFileWith("signing_keys.json", jwk.ES256, jwk.RS256, jwk.EdDSA)
	srv, base := k.serve("--keys-file", keys)
	c := startClient(t, node, "supabase-getclaims.mjs", base)

	for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256} {
		tok := k.mint(keys, kids[alg], "user-"+string(alg))
		wantVerified(t, "getClaims", c.ask(tok), alg, kids[alg], "user-"+string(alg))
		wantRejected(t, "getClaims", "a tampered "+string(alg)+" token", c.ask(tamper(tok)), "Invalid JWT signature")
	}
	// auth-js verifies only ES256 and RS256 locally (SUPABASE.md).
	wantRejected(t, "getClaims", "an EdDSA token", c.ask(k.mint(keys, kids[jwk.EdDSA], "ed")), "Invalid alg claim")
	wantRejected(t, "getClaims", "an expired token", c.ask(expiredToken(t, keys, kids[jwk.ES256])), "JWT has expired")
	// An unknown kid makes auth-js ask the Auth server (GET /auth/v1/user);
	// keyctl serve is no Auth server and says so.
	otherKeys, otherKids := k.keysFileWith("other.json", jwk.ES256)
	wantRejected(t, "getClaims", "a token from a key not served", c.ask(k.mint(otherKeys, otherKids[jwk.ES256], "x")), "keyctl serve publishes the JWKS")

	// A rotation shows without restarting anything: auth-js refetches for
	// a kid its cache lacks.
	k.run("gen", "signing-key", "--keys-file", keys, "--append", "--in-use", "--algorithm", "RS256")
	all, err := keysfile.Read(keys)
	if err != nil {
		t.Fatal(err)
	}
	newKID := all[keysfile.SigningIndex(all)].KID
	waitJWKS(t, base+"/.well-known/jwks.json", newKID, true)
	wantVerified(t, "getClaims", c.ask(k.mint(keys, newKID, "after-rotation")), jwk.RS256, newKID, "after-rotation")

	// It fetched from the path Supabase's libraries use.
	out := srv.output()
	if !strings.Contains(out, "path=/auth/v1/.well-known/jwks.json status=200") {
		t.Errorf("no JWKS fetch at /auth/v1/.well-known/jwks.json in the server log:\n%s", out)
	}
}

// TestInteropPyJWT: Debian's python3-jwt verifies keyctl's tokens against
// the JWKS keyctl publishes, fetched by PyJWKClient or read from a file.
func TestInteropPyJWT(t *testing.T) {
	t.Parallel()
	py := needPyJWT(t)
	k := newKeyctlEnv(t)
	keys, kids := k.keysFileWith("signing_keys.json", jwk.ES256, jwk.RS256, jwk.EdDSA)
	_, base := k.serve("--keys-file", keys)
	jwksURL := base + "/.well-known/jwks.json"

	resp, err := httpClient().Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	jwksDoc, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	jwksFile := k.path("jwks.json")
	if err := os.WriteFile(jwksFile, jwksDoc, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, mode := range [][]string{{"--url", jwksURL}, {"--jwks", jwksFile}} {
		t.Run(strings.TrimPrefix(mode[0], "--"), func(t *testing.T) {
			c := startClient(t, append([]string{py, "pyjwt_verify.py", "--aud", "authenticated"}, mode...)...)
			for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA} {
				tok := k.mint(keys, kids[alg], "user-"+string(alg))
				wantVerified(t, "PyJWT", c.ask(tok), alg, kids[alg], "user-"+string(alg))
				wantRejected(t, "PyJWT", "a tampered "+string(alg)+" token", c.ask(tamper(tok)), "InvalidSignatureError")
			}
			wantRejected(t, "PyJWT", "a token for another audience", c.ask(k.run("gen", "bearer-jwt", "--role", "authenticated", "--aud", "other", "--keys-file", keys)), "InvalidAudienceError")
			wantRejected(t, "PyJWT", "an expired token", c.ask(expiredToken(t, keys, kids[jwk.ES256])), "ExpiredSignatureError")
		})
	}
}

// TestInteropJoseImportsKeyctlKeys: private keys from keyctl gen
// signing-key load in jose as private keys (importJWK, importPKCS8) and
// sign tokens that verify, with go-jose and with keyctl verify, under
// keyctl's public form of the same key.
func TestInteropJoseImportsKeyctlKeys(t *testing.T) {
	t.Parallel()
	node := needNode(t, "jose")
	k := newKeyctlEnv(t)
	c := startClient(t, node, "jose-keys.mjs")
	for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			lines := strings.Split(k.run("gen", "signing-key", "--algorithm", string(alg), "--public"), "\n")
			if len(lines) != 2 {
				t.Fatalf("want a private and a public JWK, got %q", lines)
			}
			pub, err := jwk.Parse([]byte(lines[1]))
			if err != nil {
				t.Fatal(err)
			}

			// As printed, the key carries Supabase's key_ops
			// ["sign","verify"]. jose hands key_ops to WebCrypto, which
			// refuses "verify" on a private key: record what happens.
			r := c.ask(lines[0])
			if !r.OK {
				wantRejected(t, "jose importJWK", "the key as printed", r, "Unsupported key usage")
				t.Logf("jose importJWK of the key as printed: %v %s (WebCrypto allows only \"sign\" on a private key; drop key_ops, see docs/interop.md)", r.Code, r.Error)
			} else {
				checkJoseToken(t, r, pub)
			}

			// Without key_ops (or with ["sign"]) it imports as a private key.
			var m map[string]any
			json.Unmarshal([]byte(lines[0]), &m)
			delete(m, "key_ops")
			noOps, _ := json.Marshal(m)
			tok := checkJoseToken(t, c.ask(string(noOps)), pub)
			m["key_ops"] = []string{"sign"}
			signOnly, _ := json.Marshal(m)
			checkJoseToken(t, c.ask(string(signOnly)), pub)

			// keyctl verify agrees, with the public key keyctl printed.
			pubFile := writeFile(t, k.path("pub-"+string(alg)+".json"), lines[1]+"\n")
			if out, errOut, code := k.exec(tok+"\n", "verify", "--key", pubFile, "-"); code != 0 || !strings.Contains(out, `"sub":"jose-interop"`) {
				t.Errorf("keyctl verify --key of jose's %s token: exit %d %s%s", alg, code, out, errOut)
			}

			// The PEM (PKCS#8) form loads with importPKCS8.
			pem := k.run("gen", "signing-key", "--algorithm", string(alg), "--format", "pem")
			pemKey, err := jwk.ParsePEM([]byte(pem))
			if err != nil {
				t.Fatal(err)
			}
			pemPub, _ := pemKey.Public()
			pemPub.KID = "pem-" + string(alg)
			req, _ := json.Marshal(map[string]string{"pem": pem, "alg": string(alg), "kid": pemPub.KID})
			checkJoseToken(t, c.ask(string(req)), pemPub)
		})
	}
}

// checkJoseToken checks that jose imported a private key and that the
// token it signed verifies, with go-jose, under keyctl's public key.
func checkJoseToken(t *testing.T, r clientResult, pub *jwk.Key) string {
	t.Helper()
	if !r.OK || r.Type != "private" {
		t.Fatalf("jose did not import a private key: %+v", r)
	}
	obj, err := jose.ParseSignedCompact(r.Token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(pub.Alg)})
	if err != nil {
		t.Fatalf("go-jose cannot parse jose's token: %v", err)
	}
	if obj.Signatures[0].Header.KeyID != pub.KID {
		t.Errorf("jose's token has kid %q, want %q", obj.Signatures[0].Header.KeyID, pub.KID)
	}
	payload, err := obj.Verify(pub.PublicMaterial())
	if err != nil {
		t.Fatalf("jose's %s token does not verify under keyctl's public key: %v", pub.Alg, err)
	}
	if !strings.Contains(string(payload), `"sub":"jose-interop"`) {
		t.Errorf("payload %s", payload)
	}
	// jose's own view of the public key matches keyctl's.
	pubJSON, _ := json.Marshal(r.Public)
	theirs, err := jwk.Parse(pubJSON)
	if err != nil {
		t.Fatalf("jose's public JWK: %v", err)
	}
	if !theirs.Equal(pub) {
		t.Errorf("jose derives another public key: %s", pubJSON)
	}
	return r.Token
}

// TestInteropJoseSignsKeyctlVerifies: jose as the issuer. Keys jose
// generates (exported as JWK or PKCS#8 PEM) and a shared secret go into the
// keyring with keyctl keys import; the tokens jose signs with them verify
// with keyctl verify, against the keyring and against keyctl serve; forged
// and revoked ones exit 3.
func TestInteropJoseSignsKeyctlVerifies(t *testing.T) {
	t.Parallel()
	node := needNode(t, "jose")
	k := newKeyctlEnv(t)
	c := startClient(t, node, "jose-sign.mjs")
	ask := func(req map[string]any) clientResult {
		t.Helper()
		line, _ := json.Marshal(req)
		r := c.ask(string(line))
		if !r.OK {
			t.Fatalf("jose: %v %s", r.Code, r.Error)
		}
		return r
	}
	claims := func(sub string) map[string]any {
		return map[string]any{"role": "authenticated", "sub": sub, "aud": "authenticated"}
	}
	verify := func(token string, args ...string) (map[string]any, string, int) {
		t.Helper()
		return keyctlVerify(t, k, token, args...)
	}

	type issued struct{ kid, alg, token string }
	var tokens []issued
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		for _, form := range []string{"jwk", "pem"} {
			kid := "jose-" + strings.ToLower(alg) + "-" + form
			gen := ask(map[string]any{"op": "generate", "alg": alg})
			var data []byte
			if form == "jwk" {
				data, _ = json.Marshal(gen.JWK)
			} else {
				data = []byte(gen.PEM + "\n")
			}
			file := k.path(kid + "." + form)
			if err := os.WriteFile(file, data, 0o600); err != nil {
				t.Fatal(err)
			}
			k.run("keys", "import", "--kid", kid, file)
			tok := ask(map[string]any{"op": "sign", "alg": alg, "kid": kid, "jwk": gen.JWK, "claims": claims("user-" + kid)}).Token
			tokens = append(tokens, issued{kid, alg, tok})
		}
	}
	// A shared secret, imported with --secret-file, signs HS256 in jose.
	// Printable, so no trailing newline byte is trimmed from the file.
	secret := []byte(rand.Text() + rand.Text())
	secretFile := k.path("hs256.secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	k.run("keys", "import", "--secret-file", secretFile, "--kid", "jose-hs256")
	octJWK := map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(secret)}
	tokens = append(tokens, issued{"jose-hs256", "HS256",
		ask(map[string]any{"op": "sign", "alg": "HS256", "kid": "jose-hs256", "jwk": octJWK, "claims": claims("user-jose-hs256")}).Token})

	for _, it := range tokens {
		got, errOut, code := verify(it.token)
		if code != 0 {
			t.Errorf("keyctl verify of jose's %s token (%s): exit %d\n%s", it.alg, it.kid, code, errOut)
			continue
		}
		if got["sub"] != "user-"+it.kid || got["role"] != "authenticated" {
			t.Errorf("keyctl verify of jose's %s token: claims %v", it.alg, got)
		}
		if _, errOut, code := verify(tamper(it.token)); code != 3 {
			t.Errorf("a tampered jose %s token: exit %d, want 3\n%s", it.alg, code, errOut)
		}
	}

	// The same tokens verify against the keyring's JWKS on keyctl serve
	// (asymmetric keys only: the secret is never published).
	_, base := k.serve()
	for _, it := range tokens {
		_, errOut, code := verify(it.token, "--jwks", base+"/.well-known/jwks.json", "--no-cache")
		want := 0
		if it.alg == "HS256" {
			want = 3
		}
		if code != want {
			t.Errorf("keyctl verify --jwks <serve> of jose's %s token: exit %d, want %d\n%s", it.alg, code, want, errOut)
		}
	}

	// A key jose made but nobody imported, under an imported key's kid.
	rogue := ask(map[string]any{"op": "generate", "alg": "ES256"})
	forged := ask(map[string]any{"op": "sign", "alg": "ES256", "kid": "jose-es256-jwk", "jwk": rogue.JWK, "claims": claims("mallory")}).Token
	if _, errOut, code := verify(forged); code != 3 {
		t.Errorf("a token from a rogue key: exit %d, want 3\n%s", code, errOut)
	}
	// Revoked in the keyring: refused from then on.
	k.run("keys", "revoke", "--force", "jose-es256-pem")
	if _, errOut, code := verify(tokens[1].token); code != 3 || !strings.Contains(errOut, "revoked") {
		t.Errorf("a token of a revoked key: exit %d, want 3 saying revoked\n%s", code, errOut)
	}
}

// TestInteropPyJWTKeyctlJWKS: PyJWT verifies keyring tokens against the
// output of keyctl jwks saved to a file, for every asymmetric algorithm.
func TestInteropPyJWTKeyctlJWKS(t *testing.T) {
	t.Parallel()
	py := needPyJWT(t)
	k := newKeyctlEnv(t)
	kids := map[jwk.Algorithm]string{}
	for i, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA} {
		kid := "py-" + strings.ToLower(string(alg))
		k.run("keys", "create", "--algorithm", string(alg), "--kid", kid)
		if i == 0 {
			k.run("keys", "rotate", kid)
		}
		kids[alg] = kid
	}
	k.run("keys", "import", "--secret-file", writeFile(t, k.path("s.txt"), "a-secret-that-is-never-published"), "--kid", "py-hs")
	jwksFile := writeFile(t, k.path("jwks.json"), k.run("jwks")+"\n")
	c := startClient(t, py, "pyjwt_verify.py", "--aud", "authenticated", "--jwks", jwksFile)
	for _, alg := range []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA} {
		tok := k.run("gen", "bearer-jwt", "--role", "authenticated", "--sub", "user-"+string(alg), "--any-sub", "--aud", "authenticated",
			"--claim", "email=dev@example.com", "--kid", kids[alg])
		wantVerified(t, "PyJWT", c.ask(tok), alg, kids[alg], "user-"+string(alg))
		wantRejected(t, "PyJWT", "a tampered "+string(alg)+" token", c.ask(tamper(tok)), "InvalidSignatureError")
	}
	hs := k.run("gen", "bearer-jwt", "--role", "authenticated", "--aud", "authenticated", "--kid", "py-hs")
	wantRejected(t, "PyJWT", "an HS256 token (no key published for it)", c.ask(hs), "no key with kid")
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitJWKS waits until the JWKS at url holds (or no longer holds) kid:
// keyctl serve takes a changed file in within milliseconds (inotify and a
// short settle), and an operator publishes before tokens are used.
func waitJWKS(t *testing.T, url, kid string, present bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get(url); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), `"kid":"`+kid+`"`) == present {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not take the change to %s in within 10s", kid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
