package jwk

// WithDefaultKID returns k with a kid: k itself when it has one, else a
// copy whose kid is the RFC 7638 thumbprint of its public half (the same
// for the private key and the public key, so a token minted from a PEM
// file names the key any JWKS of it holds). changed reports a new kid. A
// shared secret stays kid-less: a kid-less HS256 token means the legacy
// secret, and a thumbprint of a secret is no name to publish.
func (k *Key) WithDefaultKID() (key *Key, changed bool, err error) {
	if k.KID != "" || k.IsSymmetric() {
		return k, false, nil
	}
	tp, err := k.Thumbprint()
	if err != nil {
		return nil, false, err
	}
	c := *k
	c.KID = tp
	return &c, true, nil
}
