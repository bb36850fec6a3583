// send.js: the sender's form on the portal's page: recipients, message,
// files, protection and expiry; then the transfer is created
// (POST /api/transfers), its files uploaded and the transfer sent
// (deliver.js). The generated password, or the end-to-end links, are shown
// once at the end.

import { createTransfer } from './api.js';
import { deliver, virusText } from './deliver.js';
import { e2eLink, prepareE2E } from './e2e.js';
import { $, el, formatSize, hide, say, show } from './ui.js';
import { plainSource } from './upload.js';

const FILES_MAX = 100;

function recipientsOf(text) {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function modeOf(form) {
  return form.querySelector('input[name=mode]:checked').value;
}

// Ask the sender what to do after a refused file: resolves to true to send
// the other files.
function askAfterVirus(doc, remaining) {
  $('send-virus-text').textContent =
    virusText(doc) +
    ` Nothing has been sent yet. ${remaining} other file(s) can still be sent; you have been mailed about the refusal.`;
  show($('send-virus'));
  return new Promise((resolve) => {
    const button = $('send-virus-continue');
    const go = () => {
      button.removeEventListener('click', go);
      hide($('send-virus'));
      resolve(true);
    };
    button.addEventListener('click', go);
  });
}

function showResult(created, sent, key) {
  const n = sent && Array.isArray(sent.files) ? sent.files.length : created.files.length;
  $('send-result-text').textContent =
    `Transfer ${created.id} sent: ${n} file(s) to ${created.recipients.length} recipient(s), ` +
    `available until ${new Date(created.expires * 1000).toLocaleString()}.`;
  if (created.password) {
    $('send-password-shown').textContent = created.password;
    show($('send-password-box'));
  } else {
    hide($('send-password-box'));
  }
  const links = $('send-links');
  links.replaceChildren();
  if (key) {
    for (const r of created.recipients) {
      const link = e2eLink(r.token, key);
      links.append(el('li', {}, `${r.address}: `, el('code', { className: 'secret e2e-link' }, link)));
    }
    show($('send-links-box'));
  } else {
    hide($('send-links-box'));
  }
  show($('send-result'));
}

async function submit(form) {
  const status = $('send-status');
  const files = Array.from($('send-files').files);
  const recipients = recipientsOf($('send-recipients').value);
  const mode = modeOf(form);
  const message = $('send-message').value;
  if (!recipients.length) return say(status, 'Give at least one recipient.', 'error');
  if (!files.length) return say(status, 'Choose at least one file.', 'error');
  if (files.length > FILES_MAX) return say(status, `At most ${FILES_MAX} files.`, 'error');
  const body = { recipients, mode, message };
  if (mode === 'manual') {
    body.password = $('send-password').value;
    if (body.password.length < 10) {
      return say(status, 'The password needs at least 10 characters.', 'error');
    }
  }
  const days = $('send-expires').value.trim();
  if (days) body.expires_days = Number(days);
  hide($('send-result'), $('send-virus'));
  $('send-button').disabled = true;
  let key = null;
  try {
    let items;
    if (mode === 'e2e') {
      say(status, 'Computing the checksums and encrypting the descriptions…');
      const prep = await prepareE2E(files, message, (f, done) =>
        say(status, `Computing the checksum of ${f.name}: ${formatSize(done)} of ${formatSize(f.size)}`),
      );
      key = prep.key;
      body.message = prep.message;
      body.files = prep.files;
      items = prep.items;
    } else {
      body.files = files.map((f) => ({
        name: f.name,
        type: f.type || 'application/octet-stream',
        size: f.size,
      }));
      items = files.map((f) => ({ name: f.name, source: plainSource(f) }));
    }
    say(status, 'Creating the transfer…');
    const r = await createTransfer(body);
    if (!r.ok) {
      const why = r.status === 413 ? 'Too large: ' : '';
      return say(status, `${why}${r.doc.error || `refused (${r.status})`}`, 'error');
    }
    if (body.password) $('send-password').value = '';
    say(status, 'Uploading…');
    const sent = await deliver(r.doc, items, $('send-progress'), { onVirus: askAfterVirus });
    if (!sent) {
      say(status, 'Nothing was sent: every file was refused.', 'error');
      return;
    }
    say(status, '');
    form.reset();
    toggleManual(form);
    showResult(r.doc, sent, key);
  } catch (e) {
    say(status, e.status === 422 ? virusText(e.doc) : `Not sent: ${e.message}`, 'error');
  } finally {
    $('send-button').disabled = false;
  }
}

function toggleManual(form) {
  $('manual-password-box').hidden = modeOf(form) !== 'manual';
  $('send-password').required = modeOf(form) === 'manual';
}

export function initSend() {
  const form = $('send');
  form.addEventListener('change', (e) => {
    if (e.target.name === 'mode') toggleManual(form);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(form);
  });
  $('send-again').addEventListener('click', () => {
    hide($('send-result'));
    $('send-progress').replaceChildren();
    $('send-password-shown').textContent = '';
    $('send-links').replaceChildren();
  });
  toggleManual(form);
}
