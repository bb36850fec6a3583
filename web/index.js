// index.js: the sender's page (/): log in, then send files or look at
// one's transfers; log out. The session is a cookie the scripts never see
// (HttpOnly); GET /api/session tells whether there is one.

import { login, logout, session } from './api.js';
import { initSend } from './send.js';
import { initTransfers, showTransfers } from './transfers.js';
import { $, hide, say, show } from './ui.js';

function loggedIn(user) {
  $('who').textContent = user;
  hide($('login-view'));
  show($('nav'));
  view('send');
}

function loggedOut(text = '') {
  hide($('nav'), $('send-view'), $('transfers-view'));
  show($('login-view'));
  say($('login-status'), text, text ? 'error' : '');
}

function view(name) {
  $('send-view').hidden = name !== 'send';
  $('transfers-view').hidden = name !== 'transfers';
  if (name === 'transfers') showTransfers();
}

async function start() {
  initSend();
  initTransfers();
  $('login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const user = $('login-user').value.trim();
    const password = $('login-password').value;
    say($('login-status'), 'Logging in…');
    try {
      const r = await login(user, password);
      $('login-password').value = '';
      if (r.ok) {
        say($('login-status'), '');
        loggedIn(r.doc.user || user);
      } else {
        say($('login-status'), r.doc.error || `refused (${r.status})`, 'error');
      }
    } catch (err) {
      say($('login-status'), `The portal cannot be reached: ${err.message}`, 'error');
    }
  });
  $('nav-send').addEventListener('click', () => view('send'));
  $('nav-transfers').addEventListener('click', () => view('transfers'));
  $('logout').addEventListener('click', async () => {
    await logout().catch(() => {});
    loggedOut('');
  });
  try {
    const r = await session();
    if (r.ok && r.doc.user) loggedIn(r.doc.user);
    else loggedOut('');
  } catch (err) {
    say($('page-status'), `The portal cannot be reached: ${err.message}`, 'error');
    loggedOut('');
  }
}

start();
