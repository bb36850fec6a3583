// The web pages' helper modules under Node.js, for
// tests/integration/test_web_modules.py:
//
//   node web_modules_node.mjs DIR
//
// DIR holds copies of web/sha256.js and web/share-crypt.js named *.mjs.
// Checks sha256.js against node:crypto at the lengths around the block and
// padding boundaries, fed in pieces of several sizes; and that
// share-crypt.js's encryptBlobFrom, started at every offset of an encrypted
// file, gives the rest of the same bytes (the resuming of an end-to-end
// upload), and that encryptBytes/decryptBytes round-trip. Prints "ok" or
// the failures, one a line, and exits 1.
import crypto from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.argv[2];
const { Sha256, sha256Blob } = await import(pathToFileURL(path.join(dir, 'sha256.mjs')).href);
const sc = await import(pathToFileURL(path.join(dir, 'share-crypt.mjs')).href);

const failures = [];
for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 100003]) {
  const d = crypto.randomBytes(n);
  const want = crypto.createHash('sha256').update(d).digest('hex');
  for (const step of [1, 7, 64, 1000, n || 1]) {
    const h = new Sha256();
    for (let o = 0; o < n; o += step) h.update(new Uint8Array(d.subarray(o, Math.min(o + step, n))));
    if (h.hex() !== want) failures.push(`sha256 of ${n} octets in pieces of ${step}`);
  }
  if ((await sha256Blob(new Blob([d]), () => {}, 77)) !== want) failures.push(`sha256Blob of ${n}`);
}

const key = sc.generateKey();
for (const n of [0, 1, 15, 16, 17, 48, 100]) {
  const plain = crypto.randomBytes(n);
  const blob = new Blob([plain]);
  const header = sc.newHeader(sc.MODE.E2E, 16);
  const collect = async (start) => {
    const out = [];
    for await (const p of sc.encryptBlobFrom(blob, key, header, start)) out.push(Buffer.from(p));
    return Buffer.concat(out);
  };
  const full = await collect(0);
  if (full.length !== sc.ciphertextLength(n, 16)) failures.push(`length of ${n}`);
  const back = Buffer.from(await sc.decryptBytes(key, full));
  if (!back.equals(plain)) failures.push(`round trip of ${n}`);
  for (let s = 0; s <= full.length; s++) {
    if (!(await collect(s)).equals(full.subarray(s))) {
      failures.push(`encryptBlobFrom ${n} octets from ${s}`);
      break;
    }
  }
}
const text = new TextEncoder().encode('a message, ünïcödé');
const sealed = await sc.encryptBytes(key, text);
if (Buffer.compare(Buffer.from(await sc.decryptBytes(key, sealed)), Buffer.from(text)) !== 0) {
  failures.push('encryptBytes/decryptBytes');
}
try {
  await sc.decryptBytes(sc.generateKey(), sealed);
  failures.push('decryptBytes with another key');
} catch (e) {
  if (e.code !== 'wrong-key') failures.push(`decryptBytes with another key: ${e.code}`);
}
console.log(failures.length ? failures.join('\n') : 'ok');
process.exit(failures.length ? 1 : 0);
