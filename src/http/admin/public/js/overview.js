// Overview: today's volume, open requests by status, SLA risk, triage queue and manual work.
import { api, boot, card, chart, COLORS, empty, fillItems, fmt, h, kpi, label, run, show, table } from './common.js';

run(async () => {
  const d = await api('overview');
  fillItems(d.items ?? []);
  const statuses = Object.entries(d.open.byStatus).filter(([, n]) => n > 0);
  const breached = d.slaRisk.filter((r) => r.breached).length;

  const kpis = h('div', { class: 'kpis' },
    kpi('Submitted today', fmt.count(d.today.submitted), { unit: 'requests', id: 'submitted', hint: `UTC day ${d.today.date}` }),
    kpi('Fulfilled today', fmt.count(d.today.fulfilled), { unit: 'requests', id: 'fulfilled', tone: 'good' }),
    kpi('Failed today', fmt.count(d.today.failed), { unit: 'requests', id: 'failed', tone: d.today.failed ? 'bad' : undefined }),
    kpi('Open requests', fmt.count(d.open.total), { id: 'open', hint: `${fmt.count(d.slaRisk.length)} at risk, ${fmt.count(breached)} past target` }),
    kpi('Triage queue', fmt.count(d.triage.open), { unit: 'waiting', id: 'triage', tone: d.triage.open ? 'warn' : undefined, hint: d.triage.oldestAgeHours !== null ? `oldest ${fmt.dur(d.triage.oldestAgeHours)}` : 'empty' }),
    kpi('Manual tasks', fmt.count(d.manualTasks.open), { unit: 'open', id: 'manual', hint: d.manualTasks.oldestAgeHours !== null ? `oldest ${fmt.dur(d.manualTasks.oldestAgeHours)}` : 'none open' }));

  const openChart = statuses.length
    ? chart('chart-open', {
      type: 'bar',
      data: { labels: statuses.map(([s]) => label(s)), datasets: [{ label: 'Open requests', data: statuses.map(([, n]) => n), backgroundColor: statuses.map((_, i) => COLORS[i % COLORS.length]), borderRadius: 5, maxBarThickness: 90 }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: 'requests' } } } },
    }, { label: 'Open requests by status' })
    : empty('No open requests.');

  const risk = table([
    { label: 'Request', value: (r) => h('span', { class: 'mono', text: r.ref }) },
    { label: 'Item', value: (r) => r.title },
    { label: 'Status', value: (r) => label(r.status) },
    { label: 'Requester', value: (r) => r.requester },
    { label: 'Age', num: true, value: (r) => fmt.dur(r.ageHours) },
    { label: 'Target', num: true, value: (r) => fmt.dur(r.targetHours) },
    {
      label: 'Used', num: true,
      value: (r) => {
        const bar = h('span', {}); bar.style.width = `${Math.min(100, r.usedPct)}%`;
        return h('span', {}, `${fmt.num(r.usedPct)} %`, h('span', { class: `meter${r.breached ? ' bad' : ''}`, 'aria-hidden': 'true' }, bar));
      },
    },
    { label: 'Due', value: (r) => fmt.dateTime(r.dueAt) },
    { label: '', value: (r) => h('span', { class: `badge ${r.breached ? 'badge-bad' : 'badge-warn'}`, text: r.breached ? 'breached' : 'at risk' }) },
  ], d.slaRisk, { id: 'sla-risk', key: (r) => r.ref, empty: 'No open request has used 75 % of its target.' });

  const queues = table([
    { label: 'Queue', value: (r) => r.name },
    { label: 'Waiting', num: true, value: (r) => fmt.count(r.open) },
    { label: 'Oldest', num: true, value: (r) => (r.age === null ? '–' : fmt.dur(r.age)) },
    { label: 'Since', value: (r) => (r.at ? fmt.dateTime(r.at) : '–') },
  ], [
    { name: 'Triage (messages errand could not place)', open: d.triage.open, age: d.triage.oldestAgeHours, at: d.triage.oldestAt },
    { name: 'Manual tasks (cases of your items)', open: d.manualTasks.open, age: d.manualTasks.oldestAgeHours, at: d.manualTasks.oldestAt },
  ], { id: 'queues' });

  show(
    kpis,
    h('div', { class: 'grid grid-2' },
      card('Open requests by status', openChart, { id: 'card-open', note: `${fmt.count(d.open.total)} open` }),
      card('Triage queue and manual work', queues, { id: 'card-queues', note: 'Counts now' })),
    card('SLA risk', risk, { id: 'card-risk', note: 'Open requests that used at least 75 % of their response-time target, worst first' }),
  );
  if (boot.me?.role === 'service-owner') document.body.dataset.scope = 'owner';
});
