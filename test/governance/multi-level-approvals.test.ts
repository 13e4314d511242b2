/** Multi-level approvals: parallel steps in one stage, then an "all of" group step. */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ml-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, 'ml-item.yaml'), `id: ml-item
title: Multi-level
description: Parallel and all-of approvals.
category: test
owner: { team: QA, contact: qa@example.com }
responseTime: 1h
risk: high
fulfilment: automated
approvals:
  - { id: manager, approver: { kind: manager } }
  - { id: security, parallel: true, approver: { kind: role, role: security } }
  - { id: desk, mode: all, approver: { kind: group, group: it-service-desk } }
workflow:
  - { id: tell, action: notify, inputs: { to: "{{requester.email}}", text: "{{request.ref}} done" } }
`);
  t = await startTestApp({ env: { CATALOGUE_DIR: dir } });
});
afterAll(async () => { await t?.close(); });
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const open = async (id: string) => (await q(`SELECT step_id, approvers FROM approvals WHERE request_id = $1 AND status = 'pending' ORDER BY step_index`, [id])).map((x) => x.step_id);

it('opens parallel steps together, then needs every member of an all-of group', async () => {
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('ml-item')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' });
  expect(await open(request.id)).toEqual(['manager', 'security']);
  const id = async (step: string) => (await q(`SELECT id FROM approvals WHERE request_id = $1 AND step_id = $2`, [request.id, step]))[0]!.id as string;
  await t.app.requests.decide(await id('security'), 'sam.security@example.com', 'approve');
  expect(await open(request.id)).toEqual(['manager']); // the stage is not complete yet
  await t.app.requests.decide(await id('manager'), 'mark.manager@example.com', 'approve');
  expect(await open(request.id)).toEqual(['desk']);
  const desk = await id('desk');
  const members = (await q(`SELECT approvers FROM approvals WHERE id = $1`, [desk]))[0]!.approvers as string[];
  expect(members.length).toBeGreaterThan(1);
  for (const m of members.slice(0, -1)) {
    await t.app.requests.decide(desk, m, 'approve');
    expect((await q('SELECT status FROM requests WHERE id = $1', [request.id]))[0]!.status).toBe('awaiting-approval');
  }
  expect((await t.app.requests.decide(desk, members[0]!, 'approve')).outcome).toBe('already-decided'); // one vote each
  await t.app.requests.decide(desk, members.at(-1)!, 'approve');
  await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [request.id]))[0]!.status === 'fulfilled', 20000, 'fulfilled');
  const a = (await q(`SELECT detail FROM audit_log WHERE action = 'approval.approved' AND subject = $1 ORDER BY id`, [request.ref])).map((x) => x.detail);
  expect(a.map((d) => d.step)).toEqual(['security', 'manager', 'desk']);
  expect(a[2]).toMatchObject({ mode: 'all', rule: 'group', waitedMinutes: expect.any(Number) });
});
