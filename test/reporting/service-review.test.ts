/** The service review on crafted history, through the CLI (`errand report service-review`) in md, csv and json. */
import { Writable } from 'node:stream';
import { runReportCommand } from '../../src/cli/report-commands.js';
import { ActionError } from '../../src/fulfilment/action.port.js';
import { recordFailure } from '../../src/reporting/rca.js';
import { REVIEW_CSV_HEADER } from '../../src/reporting/service-review.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { at, craftCase, craftRequest, craftTriage, seedPeople } from './fixtures.js';

let t: TestDb;

beforeAll(async () => {
  t = await createTestDb();
  await seedPeople(t.db);
  const d = (s: string) => new Date(`2026-10-${s}Z`);
  const rate = (id: string, item: string, rating: number | null, prompted: Date) => t.db.query(
    `INSERT INTO satisfaction_ratings (request_id, requester_email, item_id, prompted_at, rating, rated_at) VALUES ($1, 'ann@example.com', $2, $3, $4, $5)`,
    [id, item, prompted, rating, rating === null ? null : at(prompted, 1)]);
  // vpn (8h): routed by the classifier and automated, 2 h, rated 5
  const r1 = await craftRequest(t.db, { item: 'vpn', title: 'VPN access', requester: 'ann@example.com', createdAt: d('05T09:00:00'), completedAt: d('05T11:00:00'), status: 'fulfilled', confidence: 0.9 });
  await rate(r1.id, 'vpn', 5, d('05T11:00:00'));
  // via triage (assigned an hour before), 10 h (late), rated 3
  await craftTriage(t.db, { requester: 'ann@example.com', createdAt: d('06T07:00:00'), decidedAt: d('06T08:00:00'), assigned: 'vpn', topSuggestion: 'vpn' });
  const r2 = await craftRequest(t.db, { item: 'vpn', title: 'VPN access', requester: 'ann@example.com', createdAt: d('06T09:00:00'), completedAt: d('06T19:00:00'), status: 'fulfilled' });
  await rate(r2.id, 'vpn', 3, d('06T19:00:00'));
  // routed, but a person had to do a step: 4 h, asked but not rated
  const r3 = await craftRequest(t.db, { item: 'vpn', title: 'VPN access', requester: 'ann@example.com', createdAt: d('07T09:00:00'), completedAt: d('07T13:00:00'), status: 'fulfilled', confidence: 0.8 });
  await craftCase(t.db, r3.id, d('07T10:00:00'), d('07T12:00:00'));
  await rate(r3.id, 'vpn', null, d('07T13:00:00'));
  // routed, failed on a 503
  const r4 = await craftRequest(t.db, { item: 'vpn', title: 'VPN access', requester: 'ann@example.com', createdAt: d('08T09:00:00'), completedAt: d('08T09:30:00'), status: 'failed', confidence: 0.7 });
  await recordFailure(t.db, { requestId: r4.id, itemId: 'vpn', stepId: 'add', outcome: 'failed', attempt: 3, error: new ActionError('POST https://idm.test/groups/77 answered 503: busy', true) });
  await t.db.query(`UPDATE fulfilment_failures SET occurred_at = $1`, [d('08T09:30:00')]);
  // the classifier routed 4 messages to vpn (one corrected: "that's not what I meant"), 1 to laptop,
  // 2 to triage; triage assigned vpn twice: once errand's top suggestion was vpn, once laptop
  for (const [intent, n] of [['vpn', 4], ['laptop', 1], [null, 2]] as const) {
    for (let i = 0; i < n; i++) await t.db.query(`INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, 'ann@example.com', 'nlu.classified', 'web:ann', $2)`, [d('04T09:00:00'), JSON.stringify({ intent, confidence: 0.9 })]);
  }
  await t.db.query(`INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, 'ann@example.com', 'nlu.corrected', 'web:ann', '{"wrongIntent": "vpn", "text": "x"}')`, [d('09T09:00:00')]);
  await craftTriage(t.db, { requester: 'bob@example.com', createdAt: d('09T07:00:00'), decidedAt: d('09T08:00:00'), assigned: 'vpn', topSuggestion: 'laptop' });
  // laptop (2d): one automated in 24 h
  await craftRequest(t.db, { item: 'laptop', title: 'Laptop', responseTime: '2d', requester: 'bob@example.com', createdAt: d('10T09:00:00'), completedAt: d('11T09:00:00'), status: 'fulfilled' });
  // September: not in the review
  await craftRequest(t.db, { item: 'vpn', requester: 'ann@example.com', createdAt: new Date('2026-09-10T09:00:00Z'), completedAt: new Date('2026-09-10T10:00:00Z'), status: 'fulfilled', confidence: 0.9 });
});
afterAll(async () => { await t?.drop(); });

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const sink = (f: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } });
  const code = await runReportCommand('service-review', args, { stdout: sink((s) => { out += s; }), stderr: sink((s) => { err += s; }), db: t.db });
  return { code, out, err };
}

it('reports volume, automation, classification, timeliness, satisfaction and failure causes per item (json)', async () => {
  const { code, out } = await cli('--period', '2026-10', '--format', 'json');
  expect(code).toBe(0);
  const r = JSON.parse(out);
  expect(r.from).toBe('2026-10-01T00:00:00.000Z');
  expect(r.to).toBe('2026-11-01T00:00:00.000Z');
  expect(r.items.map((i: { item: string }) => i.item)).toEqual(['laptop', 'vpn']);
  const vpn = r.items[1];
  expect(vpn).toMatchObject({
    item: 'vpn', title: 'VPN access',
    volume: { submitted: 4, fulfilled: 3, failed: 1, denied: 0, cancelled: 0 },
    automation: { fulfilled: 3, automated: 1, viaTriage: 1, withManualWork: 1, rate: 0.3333 },
    classification: { routed: 4, corrected: 1, missed: 2, missedTopSuggestionRight: 1, accuracy: 0.5, precision: 0.75, recall: 0.6 },
    timeliness: { responseTime: '8h', p50Hours: 4, p90Hours: 8.8, sla: { met: 2, breached: 2, compliance: 0.5 } },
    satisfaction: { prompted: 3, count: 2, mean: 4, distribution: { 1: 0, 2: 0, 3: 1, 4: 0, 5: 1 }, responseRate: 0.6667 },
    failures: { total: 1, byCategory: { process: 0, system: 1, user: 0 }, top: [{ category: 'system', step: 'add', signature: 'POST https://idm.test/groups/<n> answered <n>: busy', count: 1 }] },
  });
  expect(r.items[0]).toMatchObject({ volume: { submitted: 1, fulfilled: 1 }, automation: { rate: 1 }, timeliness: { sla: { compliance: 1 } }, classification: { routed: 1, accuracy: 1 } });
  expect(r.overall).toMatchObject({ volume: { submitted: 5, fulfilled: 4, failed: 1 }, automation: { fulfilled: 4, automated: 2, rate: 0.5 }, satisfaction: { count: 2, mean: 4 }, classification: { routed: 5, missed: 2, accuracy: 0.5714 } });
});

it('writes Markdown (default) and CSV, and one item with --item', async () => {
  const md = await cli('--from', '2026-10-01', '--to', '2026-11-01');
  expect(md.code).toBe(0);
  expect(md.out).toMatch(/^# Service review 2026-10-01 – 2026-11-01/);
  expect(md.out).toContain('| vpn | 4 | 3 | 1 | 33.3% | 50% | 4 | 8.8 | 4 (2) | 50% | 1 | system: POST https://idm.test/groups/<n> answered <n>: busy (1×) |');
  expect(md.out).toContain('- Ratings: 1★ 0, 2★ 0, 3★ 1, 4★ 0, 5★ 1 (response rate 66.7%)');

  const csv = await cli('--period', '2026-10', '--format', 'csv', '--item', 'vpn');
  expect(csv.code).toBe(0);
  const lines = csv.out.trim().split('\n');
  expect(lines[0]).toBe(REVIEW_CSV_HEADER.join(','));
  expect(lines).toHaveLength(3);
  expect(lines[1]).toMatch(/^vpn,VPN access,4,3,1,0,0,0\.3333,1,1,1,0\.5,2,2,4,8\.8,4,2,0,0,1,0,1,0\.5,0\.75,0\.6,1,0,1,0,system: POST/);
  expect(lines[2]).toMatch(/^\*,all items,4,3,1,/);
});

it('exits 2 with the usage on bad arguments', async () => {
  for (const args of [[], ['--period', '2026-13'], ['--from', '2026-10-01'], ['--from', '2026-11-01', '--to', '2026-10-01'], ['--period', '2026-10', '--format', 'xml'], ['--period', '2026-10', '--from', '2026-10-01', '--to', '2026-10-02']]) {
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/usage: errand report service-review/);
  }
});
