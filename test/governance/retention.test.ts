/** GDPR retention: personal data of finished gdpr requests is purged after the retention period, audited. */
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

let clock = Date.now();
let t: TestApp;
beforeAll(async () => { t = await startTestApp({ app: { now: () => new Date(clock) } }); });
afterAll(async () => { await t?.close(); });

it('keeps answers within the retention period and purges them after, once', async () => {
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('shared-drive-access')!, requesterEmail: 'erin.employee@example.com', channel: 'test', originalText: 'I need the finance drive for Anna Example', answers: { drive: 'finance', access: 'read', justification: 'Covering for Anna Example' } });
  const [a] = (await t.app.db.query(`SELECT id FROM approvals WHERE request_id = $1`, [request.id])).rows;
  await t.app.requests.decide(a!.id, 'mark.manager@example.com', 'approve');
  await eventually(async () => (await t.app.db.query('SELECT status FROM requests WHERE id = $1', [request.id])).rows[0]!.status === 'fulfilled', 20000, 'fulfilled');
  clock += 300 * 86_400_000;
  expect(await t.app.purge()).toBe(0);
  clock += 70 * 86_400_000; // past 365 days
  expect(await t.app.purge()).toBe(1);
  const r = (await t.app.db.query('SELECT fields, original_text FROM requests WHERE id = $1', [request.id])).rows[0]!;
  expect(r.original_text).toBeNull();
  expect(r.fields).toEqual({ drive: '[purged]', access: '[purged]', until: '[purged]', justification: '[purged]', __purged: 'true' });
  const dump = JSON.stringify((await t.app.db.query(`SELECT body FROM messages WHERE idempotency_key LIKE $1 || ':%'`, [request.id])).rows);
  expect(dump).not.toContain('Anna');
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'retention.purged' AND subject = $1`, [request.ref])).rows[0]!.n).toBe(1);
  expect(await t.app.purge()).toBe(0);
});
