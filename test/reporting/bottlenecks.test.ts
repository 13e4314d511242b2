/** Bottlenecks on crafted history: approval delay vs manual work vs retries vs automated steps, ranked. */
import { bottleneckReport } from '../../src/reporting/bottlenecks.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { at, craftApproval, craftCase, craftRequest, craftRetry, craftStep, seedPeople } from './fixtures.js';

let t: TestDb;
const T0 = new Date('2026-10-05T08:00:00Z');
const period = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };

beforeAll(async () => {
  t = await createTestDb();
  await seedPeople(t.db);
  // app-access #1: 10 h waiting for the manager, 0.5 h to be picked up, two quick automated steps
  const a = await craftRequest(t.db, { item: 'app-access', requester: 'ann@example.com', createdAt: T0, approvedAt: at(T0, 10), startedAt: at(T0, 10.5), completedAt: at(T0, 11), status: 'fulfilled' });
  await craftApproval(t.db, a.id, 'manager', T0, at(T0, 10));
  await craftStep(t.db, a.id, 'grant', { index: 0, startedAt: at(T0, 10.5), finishedAt: at(T0, 10.6) });
  await craftStep(t.db, a.id, 'tell', { index: 1, startedAt: at(T0, 10.6), finishedAt: at(T0, 10.6 + 1 / 60) });
  // app-access #2: 2 h approval, two timed-out attempts (30 min back-off each), then 4 h of manual work
  const b = await craftRequest(t.db, { item: 'app-access', requester: 'ann@example.com', createdAt: T0, approvedAt: at(T0, 2), startedAt: at(T0, 2), completedAt: at(T0, 8), status: 'fulfilled' });
  await craftApproval(t.db, b.id, 'manager', T0, at(T0, 2));
  await craftRetry(t.db, b.id, 'grant', at(T0, 2.1), 1_800_000, 'POST https://apps.test/grants: timed out after 30000 ms');
  await craftRetry(t.db, b.id, 'grant', at(T0, 2.7), 1_800_000, 'step timed out');
  const task = await craftCase(t.db, b.id, at(T0, 3.5), at(T0, 7.5));
  await craftStep(t.db, b.id, 'grant', { index: 0, startedAt: at(T0, 3.3), finishedAt: at(T0, 7.5), manualCase: task, output: { manual: true } });
  // vpn-access: no approval, 2 h of automation
  const c = await craftRequest(t.db, { item: 'vpn-access', requester: 'bob@example.com', createdAt: T0, approvedAt: T0, startedAt: T0, completedAt: at(T0, 2), status: 'fulfilled' });
  await craftStep(t.db, c.id, 'add', { startedAt: T0, finishedAt: at(T0, 2) });
  // still open: not part of the report
  await craftRequest(t.db, { item: 'vpn-access', requester: 'bob@example.com', createdAt: T0, approvedAt: T0, startedAt: T0, status: 'in-fulfilment' });
});
afterAll(async () => { await t?.drop(); });

it('splits each item\'s time into approval, manual work, retries, automated steps and waiting, largest first', async () => {
  const r = await bottleneckReport(t.db, period);
  expect(r.items.map((i) => [i.item, i.requests, i.meanCycleHours])).toEqual([['app-access', 2, 9.5], ['vpn-access', 1, 2]]);
  const app = r.items[0]!;
  expect(app.components.map((c) => [c.component, c.totalHours])).toEqual([
    ['approval', 12], ['manual-work', 4], ['waiting', 1.883], ['retries', 1], ['automated-steps', 0.117],
  ]);
  expect(app.components[0]).toMatchObject({ meanHours: 6, share: 0.6316 });
  expect(app).toMatchObject({ top: 'approval', retries: 2, timeouts: 2, manualTasks: 1 });
  expect(app.approvalSteps).toEqual([{ step: 'manager', decided: 2, meanHours: 6, maxHours: 10 }]);
  expect(app.workflowSteps.find((s) => s.step === 'grant')).toEqual({ step: 'grant', runs: 2, meanHours: 0.1, retries: 2, manual: 1 });
  expect(r.items[1]).toMatchObject({ top: 'automated-steps', retries: 0, manualTasks: 0 });
});

it('ranks every item and component across the catalogue by total hours', async () => {
  const r = await bottleneckReport(t.db, period);
  expect(r.ranking.slice(0, 4).map((x) => `${x.item}:${x.component}`)).toEqual(['app-access:approval', 'app-access:manual-work', 'vpn-access:automated-steps', 'app-access:waiting']);
  expect(r.ranking.every((x, i) => i === 0 || r.ranking[i - 1]!.totalHours >= x.totalHours)).toBe(true);
  const only = await bottleneckReport(t.db, { ...period, items: ['vpn-access'] });
  expect(only.items.map((i) => i.item)).toEqual(['vpn-access']);
});
