// node jose-sign.mjs
// jose as the token issuer, keyctl as the verifier. One JSON request per
// line on stdin:
//   {"op":"generate","alg":"ES256"}  ->  {"ok":true,"jwk":{private JWK},"pem":"PKCS#8 PEM"}
//     a new key pair made by jose (generateKeyPair), exported as jose
//     exports keys (exportJWK: no kid, alg, use or key_ops; exportPKCS8)
//   {"op":"sign","alg":"ES256","kid":"...","jwk":{...},"claims":{...},"ttl":600}
//     ->  {"ok":true,"token":"..."}  signed with SignJWT, typ JWT, iat now,
//     exp now + ttl
import { generateKeyPair, exportJWK, exportPKCS8, importJWK, SignJWT } from 'jose';
import { eachLine } from './lines.mjs';

await eachLine(async (line) => {
  const req = JSON.parse(line);
  switch (req.op) {
    case 'generate': {
      const opts = { extractable: true };
      if (req.alg === 'RS256') opts.modulusLength = 2048;
      const { privateKey } = await generateKeyPair(req.alg, opts);
      return { ok: true, jwk: await exportJWK(privateKey), pem: await exportPKCS8(privateKey) };
    }
    case 'sign': {
      const key = await importJWK(req.jwk, req.alg);
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: req.alg, typ: 'JWT' };
      if (req.kid) header.kid = req.kid;
      const token = await new SignJWT(req.claims ?? {})
        .setProtectedHeader(header)
        .setIssuedAt(now)
        .setExpirationTime(now + (req.ttl ?? 600))
        .sign(key);
      return { ok: true, token };
    }
    default:
      throw new Error(`unknown op ${req.op}`);
  }
});
