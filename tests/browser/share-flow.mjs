// The share portal's web UI driven in headless Chromium (Debian's
// /usr/bin/chromium) with playwright-core, for
// tests/integration/test_share_browser.py. One step per run, its
// arguments one JSON object, its result one JSON object on standard output:
//
//   node share-flow.mjs send '{"base", "user", "password", "recipients": [..],
//        "message", "files": [paths], "mode", "manual_password"?, "drop_put"?}'
//     logs in on BASE/, sends the files; drop_put: the PUT of that number
//     (0 = the first) is cut as by a dropped connection, so the page must
//     resume; send_the_rest: after a file refused for a virus, send the
//     others. -> {"id", "password", "links": [{address, link}], "text",
//     "virus" (a refusal shown at the end), "refused" (one passed over),
//     "puts"}
//   node share-flow.mjs receive '{"url", "password"?, "key"?, "out",
//        "reply"?: {"message", "files"}}'
//     opens a notification link, tries wrong_password first if given,
//     unlocks it with the password, or with the key pasted in (end to end),
//     saves every file under OUT, then sends the secure reply if asked.
//     -> {"sender", "message", "files": [{name, path}], "reply", "wrong"}
//   node share-flow.mjs transfers '{"base", "user", "password", "id",
//        "revoke"?}'
//     the sender's view of a transfer: its evidence log, revoking it.
//     -> {"ids", "events", "state"}
//
// Exits 1 with the reason on standard error when a step fails; errors of
// the pages (uncaught exceptions, CSP refusals) fail it too.
import path from 'node:path';

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 60000;

const [step, json] = process.argv.slice(2);
const args = JSON.parse(json || '{}');
const problems = [];
const traffic = []; // the last answers the page had, shown when a step fails

async function open() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('response', async (r) => {
    const h = await r.request().allHeaders().catch(() => ({}));
    traffic.push(
      `${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}` +
        (h.cookie ? ' (with the cookie)' : ''),
    );
    if (traffic.length > 40) traffic.shift();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) {
      problems.push(`console: ${m.text()}`);
    }
  });
  return { browser, page };
}

async function login(page, base, user, password) {
  await page.goto(base + '/');
  await page.locator('#login-view').waitFor({ state: 'visible' });
  if (await page.isVisible('#nav')) throw new Error('the menu shows before logging in');
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login button[type=submit]');
  await page.locator('#nav').waitFor({ state: 'visible' });
  await page.waitForFunction((u) => document.getElementById('who').textContent === u, user);
}

async function send(page) {
  await login(page, args.base, args.user, args.password);
  let puts = 0; // the PUTs the page made, the cut one included
  page.on('request', (r) => {
    if (r.method() === 'PUT') puts++;
  });
  if (Number.isInteger(args.drop_put)) {
    let seen = 0;
    await page.route('**/api/uploads/**', async (route) => {
      if (route.request().method() === 'PUT' && seen++ === args.drop_put) {
        await route.abort('connectionreset');
        await page.unroute('**/api/uploads/**');
      } else {
        await route.continue();
      }
    });
  }
  await page.fill('#send-recipients', args.recipients.join(', '));
  await page.fill('#send-message', args.message || '');
  await page.setInputFiles('#send-files', args.files);
  await page.check(`input[name=mode][value=${args.mode || 'generated'}]`);
  if (args.mode === 'manual') await page.fill('#send-password', args.manual_password);
  if (args.expires_days) await page.fill('#send-expires', String(args.expires_days));
  const settled = () =>
    page.waitForFunction(
      () =>
        !document.getElementById('send-result').hidden ||
        !document.getElementById('send-virus').hidden ||
        document.getElementById('send-status').classList.contains('error'),
      null,
      { timeout: 5 * TIMEOUT },
    );
  await page.click('#send-button');
  await settled();
  let refused = null;
  if (args.send_the_rest && (await page.isVisible('#send-virus'))) {
    refused = await page.textContent('#send-virus-text');
    await page.click('#send-virus-continue');
    await settled();
  }
  const out = {
    refused,
    text: await page.textContent('#send-result-text'),
    status: await page.textContent('#send-status'),
    password: (await page.textContent('#send-password-shown')) || null,
    links: await page.locator('#send-links li').evaluateAll((lis) =>
      lis.map((li) => ({
        address: li.firstChild.textContent.replace(/: $/, ''),
        link: li.querySelector('code').textContent,
      })),
    ),
    virus: (await page.isVisible('#send-virus')) ? await page.textContent('#send-virus-text') : null,
    puts,
  };
  const m = /Transfer (\S+) sent/.exec(out.text || '');
  out.id = m ? m[1] : null;
  if (!out.id && !out.virus) throw new Error(`not sent: ${out.status}`);
  return out;
}

async function receive(page) {
  await page.goto(args.url);
  let wrong = null;
  if (args.wrong_password) {
    await page.locator('#unlock').waitFor({ state: 'visible' });
    await page.fill('#password', args.wrong_password);
    await page.click('#unlock button[type=submit]');
    await page.waitForFunction(() => document.getElementById('status').classList.contains('error'));
    wrong = await page.textContent('#status');
  }
  if (args.password || args.key) {
    await page.locator('#unlock').waitFor({ state: 'visible' });
    if (args.key) {
      if (!(await page.locator('#key-box').evaluate((d) => d.open))) await page.click('#key-box summary');
      await page.fill('#key', args.key);
    } else {
      await page.fill('#password', args.password);
    }
    await page.click('#unlock button[type=submit]');
  }
  await page.waitForFunction(
    () =>
      !document.getElementById('transfer').hidden ||
      document.getElementById('status').classList.contains('error'),
  );
  if (!(await page.isVisible('#transfer'))) {
    throw new Error(`not opened: ${await page.textContent('#status')}`);
  }
  const out = {
    sender: await page.textContent('#sender'),
    message: (await page.isVisible('#message')) ? await page.textContent('#message') : '',
    files: [],
    reply: null,
    wrong,
  };
  const rows = page.locator('#files tr');
  for (let i = 0; i < (await rows.count()); i++) {
    const row = rows.nth(i);
    const control = row.locator('.download');
    const [download] = await Promise.all([page.waitForEvent('download'), control.click()]);
    const name = download.suggestedFilename();
    const file = path.join(args.out, `${i}-${name}`);
    await download.saveAs(file);
    if (await download.failure()) throw new Error(`download of ${name} failed: ${await download.failure()}`);
    out.files.push({ name, path: file, row: await row.textContent() });
  }
  if (args.reply) {
    await page.locator('#reply-view').waitFor({ state: 'visible' });
    await page.fill('#reply-message', args.reply.message || '');
    if (args.reply.files && args.reply.files.length) await page.setInputFiles('#reply-files', args.reply.files);
    await page.click('#reply-button');
    await page.waitForFunction(() => {
      const s = document.getElementById('reply-status');
      return s.classList.contains('ok') || s.classList.contains('error');
    }, null, { timeout: 5 * TIMEOUT });
    out.reply = await page.textContent('#reply-status');
    if (!(await page.locator('#reply-status.ok').count())) throw new Error(`reply: ${out.reply}`);
  }
  return out;
}

async function transfers(page) {
  await login(page, args.base, args.user, args.password);
  await page.click('#nav-transfers');
  await page.locator(`#transfers tr[data-id="${args.id}"]`).waitFor();
  const ids = await page.locator('#transfers tr').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  await page.click(`#transfers a[data-id="${args.id}"]`);
  await page.locator('#transfer-detail').waitFor({ state: 'visible' });
  await page.waitForFunction((id) => document.getElementById('detail-id').textContent === id, args.id);
  if (args.revoke) {
    await page.click('#detail-revoke');
    await page.click('#detail-revoke-yes');
    await page.waitForFunction(() => /Revoked/.test(document.getElementById('detail-status').textContent));
  }
  const events = await page.locator('#detail-log tr td:nth-child(2)').allTextContents();
  return { ids, events, state: await page.textContent('#detail-state') };
}

const steps = { send, receive, transfers };
if (!steps[step]) {
  console.error(`unknown step ${step}`);
  process.exit(2);
}
const { browser, page } = await open();
let code = 0;
try {
  const out = await steps[step](page);
  if (problems.length) throw new Error(problems.join('\n'));
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`${step}: ${e.stack || e.message}`);
  // what the page showed: its sections and status lines
  const seen = await page
    .evaluate(() =>
      Array.from(document.querySelectorAll('section, nav, form, [role=status]'))
        .map((n) => `${n.tagName.toLowerCase()}#${n.id}${n.hidden ? ' (hidden)' : ''}` +
          (n.getAttribute('role') === 'status' ? `: ${n.textContent}` : ''))
        .join('\n'),
    )
    .catch((x) => `(the page cannot be read: ${x.message})`);
  console.error(`${page.url()}\n${seen}\nthe last answers:\n${traffic.join('\n')}`);
  if (problems.length) console.error(problems.join('\n'));
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
