// node jose-verify.mjs JWKS_URL
// For each token on stdin, panva/jose's jwtVerify against
// createRemoteJWKSet(JWKS_URL): {"ok":true,"alg","kid","claims"} or
// {"ok":false,"code","error"}. cooldownDuration 0 lets an unknown kid
// trigger a refetch at once, so a rotation shows on the next token.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { eachLine } from './lines.mjs';

const jwks = createRemoteJWKSet(new URL(process.argv[2]), { cooldownDuration: 0, timeoutDuration: 5000 });

await eachLine(async (token) => {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    algorithms: ['ES256', 'RS256', 'EdDSA'],
    typ: 'JWT',
  });
  return { ok: true, alg: protectedHeader.alg, kid: protectedHeader.kid, claims: payload };
});
