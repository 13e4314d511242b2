/**
 * Segregation of duties through the product: a conflicting entitlement pair is refused or routed to
 * an extra security approval (per policy, using current entitlements); on a high-risk request the
 * approver may not complete the manual fulfilment task; the requester may never approve.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { addToGroup } from '../../src/directory/directory.repository.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

const item = (id: string, risk: string, approvals: string, workflow: string) => `id: ${id}
title: ${id}
description: SoD test item.
category: test
owner: { team: QA, contact: qa@example.com }
responseTime: 1h
risk: ${risk}
fulfilment: automated
approvals:
${approvals}workflow:
${workflow}`;
const grant = (group: string) => `  - id: grant
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: ${group} }
`;

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  nock('https://erp-down.test').persist().post('/grant').reply(503, 'down');
  const dir = await mkdtemp(path.join(tmpdir(), 'sod-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, 'sod-ap.yaml'), item('sod-ap', 'medium', '  - { id: manager, approver: { kind: manager } }\n', grant('ap-approver')));
  await writeFile(path.join(dir, 'sod-deploy.yaml'), item('sod-deploy', 'medium', '  - { id: manager, approver: { kind: manager } }\n', grant('prod-deployer')));
  await writeFile(path.join(dir, 'sod-high.yaml'), item('sod-high', 'high', '  - { id: fred, approver: { kind: person, email: fred.fulfiller@example.com } }\n',
    `  - id: erp\n    action: http.request\n    manual: allowed\n    retry: { maxAttempts: 1 }\n    inputs: { method: POST, url: "https://erp-down.test/grant" }\n`));
  t = await startTestApp({ env: { CATALOGUE_DIR: dir } });
  await addToGroup(t.app.db, 'erin.employee@example.com', 'ap-clerk', null, 'test');
  await addToGroup(t.app.db, 'erin.employee@example.com', 'dev', null, 'test');
});
afterAll(async () => { await t?.close(); restoreNet(); });

const post = (body: unknown) => fetch(`${t.base}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify(body) });

it('refuses a request that would combine ap-clerk with ap-approver, and stores nothing', async () => {
  const r = await post({ item: 'sod-ap', requester: 'erin.employee@example.com' });
  expect(r.status).toBe(403);
  expect((await r.json()).message).toMatch(/can't hold ap-clerk and ap-approver together \(the same person must not enter and approve supplier invoices\)/);
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM requests WHERE item_id = 'sod-ap'`)).rows[0]!.n).toBe(0);
  const a = (await t.app.db.query(`SELECT detail FROM audit_log WHERE action = 'request.refused' AND subject = 'sod-ap'`)).rows[0]!;
  expect(a.detail).toMatchObject({ rule: 'sod-conflict', conflict: ['ap-clerk', 'ap-approver'] });
  // someone without ap-clerk may request it
  expect((await post({ item: 'sod-ap', requester: 'olga.owner@example.com' })).status).toBe(201);
});

it('routes dev + prod-deployer to an extra security approval', async () => {
  const r = await post({ item: 'sod-deploy', requester: 'erin.employee@example.com' });
  expect(r.status).toBe(201);
  const { ref } = await r.json();
  const req = (await t.app.db.query('SELECT id FROM requests WHERE ref = $1', [ref])).rows[0]!;
  const manager = (await t.app.db.query(`SELECT id FROM approvals WHERE request_id = $1`, [req.id])).rows[0]!;
  await t.app.requests.decide(manager.id, 'mark.manager@example.com', 'approve');
  const steps = (await t.app.db.query(`SELECT step_id, approvers, status FROM approvals WHERE request_id = $1 ORDER BY step_index`, [req.id])).rows;
  expect(steps).toEqual([
    { step_id: 'manager', approvers: ['mark.manager@example.com'], status: 'approved' },
    { step_id: 'sod-security', approvers: ['sam.security@example.com'], status: 'pending' },
  ]);
  expect((await t.app.db.query('SELECT status FROM requests WHERE id = $1', [req.id])).rows[0]!.status).toBe('awaiting-approval');
});

it('on a high-risk request, the approver may not complete the manual task; another fulfiller may', async () => {
  const r = await post({ item: 'sod-high', requester: 'erin.employee@example.com' });
  const { ref } = await r.json();
  const req = (await t.app.db.query('SELECT id FROM requests WHERE ref = $1', [ref])).rows[0]!;
  const a = (await t.app.db.query(`SELECT id FROM approvals WHERE request_id = $1`, [req.id])).rows[0]!;
  expect((await t.app.requests.decide(a.id, 'erin.employee@example.com', 'approve')).outcome).toBe('not-allowed'); // never the requester
  expect((await t.app.requests.decide(a.id, 'fred.fulfiller@example.com', 'approve')).outcome).toBe('approved');
  await eventually(async () => (await t.app.db.query(`SELECT status FROM fulfilment_steps WHERE request_id = $1`, [req.id])).rows[0]?.status === 'manual', 20000, 'manual task');
  const complete = (actor: string) => fetch(`${t.base}/api/requests/${ref}/steps/erp/complete`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify({ actor, outcome: 'done', note: 'granted in the ERP' }) });
  const byApprover = await complete('fred.fulfiller@example.com');
  expect(byApprover.status).toBe(403);
  expect((await byApprover.json()).message).toMatch(/Segregation of duties: you approved/);
  expect((await complete('ada.admin@example.com')).status).toBe(200);
  await eventually(async () => (await t.app.db.query('SELECT status FROM requests WHERE id = $1', [req.id])).rows[0]!.status === 'fulfilled', 20000, 'fulfilled');
});
