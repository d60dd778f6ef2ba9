package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl/keyctl/internal/jwks"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// Custom script commands for the verify_* and decode_* scripts: forge
// builds the malicious tokens in Go, jwksof writes a JWKS file, jwksserver
// runs a loopback JWKS server that counts fetches, and jwkscache moves a
// cached JWKS back in time so cache expiry and the refetch rate limit are
// tested without waiting.
func init() {
	scriptCmds["forge"] = cmdForge
	scriptCmds["jwksof"] = cmdJWKSOf
	scriptCmds["jwksserver"] = cmdJWKSServer
	scriptCmds["jwkscache"] = cmdJWKSCache
	scriptCmds["exits"] = cmdExits
	scriptSetups = append(scriptSetups, func(env *testscript.Env) error {
		env.Values[jwksServerKey{}] = &jwksServerState{}
		return nil
	})
}

var b64url = base64.RawURLEncoding

// forgeNow replaces @now, @now+N and @now-N in claims with Unix seconds.
var forgeNow = regexp.MustCompile(`@now([+-][0-9]+)?`)

// forge [flags]: print a compact token on stdout (and in $NAME with -env).
//
//	-key FILE        key to sign with (private JWK or PEM); its alg and kid
//	                 fill the default header
//	-alg ALG         header alg (default: the key's)
//	-kid KID         header kid (default: the key's); -nokid leaves it out
//	-header JSON     the whole header, verbatim
//	-header-file FILE  the same from a file, trailing newline dropped
//	-hmember NAME=JSON  add a header member (repeatable)
//	-hfile NAME=FILE    add a header member whose JSON value is FILE's
//	                 contents (an attacker's public JWK, say)
//	-claims JSON     the whole claims, verbatim; @now, @now+N, @now-N are
//	                 replaced by Unix seconds (default: exp @now+600, iat
//	                 @now, role authenticated, sub user-1)
//	-claims-file FILE  the same from a file (raw bytes a script cannot
//	                 spell, such as a C1 control), trailing newline dropped
//	-pad N           add a claim of N bytes (oversize tokens)
//	-sig MODE        how to sign: key (default), der (ASN.1 ECDSA), zero-r,
//	                 zero-s, none (empty), hmac:FILE (HMAC-SHA256 keyed with
//	                 FILE's bytes, e.g. a public key), random:N,
//	                 hex:HEX (exactly these bytes)
//	-mangle MODE     after signing: pad (signature with "=" padding),
//	                 std (standard base64 '+' '/'), straybits, space,
//	                 newline, lead-space, segments2, segments4, segments5
//	-append FILE     also append the token and a newline to FILE
func cmdForge(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! forge")
	}
	fs := flag.NewFlagSet("forge", flag.ContinueOnError)
	keyFile := fs.String("key", "", "")
	alg := fs.String("alg", "", "")
	kid := fs.String("kid", "", "")
	noKID := fs.Bool("nokid", false, "")
	header := fs.String("header", "", "")
	claims := fs.String("claims", `{"exp":@now+600,"iat":@now,"role":"authenticated","sub":"user-1"}`, "")
	claimsFile := fs.String("claims-file", "", "")
	headerFile := fs.String("header-file", "", "")
	pad := fs.Int("pad", 0, "")
	sigMode := fs.String("sig", "key", "")
	mangle := fs.String("mangle", "", "")
	envName := fs.String("env", "", "")
	appendTo := fs.String("append", "", "")
	var members []string
	fs.Func("hmember", "", func(v string) error { members = append(members, v); return nil })
	fs.Func("hfile", "", func(v string) error {
		name, file, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("-hfile NAME=FILE")
		}
		members = append(members, name+"="+strings.TrimSpace(ts.ReadFile(file)))
		return nil
	})
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		ts.Fatalf("usage: forge [-key FILE] [-alg A] [-kid K|-nokid] [-header JSON|-header-file FILE] [-claims JSON|-claims-file FILE] [-pad N] [-sig MODE] [-mangle MODE] [-env NAME] (%v)", err)
	}
	var key *jwk.Key
	if *keyFile != "" {
		keys, err := jwk.ParseAny([]byte(ts.ReadFile(*keyFile)))
		ts.Check(err)
		key = keys[0]
	}
	if *headerFile != "" {
		*header = strings.TrimSuffix(ts.ReadFile(*headerFile), "\n")
	}
	if *claimsFile != "" {
		*claims = strings.TrimSuffix(ts.ReadFile(*claimsFile), "\n")
	}
	now := time.Now().Unix()
	cl := forgeNow.ReplaceAllStringFunc(*claims, func(m string) string {
		n := now
		if len(m) > 4 {
			d, _ := strconv.ParseInt(m[4:], 10, 64)
			n += d
		}
		return strconv.FormatInt(n, 10)
	})
	if *pad > 0 {
		cl = strings.TrimSuffix(cl, "}") + `,"pad":"` + strings.Repeat("x", *pad) + `"}`
	}
	hdr := *header
	if hdr == "" {
		h := map[string]json.RawMessage{"typ": jsonString("JWT")}
		if key != nil {
			h["alg"] = jsonString(string(key.Alg))
			if key.KID != "" {
				h["kid"] = jsonString(key.KID)
			}
		}
		if *alg != "" {
			h["alg"] = jsonString(*alg)
		}
		if *kid != "" {
			h["kid"] = jsonString(*kid)
		}
		if *noKID {
			delete(h, "kid")
		}
		for _, m := range members {
			name, val, ok := strings.Cut(m, "=")
			if !ok || !json.Valid([]byte(val)) {
				ts.Fatalf("forge: -hmember %q is not NAME=JSON", m)
			}
			h[name] = json.RawMessage(val)
		}
		b, err := json.Marshal(h)
		ts.Check(err)
		hdr = string(b)
	}
	sign := func() string {
		in := b64url.EncodeToString([]byte(hdr)) + "." + b64url.EncodeToString([]byte(cl))
		return in + "." + b64url.EncodeToString(forgeSignature(ts, key, *sigMode, []byte(in)))
	}
	tok := sign()
	// Encoding mangles need a signature with '-' or '_' in it; ECDSA
	// signatures are random, so sign again until one has.
	for i := 0; *mangle == "std" && !strings.ContainsAny(tok, "-_") && i < 100; i++ {
		tok = sign()
	}
	tok = forgeMangle(ts, tok, *mangle)
	fmt.Fprintln(ts.Stdout(), tok)
	if *envName != "" {
		ts.Setenv(*envName, tok)
	}
	if *appendTo != "" {
		f, err := os.OpenFile(ts.MkAbs(*appendTo), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		ts.Check(err)
		_, err = fmt.Fprintln(f, tok)
		ts.Check(err)
		ts.Check(f.Close())
	}
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func forgeSignature(ts *testscript.TestScript, key *jwk.Key, mode string, in []byte) []byte {
	sum := sha256.Sum256(in)
	ecKey := func() *ecdsa.PrivateKey {
		k, ok := key.Material.(*ecdsa.PrivateKey)
		if !ok {
			ts.Fatalf("-sig %s needs a private EC key", mode)
		}
		return k
	}
	rawEC := func() []byte {
		r, s, err := ecdsa.Sign(rand.Reader, ecKey(), sum[:])
		ts.Check(err)
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	switch {
	case mode == "none":
		return nil
	case mode == "der":
		sig, err := ecdsa.SignASN1(rand.Reader, ecKey(), sum[:])
		ts.Check(err)
		return sig
	case mode == "zero-r":
		sig := rawEC()
		clear(sig[:32])
		return sig
	case mode == "zero-s":
		sig := rawEC()
		clear(sig[32:])
		return sig
	case strings.HasPrefix(mode, "hmac:"):
		mac := hmac.New(sha256.New, []byte(ts.ReadFile(strings.TrimPrefix(mode, "hmac:"))))
		mac.Write(in)
		return mac.Sum(nil)
	case strings.HasPrefix(mode, "hex:"):
		b, err := hex.DecodeString(strings.TrimPrefix(mode, "hex:"))
		ts.Check(err)
		return b
	case strings.HasPrefix(mode, "random:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(mode, "random:"))
		b := make([]byte, n)
		rand.Read(b)
		return b
	case mode != "key":
		ts.Fatalf("forge: unknown -sig %q", mode)
	}
	if key == nil {
		ts.Fatalf("forge: -sig key needs -key")
	}
	switch m := key.Material.(type) {
	case *ecdsa.PrivateKey:
		return rawEC()
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(nil, m, crypto.SHA256, sum[:])
		ts.Check(err)
		return sig
	case ed25519.PrivateKey:
		return ed25519.Sign(m, in)
	case []byte:
		mac := hmac.New(sha256.New, m)
		mac.Write(in)
		return mac.Sum(nil)
	}
	ts.Fatalf("forge: %s holds no private key", key.KID)
	return nil
}

func forgeMangle(ts *testscript.TestScript, tok, mode string) string {
	p := strings.Split(tok, ".")
	join := func() string { return strings.Join(p, ".") }
	switch mode {
	case "":
		return tok
	case "pad":
		padded := p[2] + strings.Repeat("=", (4-len(p[2])%4)%4)
		if padded == p[2] {
			ts.Fatalf("forge: the signature needs no padding")
		}
		p[2] = padded
		return join()
	case "std":
		out := strings.NewReplacer("-", "+", "_", "/").Replace(tok)
		if out == tok {
			ts.Fatalf("forge: no '-' or '_' to turn into '+' or '/'")
		}
		return out
	case "straybits":
		last := p[2][len(p[2])-1]
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, last)
		if len(p[2])%4 == 0 || i&1 != 0 {
			ts.Fatalf("forge: the signature has no unused bits to set")
		}
		p[2] = p[2][:len(p[2])-1] + string(alphabet[i|1])
		return join()
	case "space":
		p[1] = p[1][:4] + " " + p[1][4:]
		return join()
	case "newline":
		p[1] = p[1][:4] + "\n" + p[1][4:]
		return join()
	case "lead-space":
		return " " + tok
	case "segments2":
		return p[0] + "." + p[1]
	case "segments4":
		return tok + ".e30"
	case "segments5":
		return tok + ".e30.e30"
	}
	ts.Fatalf("forge: unknown -mangle %q", mode)
	return ""
}

// jwksof [-private|-single|-pem] OUT KEYFILE...: write a JWKS of the
// keys' public forms (with -private, the keys as they are: secrets and
// private members too; with -single, the first key's public JWK alone;
// with -pem, its PKIX public key PEM). A FILE named *.entry goes into the
// set verbatim.
func cmdJWKSOf(ts *testscript.TestScript, neg bool, args []string) {
	mode := ""
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	private := mode == "-private"
	if neg || len(args) < 2 {
		ts.Fatalf("usage: jwksof [-private|-single|-pem] OUT KEYFILE...")
	}
	if mode == "-single" || mode == "-pem" {
		keys, err := jwk.ParseAny([]byte(ts.ReadFile(args[1])))
		ts.Check(err)
		pub, err := keys[0].Public()
		ts.Check(err)
		var out []byte
		if mode == "-pem" {
			out, err = pub.MarshalPEM()
		} else {
			out, err = pub.MarshalJSON()
			out = append(out, '\n')
		}
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), out, 0o644))
		return
	}
	entries := []json.RawMessage{}
	for _, f := range args[1:] {
		if strings.HasSuffix(f, ".entry") { // verbatim, e.g. an unknown kty
			entries = append(entries, json.RawMessage(strings.TrimSpace(ts.ReadFile(f))))
			continue
		}
		keys, err := jwk.ParseAny([]byte(ts.ReadFile(f)))
		ts.Check(err)
		for _, k := range keys {
			if !private {
				if k, err = k.Public(); err != nil {
					ts.Fatalf("%s: %v", f, err)
				}
			}
			b, err := k.MarshalJSON()
			ts.Check(err)
			entries = append(entries, b)
		}
	}
	b, err := json.Marshal(map[string]any{"keys": entries})
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), append(b, '\n'), 0o644))
}

type jwksServerKey struct{}

type jwksServerState struct {
	srv *jwksTestServer
}

// jwksTestServer serves a JWKS file from the script's work directory,
// re-read on every request, with an ETag, 304 on If-None-Match and a
// settable Cache-Control, and counts what it answered.
type jwksTestServer struct {
	*httptest.Server
	mu           sync.Mutex
	file         string
	cacheControl string
	etag         bool
	status       int
	extra        string // bytes sent after the body, past its Content-Length
	full, cond   int
}

func (s *jwksTestServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != http.StatusOK {
		s.full++
		w.WriteHeader(s.status)
		return
	}
	body, err := os.ReadFile(s.file)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	tag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if s.cacheControl != "" {
		w.Header().Set("Cache-Control", s.cacheControl)
	}
	if s.etag {
		w.Header().Set("ETag", tag)
		if r.Header.Get("If-None-Match") == tag {
			s.cond++
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	s.full++
	w.Header().Set("Content-Type", "application/json")
	if s.extra != "" {
		// A broken server: the declared body, then more bytes in the
		// same write, on a connection the client would keep for reuse.
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s%s", len(body), body, s.extra)
		buf.Flush()
		time.Sleep(200 * time.Millisecond) // leave the connection open while the client goes on
		return
	}
	w.Write(body)
}

// jwksserver start [-max-age N] [-no-etag] FILE: serve FILE on 127.0.0.1
// and set $JWKS_URL.
// jwksserver set [-max-age N|-no-max-age] [-status CODE] [-file FILE] [-extra BYTES]
// (-extra: send BYTES after the body, beyond its Content-Length)
// jwksserver hits FULL NOTMODIFIED: the server answered FULL requests with
// a body (or an error status) and NOTMODIFIED with 304.
// jwksserver stop: close it, so fetches are refused.
func cmdJWKSServer(ts *testscript.TestScript, neg bool, args []string) {
	st := ts.Value(jwksServerKey{}).(*jwksServerState)
	if len(args) == 0 {
		ts.Fatalf("usage: jwksserver start|set|hits|stop ...")
	}
	if neg && args[0] != "hits" {
		ts.Fatalf("unsupported: ! jwksserver %s", args[0])
	}
	fs := flag.NewFlagSet("jwksserver", flag.ContinueOnError)
	maxAge := fs.Int("max-age", -1, "")
	noMaxAge := fs.Bool("no-max-age", false, "")
	noETag := fs.Bool("no-etag", false, "")
	status := fs.Int("status", 0, "")
	file := fs.String("file", "", "")
	extra := fs.String("extra", "", "")
	ts.Check(fs.Parse(args[1:]))
	configure := func(s *jwksTestServer) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if *maxAge >= 0 {
			s.cacheControl = fmt.Sprintf("public, max-age=%d", *maxAge)
		}
		if *noMaxAge {
			s.cacheControl = ""
		}
		if *status != 0 {
			s.status = *status
		}
		if *file != "" {
			s.file = ts.MkAbs(*file)
		}
		if *extra != "" {
			s.extra = *extra
		}
	}
	switch args[0] {
	case "start":
		if st.srv != nil || fs.NArg() != 1 {
			ts.Fatalf("usage: jwksserver start [-max-age N] [-no-etag] FILE (once per script)")
		}
		s := &jwksTestServer{file: ts.MkAbs(fs.Arg(0)), etag: !*noETag, status: http.StatusOK}
		configure(s)
		s.Server = httptest.NewServer(s)
		st.srv = s
		ts.Defer(s.Close)
		ts.Setenv("JWKS_URL", s.URL+"/auth/v1/.well-known/jwks.json")
	case "set":
		if st.srv == nil {
			ts.Fatalf("no jwksserver")
		}
		configure(st.srv)
	case "hits":
		if st.srv == nil || fs.NArg() != 2 {
			ts.Fatalf("usage: jwksserver hits FULL NOTMODIFIED")
		}
		st.srv.mu.Lock()
		full, cond := st.srv.full, st.srv.cond
		st.srv.mu.Unlock()
		want := fmt.Sprintf("%s %s", fs.Arg(0), fs.Arg(1))
		got := fmt.Sprintf("%d %d", full, cond)
		if (got == want) == neg {
			ts.Fatalf("server answered %d full and %d not-modified requests, want %s%s", full, cond, map[bool]string{true: "not "}[neg], want)
		}
	case "stop":
		if st.srv == nil {
			ts.Fatalf("no jwksserver")
		}
		st.srv.Close()
	default:
		ts.Fatalf("jwksserver: unknown subcommand %q", args[0])
	}
}

// jwkscache age URL DURATION: move the cached entry of URL back in time
// by DURATION, as if that long had passed since it was fetched.
// jwkscache exists URL: the URL has a cache entry with a body.
func cmdJWKSCache(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: jwkscache age URL DURATION | exists URL")
	}
	dir := filepath.Join(ts.Getenv("XDG_CACHE_HOME"), "keyctl", "jwks")
	path := jwks.CachePath(dir, args[1])
	data, err := os.ReadFile(path)
	switch args[0] {
	case "exists":
		ok := err == nil && strings.Contains(string(data), `"body"`)
		if ok == neg {
			ts.Fatalf("cache entry for %s: exists=%v (%v)", args[1], ok, err)
		}
		return
	case "age":
		if neg || len(args) != 3 {
			ts.Fatalf("usage: jwkscache age URL DURATION")
		}
	default:
		ts.Fatalf("jwkscache: unknown subcommand %q", args[0])
	}
	ts.Check(err)
	d, err := time.ParseDuration(args[2])
	ts.Check(err)
	e, err := jwks.ParseEntry(data)
	ts.Check(err)
	back := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(-d)
	}
	e.FetchedAt, e.FreshUntil, e.LastAttempt = back(e.FetchedAt), back(e.FreshUntil), back(e.LastAttempt)
	out, err := json.Marshal(e)
	ts.Check(err)
	ts.Check(os.WriteFile(path, out, 0o600))
}

// exits CODE PROG ARGS...: run PROG (keyctl) like exec and require exit
// code CODE, so a script can tell a rejected token (3) from a token that
// could not be checked (1) and a usage error (2). Its stdout and stderr are
// kept for the stdout and stderr commands that follow.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}
