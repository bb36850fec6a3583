// The browser's share-crypt.js under Node.js, for
// tests/integration/test_share_crypt_js.py:
//
//   node share_crypt_node.mjs MODULE encrypt blob|push KEYHEX MODE CHUNK [-s SALTHEX PREFIXHEX] IN OUT...
//   node share_crypt_node.mjs MODULE decrypt blob|push|stream KEYHEX IN OUT...
//   node share_crypt_node.mjs MODULE length|plain-length CHUNK LEN...
//   node share_crypt_node.mjs MODULE link KEYHEX | unlink LINKKEY | fragment HASH
//
// MODULE is the path of a copy of web/share-crypt.js named *.mjs (Node
// only loads ES modules by that name). Each IN file is encrypted or
// decrypted to its OUT file (several pairs per run: Node takes a while to
// start). decrypt writes to OUT what it could verify, and when the file is
// rejected "CODE CHUNK: message" to OUT.err, the same as share-crypt-tool
// writes to standard error.
import { webcrypto } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';

if (!globalThis.crypto || !globalThis.crypto.subtle) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true });
}

const [modPath, cmd, ...args] = process.argv.slice(2);
const sc = await import(pathToFileURL(modPath).href);

function hex(s) {
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

// Pieces of 1, 7, 4093 and 65537 bytes in turn, like share-crypt-tool.
function* pieces(data) {
  const sizes = [1, 7, 4093, 65537];
  for (let off = 0, turn = 0; off < data.length; turn++) {
    const n = Math.min(sizes[turn % 4], data.length - off);
    yield data.subarray(off, off + n);
    off += n;
  }
}

async function encryptOne(how, key, opts, inPath, outPath) {
  const data = new Uint8Array(fs.readFileSync(inPath));
  const fd = fs.openSync(outPath, 'w');
  if (how === 'blob') {
    for await (const part of sc.encryptBlob(new Blob([data]), key, opts)) fs.writeSync(fd, part);
  } else {
    const enc = await sc.Encryptor.create(key, opts);
    for (const p of pieces(data)) for await (const part of enc.push(p)) fs.writeSync(fd, part);
    for await (const part of enc.finish()) fs.writeSync(fd, part);
  }
  fs.closeSync(fd);
}

async function encrypt([how, keyHex, mode, chunk, ...files]) {
  const key = hex(keyHex);
  const opts = { mode: Number(mode), chunkSize: Number(chunk) };
  if (files[0] === '-s') {
    const h = sc.newHeader(opts.mode, opts.chunkSize);
    h.salt = hex(files[1]);
    h.noncePrefix = hex(files[2]);
    opts.header = h;
    files = files.slice(3);
  }
  for (let i = 0; i + 1 < files.length; i += 2) await encryptOne(how, key, opts, files[i], files[i + 1]);
}

async function decryptOne(how, key, inPath, outPath) {
  const fd = fs.openSync(outPath, 'w');
  fs.rmSync(outPath + '.err', { force: true });
  try {
    if (how === 'blob') {
      const blob = new Blob([fs.readFileSync(inPath)]);
      for await (const part of sc.decryptBlob(blob, key)) fs.writeSync(fd, part);
    } else if (how === 'stream') {
      const stream = Readable.toWeb(fs.createReadStream(inPath, { highWaterMark: 5000 }));
      for await (const part of sc.decryptStream(stream, key)) fs.writeSync(fd, part);
    } else {
      const data = new Uint8Array(fs.readFileSync(inPath));
      const dec = await sc.Decryptor.create(key);
      for (const p of pieces(data)) for await (const part of dec.push(p)) fs.writeSync(fd, part);
      for await (const part of dec.finish()) fs.writeSync(fd, part);
    }
  } catch (e) {
    if (!(e instanceof sc.ShareCryptError)) throw e;
    fs.writeFileSync(outPath + '.err', `${e.code} ${e.chunk ?? 0}: ${e.message}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

async function decrypt([how, keyHex, ...files]) {
  const key = hex(keyHex);
  for (let i = 0; i + 1 < files.length; i += 2) await decryptOne(how, key, files[i], files[i + 1]);
}

function lengths(which, chunk, len) {
  const c = Number(chunk);
  const n = Number(len);
  if (which === 'length') {
    try {
      return String(sc.ciphertextLength(n, c));
    } catch {
      return 'invalid';
    }
  }
  const p = sc.plaintextLength(n, c);
  return p < 0 ? 'invalid' : String(p);
}

switch (cmd) {
  case 'encrypt':
    await encrypt(args);
    break;
  case 'decrypt':
    await decrypt(args);
    break;
  case 'length':
  case 'plain-length':
    for (const len of args.slice(1)) console.log(lengths(cmd, args[0], len));
    break;
  case 'link':
    console.log(sc.keyToLink(hex(args[0])));
    break;
  case 'unlink':
  case 'fragment':
    try {
      const k = cmd === 'unlink' ? sc.keyFromLink(args[0]) : sc.keyFromFragment(args[0]);
      console.log(Buffer.from(k).toString('hex'));
    } catch (e) {
      console.log('invalid');
      process.exitCode = 1;
    }
    break;
  default:
    console.error('unknown command ' + cmd);
    process.exitCode = 2;
}
