// Bottlenecks: where the time of a request goes, per item (stacked bar of mean hours per request).
import { api, card, chart, COLORS, empty, fillItems, fmt, h, readFilters, run, scopeItems, show, table } from './common.js';

export const COMPONENTS = ['approval', 'manual-work', 'retries', 'automated-steps', 'waiting'];
const LABEL = { approval: 'Approval', 'manual-work': 'Manual work', retries: 'Retries', 'automated-steps': 'Automated steps', waiting: 'Waiting' };
const COLOR = { approval: COLORS[0], 'manual-work': COLORS[1], retries: COLORS[7], 'automated-steps': COLORS[2], waiting: COLORS[6] };

run(async () => {
  const f = readFilters();
  const [d, items] = await Promise.all([api('bottlenecks', { item: f.item, from: f.from, to: f.to }), scopeItems()]);
  fillItems(items);
  if (!d.items.length) { show(card('Time per request, by item', empty(), { id: 'card-stack' })); return; }

  const mean = (i, c) => i.components.find((x) => x.component === c)?.meanHours ?? 0;
  const stack = chart('chart-bottlenecks', {
    type: 'bar',
    data: {
      labels: d.items.map((i) => i.title),
      datasets: COMPONENTS.map((c) => ({ label: LABEL[c], data: d.items.map((i) => mean(i, c)), backgroundColor: COLOR[c], borderRadius: 3 })),
    },
    options: {
      indexAxis: 'y',
      scales: { x: { stacked: true, beginAtZero: true, title: { display: true, text: 'mean hours per request' } }, y: { stacked: true } },
      plugins: { tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt.dur(ctx.parsed.x)}` } } },
    },
  }, { label: 'Mean time per request by component and item', tall: d.items.length > 5 });

  const ranking = table([
    { label: 'Item', value: (r) => r.title },
    { label: 'Component', value: (r) => LABEL[r.component] },
    { label: 'Total', num: true, value: (r) => fmt.dur(r.totalHours) },
    { label: 'Per request', num: true, value: (r) => fmt.dur(r.meanHours) },
    { label: 'Share of item', num: true, value: (r) => fmt.pct(r.share) },
  ], d.ranking.slice(0, 15), { id: 'ranking' });

  const perItem = table([
    { label: 'Item', value: (i) => h('span', {}, i.title, h('span', { class: 'sub', text: i.item })) },
    { label: 'Requests', num: true, value: (i) => fmt.count(i.requests) },
    { label: 'Mean cycle', num: true, value: (i) => fmt.dur(i.meanCycleHours) },
    { label: 'Biggest part', value: (i) => (i.top ? LABEL[i.top] : '–') },
    { label: 'Retries', num: true, value: (i) => fmt.count(i.retries) },
    { label: 'Timeouts', num: true, value: (i) => fmt.count(i.timeouts) },
    { label: 'Manual tasks', num: true, value: (i) => fmt.count(i.manualTasks) },
    { label: 'Slowest approval step', value: (i) => (i.approvalSteps[0] ? `${i.approvalSteps[0].step}: ${fmt.dur(i.approvalSteps[0].meanHours)} mean` : '–') },
  ], d.items, { id: 'per-item', key: (i) => i.item });

  show(
    card('Time per request, by item', stack, { id: 'card-stack', note: 'Mean hours per completed request, split by where the time went' }),
    card('Per item', perItem, { id: 'card-per-item' }),
    card('Biggest bottlenecks', ranking, { id: 'card-ranking', note: 'Total hours over the period, biggest first' }));
});
