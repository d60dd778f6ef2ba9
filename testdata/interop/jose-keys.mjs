// node jose-keys.mjs
// For each private key keyctl generated (a JWK line, or a PEM PKCS#8 key
// given as {"pem":"...","alg":"..."}) on stdin: import it with jose
// (importJWK / importPKCS8), check that it is a private key, sign a token
// with it, and verify that token with the public key jose derives from it.
// Prints {"ok":true,"type","alg","kid","token"}: the token goes back to the
// Go test, which verifies it independently.
import { importJWK, importPKCS8, exportJWK, SignJWT, jwtVerify } from 'jose';
import { eachLine } from './lines.mjs';

await eachLine(async (line) => {
  const input = JSON.parse(line);
  let key, alg, kid;
  if (input.pem !== undefined) {
    alg = input.alg;
    kid = input.kid;
    key = await importPKCS8(input.pem, alg, { extractable: true });
  } else {
    alg = input.alg;
    kid = input.kid;
    key = await importJWK(input, alg, { extractable: true });
  }
  if (key.type !== 'private') {
    return { ok: false, code: 'NOT_PRIVATE', error: `imported as a ${key.type} key` };
  }
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ role: 'authenticated', sub: 'jose-interop' })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(key);
  // The public half, as jose exports it, verifies jose's own token.
  const pubJWK = publicJWK(await exportJWK(key));
  const pub = await importJWK({ ...pubJWK, alg }, alg);
  await jwtVerify(token, pub, { algorithms: [alg] });
  return { ok: true, type: key.type, alg, kid, token, public: pubJWK };
});

// publicJWK drops the private members of an exported JWK.
function publicJWK(jwk) {
  const pub = { ...jwk };
  for (const m of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) delete pub[m];
  return pub;
}
