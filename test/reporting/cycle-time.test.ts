/** Cycle-time report on crafted history: exact counts, percentiles and SLA compliance per item and requester group. */
import { cycleTimeReport } from '../../src/reporting/cycle-time.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { at, craftRequest, percentileCont, seedPeople } from './fixtures.js';

let t: TestDb;
const FROM = new Date('2026-10-01T00:00:00Z');
const TO = new Date('2026-11-01T00:00:00Z');
const period = { from: FROM, to: TO };
const r3 = (x: number) => Math.round(x * 1000) / 1000;

beforeAll(async () => {
  t = await createTestDb();
  await seedPeople(t.db);
  const done = async (item: string, requester: string, start: Date, hours: number, status = 'fulfilled', responseTime = item === 'vpn' ? '8h' : '2d') =>
    craftRequest(t.db, { item, requester, createdAt: start, completedAt: at(start, hours), status, responseTime, title: item.toUpperCase() });
  const d5 = new Date('2026-10-05T09:00:00Z');
  const d6 = new Date('2026-10-06T09:00:00Z');
  // vpn (8h target): Ann 1h, 2h, 3h, 10h (late); Bob's failed after 5h
  await done('vpn', 'ann@example.com', d5, 1);
  await done('vpn', 'ann@example.com', d5, 2);
  await done('vpn', 'ann@example.com', d6, 3);
  await done('vpn', 'ann@example.com', d6, 10);
  await done('vpn', 'bob@example.com', d6, 5, 'failed');
  // laptop (2d target): Bob 24h, 30h; Cat 50h (late)
  await done('laptop', 'bob@example.com', d5, 24);
  await done('laptop', 'bob@example.com', d5, 30);
  await done('laptop', 'cat@example.com', d5, 50);
  // outside the period, or not completed, or denied: left out
  await done('vpn', 'ann@example.com', new Date('2026-09-30T20:00:00Z'), 1);
  await done('vpn', 'ann@example.com', new Date('2026-10-31T23:00:00Z'), 1);
  await craftRequest(t.db, { item: 'vpn', requester: 'ann@example.com', createdAt: d5, status: 'awaiting-approval' });
  await done('vpn', 'cat@example.com', d5, 1, 'denied');
});
afterAll(async () => { await t?.drop(); });

it('gives exact percentiles, counts and SLA compliance per item and overall', async () => {
  const r = await cycleTimeReport(t.db, period);
  const vpn = r.byItem.find((x) => x.item === 'vpn')!;
  expect(vpn).toMatchObject({ title: 'VPN', responseTime: '8h', count: 4, failed: 1, p50Hours: 2.5, p90Hours: 7.9, p99Hours: 9.79, meanHours: 4, sla: { met: 3, breached: 2, compliance: 0.6 } });
  const laptop = r.byItem.find((x) => x.item === 'laptop')!;
  expect(laptop).toMatchObject({ count: 3, failed: 0, p50Hours: 30, p90Hours: 46, p99Hours: 49.6, meanHours: r3(104 / 3), sla: { met: 2, breached: 1, compliance: 0.6667 } });
  const all = [1, 2, 3, 10, 24, 30, 50];
  expect(r.overall).toEqual({
    count: 7, failed: 1, p50Hours: 10, p90Hours: r3(percentileCont(all, 0.9)), p99Hours: r3(percentileCont(all, 0.99)), meanHours: r3(120 / 7),
    sla: { met: 5, breached: 3, compliance: 0.625 },
  });
});

it('segments by department, location and role (roles held through groups included; role segments overlap)', async () => {
  const dept = await cycleTimeReport(t.db, { ...period, group: 'department' });
  expect(dept.byGroup.map((g) => [g.group, g.count, g.failed, g.p50Hours])).toEqual([['Finance', 5, 0, 3], ['IT', 2, 1, 27]]);
  expect(dept.byItemAndGroup.map((g) => `${g.item}/${g.group}:${g.count}`)).toEqual(['laptop/Finance:1', 'laptop/IT:2', 'vpn/Finance:4', 'vpn/IT:0']);

  const loc = await cycleTimeReport(t.db, { ...period, group: 'location' });
  expect(loc.byGroup.map((g) => [g.group, g.count, g.p50Hours, g.sla.compliance])).toEqual([['Berlin', 3, 30, 0.5], ['London', 4, 2.5, 0.75]]);

  const role = await cycleTimeReport(t.db, { ...period, group: 'role' });
  const byRole = Object.fromEntries(role.byGroup.map((g) => [g.group, g.count]));
  expect(byRole).toEqual({ employee: 7, fulfiller: 2, manager: 1, triage: 2 });
  expect(role.overall.count).toBe(7);
});

it('filters by item and gives a daily series over every day of the period', async () => {
  const r = await cycleTimeReport(t.db, { ...period, items: ['vpn'] });
  expect(r.byItem.map((x) => x.item)).toEqual(['vpn']);
  expect(r.daily).toHaveLength(31);
  expect(r.daily.find((d) => d.date === '2026-10-05')).toEqual({ date: '2026-10-05', count: 2, failed: 0, p50Hours: 1.5, p90Hours: 1.9, slaCompliance: 1 });
  expect(r.daily.find((d) => d.date === '2026-10-06')).toMatchObject({ count: 2, failed: 1, slaCompliance: 0.3333 });
  expect(r.daily.find((d) => d.date === '2026-10-10')).toEqual({ date: '2026-10-10', count: 0, failed: 0, p50Hours: null, p90Hours: null, slaCompliance: null });
});
