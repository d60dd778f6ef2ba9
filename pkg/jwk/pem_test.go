package jwk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needOpenSSL skips a test without the openssl tool, except under CI=true,
// where it must be installed.
func needOpenSSL(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed; CI needs it for the PEM interop tests")
		}
		t.Skip("openssl is not installed (apt-get install openssl)")
	}
}

// openssl runs the openssl tool in dir and returns its stdout.
func openssl(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// relabel changes the type of every PEM block in data.
func relabel(t testing.TB, data []byte, from, to string) []byte {
	t.Helper()
	out := bytes.ReplaceAll(data, []byte("BEGIN "+from+"-----"), []byte("BEGIN "+to+"-----"))
	out = bytes.ReplaceAll(out, []byte("END "+from+"-----"), []byte("END "+to+"-----"))
	if bytes.Equal(out, data) {
		t.Fatalf("no %s block to relabel", from)
	}
	return out
}

// TestParsePEMOpenSSLShapes reads the shapes openssl writes by default and
// on request.
func TestParsePEMOpenSSLShapes(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "params_key.pem")
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-param_enc", "explicit", "-out", "explicit_sec1.pem")
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-param_enc", "explicit", "-out", "explicit_both.pem")
	openssl(t, dir, "pkey", "-in", "explicit_sec1.pem", "-out", "explicit_pkcs8.pem")
	openssl(t, dir, "pkey", "-in", "explicit_sec1.pem", "-pubout", "-out", "explicit_spki.pem")
	openssl(t, dir, "ecparam", "-name", "secp384r1", "-out", "p384_params.pem")
	openssl(t, dir, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem")
	openssl(t, dir, "pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa_spki.pem")

	paramsKey := readFile(t, dir, "params_key.pem")
	cases := []struct {
		name    string
		data    []byte
		alg     Algorithm
		private bool
	}{
		{"EC PARAMETERS then EC PRIVATE KEY", paramsKey, ES256, true},
		{"key then its parameters", append(bytes.Clone(paramsKey[bytes.Index(paramsKey, []byte("-----BEGIN EC PRIVATE")):]), paramsKey[:bytes.Index(paramsKey, []byte("-----BEGIN EC PRIVATE"))]...), ES256, true},
		{"explicit P-256 parameters in SEC1", readFile(t, dir, "explicit_sec1.pem"), ES256, true},
		{"explicit P-256 parameters block and key", readFile(t, dir, "explicit_both.pem"), ES256, true},
		{"explicit P-256 parameters in PKCS#8", readFile(t, dir, "explicit_pkcs8.pem"), ES256, true},
		{"explicit P-256 parameters in SPKI", readFile(t, dir, "explicit_spki.pem"), ES256, false},
		{"RSA PUBLIC KEY holding an SPKI", relabel(t, readFile(t, dir, "rsa_spki.pem"), "PUBLIC KEY", "RSA PUBLIC KEY"), RS256, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParsePEM(c.data)
			if err != nil {
				t.Fatalf("ParsePEM: %v", err)
			}
			if k.Alg != c.alg || k.IsPrivate() != c.private {
				t.Fatalf("got %s private=%v, want %s private=%v", k.Alg, k.IsPrivate(), c.alg, c.private)
			}
			if c.alg == ES256 {
				var pub *ecdsa.PublicKey
				switch m := k.Material.(type) {
				case *ecdsa.PrivateKey:
					pub = &m.PublicKey
				case *ecdsa.PublicKey:
					pub = m
				}
				if pub.Curve != elliptic.P256() {
					t.Fatalf("curve %v, want P-256", pub.Curve.Params().Name)
				}
			}
		})
	}

	// The explicit key is the same key openssl converts to a named curve.
	openssl(t, dir, "ec", "-in", "explicit_sec1.pem", "-param_enc", "named_curve", "-out", "named.pem")
	a, err := ParsePEM(readFile(t, dir, "explicit_sec1.pem"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParsePEM(readFile(t, dir, "named.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !a.Material.(*ecdsa.PrivateKey).Equal(b.Material.(*ecdsa.PrivateKey)) {
		t.Fatal("explicit-parameter key differs from its named-curve form")
	}

	// A parameter block that disagrees with the key is refused.
	mismatch := append(readFile(t, dir, "p384_params.pem"), paramsKey[bytes.Index(paramsKey, []byte("-----BEGIN EC PRIVATE")):]...)
	if _, err := ParsePEM(mismatch); err == nil || !strings.Contains(err.Error(), "P-384") || !strings.Contains(err.Error(), "P-256") {
		t.Fatalf("P-384 parameters before a P-256 key: %v, want a refusal naming both curves", err)
	}
	// Parameters next to an RSA key are refused.
	if _, err := ParsePEM(append(readFile(t, dir, "p384_params.pem"), readFile(t, dir, "rsa.pem")...)); err == nil || !strings.Contains(err.Error(), "EC PARAMETERS") {
		t.Fatalf("EC parameters before an RSA key: %v", err)
	}
	// Two keys are still refused.
	if _, err := ParsePEM(append(readFile(t, dir, "rsa.pem"), readFile(t, dir, "rsa.pem")...)); err == nil || !strings.Contains(err.Error(), "more than one key") {
		t.Fatalf("two keys: %v, want more than one key", err)
	}
	// Parameters alone are no key.
	if _, err := ParsePEM(readFile(t, dir, "p384_params.pem")); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Fatalf("parameters alone: %v, want no key", err)
	}
}

// TestParsePEMRefusesByName: key kinds keyctl does not sign with are named,
// with the conversion command where one exists.
func TestParsePEMRefusesByName(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "pss.pem")
	openssl(t, dir, "pkey", "-in", "pss.pem", "-pubout", "-out", "pss_pub.pem")
	openssl(t, dir, "genpkey", "-algorithm", "ed448", "-out", "ed448.pem")
	openssl(t, dir, "genpkey", "-algorithm", "x25519", "-out", "x25519.pem")
	openssl(t, dir, "ecparam", "-name", "secp256k1", "-genkey", "-noout", "-out", "k1.pem")
	openssl(t, dir, "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-param_enc", "explicit", "-out", "p384_explicit.pem")
	openssl(t, dir, "pkey", "-in", "k1.pem", "-pubout", "-out", "k1_pub.pem")
	cases := []struct {
		file, want, hint string
	}{
		{"pss.pem", "RSA-PSS keys are not supported: keyctl signs RS256", ""},
		{"pss_pub.pem", "RSA-PSS keys are not supported: keyctl signs RS256", ""},
		{"ed448.pem", "Ed448", ""},
		{"x25519.pem", "X25519", ""},
		{"k1.pem", "secp256k1", ""},
		{"k1_pub.pem", "secp256k1", ""},
		{"p384_explicit.pem", "explicit curve parameters", "openssl ec -in KEY.pem -param_enc named_curve"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			_, err := ParsePEM(readFile(t, dir, c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if c.hint != "" {
				var h interface{ Hint() string }
				if !errors.As(err, &h) || !strings.Contains(h.Hint(), c.hint) {
					t.Fatalf("hint of %v: want %q", err, c.hint)
				}
			}
		})
	}
}

// noGoNames: messages never show the Go API underneath.
func noGoNames(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if h, ok := err.(interface{ Hint() string }); ok {
		msg += "\n" + h.Hint()
	}
	// The openssl command in a hint is fine; Go's "x509:" is not.
	msg = strings.ReplaceAll(msg, "openssl x509 ", "openssl ")
	for _, bad := range []string{"x509", "Parse", "asn1", "crypto/", "tags don't match"} {
		if strings.Contains(msg, bad) {
			t.Errorf("%s: message shows %q: %s", what, bad, msg)
		}
	}
}

// TestParsePEMMessagesNameNoGoAPI feeds malformed and mislabelled PEM and
// checks no message names a Go package or function.
func TestParsePEMMessagesNameNoGoAPI(t *testing.T) {
	ec, _ := Generate(ES256, GenerateOptions{})
	rs, _ := Generate(RS256, GenerateOptions{})
	ed, _ := Generate(EdDSA, GenerateOptions{})
	var ders [][]byte
	for _, k := range []*Key{ec, rs, ed} {
		p, _ := k.MarshalPEM()
		b, _ := pem.Decode(p)
		ders = append(ders, b.Bytes)
		pub, _ := k.Public()
		p, _ = pub.MarshalPEM()
		b, _ = pem.Decode(p)
		ders = append(ders, b.Bytes)
	}
	sec1, _ := x509.MarshalECPrivateKey(ec.Material.(*ecdsa.PrivateKey))
	ders = append(ders, sec1)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384der, _ := x509.MarshalPKCS8PrivateKey(p384)
	ders = append(ders, p384der)
	labels := []string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY", "RSA PUBLIC KEY", "EC PARAMETERS", "ENCRYPTED PRIVATE KEY", "CERTIFICATE"}
	var inputs [][]byte
	for _, label := range labels {
		inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: nil}))
		inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: []byte("garbage")}))
		inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x00}}))
		for _, der := range ders {
			inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der}))
			for _, cut := range []int{1, 2, 7, len(der) / 2, len(der) - 1} {
				if cut < len(der) {
					inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: der[:cut]}))
				}
			}
			flipped := bytes.Clone(der)
			for i := 3; i < len(flipped); i += 17 {
				flipped[i] ^= 0x5a
			}
			inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: flipped}))
			inputs = append(inputs, pem.EncodeToMemory(&pem.Block{Type: label, Bytes: append(bytes.Clone(der), 0)}))
		}
	}
	inputs = append(inputs, []byte("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n"))
	for i, in := range inputs {
		_, err := ParsePEM(in)
		noGoNames(t, fmt.Sprintf("input %d (%s)", i, strings.SplitN(string(in), "\n", 2)[0]), err)
		_, err = ParsePEMWithPassphrase(in, func() ([]byte, error) { return []byte("secret"), nil })
		noGoNames(t, strings.SplitN(string(in), "\n", 2)[0], err)
	}
}

// FuzzParsePEM: nothing panics, messages name no Go API, and whatever
// parses encodes to PEM that parses to the same key.
func FuzzParsePEM(f *testing.F) {
	for _, alg := range []Algorithm{ES256, RS256, EdDSA} {
		k, _ := Generate(alg, GenerateOptions{})
		p, _ := k.MarshalPEM()
		f.Add(p)
		pub, _ := k.Public()
		p, _ = pub.MarshalPEM()
		f.Add(p)
	}
	f.Add([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The passphrase callback fails: the parameters are fuzzed without
		// running up to MaxPBKDF2Iterations of PBKDF2 per input.
		k, err := ParsePEMWithPassphrase(data, func() ([]byte, error) { return nil, errors.New("no passphrase in fuzzing") })
		if err != nil {
			noGoNames(t, "fuzz", err)
			return
		}
		out, err := k.MarshalPEM()
		if err != nil {
			t.Fatalf("parsed key does not encode: %v", err)
		}
		back, err := ParsePEM(out)
		if err != nil {
			t.Fatalf("re-encoded key does not parse: %v", err)
		}
		if back.Alg != k.Alg || back.IsPrivate() != k.IsPrivate() {
			t.Fatalf("round trip changed the key: %s/%v to %s/%v", k.Alg, k.IsPrivate(), back.Alg, back.IsPrivate())
		}
	})
}

// TestMarshalPEMOpenSSLRoundTrip: openssl pkey reads what MarshalPEM
// writes, and what openssl writes back parses to the same key.
func TestMarshalPEMOpenSSLRoundTrip(t *testing.T) {
	needOpenSSL(t)
	dir := t.TempDir()
	for _, alg := range []Algorithm{ES256, RS256, EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			k, err := Generate(alg, GenerateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			priv, err := k.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := k.Public()
			pubPEM, err := pub.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "k.pem"), priv, 0o600)
			os.WriteFile(filepath.Join(dir, "pub.pem"), pubPEM, 0o644)
			back, err := ParsePEM(openssl(t, dir, "pkey", "-in", "k.pem"))
			if err != nil || !back.Equal(k) || back.Alg != alg {
				t.Fatalf("private key back from openssl: %v", err)
			}
			if got := openssl(t, dir, "pkey", "-in", "k.pem", "-pubout"); !bytes.Equal(got, pubPEM) {
				t.Fatalf("openssl derives another public key:\n%s\nwant\n%s", got, pubPEM)
			}
			backPub, err := ParsePEM(openssl(t, dir, "pkey", "-pubin", "-in", "pub.pem"))
			if err != nil || !backPub.Equal(pub) || backPub.IsPrivate() {
				t.Fatalf("public key back from openssl: %v", err)
			}
		})
	}
	secret, _ := Generate(HS256, GenerateOptions{})
	if _, err := secret.MarshalPEM(); !errors.Is(err, ErrNoPEMForm) {
		t.Fatalf("HS256 MarshalPEM: %v, want ErrNoPEMForm", err)
	}
}

// A damaged block before a good one: pem.Decode skips it, and the second
// key would be read in the first one's place. Text around blocks is fine.
func TestParsePEMDamagedBlock(t *testing.T) {
	a, _ := Generate(EdDSA, GenerateOptions{})
	b, _ := Generate(EdDSA, GenerateOptions{})
	pa, _ := a.MarshalPEM()
	pb, _ := b.MarshalPEM()
	lines := strings.Split(string(pa), "\n")
	lines[1] = "*" + lines[1][1:] // one base64 character broken
	damaged := strings.Join(lines, "\n") + string(pb)
	if _, err := ParsePEM([]byte(damaged)); err == nil || !strings.Contains(err.Error(), "1 of the 2 PEM blocks do not decode") {
		t.Fatalf("damaged first block: %v", err)
	}
	truncated := string(pa) + "junk\n" + strings.Join(strings.Split(string(pb), "\n")[:2], "\n")
	if _, err := ParsePEM([]byte(truncated)); err == nil {
		t.Fatal("a truncated second block was ignored")
	}
	withText := "Bag Attributes\n    localKeyID: 01\nKey Attributes: <No Attributes>\n" + string(pa) + "trailing words\n"
	k, err := ParsePEM([]byte(withText))
	if err != nil || !k.Equal(a) {
		t.Fatalf("text around one block: %v", err)
	}
}

// A private key file whose stored public key is another key's: x509
// ignores it, openssl checks it; keyctl refuses such a file rather than
// read it differently from openssl.
func TestParsePEMStoredPublicMismatch(t *testing.T) {
	a, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	da, _ := x509.MarshalECPrivateKey(a)
	db, _ := x509.MarshalECPrivateKey(b)
	if k, err := ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: da})); err != nil || !k.Material.(*ecdsa.PrivateKey).Equal(a) {
		t.Fatalf("a matching SEC1 key: %v", err)
	}
	mixed := append(bytes.Clone(da[:len(da)-65]), db[len(db)-65:]...)
	if _, err := ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: mixed})); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("SEC1 with another key's public key: %v", err)
	}
	// PKCS#8 v2 (RFC 5958) Ed25519 with [1] publicKey.
	seed := make([]byte, 32)
	rand.Read(seed)
	priv := ed25519.NewKeyFromSeed(seed)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	v2 := func(pub []byte) []byte {
		inner, _ := asn1.Marshal(seed)
		der, err := asn1.Marshal(struct {
			Version int
			Alg     struct{ OID asn1.ObjectIdentifier }
			Key     []byte
			Pub     asn1.RawValue `asn1:"optional"`
		}{1, struct{ OID asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 3, 101, 112}}, inner,
			asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: append([]byte{0}, pub...)}})
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	if k, err := ParsePEM(v2(priv.Public().(ed25519.PublicKey))); err != nil || !k.Material.(ed25519.PrivateKey).Equal(priv) {
		t.Fatalf("a matching PKCS#8 v2 key: %v", err)
	}
	if _, err := ParsePEM(v2(other)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("PKCS#8 v2 with another key's public key: %v", err)
	}
}
