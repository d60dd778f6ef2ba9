package jwk

import (
	"bytes"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// The DER layer under ParsePEM: keyctl reads the key structures itself, far
// enough to name what it refuses (RSA-PSS, Ed448, secp256k1, explicit curve
// parameters) and to rewrite explicit P-256 parameters as the named curve,
// before crypto/x509 decodes the key. No message passes x509's or asn1's
// text on: those name Go functions and struct tags.

var (
	oidRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECPublic  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519   = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidPrimeFld  = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}
	oidP256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP256DER   = mustMarshal(oidP256)
	errMalformed = errors.New("malformed DER")
)

// refusedAlgorithms names the key algorithms keyctl recognises only to
// refuse them.
var refusedAlgorithms = []struct {
	oid asn1.ObjectIdentifier
	msg string
}{
	{oidRSAPSS, "RSA-PSS keys are not supported: keyctl signs RS256"},
	{asn1.ObjectIdentifier{1, 3, 101, 113}, "Ed448 keys are not supported: keyctl signs EdDSA with Ed25519"},
	{asn1.ObjectIdentifier{1, 3, 101, 110}, "X25519 keys are for key agreement, not signatures: keyctl signs EdDSA with Ed25519"},
	{asn1.ObjectIdentifier{1, 3, 101, 111}, "X448 keys are for key agreement, not signatures"},
	{asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}, "DSA keys are not supported"},
	{asn1.ObjectIdentifier{1, 2, 840, 10046, 2, 1}, "Diffie-Hellman keys are for key agreement, not signatures"},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 3, 1}, "Diffie-Hellman keys are for key agreement, not signatures"},
	{asn1.ObjectIdentifier{1, 3, 132, 1, 12}, "ECDH-only keys are for key agreement, not signatures"},
	{asn1.ObjectIdentifier{1, 3, 132, 1, 13}, "ECMQV keys are for key agreement, not signatures"},
	{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}, "SM2 keys are not supported"},
}

// curveNames names the curves keyctl refuses, for the message.
var curveNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{asn1.ObjectIdentifier{1, 3, 132, 0, 33}, "P-224"},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 34}, "P-384"},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 35}, "P-521"},
	{asn1.ObjectIdentifier{1, 3, 132, 0, 10}, "secp256k1"},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 1}, "P-192"},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}, "brainpoolP256r1"},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 11}, "brainpoolP384r1"},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 13}, "brainpoolP512r1"},
	{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}, "SM2"},
}

func curveName(oid asn1.ObjectIdentifier) string {
	if oid.Equal(oidP256) {
		return "P-256"
	}
	for _, c := range curveNames {
		if oid.Equal(c.oid) {
			return c.name
		}
	}
	return "with OID " + oid.String()
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// hinted is an error with the step that gets past it; cmd prints the hint.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }
func (e *hinted) Hint() string  { return e.hint }

// derElements splits one DER SEQUENCE (and nothing after it) into its
// elements.
func derElements(der []byte) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil || len(rest) != 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return nil, errMalformed
	}
	var out []asn1.RawValue
	for b := seq.Bytes; len(b) > 0; {
		var e asn1.RawValue
		if b, err = asn1.Unmarshal(b, &e); err != nil {
			return nil, errMalformed
		}
		out = append(out, e)
	}
	return out, nil
}

// derSequence encodes elements (each whole, FullBytes) as a SEQUENCE.
func derSequence(elems []asn1.RawValue) []byte {
	var body []byte
	for _, e := range elems {
		body = append(body, e.FullBytes...)
	}
	return mustMarshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
}

func raw(der []byte) asn1.RawValue { return asn1.RawValue{FullBytes: der} }

func is(e asn1.RawValue, class, tag int) bool { return e.Class == class && e.Tag == tag }

func isUniversal(e asn1.RawValue, tag int) bool { return is(e, asn1.ClassUniversal, tag) }

// algorithmID reads an AlgorithmIdentifier: the OID and the parameters
// (FullBytes nil when absent).
func algorithmID(e asn1.RawValue) (asn1.ObjectIdentifier, asn1.RawValue, error) {
	var oid asn1.ObjectIdentifier
	elems, err := derElements(e.FullBytes)
	if err != nil || len(elems) < 1 || len(elems) > 2 {
		return nil, asn1.RawValue{}, errMalformed
	}
	if rest, err := asn1.Unmarshal(elems[0].FullBytes, &oid); err != nil || len(rest) != 0 {
		return nil, asn1.RawValue{}, errMalformed
	}
	if len(elems) == 2 {
		return oid, elems[1], nil
	}
	return oid, asn1.RawValue{}, nil
}

// refusedAlgorithm names an algorithm keyctl does not sign with.
func refusedAlgorithm(oid asn1.ObjectIdentifier) error {
	for _, a := range refusedAlgorithms {
		if oid.Equal(a.oid) {
			return &unsupportedError{a.msg}
		}
	}
	return fmt.Errorf("%w: algorithm OID %s (keyctl reads ES256 P-256, RS256 and EdDSA Ed25519 keys)", ErrUnsupportedKeyType, oid)
}

// unsupportedError is a refusal that says why in its own words and matches
// ErrUnsupportedKeyType.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string        { return e.msg }
func (e *unsupportedError) Is(target error) bool { return target == ErrUnsupportedKeyType }

// namedCurveFix converts explicit curve parameters to the named curve.
const namedCurveFix = "convert it to a named curve: openssl ec -in KEY.pem -param_enc named_curve -out named.pem"

// ecCurve reads ECParameters and returns the named curve's OID. Explicit
// parameters equal to P-256's count as P-256; others are refused.
func ecCurve(params asn1.RawValue) (asn1.ObjectIdentifier, error) {
	switch {
	case isUniversal(params, asn1.TagOID):
		var oid asn1.ObjectIdentifier
		if rest, err := asn1.Unmarshal(params.FullBytes, &oid); err != nil || len(rest) != 0 {
			return nil, errMalformed
		}
		return oid, nil
	case isUniversal(params, asn1.TagSequence):
		if isExplicitP256(params.FullBytes) {
			return oidP256, nil
		}
		return nil, &hinted{fmt.Errorf("%w: explicit curve parameters that are not P-256's (keyctl uses P-256)", ErrUnsupportedKeyType), namedCurveFix}
	case isUniversal(params, asn1.TagNull):
		return nil, &hinted{errors.New("EC key without curve parameters (implicitlyCA)"), namedCurveFix}
	}
	return nil, errMalformed
}

// checkP256 refuses a curve other than P-256, by name.
func checkP256(oid asn1.ObjectIdentifier) error {
	if oid.Equal(oidP256) {
		return nil
	}
	return fmt.Errorf("%w: curve %s (keyctl uses P-256)", ErrUnsupportedKeyType, curveName(oid))
}

// specifiedDomain is SEC 1's SpecifiedECDomain over a prime field.
type specifiedDomain struct {
	Version int
	FieldID struct {
		Type  asn1.ObjectIdentifier
		Prime *big.Int
	}
	Curve struct {
		A, B []byte
		Seed asn1.BitString `asn1:"optional"`
	}
	Base     []byte
	Order    *big.Int
	Cofactor *big.Int `asn1:"optional"`
}

// isExplicitP256 reports whether explicit parameters describe P-256: its
// prime, a = p-3, b, base point (compressed or not), order and cofactor 1.
// The seed and hash are informative and ignored.
func isExplicitP256(der []byte) bool {
	var d specifiedDomain
	if _, err := asn1.Unmarshal(der, &d); err != nil {
		return false
	}
	p := elliptic.P256().Params()
	if !d.FieldID.Type.Equal(oidPrimeFld) || d.FieldID.Prime == nil || d.FieldID.Prime.Cmp(p.P) != 0 {
		return false
	}
	a := new(big.Int).Sub(p.P, big.NewInt(3))
	if new(big.Int).SetBytes(d.Curve.A).Cmp(a) != 0 || new(big.Int).SetBytes(d.Curve.B).Cmp(p.B) != 0 {
		return false
	}
	if d.Order == nil || d.Order.Cmp(p.N) != 0 || (d.Cofactor != nil && d.Cofactor.Cmp(big.NewInt(1)) != 0) {
		return false
	}
	gx, gy := p.Gx.FillBytes(make([]byte, 32)), p.Gy.FillBytes(make([]byte, 32))
	switch {
	case len(d.Base) == 65 && d.Base[0] == 4:
		return bytes.Equal(d.Base[1:33], gx) && bytes.Equal(d.Base[33:], gy)
	case len(d.Base) == 33 && (d.Base[0] == 2 || d.Base[0] == 3):
		return bytes.Equal(d.Base[1:], gx) && d.Base[0] == 2+byte(p.Gy.Bit(0))
	}
	return false
}

// sec1Named rewrites a SEC 1 ECPrivateKey so that its parameters, if any,
// name the curve, and returns the curve it names (nil when it has none).
func sec1Named(der []byte) ([]byte, asn1.ObjectIdentifier, error) {
	elems, err := derElements(der)
	if err != nil || len(elems) < 2 || !isUniversal(elems[0], asn1.TagInteger) || !isUniversal(elems[1], asn1.TagOctetString) {
		return nil, nil, errMalformed
	}
	var curve asn1.ObjectIdentifier
	for i, e := range elems[2:] {
		if !is(e, asn1.ClassContextSpecific, 0) || !e.IsCompound {
			continue
		}
		var params asn1.RawValue
		if rest, err := asn1.Unmarshal(e.Bytes, &params); err != nil || len(rest) != 0 {
			return nil, nil, errMalformed
		}
		if curve, err = ecCurve(params); err != nil {
			return nil, nil, err
		}
		elems[2+i] = raw(mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(curve)}))
	}
	return derSequence(elems), curve, nil
}

// pkcs8Named checks a PKCS#8 PrivateKeyInfo's algorithm, refusing what
// keyctl does not sign with, and rewrites explicit P-256 parameters (outer
// and inner) as the named curve.
func pkcs8Named(der []byte) ([]byte, asn1.ObjectIdentifier, error) {
	elems, err := derElements(der)
	if err != nil || len(elems) < 3 || !isUniversal(elems[0], asn1.TagInteger) || !isUniversal(elems[1], asn1.TagSequence) || !isUniversal(elems[2], asn1.TagOctetString) {
		return nil, nil, errMalformed
	}
	alg, params, err := algorithmID(elems[1])
	if err != nil {
		return nil, nil, err
	}
	switch {
	case alg.Equal(oidRSA):
		if err := checkPKCS1Modulus(elems[2].Bytes); err != nil {
			return nil, nil, err
		}
		return der, alg, nil
	case alg.Equal(oidEd25519):
		return der, alg, nil
	case !alg.Equal(oidECPublic):
		return nil, nil, refusedAlgorithm(alg)
	}
	if params.FullBytes == nil {
		return nil, nil, errMalformed
	}
	curve, err := ecCurve(params)
	if err != nil {
		return nil, nil, err
	}
	if err := checkP256(curve); err != nil {
		return nil, nil, err
	}
	inner, innerCurve, err := sec1Named(elems[2].Bytes)
	if err != nil {
		return nil, nil, err
	}
	if innerCurve != nil && !innerCurve.Equal(curve) {
		return nil, nil, errors.New("the PKCS#8 key names two different curves")
	}
	elems[1] = raw(derSequence([]asn1.RawValue{raw(mustMarshal(oidECPublic)), raw(oidP256DER)}))
	elems[2] = raw(mustMarshal(inner))
	return derSequence(elems), alg, nil
}

// spkiNamed checks a SubjectPublicKeyInfo like pkcs8Named.
func spkiNamed(der []byte) ([]byte, error) {
	elems, err := derElements(der)
	if err != nil || len(elems) != 2 || !isUniversal(elems[0], asn1.TagSequence) || !isUniversal(elems[1], asn1.TagBitString) {
		return nil, errMalformed
	}
	alg, params, err := algorithmID(elems[0])
	if err != nil {
		return nil, err
	}
	switch {
	case alg.Equal(oidRSA):
		var bits asn1.BitString
		if _, err := asn1.Unmarshal(elems[1].FullBytes, &bits); err != nil || bits.BitLength%8 != 0 {
			return nil, errMalformed
		}
		if err := checkPKCS1Modulus(bits.Bytes); err != nil {
			return nil, err
		}
		return der, nil
	case alg.Equal(oidEd25519):
		return der, nil
	case !alg.Equal(oidECPublic):
		return nil, refusedAlgorithm(alg)
	}
	curve, err := ecCurve(params)
	if err != nil {
		return nil, err
	}
	if err := checkP256(curve); err != nil {
		return nil, err
	}
	elems[0] = raw(derSequence([]asn1.RawValue{raw(mustMarshal(oidECPublic)), raw(oidP256DER)}))
	return derSequence(elems), nil
}

// checkPKCS1Modulus reads the modulus of a PKCS#1 key, private or public,
// and refuses a weak or oversized one before x509 decodes the rest.
func checkPKCS1Modulus(der []byte) error {
	elems, err := derElements(der)
	if err != nil || len(elems) < 2 {
		return errMalformed
	}
	n := elems[0]
	if len(elems) >= 9 { // RSAPrivateKey: version, n, e, d, p, q, dp, dq, qi
		n = elems[1]
	}
	var modulus *big.Int
	if rest, err := asn1.Unmarshal(n.FullBytes, &modulus); err != nil || len(rest) != 0 || modulus.Sign() <= 0 {
		return errMalformed
	}
	return checkRSABits(modulus.BitLen())
}

// derFormat tells the key structures apart by shape, so that a mislabelled
// block (an SPKI under "RSA PUBLIC KEY") is read as what it holds.
func derFormat(der []byte) string {
	elems, err := derElements(der)
	if err != nil || len(elems) < 2 {
		return ""
	}
	switch {
	case isUniversal(elems[0], asn1.TagSequence) && isUniversal(elems[1], asn1.TagBitString) && len(elems) == 2:
		return "PUBLIC KEY"
	case !isUniversal(elems[0], asn1.TagInteger):
		return ""
	case isUniversal(elems[1], asn1.TagSequence) && len(elems) >= 3 && isUniversal(elems[2], asn1.TagOctetString):
		return "PRIVATE KEY"
	case isUniversal(elems[1], asn1.TagOctetString):
		return "EC PRIVATE KEY"
	case isUniversal(elems[1], asn1.TagInteger) && len(elems) == 2:
		return "RSA PUBLIC KEY"
	case isUniversal(elems[1], asn1.TagInteger) && len(elems) >= 9:
		return "RSA PRIVATE KEY"
	}
	return ""
}

// storedPublic returns the public key a private key's DER carries beside
// it, if any: SEC1's [1] publicKey (also inside PKCS#8 for EC keys) or
// PKCS#8 v2's [1] publicKey (RFC 5958, Ed25519). crypto/x509 ignores both;
// openssl checks them, so a file whose stored key differs is read two ways
// and is refused.
func storedPublic(label string, der []byte) ([]byte, error) {
	elems, err := derElements(der)
	if err != nil || len(elems) < 2 {
		return nil, nil // x509 has read it; nothing more to compare
	}
	switch label {
	case "EC PRIVATE KEY":
		for _, e := range elems[2:] {
			if is(e, asn1.ClassContextSpecific, 1) && e.IsCompound {
				var bs asn1.BitString
				if rest, err := asn1.Unmarshal(e.Bytes, &bs); err != nil || len(rest) != 0 || bs.BitLength%8 != 0 {
					return nil, errMalformed
				}
				return bs.Bytes, nil
			}
		}
	case "PRIVATE KEY":
		if len(elems) < 3 {
			return nil, nil
		}
		alg, _, err := algorithmID(elems[1])
		if err != nil {
			return nil, nil
		}
		if alg.Equal(oidECPublic) {
			return storedPublic("EC PRIVATE KEY", elems[2].Bytes)
		}
		for _, e := range elems[3:] {
			if is(e, asn1.ClassContextSpecific, 1) && !e.IsCompound {
				// [1] IMPLICIT BIT STRING: the unused-bits byte, then the key.
				if len(e.Bytes) < 1 || e.Bytes[0] != 0 {
					return nil, errMalformed
				}
				return e.Bytes[1:], nil
			}
		}
	}
	return nil, nil
}
