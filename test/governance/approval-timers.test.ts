/** Approval reminders, escalation and timeout with an injected clock; out-of-office delegation. */
import { startTestApp, type TestApp } from '../support/test-app.js';

let clock = new Date('2026-11-27T09:00:00Z').getTime();
let t: TestApp;
beforeAll(async () => { t = await startTestApp({ app: { now: () => new Date(clock) } }); });
afterAll(async () => { await t?.close(); });
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);

async function submitDrive(email: string) {
  return (await t.app.requests.submit({ item: t.app.catalogue.get('shared-drive-access')!, requesterEmail: email, channel: 'test', answers: { drive: 'hr', access: 'read', justification: 'Policy review' } })).request;
}

it('reminds after a day, escalates to the approver\'s manager after two, and denies with notice after a week', async () => {
  const r = await submitDrive('erin.employee@example.com');
  await t.app.db.query(`UPDATE approvals SET created_at = $2 WHERE request_id = $1`, [r.id, new Date(clock)]);
  const [a] = await q(`SELECT id FROM approvals WHERE request_id = $1`, [r.id]);
  clock += 23 * 3_600_000;
  expect(await t.app.approvalTimers.tick()).toEqual({ reminded: 0, escalated: 0, timedOut: 0 });
  clock += 2 * 3_600_000;
  expect(await t.app.approvalTimers.tick()).toMatchObject({ reminded: 1 });
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`${a!.id}:reminder:mark.manager@example.com`]))[0]!.text).toMatch(/Reminder: REQ-\d+ has been waiting 25 h/);
  expect((await t.app.approvalTimers.tick()).reminded).toBe(0);
  clock += 24 * 3_600_000;
  expect((await t.app.approvalTimers.tick()).escalated).toBe(1);
  expect((await q(`SELECT approvers FROM approvals WHERE id = $1`, [a!.id]))[0]!.approvers).toEqual(['mark.manager@example.com', 'dana.director@example.com']);
  // the escalation approver can now decide... but nobody does
  clock += 120 * 3_600_000;
  expect((await t.app.approvalTimers.tick()).timedOut).toBe(1);
  expect((await q('SELECT status FROM requests WHERE id = $1', [r.id]))[0]!.status).toBe('denied');
  expect((await q(`SELECT status, decided_by, reason FROM approvals WHERE id = $1`, [a!.id]))[0]).toEqual({ status: 'denied', decided_by: 'system', reason: 'no decision within 168 h' });
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`${r.id}:timeout`]))[0]!.text).toMatch(/was denied: Line manager gave no decision within 168 h/);
  const trail = (await q(`SELECT action FROM audit_log WHERE subject = $1 ORDER BY id`, [r.ref])).map((x) => x.action);
  expect(trail).toEqual(expect.arrayContaining(['approval.reminded', 'approval.escalated', 'approval.timed-out']));
});

it('routes new approvals to an out-of-office delegate for the period', async () => {
  const res = await fetch(`${t.base}/api/delegations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify({ actor: 'mark.manager@example.com', delegate: 'dana.director@example.com', from: new Date(clock - 60_000).toISOString(), until: new Date(clock + 3 * 86_400_000).toISOString() }) });
  expect(res.status).toBe(201);
  const r = await submitDrive('erin.employee@example.com');
  expect((await q(`SELECT approvers FROM approvals WHERE request_id = $1`, [r.id]))[0]!.approvers).toEqual(['dana.director@example.com']);
  expect((await q(`SELECT detail FROM audit_log WHERE action = 'approval.delegation-applied' AND subject = $1`, [r.ref]))[0]!.detail.delegated).toEqual([{ from: 'mark.manager@example.com', to: 'dana.director@example.com' }]);
  const bad = await fetch(`${t.base}/api/delegations`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify({ actor: 'mark.manager@example.com', delegate: 'mark.manager@example.com', until: new Date(clock + 1000).toISOString() }) });
  expect(bad.status).toBe(400);
});
