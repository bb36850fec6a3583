// transfers.js: the sender's transfers: the list, one transfer's
// recipients, files and evidence log, revoking it and unlocking a
// recipient who was locked out.

import {
  getTransfer,
  listTransfers,
  revokeTransfer,
  transferLog,
  unlockRecipient,
} from './api.js';
import { $, el, formatSize, formatTime, hide, say, show } from './ui.js';

const MODES = {
  generated: 'generated password',
  manual: 'password of the sender',
  link: 'key in the link',
  e2e: 'end to end',
};

let current = null; // the id of the transfer shown

function td(...children) {
  return el('td', {}, ...children);
}

export async function showTransfers() {
  const status = $('transfers-status');
  hide($('transfer-detail'));
  current = null;
  say(status, 'Loading…');
  try {
    const list = await listTransfers();
    const body = $('transfers');
    body.replaceChildren();
    for (const t of list) {
      const open = el('a', { href: '#', className: 'transfer-link', dataset: { id: t.id } }, t.id);
      open.addEventListener('click', (e) => {
        e.preventDefault();
        showTransfer(t.id);
      });
      body.append(
        el(
          'tr',
          { dataset: { id: t.id } },
          td(el('code', {}, open)),
          td(formatTime(t.created)),
          td(formatTime(t.expires)),
          td(MODES[t.mode] || t.mode),
          td(el('span', { className: 'state' }, t.state)),
        ),
      );
    }
    say(status, list.length ? '' : 'No transfers yet.');
  } catch (e) {
    say(status, e.message, 'error');
  }
}

export async function showTransfer(id) {
  const status = $('detail-status');
  current = id;
  hide($('detail-revoke-confirm'));
  try {
    const [doc, log] = await Promise.all([getTransfer(id), transferLog(id)]);
    if (current !== id) return;
    const t = doc.transfer;
    $('detail-id').textContent = t.id;
    $('detail-state').textContent = t.state;
    $('detail-mode').textContent = MODES[t.mode] || t.mode;
    $('detail-created').textContent = formatTime(t.created);
    $('detail-expires').textContent = formatTime(t.expires);
    $('detail-revoke').hidden = t.state === 'revoked' || t.state === 'expired';
    const recipients = $('detail-recipients');
    recipients.replaceChildren();
    for (const r of doc.recipients || []) {
      let action = null;
      if (r.locked) {
        action = el('button', { type: 'button', className: 'unlock' }, 'Unlock');
        action.addEventListener('click', () => unlock(id, r.address));
      }
      recipients.append(
        el(
          'tr',
          {},
          td(r.address),
          td(r.locked ? `${r.failures} (locked)` : String(r.failures)),
          td(r.first_download ? formatTime(r.first_download) : 'not yet'),
          td(action),
        ),
      );
    }
    const files = $('detail-files');
    files.replaceChildren();
    for (const f of doc.files || []) {
      files.append(
        el(
          'tr',
          {},
          td(el('code', {}, f.id)),
          td(formatSize(f.size)),
          td(f.complete ? 'complete' : `${formatSize(f.stored || 0)} so far`),
          td(f.scan || ''),
        ),
      );
    }
    const events = $('detail-log');
    events.replaceChildren();
    for (const e of log) {
      events.append(
        el(
          'tr',
          {},
          td(formatTime(e.time)),
          td(e.event),
          td(e.recipient || ''),
          td(e.client || ''),
          td(e.file ? el('code', {}, e.file) : ''),
          td(e.bytes ? formatSize(e.bytes) : ''),
          td(e.completed ? 'yes' : 'no'),
        ),
      );
    }
    say(status, '');
    show($('transfer-detail'));
  } catch (e) {
    say(status, e.message, 'error');
    show($('transfer-detail'));
  }
}

async function unlock(id, address) {
  try {
    await unlockRecipient(id, address);
    await showTransfer(id);
    say($('detail-status'), `${address} may try again.`, 'ok');
  } catch (e) {
    say($('detail-status'), e.message, 'error');
  }
}

async function revoke() {
  const id = current;
  hide($('detail-revoke-confirm'));
  try {
    await revokeTransfer(id);
    await showTransfers();
    await showTransfer(id);
    say($('detail-status'), 'Revoked: nothing of it can be downloaded any more.', 'ok');
  } catch (e) {
    say($('detail-status'), e.message, 'error');
  }
}

export function initTransfers() {
  $('detail-revoke').addEventListener('click', () => show($('detail-revoke-confirm')));
  $('detail-revoke-no').addEventListener('click', () => hide($('detail-revoke-confirm')));
  $('detail-revoke-yes').addEventListener('click', revoke);
}
