package jwk

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
)

// rsaFrom builds an RSA private key from two primes (e = 65537), its d
// consistent with them, however weak.
func rsaFrom(t *testing.T, p, q *big.Int) *rsa.PrivateKey {
	t.Helper()
	one := big.NewInt(1)
	pm, qm := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
	lambda := new(big.Int).Div(new(big.Int).Mul(pm, qm), new(big.Int).GCD(nil, nil, pm, qm))
	d := new(big.Int).ModInverse(big.NewInt(65537), lambda)
	if d == nil {
		t.Skip("65537 not invertible for these primes")
	}
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 65537}, D: d, Primes: []*big.Int{p, q}}
	// The CRT values by hand: Precompute refuses a key Validate refuses.
	k.Precomputed.Dp = new(big.Int).Mod(d, pm)
	k.Precomputed.Dq = new(big.Int).Mod(d, qm)
	k.Precomputed.Qinv = new(big.Int).ModInverse(q, p)
	return k
}

// weakRSA checks that a consistent but weak key is refused as weak by
// every way in: Parse of its JWK, ParsePEM of its PKCS#1 and PKCS#8
// forms, FromCrypto.
func weakRSA(t *testing.T, k *rsa.PrivateKey) {
	t.Helper()
	jwkText, err := (&Key{Alg: RS256, Material: k}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(jwkText); !errors.Is(err, ErrWeakKey) {
		t.Errorf("Parse: %v, want ErrWeakKey", err)
	}
	if _, err := FromCrypto(k); !errors.Is(err, ErrWeakKey) {
		t.Errorf("FromCrypto: %v, want ErrWeakKey", err)
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if _, err := ParsePEM(pkcs1); err == nil {
		t.Error("ParsePEM (PKCS#1) accepted it")
	}
	if der, err := x509.MarshalPKCS8PrivateKey(k); err == nil {
		if _, err := ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err == nil {
			t.Error("ParsePEM (PKCS#8) accepted it")
		}
	}
}

// n = 3·q passes Validate, and anyone holding the published n factors it.
func TestRSASmallPrimeRefused(t *testing.T) {
	q, err := rand.Prime(rand.Reader, 2047)
	if err != nil {
		t.Fatal(err)
	}
	k := rsaFrom(t, big.NewInt(3), q)
	if err := k.Validate(); err != nil {
		t.Fatalf("Validate refuses it itself now (%v): the check below is then belt and braces", err)
	}
	weakRSA(t, k)
}

// Two primes next to each other fall to Fermat's method.
func TestRSAClosePrimesRefused(t *testing.T) {
	p, err := rand.Prime(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	q := new(big.Int).Add(p, big.NewInt(2))
	for !q.ProbablyPrime(20) {
		q.Add(q, big.NewInt(2))
	}
	weakRSA(t, rsaFrom(t, p, q))
}

func TestRSAPublicChecks(t *testing.T) {
	good, err := Generate(RS256, GenerateOptions{KID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	n := good.Material.(*rsa.PrivateKey).N
	for name, pub := range map[string]*rsa.PublicKey{
		"e=1":     {N: n, E: 1},
		"e=4":     {N: n, E: 4},
		"e=2^32":  {N: n, E: 1 << 32},
		"even n":  {N: new(big.Int).Add(n, big.NewInt(1)), E: 65537},
		"1024bit": {N: new(big.Int).Rsh(n, 1024), E: 65537},
	} {
		if _, err := FromCrypto(pub); err == nil {
			t.Errorf("FromCrypto %s: accepted", name)
		}
		if der, err := x509.MarshalPKIXPublicKey(pub); err == nil {
			if _, err := ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err == nil {
				t.Errorf("ParsePEM %s: accepted", name)
			}
		}
		text, err := (&Key{Alg: RS256, Material: pub}).MarshalJSON()
		if err != nil {
			continue // not even encodable
		}
		if _, err := Parse(text); err == nil {
			t.Errorf("Parse %s: accepted", name)
		}
	}
	// Generated keys pass, of course.
	if _, err := FromCrypto(good.Material); err != nil {
		t.Fatal(err)
	}
}

// RSA integers in their shortest form (RFC 7518 section 6.3): a leading
// zero byte in d, p, q, dp, dq or qi is refused like one in n.
func TestRSALeadingZeroRefused(t *testing.T) {
	good, err := Generate(RS256, GenerateOptions{KID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := good.MarshalJSON()
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		var v string
		for _, part := range strings.Split(string(text), `,"`) {
			if strings.HasPrefix(part, m+`":"`) {
				v = strings.TrimSuffix(strings.TrimPrefix(part, m+`":"`), `"}`)
				v = strings.TrimSuffix(v, `"`)
			}
		}
		b, err := DecodeBase64URL(v)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		padded := b64.EncodeToString(append([]byte{0}, b...))
		bad := strings.Replace(string(text), `"`+m+`":"`+v+`"`, `"`+m+`":"`+padded+`"`, 1)
		if _, err := Parse([]byte(bad)); err == nil || !strings.Contains(err.Error(), "leading zero") {
			t.Errorf("%s with a leading zero: %v", m, err)
		}
	}
}
