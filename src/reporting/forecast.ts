/**
 * Demand forecast and capacity. Daily request counts (requests submitted per UTC day) over the last
 * `historyDays` before today, overall and per item, are forecast with additive Holt-Winters with a
 * weekly season (period 7):
 *
 * 1. The last `holdoutWeeks` weeks are held out; the smoothing parameters are chosen by grid search
 *    on the rest (least one-step-ahead squared error); the model forecasts the held-out weeks and
 *    its MAE and MAPE there are reported, next to the seasonal-naive baseline (the last training
 *    week repeated).
 * 2. The model is refitted with those parameters on the whole history and forecasts the next
 *    `weeks` weeks (negative values are cut to 0).
 *
 * The series starts at the first day with a request (days before launch would teach it zeros). With
 * fewer than two weeks of training data the held-out weeks shrink; below two weeks of history the
 * forecast is the last week repeated (`seasonal-naive`), below one week the mean.
 *
 * Capacity: expected triage items and manual tasks per day = forecast volume × the share of triage
 * items and manual tasks per request over the last 28 days; person-hours = those × the mean
 * handling time over the same window (triage: decided − created; manual tasks, i.e. cases opened
 * for requests: closed − created). Handling time is elapsed time, so person-hours are an upper bound.
 */
import type { Queryable } from '../db/database.js';
import { fitHoltWinters, forecastHoltWinters, gridSearch, mae, mape, seasonalNaive, type HwParams } from './holt-winters.js';
import { addDays, dayOf, startOfDay } from './period.js';

export const SEASON = 7;
const CAPACITY_WINDOW_DAYS = 28;

export interface ForecastOptions {
  /** Today (the forecast starts today; history ends yesterday). */
  now: Date;
  /** One item; undefined = overall plus every item with history. */
  item?: string;
  /** Only these items (a service owner's scope). */
  items?: string[];
  /** Weeks to forecast (default 2). */
  weeks?: number;
  /** Days of history to use (default 84). */
  historyDays?: number;
  /** Weeks held out to measure the error (default 2). */
  holdoutWeeks?: number;
}

export interface Holdout {
  weeks: number;
  mae: number;
  /** Percent, over held-out days with at least one request; null if none. */
  mape: number | null;
  baseline: { method: 'seasonal-naive'; mae: number; mape: number | null };
  beatsBaseline: boolean;
}

export interface ForecastSeries {
  /** null = all items together. */
  item: string | null;
  method: 'holt-winters' | 'seasonal-naive' | 'mean' | 'none';
  params: HwParams | null;
  history: { date: string; count: number }[];
  holdout: Holdout | null;
  forecast: { date: string; count: number }[];
}

export interface Capacity {
  window: { from: string; to: string };
  requests: number;
  triageShare: number;
  manualShare: number;
  triageHandlingHours: number | null;
  manualHandlingHours: number | null;
  perDay: { date: string; volume: number; triageItems: number; manualTasks: number; personHours: number }[];
  totalPersonHours: number;
}

export interface ForecastReport {
  generatedAt: string;
  weeks: number;
  historyDays: number;
  /** The item's series when `item` was given, else all items together. */
  series: ForecastSeries;
  capacity: Capacity;
  /** Per item (only without `item`). */
  items: ForecastSeries[];
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Forecasts a daily series (pure: no database). `days` are the dates of `counts`. */
export function forecastSeries(item: string | null, days: string[], counts: number[], horizon: number, holdoutWeeks: number): ForecastSeries {
  const first = counts.findIndex((c) => c > 0);
  const dates = first < 0 ? [] : days.slice(first);
  const y = first < 0 ? [] : counts.slice(first);
  const last = days.length ? new Date(`${days[days.length - 1]}T00:00:00Z`) : new Date(0);
  const future = Array.from({ length: horizon }, (_, k) => dayOf(addDays(last, k + 1)));
  const history = dates.map((date, i) => ({ date, count: y[i]! }));
  const out = (method: ForecastSeries['method'], values: number[], params: HwParams | null, holdout: Holdout | null): ForecastSeries =>
    ({ item, method, params, history, holdout, forecast: future.map((date, i) => ({ date, count: r2(Math.max(0, values[i] ?? 0)) })) });
  if (y.length === 0) return out('none', [], null, null);
  if (y.length < 2 * SEASON) {
    if (y.length < SEASON) { const m = y.reduce((a, b) => a + b, 0) / y.length; return out('mean', future.map(() => m), null, null); }
    return out('seasonal-naive', seasonalNaive(y, SEASON, horizon), null, null);
  }
  const weeks = Math.max(0, Math.min(holdoutWeeks, Math.floor((y.length - 2 * SEASON) / SEASON)));
  const hold = weeks * SEASON;
  const train = y.slice(0, y.length - hold);
  const { params } = gridSearch(train, SEASON);
  let holdout: Holdout | null = null;
  if (hold > 0) {
    const actual = y.slice(y.length - hold);
    const predicted = forecastHoltWinters(fitHoltWinters(train, SEASON, params), hold).map((v) => Math.max(0, v));
    const naive = seasonalNaive(train, SEASON, hold);
    const m = mae(actual, predicted), bm = mae(actual, naive);
    const p = mape(actual, predicted), bp = mape(actual, naive);
    holdout = { weeks, mae: r2(m), mape: p === null ? null : r2(p), baseline: { method: 'seasonal-naive', mae: r2(bm), mape: bp === null ? null : r2(bp) }, beatsBaseline: m < bm };
  }
  const model = fitHoltWinters(y, SEASON, params);
  return out('holt-winters', forecastHoltWinters(model, horizon), params, holdout);
}

/** Daily submitted-request counts per item for [from, to). */
async function dailyCounts(q: Queryable, from: Date, to: Date, items: string[] | null): Promise<Map<string, Map<string, number>>> {
  const r = await q.query<{ item_id: string; day: string; n: number }>(
    `SELECT item_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::int AS n FROM requests
     WHERE created_at >= $1 AND created_at < $2 AND ($3::text[] IS NULL OR item_id = ANY($3)) GROUP BY 1, 2`, [from, to, items]);
  const out = new Map<string, Map<string, number>>();
  for (const x of r.rows) { if (!out.has(x.item_id)) out.set(x.item_id, new Map()); out.get(x.item_id)!.set(x.day, x.n); }
  return out;
}

/** Shares of triage items and manual tasks per request, and their handling times, over a window. */
export async function capacityInputs(q: Queryable, from: Date, to: Date, items: string[] | null): Promise<Omit<Capacity, 'perDay' | 'totalPersonHours'>> {
  const r = (await q.query<{ requests: number; triage: number; manual: number; triage_secs: number | null; manual_secs: number | null }>(
    `SELECT
       (SELECT count(*) FROM requests WHERE created_at >= $1 AND created_at < $2 AND ($3::text[] IS NULL OR item_id = ANY($3)))::int AS requests,
       (SELECT count(*) FROM triage_items t WHERE t.created_at >= $1 AND t.created_at < $2 AND ($3::text[] IS NULL OR t.assigned_item = ANY($3)))::int AS triage,
       (SELECT count(*) FROM cases c JOIN requests r ON r.id = c.request_id WHERE c.created_at >= $1 AND c.created_at < $2 AND ($3::text[] IS NULL OR r.item_id = ANY($3)))::int AS manual,
       (SELECT avg(EXTRACT(EPOCH FROM (t.decided_at - t.created_at))) FROM triage_items t WHERE t.decided_at >= $1 AND t.decided_at < $2 AND ($3::text[] IS NULL OR t.assigned_item = ANY($3)))::float8 AS triage_secs,
       (SELECT avg(EXTRACT(EPOCH FROM (c.closed_at - c.created_at))) FROM cases c JOIN requests r ON r.id = c.request_id WHERE c.closed_at >= $1 AND c.closed_at < $2 AND ($3::text[] IS NULL OR r.item_id = ANY($3)))::float8 AS manual_secs`,
    [from, to, items])).rows[0]!;
  const h = (s: number | null) => (s === null ? null : Math.round((s / 3600) * 1000) / 1000);
  return {
    window: { from: from.toISOString(), to: to.toISOString() }, requests: r.requests,
    triageShare: r.requests ? Math.round((r.triage / r.requests) * 10000) / 10000 : 0,
    manualShare: r.requests ? Math.round((r.manual / r.requests) * 10000) / 10000 : 0,
    triageHandlingHours: h(r.triage_secs), manualHandlingHours: h(r.manual_secs),
  };
}

/** The forecast report. */
export async function forecastReport(q: Queryable, o: ForecastOptions): Promise<ForecastReport> {
  const weeks = o.weeks ?? 2;
  const historyDays = o.historyDays ?? 84;
  const end = startOfDay(o.now);
  const start = addDays(end, -historyDays);
  const scope = o.item ? [o.item] : o.items ?? null;
  const counts = await dailyCounts(q, start, end, scope);
  const days = Array.from({ length: historyDays }, (_, i) => dayOf(addDays(start, i)));
  const seriesOf = (ids: string[]) => days.map((d) => ids.reduce((a, id) => a + (counts.get(id)?.get(d) ?? 0), 0));
  const horizon = weeks * 7;
  const holdoutWeeks = o.holdoutWeeks ?? 2;
  const ids = o.item ? [o.item] : [...counts.keys()].sort();
  const series = forecastSeries(o.item ?? null, days, seriesOf(ids), horizon, holdoutWeeks);
  const inputs = await capacityInputs(q, addDays(end, -CAPACITY_WINDOW_DAYS), end, scope);
  const perDay = series.forecast.map(({ date, count }) => {
    const triageItems = count * inputs.triageShare, manualTasks = count * inputs.manualShare;
    return { date, volume: count, triageItems: r2(triageItems), manualTasks: r2(manualTasks), personHours: r2(triageItems * (inputs.triageHandlingHours ?? 0) + manualTasks * (inputs.manualHandlingHours ?? 0)) };
  });
  return {
    generatedAt: o.now.toISOString(), weeks, historyDays, series,
    capacity: { ...inputs, perDay, totalPersonHours: r2(perDay.reduce((a, d) => a + d.personHours, 0)) },
    items: o.item ? [] : ids.map((id) => forecastSeries(id, days, seriesOf([id]), horizon, holdoutWeeks)),
  };
}
