// The download page of a transfer (/t/TOKEN): unlock it with the password
// (or with the key of the link, #k=...), then list the files with their
// size and checksum; each downloads straight from the server, decrypted as
// it streams. No framework, no third-party code.

const token = location.pathname.split('/').pop();
const keyInLink = new URLSearchParams(location.hash.slice(1)).get('k');

const $ = (id) => document.getElementById(id);

function status(text) {
  $('status').textContent = text;
}

function size(n) {
  const units = ['octets', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function show(doc) {
  $('unlock').hidden = true;
  $('transfer').hidden = false;
  $('sender').textContent = doc.sender;
  $('expires').textContent = new Date(doc.expires * 1000).toLocaleString();
  if (doc.message) {
    $('message').hidden = false;
    $('message').textContent = doc.message;
  }
  const body = $('files');
  body.replaceChildren();
  for (const f of doc.files) {
    const row = document.createElement('tr');
    const name = document.createElement('td');
    const meta = f.meta || {name: 'file', size: 0, sha256: ''};
    if (f.available) {
      const a = document.createElement('a');
      a.href = `/api/r/${encodeURIComponent(token)}/files/${encodeURIComponent(f.id)}` +
               `?grant=${encodeURIComponent(doc.grant)}`;
      a.textContent = meta.name;
      a.download = meta.name;
      name.append(a);
    } else {
      name.textContent = meta.name + ' (not available)';
    }
    const sz = document.createElement('td');
    sz.textContent = size(meta.size);
    const sum = document.createElement('td');
    const code = document.createElement('code');
    code.textContent = meta.sha256;
    sum.append(code);
    row.append(name, sz, sum);
    body.append(row);
  }
  status('');
}

async function unlock(fields) {
  const r = await fetch(`/api/r/${encodeURIComponent(token)}/unlock`, {
    method: 'POST',
    headers: {'Content-Type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams(fields).toString(),
  });
  const doc = await r.json().catch(() => ({error: 'the server did not answer'}));
  if (r.ok)
    return show(doc);
  if (doc.attempts_left !== undefined)
    status(`Wrong password: ${doc.attempts_left} attempt(s) left before the transfer is locked.`);
  else
    status(doc.error || `refused (${r.status})`);
}

if (keyInLink) {
  status('Opening…');
  unlock({key: keyInLink});
} else {
  $('unlock').hidden = false;
  $('unlock').addEventListener('submit', (e) => {
    e.preventDefault();
    const password = $('password').value;
    $('password').value = '';
    unlock({password});
  });
}
