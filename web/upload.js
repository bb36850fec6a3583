// upload.js: putting a file's octets to the portal (PUT /api/uploads/UPLOAD/
// FILE, docs/share-api.md), in segments, with progress, resuming after a
// dropped connection.
//
// A file is sent as PUTs of at most SEGMENT octets, each with Content-Range
// from where the server stands (a file that fits in one goes whole, without
// Content-Range). When the network fails, the uploader asks the server with
// HEAD how much it holds (Upload-Offset) and goes on from there, up to
// RETRIES times in a row; a 409 answer says the same in its "stored". So a
// large file never sits in memory: a segment of a plain file is a slice of
// the File (read by the browser as it sends), and a segment of an end-to-end
// file is encrypted just before it is sent (encryptBlobFrom can start
// anywhere in the encrypted file).

import { ApiError } from './api.js';
import { encryptBlobFrom } from './share-crypt.js';

export const SEGMENT = 8 * 1024 * 1024;
export const RETRIES = 5;
const RETRY_WAIT_MS = [500, 1000, 2000, 4000, 8000];

class NetworkError extends Error {}

// A source of octets to upload: size, and read(start, end) -> Blob.
export function plainSource(file) {
  return { size: file.size, read: async (start, end) => file.slice(start, end) };
}

// The encrypted form of file under key, with header (newHeader(MODE.E2E)):
// the same octets at every read, so a resumed upload continues the same
// file.
export function encryptedSource(file, key, header, size) {
  return {
    size,
    async read(start, end) {
      const parts = [];
      let n = 0;
      for await (const p of encryptBlobFrom(file, key, header, start)) {
        const take = Math.min(p.length, end - start - n);
        parts.push(take === p.length ? p : p.subarray(0, take));
        n += take;
        if (n >= end - start) break;
      }
      return new Blob(parts);
    },
  };
}

function put(url, blob, start, size, onSent) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    if (!(start === 0 && blob.size === size)) {
      x.setRequestHeader('Content-Range', `bytes ${start}-${start + blob.size - 1}/${size}`);
    }
    x.upload.onprogress = (e) => onSent(start + e.loaded);
    x.onload = () => {
      let doc = {};
      try {
        doc = x.responseText ? JSON.parse(x.responseText) : {};
      } catch {
        doc = { error: `the server's answer cannot be read (${x.status})` };
      }
      resolve({ status: x.status, doc });
    };
    x.onerror = () => reject(new NetworkError('the connection failed'));
    x.onabort = () => reject(new NetworkError('the upload was interrupted'));
    x.ontimeout = () => reject(new NetworkError('the upload timed out'));
    x.send(blob);
  });
}

// Where the server stands: the octets it holds of the file at url.
async function offsetOf(url) {
  const r = await fetch(url, { method: 'HEAD', cache: 'no-store', credentials: 'same-origin' });
  if (!r.ok) throw new ApiError(r.status, { error: `the upload cannot be resumed (${r.status})` });
  const n = Number(r.headers.get('Upload-Offset'));
  if (!Number.isSafeInteger(n) || n < 0) throw new ApiError(r.status, { error: 'no Upload-Offset' });
  return n;
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// Upload source (plainSource or encryptedSource) to url. onProgress(sent,
// size) as octets go out; onNote(text) tells of retries. Resolves to the
// last answer ({stored, size, complete}); throws ApiError when the server
// refuses, or the network error once RETRIES retries in a row have failed.
export async function uploadFile(url, source, { onProgress = () => {}, onNote = () => {} } = {}) {
  const size = source.size;
  let offset = 0;
  let failures = 0;
  let last = null;
  onProgress(0, size);
  // An empty file is one PUT of nothing.
  while (offset < size || last === null) {
    const end = Math.min(offset + SEGMENT, size);
    try {
      const blob = await source.read(offset, end);
      const r = await put(url, blob, offset, size, (sent) => onProgress(sent, size));
      if (r.status === 409 && Number.isSafeInteger(r.doc.stored)) {
        offset = r.doc.stored; // the server holds another amount: go on from there
        if (++failures > RETRIES) throw new ApiError(r.status, r.doc);
        continue;
      }
      if (r.status < 200 || r.status > 299) throw new ApiError(r.status, r.doc);
      last = r.doc;
      const before = offset;
      offset = Number.isSafeInteger(r.doc.stored) ? r.doc.stored : end;
      if (offset > before || size === 0) failures = 0;
      else if (++failures > RETRIES) throw new ApiError(r.status, { error: 'the upload does not advance' });
      onProgress(offset, size);
    } catch (e) {
      if (!(e instanceof NetworkError) || failures >= RETRIES) throw e;
      const wait = RETRY_WAIT_MS[Math.min(failures, RETRY_WAIT_MS.length - 1)];
      failures++;
      onNote(`${e.message}; trying again (${failures} of ${RETRIES})…`);
      await sleep(wait);
      try {
        offset = await offsetOf(url);
      } catch (h) {
        if (h instanceof ApiError) throw h;
        // the network is still down: retry with what we had
      }
      onProgress(offset, size);
    }
  }
  return last;
}
