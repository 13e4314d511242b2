/** Throttling (the 4th password reset in an hour is refused), eligibility by location/group, re-checked before fulfilment. */
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { startTestApp, eventually, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  nock('https://idm.example.com').persist().post('/api/password-resets').reply(202, { queued: true });
  t = await startTestApp({ env: { ALERT_RECIPIENTS: 'sam.security@example.com' } });
});
afterAll(async () => { await t?.close(); restoreNet(); });

const post = (body: unknown) => fetch(`${t.base}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify(body) });

it('blocks the 4th password reset within an hour with when to try again, atomically under concurrency, and alerts security', async () => {
  const body = (k: number) => ({ item: 'password-reset', requester: 'erin.employee@example.com', idempotencyKey: `reset-${k}-abcdef`, fields: { account: 'email', lockedOut: true, delivery: 'sms' } });
  const results = await Promise.all([1, 2, 3, 4, 5].map((k) => post(body(k))));
  const codes = results.map((r) => r.status).sort();
  expect(codes).toEqual([201, 201, 201, 429, 429]);
  const refused = results.find((r) => r.status === 429)!;
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3000);
  expect((await refused.json()).message).toMatch(/You have reached the limit for Password reset: at most 3 per 60 minutes\. You can try again after \d\d:\d\d UTC/);
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM requests WHERE item_id = 'password-reset'`)).rows[0]!.n).toBe(3);
  // a retried submission with a used key is not throttled: it answers with the first request
  const accepted = [1, 2, 3, 4, 5][results.findIndex((r) => r.status === 201)]!;
  expect((await post(body(accepted))).status).toBe(200);
  const alerts = await t.app.db.query(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'sam.security@example.com' AND body->>'text' LIKE 'Security notice%'`);
  expect(alerts.rows).toHaveLength(1);
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'request.throttled'`)).rows[0]!.n).toBe(2);
  // another person is not affected by Erin's limit
  expect((await post({ ...body(9), requester: 'mark.manager@example.com' })).status).toBe(201);
});

it('re-checks eligibility right before fulfilment: a requester who lost eligibility meanwhile is refused', async () => {
  const item = t.app.catalogue.get('vpn-access')!;
  (item as { eligibility?: unknown }).eligibility = { departments: ['Finance'] };
  const answers: Record<string, unknown> = {};
  for (const f of item.fields) if (f.type === 'choice' && !f.when) answers[f.name] = (f.options![0] as { value: string }).value;
  for (const f of item.fields) if (f.type === 'text' && f.required && !f.when) answers[f.name] = 'Working from home on Fridays';
  const { request } = await t.app.requests.submit({ item, requesterEmail: 'olga.owner@example.com', answers, channel: 'test' });
  expect(request.status).toBe('awaiting-approval');
  await t.app.db.query(`UPDATE people SET department = 'Marketing' WHERE email = 'olga.owner@example.com'`);
  const pending = (await t.app.db.query(`SELECT id, approvers FROM approvals WHERE request_id = $1 AND status = 'pending'`, [request.id])).rows;
  for (let guard = 0; pending.length && guard < 5; guard++) {
    const a = pending.shift()!;
    await t.app.requests.decide(a.id, a.approvers[0], 'approve');
    pending.push(...(await t.app.db.query(`SELECT id, approvers FROM approvals WHERE request_id = $1 AND status = 'pending'`, [request.id])).rows);
  }
  await eventually(async () => (await t.app.db.query('SELECT status FROM requests WHERE id = $1', [request.id])).rows[0]!.status === 'failed', 20000, 'refused at fulfilment');
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM fulfilment_steps WHERE request_id = $1 AND status = 'done'`, [request.id])).rows[0]!.n).toBe(0);
  const ev = (await t.app.db.query(`SELECT reason FROM request_events WHERE request_id = $1 AND to_status = 'failed'`, [request.id])).rows[0]!;
  expect(ev.reason).toMatch(/no longer eligible: .*Finance/);
});
