/**
 * Forecast: additive Holt-Winters (period 7) on synthetic demand with a weekly pattern, a trend and
 * seeded noise; its error on held-out weeks is bounded and beats repeating the last week. Then the
 * same through the database, with capacity from triage and manual-task shares and handling times.
 */
import { randomUUID } from 'node:crypto';
import { forecastReport, forecastSeries } from '../../src/reporting/forecast.js';
import { fitHoltWinters, forecastHoltWinters, gridSearch, mae, mape, seasonalNaive } from '../../src/reporting/holt-winters.js';
import { addDays, dayOf } from '../../src/reporting/period.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { at, craftCase, craftTriage, seedPeople } from './fixtures.js';
import { mulberry32 } from '../support/rng.js';

const seeded = mulberry32;

const WEEK = [30, 34, 33, 31, 26, 6, 4]; // Monday … Sunday
/** `days` of demand: weekly pattern + 0.15/day trend + Gaussian noise (σ = 2), rounded, never negative. */
function demand(days: number, seed: number): number[] {
  const rnd = seeded(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  return Array.from({ length: days }, (_, t) => Math.max(0, Math.round(WEEK[t % 7]! + 0.15 * t + 2 * gauss())));
}

describe('Holt-Winters', () => {
  it('recovers an exact seasonal series with a trend', () => {
    const y = Array.from({ length: 42 }, (_, t) => 10 + 0.5 * t + [5, 3, 0, -1, -2, -3, -2][t % 7]!);
    const m = fitHoltWinters(y, 7, { alpha: 0.5, beta: 0.2, gamma: 0.3 });
    const next = forecastHoltWinters(m, 7);
    next.forEach((v, k) => expect(v).toBeCloseTo(10 + 0.5 * (42 + k) + [5, 3, 0, -1, -2, -3, -2][(42 + k) % 7]!, 6));
  });

  it.each([1, 2, 3, 4, 5])('on noisy weekly demand (seed %i) the held-out error is small and beats last week repeated', (seed) => {
    const y = demand(84, seed);
    const train = y.slice(0, 70), held = y.slice(70);
    const { params } = gridSearch(train, 7);
    const predicted = forecastHoltWinters(fitHoltWinters(train, 7, params), 14);
    const naive = seasonalNaive(train, 7, 14);
    expect(mape(held, predicted)!).toBeLessThan(15);
    expect(mae(held, predicted)).toBeLessThan(3.5);
    expect(mae(held, predicted)).toBeLessThan(mae(held, naive));
  });

  it('reports the held-out error next to the baseline, and falls back on short histories', () => {
    const y = demand(84, 7);
    // 2026-06-29 is a Monday, like the pattern's day 0
    const days = Array.from({ length: 84 }, (_, i) => dayOf(addDays(new Date('2026-06-29T00:00:00Z'), i)));
    const s = forecastSeries(null, days, y, 14, 2);
    expect(s.method).toBe('holt-winters');
    expect(s.holdout).toMatchObject({ weeks: 2, baseline: { method: 'seasonal-naive' }, beatsBaseline: true });
    expect(s.forecast.map((f) => f.date)).toEqual(Array.from({ length: 14 }, (_, i) => dayOf(addDays(new Date('2026-09-20T00:00:00Z'), i + 1))));
    expect(s.forecast.every((f) => f.count >= 0)).toBe(true);
    // weekends stay low in the forecast, as in the history
    const sunday = s.forecast.find((f) => new Date(`${f.date}T00:00:00Z`).getUTCDay() === 0)!;
    const tuesday = s.forecast.find((f) => new Date(`${f.date}T00:00:00Z`).getUTCDay() === 2)!;
    expect(sunday.count).toBeLessThan(tuesday.count / 2);

    const zeros = Array.from({ length: 70 }, () => 0);
    expect(forecastSeries('x', days.slice(0, 80), [...zeros, ...y.slice(0, 10)], 7, 2).method).toBe('seasonal-naive');
    expect(forecastSeries('x', days.slice(0, 73), [...zeros, 4, 5, 6], 7, 2)).toMatchObject({ method: 'mean', holdout: null });
    expect(forecastSeries('x', days.slice(0, 21), Array.from({ length: 21 }, (_, i) => y[i]!), 7, 2).holdout?.weeks).toBe(1);
  });
});

describe('forecast report from the database', () => {
  let t: TestDb;
  const NOW = new Date('2026-10-01T10:00:00Z');
  const start = addDays(new Date('2026-10-01T00:00:00Z'), -56);
  const volumes = demand(56, 11).map((v) => Math.round(v / 3)); // a smaller service: 56 days of history

  beforeAll(async () => {
    t = await createTestDb();
    await seedPeople(t.db);
    const snap = JSON.stringify({ id: 'vpn', title: 'VPN', responseTime: '8h' });
    for (const [i, n] of volumes.entries()) {
      if (!n) continue;
      await t.db.query(
        `INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, status, created_at)
         SELECT gen_random_uuid(), 'REQ-' || lpad(nextval('request_ref_seq')::text, 6, '0'), 'vpn', $1, 'ann@example.com', 'test', 'fulfilled', $2::timestamptz + (g || ' minutes')::interval
         FROM generate_series(1, $3) g`, [snap, at(addDays(start, i), 9), n]);
    }
    // the last 28 days: 10 triage items decided after 0.5 h, 4 manual tasks closed after 2 h
    const recent = (await t.db.query<{ id: string; created_at: Date }>(`SELECT id, created_at FROM requests WHERE created_at >= $1 ORDER BY created_at LIMIT 4`, [addDays(start, 28)])).rows;
    for (let i = 0; i < 10; i++) { const c = at(addDays(start, 30 + i), 10); await craftTriage(t.db, { requester: 'ann@example.com', createdAt: c, decidedAt: at(c, 0.5), assigned: 'vpn', topSuggestion: 'vpn' }); }
    for (const r of recent) await craftCase(t.db, r.id, r.created_at, at(r.created_at, 2), `${randomUUID()}:manual`);
  });
  afterAll(async () => { await t?.drop(); });

  it('forecasts the next weeks with the held-out error and the capacity they need', async () => {
    const r = await forecastReport(t.db, { now: NOW, item: 'vpn', weeks: 2, historyDays: 56 });
    expect(r.series).toMatchObject({ item: 'vpn', method: 'holt-winters', holdout: { weeks: 2 } });
    expect(r.series.history).toHaveLength(56);
    expect(r.series.forecast.map((f) => f.date)[0]).toBe('2026-10-01');
    expect(r.series.forecast).toHaveLength(14);
    expect(r.series.holdout!.mape).toBeLessThan(35);
    const recentRequests = volumes.slice(28).reduce((a, b) => a + b, 0);
    expect(r.capacity).toMatchObject({ requests: recentRequests, triageShare: Math.round((10 / recentRequests) * 10000) / 10000, manualShare: Math.round((4 / recentRequests) * 10000) / 10000, triageHandlingHours: 0.5, manualHandlingHours: 2 });
    const d0 = r.capacity.perDay[0]!;
    expect(d0.volume).toBe(r.series.forecast[0]!.count);
    expect(d0.personHours).toBeCloseTo(d0.volume * (r.capacity.triageShare * 0.5 + r.capacity.manualShare * 2), 1);
    expect(r.capacity.totalPersonHours).toBeCloseTo(r.capacity.perDay.reduce((a, d) => a + d.personHours, 0), 1);

    const all = await forecastReport(t.db, { now: NOW, weeks: 1, historyDays: 56 });
    expect(all.series.item).toBeNull();
    expect(all.items.map((i) => i.item)).toEqual(['vpn']);
    expect(all.series.forecast).toHaveLength(7);
  });
});
