package main

// Interop with Go JWT libraries, pinned in go.mod (test-only: keyctl's
// binary links none of them): golang-jwt/jwt v5 with MicahParks/keyfunc
// v3, lestrrat-go/jwx v3 and coreos/go-oidc v3. They verify keyctl's tokens
// from a real `keyctl serve` JWKS URL, and keyctl verifies the tokens they
// sign, for ES256, RS256 and EdDSA. Being Go modules they are always there:
// these tests never skip.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/coreos/go-oidc/v3/oidc"
	gojwt "github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwa"
	jwxjwk "github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// interopAlgs are the asymmetric algorithms keyctl signs and publishes.
var interopAlgs = []jwk.Algorithm{jwk.ES256, jwk.RS256, jwk.EdDSA}

// servedKeys is a Supabase keys file with a key per asymmetric algorithm
// (and an HS256 secret, never published), served by keyctl serve.
type servedKeys struct {
	*keyctlEnv
	keys    string
	kids    map[jwk.Algorithm]string
	jwksURL string
}

func newServedKeys(t *testing.T) *servedKeys {
	t.Helper()
	k := newKeyctlEnv(t)
	keys, kids := k.keysFileWith("signing_keys.json", jwk.ES256, jwk.RS256, jwk.EdDSA, jwk.HS256)
	_, base := k.serve("--keys-file", keys)
	return &servedKeys{keyctlEnv: k, keys: keys, kids: kids, jwksURL: base + "/.well-known/jwks.json"}
}

// rotate adds a new in-use ES256 key to the served file, as `keyctl gen
// signing-key --append --in-use` does in another terminal, and returns a
// token it signed.
func (s *servedKeys) rotate(sub string) (token, kid string) {
	s.t.Helper()
	s.run("gen", "signing-key", "--keys-file", s.keys, "--append", "--in-use", "--algorithm", "ES256")
	all, err := keysfile.Read(s.keys)
	if err != nil {
		s.t.Fatal(err)
	}
	kid = all[keysfile.SigningIndex(all)].KID
	waitJWKS(s.t, s.jwksURL, kid, true)
	return s.mint(s.keys, kid, sub), kid
}

// checkVerifier runs the checks every library verifier gets: keyctl's
// ES256, RS256 and EdDSA tokens verify with their claims; tampered ones,
// the HS256 token (its secret is never published), an expired token and a
// token from a key that is not served are refused; a key rotated in while
// the verifier runs is found by its refetch on an unknown kid.
// wantSig is what the library's error says about a bad signature.
func checkVerifier(t *testing.T, who string, s *servedKeys, verify func(token string) clientResult, wantSig string) {
	t.Helper()
	for _, alg := range interopAlgs {
		sub := "user-" + string(alg)
		tok := s.mint(s.keys, s.kids[alg], sub)
		wantVerified(t, who, verify(tok), alg, s.kids[alg], sub)
		wantRejected(t, who, "a tampered "+string(alg)+" token", verify(tamper(tok)), wantSig)
	}
	if r := verify(s.mint(s.keys, s.kids[jwk.HS256], "hs")); r.OK {
		t.Errorf("%s accepted an HS256 token, whose secret is never published", who)
	}
	if r := verify(expiredToken(t, s.keys, s.kids[jwk.ES256])); r.OK || !strings.Contains(strings.ToLower(fmt.Sprint(r.Code)+" "+r.Error), "expired") {
		t.Errorf("%s: an expired token gave %+v, want an error saying expired", who, r)
	}
	// Rotation first: keyfunc refetches for an unknown kid at most once
	// in 5 minutes, and the token from a key not served is one too.
	tok, kid := s.rotate("after-rotation")
	wantVerified(t, who, verify(tok), jwk.ES256, kid, "after-rotation")
	otherKeys, otherKids := s.keysFileWith("other.json", jwk.ES256)
	if r := verify(s.mint(otherKeys, otherKids[jwk.ES256], "x")); r.OK {
		t.Errorf("%s accepted a token from a key that is not served", who)
	}
}

// goResult turns a Go library's answer into the interop scripts' form.
func goResult(header map[string]any, claims map[string]any, err error) clientResult {
	if err != nil {
		return clientResult{Error: err.Error()}
	}
	alg, _ := header["alg"].(string)
	kid, _ := header["kid"].(string)
	return clientResult{OK: true, Alg: alg, Kid: kid, Claims: claims}
}

// jsonClaims decodes a token's payload, which the library verified.
func jsonClaims(t *testing.T, payload []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("claims %q: %v", payload, err)
	}
	// aud as a one-element array and as a string mean the same.
	if aud, ok := m["aud"].([]any); ok && len(aud) == 1 {
		m["aud"] = aud[0]
	}
	return m
}

// unverifiedHeader decodes a token's header (for alg and kid).
func unverifiedHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	p := gojwt.NewParser()
	tok, _, err := p.ParseUnverified(token, gojwt.MapClaims{})
	if err != nil {
		return nil
	}
	return tok.Header
}

// TestInteropGolangJWTKeyfunc: golang-jwt/jwt v5's Parse with
// MicahParks/keyfunc v3 reading keyctl serve's JWKS URL.
func TestInteropGolangJWTKeyfunc(t *testing.T) {
	t.Parallel()
	s := newServedKeys(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{s.jwksURL})
	if err != nil {
		t.Fatalf("keyfunc on %s: %v", s.jwksURL, err)
	}
	verify := func(token string) clientResult {
		tok, err := gojwt.Parse(token, kf.Keyfunc,
			gojwt.WithValidMethods([]string{"ES256", "RS256", "EdDSA"}),
			gojwt.WithAudience("authenticated"), gojwt.WithExpirationRequired(), gojwt.WithIssuedAt())
		if err != nil {
			return clientResult{Error: err.Error()}
		}
		return goResult(tok.Header, map[string]any(tok.Claims.(gojwt.MapClaims)), nil)
	}
	checkVerifier(t, "golang-jwt+keyfunc", s, verify, gojwt.ErrTokenSignatureInvalid.Error())
}

// TestInteropJWXRemoteJWKS: lestrrat-go/jwx v3's jwt.Parse with the key
// set jwk.Fetch reads from keyctl serve (fetched per token, as a
// jwk.Cache would after a refresh).
func TestInteropJWXRemoteJWKS(t *testing.T) {
	t.Parallel()
	s := newServedKeys(t)
	verify := func(token string) clientResult {
		set, err := jwxjwk.Fetch(context.Background(), s.jwksURL)
		if err != nil {
			t.Fatalf("jwx jwk.Fetch %s: %v", s.jwksURL, err)
		}
		tok, err := jwxjwt.Parse([]byte(token), jwxjwt.WithKeySet(set), jwxjwt.WithAudience("authenticated"),
			jwxjwt.WithRequiredClaim("exp"))
		if err != nil {
			return clientResult{Error: err.Error()}
		}
		payload, err := json.Marshal(tok)
		if err != nil {
			t.Fatal(err)
		}
		return goResult(unverifiedHeader(t, token), jsonClaims(t, payload), nil)
	}
	checkVerifier(t, "jwx", s, verify, "could not verify message")
}

// TestInteropGoOIDCRemoteKeySet: coreos/go-oidc v3's RemoteKeySet on
// keyctl serve, behind its IDTokenVerifier with the audience as client ID
// (keyctl serve publishes no OpenID discovery document, so no NewProvider).
func TestInteropGoOIDCRemoteKeySet(t *testing.T) {
	t.Parallel()
	s := newServedKeys(t)
	ctx := context.Background()
	ks := oidc.NewRemoteKeySet(ctx, s.jwksURL)
	v := oidc.NewVerifier("", ks, &oidc.Config{ClientID: "authenticated", SkipIssuerCheck: true,
		SupportedSigningAlgs: []string{oidc.ES256, oidc.RS256, oidc.EdDSA}})
	verify := func(token string) clientResult {
		idt, err := v.Verify(ctx, token)
		if err != nil {
			return clientResult{Error: err.Error()}
		}
		var claims map[string]any
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if aud, ok := claims["aud"].([]any); ok && len(aud) == 1 {
			claims["aud"] = aud[0]
		}
		// The signature check alone, as a resource server uses it.
		if _, err := ks.VerifySignature(ctx, token); err != nil {
			t.Errorf("go-oidc VerifySignature: %v after Verify passed", err)
		}
		return goResult(unverifiedHeader(t, token), claims, nil)
	}
	checkVerifier(t, "go-oidc", s, verify, "failed to verify signature")
}

// libKey is a key pair a library generated, with the kid it signs under.
type libKey struct {
	alg  jwk.Algorithm
	kid  string
	priv crypto.Signer
}

// newLibKeys makes an ES256, an RS256 and an Ed25519 key with Go's crypto,
// as golang-jwt's and jwx's users do.
func newLibKeys(t *testing.T, prefix string) []libKey {
	t.Helper()
	var keys []libKey
	for _, alg := range interopAlgs {
		var priv crypto.Signer
		var err error
		switch alg {
		case jwk.ES256:
			priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case jwk.RS256:
			priv, err = rsa.GenerateKey(rand.Reader, 2048)
		case jwk.EdDSA:
			_, priv, err = ed25519.GenerateKey(rand.Reader)
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, libKey{alg: alg, kid: prefix + "-" + strings.ToLower(string(alg)), priv: priv})
	}
	return keys
}

// libClaims are the claims the libraries sign, Supabase-shaped.
func libClaims(sub string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"role": "authenticated", "sub": sub, "aud": "authenticated", "email": "dev@example.com",
		"iat": now, "exp": now + 600}
}

// keyctlVerify runs keyctl verify on token (from stdin) with args and
// returns the verified claims, stderr and the exit code.
func keyctlVerify(t *testing.T, k *keyctlEnv, token string, args ...string) (map[string]any, string, int) {
	t.Helper()
	out, errOut, code := k.exec(token+"\n", append(append([]string{"verify"}, args...), "-")...)
	var got map[string]any
	if code == 0 {
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("keyctl verify printed %q: %v", out, err)
		}
	} else if out != "" {
		t.Errorf("keyctl verify exit %d printed on stdout: %q", code, out)
	}
	return got, errOut, code
}

// wantKeyctlAccepts checks that keyctl verify accepts a library's token
// with its claims and refuses the same token tampered (exit 3).
func wantKeyctlAccepts(t *testing.T, k *keyctlEnv, who string, alg jwk.Algorithm, token, sub string, args ...string) {
	t.Helper()
	got, errOut, code := keyctlVerify(t, k, token, append([]string{"--aud", "authenticated"}, args...)...)
	if code != 0 {
		t.Errorf("keyctl verify %s of %s's %s token: exit %d\n%s", strings.Join(args, " "), who, alg, code, errOut)
	} else if got["sub"] != sub || got["role"] != "authenticated" || got["email"] != "dev@example.com" {
		t.Errorf("keyctl verify of %s's %s token: claims %v", who, alg, got)
	}
	if _, errOut, code := keyctlVerify(t, k, tamper(token), args...); code != 3 {
		t.Errorf("keyctl verify %s of a tampered %s %s token: exit %d, want 3\n%s", strings.Join(args, " "), who, alg, code, errOut)
	}
}

// TestInteropGolangJWTSignsKeyctlVerifies: tokens golang-jwt v5 signs with
// keys from Go's crypto verify with keyctl verify --key (the public key as
// PKIX PEM, as golang-jwt's users keep it) and against the keyring after
// keyctl keys import of the PKCS#8 private key; a key nobody imported is
// refused under an imported key's kid.
func TestInteropGolangJWTSignsKeyctlVerifies(t *testing.T) {
	t.Parallel()
	k := newKeyctlEnv(t)
	methods := map[jwk.Algorithm]gojwt.SigningMethod{jwk.ES256: gojwt.SigningMethodES256, jwk.RS256: gojwt.SigningMethodRS256, jwk.EdDSA: gojwt.SigningMethodEdDSA}
	sign := func(key libKey, sub string) string {
		tok := gojwt.NewWithClaims(methods[key.alg], gojwt.MapClaims(libClaims(sub)))
		tok.Header["kid"] = key.kid
		s, err := tok.SignedString(key.priv)
		if err != nil {
			t.Fatalf("golang-jwt %s: %v", key.alg, err)
		}
		return s
	}
	for _, key := range newLibKeys(t, "golang-jwt") {
		spki, err := x509.MarshalPKIXPublicKey(key.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		pubFile := writeFile(t, k.path(key.kid+".pub.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki})))
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key.priv)
		if err != nil {
			t.Fatal(err)
		}
		privFile := writeFile(t, k.path(key.kid+".pem"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
		k.run("keys", "import", "--kid", key.kid, privFile)

		sub := "user-" + key.kid
		tok := sign(key, sub)
		wantKeyctlAccepts(t, k, "golang-jwt", key.alg, tok, sub, "--key", pubFile)
		wantKeyctlAccepts(t, k, "golang-jwt", key.alg, tok, sub)
	}
	rogue := newLibKeys(t, "golang-jwt")[0]
	if _, errOut, code := keyctlVerify(t, k, sign(rogue, "mallory")); code != 3 {
		t.Errorf("a golang-jwt token from a key nobody imported: exit %d, want 3\n%s", code, errOut)
	}
}

// TestInteropJWXSignsKeyctlVerifies: jwx v3 as the issuer. Its keys
// (jwk.Import of Go keys, with kid and alg) sign tokens with jwt.Sign; the
// public set jwx writes (jwk.PublicSetOf) verifies them with keyctl verify
// --jwks, as a file and served over HTTP; tampered tokens and a key outside
// the set are refused.
func TestInteropJWXSignsKeyctlVerifies(t *testing.T) {
	t.Parallel()
	k := newKeyctlEnv(t)
	algs := map[jwk.Algorithm]jwa.SignatureAlgorithm{jwk.ES256: jwa.ES256(), jwk.RS256: jwa.RS256(), jwk.EdDSA: jwa.EdDSA()}
	private := jwxjwk.NewSet()
	signers := map[string]jwxjwk.Key{}
	sign := func(key jwxjwk.Key, alg jwk.Algorithm, sub string) string {
		tok := jwxjwt.New()
		for name, v := range libClaims(sub) {
			if name == "iat" || name == "exp" {
				v = time.Unix(v.(int64), 0)
			}
			if err := tok.Set(name, v); err != nil {
				t.Fatal(err)
			}
		}
		signed, err := jwxjwt.Sign(tok, jwxjwt.WithKey(algs[alg], key))
		if err != nil {
			t.Fatalf("jwx %s: %v", alg, err)
		}
		return string(signed)
	}
	jwxKey := func(lk libKey) jwxjwk.Key {
		key, err := jwxjwk.Import(lk.priv)
		if err != nil {
			t.Fatalf("jwx jwk.Import %s: %v", lk.alg, err)
		}
		if err := key.Set(jwxjwk.KeyIDKey, lk.kid); err != nil {
			t.Fatal(err)
		}
		if err := key.Set(jwxjwk.AlgorithmKey, algs[lk.alg]); err != nil {
			t.Fatal(err)
		}
		if err := key.Set(jwxjwk.KeyUsageKey, "sig"); err != nil {
			t.Fatal(err)
		}
		return key
	}
	libKeys := newLibKeys(t, "jwx")
	for _, lk := range libKeys {
		key := jwxKey(lk)
		signers[lk.kid] = key
		if err := private.AddKey(key); err != nil {
			t.Fatal(err)
		}
	}
	public, err := jwxjwk.PublicSetOf(private)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(public)
	if err != nil {
		t.Fatal(err)
	}
	jwksFile := writeFile(t, k.path("jwx-jwks.json"), string(doc))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	}))
	t.Cleanup(srv.Close)

	for _, lk := range libKeys {
		sub := "user-" + lk.kid
		tok := sign(signers[lk.kid], lk.alg, sub)
		wantKeyctlAccepts(t, k, "jwx", lk.alg, tok, sub, "--jwks", jwksFile)
		wantKeyctlAccepts(t, k, "jwx", lk.alg, tok, sub, "--jwks", srv.URL+"/jwks.json", "--no-cache")
	}
	rogue := jwxKey(newLibKeys(t, "jwx")[0])
	if _, errOut, code := keyctlVerify(t, k, sign(rogue, jwk.ES256, "mallory"), "--jwks", jwksFile); code != 3 {
		t.Errorf("a jwx token from a key outside the set: exit %d, want 3\n%s", code, errOut)
	}
}
