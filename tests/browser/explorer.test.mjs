// The block explorer in headless Chromium (docs/explorer.md), against a
// running node: what the page shows must equal what the node's JSON-RPC
// reports. Run by tests/integration/test_explorer.sh after it has made a
// chain with identities, consents, an approved contract and done calls.
//   EXPLORER_NODE  the node's RPC base URL (http://127.0.0.1:PORT)
//   EXPLORER_OUT   directory for the screenshots (default: cwd)
//   CHROMIUM       the browser (default /usr/bin/chromium)
// Exit 0 when every check passes, 1 otherwise (also when Chromium cannot
// be launched: that is a failure, never a skip).
import { chromium } from 'playwright-core';
import path from 'node:path';

const base = process.env.EXPLORER_NODE;
const outDir = process.env.EXPLORER_OUT || process.cwd();
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
if (!base) {
  console.error('EXPLORER_NODE is not set');
  process.exit(1);
}

let passed = 0;
let failed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log('ok - ' + name);
  } else {
    failed++;
    console.log('FAIL - ' + name + (detail !== undefined ? ': ' + detail : ''));
  }
}

let seq = 0;
async function rpc(method, params) {
  const r = await fetch(base + '/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++seq, method, params: params || {} }),
  });
  const j = await r.json();
  if (j.error) throw new Error(method + ': ' + JSON.stringify(j.error));
  return j.result;
}

let browser;
try {
  // As root Chromium needs --no-sandbox; the rest keeps it off the network
  // (the test machines' network is closed: only the node on loopback).
  browser = await chromium.launch({
    executablePath: exe,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
} catch (e) {
  console.error('FAIL - cannot launch Chromium (' + exe + '): ' + e.message);
  process.exit(1);
}

const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
const consoleErrors = [];
const methods = new Set();
let sentAuth = false;
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push('page error: ' + e.message));
page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push('HTTP ' + r.status() + ' for ' + r.url()); });
page.on('requestfailed', (r) => consoleErrors.push('request failed: ' + r.url() + ' ' + (r.failure() || {}).errorText));
page.on('request', (r) => {
  if (r.headers().authorization) sentAuth = true;
  if (r.method() === 'POST') {
    try { methods.add(JSON.parse(r.postData()).method); } catch { /* not JSON: the check below fails */ methods.add('?'); }
  }
});

// Opens a route and waits until the view has rendered it.
async function open(hash, view) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await settle(view, hash);
}
// The view has rendered (hash: the route it shows, when known).
async function settle(view, hash) {
  await page.waitForFunction(([v, h]) => {
    const e = document.getElementById('view');
    return e.dataset.view === v && e.getAttribute('aria-busy') === 'false' && (h === undefined || e.dataset.rendered === h);
  }, [view, hash], { timeout: 15000 });
}
const text = (sel) => page.textContent(sel).then((t) => (t || '').trim());
const rowKeys = (sel) => page.$$eval(sel + ' tbody tr', (rs) => rs.map((r) => r.getAttribute('data-key')));

try {
  const status = await rpc('status');
  const resp = await page.goto(base + '/explorer/', { waitUntil: 'load' });
  check('GET /explorer/ answers 200', resp.status() === 200, resp.status());
  await settle('home');
  await page.waitForSelector('#st-height');
  check('the header shows the height status reports', (await text('#st-height')) === String(status.height),
    `${await text('#st-height')} vs ${status.height}`);
  check('the header shows the validators', (await text('#st-validators')) === status.validators.join(', '));

  // Blocks: the latest first; clicking one shows its transactions.
  await open('#/blocks', 'blocks');
  const bl = await rpc('block_list', { limit: 20 });
  const keys = await rowKeys('#blocks');
  check('the block list starts with the latest block', keys[0] === String(status.height), `${keys[0]} vs ${status.height}`);
  check('the block list is block_list', JSON.stringify(keys) === JSON.stringify(bl.blocks.map((b) => String(b.height))));
  const withTxs = bl.blocks.find((b) => b.ntx > 0);
  check('a block with transactions exists', !!withTxs);
  await page.click(`#blocks tbody tr[data-key="${withTxs.height}"] a`);
  await settle('block', '#/block/' + withTxs.height);
  const bg = await rpc('block_get', { height: withTxs.height });
  const txKeys = await rowKeys('#block-txs');
  check('clicking a block shows its transactions', JSON.stringify(txKeys) === JSON.stringify(bg.txs.map((t) => t.txid)),
    JSON.stringify(txKeys));
  check('the block shows its certificate', (await text('#block-votes')).startsWith(bg.cert.votes.length + ' votes'));
  // ... and a transaction from there
  await page.click(`#block-txs tbody tr[data-key="${bg.txs[0].txid}"] a`);
  await settle('tx', '#/tx/' + bg.txs[0].txid);
  const tg = await rpc('tx_get', { txid: bg.txs[0].txid });
  check('clicking a transaction shows it', (await text('#tx-type')) === tg.tx.type, await text('#tx-type'));

  // A done call: status, public outputs and proof as call_get gives them.
  const calls = (await rpc('call_list', { limit: 100 })).calls;
  const done = calls.find((c) => c.status === 'done');
  check('a done call exists', !!done, JSON.stringify(calls.map((c) => c.status)));
  await open('#/call/' + done.txid, 'call');
  const cg = await rpc('call_get', { txid: done.txid });
  check('the call page shows call_get\'s status', (await text('#call-status')) === cg.status);
  const outs = cg.result.outputs;
  const shown = await page.$$eval('#call-outputs tbody tr', (rs) => rs.map((r) => r.cells[2].textContent.trim()));
  check('the call page lists every output', shown.length === outs.length, `${shown.length} vs ${outs.length}`);
  let pubOk = outs.some((o) => !o.private);
  outs.forEach((o, i) => { if (!o.private && shown[i] !== String(o.value)) pubOk = false; });
  check('the public outputs equal call_get\'s', pubOk, JSON.stringify({ shown, outs }));
  const priv = outs.findIndex((o) => o.private);
  if (priv >= 0) check('a private output shows its mask only', shown[priv] === outs[priv].masked);
  // FROST mode (docs/keys.md §8): one signature by the results key;
  // quorum mode: one per signing party
  const wantProof = cg.result.proof === 'frost' ? 'FROST threshold signature, 1 signature'
    : cg.result.sigs.length + ' signature';
  check('the proof shows its mode and signatures count',
    (await text('#result-proof')).includes(wantProof), await text('#result-proof'));
  // the call list shows it too
  await open('#/calls', 'calls');
  check('the call list shows the call', (await rowKeys('#calls')).includes(done.txid));

  // A consent and its uses.
  const consents = (await rpc('consent_list_all', { limit: 100 })).consents;
  const used = consents.find((c) => c.uses > 0);
  check('a used consent exists', !!used);
  await open('#/consent/' + used.id, 'consent');
  const cs = await rpc('consent_get', { id: used.id });
  check('the consent shows its use count', (await text('#consent-uses')) === `${cs.uses} of ${cs.quota}`,
    await text('#consent-uses'));
  await open('#/consents', 'consents');
  const usesCell = await page.textContent(`#consents tbody tr[data-key="${used.id}"] .uses`);
  check('the consent list shows uses / quota', usesCell.trim() === `${cs.uses} / ${cs.quota}`, usesCell);

  // A contract and its approvals.
  const contracts = (await rpc('contract_list', {})).contracts;
  const ct = contracts.find((c) => c.approvals.length > 0);
  check('an approved contract exists', !!ct);
  await open('#/contract/' + ct.id, 'contract');
  const cget = await rpc('contract_get', { id: ct.id });
  check('the contract shows its approvals', (await text('#contract-approval-names')) === cget.approvals.join(', '),
    await text('#contract-approval-names'));
  check('the contract shows its status', (await text('#contract-status')) === cget.status);
  check('the contract lists its calls', (await rowKeys('#contract-calls')).includes(done.txid));

  // Identities: the subject of the call, with its consents.
  await open('#/identity/' + cg.did, 'identity');
  check('the identity page lists its consents', (await rowKeys('#identity-consents')).includes(used.id));

  // Evidence renders (a healthy devnet has none).
  await open('#/evidence', 'evidence');
  check('the evidence page renders its three sections',
    (await page.$$('#evidence-recorded')).length === 1 && (await page.$$('#evidence-observed')).length === 1 &&
    (await page.$$('#evidence-mpc')).length === 1);

  // Search: a txid, a call id, a height.
  const plain = (await rpc('tx_list', { type: 'contract_approve', limit: 1 })).txs[0];
  await page.fill('#q', plain.txid);
  await page.press('#q', 'Enter');
  await settle('tx', '#/tx/' + plain.txid);
  check('the search finds a transaction by id', page.url().endsWith('#/tx/' + plain.txid) &&
    (await text('#tx-type')) === 'contract_approve', page.url());
  await page.fill('#q', done.txid);
  await page.press('#q', 'Enter');
  await settle('call', '#/call/' + done.txid);
  check('the search takes a call id to the call', page.url().endsWith('#/call/' + done.txid), page.url());
  await page.fill('#q', String(withTxs.height));
  await page.press('#q', 'Enter');
  await settle('block', '#/block/' + withTxs.height);
  check('the search takes a height to the block', page.url().endsWith('#/block/' + withTxs.height), page.url());
  await page.fill('#q', 'did:custos:' + cg.did);
  await page.press('#q', 'Enter');
  await settle('identity', '#/identity/' + cg.did);
  check('the search takes a DID to the identity', page.url().endsWith('#/identity/' + cg.did), page.url());

  // Errors are shown, not swallowed.
  await open('#/tx/' + 'ab'.repeat(32), 'tx');
  const err = (await page.$('#error')) ? await text('#error') : '';
  check('an unknown id shows the node\'s error', /not_found/.test(err), err);
  await open('#/tx/xyz', 'tx');
  const err2 = (await page.$('#error')) ? await text('#error') : '';
  check('a malformed id shows the node\'s error', /params\.txid/.test(err2), err2);
  await page.fill('#q', 'no such thing');
  await page.press('#q', 'Enter');
  await settle('search', '#/search/no%20such%20thing');
  check('a bad search shows an error', (await page.$('#error')) !== null);

  // A page for humans.
  await open('#/call/' + done.txid, 'call');
  await page.screenshot({ path: path.join(outDir, 'explorer-call.png'), fullPage: true });
  await open('#/', 'home');
  await page.screenshot({ path: path.join(outDir, 'explorer-home.png'), fullPage: true });
  console.log('# screenshots in ' + outDir);

  // What the page asked the node.
  const admin = [...methods].filter((m) => !/^[a-z_]+$/.test(m) || m.startsWith('admin_'));
  check('the page calls public methods only', admin.length === 0 && methods.size > 0, [...methods].join(','));
  check('the page sends no credentials', !sentAuth);
} catch (e) {
  check('the explorer run', false, e.stack || e.message);
}
check('no console or page errors', consoleErrors.length === 0, consoleErrors.join(' | '));
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
