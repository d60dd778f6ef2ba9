package jwk

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
)

// Encrypted PKCS#8 (RFC 5208 EncryptedPrivateKeyInfo, RFC 8018 PBES2): what
// openssl 3 writes by default (openssl pkcs8 -topk8, openssl genpkey
// -aes256) is PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC. keyctl reads
// PBES2 with PBKDF2 (HMAC-SHA-1/224/256/384/512) and AES-CBC, and names any
// other scheme in its refusal.

// MaxPBKDF2Iterations bounds the work an encrypted key can ask for: a file
// asking for more is refused rather than left to spin.
const MaxPBKDF2Iterations = 10_000_000

// ErrWrongPassphrase: the passphrase does not decrypt the key.
var ErrWrongPassphrase = errors.New("wrong passphrase for the encrypted key (or the key is damaged)")

const decryptFix = "decrypt it first: openssl pkcs8 -in KEY.pem -out plain.pem"

var (
	oidPBES2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	prfs      = []struct {
		oid asn1.ObjectIdentifier
		h   func() hash.Hash
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}, sha1.New},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}, sha256.New224},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, sha256.New},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}, sha512.New384},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, sha512.New},
	}
	aesCBC = []struct {
		oid     asn1.ObjectIdentifier
		keySize int
	}{
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}, 16},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}, 24},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, 32},
	}
	// refusedSchemes names the encryption schemes keyctl recognises only
	// to refuse them (the OID prefix for families).
	refusedSchemes = []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5}, "PBES1 (a legacy DES or RC2 scheme)"},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1}, "a PKCS#12 PBE scheme (legacy 3DES or RC2)"},
		{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}, "scrypt"},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}, "3DES-CBC"},
		{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}, "DES-CBC"},
		{asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 2}, "RC2-CBC"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}, "AES-128-GCM"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 26}, "AES-192-GCM"},
		{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}, "AES-256-GCM"},
		{asn1.ObjectIdentifier{1, 2, 392, 200011, 61, 1, 1, 1}, "Camellia"},
		{asn1.ObjectIdentifier{1, 2, 410, 200004, 1}, "ARIA or SEED"},
		{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 104}, "SM4"},
	}
)

// unsupportedScheme refuses an encryption scheme by name.
func unsupportedScheme(oid asn1.ObjectIdentifier) error {
	name := "the scheme with OID " + oid.String()
	for _, s := range refusedSchemes {
		if len(oid) >= len(s.oid) && oid[:len(s.oid)].Equal(s.oid) {
			name = s.name
			break
		}
	}
	return &hinted{fmt.Errorf("the key is encrypted with %s; keyctl decrypts PBES2 with PBKDF2 and AES-CBC", name), decryptFix}
}

// IsEncryptedPEM reports whether data holds an encrypted PKCS#8 key, which
// ParsePEMWithPassphrase reads with a passphrase.
func IsEncryptedPEM(data []byte) bool {
	for rest := data; ; {
		block, next := pem.Decode(rest)
		if block == nil {
			return false
		}
		if block.Type == "ENCRYPTED PRIVATE KEY" {
			return true
		}
		rest = next
	}
}

var errMalformedEncrypted = errors.New("the ENCRYPTED PRIVATE KEY block is malformed")

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo to the PKCS#8 DER inside.
func decryptPKCS8(der []byte, passphrase func() ([]byte, error)) ([]byte, error) {
	elems, err := derElements(der)
	if err != nil || len(elems) != 2 || !isUniversal(elems[0], asn1.TagSequence) || !isUniversal(elems[1], asn1.TagOctetString) {
		return nil, errMalformedEncrypted
	}
	scheme, params, err := algorithmID(elems[0])
	if err != nil {
		return nil, errMalformedEncrypted
	}
	if !scheme.Equal(oidPBES2) {
		return nil, unsupportedScheme(scheme)
	}
	pbes2, err := derElements(params.FullBytes)
	if err != nil || len(pbes2) != 2 {
		return nil, errMalformedEncrypted
	}
	kdf, kdfParams, err := algorithmID(pbes2[0])
	if err != nil {
		return nil, errMalformedEncrypted
	}
	if !kdf.Equal(oidPBKDF2) {
		return nil, unsupportedScheme(kdf)
	}
	enc, encParams, err := algorithmID(pbes2[1])
	if err != nil {
		return nil, errMalformedEncrypted
	}
	keySize := 0
	for _, a := range aesCBC {
		if enc.Equal(a.oid) {
			keySize = a.keySize
		}
	}
	if keySize == 0 {
		return nil, unsupportedScheme(enc)
	}
	var iv []byte
	if rest, err := asn1.Unmarshal(encParams.FullBytes, &iv); err != nil || len(rest) != 0 || len(iv) != aes.BlockSize {
		return nil, errMalformedEncrypted
	}
	salt, iterations, h, err := pbkdf2Params(kdfParams, keySize)
	if err != nil {
		return nil, err
	}
	ciphertext := elems[1].Bytes
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, errMalformedEncrypted
	}
	pass, err := passphrase()
	if err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(h, string(pass), salt, iterations, keySize)
	if err != nil {
		return nil, &hinted{errors.New("the key's PBKDF2 parameters are not allowed here"), decryptFix}
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errMalformedEncrypted
	}
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ciphertext)
	plain, ok := unpad(plain)
	if !ok || derFormat(plain) != "PRIVATE KEY" {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

// pbkdf2Params reads PBKDF2-params: salt, iteration count (bounded), an
// optional key length that must match the cipher's, and the PRF
// (HMAC-SHA-1 when absent).
func pbkdf2Params(params asn1.RawValue, keySize int) ([]byte, int, func() hash.Hash, error) {
	elems, err := derElements(params.FullBytes)
	if err != nil || len(elems) < 2 || len(elems) > 4 {
		return nil, 0, nil, errMalformedEncrypted
	}
	if !isUniversal(elems[0], asn1.TagOctetString) {
		return nil, 0, nil, unsupportedScheme(oidPBKDF2) // a salt from another source
	}
	salt := elems[0].Bytes
	var iterations int64
	if rest, err := asn1.Unmarshal(elems[1].FullBytes, &iterations); err != nil || len(rest) != 0 || iterations < 1 {
		return nil, 0, nil, errMalformedEncrypted
	}
	if iterations > MaxPBKDF2Iterations {
		return nil, 0, nil, &hinted{fmt.Errorf("the key asks for %d PBKDF2 iterations, more than keyctl's limit of %d", iterations, MaxPBKDF2Iterations), decryptFix}
	}
	h := sha1.New
	for _, e := range elems[2:] {
		switch {
		case isUniversal(e, asn1.TagInteger):
			var n int
			if _, err := asn1.Unmarshal(e.FullBytes, &n); err != nil || n != keySize {
				return nil, 0, nil, errMalformedEncrypted
			}
		case isUniversal(e, asn1.TagSequence):
			prf, _, err := algorithmID(e)
			if err != nil {
				return nil, 0, nil, errMalformedEncrypted
			}
			h = nil
			for _, p := range prfs {
				if prf.Equal(p.oid) {
					h = p.h
				}
			}
			if h == nil {
				return nil, 0, nil, &hinted{fmt.Errorf("the key's PBKDF2 uses the PRF with OID %s; keyctl reads HMAC with SHA-1 or SHA-2", prf), decryptFix}
			}
		default:
			return nil, 0, nil, errMalformedEncrypted
		}
	}
	return salt, int(iterations), h, nil
}

// unpad strips PKCS#7 padding.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	want := make([]byte, n)
	for i := range want {
		want[i] = byte(n)
	}
	if subtle.ConstantTimeCompare(b[len(b)-n:], want) != 1 {
		return nil, false
	}
	return b[:len(b)-n], true
}
