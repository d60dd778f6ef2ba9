package jwk

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
)

// checkRSAPublic is the one check of an RSA public key, whichever form it
// came in (JWK, PEM, a Go key): a modulus of MinRSABits to MaxRSABits that
// is odd (a product of two odd primes), and a public exponent that is odd,
// at least 3 and fits in 31 bits (Go's crypto/rsa refuses larger ones at
// verify time, which would surface as a bad signature instead of a bad
// key). e = 1 would make every padded digest its own signature.
func checkRSAPublic(pub *rsa.PublicKey) (member string, err error) {
	if pub.N == nil || pub.N.Sign() <= 0 {
		return "n", errors.New("missing")
	}
	if bits := pub.N.BitLen(); bits < MinRSABits {
		return "n", fmt.Errorf("%w: %d-bit RSA modulus, want at least %d", ErrWeakKey, bits, MinRSABits)
	} else if bits > MaxRSABits {
		return "n", fmt.Errorf("%d-bit RSA modulus is larger than %d", bits, MaxRSABits)
	}
	if pub.E < 3 || pub.E&1 == 0 || pub.E > 1<<31-1 {
		return "e", errors.New("not a valid public exponent (odd, 3 to 2^31-1; 65537 is usual)")
	}
	if pub.N.Bit(0) == 0 {
		return "n", errors.New("an even RSA modulus is no product of two primes")
	}
	return "", nil
}

// checkRSAPrivate refuses an RSA private key that is consistent but weak:
// anything but two primes, or a prime far smaller than half the modulus (n
// = 3·q passes rsa.PrivateKey.Validate, and anyone holding the published
// n factors it by trial division), or two primes so close that Fermat's
// method factors n (FIPS 186-5 A.1.3 wants |p-q| > 2^(nlen/2-100)).
func checkRSAPrivate(priv *rsa.PrivateKey) (member string, err error) {
	if m, err := checkRSAPublic(&priv.PublicKey); err != nil {
		return m, err
	}
	if len(priv.Primes) != 2 {
		return "oth", errors.New("multi-prime RSA keys are not supported")
	}
	half := priv.N.BitLen() / 2
	p, q := priv.Primes[0], priv.Primes[1]
	if p == nil || q == nil || p.Sign() <= 0 || q.Sign() <= 0 {
		return "p", errors.New("RSA private keys need p and q")
	}
	for _, f := range []struct {
		name  string
		prime *big.Int
	}{{"p", p}, {"q", q}} {
		if f.prime.BitLen() < half-16 {
			return f.name, fmt.Errorf("%w: a %d-bit prime in a %d-bit modulus (each prime must be about half of it, or n is easy to factor)", ErrWeakKey, f.prime.BitLen(), priv.N.BitLen())
		}
	}
	if new(big.Int).Sub(p, q).CmpAbs(new(big.Int).Lsh(big.NewInt(1), uint(half-100))) <= 0 {
		return "q", fmt.Errorf("%w: p and q are too close (n is easy to factor)", ErrWeakKey)
	}
	if err := priv.Validate(); err != nil {
		return "d", fmt.Errorf("inconsistent RSA private key: %v", err)
	}
	return "", nil
}
