/** Recurring errors: failures grouped by item, step, category and signature over a period. */
import { ConnectorError } from '../../src/fulfilment/connectors/connector.port.js';
import { ActionError } from '../../src/fulfilment/action.port.js';
import { recordFailure } from '../../src/reporting/rca.js';
import { failureReport, recurringErrors } from '../../src/reporting/recurring-errors.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { craftRequest, seedPeople } from './fixtures.js';

let t: TestDb;
const period = { from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-11-01T00:00:00Z') };

beforeAll(async () => {
  t = await createTestDb();
  await seedPeople(t.db);
  const fail = async (item: string, step: string, error: unknown, when = '2026-10-10T10:00:00Z', outcome: 'failed' | 'manual' = 'failed') => {
    const r = await craftRequest(t.db, { item, requester: 'ann@example.com', createdAt: new Date(when), status: 'failed', completedAt: new Date(when) });
    await recordFailure(t.db, { requestId: r.id, itemId: item, stepId: step, action: 'x', outcome, attempt: 1, error });
    await t.db.query(`UPDATE fulfilment_failures SET occurred_at = $2 WHERE request_id = $1`, [r.id, when]);
    return r;
  };
  for (const who of ['ann', 'bob', 'cat']) await fail('vpn', 'add', new ConnectorError(`ldap connector "dir": adding ${who}@example.com to group "vpn-users" failed: no such object`, false, undefined, 32));
  await fail('vpn', 'add', new ActionError('POST https://idm.test/users/123 answered 503: busy', true), '2026-10-11T10:00:00Z', 'manual');
  await fail('vpn', 'add', new ActionError('POST https://idm.test/users/456 answered 503: busy', true), '2026-10-12T10:00:00Z');
  await fail('vpn', 'tell', new ActionError('POST https://idm.test/users/789 answered 503: busy', true));
  await fail('laptop', 'order', new ConnectorError('shop.order: body mapping failed: T2002 "qty" is not a number', false));
  await fail('vpn', 'add', new ActionError('POST https://idm.test/users/1 answered 503: busy', true), '2026-09-30T23:59:59Z'); // before the period
});
afterAll(async () => { await t?.drop(); });

it('groups the same error across requests, most frequent first, per item, step and category', async () => {
  const r = await recurringErrors(t.db, period);
  expect(r.map((x) => [x.item, x.step, x.category, x.count, x.requests])).toEqual([
    ['vpn', 'add', 'user', 3, 3],
    ['vpn', 'add', 'system', 2, 2],
    ['laptop', 'order', 'process', 1, 1],
    ['vpn', 'tell', 'system', 1, 1],
  ]);
  expect(r[0]!.signature).toBe('ldap connector "<v>": adding <email> to group "<v>" failed: no such object');
  expect(r[1]).toMatchObject({ signature: 'POST https://idm.test/users/<n> answered <n>: busy', example: 'POST https://idm.test/users/456 answered 503: busy', statusCode: 503, errorClass: 'ActionError' });
  expect(r[1]!.firstAt.toISOString()).toBe('2026-10-11T10:00:00.000Z');
  expect(r[1]!.lastAt.toISOString()).toBe('2026-10-12T10:00:00.000Z');
});

it('counts by category and outcome, filters by item and category, and lists the latest failures with ids', async () => {
  const all = await failureReport(t.db, period);
  expect(all).toMatchObject({ total: 7, byCategory: { process: 1, system: 3, user: 3 }, byOutcome: { failed: 6, manual: 1, refused: 0 } });
  expect(all.recent).toHaveLength(7);
  expect(all.recent[0]).toMatchObject({ item: 'vpn', step: 'add', category: 'system', source: 'auto', autoCategory: 'system', ref: expect.stringMatching(/^REQ-/) });
  expect(typeof all.recent[0]!.id).toBe('number');

  const sys = await failureReport(t.db, { ...period, category: 'system', items: ['vpn'] });
  expect(sys.total).toBe(3);
  expect(sys.recurring.map((x) => `${x.step}:${x.count}`)).toEqual(['add:2', 'tell:1']);
});
