// node supabase-getclaims.mjs SUPABASE_URL
// For each token on stdin, @supabase/auth-js's getClaims(token), the call
// supabase-js backends make, with the client's Auth URL at
// SUPABASE_URL/auth/v1 (what supabase-js derives from the project URL).
// Prints {"ok":true,"alg","kid","claims"} or {"ok":false,"code","error"}.
import { AuthClient } from '@supabase/auth-js';
import { eachLine } from './lines.mjs';

const client = new AuthClient({
  url: process.argv[2].replace(/\/+$/, '') + '/auth/v1',
  headers: { apikey: 'keyctl-interop' },
  persistSession: false,
  autoRefreshToken: false,
  detectSessionInUrl: false,
});

await eachLine(async (token) => {
  const { data, error } = await client.getClaims(token);
  if (error) {
    return { ok: false, code: error.code ?? error.name, error: error.message };
  }
  return { ok: true, alg: data.header.alg, kid: data.header.kid, claims: data.claims };
});
