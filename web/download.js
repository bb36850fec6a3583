// The download page of a transfer (/t/TOKEN): unlock it with the password,
// with the key of a link-mode link (#k=KEY, sent to the server, which
// decrypts), or, for an end-to-end transfer (#e2e&k=KEY, or a key pasted in
// by the recipient), with nothing: then the key never leaves the browser,
// which decrypts the message, the descriptions and the files itself. Then
// the files are listed with size and checksum, and a secure reply can be
// sent (reply.js).

import { fileUrl, unlockTransfer } from './api.js';
import { decryptMeta, decryptText, fetchAndDecrypt, isE2EFragment, keyFromPasted } from './e2e.js';
import { initReply } from './reply.js';
import { keyFromFragment } from './share-crypt.js';
import { $, el, formatSize, formatTime, say, show } from './ui.js';

const token = location.pathname.split('/').pop();
const status = (text, kind = '') => say($('status'), text, kind);

// The files' descriptions: the server's (decrypted by it) or, end to end,
// decrypted here.
async function describe(doc, key) {
  const out = [];
  for (const f of doc.files) {
    let meta = null;
    if (key) meta = f.meta ? await decryptMeta(key, f.meta) : null;
    else if (f.meta && typeof f.meta === 'object') meta = f.meta;
    out.push({ ...f, meta: meta || { name: 'file', type: '', size: 0, sha256: '' } });
  }
  return out;
}

// Download and decrypt one end-to-end file, check its checksum, and offer
// it to save.
async function saveE2E(doc, key, f, cell, button) {
  button.disabled = true;
  const note = el('span', { className: 'progress-text' });
  cell.append(note);
  try {
    const { blob, sha256 } = await fetchAndDecrypt(
      fileUrl(token, f.id, doc.grant),
      key,
      f.meta,
      (n) => (note.textContent = ` ${formatSize(n)} of ${formatSize(f.meta.size)}`),
    );
    if (f.meta.sha256 && sha256 !== f.meta.sha256) {
      note.textContent = ' the checksum does not match: the file is not the one sent';
      note.className = 'error';
      return;
    }
    const a = el('a', {
      href: URL.createObjectURL(blob),
      download: f.meta.name,
      className: 'save',
    }, `Save ${f.meta.name}`);
    note.textContent = f.meta.sha256 ? ' decrypted, checksum verified ' : ' decrypted ';
    cell.append(a);
    a.click();
  } catch (e) {
    note.textContent = ` ${e.message}`;
    note.className = 'error';
    button.disabled = false;
  }
}

async function showTransfer(doc, key) {
  $('unlock').hidden = true;
  $('sender').textContent = doc.sender;
  $('expires').textContent = formatTime(doc.expires);
  $('e2e-note').hidden = !key;
  if (doc.reply_to) {
    $('reply-note').textContent = `A secure reply to your transfer ${doc.reply_to}.`;
    $('reply-note').hidden = false;
  }
  const message = key ? await decryptText(key, doc.message) : doc.message;
  if (message) {
    $('message').hidden = false;
    $('message').textContent = message;
  }
  const files = await describe(doc, key);
  const body = $('files');
  body.replaceChildren();
  for (const f of files) {
    const name = el('td');
    const action = el('td');
    if (!f.available) {
      name.textContent = `${f.meta.name} (not available)`;
    } else if (key) {
      name.textContent = f.meta.name;
      const b = el('button', { type: 'button', className: 'download' }, 'Download');
      b.addEventListener('click', () => saveE2E(doc, key, f, action, b));
      action.append(b);
    } else {
      name.append(
        el('a', { href: fileUrl(token, f.id, doc.grant), download: f.meta.name, className: 'download' },
          f.meta.name),
      );
    }
    body.append(
      el('tr', { dataset: { id: f.id } }, name, el('td', {}, formatSize(f.meta.size)),
        el('td', {}, el('code', {}, f.meta.sha256 || '')), action),
    );
  }
  show($('transfer'));
  status('');
  if (doc.can_reply && !key) initReply(token, doc);
}

async function unlock(fields, key = null) {
  status('Opening…');
  try {
    const r = await unlockTransfer(token, fields);
    if (!r.ok) {
      if (r.doc.attempts_left !== undefined) {
        status(`Wrong password: ${r.doc.attempts_left} attempt(s) left before the transfer is locked.`, 'error');
      } else {
        status(r.doc.error || `refused (${r.status})`, 'error');
      }
      $('unlock').hidden = false;
      return;
    }
    if (r.doc.mode === 'e2e' && !key) {
      // end to end: what was typed is of no use; the key is
      status('This transfer is encrypted end to end: enter the key or the link the sender gave you.', 'error');
      $('key-box').open = true;
      $('unlock').hidden = false;
      return;
    }
    await showTransfer(r.doc, key);
  } catch (e) {
    const why = e.code === 'wrong-key' ? 'this key does not open this transfer' : e.message;
    status(`Cannot open: ${why}`, 'error');
    $('unlock').hidden = false;
  }
}

function start() {
  const hash = location.hash;
  if (isE2EFragment(hash)) {
    let key;
    try {
      key = keyFromFragment(hash);
    } catch (e) {
      $('unlock').hidden = false;
      return status('The key in this link is damaged: paste it from the sender below.', 'error');
    }
    unlock({}, key); // nothing goes to the server but the token
  } else if (/(^#|&)k=/.test(hash)) {
    const k = new URLSearchParams(hash.slice(1)).get('k');
    unlock({ key: k });
  } else {
    $('unlock').hidden = false;
  }
  $('unlock').addEventListener('submit', (e) => {
    e.preventDefault();
    const pasted = $('key').value.trim();
    const hash = pasted.indexOf('#') >= 0 ? pasted.slice(pasted.indexOf('#')) : '';
    if (hash && !isE2EFragment(hash) && /(^#|&)k=/.test(hash)) {
      // a link with the key of a key-in-link transfer: the server opens it
      $('key').value = '';
      unlock({ key: new URLSearchParams(hash.slice(1)).get('k') });
      return;
    }
    if (pasted) {
      let key;
      try {
        key = keyFromPasted(pasted);
      } catch {
        return status('That is not a key: 43 letters, digits, "-" and "_", or the whole link.', 'error');
      }
      $('key').value = '';
      unlock({}, key);
      return;
    }
    const password = $('password').value;
    if (!password) return status('Enter the password, or the key of an end-to-end transfer.', 'error');
    $('password').value = '';
    unlock({ password });
  });
}

start();
