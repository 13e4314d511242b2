// errand admin dashboard: shared helpers for the page modules. Plain ES module, no framework, no
// build. Every server string goes into the DOM through textContent / DOM properties (never innerHTML).
// Data comes from /admin/api with the session cookie; PATCH/POST send the CSRF token in a header.

/** Who is signed in, which pages and items they may see (server-rendered JSON data block). */
export const boot = JSON.parse(document.getElementById('boot')?.textContent || '{}');

// ---------------------------------------------------------------- DOM

/** Creates an element. attrs: class, text, on* handlers, everything else as attribute/property. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
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

export const $ = (sel, root = document) => root.querySelector(sel);

// ---------------------------------------------------------------- formatting

const nf = new Intl.NumberFormat('en-GB');
const nf1 = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 1 });
const nf2 = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2 });

export const fmt = {
  /** A count: 1,234. */
  count: (n) => (n === null || n === undefined ? '–' : nf.format(n)),
  /** A number with at most `d` decimals. */
  num: (n, d = 1) => (n === null || n === undefined ? '–' : (d === 2 ? nf2 : nf1).format(n)),
  /** A ratio 0..1 as a percentage. */
  pct: (r) => (r === null || r === undefined ? '–' : `${nf1.format(r * 100)} %`),
  /** A duration in hours, in the unit that reads best: 45 min, 3.2 h, 2.5 d. */
  dur: (hours) => {
    if (hours === null || hours === undefined) return '–';
    if (hours < 1) { const m = hours * 60; return m < 1 ? `${nf.format(Math.round(m * 60))} s` : `${nf.format(Math.round(m))} min`; }
    if (hours < 48) return `${nf1.format(hours)} h`;
    return `${nf1.format(hours / 24)} d`;
  },
  /** Hours with the unit, for axes and tables where one unit is wanted. */
  hours: (hours) => (hours === null || hours === undefined ? '–' : `${nf2.format(hours)} h`),
  date: (iso) => { const d = new Date(iso); return Number.isNaN(d.getTime()) ? '–' : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }); },
  dateTime: (iso) => { const d = new Date(iso); return Number.isNaN(d.getTime()) ? '–' : d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }); },
  day: (ymd) => { const d = new Date(`${ymd}T00:00:00Z`); return Number.isNaN(d.getTime()) ? ymd : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' }); },
};

export const STATUS_LABEL = {
  'awaiting-approval': 'Awaiting approval', approved: 'Approved', 'in-fulfilment': 'In fulfilment', submitted: 'Submitted', waitlisted: 'Waiting for a licence', 'awaiting-info': 'Awaiting info',
};
export const label = (s) => STATUS_LABEL[s] ?? String(s).replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());

// ---------------------------------------------------------------- API

function cookieValue(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

export class ApiError extends Error {
  constructor(status, body) { super(body?.message ?? `HTTP ${status}`); this.status = status; this.body = body; }
}

async function request(method, url, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') { headers['content-type'] = 'application/json'; headers['x-csrf-token'] = cookieValue('errand_csrf'); }
  const res = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) { location.assign(`/admin/login?next=${encodeURIComponent(location.pathname + location.search)}`); throw new ApiError(401, { message: 'Signed out.' }); }
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : {}; } catch { json = { message: text }; }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** GET /admin/api/<path> with the non-empty params. */
export function api(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  return request('GET', `/admin/api/${path}${q.toString() ? `?${q}` : ''}`);
}

export const patch = (path, body) => request('PATCH', `/admin/api/${path}`, body);

// ---------------------------------------------------------------- filters

const DAY = 86_400_000;
const ymd = (d) => d.toISOString().slice(0, 10);
const today = () => new Date(Date.parse(boot.now ?? new Date().toISOString()));

/**
 * Reads the filter form from the URL (defaults: the last 30 days, today included), fills the
 * controls, and returns the API parameters. The form's "To" day is inclusive; the API's is not.
 */
export function readFilters() {
  const q = new URLSearchParams(location.search);
  const form = $('#filters');
  // namedItem: `elements.item` is HTMLFormControlsCollection's item() method, not the control
  const ctl = (name) => form?.elements.namedItem(name) ?? null;
  const v = (name, dflt = '') => q.get(name) ?? dflt;
  const out = {};
  if (ctl('from')) {
    const to = /^\d{4}-\d{2}-\d{2}$/.test(v('to')) ? v('to') : ymd(today());
    const from = /^\d{4}-\d{2}-\d{2}$/.test(v('from')) ? v('from') : ymd(new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY));
    ctl('from').value = from;
    ctl('to').value = to;
    out.from = from;
    out.to = ymd(new Date(Date.parse(`${to}T00:00:00Z`) + DAY));
    out.days = Math.round((Date.parse(out.to) - Date.parse(out.from)) / DAY);
  }
  for (const name of ['item', 'group', 'category', 'weeks']) {
    const el = ctl(name);
    if (!el) continue;
    const val = v(name);
    if (val) { el.dataset.want = val; el.value = val; }
    out[name] = val || el.value || undefined;
  }
  if (form) form.addEventListener('submit', (e) => {
    // drop empty controls from the URL
    e.preventDefault();
    const p = new URLSearchParams();
    for (const el of form.elements) if (el.name && el.value) p.set(el.name, el.value);
    location.assign(`${location.pathname}${p.toString() ? `?${p}` : ''}`);
  });
  return out;
}

/** The catalogue items the person may filter by: their scope (from the overview), else `fallback`. */
export async function scopeItems(fallback = []) {
  if (!boot.pages?.includes('overview')) return fallback;
  try { return (await api('overview')).items ?? fallback; } catch { return fallback; }
}

/** Fills the item picker and the scope line. */
export function fillItems(items) {
  const sel = $('#f-item');
  if (sel) {
    const want = sel.dataset.want ?? sel.value;
    for (const i of items) sel.append(h('option', { value: i.id, text: `${i.title} (${i.id})` }));
    if (want && items.some((i) => i.id === want)) sel.value = want;
  }
  const scope = $('#scope');
  if (scope) {
    if (Array.isArray(boot.scope)) scope.textContent = `Your items: ${items.filter((i) => boot.scope.includes(i.id)).map((i) => i.title).join(', ') || boot.scope.join(', ')}`;
    else scope.textContent = boot.me?.role === 'fulfiller' ? 'Failures of every item' : 'All catalogue items';
  }
}

// ---------------------------------------------------------------- building blocks

export const EMPTY = 'No data in this period.';
export const empty = (text = EMPTY) => h('p', { class: 'empty', text });

export function kpi(labelText, value, o = {}) {
  return h('div', { class: `kpi${o.tone ? ` kpi-${o.tone}` : ''}`, 'data-kpi': o.id },
    h('div', { class: 'kpi-label', text: labelText }),
    h('div', { class: 'kpi-value' }, h('span', { class: 'kpi-num', text: value }), o.unit ? h('span', { class: 'kpi-unit', text: o.unit }) : null),
    o.hint ? h('div', { class: 'kpi-hint', text: o.hint }) : null);
}

export function card(title, body, o = {}) {
  return h('section', { class: 'card', id: o.id, 'aria-label': title },
    h('div', { class: 'card-head' }, h('h2', { text: title }), o.note ? h('p', { class: 'card-note', text: o.note }) : null, o.actions ?? null),
    body);
}

/**
 * A table. columns: {label, value(row) → string | Node, num?: boolean, cls?}. `foot` is an optional
 * row object rendered in <tfoot> with the same columns.
 */
export function table(columns, rows, o = {}) {
  if (!rows.length) return empty(o.empty);
  const cell = (tag, c, r) => { const v = c.value(r); return h(tag, { class: [c.num ? 'num' : '', c.cls ?? ''].join(' ').trim() || undefined }, v instanceof Node ? v : String(v ?? '–')); };
  return h('div', { class: 'table-wrap' }, h('table', { id: o.id, 'data-rows': rows.length },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : undefined, scope: 'col', text: c.label })))),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-key': o.key ? o.key(r) : undefined }, columns.map((c) => cell('td', c, r))))),
    o.foot ? h('tfoot', {}, h('tr', {}, columns.map((c) => cell('td', c, o.foot)))) : null));
}

export const COLORS = ['#2f54c8', '#e07b39', '#2a9d8f', '#c0398c', '#8a6fdf', '#e9b949', '#5b6b8c', '#d94848'];

/** A canvas in a sized box, with a Chart.js chart (no animation: what is drawn is the data). */
export function chart(id, config, o = {}) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': o.label ?? id });
  const box = h('div', { class: `chart-box${o.tall ? ' tall' : ''}` }, canvas);
  const draw = () => {
    if (!canvas.isConnected) { setTimeout(draw, 0); return; } // drawn once the box is in the page
    const C = window.Chart;
    if (!C) { box.replaceChildren(empty('Charts could not be loaded.')); return; }
    C.defaults.font.family = getComputedStyle(document.body).fontFamily;
    C.defaults.color = '#4a5468';
    new C(canvas, {
      ...config,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: 'index', intersect: false },
        ...config.options,
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } }, ...(config.options?.plugins ?? {}) },
      },
    });
    canvas.dataset.drawn = 'true';
  };
  setTimeout(draw, 0);
  return box;
}

/** Shows a message in the page's status line (kind: '', 'error', 'ok'). */
export function status(text, kind = '') {
  const el = $('#status');
  if (!el) return;
  el.textContent = text;
  el.className = `status${kind ? ` ${kind}` : ''}`;
}

/** Replaces the page's view with `nodes`. */
export function show(...nodes) {
  const v = $('#view');
  v.replaceChildren(...nodes.flat().filter(Boolean));
  v.setAttribute('aria-busy', 'false');
  v.dataset.ready = 'true';
}

/** Runs a page: wires logout, then `render()`; errors end up in the status line. */
export async function run(render) {
  $('#logout')?.addEventListener('click', async () => {
    try { await request('POST', '/admin/logout'); } catch { /* signed out anyway */ }
    location.assign('/admin/login');
  });
  try {
    await render();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    show(empty(e instanceof ApiError && e.status === 403 ? e.message : 'The data could not be loaded.'));
    status(e.message ?? String(e), 'error');
  }
}
