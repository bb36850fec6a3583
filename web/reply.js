// reply.js: the recipient's secure reply (POST /api/r/TOKEN/reply?grant=G,
// then upload and send as the sender does, deliver.js). Offered for the
// transfers that are not end to end; the reply is protected like the
// transfer it answers (the same password, or a key in the link the sender
// is mailed).

import { createReply } from './api.js';
import { deliver, virusText } from './deliver.js';
import { $, hide, say, show } from './ui.js';
import { plainSource } from './upload.js';

function askAfterVirus(doc, remaining) {
  $('reply-virus-text').textContent =
    `${virusText(doc)} Nothing has been sent yet; ${remaining} other file(s) can still go with your reply.`;
  show($('reply-virus'));
  return new Promise((resolve) => {
    const button = $('reply-virus-continue');
    const go = () => {
      button.removeEventListener('click', go);
      hide($('reply-virus'));
      resolve(true);
    };
    button.addEventListener('click', go);
  });
}

async function submit(token, doc) {
  const status = $('reply-status');
  const message = $('reply-message').value;
  const files = Array.from($('reply-files').files);
  if (!message.trim() && !files.length) return say(status, 'Write a message or choose a file.', 'error');
  $('reply-button').disabled = true;
  try {
    say(status, 'Creating the reply…');
    const r = await createReply(token, doc.grant, {
      message,
      files: files.map((f) => ({ name: f.name, type: f.type || 'application/octet-stream', size: f.size })),
    });
    if (!r.ok) return say(status, r.doc.error || `refused (${r.status})`, 'error');
    say(status, files.length ? 'Uploading…' : 'Sending…');
    const items = files.map((f) => ({ name: f.name, source: plainSource(f) }));
    const sent = await deliver(r.doc, items, $('reply-progress'), { onVirus: askAfterVirus });
    if (!sent) return say(status, 'Nothing was sent: every file was refused.', 'error');
    $('reply').reset();
    hide($('reply'));
    say(status, `Your reply has been sent to ${doc.sender}.`, 'ok');
  } catch (e) {
    say(status, `Not sent: ${e.message}`, 'error');
  } finally {
    $('reply-button').disabled = false;
  }
}

export function initReply(token, doc) {
  $('reply').addEventListener('submit', (e) => {
    e.preventDefault();
    submit(token, doc);
  });
  show($('reply-view'));
}
