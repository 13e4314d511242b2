/** The compliance report: requests with approvals (who, when, rule), actions and grants; auditors only. */
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('lists each request with its approvals, actions and grants, masked, as JSON and CSV, for auditors only', async () => {
  const item = t.app.catalogue.get('shared-drive-access')!;
  const { request } = await t.app.requests.submit({ item, requesterEmail: 'erin.employee@example.com', channel: 'test', answers: { drive: 'finance', access: 'read', justification: 'Quarter close' } });
  const [a] = (await t.app.db.query(`SELECT id FROM approvals WHERE request_id = $1`, [request.id])).rows;
  await t.app.requests.decide(a!.id, 'mark.manager@example.com', 'approve');
  await eventually(async () => (await t.app.db.query('SELECT status FROM requests WHERE id = $1', [request.id])).rows[0]!.status === 'fulfilled', 20000, 'fulfilled');
  const url = (actor: string, format = 'json') => `${t.base}/api/reports/compliance?actor=${actor}&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z&item=shared-drive-access&format=${format}`;
  const auth = { headers: { authorization: 'Bearer test-key' } };
  expect((await fetch(url('erin.employee@example.com'), auth)).status).toBe(403);
  const json = await (await fetch(url('ada.admin@example.com'), auth)).json();
  const row = json.requests.find((x: { ref: string }) => x.ref === request.ref);
  expect(row).toMatchObject({ item: 'shared-drive-access', risk: 'medium', regulatory: ['gdpr'], requester: 'erin.employee@example.com', status: 'fulfilled' });
  expect(row.approvals).toEqual([expect.objectContaining({ step: 'Line manager', rule: 'manager', status: 'approved', decidedBy: 'mark.manager@example.com', waitedMinutes: expect.any(Number) })]);
  expect(row.actions.map((x: { step: string; status: string }) => `${x.step}:${x.status}`)).toEqual(['grant:done', 'tell-requester:done']);
  const csv = await (await fetch(url('ada.admin@example.com', 'csv'), auth)).text();
  expect(csv.split('\n')[0]).toBe('ref,item,risk,regulatory,requester,status,created_at,completed_at,approvals,actions,grants');
  expect(csv).toContain(`${request.ref},shared-drive-access,medium,gdpr,erin.employee@example.com,fulfilled`);
  expect(csv).toMatch(/Line manager \[manager\]: approved by mark\.manager@example\.com/);
});
