package jwk

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrEncryptedPEM: an encrypted key and no passphrase to decrypt it with.
// The message carries the command that decrypts it, since callers give
// hints of their own.
var ErrEncryptedPEM = errors.New("the key is encrypted (ENCRYPTED PRIVATE KEY) and no passphrase was given; decrypt it first: openssl pkcs8 -in KEY.pem -out plain.pem")

// ErrNoPEMForm: a shared secret is bytes, not a key PEM encodes.
var ErrNoPEMForm = errors.New("a shared secret (HS256) has no PEM form")

// keyBlocks are the PEM types that hold a key.
var keyBlocks = map[string]bool{
	"PRIVATE KEY": true, "RSA PRIVATE KEY": true, "EC PRIVATE KEY": true,
	"PUBLIC KEY": true, "RSA PUBLIC KEY": true, "ENCRYPTED PRIVATE KEY": true,
}

// ParsePEM reads one PEM key: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE
// KEY"), SEC1 ("EC PRIVATE KEY"), PKIX ("PUBLIC KEY") or PKCS#1 public ("RSA
// PUBLIC KEY"); a block labelled as one of these but holding another is read
// as what it holds. "EC PARAMETERS" blocks, as openssl ecparam -genkey
// writes, are skipped when they name the key's curve. Explicit curve
// parameters equal to P-256's are read as P-256. The key gets the algorithm
// its type implies and no kid. An encrypted PKCS#8 key returns an error
// matching ErrEncryptedPEM: see ParsePEMWithPassphrase.
func ParsePEM(data []byte) (*Key, error) { return ParsePEMWithPassphrase(data, nil) }

// ParsePEMWithPassphrase is ParsePEM that also reads an encrypted PKCS#8 key
// ("ENCRYPTED PRIVATE KEY", PBES2 with PBKDF2 and AES-CBC, as openssl
// writes), with the passphrase that passphrase returns. passphrase is called
// only for an encrypted key; nil refuses one with ErrEncryptedPEM.
func ParsePEMWithPassphrase(data []byte, passphrase func() ([]byte, error)) (*Key, error) {
	var key *pem.Block
	var params []*pem.Block
	blocks := 0
	for rest := data; ; {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = next
		blocks++
		switch {
		case block.Type == "EC PARAMETERS":
			params = append(params, block)
		case keyBlocks[block.Type]:
			if key != nil {
				return nil, errors.New("more than one key in the PEM input; give one key per file")
			}
			key = block
		case block.Type == "CERTIFICATE":
			return nil, &hinted{errors.New("a certificate is not a key"), "take its public key: openssl x509 -in CERT.pem -pubkey -noout > key.pem"}
		default:
			return nil, fmt.Errorf("PEM block %q is not a key keyctl reads", block.Type)
		}
	}
	// Text around the blocks is allowed (RFC 7468 section 2: openssl
	// writes "Bag Attributes" and text dumps there), but a BEGIN line that
	// did not decode is a damaged block: pem.Decode skips it silently, and
	// the next block's key would be taken in its place.
	if begins := beginLines(data); begins > blocks {
		return nil, &hinted{fmt.Errorf("%d of the %d PEM blocks do not decode (damaged base64, or a missing or mismatched END line)", begins-blocks, begins), "export the key again"}
	}
	if key == nil {
		if len(params) > 0 {
			return nil, errors.New("the PEM input holds EC PARAMETERS but no key")
		}
		return nil, errors.New("no PEM block found")
	}
	if _, encrypted := key.Headers["Proc-Type"]; encrypted {
		return nil, &hinted{errors.New("encrypted PEM (Proc-Type: 4,ENCRYPTED) is not supported"), "decrypt it first: openssl pkey -in KEY.pem -out plain.pem"}
	}
	k, err := parseKeyBlock(key, passphrase)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		if err := checkParams(p.Bytes, k); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// beginLines counts the lines that start a PEM block.
func beginLines(data []byte) int {
	n := 0
	for line := range bytes.Lines(data) {
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("-----BEGIN ")) {
			n++
		}
	}
	return n
}

// checkParams accepts an EC PARAMETERS block that names the key's curve.
func checkParams(der []byte, k *Key) error {
	var params asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &params); err != nil || len(rest) != 0 {
		return errors.New("the EC PARAMETERS block is malformed")
	}
	curve, err := ecCurve(params)
	if errors.Is(err, errMalformed) {
		return errors.New("the EC PARAMETERS block is malformed")
	}
	if err != nil {
		return fmt.Errorf("the EC PARAMETERS block: %w", err)
	}
	if k.Kty() != KtyEC {
		return fmt.Errorf("the PEM input holds an EC PARAMETERS block next to a %s key", k.Kty())
	}
	if !curve.Equal(oidP256) {
		return fmt.Errorf("the EC PARAMETERS block names curve %s but the key is on P-256", curveName(curve))
	}
	return nil
}

// parseKeyBlock decodes one key block, by the structure it holds.
func parseKeyBlock(block *pem.Block, passphrase func() ([]byte, error)) (*Key, error) {
	der := block.Bytes
	label := block.Type
	if label == "ENCRYPTED PRIVATE KEY" {
		if passphrase == nil {
			return nil, ErrEncryptedPEM
		}
		plain, err := decryptPKCS8(der, passphrase)
		if err != nil {
			return nil, err
		}
		der, label = plain, "PRIVATE KEY"
	} else if f := derFormat(der); f != "" {
		label = f
	}
	material, err := parseDER(label, der)
	if errors.Is(err, errMalformed) {
		return nil, fmt.Errorf("the %s block is not a valid %s key", block.Type, formats[label])
	}
	if err != nil {
		return nil, err
	}
	return FromCrypto(material)
}

var formats = map[string]string{
	"PRIVATE KEY":     "PKCS#8",
	"RSA PRIVATE KEY": "PKCS#1",
	"EC PRIVATE KEY":  "SEC1",
	"PUBLIC KEY":      "SubjectPublicKeyInfo",
	"RSA PUBLIC KEY":  "PKCS#1",
}

// parseDER checks and normalises der with keyctl's own reader, then lets
// crypto/x509 decode it; x509's messages are never passed on.
func parseDER(label string, der []byte) (any, error) {
	var material any
	var err error
	switch label {
	case "PRIVATE KEY":
		if der, _, err = pkcs8Named(der); err != nil {
			return nil, err
		}
		material, err = x509.ParsePKCS8PrivateKey(der)
	case "RSA PRIVATE KEY":
		if err = checkPKCS1Modulus(der); err != nil {
			return nil, err
		}
		material, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		var curve asn1.ObjectIdentifier
		if der, curve, err = sec1Named(der); err != nil {
			return nil, err
		}
		if curve == nil {
			return nil, &hinted{errors.New("the EC private key names no curve"), "write it with its curve: openssl ec -in KEY.pem -param_enc named_curve -out named.pem"}
		}
		if err = checkP256(curve); err != nil {
			return nil, err
		}
		material, err = x509.ParseECPrivateKey(der)
	case "PUBLIC KEY":
		if der, err = spkiNamed(der); err != nil {
			return nil, err
		}
		material, err = x509.ParsePKIXPublicKey(der)
	case "RSA PUBLIC KEY":
		if err = checkPKCS1Modulus(der); err != nil {
			return nil, err
		}
		material, err = x509.ParsePKCS1PublicKey(der)
	default:
		return nil, errMalformed
	}
	if err != nil {
		return nil, errMalformed
	}
	stored, err := storedPublic(label, der)
	if err != nil {
		return nil, err
	}
	if stored != nil {
		var derived []byte
		switch m := material.(type) {
		case *ecdsa.PrivateKey:
			derived, _ = m.PublicKey.Bytes()
		case ed25519.PrivateKey:
			derived = m.Public().(ed25519.PublicKey)
		}
		if derived != nil && !bytes.Equal(stored, derived) {
			return nil, &hinted{errors.New("the public key stored in the private key does not match it (openssl ec -check or pkey -check calls such a file invalid)"), "export the key again from its source"}
		}
	}
	return material, nil
}

// FromCrypto wraps a Go crypto key as a Key with the algorithm its type
// implies, after the same checks Parse applies.
func FromCrypto(material any) (*Key, error) {
	k := &Key{}
	switch m := material.(type) {
	case *ecdsa.PrivateKey:
		if m.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: curve %s (keyctl uses P-256)", ErrUnsupportedKeyType, m.Curve.Params().Name)
		}
		k.Alg = ES256
	case *ecdsa.PublicKey:
		if m.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: curve %s (keyctl uses P-256)", ErrUnsupportedKeyType, m.Curve.Params().Name)
		}
		k.Alg = ES256
	case *rsa.PrivateKey:
		if _, err := checkRSAPrivate(m); err != nil {
			return nil, err
		}
		m.Precompute()
		k.Alg = RS256
	case *rsa.PublicKey:
		if _, err := checkRSAPublic(m); err != nil {
			return nil, err
		}
		k.Alg = RS256
	case ed25519.PublicKey:
		if err := CheckEd25519Public(m); err != nil {
			return nil, err
		}
		k.Alg = EdDSA
	case ed25519.PrivateKey:
		k.Alg = EdDSA
	case []byte:
		if err := CheckSecret(m); err != nil {
			return nil, err
		}
		k.Alg = HS256
	default:
		return nil, fmt.Errorf("%w %T", ErrUnsupportedKeyType, material)
	}
	k.Material = material
	return k, nil
}

func checkRSABits(bits int) error {
	if bits < MinRSABits {
		return fmt.Errorf("%w: %d-bit RSA modulus, want at least %d", ErrWeakKey, bits, MinRSABits)
	}
	if bits > MaxRSABits {
		return fmt.Errorf("%d-bit RSA modulus is larger than %d", bits, MaxRSABits)
	}
	return nil
}

// MarshalPEM encodes a private key as PKCS#8 "PRIVATE KEY" PEM, or a public
// key as PKIX "PUBLIC KEY" PEM. Shared secrets have no PEM form.
func (k *Key) MarshalPEM() ([]byte, error) {
	switch k.Material.(type) {
	case []byte:
		return nil, ErrNoPEMForm
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		der, err := x509.MarshalPKCS8PrivateKey(k.Material)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	der, err := x509.MarshalPKIXPublicKey(k.Material)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
