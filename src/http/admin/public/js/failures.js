// Failures and root causes: counts by category, recurring errors, the latest failures; fulfillers
// and admins change a failure's category here (PATCH with the CSRF header; audited server-side).
import { api, boot, card, chart, empty, fillItems, fmt, h, kpi, patch, readFilters, run, scopeItems, show, status, table } from './common.js';

const CATEGORIES = ['process', 'system', 'user'];
const CAT_LABEL = { process: 'Process', system: 'System', user: 'User' };
const CAT_COLOR = { process: '#8a6fdf', system: '#2f54c8', user: '#e07b39' };
const OUTCOME_LABEL = { failed: 'Failed', manual: 'Handed to a person', refused: 'Refused' };
const badge = (c) => h('span', { class: `badge badge-${c}`, text: CAT_LABEL[c] ?? c });

function recategorise(f, reload) {
  const sel = h('select', { 'aria-label': `Category of failure ${f.id}`, name: 'category' }, CATEGORIES.map((c) => h('option', { value: c, text: CAT_LABEL[c], selected: c === f.category })));
  const reason = h('input', { type: 'text', name: 'reason', maxlength: '500', placeholder: 'Why (optional)', 'aria-label': `Reason for failure ${f.id}` });
  const save = h('button', { type: 'submit', class: 'btn btn-sm', text: 'Save' });
  return h('form', {
    class: 'recat', 'data-failure': f.id,
    onsubmit: async (e) => {
      e.preventDefault();
      if (sel.value === f.category && !reason.value.trim()) { status(`Failure ${f.id} is already ${CAT_LABEL[f.category]}.`); return; }
      save.disabled = true;
      try {
        const out = await patch(`failures/${f.id}/category`, { category: sel.value, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) });
        status(`Failure ${out.id} (${f.ref}) moved from ${CAT_LABEL[out.previous]} to ${CAT_LABEL[out.category]}.`, 'ok');
        await reload();
      } catch (err) {
        status(err.message, 'error');
        save.disabled = false;
      }
    },
  }, sel, reason, save);
}

async function render(f) {
  const d = await api('failures', { item: f.item, category: f.category, from: f.from, to: f.to });
  const kpis = h('div', { class: 'kpis' },
    kpi('Failures', fmt.count(d.total), { id: 'total', tone: d.total ? 'bad' : 'good' }),
    ...CATEGORIES.map((c) => kpi(CAT_LABEL[c], fmt.count(d.byCategory[c]), { id: c, hint: d.total ? `${fmt.pct(d.byCategory[c] / d.total)} of failures` : undefined })),
    kpi('Handed to a person', fmt.count(d.byOutcome.manual), { id: 'manual', hint: `${fmt.count(d.byOutcome.failed)} failed for good, ${fmt.count(d.byOutcome.refused)} refused` }));
  if (!d.total) { show(kpis, card('Failures by root-cause category', empty(), { id: 'card-categories' })); return d; }

  const byCat = chart('chart-categories', {
    type: 'bar',
    data: { labels: CATEGORIES.map((c) => CAT_LABEL[c]), datasets: [{ label: 'Failures', data: CATEGORIES.map((c) => d.byCategory[c]), backgroundColor: CATEGORIES.map((c) => CAT_COLOR[c]), borderRadius: 5, maxBarThickness: 90 }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'failures' } } } },
  }, { label: 'Failures by root-cause category' });

  const recurring = table([
    { label: 'Count', num: true, value: (r) => `${fmt.count(r.count)}×` },
    { label: 'Requests', num: true, value: (r) => fmt.count(r.requests) },
    { label: 'Item / step', value: (r) => h('span', {}, r.item, h('span', { class: 'sub', text: r.step ?? '(request)' })) },
    { label: 'Category', value: (r) => badge(r.category) },
    { label: 'Error', cls: 'wrap', value: (r) => h('span', { class: 'mono', text: r.signature, title: r.example }) },
    { label: 'Last seen', value: (r) => fmt.dateTime(r.lastAt) },
  ], d.recurring, { id: 'recurring' });

  const canEdit = Boolean(boot.canRecategorise);
  const recent = table([
    { label: '#', num: true, value: (r) => String(r.id) },
    { label: 'Request', value: (r) => h('span', { class: 'mono', text: r.ref }) },
    { label: 'Item / step', value: (r) => h('span', {}, r.item, h('span', { class: 'sub', text: r.step ?? '(request)' })) },
    { label: 'Outcome', value: (r) => OUTCOME_LABEL[r.outcome] ?? r.outcome },
    { label: 'Category', value: (r) => h('span', {}, badge(r.category), h('span', { class: 'sub', text: r.source === 'fulfiller' ? `by ${r.categorisedBy} (was ${r.autoCategory})` : r.reason })) },
    { label: 'Error', cls: 'wrap', value: (r) => r.error },
    { label: 'When', value: (r) => fmt.dateTime(r.occurredAt) },
    ...(canEdit ? [{ label: 'Change category', value: (r) => recategorise(r, () => render(f)) }] : []),
  ], d.recent, { id: 'recent', key: (r) => String(r.id) });

  show(kpis,
    h('div', { class: 'grid grid-1-2' },
      card('Failures by root-cause category', byCat, { id: 'card-categories', note: 'process: the workflow or connector definition · system: a backend · user: the request data' }),
      card('Recurring errors', recurring, { id: 'card-recurring', note: 'The same error signature, most frequent first' })),
    card('Latest failures', recent, { id: 'card-recent', note: canEdit ? 'You can change the category; the change is audited' : 'Fulfillers and admins can change the category' }));
  return d;
}

run(async () => {
  const f = readFilters();
  const [d, items] = await Promise.all([render(f), scopeItems()]);
  // fulfillers have no overview: offer the items their failures name
  fillItems(items.length ? items : [...new Set([...d.recurring, ...d.recent].map((r) => r.item))].sort().map((id) => ({ id, title: id })));
});
