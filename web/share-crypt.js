// share-crypt.js: the share portal's encrypted file format in the browser.
//
// The same format as postino's src/share/share-crypt.c (docs/share-format.md
// describes it byte by byte), with WebCrypto only: a 56-byte header, then
// AES-256-GCM chunks of chunkSize plaintext bytes (the last one shorter,
// marked final in its additional data), under a per-file key derived with
// HKDF-SHA-256 from the 32-byte data key and the header's salt.
//
// Files are read and written one chunk at a time (Blob/File slices), so
// memory stays constant whatever the file size. A decrypted chunk is handed
// out only after its tag has been verified (WebCrypto returns nothing
// otherwise); the caller must still wait for the end (finish() or the end of
// decryptBlob) before treating the output as the whole file.
//
// A plain ES module, no dependencies; runs in browsers and in Node.js 18+
// (globalThis.crypto.subtle).

export const MAGIC = 'PSTNSHR1';
export const VERSION = 1;
export const HEADER_LEN = 56;
export const TAG_LEN = 16;
export const KEY_LEN = 32;
export const SALT_LEN = 16;
export const NONCE_PREFIX_LEN = 8;
export const KEY_CHECK_LEN = 16;
export const CHUNK_DEFAULT = 65536;
export const CHUNK_MIN = 16;
export const CHUNK_MAX = 1048576;
export const CHUNKS_MAX = 2 ** 32;
export const LINK_KEY_LEN = 43;
// How the data key of a file is kept (authenticated in the header).
export const MODE = Object.freeze({ PASSWORD: 1, LINK: 2, E2E: 3 });

const HKDF_INFO = 'postino share v1 file key';
const AAD_LEN = HEADER_LEN + 5;

// The errors, with the same meaning as enum share_crypt_error:
// 'bad-header', 'wrong-key', 'auth', 'truncated', 'trailing', 'format',
// 'too-long' (and 'bad-key' for a key in a link that is not one); chunk is
// the chunk concerned where there is one.
export class ShareCryptError extends Error {
  constructor(code, message, chunk = null) {
    super(message);
    this.name = 'ShareCryptError';
    this.code = code;
    this.chunk = chunk;
  }
}

function subtle() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) {
    throw new Error('WebCrypto is not available (a secure context is needed)');
  }
  return c.subtle;
}

function bytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError('expected bytes (Uint8Array, ArrayBuffer or a view)');
}

function chunkSizeOk(c) {
  return Number.isInteger(c) && c >= CHUNK_MIN && c <= CHUNK_MAX;
}

function modeOk(m) {
  return m === MODE.PASSWORD || m === MODE.LINK || m === MODE.E2E;
}

// ---- base64url, unpadded and strict (one encoding per value) ----

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export function base64urlEncode(data) {
  const b = bytes(data);
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const v = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += B64[(v >> 18) & 63] + B64[(v >> 12) & 63];
    if (i + 1 < b.length) out += B64[(v >> 6) & 63];
    if (i + 2 < b.length) out += B64[v & 63];
  }
  return out;
}

// Returns the bytes, or null if s is not canonical unpadded base64url.
export function base64urlDecode(s) {
  if (typeof s !== 'string' || s.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let w = 0;
  for (let i = 0; i < s.length; i++) {
    const d = B64.indexOf(s[i]);
    if (d < 0) return null;
    acc = (acc << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[w++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) return null;
  return out.subarray(0, w);
}

// ---- keys ----

// A fresh random 32-byte data key.
export function generateKey() {
  return globalThis.crypto.getRandomValues(new Uint8Array(KEY_LEN));
}

// The key as it goes into a link: 43 characters, as in "#k=...".
export function keyToLink(key) {
  const k = bytes(key);
  if (k.length !== KEY_LEN) throw new TypeError('a data key is 32 bytes');
  return base64urlEncode(k);
}

// The key from its 43 characters; throws if they are not exactly that.
export function keyFromLink(s) {
  const k = typeof s === 'string' && s.length === LINK_KEY_LEN ? base64urlDecode(s) : null;
  if (!k || k.length !== KEY_LEN) throw new ShareCryptError('bad-key', 'not a key from a link');
  return k;
}

// The key from a URL fragment such as location.hash: "#k=..." (other
// "&"-separated parameters are allowed). Throws if there is none.
export function keyFromFragment(hash) {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  for (const part of h.split('&')) {
    if (part.startsWith('k=')) return keyFromLink(part.slice(2));
  }
  throw new ShareCryptError('bad-key', 'no key in the link');
}

// ---- lengths ----

// The encrypted length of plainLen bytes, header included.
export function ciphertextLength(plainLen, chunkSize = CHUNK_DEFAULT) {
  if (!chunkSizeOk(chunkSize) || !Number.isSafeInteger(plainLen) || plainLen < 0) {
    throw new RangeError('bad length or chunk size');
  }
  const chunks = Math.max(1, Math.ceil(plainLen / chunkSize));
  if (chunks > CHUNKS_MAX) throw new RangeError('too many chunks');
  return HEADER_LEN + plainLen + chunks * TAG_LEN;
}

// The plaintext length of an encrypted file of cipherLen bytes, or -1 if
// no file encrypts to that length.
export function plaintextLength(cipherLen, chunkSize = CHUNK_DEFAULT) {
  if (!chunkSizeOk(chunkSize) || !Number.isSafeInteger(cipherLen)) {
    throw new RangeError('bad length or chunk size');
  }
  if (cipherLen < HEADER_LEN + TAG_LEN) return -1;
  const body = cipherLen - HEADER_LEN;
  const full = chunkSize + TAG_LEN;
  const n = Math.floor(body / full);
  const rem = body % full;
  if (n + (rem !== 0 ? 1 : 0) > CHUNKS_MAX) return -1;
  if (rem === 0) return n * chunkSize;
  if (rem < TAG_LEN || (rem === TAG_LEN && n > 0)) return -1;
  return n * chunkSize + rem - TAG_LEN;
}

// ---- the header ----

// A header object for a new file: fresh salt and nonce prefix.
export function newHeader(mode = MODE.E2E, chunkSize = CHUNK_DEFAULT) {
  if (!modeOk(mode)) throw new RangeError('unknown mode');
  if (!chunkSizeOk(chunkSize)) throw new RangeError('chunk size out of bounds');
  const c = globalThis.crypto;
  return {
    version: VERSION,
    mode,
    chunkSize,
    salt: c.getRandomValues(new Uint8Array(SALT_LEN)),
    noncePrefix: c.getRandomValues(new Uint8Array(NONCE_PREFIX_LEN)),
    keyCheck: new Uint8Array(KEY_CHECK_LEN),
  };
}

// The 56 bytes of a header object.
export function formatHeader(h) {
  const out = new Uint8Array(HEADER_LEN);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  out[8] = h.version;
  out[9] = h.mode;
  new DataView(out.buffer).setUint32(12, h.chunkSize, false);
  out.set(h.salt, 16);
  out.set(h.noncePrefix, 32);
  out.set(h.keyCheck, 40);
  return out;
}

// Parse the first 56 bytes; throws ShareCryptError('bad-header') with the
// reason. No key needed.
export function parseHeader(data) {
  const b = bytes(data);
  const bad = (why) => new ShareCryptError('bad-header', 'bad header: ' + why);
  if (b.length < HEADER_LEN) throw bad('header too short');
  for (let i = 0; i < 8; i++) {
    if (b[i] !== MAGIC.charCodeAt(i)) throw bad('not a postino share file (bad magic)');
  }
  if (b[8] !== VERSION) throw bad('unknown format version');
  if (!modeOk(b[9])) throw bad('unknown key mode');
  if (b[10] !== 0 || b[11] !== 0) throw bad('reserved header bytes are not zero');
  const chunkSize = new DataView(b.buffer, b.byteOffset, HEADER_LEN).getUint32(12, false);
  if (!chunkSizeOk(chunkSize)) throw bad('chunk size out of bounds');
  return {
    version: b[8],
    mode: b[9],
    chunkSize,
    salt: b.slice(16, 32),
    noncePrefix: b.slice(32, 40),
    keyCheck: b.slice(40, 56),
  };
}

// ---- the per-file key and the chunks ----

// HKDF-SHA-256(key, salt, info): the file's AES-GCM key and its key check.
async function fileKey(key, salt) {
  const k = bytes(key);
  if (k.length !== KEY_LEN) throw new TypeError('a data key is 32 bytes');
  const s = subtle();
  const ikm = await s.importKey('raw', k, 'HKDF', false, ['deriveBits']);
  const okm = new Uint8Array(
    await s.deriveBits(
      { name: 'HKDF', hash: 'SHA-256', salt, info: new TextEncoder().encode(HKDF_INFO) },
      ikm,
      (KEY_LEN + KEY_CHECK_LEN) * 8,
    ),
  );
  const aesKey = await s.importKey('raw', okm.subarray(0, KEY_LEN), { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ]);
  const check = okm.slice(KEY_LEN);
  okm.fill(0);
  return { aesKey, check };
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// The AES-GCM parameters of chunk index: IV = prefix || index, AAD =
// header || index || final.
function chunkParams(hdr, index, final) {
  const iv = new Uint8Array(12);
  iv.set(hdr.subarray(32, 40), 0);
  new DataView(iv.buffer).setUint32(8, index, false);
  const aad = new Uint8Array(AAD_LEN);
  aad.set(hdr, 0);
  new DataView(aad.buffer).setUint32(HEADER_LEN, index, false);
  aad[HEADER_LEN + 4] = final ? 1 : 0;
  return { name: 'AES-GCM', iv, additionalData: aad, tagLength: TAG_LEN * 8 };
}

// ---- encryption ----

// Push-based: push(bytes) and finish() are async generators of output
// pieces (the header first, then whole chunks); iterate them to the end
// (for await ... of) before the next call.
export class Encryptor {
  // key: 32 bytes. options: mode, chunkSize, or header (a header object:
  // for known-answer tests, and to resume an interrupted encryption; its
  // keyCheck is filled in); startChunk: resume at that chunk (docs/
  // share-format.md, "Resuming an interrupted encryption"): the header is
  // not written again and the next data pushed is plaintext piece
  // startChunk.
  static async create(
    key,
    { mode = MODE.E2E, chunkSize = CHUNK_DEFAULT, header = null, startChunk = 0 } = {},
  ) {
    const h = header ? { ...header } : newHeader(mode, chunkSize);
    if (!modeOk(h.mode) || !chunkSizeOk(h.chunkSize) || h.version !== VERSION) {
      throw new RangeError('invalid header');
    }
    if (!Number.isSafeInteger(startChunk) || startChunk < 0 || startChunk >= CHUNKS_MAX) {
      throw new RangeError('bad start chunk');
    }
    const { aesKey, check } = await fileKey(key, h.salt);
    h.keyCheck = check;
    const enc = new Encryptor(h, aesKey);
    enc.index = startChunk;
    enc.headerSent = startChunk > 0;
    return enc;
  }

  constructor(header, aesKey) {
    this.header = header;
    this.headerBytes = formatHeader(header);
    this.aesKey = aesKey;
    this.plain = new Uint8Array(header.chunkSize);
    this.plainLen = 0;
    this.index = 0;
    this.headerSent = false;
    this.finished = false;
  }

  async seal(data, final) {
    if (!final && this.index >= CHUNKS_MAX - 1) {
      throw new ShareCryptError('too-long', 'too many chunks');
    }
    const p = chunkParams(this.headerBytes, this.index, final);
    const out = new Uint8Array(await subtle().encrypt(p, this.aesKey, data));
    this.index++;
    return out;
  }

  *takeHeader() {
    if (!this.headerSent) {
      this.headerSent = true;
      yield this.headerBytes.slice();
    }
  }

  async *push(data) {
    if (this.finished) throw new Error('data after the end');
    let b = bytes(data);
    const c = this.header.chunkSize;
    yield* this.takeHeader();
    while (b.length > 0) {
      // A full chunk with more data after it is not the last one.
      if (this.plainLen === c) {
        const sealed = await this.seal(this.plain, false);
        this.plainLen = 0;
        yield sealed;
      }
      const take = Math.min(c - this.plainLen, b.length);
      this.plain.set(b.subarray(0, take), this.plainLen);
      this.plainLen += take;
      b = b.subarray(take);
    }
  }

  async *finish() {
    if (this.finished) throw new Error('finished twice');
    yield* this.takeHeader();
    const sealed = await this.seal(this.plain.subarray(0, this.plainLen), true);
    this.finished = true;
    this.plain.fill(0);
    yield sealed;
  }
}

// ---- decryption ----

export class Decryptor {
  static async create(key) {
    const k = bytes(key);
    if (k.length !== KEY_LEN) throw new TypeError('a data key is 32 bytes');
    return new Decryptor(k.slice());
  }

  constructor(key) {
    this.key = key;
    this.hdr = new Uint8Array(HEADER_LEN);
    this.hdrLen = 0;
    this.header = null; // the parsed header, once its key check matched
    this.aesKey = null;
    this.buf = null;
    this.bufLen = 0;
    this.index = 0;
    this.plainBytes = 0;
    this.failed = null;
    this.finished = false;
  }

  fail(code, message, chunk = null) {
    this.failed = new ShareCryptError(code, message, chunk);
    throw this.failed;
  }

  async start() {
    let h;
    try {
      h = parseHeader(this.hdr);
    } catch (e) {
      this.fail('bad-header', e.message);
    }
    const { aesKey, check } = await fileKey(this.key, h.salt);
    if (!sameBytes(check, h.keyCheck)) this.fail('wrong-key', 'wrong key');
    this.key.fill(0);
    this.aesKey = aesKey;
    this.header = h;
    this.buf = new Uint8Array(h.chunkSize + TAG_LEN);
  }

  async open(data, final) {
    try {
      return new Uint8Array(
        await subtle().decrypt(chunkParams(this.hdr, this.index, final), this.aesKey, data),
      );
    } catch (e) {
      if (e && e.name === 'OperationError') return null;
      throw e;
    }
  }

  // Verify and return the plaintext of the current chunk (data: ciphertext
  // and tag). On failure the other flag tells a stream cut after a whole
  // chunk, or going on after its final one, from damage.
  async chunk(data, final) {
    const full = this.header.chunkSize + TAG_LEN;
    const k = this.index;
    if (!final && k >= CHUNKS_MAX - 1) this.fail('too-long', 'too many chunks');
    const plain = await this.open(data, final);
    if (plain === null) {
      if (data.length === full && (await this.open(data, !final)) !== null) {
        if (final) {
          this.fail(
            'truncated',
            `truncated: the stream ends without its final chunk, after chunk ${k}`,
            k,
          );
        }
        this.fail('trailing', `data after the final chunk, which is chunk ${k}`, k);
      }
      this.fail('auth', `authentication failed at chunk ${k}`, k);
    }
    if (final && plain.length === 0 && k > 0) {
      this.fail('format', `empty final chunk at chunk ${k}`, k);
    }
    this.index++;
    this.plainBytes += plain.length;
    return plain;
  }

  // Feed encrypted bytes: an async generator of the verified plaintext of
  // each chunk now known not to be the last one (iterate it to the end
  // before the next call). Throws ShareCryptError once it meets a bad
  // chunk, after yielding the good ones before it; after an error every
  // call throws it again.
  async *push(data) {
    if (this.failed) throw this.failed;
    if (this.finished) throw new Error('data after the end');
    let b = bytes(data);
    if (!this.header) {
      const take = Math.min(HEADER_LEN - this.hdrLen, b.length);
      this.hdr.set(b.subarray(0, take), this.hdrLen);
      this.hdrLen += take;
      b = b.subarray(take);
      if (this.hdrLen < HEADER_LEN) return;
      await this.start();
    }
    const full = this.header.chunkSize + TAG_LEN;
    while (b.length > 0) {
      // A whole chunk with more bytes after it is not the last one.
      if (this.bufLen === full) {
        const p = await this.chunk(this.buf, false);
        this.bufLen = 0;
        if (p.length) yield p;
      }
      const take = Math.min(full - this.bufLen, b.length);
      this.buf.set(b.subarray(0, take), this.bufLen);
      this.bufLen += take;
      b = b.subarray(take);
    }
  }

  // End of the encrypted file: yields the final chunk's plaintext (if not
  // empty). Only once this generator is done is the plaintext known to be
  // the whole file.
  async *finish() {
    if (this.failed) throw this.failed;
    if (this.finished) throw new Error('finished twice');
    if (!this.header) this.fail('truncated', 'truncated: the stream ends in the header', 0);
    if (this.bufLen < TAG_LEN) {
      this.fail('truncated', `truncated: the stream ends inside chunk ${this.index}`, this.index);
    }
    const p = await this.chunk(this.buf.subarray(0, this.bufLen), true);
    this.finished = true;
    this.bufLen = 0;
    if (p.length) yield p;
  }
}

// ---- Blobs and streams ----

async function sliceBytes(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

// Encrypt a Blob (or File) chunk by chunk: yields the header, then each
// encrypted chunk (Uint8Array). Options as Encryptor.create.
export async function* encryptBlob(blob, key, options = {}) {
  const enc = await Encryptor.create(key, options);
  const c = enc.header.chunkSize;
  for (let off = 0; off < blob.size; off += c) {
    yield* enc.push(await sliceBytes(blob, off, Math.min(off + c, blob.size)));
  }
  yield* enc.finish();
}

// The encrypted bytes of a Blob from offset start of the encrypted file to
// its end, chunk by chunk: the same bytes as encryptBlob with the same key
// and header (a header object, as newHeader makes), so an interrupted
// upload goes on where the server stands without keeping what was sent.
export async function* encryptBlobFrom(blob, key, header, start = 0) {
  const c = header.chunkSize;
  const full = c + TAG_LEN;
  const total = ciphertextLength(blob.size, c);
  if (!Number.isSafeInteger(start) || start < 0 || start > total) {
    throw new RangeError('start outside the encrypted file');
  }
  if (start === total) return;
  const k = start < HEADER_LEN ? 0 : Math.floor((start - HEADER_LEN) / full);
  // what the encryptor writes first and is already sent: from chunk 0 the
  // header comes first
  let skip = k === 0 ? start : start - HEADER_LEN - k * full;
  const enc = await Encryptor.create(key, { header, startChunk: k });
  const cut = function* (pieces) {
    for (const p of pieces) {
      if (skip >= p.length) {
        skip -= p.length;
      } else {
        yield skip ? p.subarray(skip) : p;
        skip = 0;
      }
    }
  };
  for (let off = k * c; off < blob.size; off += c) {
    const out = [];
    for await (const p of enc.push(await sliceBytes(blob, off, Math.min(off + c, blob.size)))) {
      out.push(p);
    }
    yield* cut(out);
  }
  const out = [];
  for await (const p of enc.finish()) out.push(p);
  yield* cut(out);
}

// Encrypt bytes held in memory (a message, a file's description) into one
// Uint8Array. Options as Encryptor.create.
export async function encryptBytes(key, data, options = {}) {
  const enc = await Encryptor.create(key, options);
  const out = [];
  for await (const p of enc.push(bytes(data))) out.push(p);
  for await (const p of enc.finish()) out.push(p);
  return concat(out);
}

// Decrypt bytes held in memory into one Uint8Array; throws ShareCryptError.
export async function decryptBytes(key, data) {
  const dec = await Decryptor.create(key);
  const out = [];
  for await (const p of dec.push(bytes(data))) out.push(p);
  for await (const p of dec.finish()) out.push(p);
  return concat(out);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

// Decrypt a Blob chunk by chunk: yields verified plaintext (Uint8Array)
// pieces; throws ShareCryptError. The last piece comes only after the
// whole file has been verified.
export async function* decryptBlob(blob, key) {
  const dec = await Decryptor.create(key);
  let off = Math.min(HEADER_LEN, blob.size);
  yield* dec.push(await sliceBytes(blob, 0, off));
  if (dec.header) {
    const full = dec.header.chunkSize + TAG_LEN;
    for (; off < blob.size; off += full) {
      yield* dec.push(await sliceBytes(blob, off, Math.min(off + full, blob.size)));
    }
  }
  yield* dec.finish();
}

// Decrypt a ReadableStream of bytes (such as a fetch() response body):
// yields verified plaintext pieces; throws ShareCryptError.
export async function* decryptStream(stream, key) {
  const dec = await Decryptor.create(key);
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* dec.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  yield* dec.finish();
}
