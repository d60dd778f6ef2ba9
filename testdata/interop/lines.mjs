// Shared plumbing for the interop scripts: read one request per line on
// stdin, answer with one JSON line on stdout, in order. The Go tests drive a
// script interactively (verify, rotate a key, verify again) through this.
import readline from 'node:readline';

export async function eachLine(handle) {
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    const input = line.trim();
    if (input === '') continue;
    let result;
    try {
      result = await handle(input);
    } catch (e) {
      result = { ok: false, code: e?.code ?? e?.name ?? 'Error', error: String(e?.message ?? e) };
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  }
}
