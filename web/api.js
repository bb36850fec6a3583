// api.js: the share portal's JSON API (docs/share-api.md) for the pages.
//
// call(method, path, options) sends a request on the page's own origin (the
// session cookie goes with it) and resolves to {status, ok, doc, headers}:
// doc is the parsed JSON answer, {} for an empty one, or {error} when the
// answer is not JSON. It rejects only when the network fails. options:
//   json: a value sent as application/json
//   form: an object sent as application/x-www-form-urlencoded
// The helpers below throw ApiError for any answer that is not a success.

export class ApiError extends Error {
  constructor(status, doc) {
    super((doc && doc.error) || `the server refused (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.doc = doc || {};
  }
}

export async function call(method, path, { json, form } = {}) {
  const init = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
    init.body = new URLSearchParams(form).toString();
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let doc = {};
  if (text) {
    try {
      doc = JSON.parse(text);
    } catch {
      doc = { error: `the server's answer cannot be read (${r.status})` };
    }
  }
  return { status: r.status, ok: r.ok, doc, headers: r.headers };
}

// call(), then the answer's document if it is a success, else ApiError.
export async function must(method, path, options) {
  const r = await call(method, path, options);
  if (!r.ok) throw new ApiError(r.status, r.doc);
  return r.doc;
}

const seg = encodeURIComponent;

// ---- senders ----
export const session = () => call('GET', '/api/session');
export const login = (user, password) => call('POST', '/api/login', { form: { user, password } });
export const logout = () => call('POST', '/api/logout');
export const createTransfer = (body) => call('POST', '/api/transfers', { json: body });
export const listTransfers = () => must('GET', '/api/transfers');
export const getTransfer = (id) => must('GET', `/api/transfers/${seg(id)}`);
export const transferLog = (id) => must('GET', `/api/transfers/${seg(id)}/log`);
export const revokeTransfer = (id) => must('DELETE', `/api/transfers/${seg(id)}`);
export const unlockRecipient = (id, recipient) =>
  must('POST', `/api/transfers/${seg(id)}/unlock`, { json: { recipient } });

// ---- uploads (the sender's, or a replying recipient's) ----
export const sendUpload = (upload) => call('POST', `/api/uploads/${seg(upload)}/send`);

// ---- recipients ----
export const unlockTransfer = (token, fields) =>
  call('POST', `/api/r/${seg(token)}/unlock`, { form: fields });
export const fileUrl = (token, file, grant) =>
  `/api/r/${seg(token)}/files/${seg(file)}?grant=${seg(grant)}`;
export const createReply = (token, grant, body) =>
  call('POST', `/api/r/${seg(token)}/reply?grant=${seg(grant)}`, { json: body });
