// Forecast: requests per day (history), the Holt-Winters forecast, its error on held-out weeks
// against the seasonal-naive baseline, and the capacity (triage items, manual tasks, person-hours).
import { api, card, chart, COLORS, empty, fillItems, fmt, h, kpi, readFilters, run, scopeItems, show, table } from './common.js';

const METHOD = { 'holt-winters': 'Holt-Winters (weekly season)', 'seasonal-naive': 'Last week repeated (under 2 weeks of history)', mean: 'Mean (under 1 week of history)', none: 'No history' };

run(async () => {
  const f = readFilters();
  const [d, items] = await Promise.all([api('forecast', { item: f.item, weeks: f.weeks }), scopeItems()]);
  fillItems(items);
  const s = d.series;
  const c = d.capacity;
  if (!s.history.length) { show(card('Requests per day', empty('No requests in the last ' + d.historyDays + ' days to forecast from.'), { id: 'card-forecast' })); return; }

  const labels = [...s.history.map((x) => x.date), ...s.forecast.map((x) => x.date)];
  const n = s.history.length;
  const last = s.history[n - 1];
  const line = chart('chart-forecast', {
    type: 'line',
    data: {
      labels: labels.map(fmt.day),
      datasets: [
        { label: 'Requests per day (history)', data: [...s.history.map((x) => x.count), ...s.forecast.map(() => null)], borderColor: COLORS[0], backgroundColor: 'rgba(47, 84, 200, .12)', fill: true, cubicInterpolationMode: 'monotone', pointRadius: 2 },
        // the forecast line starts at the last day of history, so the two lines join
        { label: 'Forecast', data: [...s.history.map((_, i) => (i === n - 1 ? last.count : null)), ...s.forecast.map((x) => x.count)], borderColor: COLORS[1], borderDash: [6, 4], cubicInterpolationMode: 'monotone', pointRadius: 2 },
      ],
    },
    options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'requests per day' } } } },
  }, { label: 'Requests per day, history and forecast', tall: true });

  const ho = s.holdout;
  const sumForecast = s.forecast.reduce((a, x) => a + x.count, 0);
  const kpis = h('div', { class: 'kpis' },
    kpi('Forecast volume', fmt.num(sumForecast, 0), { unit: 'requests', id: 'volume', hint: `next ${d.weeks} week${d.weeks === 1 ? '' : 's'} (${fmt.num(sumForecast / s.forecast.length)} per day)` }),
    kpi('Held-out error (MAE)', ho ? fmt.num(ho.mae, 2) : '–', { unit: ho ? 'req/day' : undefined, id: 'mae', tone: ho ? (ho.beatsBaseline ? 'good' : 'warn') : undefined, hint: ho ? `last ${ho.weeks} week${ho.weeks === 1 ? '' : 's'} held out; baseline ${fmt.num(ho.baseline.mae, 2)}` : 'needs 3 weeks of history' }),
    kpi('Held-out MAPE', ho && ho.mape !== null ? fmt.num(ho.mape) : '–', { unit: ho && ho.mape !== null ? '%' : undefined, id: 'mape', hint: ho ? `baseline ${ho.baseline.mape === null ? '–' : `${fmt.num(ho.baseline.mape)} %`}` : undefined }),
    kpi('Person-hours needed', fmt.num(c.totalPersonHours), { unit: 'h', id: 'person-hours', hint: `triage and manual work over ${d.weeks} week${d.weeks === 1 ? '' : 's'}` }));

  const model = table([
    { label: 'Measure', value: (r) => r[0] },
    { label: 'Value', num: true, value: (r) => r[1] },
  ], [
    ['Method', METHOD[s.method] ?? s.method],
    ['Smoothing (α, β, γ)', s.params ? `${fmt.num(s.params.alpha, 2)}, ${fmt.num(s.params.beta, 2)}, ${fmt.num(s.params.gamma, 2)}` : '–'],
    ['Days of history', fmt.count(s.history.length)],
    ['Held-out MAE vs baseline', ho ? `${fmt.num(ho.mae, 2)} vs ${fmt.num(ho.baseline.mae, 2)} req/day` : '–'],
    ['Beats last-week-repeated', ho ? (ho.beatsBaseline ? 'yes' : 'no') : '–'],
  ], { id: 'model' });

  const capacity = table([
    { label: 'Measure', value: (r) => r[0] },
    { label: 'Value', num: true, value: (r) => r[1] },
  ], [
    ['Requests in the last 28 days', fmt.count(c.requests)],
    ['Triage items per request', fmt.pct(c.triageShare)],
    ['Manual tasks per request', fmt.pct(c.manualShare)],
    ['Triage handling time', fmt.dur(c.triageHandlingHours)],
    ['Manual task handling time', fmt.dur(c.manualHandlingHours)],
    ['Expected triage items', fmt.num(c.perDay.reduce((a, x) => a + x.triageItems, 0))],
    ['Expected manual tasks', fmt.num(c.perDay.reduce((a, x) => a + x.manualTasks, 0))],
    ['Person-hours (upper bound)', `${fmt.num(c.totalPersonHours)} h`],
  ], { id: 'capacity' });

  show(kpis,
    card('Requests per day', line, { id: 'card-forecast', note: `${s.history.length} days of history (since the first request, at most ${d.historyDays}) and ${d.weeks} week${d.weeks === 1 ? '' : 's'} ahead` }),
    h('div', { class: 'grid grid-2' },
      card('Model and held-out error', model, { id: 'card-model' }),
      card('Capacity', capacity, { id: 'card-capacity', note: 'Forecast volume × the last 28 days’ shares and handling times' })));
});
