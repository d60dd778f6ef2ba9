"""Verify keyctl's tokens, and sign tokens for keyctl, with Debian's
python3-jwcrypto or python3-authlib.

usage: /usr/bin/python3 pylib_jwt.py LIB verify --url JWKS_URL [--aud AUD]
       /usr/bin/python3 pylib_jwt.py LIB sign
LIB is jwcrypto or authlib.

verify reads one token per line on stdin, fetches the JWKS from keyctl serve
(afresh per token, so a rotation shows at once) and prints one JSON line per
token: {"ok": true, "alg", "kid", "claims"} or {"ok": false, "code", "error"}.

sign reads one JSON request per line: {"alg", "kid", "claims"}; it generates
a key of that algorithm with the library, signs the claims under kid and
prints {"ok": true, "token", "jwk" (the public JWK), "private" (the private
JWK)} or {"ok": false, "code", "error"}.
"""

import argparse
import json
import sys
import urllib.request

ALGORITHMS = ["ES256", "RS256", "EdDSA"]
KEY_PARAMS = {"ES256": ("EC", "P-256"), "RS256": ("RSA", 2048), "EdDSA": ("OKP", "Ed25519")}


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode("utf-8")


def header_of(token):
    import base64

    seg = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


class JWCrypto:
    def __init__(self):
        from jwcrypto import jwk, jwt

        self.jwk, self.jwt = jwk, jwt

    def verify(self, token, jwks, aud):
        keyset = self.jwk.JWKSet.from_json(jwks)
        check = {"exp": None}
        if aud:
            check["aud"] = aud
        t = self.jwt.JWT(jwt=token, key=keyset, algs=ALGORITHMS, check_claims=check)
        return json.loads(t.claims)

    def sign(self, alg, kid, claims):
        kty, param = KEY_PARAMS[alg]
        if kty == "RSA":
            key = self.jwk.JWK.generate(kty=kty, size=param, kid=kid, alg=alg, use="sig")
        else:
            key = self.jwk.JWK.generate(kty=kty, crv=param, kid=kid, alg=alg, use="sig")
        t = self.jwt.JWT(header={"alg": alg, "kid": kid, "typ": "JWT"}, claims=claims)
        t.make_signed_token(key)
        return t.serialize(), key.export_public(as_dict=True), key.export_private(as_dict=True)


class Authlib:
    def __init__(self):
        from authlib.jose import JsonWebKey, JsonWebToken

        self.JsonWebKey = JsonWebKey
        self.jwt = JsonWebToken(ALGORITHMS)

    def verify(self, token, jwks, aud):
        keyset = self.JsonWebKey.import_key_set(json.loads(jwks))
        opts = {"exp": {"essential": True}}
        if aud:
            opts["aud"] = {"essential": True, "value": aud}
        claims = self.jwt.decode(token, keyset, claims_options=opts)
        claims.validate()
        return dict(claims)

    def sign(self, alg, kid, claims):
        kty, param = KEY_PARAMS[alg]
        key = self.JsonWebKey.generate_key(kty, param, options={"kid": kid, "alg": alg, "use": "sig"}, is_private=True)
        token = self.jwt.encode({"alg": alg, "kid": kid, "typ": "JWT"}, claims, key)
        return token.decode("ascii"), key.as_dict(is_private=False), key.as_dict(is_private=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lib", choices=["jwcrypto", "authlib"])
    p.add_argument("op", choices=["verify", "sign"])
    p.add_argument("--url")
    p.add_argument("--aud")
    args = p.parse_args()
    lib = JWCrypto() if args.lib == "jwcrypto" else Authlib()

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            if args.op == "verify":
                claims = lib.verify(line, fetch(args.url), args.aud)
                header = header_of(line)
                out = {"ok": True, "alg": header["alg"], "kid": header.get("kid"), "claims": claims}
            else:
                req = json.loads(line)
                token, public, private = lib.sign(req["alg"], req["kid"], req["claims"])
                out = {"ok": True, "token": token, "jwk": public, "private": private}
        except Exception as e:  # every failure is a result, not a crash
            out = {"ok": False, "code": type(e).__name__, "error": str(e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
