/** An access review campaign through chat buttons: reviewers keep or revoke; revocations execute; report. */
import { addToGroup } from '../../src/directory/directory.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('asks each person\'s manager, executes a revoke, reminds once and reports completion', async () => {
  await addToGroup(t.app.db, 'erin.employee@example.com', 'local-admins', null, 'test');
  const start = await fetch(`${t.base}/api/access-reviews`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify({ actor: 'ada.admin@example.com' }) });
  expect(start.status).toBe(201);
  const { id, items } = await start.json();
  expect(items).toBeGreaterThanOrEqual(4); // ada: admin, catalogue-admin, auditor; erin: local-admins
  const mark = new WebUser(t.base, 'mark.manager@example.com');
  const ivan = new WebUser(t.base, 'ivan.itlead@example.com');
  const card = (await mark.all()).find((m) => m.text.includes('local-admins'))!;
  expect(card.text).toMatch(/should Erin Employee keep group local-admins/);
  // someone else's click is refused
  const tara = new WebUser(t.base, 'tara.triage@example.com');
  expect((await tara.click(card.buttons!.find((b) => b.id.endsWith(':revoke'))!.id)).at(-1)!.text).toMatch(/Only the assigned reviewer/);
  await mark.click(card.buttons!.find((b) => b.id.endsWith(':revoke'))!.id);
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM group_memberships WHERE person_email = 'erin.employee@example.com' AND group_name = 'local-admins'`)).rows[0]!.n).toBe(0);
  const again = await mark.click(card.buttons!.find((b) => b.id.endsWith(':keep'))!.id);
  expect(again.at(-1)!.text).toMatch(/Already decided: revoke/);
  const adaCard = (await ivan.all()).find((m) => m.text.includes('role catalogue-admin'))!;
  await ivan.click(adaCard.buttons!.find((b) => b.id.endsWith(':keep'))!.id);
  const rep = await (await fetch(`${t.base}/api/access-reviews/${id}?actor=ada.admin@example.com`, { headers: { authorization: 'Bearer test-key' } })).json();
  expect(rep).toMatchObject({ total: items, decided: 2, kept: 1, revoked: 1 });
  expect(rep.completion).toBe(Math.round((2 / items) * 100));
  expect(rep.pending.every((p: { reviewer: string }) => p.reviewer === 'ivan.itlead@example.com')).toBe(true);
  expect(await t.app.reviews.remind(0)).toBe(items - 2); // undecided items, once
  expect(await t.app.reviews.remind(0)).toBe(0);
  const trail = (await t.app.db.query(`SELECT action FROM audit_log WHERE subject = $1 ORDER BY id`, [id])).rows.map((r) => r.action);
  expect(trail).toEqual(['review.started', 'review.revoke', 'review.keep']);
});
