/**
 * Just-in-time access through the product with an injected clock: admin rights granted for N hours,
 * a notice before the end, revoked at expiry through the step's undo action, leavers revoked, drift
 * removed by the reconciler, early revoke authorised by role.
 */
import { startTestApp, eventually, type TestApp } from '../support/test-app.js';

let clock = new Date('2026-11-27T09:00:00Z').getTime();
let t: TestApp;
beforeAll(async () => { t = await startTestApp({ app: { now: () => new Date(clock) } }); });
afterAll(async () => { await t?.close(); });

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);

async function grantAdmin(email: string, hours: number): Promise<{ id: string; ref: string }> {
  const item = t.app.catalogue.get('admin-access')!;
  const { request } = await t.app.requests.submit({ item, requesterEmail: email, channel: 'test',
    answers: { scope: 'workstation', target: 'LAPTOP-0042', durationHours: hours, justification: 'Installing the VPN client driver for testing' } });
  for (let i = 0; i < 5; i++) {
    const [a] = await q(`SELECT id, approvers FROM approvals WHERE request_id = $1 AND status = 'pending'`, [request.id]);
    if (!a) break;
    expect((await t.app.requests.decide(a.id, a.approvers.find((x: string) => x !== email), 'approve')).outcome).toBe('approved');
  }
  await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [request.id]))[0]!.status === 'fulfilled', 20000, 'fulfilled');
  return request;
}

it('grants local admin for 2 hours, warns an hour before, and revokes at expiry', async () => {
  const r = await grantAdmin('ivan.itlead@example.com', 2);
  const [g] = await q(`SELECT id, entitlement, status, expires_at FROM grants WHERE request_id = $1`, [r.id]);
  expect(g).toMatchObject({ entitlement: 'local-admins', status: 'active' });
  expect(g!.expires_at.getTime() - clock).toBe(2 * 3_600_000);
  expect(await q(`SELECT group_name FROM group_memberships WHERE person_email = 'ivan.itlead@example.com' AND group_name = 'local-admins'`)).toHaveLength(1);

  clock += 30 * 60_000; // 1h30 left: nothing yet
  expect(await t.app.grants.tick()).toEqual({ notified: 0, expired: 0, leavers: 0 });
  clock += 40 * 60_000; // 50 min left: the notice
  expect((await t.app.grants.tick()).notified).toBe(1);
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`grant:${g!.id}:notice`]))[0]!.text).toMatch(/ends at 2026-11-27 \d\d:\d\d UTC/);
  expect((await t.app.grants.tick()).notified).toBe(0); // once
  clock += 60 * 60_000; // past expiry
  expect((await t.app.grants.tick()).expired).toBe(1);
  expect(await q(`SELECT group_name FROM group_memberships WHERE person_email = 'ivan.itlead@example.com' AND group_name = 'local-admins'`)).toHaveLength(0);
  expect((await q(`SELECT status, ended_by, end_reason FROM grants WHERE id = $1`, [g!.id]))[0]).toEqual({ status: 'expired', ended_by: 'system', end_reason: 'time limit reached' });
  expect((await q(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'grant.expired' AND subject = $1`, [r.ref]))[0]!.n).toBe(1);
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`grant:${g!.id}:ended`]))[0]!.text).toMatch(/has ended \(time limit reached\)/);
  expect((await t.app.grants.tick()).expired).toBe(0); // idempotent
});

it('revokes early only for the person, an approver or an admin; leavers lose their grants', async () => {
  const r = await grantAdmin('ivan.itlead@example.com', 8);
  const [g] = await q(`SELECT id FROM grants WHERE request_id = $1`, [r.id]);
  const revoke = (actor: string) => fetch(`${t.base}/api/grants/${g!.id}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify({ actor, reason: 'done early' }) });
  expect((await revoke('erin.employee@example.com')).status).toBe(403);
  expect((await revoke('ivan.itlead@example.com')).status).toBe(200);
  expect((await q(`SELECT status, ended_by FROM grants WHERE id = $1`, [g!.id]))[0]).toEqual({ status: 'revoked', ended_by: 'ivan.itlead@example.com' });

  const r2 = await grantAdmin('ivan.itlead@example.com', 4);
  await t.app.db.query(`UPDATE people SET active = false WHERE email = 'ivan.itlead@example.com'`);
  expect((await t.app.grants.tick()).leavers).toBe(1);
  expect((await q(`SELECT status, end_reason FROM grants WHERE request_id = $1`, [r2.id]))[0]).toEqual({ status: 'revoked', end_reason: 'account disabled (leaver)' });
  await t.app.db.query(`UPDATE people SET active = true WHERE email = 'ivan.itlead@example.com'`);

  // a department change that removes eligibility (admin-access is for IT and Engineering) revokes too
  const r3 = await grantAdmin('ivan.itlead@example.com', 4);
  await t.app.db.query(`UPDATE people SET department = 'Marketing' WHERE email = 'ivan.itlead@example.com'`);
  expect((await t.app.grants.tick()).leavers).toBe(1);
  expect((await q(`SELECT status, end_reason FROM grants WHERE request_id = $1`, [r3.id]))[0]).toMatchObject({ status: 'revoked', end_reason: expect.stringMatching(/^no longer eligible: .*IT \/ Engineering/) });
  await t.app.db.query(`UPDATE people SET department = 'IT' WHERE email = 'ivan.itlead@example.com'`);
});

it('the reconciler removes drift: a JIT-group membership without a grant, and a grant without an approved request', async () => {
  await t.app.db.query(`INSERT INTO group_memberships (person_email, group_name, added_by) VALUES ('carl.contractor@example.com', 'local-admins', 'someone-by-hand')`);
  const [req] = await q(`SELECT id FROM requests WHERE item_id = 'admin-access' LIMIT 1`);
  await t.app.db.query(`INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, status) SELECT gen_random_uuid(), 'REQ-900001', item_id, item_snapshot, 'olga.owner@example.com', 'test', 'denied' FROM requests WHERE id = $1`, [req!.id]);
  const [orphanReq] = await q(`SELECT id FROM requests WHERE ref = 'REQ-900001'`);
  await t.app.db.query(`INSERT INTO group_memberships (person_email, group_name, added_by) VALUES ('olga.owner@example.com', 'local-admins', 'orphan') ON CONFLICT DO NOTHING`);
  await t.app.db.query(`INSERT INTO grants (id, request_id, step_id, person_email, entitlement, expires_at, revoke_action, revoke_input, status)
    VALUES (gen_random_uuid(), $1, 'grant-local-admin', 'olga.owner@example.com', 'local-admins', NULL, 'directory.removeFromGroup', '{"person":"olga.owner@example.com","group":"local-admins"}', 'active')`, [orphanReq!.id]);
  const out = await t.app.grants.reconcile();
  expect(out.revoked).toBe(1);
  expect(out.removedMemberships).toBeGreaterThanOrEqual(1);
  expect(await q(`SELECT person_email FROM group_memberships WHERE group_name = 'local-admins'`)).toEqual([]);
  expect((await q(`SELECT status, ended_by FROM grants WHERE request_id = $1`, [orphanReq!.id]))[0]).toEqual({ status: 'revoked', ended_by: 'reconciler' });
  expect((await q(`SELECT detail FROM audit_log WHERE action = 'grant.drift-removed' AND subject = 'carl.contractor@example.com'`))[0]!.detail).toMatchObject({ group: 'local-admins' });
});
