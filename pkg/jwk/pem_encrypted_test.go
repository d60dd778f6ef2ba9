package jwk

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func pass(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

// TestEncryptedPKCS8OpenSSL decrypts what openssl pkcs8 -topk8 writes, by
// default (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) and with other PBKDF2
// PRFs and AES key sizes, and refuses the other schemes by name.
func TestEncryptedPKCS8OpenSSL(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "plain.pem")
	openssl(t, dir, "genpkey", "-algorithm", "ed25519", "-out", "ed.pem")
	want, err := ParsePEM(readFile(t, dir, "plain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	read := []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"aes-128-cbc hmacWithSHA512", []string{"-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA512"}},
		{"aes-192-cbc hmacWithSHA1", []string{"-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA1"}},
		{"aes-256-cbc hmacWithSHA384 iter 1000", []string{"-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA384", "-iter", "1000"}},
	}
	for _, c := range read {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"pkcs8", "-topk8", "-in", "plain.pem", "-passout", "pass:s3cret pass"}, c.args...)
			data := openssl(t, dir, args...)
			if !IsEncryptedPEM(data) {
				t.Fatal("IsEncryptedPEM = false")
			}
			_, err := ParsePEM(data)
			if !errors.Is(err, ErrEncryptedPEM) {
				t.Fatalf("without a passphrase: %v, want ErrEncryptedPEM", err)
			}
			if !strings.Contains(err.Error(), "openssl pkcs8 -in KEY.pem -out plain.pem") {
				t.Fatalf("no decrypt command in %v", err)
			}
			k, err := ParsePEMWithPassphrase(data, pass("s3cret pass"))
			if err != nil {
				t.Fatalf("with the passphrase: %v", err)
			}
			if k.Alg != ES256 || !k.Material.(*ecdsa.PrivateKey).Equal(want.Material) {
				t.Fatal("decrypted a different key")
			}
			if _, err := ParsePEMWithPassphrase(data, pass("wrong")); !errors.Is(err, ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: %v, want ErrWrongPassphrase", err)
			}
		})
	}
	t.Run("genpkey ed25519 -aes256", func(t *testing.T) {
		data := openssl(t, dir, "pkey", "-in", "ed.pem", "-aes256", "-passout", "pass:pw")
		k, err := ParsePEMWithPassphrase(data, pass("pw"))
		if err != nil || k.Alg != EdDSA {
			t.Fatalf("got %v, %v", k, err)
		}
	})
	refuse := []struct {
		name string
		args []string
		want string
	}{
		{"PBES1", []string{"-v1", "PBE-MD5-DES"}, "PBES1"},
		{"PKCS#12 PBE", []string{"-v1", "PBE-SHA1-3DES"}, "PKCS#12"},
		{"3DES", []string{"-v2", "des3"}, "3DES-CBC"},
		{"scrypt", []string{"-scrypt"}, "scrypt"},
	}
	for _, c := range refuse {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"pkcs8", "-topk8", "-in", "plain.pem", "-passout", "pass:pw"}, c.args...)
			data := opensslMaybe(t, dir, args...)
			if data == nil {
				t.Skip("this openssl does not write " + c.name)
			}
			called := false
			_, err := ParsePEMWithPassphrase(data, func() ([]byte, error) { called = true; return []byte("pw"), nil })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal naming %s", err, c.want)
			}
			if called {
				t.Error("asked for a passphrase for a scheme it refuses")
			}
			noGoNames(t, c.name, err)
		})
	}
}

// opensslMaybe runs openssl and returns nil when it fails (an algorithm a
// build leaves out, such as DES in openssl 3 without the legacy provider).
func opensslMaybe(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	return out
}

// TestEncryptedPKCS8Bounds: an iteration count above the limit is refused
// before any work, and malformed parameters name no Go API.
func TestEncryptedPKCS8Bounds(t *testing.T) {
	algID := func(oid asn1.ObjectIdentifier, params any) asn1.RawValue {
		var p asn1.RawValue
		if params != nil {
			p = raw(mustMarshal(params))
		}
		elems := []asn1.RawValue{raw(mustMarshal(oid))}
		if p.FullBytes != nil {
			elems = append(elems, p)
		}
		return raw(derSequence(elems))
	}
	build := func(iter int64, prf asn1.ObjectIdentifier) []byte {
		kdf := algID(oidPBKDF2, asn1.RawValue{FullBytes: derSequence([]asn1.RawValue{
			raw(mustMarshal([]byte("saltsalt"))), raw(mustMarshal(iter)), algID(prf, asn1.NullRawValue),
		})})
		enc := algID(aesCBC[2].oid, make([]byte, 16))
		scheme := algID(oidPBES2, asn1.RawValue{FullBytes: derSequence([]asn1.RawValue{kdf, enc})})
		der := derSequence([]asn1.RawValue{scheme, raw(mustMarshal(make([]byte, 32)))})
		return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der})
	}
	sha256PRF := prfs[2].oid
	called := false
	ask := func() ([]byte, error) { called = true; return []byte("pw"), nil }
	_, err := ParsePEMWithPassphrase(build(MaxPBKDF2Iterations+1, sha256PRF), ask)
	if err == nil || !strings.Contains(err.Error(), "10000000") || called {
		t.Fatalf("iterations above the limit: %v (asked: %v)", err, called)
	}
	for _, iter := range []int64{0, -1} {
		if _, err := ParsePEMWithPassphrase(build(iter, sha256PRF), ask); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("iterations %d: %v", iter, err)
		}
	}
	if _, err := ParsePEMWithPassphrase(build(1000, asn1.ObjectIdentifier{1, 2, 3}), ask); err == nil || !strings.Contains(err.Error(), "PRF") {
		t.Fatalf("unknown PRF: %v", err)
	}
	// A well-formed file with the right shape but junk ciphertext: wrong passphrase.
	if _, err := ParsePEMWithPassphrase(build(1000, sha256PRF), ask); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("junk ciphertext: %v, want ErrWrongPassphrase", err)
	}
	// The passphrase callback's error is passed on.
	boom := errors.New("no terminal")
	if _, err := ParsePEMWithPassphrase(build(1000, sha256PRF), func() ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error: %v", err)
	}
}
