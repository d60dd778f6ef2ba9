// panva/jose baseline for testdata/bench/peers.sh: what `keyctl gen
// bearer-jwt --key KEY --role ROLE` does, in Node. Usage:
//   node jose-sign.mjs KEY.json ROLE
// peers.sh installs the pinned jose version in a temporary directory and
// runs a copy of this file from there, so that `import 'jose'` finds it.
import { readFileSync } from 'node:fs';
import { importJWK, SignJWT } from 'jose';

const [keyFile, role] = process.argv.slice(2);
const jwk = JSON.parse(readFileSync(keyFile, 'utf8'));
// WebCrypto refuses a private key whose key_ops include "verify" (as
// Supabase's and keyctl's JWKs do): import it for signing only.
delete jwk.key_ops;
const key = await importJWK(jwk, jwk.alg);
const now = Math.floor(Date.now() / 1000);
const claims = { role };
if (role.toLowerCase() === 'authenticated') claims.is_anonymous = true;
const token = await new SignJWT(claims)
  .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
  .setIssuedAt(now)
  .setExpirationTime(now + 1800)
  .sign(key);
process.stdout.write(token + '\n');
