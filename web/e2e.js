// e2e.js: end-to-end transfers in the browser (docs/share-api.md, e2e
// mode). The sender's browser makes the data key, encrypts the message, each
// file's description {name, type, size, sha256} and each file
// (share-crypt.js, mode 3); the key goes only into the links' fragment
// (#e2e&k=KEY), which browsers never send to a server. The recipient's
// browser decrypts with the key of the fragment, or one pasted in.
//
// The link carries "e2e" besides the key so that the download page knows
// not to send the key to the server (a link-mode link, #k=KEY, is the
// server's and goes back to it to unlock).

import {
  MODE,
  base64urlDecode,
  base64urlEncode,
  ciphertextLength,
  decryptBytes,
  decryptStream,
  encryptBytes,
  generateKey,
  keyFromFragment,
  keyFromLink,
  keyToLink,
  newHeader,
} from './share-crypt.js';
import { Sha256, sha256Blob } from './sha256.js';
import { encryptedSource } from './upload.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

// Prepare an end-to-end transfer of files (File objects) with message:
// resolves to {key, body, items}: body is what POST /api/transfers takes
// (with mode, message and files filled in), items the upload sources.
// onHashing(file, done) while the checksums are computed (the whole file is
// read once for it before anything is sent).
export async function prepareE2E(files, message, onHashing = () => {}) {
  const key = generateKey();
  const out = { key, files: [], items: [] };
  for (const f of files) {
    const sha256 = await sha256Blob(f, (done) => onHashing(f, done));
    const desc = { name: f.name, type: f.type || 'application/octet-stream', size: f.size, sha256 };
    const meta = base64urlEncode(await encryptBytes(key, utf8.encode(JSON.stringify(desc))));
    const size = ciphertextLength(f.size);
    out.files.push({ size, meta });
    out.items.push({ name: f.name, source: encryptedSource(f, key, newHeader(MODE.E2E), size) });
  }
  out.message = message ? base64urlEncode(await encryptBytes(key, utf8.encode(message))) : '';
  return out;
}

// The link of a recipient's token with the key in its fragment.
export function e2eLink(token, key) {
  return `${location.origin}/t/${encodeURIComponent(token)}#e2e&k=${keyToLink(key)}`;
}

// Is this fragment (location.hash) an end-to-end link's?
export function isE2EFragment(hash) {
  return hash.replace(/^#/, '').split('&').includes('e2e');
}

// The key from what a recipient pasted: the whole link, its fragment, or
// the 43 characters of the key. Throws ShareCryptError('bad-key').
export function keyFromPasted(text) {
  const t = text.trim();
  const hash = t.indexOf('#');
  if (hash >= 0) return keyFromFragment(t.slice(hash));
  return keyFromLink(t.startsWith('k=') ? t.slice(2) : t);
}

// Decrypt a base64url share-crypt text (the message) to a string.
export async function decryptText(key, b64) {
  if (!b64) return '';
  const bytes = base64urlDecode(b64);
  if (!bytes) throw new Error('the message is not base64url');
  return fromUtf8.decode(await decryptBytes(key, bytes));
}

// Decrypt a file's description to {name, type, size, sha256}.
export async function decryptMeta(key, b64) {
  const d = JSON.parse(await decryptText(key, b64));
  return {
    name: typeof d.name === 'string' && d.name ? d.name : 'file',
    type: typeof d.type === 'string' ? d.type : 'application/octet-stream',
    size: Number.isSafeInteger(d.size) ? d.size : 0,
    sha256: typeof d.sha256 === 'string' ? d.sha256 : '',
  };
}

// Download the ciphertext at url and decrypt it as it arrives: resolves to
// {blob, sha256} once the whole file has been verified; onProgress(octets
// of plaintext so far). Throws ShareCryptError for a damaged or cut file.
// The plaintext is kept by the browser as a Blob until it is saved.
export async function fetchAndDecrypt(url, key, meta, onProgress = () => {}) {
  const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
  if (!r.ok || !r.body) {
    const doc = await r.json().catch(() => ({}));
    throw new Error(doc.error || `the download was refused (${r.status})`);
  }
  const parts = [];
  const h = new Sha256();
  let n = 0;
  for await (const p of decryptStream(r.body, key)) {
    parts.push(p);
    h.update(p);
    n += p.length;
    onProgress(n);
  }
  return { blob: new Blob(parts, { type: meta.type }), sha256: h.hex() };
}
