// deliver.js: after a transfer (or a reply) is created, upload its files
// with a progress line each, then ask the portal to send it
// (POST /api/uploads/UPLOAD/send). Shared by the sender's page and the
// recipient's reply form.
//
// A file with a virus is refused with 422 {error, file, name, virus}: it is
// removed from the transfer, the others stay, and send may be called again.
// The page is told through onVirus(doc, remaining), which resolves to true
// to send the remaining files, false to stop.

import { ApiError, sendUpload } from './api.js';
import { progressRow } from './ui.js';
import { uploadFile } from './upload.js';

// created: the answer of the creation ({upload, files: [{id, url}]});
// items: [{name, source}] in the same order as created.files (upload.js's
// sources); list: the <ul> for the progress lines. Resolves to the answer of
// send, or null when the sender stopped after a refusal; throws ApiError.
export async function deliver(created, items, list, { onVirus = async () => false } = {}) {
  if (!Array.isArray(created.files) || created.files.length !== items.length) {
    throw new ApiError(0, { error: 'the server did not accept the files as given' });
  }
  list.replaceChildren();
  const rows = items.map((it) => {
    const p = progressRow(it.name);
    list.append(p.row);
    return p;
  });
  for (let i = 0; i < items.length; i++) {
    const p = rows[i];
    await uploadFile(created.files[i].url, items[i].source, {
      onProgress: (sent, total) => p.set(sent, total, 'uploading:'),
      onNote: (text) => p.note(text),
    });
    p.note('uploaded');
  }
  let remaining = items.length;
  for (;;) {
    for (const p of rows) if (p.row.dataset.refused !== '1') p.note('checking…');
    const r = await sendUpload(created.upload);
    if (r.ok) {
      for (const p of rows) if (p.row.dataset.refused !== '1') p.note('sent');
      return r.doc;
    }
    if (r.status !== 422) throw new ApiError(r.status, r.doc);
    const i = created.files.findIndex((f) => f.id === r.doc.file);
    if (i >= 0) {
      rows[i].row.dataset.refused = '1';
      rows[i].row.classList.add('refused');
      rows[i].note(`refused: virus ${r.doc.virus || ''}`);
    }
    remaining--;
    if (remaining <= 0 || !(await onVirus(r.doc, remaining))) return null;
  }
}

// The words for a refusal.
export function virusText(doc) {
  const name = doc.name || doc.file || 'a file';
  const what = doc.virus ? `the virus scanner found ${doc.virus}` : doc.error || 'it was refused';
  return `The file "${name}" was refused: ${what}. It has been removed from the transfer.`;
}
