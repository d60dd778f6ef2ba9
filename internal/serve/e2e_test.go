package serve

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyctl/keyctl/internal/keysfile"
	"github.com/keyctl/keyctl/pkg/jwk"
)

// listen serves h through NewServer on a real 127.0.0.1 listener (TLS when
// tlsConf is set) and returns the base URL.
func listen(t *testing.T, h *Handler, tlsConf *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	srv := NewServer(h, nil, nil)
	if tlsConf != nil {
		scheme = "https"
		srv.TLSConfig = tlsConf
		ln = tls.NewListener(ln, tlsConf)
	}
	base := scheme + "://" + ln.Addr().String()
	h.SetBaseURL(base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, ln, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base
}

// signES256 mints a token with go-jose, independently of keyctl's minter.
func signES256(t *testing.T, k *jwk.Key, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k.Material, KeyID: k.KID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestDiscoveryWithGoOIDC: go-oidc's NewProvider finds the keys through
// either discovery document and its verifier accepts a token of the
// announced issuer, signed by a published key, and refuses another issuer.
func TestDiscoveryWithGoOIDC(t *testing.T) {
	k := genKey(t, jwk.ES256)
	f := newFixture(t, k, genKey(t, jwk.RS256))
	base := listen(t, f.h, nil)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	for _, iss := range []string{base, base + "/auth/v1"} {
		p, err := oidc.NewProvider(ctx, iss)
		if err != nil {
			t.Fatalf("NewProvider(%s): %v", iss, err)
		}
		var doc Discovery
		if err := p.Claims(&doc); err != nil {
			t.Fatal(err)
		}
		if doc.JWKSURI != iss+JWKSPath || strings.Join(doc.Algs, ",") != "ES256,RS256" {
			t.Errorf("%s: document %+v", iss, doc)
		}
		v := p.Verifier(&oidc.Config{ClientID: "authenticated"})
		tok := signES256(t, k, map[string]any{"iss": iss, "aud": "authenticated", "sub": "user-1", "exp": exp})
		idt, err := v.Verify(ctx, tok)
		if err != nil {
			t.Fatalf("%s: verify: %v", iss, err)
		}
		if idt.Subject != "user-1" {
			t.Errorf("subject %q", idt.Subject)
		}
		other := signES256(t, k, map[string]any{"iss": "https://elsewhere", "aud": "authenticated", "sub": "x", "exp": exp})
		if _, err := v.Verify(ctx, other); err == nil {
			t.Errorf("%s: a token of another issuer verified", iss)
		}
	}
}

// TestDiscoveryIssuerFlag: with an issuer set, both documents announce it
// and point at its JWKS.
func TestDiscoveryIssuerFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	if err := keysfile.Write(path, []*jwk.Key{genKey(t, jwk.EdDSA)}); err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Path: path, Load: loadKeysFile, Source: "keys file", Issuer: "https://auth.example.com/auth/v1"})
	if err != nil {
		t.Fatal(err)
	}
	base := listen(t, h, nil)
	for _, p := range []string{DiscoveryPath, SupabaseDiscoveryPath} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if doc["issuer"] != "https://auth.example.com/auth/v1" || doc["jwks_uri"] != "https://auth.example.com/auth/v1/.well-known/jwks.json" {
			t.Errorf("%s: %v", p, doc)
		}
		if algs, _ := doc["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "EdDSA" {
			t.Errorf("%s: algs %v", p, doc["id_token_signing_alg_values_supported"])
		}
		for _, absent := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint"} {
			if _, ok := doc[absent]; ok {
				t.Errorf("%s announces %s, which keyctl serve does not have", p, absent)
			}
		}
	}
}

// scrape fetches /metrics and returns its samples by name{labels} and the
// types its # TYPE lines give, by metric name.
func scrape(t *testing.T, url string) (samples map[string]float64, types map[string]string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	samples, types = map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			types[name] = typ
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("not a Prometheus sample line: %q", line)
		}
		samples[line[:i]] = v
	}
	return samples, types
}

func TestMetrics(t *testing.T) {
	a, b := genKey(t, jwk.ES256), genKey(t, jwk.ES256)
	f := newFixture(t, a)
	base := listen(t, f.h, nil)
	// Off unless enabled.
	if resp, err := http.Get(base + MetricsPath); err != nil || resp.StatusCode != 404 {
		t.Fatalf("metrics before EnableMetrics: %v %v", resp, err)
	}
	f.h.EnableMetrics()
	get := func(path string, hdr ...string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if len(hdr) == 2 {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	for range 3 {
		get(JWKSPath)
	}
	get(SupabaseJWKSPath, "If-None-Match", f.h.Current().ETag)
	get("/wp-login.php")
	os.WriteFile(f.path, []byte("{broken"), 0o600)
	f.h.Reload()
	if err := keysfile.Write(f.path, []*jwk.Key{a, b}); err != nil {
		t.Fatal(err)
	}
	f.h.Reload()
	m, types := scrape(t, base+MetricsPath)
	want := map[string]float64{
		`keyctl_serve_requests_total{path="/.well-known/jwks.json",status="200"}`:         3,
		`keyctl_serve_requests_total{path="/auth/v1/.well-known/jwks.json",status="304"}`: 1,
		`keyctl_serve_requests_total{path="other",status="404"}`:                          1,
		`keyctl_serve_reloads_total`:                                                      2,
		`keyctl_serve_reload_errors_total`:                                                1,
		`keyctl_serve_published_keys`:                                                     2,
		`keyctl_serve_ready`:                                                              1,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if age, ok := m["keyctl_serve_last_good_load_age_seconds"]; !ok || age < 0 || age > 60 {
		t.Errorf("last good load age %v (present %v)", age, ok)
	}
	if _, ok := m["go_goroutines"]; !ok {
		t.Error("no go_goroutines")
	}
	// The types docs/serve.md gives, as # TYPE lines tell a scraper.
	for name, typ := range map[string]string{
		"keyctl_serve_requests_total":             "counter",
		"keyctl_serve_reloads_total":              "counter",
		"keyctl_serve_reload_errors_total":        "counter",
		"keyctl_serve_last_good_load_age_seconds": "gauge",
		"keyctl_serve_published_keys":             "gauge",
		"keyctl_serve_ready":                      "gauge",
		"go_goroutines":                           "gauge",
	} {
		if got := types[name]; got != typ {
			t.Errorf("# TYPE %s: %q, want %q", name, got, typ)
		}
	}
}

// testCA is a throw-away certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyctl test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf writes a 127.0.0.1 certificate with serial to dir/cert.pem and its
// key to dir/key.pem (mode 0600), replacing them by rename.
func (ca *testCA) leaf(t *testing.T, dir string, serial int64) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, block := range map[string]*pem.Block{certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "PRIVATE KEY", Bytes: kder}} {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	return certPath, keyPath
}

func (ca *testCA) client(maxVersion uint16) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}, DisableKeepAlives: true}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestTLS: HTTPS with a certificate from a private CA, TLS 1.2 at least,
// the pair re-read when the files change, and a key file others can read
// refused.
func TestTLS(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	certPath, keyPath := ca.leaf(t, dir, 100)
	var reloads []error
	certs, err := NewCertReloader(certPath, keyPath, func(err error) { reloads = append(reloads, err) })
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	certs.now = func() time.Time { return clock }
	f := newFixture(t, genKey(t, jwk.ES256))
	base := listen(t, f.h, certs.TLSConfig())
	if !strings.HasPrefix(base, "https://") {
		t.Fatal(base)
	}
	serial := func() int64 {
		t.Helper()
		resp, err := ca.client(0).Get(base + JWKSPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if got := kids(t, string(b)); resp.StatusCode != 200 || len(got) != 1 {
			t.Fatalf("over TLS: %s %v", resp.Status, got)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 100 {
		t.Fatalf("serial %d, want 100", s)
	}
	// TLS 1.1 is refused.
	if _, err := ca.client(tls.VersionTLS11).Get(base + JWKSPath); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	// Plain HTTP to the HTTPS port is not served the JWKS.
	if resp, err := http.Get(strings.Replace(base, "https://", "http://", 1) + JWKSPath); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP served the JWKS")
	}
	// Rotation: the new pair is served once the check interval passed.
	ca.leaf(t, dir, 200)
	if s := serial(); s != 100 {
		t.Errorf("within the check interval: serial %d, want the cached 100", s)
	}
	clock = clock.Add(certCheckInterval)
	if s := serial(); s != 200 {
		t.Errorf("after rotation: serial %d, want 200", s)
	}
	if len(reloads) != 1 || reloads[0] != nil {
		t.Errorf("reload reports %v", reloads)
	}
	// A broken pair keeps the last good one.
	os.WriteFile(keyPath, []byte("not a key"), 0o600)
	clock = clock.Add(certCheckInterval)
	if s := serial(); s != 200 {
		t.Errorf("after a broken key: serial %d, want the last good 200", s)
	}
	if len(reloads) != 2 || reloads[1] == nil {
		t.Errorf("reload reports %v", reloads)
	}
	// A key others can read is refused, like a keyring.
	certPath, keyPath = ca.leaf(t, dir, 300)
	os.Chmod(keyPath, 0o644)
	_, err = NewCertReloader(certPath, keyPath, nil)
	var me *KeyFileModeError
	if !errors.As(err, &me) || me.Hint() != "chmod 600 "+keyPath {
		t.Errorf("0644 key: %v", err)
	}
	os.Chmod(keyPath, 0o640)
	if _, err := NewCertReloader(certPath, keyPath, nil); !errors.As(err, &me) {
		t.Errorf("0640 key: %v", err)
	}
}
