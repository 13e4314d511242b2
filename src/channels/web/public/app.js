// errand demo web chat: pick a directory person, talk to errand as them, and work the side panel.
// Plain ES module, no framework. Every server string goes into the DOM through textContent / DOM
// properties (never innerHTML).

const POLL_MS = 1000;
const PANEL_MS = 3000;
const PAGE = 200; // the server returns at most this many messages per poll
const MAX_BUTTON_CHOICES = 8;
const LS_PERSON = 'errand.person';
const SS_LINES = (email) => `errand.lines.${email}`;

// ---------------------------------------------------------------- DOM helpers

/** Creates an element. attrs: class, text, on* handlers, dataset via data-*, everything else as attribute/property. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);
let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

function fmtTime(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}`;
}

function fmtDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

// ---------------------------------------------------------------- state

const state = {
  people: [],
  me: null,           // person object
  gen: 0,             // bumps on every person switch; stale responses are dropped
  lastId: 0,          // highest message id seen
  since: null,        // server `now` of the previous poll
  offset: 0,          // server clock - client clock (ms), for ordering own lines
  items: [],          // rendered chat items in order: {type:'bot'|'me', id|seq, at, afterId, el, msg}
  byId: new Map(),    // message id -> item
  lines: [],          // own typed lines of the current person (persisted in sessionStorage)
  polling: false,
  pollAgain: false,
  pollTimer: null,
  panelTimer: null,
  panelBusy: null,    // gen of the panel request in flight
  panelAgain: false,
  panelData: null,
  panelSig: {},       // section -> JSON signature of what is rendered
  denyOpen: new Map(),// approval id -> draft reason (panel deny forms)
  keep: new Map(),    // key -> value of panel controls (e.g. triage item select) across re-renders
  connOk: true,
};

const els = {};

// ---------------------------------------------------------------- API

async function api(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    cache: 'no-store',
  });
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((data && (data.message || data.error)) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function setConn(ok, text) {
  if (state.connOk === ok && (ok || els.conn.textContent === text)) return;
  state.connOk = ok;
  els.conn.textContent = ok ? '' : text;
  els.conn.classList.toggle('conn-bad', !ok);
}

// ---------------------------------------------------------------- people

function roleText(p) { return (p.roles || []).join(', '); }

function renderPeople() {
  const sel = els.person;
  sel.textContent = '';
  const byDept = new Map();
  for (const p of state.people) {
    const d = p.department || 'Other';
    if (!byDept.has(d)) byDept.set(d, []);
    byDept.get(d).push(p);
  }
  for (const [dept, list] of byDept) {
    const group = h('optgroup', { label: dept });
    for (const p of list) group.append(h('option', { value: p.email, text: `${p.name} — ${p.title || 'no title'} · ${roleText(p)}` }));
    sel.append(group);
  }
  sel.disabled = false;
}

function renderPersonSummary() {
  const p = state.me;
  const box = els.personSummary;
  box.textContent = '';
  if (!p) return;
  box.append(
    h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true', text: initials(p.name) }),
    h('span', { class: 'persona-name', text: p.name }),
    h('span', { class: 'persona-title', text: [p.title, p.department].filter(Boolean).join(' · ') }),
    h('span', { class: 'chips' }, (p.roles || []).map((r) => h('span', { class: `chip chip-${r.replace(/[^a-z0-9-]/gi, '')}`, text: r }))),
  );
}

function initials(name) {
  return String(name || '?').split(/\s+/).filter(Boolean).slice(0, 2).map((s) => s[0].toUpperCase()).join('');
}

const personName = (email) => state.people.find((p) => p.email === email)?.name ?? email;
const hasRole = (r) => !!state.me?.roles?.includes(r);

async function switchPerson(email) {
  const p = state.people.find((x) => x.email === email) ?? state.people[0];
  if (!p) return;
  state.gen++;
  state.me = p;
  localStorage.setItem(LS_PERSON, p.email);
  els.person.value = p.email;
  renderPersonSummary();

  // reset the chat
  state.lastId = 0;
  state.since = null;
  state.items = [];
  state.byId.clear();
  state.polling = false;
  state.pollAgain = false;
  els.messages.textContent = '';
  els.messages.setAttribute('aria-busy', 'true');
  els.text.value = '';
  updateDateHelper();

  // reset the panel
  state.panelData = null;
  state.panelSig = {};
  state.denyOpen.clear();
  state.keep.clear();
  for (const slot of document.querySelectorAll('[data-slot]')) slot.textContent = '';
  $('#sec-triage').hidden = !hasRole('triage');
  $('#sec-cases').hidden = !(hasRole('triage') || hasRole('fulfiller'));

  // own lines of this person
  try { state.lines = JSON.parse(sessionStorage.getItem(SS_LINES(p.email)) || '[]'); } catch { state.lines = []; }
  for (const l of state.lines) insertItem({ type: 'me', seq: l.seq, at: l.at, afterId: l.afterId, el: renderMine(l) });

  await Promise.all([poll(), refreshPanel()]);
  els.messages.removeAttribute('aria-busy');
  updateEmptyState();
  scrollToBottom(true);
}

// ---------------------------------------------------------------- chat ordering

/** True when chat item a belongs before item b. */
function before(a, b) {
  if (a.type === 'bot' && b.type === 'bot') return a.id < b.id;
  if (a.type === 'me' && b.type === 'me') return a.seq < b.seq;
  if (a.type === 'bot') return a.id <= b.afterId || a.at < b.at;
  return !(b.id <= a.afterId || b.at < a.at);
}

function insertItem(item) {
  let pos = state.items.length;
  while (pos > 0 && before(item, state.items[pos - 1])) pos--;
  const next = state.items[pos];
  state.items.splice(pos, 0, item);
  els.messages.insertBefore(item.el, next ? next.el : null);
  if (item.type === 'bot') state.byId.set(item.id, item);
  regroup(pos);
  regroup(pos + 1);
}

/** Consecutive messages from the same side within two minutes share one avatar / timestamp. */
function regroup(i) {
  const cur = state.items[i];
  if (!cur) return;
  const prev = state.items[i - 1];
  const cont = !!prev && prev.type === cur.type && Math.abs(cur.at - prev.at) < 120000;
  cur.el.classList.toggle('cont', cont);
  if (prev) prev.el.classList.toggle('has-cont', cont);
}

// ---------------------------------------------------------------- polling

async function poll() {
  if (!state.me) return;
  if (state.polling) { state.pollAgain = true; return; }
  state.polling = true;
  const gen = state.gen;
  try {
    let more = true;
    while (more && gen === state.gen) {
      const q = new URLSearchParams({ as: state.me.email, after: String(state.lastId) });
      if (state.since) q.set('since', state.since);
      const t0 = Date.now();
      const r = await api('GET', `/web/messages?${q}`);
      const t1 = Date.now();
      if (gen !== state.gen) return;
      setConn(true);
      const serverNow = Date.parse(r.now);
      if (!Number.isNaN(serverNow)) state.offset = serverNow - (t0 + t1) / 2;
      state.since = r.now;
      applyMessages(r.messages || [], r.updates || []);
      more = (r.messages || []).length >= PAGE;
    }
  } catch (e) {
    if (gen === state.gen) setConn(false, 'Connection problem, retrying…');
  } finally {
    if (gen === state.gen) {
      state.polling = false;
      if (state.pollAgain) { state.pollAgain = false; poll(); }
    }
  }
}

function applyMessages(messages, updates) {
  if (!messages.length && !updates.length) return;
  const stick = nearBottom();
  let added = false;
  for (const m of messages) {
    if (typeof m.id !== 'number') continue;
    state.lastId = Math.max(state.lastId, m.id);
    if (state.byId.has(m.id)) { replaceMessage(m); continue; }
    insertItem({ type: 'bot', id: m.id, at: Date.parse(m.at) || 0, el: renderBot(m), msg: m });
    added = true;
  }
  for (const m of updates) if (state.byId.has(m.id)) replaceMessage(m);
  if (added) { updateDateHelper(); updateEmptyState(); markStale(); }
  if (added && stick) scrollToBottom();
}

/** True when the message carries controls of the running dialog (answers, confirm/edit/cancel). */
function isDialogMessage(m) {
  if (!m || m.resolved) return false;
  const choiceAction = m.choices?.options?.length ? (m.choices.actionId ?? 'answer') : null;
  return choiceAction === 'answer' || (Array.isArray(m.buttons) && m.buttons.some((b) => /^(answer|dialog:)/.test(b?.id ?? '')));
}

/** A question or summary of a dialog (with or without buttons). */
function isDialogStep(m) {
  const onlyStart = Array.isArray(m?.buttons) && m.buttons.length > 0 && m.buttons.every((b) => /^start:/.test(b?.id ?? ''));
  return !!m && !m.resolved && !onlyStart && (m.kind === 'prompt' || m.kind === 'summary' || (m.kind === 'error' && !!(m.input || m.choices)) || isDialogMessage(m));
}

/** Only the newest dialog step keeps live controls: an old "answer" click would answer the current question. */
function markStale() {
  let newest = true;
  for (let i = state.items.length - 1; i >= 0; i--) {
    const it = state.items[i];
    if (it.type !== 'bot' || !isDialogStep(it.msg)) continue;
    if (newest) { newest = false; continue; }
    if (!isDialogMessage(it.msg)) continue;
    if (it.el.classList.contains('stale')) continue;
    it.el.classList.add('stale');
    for (const c of it.el.querySelectorAll('.choices button, .choices input, .choices select, .actions [data-dialog] ')) c.disabled = true;
  }
}

function replaceMessage(m) {
  const item = state.byId.get(m.id);
  if (!item) return;
  const hadFocus = item.el.contains(document.activeElement);
  const el = renderBot(m);
  for (const c of ['cont', 'has-cont']) el.classList.toggle(c, item.el.classList.contains(c));
  item.el.replaceWith(el);
  item.el = el;
  item.msg = m;
  if (hadFocus) el.querySelector('.bubble')?.focus();
  updateDateHelper();
  markStale();
}

function nearBottom() {
  const m = els.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
}

function scrollToBottom() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

function updateEmptyState() {
  const box = els.messages;
  const existing = $('.empty', box);
  if (state.items.length) { existing?.remove(); return; }
  if (existing || !state.me) return;
  const first = state.me.name.split(' ')[0];
  const examples = ['I need access to the finance drive', 'My laptop screen is broken', 'status', 'help'];
  box.append(h('div', { class: 'empty' },
    h('p', { class: 'empty-title', text: `Hi ${first}, what do you need?` }),
    h('p', { class: 'empty-text', text: 'Describe it in your own words, or pick something from “Request something”. For example:' }),
    h('div', { class: 'empty-examples' }, examples.map((t) => h('button', { type: 'button', class: 'btn btn-ghost btn-sm', text: t, onclick: () => sendText(t) }))),
  ));
}

// ---------------------------------------------------------------- sending

function rememberLine(text) {
  const seq = (state.lines.at(-1)?.seq ?? 0) + 1;
  const line = { seq, text, at: Date.now() + state.offset, afterId: state.lastId };
  state.lines.push(line);
  if (state.lines.length > 300) state.lines = state.lines.slice(-300);
  try { sessionStorage.setItem(SS_LINES(state.me.email), JSON.stringify(state.lines)); } catch { /* quota: keep in memory */ }
  insertItem({ type: 'me', seq, at: line.at, afterId: line.afterId, el: renderMine(line) });
  updateEmptyState();
  scrollToBottom(true);
}

async function post(body) {
  const gen = state.gen;
  try {
    await api('POST', '/web/messages', { as: state.me.email, ...body });
    setConn(true);
  } catch (e) {
    if (gen !== state.gen) return;
    localNotice(`Could not send: ${e.message}`);
  }
  if (gen !== state.gen) return;
  await poll();
  refreshPanel();
}

async function sendText(text) {
  const t = text.trim();
  if (!t || !state.me) return;
  rememberLine(t);
  await post({ text: t });
}

/** Sends a button / choice action. echo: text shown as the user's own line (optional). */
async function sendAction(id, value, echo) {
  if (!state.me) return;
  if (echo) rememberLine(echo);
  const action = { id };
  if (value !== undefined && value !== null) action.value = String(value);
  await post({ action });
}

function localNotice(text) {
  const el = h('div', { class: 'msg msg-bot msg-error msg-local' },
    h('div', { class: 'bubble' }, h('div', { class: 'msg-text', text })));
  els.messages.append(el);
  scrollToBottom(true);
  setTimeout(() => el.remove(), 8000);
}

// ---------------------------------------------------------------- rendering messages

/**
 * Bot text with links to this server (e.g. a dashboard sign-in link) made clickable. Only same-origin
 * http(s) URLs become links, so a URL a person typed and errand echoed cannot become a phishing link.
 */
function linkedText(text) {
  const out = [];
  let last = 0;
  for (const m of String(text).matchAll(/https?:\/\/[^\s<>"']+/g)) {
    let href = m[0].replace(/[.,;:!?)]+$/, '');
    let url;
    try { url = new URL(href); } catch { continue; }
    if (url.origin !== location.origin) continue;
    out.push(String(text).slice(last, m.index), h('a', { href: url.href, rel: 'noopener', text: href }));
    last = m.index + href.length;
  }
  out.push(String(text).slice(last));
  return out;
}

const KIND_LABEL = { approval: 'Approval needed', triage: 'Triage', summary: 'Review your request' };

function renderMine(line) {
  return h('div', { class: 'msg msg-me' },
    h('div', { class: 'bubble' },
      h('span', { class: 'visually-hidden', text: 'You: ' }),
      h('div', { class: 'msg-text', text: line.text })),
    h('div', { class: 'msg-meta', text: fmtTime(line.at - state.offset) }));
}

const NEGATIVE = /\b(denied|rejected|declined|cancel+ed|failed|not a request|expired)\b/i;

function renderBot(m) {
  const kind = typeof m.kind === 'string' ? m.kind.replace(/[^a-z-]/g, '') : 'info';
  const neg = kind === 'outcome' && NEGATIVE.test(m.text ?? '');
  const card = kind === 'approval' || kind === 'triage' || kind === 'summary';
  const bubble = h('div', { class: `bubble${card ? ' bubble-card' : ''}`, tabindex: '-1' });
  if (KIND_LABEL[kind] && kind !== 'error') bubble.append(h('div', { class: 'kind-label', text: KIND_LABEL[kind] }));
  if (kind === 'error') bubble.append(h('div', { class: 'kind-label kind-warn' }, h('span', { 'aria-hidden': 'true', text: '⚠ ' }), 'Attention'));
  if (m.text) bubble.append(h('div', { class: 'msg-text' }, linkedText(m.text)));
  if (Array.isArray(m.fields) && m.fields.length && !(Array.isArray(m.progress) && m.progress.length)) bubble.append(renderFields(m.fields));
  if (Array.isArray(m.progress) && m.progress.length) bubble.append(renderProgressList(m.progress));

  if (m.resolved) {
    const neg = NEGATIVE.test(m.resolved);
    bubble.append(h('div', { class: `resolved${neg ? ' resolved-neg' : ''}`, role: 'note' },
      h('span', { class: 'resolved-icon', 'aria-hidden': 'true', text: neg ? '✕' : '✓' }),
      h('span', { text: m.resolved })));
  } else {
    if (m.choices && Array.isArray(m.choices.options) && m.choices.options.length) bubble.append(renderChoices(m));
    if (Array.isArray(m.buttons) && m.buttons.length) bubble.append(renderButtons(m.buttons, m));
  }

  return h('div', { class: `msg msg-bot msg-${kind}${neg ? ' msg-neg' : ''}`, 'data-id': String(m.id) },
    h('span', { class: 'avatar', 'aria-hidden': 'true', text: 'e' }),
    h('div', { class: 'msg-body' },
      h('span', { class: 'visually-hidden', text: 'errand: ' }),
      bubble,
      h('div', { class: 'msg-meta', text: fmtTime(Date.parse(m.at)) })));
}

function renderFields(fields) {
  const dl = h('dl', { class: 'fields' });
  for (const f of fields) {
    dl.append(h('div', { class: 'field' }, h('dt', { text: f.label ?? '' }), h('dd', { text: f.value ?? '' })));
  }
  return dl;
}

function progressBar(step, of, label) {
  const max = Math.max(0, Number(of) || 0);
  const now = Math.min(Math.max(0, Number(step) || 0), max);
  const pct = max ? Math.round((now / max) * 100) : 0;
  const bar = h('div', {
    class: `bar${max && now === max ? ' bar-done' : ''}`, role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(max),
    'aria-valuenow': String(now), 'aria-valuetext': `step ${now} of ${max}`, 'aria-label': label,
  }, h('span', { class: 'bar-fill' }));
  bar.firstChild.style.width = `${pct}%`;
  return bar;
}

function renderProgressList(list) {
  return h('ul', { class: 'progress-list' }, list.map((p) => h('li', { class: 'progress-item' },
    h('div', { class: 'progress-head' },
      h('span', { class: 'ref', text: p.ref }),
      h('span', { class: 'progress-title', text: p.title })),
    h('div', { class: 'progress-stage' },
      h('span', { text: p.stage }),
      h('span', { class: 'progress-count', text: `${p.step}/${p.of}` })),
    progressBar(p.step, p.of, `${p.ref} progress`))));
}

const isDeny = (id) => /:deny$/.test(id);

function styledClass(style) {
  return style === 'primary' ? 'btn btn-primary' : style === 'danger' ? 'btn btn-danger' : 'btn btn-secondary';
}

/** Echo text for a dialog button (approval / triage cards update in place, so they get none). */
function echoFor(b) {
  return /^(approval|triage):/.test(b.id) ? undefined : b.label;
}

function renderButtons(buttons, m) {
  const wrap = h('div', { class: 'actions' });
  const row = h('div', { class: 'btn-row' });
  for (const b of buttons) {
    if (!b || typeof b.id !== 'string') continue;
    row.append(h('button', {
      type: 'button', class: styledClass(b.style), text: b.label ?? b.id, 'data-dialog': /^(answer|dialog:)/.test(b.id) ? '1' : undefined,
      onclick: (ev) => {
        if (isDeny(b.id)) { openDenyForm(wrap, b, ev.currentTarget); return; }
        disableIn(wrap);
        sendAction(b.id, b.value, echoFor(b));
      },
    }));
  }
  wrap.append(row);
  return wrap;
}

function disableIn(root) {
  for (const c of root.querySelectorAll('button, input, select, textarea')) c.disabled = true;
  // polling re-enables by re-rendering on updates; otherwise re-enable after a moment in case nothing changes
  setTimeout(() => { if (root.isConnected && !root.closest('.stale')) for (const c of root.querySelectorAll('button, input, select, textarea')) c.disabled = false; }, 2500);
}

/** Inline "reason for denying" form; cancelling sends nothing. */
function denyForm({ onSubmit, onCancel, initial = '', onInput }) {
  const id = nextId('deny');
  const ta = h('textarea', { id, rows: '2', maxlength: '2000', required: true, placeholder: 'e.g. Not needed for this role', value: initial, oninput: (e) => onInput?.(e.target.value) });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'deny-form', novalidate: true },
    h('label', { for: id, text: 'Reason for denying (shared with the requester)' }),
    ta, err,
    h('div', { class: 'btn-row' },
      h('button', { type: 'submit', class: 'btn btn-danger btn-sm', text: 'Deny request' }),
      h('button', { type: 'button', class: 'btn btn-secondary btn-sm', text: 'Cancel', onclick: () => onCancel() })));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const reason = ta.value.trim();
    if (!reason) { err.textContent = 'Please give a reason.'; ta.setAttribute('aria-invalid', 'true'); ta.focus(); return; }
    onSubmit(reason, form);
  });
  form.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); onCancel(); } });
  return { form, focus: () => ta.focus() };
}

function openDenyForm(wrap, b, trigger) {
  if ($('.deny-form', wrap)) { $('.deny-form textarea', wrap)?.focus(); return; }
  const row = $('.btn-row', wrap);
  const f = denyForm({
    onCancel: () => { f.form.remove(); row.hidden = false; trigger?.focus(); },
    onSubmit: (reason, form) => { disableIn(form); sendAction(b.id, reason); },
  });
  row.hidden = true;
  wrap.append(f.form);
  f.focus();
}

function renderChoices(m) {
  const c = m.choices;
  const actionId = c.actionId ?? 'answer';
  const opts = c.options.filter((o) => o && o.value !== undefined);
  const labelOf = (v) => opts.find((o) => String(o.value) === String(v))?.label ?? String(v);
  const wrap = h('div', { class: 'choices' });
  const okLabel = /:assign$/.test(actionId) ? 'Assign' : 'OK';
  const echo = (txt) => (/^(approval|triage):/.test(actionId) ? undefined : txt);

  if (opts.length > MAX_BUTTON_CHOICES) {
    const id = nextId('choice');
    const sel = h('select', { id, ...(c.multi ? { multiple: true, size: String(Math.min(8, opts.length)) } : {}) });
    if (!c.multi) sel.append(h('option', { value: '', text: 'Choose…' }));
    for (const o of opts) sel.append(h('option', { value: String(o.value), text: o.label ?? String(o.value) }));
    const err = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', { class: 'choice-select' },
      h('label', { for: id, text: c.multi ? 'Choose one or more (Ctrl/⌘-click)' : (/:assign$/.test(actionId) ? 'Assign to a catalogue item' : 'Choose one') }),
      h('div', { class: 'inline' }, sel, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', text: okLabel })),
      err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const values = [...sel.selectedOptions].map((o) => o.value).filter(Boolean);
      if (!values.length) { err.textContent = 'Please choose an option first.'; sel.focus(); return; }
      disableIn(form);
      sendAction(actionId, values.join(','), echo(values.map(labelOf).join(', ')));
    });
    wrap.append(form);
    return wrap;
  }

  if (c.multi) {
    const legendId = nextId('legend');
    const fs = h('fieldset', { class: 'checks' }, h('legend', { id: legendId, class: 'visually-hidden', text: 'Choose one or more' }));
    for (const o of opts) {
      const id = nextId('chk');
      fs.append(h('div', { class: 'check' },
        h('input', { type: 'checkbox', id, value: String(o.value) }),
        h('label', { for: id, text: o.label ?? String(o.value) })));
    }
    const err = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', { class: 'choice-multi' }, fs, err, h('div', { class: 'btn-row' }, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', text: 'Submit' })));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const values = [...fs.querySelectorAll('input:checked')].map((i) => i.value);
      if (!values.length) { err.textContent = 'Tick at least one option (or type “skip” if it is optional).'; fs.querySelector('input')?.focus(); return; }
      disableIn(form);
      sendAction(actionId, values.join(','), echo(values.map(labelOf).join(', ')));
    });
    wrap.append(form);
    return wrap;
  }

  const row = h('div', { class: 'btn-row choice-row', role: 'group', 'aria-label': 'Options' });
  for (const o of opts) {
    row.append(h('button', {
      type: 'button', class: 'btn btn-choice', text: o.label ?? String(o.value),
      onclick: () => { disableIn(row); sendAction(actionId, o.value, echo(o.label ?? String(o.value))); },
    }));
  }
  wrap.append(row);
  return wrap;
}

// ---------------------------------------------------------------- composer

/** The latest bot message decides which input helper the composer offers. */
function updateDateHelper() {
  const last = [...state.items].reverse().find((i) => i.type === 'bot');
  const input = last?.msg?.input;
  const isDate = !!input && input.type === 'date' && !last.msg.resolved;
  els.dateHelper.hidden = !isDate;
  if (!isDate) els.datePick.value = '';
  els.text.placeholder = input?.placeholder || (isDate ? 'Type a date (e.g. 31 March, next Friday) or pick one' : input?.type === 'number' ? 'Type a number…' : input?.type === 'person' ? 'Type a name or e-mail…' : 'Tell errand what you need…');
  els.text.inputMode = input?.type === 'number' ? 'numeric' : 'text';
}

// ---------------------------------------------------------------- side panel

async function refreshPanel() {
  if (!state.me) return;
  const gen = state.gen;
  if (state.panelBusy === gen) { state.panelAgain = true; return; }
  state.panelBusy = gen;
  state.panelAgain = false;
  try {
    const data = await api('GET', `/web/panel?as=${encodeURIComponent(state.me.email)}`);
    if (gen !== state.gen) return;
    state.panelData = data;
    renderPanel(data);
  } catch (e) {
    if (gen === state.gen) setConn(false, 'Connection problem, retrying…');
  } finally {
    if (state.panelBusy === gen) {
      state.panelBusy = null;
      if (state.panelAgain && gen === state.gen) { state.panelAgain = false; refreshPanel(); }
    }
  }
}

/** Re-renders a panel section only when its data changed, keeping focus and control values. */
function section(name, data, render, count = Array.isArray(data) ? data.length : 0) {
  const sig = JSON.stringify(data) + (name === 'approvals' ? JSON.stringify([...state.denyOpen.keys()]) : '');
  if (state.panelSig[name] === sig) return;
  state.panelSig[name] = sig;
  const slot = document.querySelector(`[data-slot="${name}"]`);
  const focusKey = slot.contains(document.activeElement) ? document.activeElement.dataset.key : undefined;
  slot.textContent = '';
  slot.append(render());
  if (focusKey) slot.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  const badge = document.querySelector(`[data-count="${name}"]`);
  if (badge) badge.textContent = count ? String(count) : '';
}

function renderPanel(d) {
  const catalogue = Array.isArray(d.catalogue) ? d.catalogue : [];
  const title = (id) => catalogue.find((c) => c.id === id)?.title ?? id;

  section('requests', d.requests ?? [], () => {
    if (!d.requests?.length) return h('p', { class: 'muted', text: 'No open requests.' });
    return h('ul', { class: 'plist' }, d.requests.map((r) => h('li', { class: 'pitem' },
      h('div', { class: 'pitem-head' }, h('span', { class: 'ref', text: r.ref }), h('span', { class: 'pitem-title', text: r.title })),
      h('div', { class: 'progress-stage' }, h('span', { text: r.stage }), h('span', { class: 'progress-count', text: `${r.step}/${r.of}` })),
      progressBar(r.step, r.of, `${r.ref} progress`))));
  });

  section('approvals', d.approvals ?? [], () => {
    if (!d.approvals?.length) return h('p', { class: 'muted', text: 'Nothing waiting for you.' });
    return h('ul', { class: 'plist' }, d.approvals.map((a) => {
      const actions = h('div', { class: 'actions' });
      const row = h('div', { class: 'btn-row' },
        h('button', { type: 'button', class: 'btn btn-primary btn-sm', 'data-key': `approve:${a.id}`, text: 'Approve', onclick: () => { disableIn(actions); sendAction(`approval:${a.id}:approve`); } }),
        h('button', { type: 'button', class: 'btn btn-danger btn-sm', 'data-key': `deny:${a.id}`, text: 'Deny', onclick: () => { state.denyOpen.set(a.id, ''); state.panelSig.approvals = null; renderPanel(state.panelData); $(`[data-slot="approvals"] [data-deny="${CSS.escape(a.id)}"] textarea`)?.focus(); } }));
      actions.append(row);
      if (state.denyOpen.has(a.id)) {
        row.hidden = true;
        const f = denyForm({
          initial: state.denyOpen.get(a.id),
          onInput: (v) => state.denyOpen.set(a.id, v),
          onCancel: () => { state.denyOpen.delete(a.id); state.panelSig.approvals = null; renderPanel(state.panelData); $(`[data-key="deny:${CSS.escape(a.id)}"]`)?.focus(); },
          onSubmit: (reason, form) => { state.denyOpen.delete(a.id); disableIn(form); sendAction(`approval:${a.id}:deny`, reason); },
        });
        f.form.dataset.deny = a.id;
        f.form.querySelector('textarea').dataset.key = `reason:${a.id}`;
        actions.append(f.form);
      }
      return h('li', { class: 'pitem' },
        h('div', { class: 'pitem-head' }, a.ref ? h('span', { class: 'ref', text: a.ref }) : null, h('span', { class: 'pitem-title', text: a.item ? title(a.item) : 'Request' })),
        h('div', { class: 'pitem-meta', text: [a.requester ? `for ${personName(a.requester)}` : null, a.label].filter(Boolean).join(' · ') }),
        actions);
    }));
  });
  // drop drafts of approvals that are gone
  for (const id of state.denyOpen.keys()) if (!(d.approvals ?? []).some((a) => a.id === id)) state.denyOpen.delete(id);

  if (hasRole('triage')) {
    section('triage', { t: d.triage ?? [], c: catalogue }, () => {
      if (!d.triage?.length) return h('p', { class: 'muted', text: 'The triage queue is empty.' });
      return h('ul', { class: 'plist' }, d.triage.map((t) => {
        const selId = nextId('assign');
        const key = `assign:${t.id}`;
        const sugg = Array.isArray(t.suggestions) ? t.suggestions : [];
        const sel = h('select', { id: selId, 'data-key': key, onchange: (e) => state.keep.set(key, e.target.value) },
          h('option', { value: '', text: 'Choose a catalogue item…' }),
          catalogue.map((c) => h('option', { value: c.id, text: c.title })));
        sel.value = state.keep.get(key) ?? (sugg[0]?.intent && catalogue.some((c) => c.id === sugg[0].intent) ? sugg[0].intent : '');
        const err = h('p', { class: 'form-error', role: 'alert' });
        const box = h('div', { class: 'triage-actions' });
        const form = h('form', { class: 'inline-form' },
          h('label', { for: selId, class: 'visually-hidden', text: 'Catalogue item to assign' }),
          h('div', { class: 'inline' }, sel, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', 'data-key': `assign-btn:${t.id}`, text: 'Assign' })),
          err);
        form.addEventListener('submit', (e) => {
          e.preventDefault();
          if (!sel.value) { err.textContent = 'Choose a catalogue item first.'; sel.focus(); return; }
          disableIn(box);
          sendAction(`triage:${t.id}:assign`, sel.value);
        });
        box.append(form, h('div', { class: 'btn-row' },
          h('button', { type: 'button', class: 'btn btn-secondary btn-sm', 'data-key': `case:${t.id}`, text: 'Handle as case', onclick: () => { disableIn(box); sendAction(`triage:${t.id}:case`); } }),
          h('button', { type: 'button', class: 'btn btn-danger-ghost btn-sm', 'data-key': `nar:${t.id}`, text: 'Not a request', onclick: () => { disableIn(box); sendAction(`triage:${t.id}:not-a-request`); } })));
        return h('li', { class: 'pitem' },
          h('blockquote', { class: 'quote', text: t.text }),
          h('div', { class: 'pitem-meta', text: `${personName(t.requester)} · ${fmtDate(t.createdAt)}` }),
          sugg.length ? h('div', { class: 'pitem-meta', text: `Suggested: ${sugg.map((s) => `${title(s.intent)} (${Math.round((s.confidence || 0) * 100)}%)`).join(', ')}` }) : null,
          box);
      }));
    }, d.triage?.length ?? 0);
  }

  if (hasRole('triage') || hasRole('fulfiller')) {
    section('cases', d.cases ?? [], () => {
      if (!d.cases?.length) return h('p', { class: 'muted', text: 'No open cases.' });
      return h('ul', { class: 'plist' }, d.cases.map((c) => h('li', { class: 'pitem' },
        h('div', { class: 'pitem-head' }, h('span', { class: 'ref', text: c.ref }), h('span', { class: 'pitem-title', text: c.title })),
        h('div', { class: 'chips' },
          c.status ? h('span', { class: 'chip', text: c.status }) : null,
          c.priority ? h('span', { class: `chip chip-prio-${String(c.priority).replace(/[^a-z0-9]/gi, '')}`, text: `priority ${c.priority}` }) : null,
          c.queue ? h('span', { class: 'chip', text: c.queue }) : null),
        h('div', { class: 'pitem-meta', text: [c.person_email ? personName(c.person_email) : null, fmtDate(c.created_at)].filter(Boolean).join(' · ') }))));
    });
  }

  section('catalogue', catalogue, () => {
    if (!catalogue.length) return h('p', { class: 'muted', text: 'The catalogue is empty.' });
    const groups = new Map();
    for (const c of catalogue) {
      const g = c.category || 'Other';
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g).push(c);
    }
    const frag = document.createDocumentFragment();
    for (const [g, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
      frag.append(h('div', { class: 'cat-group' },
        h('h3', { class: 'cat-title', text: g.length <= 3 ? g.toUpperCase() : g[0].toUpperCase() + g.slice(1) }),
        h('div', { class: 'cat-items' }, list.map((c) => h('button', {
          type: 'button', class: 'btn btn-ghost btn-sm cat-item', 'data-key': `start:${c.id}`, text: c.title,
          onclick: () => sendAction(`start:${c.id}`, undefined, `I'd like to request: ${c.title}`),
        })))));
    }
    return frag;
  });
}

// ---------------------------------------------------------------- boot

async function boot() {
  els.person = $('#person');
  els.personSummary = $('#person-summary');
  els.messages = $('#messages');
  els.form = $('#composer');
  els.text = $('#composer-text');
  els.send = $('#send');
  els.dateHelper = $('#date-helper');
  els.datePick = $('#date-pick');
  els.conn = $('#conn');

  els.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = els.text.value;
    if (!t.trim()) { els.text.focus(); return; }
    els.text.value = '';
    els.datePick.value = '';
    sendText(t);
    els.text.focus();
  });
  els.datePick.addEventListener('change', () => {
    if (els.datePick.value) { els.text.value = els.datePick.value; els.text.focus(); }
  });
  els.person.addEventListener('change', () => switchPerson(els.person.value));
  // keep the newest message in view when the list changes size (layout switch, date helper, …)
  let stuck = true;
  els.messages.addEventListener('scroll', () => { stuck = nearBottom(); }, { passive: true });
  new ResizeObserver(() => { if (stuck) scrollToBottom(); }).observe(els.messages);

  try {
    state.people = await api('GET', '/web/people');
  } catch (e) {
    els.person.textContent = '';
    els.person.append(h('option', { text: 'Could not load people' }));
    setConn(false, `Could not reach the server (${e.message}). Reload to retry.`);
    return;
  }
  if (!state.people.length) { setConn(false, 'The directory is empty.'); return; }
  renderPeople();
  const saved = localStorage.getItem(LS_PERSON);
  await switchPerson(state.people.some((p) => p.email === saved) ? saved : state.people[0].email);

  state.pollTimer = setInterval(() => { if (!document.hidden) poll(); }, POLL_MS);
  state.panelTimer = setInterval(() => { if (!document.hidden) refreshPanel(); }, PANEL_MS);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) { poll(); refreshPanel(); } });
  els.text.focus();
}

boot();
