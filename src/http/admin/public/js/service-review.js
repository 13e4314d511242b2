// Service review: one row per item (volume, automation, SLA, cycle time, satisfaction,
// classification, failures) and all items together, with the same report as CSV.
import { api, card, fillItems, fmt, h, kpi, readFilters, run, scopeItems, show, table } from './common.js';

run(async () => {
  const f = readFilters();
  const [d, items] = await Promise.all([api('service-review', { item: f.item, from: f.from, to: f.to }), scopeItems()]);
  fillItems(items);
  const o = d.overall;
  const q = new URLSearchParams({ from: f.from, to: f.to, ...(f.item ? { item: f.item } : {}) });
  const csv = h('a', { class: 'btn', id: 'csv', href: `/admin/service-review.csv?${q}`, download: '', text: '⬇ Download CSV' });

  const kpis = h('div', { class: 'kpis' },
    kpi('Submitted', fmt.count(o.volume.submitted), { unit: 'requests', id: 'submitted', hint: `${fmt.count(o.volume.fulfilled)} fulfilled, ${fmt.count(o.volume.failed)} failed` }),
    kpi('Automation', fmt.pct(o.automation.rate), { id: 'automation', hint: 'fulfilled without triage or manual work' }),
    kpi('SLA met', fmt.pct(o.timeliness.sla.compliance), { id: 'sla', hint: `p50 ${fmt.dur(o.timeliness.p50Hours)}, p90 ${fmt.dur(o.timeliness.p90Hours)}` }),
    kpi('Satisfaction', o.satisfaction.mean === null ? '–' : fmt.num(o.satisfaction.mean), { unit: o.satisfaction.mean === null ? undefined : '/ 5', id: 'satisfaction', hint: `${fmt.count(o.satisfaction.count)} ratings` }),
    kpi('Classification accuracy', fmt.pct(o.classification.accuracy), { id: 'accuracy', hint: `${fmt.count(o.classification.routed)} routed, ${fmt.count(o.classification.missed)} missed` }),
    kpi('Failures', fmt.count(o.failures.total), { id: 'failures', hint: `process ${o.failures.byCategory.process}, system ${o.failures.byCategory.system}, user ${o.failures.byCategory.user}` }));

  const cols = [
    { label: 'Item', value: (i) => (i.item === '*' ? 'All items' : h('span', {}, i.title, h('span', { class: 'sub', text: i.item }))) },
    { label: 'Submitted', num: true, value: (i) => fmt.count(i.volume.submitted) },
    { label: 'Fulfilled', num: true, value: (i) => fmt.count(i.volume.fulfilled) },
    { label: 'Failed', num: true, value: (i) => fmt.count(i.volume.failed) },
    { label: 'Denied', num: true, value: (i) => fmt.count(i.volume.denied) },
    { label: 'Automation', num: true, value: (i) => fmt.pct(i.automation.rate) },
    { label: 'SLA met', num: true, value: (i) => fmt.pct(i.timeliness.sla.compliance) },
    { label: 'p50', num: true, value: (i) => fmt.dur(i.timeliness.p50Hours) },
    { label: 'p90', num: true, value: (i) => fmt.dur(i.timeliness.p90Hours) },
    { label: 'Satisfaction', num: true, value: (i) => (i.satisfaction.mean === null ? '–' : `${fmt.num(i.satisfaction.mean)} (${fmt.count(i.satisfaction.count)})`) },
    { label: 'Classification', num: true, value: (i) => fmt.pct(i.classification.accuracy) },
    { label: 'Failures', num: true, value: (i) => fmt.count(i.failures.total) },
  ];
  const rows = table(cols, d.items, { id: 'review', key: (i) => i.item, foot: d.items.length > 1 ? { ...o, item: '*', title: 'All items' } : undefined });

  const causes = d.items.flatMap((i) => i.failures.top.map((f) => ({ ...f, item: i.item, title: i.title })));
  const top = table([
    { label: 'Item', value: (f) => h('span', {}, f.title, h('span', { class: 'sub', text: f.step ? `${f.item} / ${f.step}` : f.item })) },
    { label: 'Category', value: (f) => h('span', { class: `badge badge-${f.category}`, text: f.category }) },
    { label: 'Count', num: true, value: (f) => `${fmt.count(f.count)}×` },
    { label: 'Error', cls: 'wrap', value: (f) => h('span', { class: 'mono', text: f.signature, title: f.example }) },
  ], causes, { id: 'top-causes', empty: 'No failures in this period.' });

  show(kpis, card('Per item', rows, { id: 'card-review', note: `${fmt.date(d.from)} – ${fmt.date(new Date(Date.parse(d.to) - 1).toISOString())}`, actions: h('div', { class: 'downloads' }, csv) }),
    card('Top failure causes', top, { id: 'card-causes', note: 'The most frequent error signatures of each item' }));
});
