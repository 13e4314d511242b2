// Cycle time: daily p50/p90 and volume, by item and by requester group, with SLA compliance.
import { api, card, chart, COLORS, empty, fillItems, fmt, h, kpi, readFilters, run, scopeItems, show, table } from './common.js';

const GROUP_LABEL = { department: 'Department', location: 'Location', role: 'Role' };

run(async () => {
  const f = readFilters();
  const [d, items] = await Promise.all([api('cycle-time', { item: f.item, group: f.group, from: f.from, to: f.to }), scopeItems()]);
  fillItems(items);
  const o = d.overall;
  const slaTone = o.sla.compliance === null ? undefined : o.sla.compliance >= 0.9 ? 'good' : o.sla.compliance >= 0.75 ? 'warn' : 'bad';
  const kpis = h('div', { class: 'kpis' },
    kpi('Fulfilled', fmt.count(o.count), { unit: 'requests', id: 'count', hint: `${fmt.count(o.failed)} failed` }),
    kpi('Median (p50)', fmt.dur(o.p50Hours), { id: 'p50', hint: 'submission → completion' }),
    kpi('p90', fmt.dur(o.p90Hours), { id: 'p90', hint: `p99 ${fmt.dur(o.p99Hours)}` }),
    kpi('Mean', fmt.dur(o.meanHours), { id: 'mean' }),
    kpi('SLA met', fmt.pct(o.sla.compliance), { id: 'sla', tone: slaTone, hint: `${fmt.count(o.sla.met)} met, ${fmt.count(o.sla.breached)} breached` }));

  if (o.count + o.failed === 0) {
    show(kpis, card('Cycle time per day', empty(), { id: 'card-daily' }));
    return;
  }

  const daily = chart('chart-cycle', {
    data: {
      labels: d.daily.map((x) => fmt.day(x.date)),
      datasets: [
        { type: 'line', label: 'p50 (hours)', data: d.daily.map((x) => x.p50Hours), borderColor: COLORS[0], backgroundColor: COLORS[0], spanGaps: true, cubicInterpolationMode: 'monotone', yAxisID: 'y' },
        { type: 'line', label: 'p90 (hours)', data: d.daily.map((x) => x.p90Hours), borderColor: COLORS[1], backgroundColor: COLORS[1], spanGaps: true, cubicInterpolationMode: 'monotone', borderDash: [5, 4], yAxisID: 'y' },
        { type: 'bar', label: 'Fulfilled (requests)', data: d.daily.map((x) => x.count), backgroundColor: 'rgba(42, 157, 143, .35)', borderRadius: 3, yAxisID: 'y1' },
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, title: { display: true, text: 'hours' } },
        y1: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: 'requests' } },
      },
    },
  }, { label: 'Cycle time per day', tall: true });

  const stats = (first) => [
    first,
    { label: 'Fulfilled', num: true, value: (r) => fmt.count(r.count) },
    { label: 'Failed', num: true, value: (r) => fmt.count(r.failed) },
    { label: 'p50', num: true, value: (r) => fmt.dur(r.p50Hours) },
    { label: 'p90', num: true, value: (r) => fmt.dur(r.p90Hours) },
    { label: 'p99', num: true, value: (r) => fmt.dur(r.p99Hours) },
    { label: 'Mean', num: true, value: (r) => fmt.dur(r.meanHours) },
    { label: 'SLA met', num: true, value: (r) => fmt.pct(r.sla.compliance) },
  ];
  const byItem = table(stats({ label: 'Item', value: (r) => h('span', {}, r.title, h('span', { class: 'sub', text: `${r.item} · target ${r.responseTime ?? 'none'}` })) }), d.byItem, { id: 'by-item', key: (r) => r.item });
  const byGroup = table(stats({ label: GROUP_LABEL[d.group] ?? d.group, value: (r) => r.group }), d.byGroup, { id: 'by-group', key: (r) => r.group });

  show(kpis,
    card('Cycle time per day', daily, { id: 'card-daily', note: 'Requests completed each UTC day: median and 90th percentile of submission → completion' }),
    card('By item', byItem, { id: 'card-items' }),
    card(`By requester ${(GROUP_LABEL[d.group] ?? d.group).toLowerCase()}`, byGroup, { id: 'card-groups', note: d.group === 'role' ? 'A request counts once for each role of its requester' : undefined }));
});
