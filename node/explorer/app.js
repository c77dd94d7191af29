// The Custos block explorer (docs/explorer.md): a read-only page over the
// node's public JSON-RPC (POST / on the same origin). Plain JS, no build
// step, no external resource. Everything from the chain is put into the DOM
// as text (textContent / text nodes), never as HTML; links are built from
// fixed routes and encoded ids. Admin methods and the admin cookie are never
// used: fetch is sent without credentials.
'use strict';

(function () {
  const view = document.getElementById('view');
  const statusBox = document.getElementById('status');
  const PAGE = 20;
  let rpcSeq = 0;
  let renderSeq = 0;
  let members = null; // member_list, for names of keys and signer indexes

  // ---- JSON-RPC ----

  class RpcError extends Error {
    constructor(method, err) {
      const data = err && err.data ? err.data : {};
      const name = data.name ? data.name : String(err && err.code);
      const detail = data.detail ? ': ' + data.detail : '';
      super(method + ' failed: ' + (err && err.message ? err.message : 'error') + ' (' + name + ')' + detail);
      this.code = err && err.code;
      this.rpcName = data.name;
    }
  }

  async function rpc(method, params) {
    let res;
    try {
      res = await fetch('/', {
        method: 'POST',
        credentials: 'omit',
        cache: 'no-store',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcSeq, method: method, params: params || {} }),
      });
    } catch (e) {
      throw new Error(method + ': the node did not answer (' + e.message + ')');
    }
    let body;
    try {
      body = await res.json();
    } catch (e) {
      throw new Error(method + ': HTTP ' + res.status + ', not a JSON-RPC answer');
    }
    if (body.error) throw new RpcError(method, body.error);
    return body.result;
  }

  function notFound(e) {
    return e instanceof RpcError && e.rpcName === 'not_found';
  }

  // ---- DOM helpers (text only) ----

  // el('tag', {class, id, href, title, data-*}, child...) with string
  // children as text nodes.
  function el(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (attrs[k] === undefined || attrs[k] === null) continue;
        if (k === 'text') e.textContent = String(attrs[k]);
        else e.setAttribute(k, String(attrs[k]));
      }
    }
    for (let i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }

  function add(parent, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) c.forEach(function (x) { add(parent, x); });
    else if (c instanceof Node) parent.appendChild(c);
    else parent.appendChild(document.createTextNode(String(c)));
  }

  function route(path) {
    return '#/' + path.map(encodeURIComponent).join('/');
  }

  function link(path, text, cls) {
    return el('a', { href: route(path), class: cls }, text);
  }

  function short(hex) {
    return typeof hex === 'string' && hex.length > 20 ? hex.slice(0, 10) + '…' + hex.slice(-6) : String(hex);
  }

  function hexLink(kind, hex) {
    return el('a', { href: route([kind, hex]), class: 'hex', title: hex }, short(hex));
  }

  function time(ms) {
    if (typeof ms !== 'number') return '';
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function badge(text, kind) {
    return el('span', { class: 'badge ' + (kind || '') }, text);
  }

  function yesno(b) {
    return b ? 'yes' : 'no';
  }

  // A definition list of [label, value] rows (value: node, text or array).
  function fields(rows, id) {
    const dl = el('dl', { class: 'fields', id: id });
    for (const r of rows) {
      if (!r) continue;
      dl.appendChild(el('dt', null, r[0]));
      dl.appendChild(el('dd', r[2] ? { id: r[2] } : null, r[1]));
    }
    return dl;
  }

  // A table: columns [{h, f(row) -> node|text}], rows.
  function table(cols, rows, id, empty) {
    if (!rows.length) return el('p', { class: 'empty', id: id }, empty || 'None.');
    const thead = el('thead', null, el('tr', null, cols.map(function (c) { return el('th', null, c.h); })));
    const tbody = el('tbody');
    for (const r of rows) {
      const tr = el('tr');
      if (cols.key) tr.setAttribute('data-key', String(cols.key(r)));
      for (const c of cols) tr.appendChild(el('td', null, c.f(r)));
      tbody.appendChild(tr);
    }
    return el('table', { id: id }, thead, tbody);
  }

  function errorBox(e) {
    return el('div', { class: 'error', id: 'error', role: 'alert' }, e && e.message ? e.message : String(e));
  }

  function pager(path, next) {
    const p = el('p', { class: 'pager' });
    if (next !== null && next !== undefined) p.appendChild(link(path.concat([String(next)]), 'Older →', 'older'));
    else p.appendChild(el('span', { class: 'empty' }, 'End of the chain.'));
    return p;
  }

  // ---- names ----

  async function loadMembers() {
    if (!members) members = await rpc('member_list', {});
    return members;
  }

  function memberName(key) {
    if (!members) return null;
    const m = members.members.find(function (x) { return x.key === key; });
    return m ? m.name : null;
  }

  function keyText(key) {
    const n = memberName(key);
    return n ? el('span', { title: key }, n) : el('span', { class: 'hex', title: key }, short(key));
  }

  // ---- status header ----

  async function refreshStatus() {
    try {
      const s = await rpc('status', {});
      const peers = s.peers || [];
      const up = peers.filter(function (p) { return p.connected; }).length;
      statusBox.replaceChildren(
        el('span', null, 'Chain ', el('b', { id: 'st-chain' }, s.chain_name), ' ',
          el('span', { class: 'hex', title: s.chain_id }, short(s.chain_id))),
        el('span', null, 'Height ', el('a', { href: route(['block', String(s.height)]), id: 'st-height' }, String(s.height))),
        el('span', null, 'Validators ', el('b', { id: 'st-validators' }, (s.validators || []).join(', '))),
        el('span', null, 'Peers ', el('b', { id: 'st-peers' }, up + '/' + peers.length), ' connected'),
        el('span', null, 'Node ', el('b', null, s.node ? s.node.name : '?')));
      statusBox.classList.remove('down');
    } catch (e) {
      statusBox.replaceChildren(errorBox(e));
      statusBox.classList.add('down');
    }
  }

  // ---- views ----

  function blockCols() {
    const c = [
      { h: 'Height', f: function (b) { return link(['block', String(b.height)], String(b.height)); } },
      { h: 'Time', f: function (b) { return time(b.time_ms); } },
      { h: 'Txs', f: function (b) { return String(b.ntx); } },
      { h: 'Proposer', f: function (b) { return b.proposer_name || short(b.proposer); } },
      { h: 'Votes', f: function (b) { return b.votes === undefined ? '—' : String(b.votes); } },
      { h: 'Hash', f: function (b) { return el('span', { class: 'hex', title: b.hash }, short(b.hash)); } },
    ];
    c.key = function (b) { return b.height; };
    return c;
  }

  function txCols(withBlock) {
    const c = [
      { h: 'Txid', f: function (t) { return hexLink('tx', t.txid); } },
      { h: 'Type', f: function (t) { return t.type || '?'; } },
      { h: 'Receipt', f: function (t) { return t.code === 0 ? badge('ok', 'ok') : badge(t.rule || String(t.code), 'bad'); } },
    ];
    if (withBlock) c.splice(1, 0, { h: 'Block', f: function (t) { return link(['block', String(t.height)], String(t.height)); } });
    if (withBlock) c.push({ h: 'Sender', f: function (t) { return keyText(t.sender); } });
    c.key = function (t) { return t.txid; };
    return c;
  }

  function callCols() {
    const c = [
      { h: 'Call', f: function (x) { return hexLink('call', x.txid); } },
      { h: 'Status', f: function (x) { return badge(x.status, x.status); } },
      { h: 'Contract', f: function (x) { return hexLink('contract', x.contract); } },
      { h: 'Subject', f: function (x) { return hexLink('identity', x.did); } },
      { h: 'Insurer', f: function (x) { return x.insurer; } },
      { h: 'Height', f: function (x) { return link(['block', String(x.height)], String(x.height)); } },
      { h: 'Result', f: function (x) { return x.result_txid ? hexLink('tx', x.result_txid) : '—'; } },
      { h: 'Proof', f: function (x) { return x.proof ? x.proof + ' (' + x.signatures + ' sig.)' : '—'; } },
    ];
    c.key = function (x) { return x.txid; };
    return c;
  }

  function consentCols() {
    const c = [
      { h: 'Consent', f: function (x) { return hexLink('consent', x.id); } },
      { h: 'Subject', f: function (x) { return hexLink('identity', x.did); } },
      { h: 'Insurer', f: function (x) { return x.insurer; } },
      { h: 'Purpose', f: function (x) { return x.purpose; } },
      { h: 'Uses', f: function (x) { return el('span', { class: 'uses' }, x.uses + ' / ' + x.quota); } },
      { h: 'Expires', f: function (x) { return String(x.expires); } },
      { h: 'State', f: function (x) { return x.revoked ? badge('revoked', 'bad') : x.live ? badge('live', 'ok') : badge('not live', 'bad'); } },
    ];
    c.key = function (x) { return x.id; };
    return c;
  }

  function contractCols() {
    const c = [
      { h: 'Name', f: function (x) { return link(['contract', x.id], x.name); } },
      { h: 'Id', f: function (x) { return hexLink('contract', x.id); } },
      { h: 'Deployer', f: function (x) { return x.deployer; } },
      { h: 'Domains', f: function (x) { return x.domains.join(', '); } },
      { h: 'Status', f: function (x) { return badge(x.status, x.status); } },
      { h: 'Approvals', f: function (x) { return x.approvals.length ? x.approvals.join(', ') : '—'; } },
    ];
    c.key = function (x) { return x.id; };
    return c;
  }

  async function vHome() {
    const [b, c] = await Promise.all([rpc('block_list', { limit: 10 }), rpc('call_list', { limit: 10 })]);
    return [el('h2', null, 'Latest blocks'), table(blockCols(), b.blocks, 'blocks', 'No block yet.'),
      el('p', null, link(['blocks'], 'All blocks →')),
      el('h2', null, 'Latest calls'), table(callCols(), c.calls, 'calls', 'No call yet.'),
      el('p', null, link(['calls'], 'All calls →'))];
  }

  async function vBlocks(from) {
    const p = { limit: PAGE };
    if (from !== undefined) p.from = Number(from);
    const r = await rpc('block_list', p);
    return [el('h2', null, 'Blocks'), table(blockCols(), r.blocks, 'blocks', 'No block yet.'), pager(['blocks'], r.next)];
  }

  async function vBlock(h) {
    const p = /^[0-9]+$/.test(h) ? { height: Number(h) } : { hash: h };
    const [b] = await Promise.all([rpc('block_get', p), loadMembers()]);
    const cert = b.cert;
    let certRows = [['Certificate', 'none stored']];
    if (cert) {
      const vals = members.validators || [];
      const signers = cert.votes.map(function (v) { return vals[v.signer] !== undefined ? vals[v.signer] : '#' + v.signer; });
      certRows = [
        ['Certificate', cert.votes.length + ' votes (round ' + cert.view + ')', 'block-votes'],
        ['Signers', signers.join(', ')],
      ];
    }
    const nav = el('p', { class: 'pager' });
    if (b.height > 1) nav.appendChild(link(['block', String(b.height - 1)], '← ' + (b.height - 1)));
    nav.appendChild(link(['block', String(b.height + 1)], (b.height + 1) + ' →'));
    return [
      el('h2', null, 'Block ' + b.height),
      fields([
        ['Hash', el('span', { class: 'hex' }, b.hash)],
        ['Parent', b.height > 1 ? el('a', { href: route(['block', String(b.height - 1)]), class: 'hex' }, b.parent) : el('span', { class: 'hex' }, b.parent)],
        ['Time', time(b.time_ms)],
        ['Proposer', keyText(b.proposer)],
        ['Round', String(b.view)],
        ['Tx root', el('span', { class: 'hex' }, b.tx_root)],
        ['Receipts root', el('span', { class: 'hex' }, b.receipts_root)],
        ['State root', el('span', { class: 'hex' }, b.state_root)],
      ].concat(certRows)),
      el('h3', null, 'Transactions (' + b.txs.length + ')'),
      table(txCols(false), b.txs, 'block-txs', 'No transaction.'),
      nav,
    ];
  }

  async function vTxs(before) {
    const p = { limit: PAGE };
    if (before) p.before = before;
    const [r] = await Promise.all([rpc('tx_list', p), loadMembers()]);
    return [el('h2', null, 'Transactions'), table(txCols(true), r.txs, 'txs', 'No transaction yet.'), pager(['txs'], r.next)];
  }

  // Fields of a decoded transaction with links for the ids it names.
  const TX_LINKS = { did: 'identity', contract: 'contract', consent: 'consent', call: 'call', proposal: null };
  const TX_SKIP = { type: 1, chain_id: 1, sig: 1, sigs: 1, outputs: 1, inputs: 1, args: 1, member: 1 };

  function valueNode(k, v) {
    if (typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) && TX_LINKS[k]) return el('a', { href: route([TX_LINKS[k], v]), class: 'hex' }, v);
    if (typeof v === 'string' && /^[0-9a-f]{64,}$/.test(v)) return el('span', { class: 'hex' }, v);
    if (k === 'sender') return [keyText(v), ' ', el('span', { class: 'hex dim' }, v)];
    if (Array.isArray(v)) return v.map(function (x) { return typeof x === 'object' ? JSON.stringify(x) : String(x); }).join(', ');
    if (v && typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  async function vTx(id) {
    const [t] = await Promise.all([rpc('tx_get', { txid: id }), loadMembers()]);
    const tx = t.tx || {};
    const rows = [
      ['Txid', el('span', { class: 'hex' }, t.txid)],
      ['Type', tx.type || '?', 'tx-type'],
      ['Status', t.status],
    ];
    if (t.status === 'committed') {
      rows.push(['Block', link(['block', String(t.height)], String(t.height)), 'tx-height']);
      rows.push(['Index', String(t.index)]);
      rows.push(['Receipt', t.receipt.ok ? badge('ok', 'ok') : [badge(t.receipt.rule, 'bad'), ' ', t.receipt.message], 'tx-receipt']);
    }
    for (const k of Object.keys(tx)) if (!TX_SKIP[k]) rows.push([k, valueNode(k, tx[k])]);
    if (tx.args) rows.push(['args', tx.args.join(', ')]);
    const out = [el('h2', null, 'Transaction'), fields(rows, 'tx')];
    if (tx.type === 'call') out.push(el('p', null, link(['call', t.txid], 'The call and its result →')));
    if (tx.type === 'consent_grant') out.push(el('p', null, link(['consent', t.txid], 'The consent and its uses →')));
    if (tx.type === 'call_result') {
      out.push(el('p', null, link(['call', tx.call], 'The call →')));
      out.push(resultDetail(tx));
    }
    out.push(el('p', { class: 'dim' }, 'Signed encoding: ' + (t.raw ? t.raw.length / 2 : 0) + ' bytes.'));
    return out;
  }

  async function vIdentities(before) {
    const p = { limit: PAGE };
    if (before) p.before = before;
    const r = await rpc('identity_list', p);
    const cols = [
      { h: 'DID', f: function (x) { return hexLink('identity', x.did); } },
      { h: 'Registered', f: function (x) { return link(['block', String(x.registered_height)], String(x.registered_height)); } },
      { h: 'Attestations', f: function (x) { return String(x.attestations); } },
      { h: 'State', f: function (x) { return x.revoked ? badge('revoked', 'bad') : badge('active', 'ok'); } },
    ];
    cols.key = function (x) { return x.did; };
    return [el('h2', null, 'Identities'), table(cols, r.identities, 'identities', 'No identity yet.'), pager(['identities'], r.next)];
  }

  async function vIdentity(did) {
    const [id, consents, calls] = await Promise.all([
      rpc('identity_get', { did: did }), rpc('consent_list', { did: did }), rpc('call_list', { did: did, limit: PAGE })]);
    const att = id.attestations.map(function (a) { return a.bureau + ' ' + a.level + ' (block ' + a.height + ')'; });
    return [
      el('h2', null, 'Identity'),
      fields([
        ['DID', el('span', { class: 'hex' }, 'did:custos:' + id.did)],
        ['Subject key', el('span', { class: 'hex' }, id.key)],
        ['Registered', link(['block', String(id.registered_height)], String(id.registered_height))],
        ['Revoked', id.revoked ? 'yes, at block ' + id.revoked_height : 'no'],
        ['Attestations', att.length ? att.join('; ') : 'none'],
      ], 'identity'),
      el('h3', null, 'Consents'), table(consentCols(), consents, 'identity-consents', 'No consent.'),
      el('h3', null, 'Calls'), table(callCols(), calls.calls, 'identity-calls', 'No call.'),
    ];
  }

  async function vConsents(before) {
    const p = { limit: PAGE };
    if (before) p.before = before;
    const r = await rpc('consent_list_all', p);
    return [el('h2', null, 'Consents'), table(consentCols(), r.consents, 'consents', 'No consent yet.'), pager(['consents'], r.next)];
  }

  async function vConsent(id) {
    const c = await rpc('consent_get', { id: id });
    return [
      el('h2', null, 'Consent'),
      fields([
        ['Id', el('span', { class: 'hex' }, c.id)],
        ['Subject', hexLink('identity', c.did)],
        ['Insurer', c.insurer],
        ['Domains', c.domains.join(', ')],
        ['Contract', hexLink('contract', c.contract)],
        ['Purpose', c.purpose],
        ['Uses', c.uses + ' of ' + c.quota, 'consent-uses'],
        ['Expires at block', String(c.expires)],
        ['Granted', ['block ', link(['block', String(c.granted_height)], String(c.granted_height)), c.granted_by ? ' by ' + c.granted_by : ' by the subject']],
        ['Evidence', el('span', { class: 'hex' }, c.evidence)],
        ['Revoked', c.revoked ? 'yes, at block ' + c.revoked_height : 'no'],
        ['Live now', c.live ? badge('live', 'ok') : badge('not live', 'bad'), 'consent-live'],
        ['Grant', hexLink('tx', c.id)],
      ], 'consent'),
    ];
  }

  async function vContracts(before) {
    const p = { limit: PAGE };
    if (before) p.before = before;
    const r = await rpc('contract_list', p);
    return [el('h2', null, 'Contracts'), table(contractCols(), r.contracts, 'contracts', 'No contract yet.'), pager(['contracts'], r.next)];
  }

  async function vContract(id) {
    const [c, calls] = await Promise.all([rpc('contract_get', { id: id }), rpc('call_list', { contract: id, limit: PAGE })]);
    const appr = el('ul', { id: 'contract-approvals' });
    for (const d of c.domains) {
      const ok = c.approvals.indexOf(d) >= 0;
      appr.appendChild(el('li', { 'data-bureau': d }, d + ': ', ok ? badge('approved', 'ok') : badge('not yet', 'bad')));
    }
    for (const a of c.approvals) if (c.domains.indexOf(a) < 0) appr.appendChild(el('li', { 'data-bureau': a }, a + ': ', badge('approved', 'ok')));
    return [
      el('h2', null, 'Contract ' + c.name),
      fields([
        ['Id', el('span', { class: 'hex' }, c.id)],
        ['Deployer', c.deployer],
        ['Domains', c.domains.join(', ')],
        ['Status', badge(c.status, c.status), 'contract-status'],
        ['Callable now', yesno(c.callable)],
        ['Deployed', link(['block', String(c.deployed_height)], String(c.deployed_height))],
        ['Approvals', c.approvals.join(', ') || 'none', 'contract-approval-names'],
      ], 'contract'),
      el('h3', null, 'Approvals by bureau'), appr,
      el('h3', null, 'Calls'), table(callCols(), calls.calls, 'contract-calls', 'No call.'),
      el('h3', null, 'Source'), el('pre', { class: 'source' }, c.source || ''),
    ];
  }

  async function vCalls(before) {
    const p = { limit: PAGE };
    if (before) p.before = before;
    const r = await rpc('call_list', p);
    return [el('h2', null, 'Calls'), table(callCols(), r.calls, 'calls', 'No call yet.'), pager(['calls'], r.next)];
  }

  // The result of a call (a call_result as tx_get shows it).
  function resultDetail(r) {
    const out = [];
    const frost = r.proof === 'frost';
    const nsig = frost ? 1 : (r.sigs || []).length;
    out.push(fields([
      ['Result status', badge(r.status, r.status), 'result-status'],
      ['Proof', (frost ? 'FROST threshold signature' : 'quorum of party signatures') + ', ' + nsig + ' signature' + (nsig === 1 ? '' : 's'), 'result-proof'],
      r.status === 'aborted' ? ['Abort', (r.code_name || '') + ': ' + (r.reason || '')] : null,
      r.transcript ? ['Transcript', el('span', { class: 'hex' }, r.transcript)] : null,
    ]));
    if (r.status === 'done') {
      const oc = [
        { h: '#', f: function (o) { return String(o.i); } },
        { h: 'Kind', f: function (o) { return o.private ? 'private (masked for the insurer)' : 'public'; } },
        { h: 'Value', f: function (o) { return o.private ? el('span', { class: 'hex dim' }, o.masked) : el('b', { class: 'out-value' }, String(o.value)); } },
      ];
      oc.key = function (o) { return o.i; };
      out.push(el('h3', null, 'Outputs'));
      out.push(table(oc, (r.outputs || []).map(function (o, i) { return Object.assign({ i: i }, o); }), 'call-outputs', 'No output.'));
      const ic = [
        { h: 'Domain', f: function (x) { return x.domain; } },
        { h: 'Snapshot root', f: function (x) { return el('span', { class: 'hex', title: x.root }, short(x.root)); } },
        { h: 'Records', f: function (x) { return String(x.count); } },
      ];
      out.push(el('h3', null, 'Inputs (committed snapshots)'));
      out.push(table(ic, r.inputs || [], 'call-inputs', 'No input.'));
    }
    if (!frost && r.sigs && r.sigs.length) {
      out.push(el('p', { class: 'dim' }, 'Signed by parties ' + r.sigs.map(function (s) { return s.party; }).join(', ') + '.'));
    }
    return el('section', { class: 'result' }, out);
  }

  async function vCall(id) {
    const [c] = await Promise.all([rpc('call_get', { txid: id }), loadMembers()]);
    const parties = (c.parties || []).map(function (k, i) { const n = memberName(k); return i + ': ' + (n || short(k)); });
    const out = [
      el('h2', null, 'Call'),
      fields([
        ['Call', hexLink('tx', c.txid)],
        ['Status', badge(c.status, c.status), 'call-status'],
        ['Contract', hexLink('contract', c.contract)],
        ['Subject', hexLink('identity', c.did)],
        ['Consent', hexLink('consent', c.consent)],
        ['Insurer', c.insurer],
        ['Recorded', link(['block', String(c.height)], String(c.height))],
        ['Arguments', c.args ? c.args.join(', ') || 'none' : '?'],
        ['Parties', parties.join('; ')],
        c.result_txid ? ['Result', [hexLink('tx', c.result_txid), ' in block ', link(['block', String(c.result_height)], String(c.result_height))]] : null,
      ], 'call'),
    ];
    if (c.result) out.push(resultDetail(c.result));
    else if (c.status === 'pending') out.push(el('p', { class: 'dim' }, 'The call runs; its result is not on chain yet.'));
    return out;
  }

  async function vEvidence() {
    const e = await rpc('evidence_list', {});
    const rc = [
      { h: 'Accused', f: function (x) { return x.accused_name || short(x.accused); } },
      { h: 'Message', f: function (x) { return x.msg_type; } },
      { h: 'Height / round', f: function (x) { return x.height + ' / ' + x.round; } },
      { h: 'Reporter', f: function (x) { return x.reporter; } },
      { h: 'Recorded', f: function (x) { return link(['block', String(x.included_height)], String(x.included_height)); } },
      { h: 'Tx', f: function (x) { return hexLink('tx', x.txid); } },
    ];
    const oc = [
      { h: 'Signer', f: function (x) { return x.signer; } },
      { h: 'Type', f: function (x) { return x.type; } },
      { h: 'Height / round', f: function (x) { return x.height + ' / ' + x.round; } },
      { h: 'Seen', f: function (x) { return time(x.time_ms); } },
    ];
    const mc = [
      { h: 'Call', f: function (x) { return hexLink('call', x.call); } },
      { h: 'Culprit', f: function (x) { return x.culprit_name || ('party ' + x.culprit); } },
      { h: 'Session', f: function (x) { return x.session; } },
      { h: 'Kind', f: function (x) { return x.ev_type; } },
      { h: 'Reporter', f: function (x) { return x.reporter_name || short(x.reporter); } },
      { h: 'Recorded', f: function (x) { return link(['block', String(x.included_height)], String(x.included_height)); } },
      { h: 'Tx', f: function (x) { return hexLink('tx', x.txid); } },
    ];
    return [
      el('h2', null, 'Evidence'),
      el('h3', null, 'Consensus equivocations on chain'), table(rc, e.recorded || [], 'evidence-recorded', 'None recorded.'),
      el('h3', null, 'Equivocations this node saw'), table(oc, e.observed || [], 'evidence-observed', 'None seen.'),
      el('h3', null, 'MPC cheaters named during calls'), table(mc, e.mpc || [], 'evidence-mpc', 'None recorded.'),
    ];
  }

  // Search: a height, or a 64-hex id (txid, call, consent, DID, contract).
  async function vSearch(q) {
    q = q.trim();
    if (/^[0-9]+$/.test(q)) return go(['block', q]);
    const m = /^(did:custos:)?([0-9a-fA-F]{64})$/.exec(q);
    if (!m) throw new Error('Search takes a block height or a 64-hex id (txid, DID, contract, call or consent): "' + q + '" is neither.');
    const id = m[2].toLowerCase();
    if (!m[1]) {
      try {
        const t = await rpc('tx_get', { txid: id });
        const type = t.tx ? t.tx.type : '';
        return go([type === 'call' ? 'call' : type === 'consent_grant' ? 'consent' : 'tx', id]);
      } catch (e) {
        if (!notFound(e)) throw e;
      }
    }
    for (const [method, param, kind] of [['identity_get', 'did', 'identity'], ['contract_get', 'id', 'contract']]) {
      try {
        await rpc(method, { [param]: id });
        return go([kind, id]);
      } catch (e) {
        if (!notFound(e)) throw e;
      }
    }
    throw new Error('Nothing on chain has the id ' + id + ' (no transaction, call, consent, identity or contract).');
  }

  function go(path) {
    location.replace(route(path));
    return null;
  }

  const ROUTES = {
    '': vHome, blocks: vBlocks, block: vBlock, txs: vTxs, tx: vTx, identities: vIdentities,
    identity: vIdentity, consents: vConsents, consent: vConsent, contracts: vContracts,
    contract: vContract, calls: vCalls, call: vCall, evidence: vEvidence, search: vSearch,
  };
  // Views that need their argument.
  const NEEDS_ARG = { block: 1, tx: 1, identity: 1, consent: 1, contract: 1, call: 1, search: 1 };

  async function render() {
    const seq = ++renderSeq;
    const hash = location.hash;
    const parts = location.hash.replace(/^#\/?/, '').split('/').map(function (s) {
      try { return decodeURIComponent(s); } catch (e) { return s; }
    });
    const name = parts[0] || '';
    const fn = ROUTES[name];
    view.setAttribute('aria-busy', 'true');
    view.setAttribute('data-view', name || 'home');
    let content;
    try {
      if (!fn) throw new Error('No such page: #/' + name);
      if (NEEDS_ARG[name] && !parts[1]) throw new Error('#/' + name + '/… needs an id');
      content = await fn(parts[1]);
      if (content === null) return; // redirected
    } catch (e) {
      content = [el('h2', null, 'Error'), errorBox(e)];
    }
    if (seq !== renderSeq) return; // a newer navigation won
    view.replaceChildren(el('div', null, content));
    view.setAttribute('data-rendered', hash); // what is shown (tests wait on it)
    view.setAttribute('aria-busy', 'false');
    refreshStatus();
  }

  document.getElementById('search').addEventListener('submit', function (ev) {
    ev.preventDefault();
    const q = document.getElementById('q').value.trim();
    if (q) location.hash = route(['search', q]);
  });
  window.addEventListener('hashchange', render);
  setInterval(refreshStatus, 10000);
  render();
})();
