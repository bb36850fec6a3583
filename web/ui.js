// ui.js: small DOM helpers shared by the pages. Text always goes in as
// textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

// An element: el('td', {className: 'x'}, 'text', child, ...).
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e[k] = v;
  }
  for (const c of children) {
    if (c !== null && c !== undefined) e.append(c);
  }
  return e;
}

// A size for people: "512 octets", "1.5 MiB".
export function formatSize(n) {
  const units = ['octets', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
}

// A Unix time for people ("" for 0 or none).
export function formatTime(t) {
  return t ? new Date(t * 1000).toLocaleString() : '';
}

// Show text in a status line; kind is '' (plain), 'error' or 'ok'.
export function say(node, text, kind = '') {
  node.textContent = text;
  node.className = 'status' + (kind ? ' ' + kind : '');
}

// Show or hide several sections at once: show(a, b) / hide(c).
export function show(...nodes) {
  for (const n of nodes) n.hidden = false;
}
export function hide(...nodes) {
  for (const n of nodes) n.hidden = true;
}

// A progress line for one file: {row, set(done, total, label)}.
export function progressRow(name) {
  const bar = el('progress', { max: 1, value: 0 });
  const text = el('span', { className: 'progress-text' });
  const row = el('li', { className: 'progress-row' }, el('span', { className: 'name' }, name), bar, text);
  return {
    row,
    set(done, total, label = '') {
      bar.max = total || 1;
      bar.value = total ? done : 1;
      text.textContent = `${label}${label ? ' ' : ''}${formatSize(done)} of ${formatSize(total)}`;
    },
    note(label) {
      text.textContent = label;
    },
  };
}
