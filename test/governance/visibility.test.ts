/** Role-based visibility of a request for a person: requester, approvers, auditors; nobody else. */
import { startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

it('shows a request to its requester, its approvers and auditors only', async () => {
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('shared-drive-access')!, requesterEmail: 'erin.employee@example.com', channel: 'test', answers: { drive: 'finance', access: 'read', justification: 'Quarter close' } });
  const as = (actor: string) => fetch(`${t.base}/api/requests/${request.ref}?actor=${actor}`, { headers: { authorization: 'Bearer test-key' } }).then((r) => r.status);
  expect(await as('erin.employee@example.com')).toBe(200);
  expect(await as('mark.manager@example.com')).toBe(200); // approver
  expect(await as('ada.admin@example.com')).toBe(200); // auditor/admin
  expect(await as('hana.hr@example.com')).toBe(404); // unrelated
  expect(await as('tara.triage@example.com')).toBe(404); // not in her queue
  expect(await as('nobody@example.com')).toBe(404);
});
