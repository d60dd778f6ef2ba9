package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPrivateCA: an https JWKS whose certificate a private CA issued is
// refused with the system's roots and fetched with that CA (verify --ca).
func TestPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","use":"sig","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{}).Get(context.Background(), srv.URL); err == nil {
		t.Fatal("a certificate of an unknown CA was accepted")
	}
	pool, _, err := LoadCA(caPath)
	if err != nil {
		t.Fatal(err)
	}
	set, err := New(Options{RootCAs: pool}).Get(context.Background(), srv.URL)
	if err != nil {
		t.Fatalf("with --ca: %v", err)
	}
	if set == nil {
		t.Fatal("no set")
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("nothing here"), 0o644)
	if _, _, err := LoadCA(bad); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
}

// A set fetched under a private CA is cached apart: a later run that trusts
// only the system's CAs, or another CA, does not get it from the cache.
func TestCacheKeptApartByTrust(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","alg":"EdDSA","use":"sig","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	caPath := filepath.Join(dir, "ca.pem")
	os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	// Another CA: a throw-away self-signed certificate (httptest's servers
	// all share one).
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "throwaway other CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(dir, "other.pem")
	os.WriteFile(otherPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)

	pool, id, err := LoadCA(caPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{CacheDir: cache, TTL: time.Hour, RootCAs: pool, RootCAsID: id}).Get(context.Background(), srv.URL); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	if _, err := New(Options{CacheDir: cache, TTL: time.Hour}).Get(context.Background(), srv.URL); err == nil {
		t.Fatal("the system's trust got the set a private CA vouched for, from the cache")
	}
	opool, oid, _ := LoadCA(otherPath)
	if _, err := New(Options{CacheDir: cache, TTL: time.Hour, RootCAs: opool, RootCAsID: oid}).Get(context.Background(), srv.URL); err == nil {
		t.Fatal("another CA's trust got the set from the cache")
	}
	set, err := New(Options{CacheDir: cache, TTL: time.Hour, RootCAs: pool, RootCAsID: id}).Get(context.Background(), srv.URL)
	if err != nil || !set.FromCache {
		t.Fatalf("the same CA again: from cache %v, %v", set != nil && set.FromCache, err)
	}
}
