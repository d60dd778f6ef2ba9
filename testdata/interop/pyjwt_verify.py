"""Verify keyctl tokens with Debian's python3-jwt (PyJWT).

usage: /usr/bin/python3 pyjwt_verify.py [--aud AUD] (--jwks FILE | --url JWKS_URL)
Reads one token per line on stdin and prints one JSON line per token:
{"ok": true, "alg", "kid", "claims"} or {"ok": false, "code", "error"}.
With --url, PyJWKClient fetches the JWKS from keyctl serve. With --aud the
aud claim must hold AUD (PyJWT refuses a token with an aud it was not told).
"""

import argparse
import json
import sys

import jwt

ALGORITHMS = ["ES256", "RS256", "EdDSA"]


def main():
    p = argparse.ArgumentParser()
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--jwks")
    g.add_argument("--url")
    p.add_argument("--aud")
    args = p.parse_args()

    if args.url:
        client = jwt.PyJWKClient(args.url, cache_keys=False)

        def key_for(token):
            return client.get_signing_key_from_jwt(token).key

    else:
        with open(args.jwks, encoding="utf-8") as f:
            jwks = jwt.PyJWKSet.from_json(f.read())

        def key_for(token):
            kid = jwt.get_unverified_header(token).get("kid")
            for k in jwks.keys:
                if k.key_id == kid:
                    return k.key
            raise jwt.InvalidKeyError("no key with kid %r" % kid)

    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                key_for(token),
                algorithms=ALGORITHMS,
                audience=args.aud,
                options={"require": ["exp", "iat"]},
            )
            out = {"ok": True, "alg": header["alg"], "kid": header.get("kid"), "claims": claims}
        except Exception as e:  # every failure is a result, not a crash
            out = {"ok": False, "code": type(e).__name__, "error": str(e)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
