package jwks

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
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
	pool, err := LoadCA(caPath)
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
	if _, err := LoadCA(bad); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}
}
