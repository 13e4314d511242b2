/**
 * The orchestration engine through the real app and job runner: parallel steps, dependencies,
 * scheduled retries, non-retryable failures with compensation in reverse order, circuit breaker →
 * manual queue → fulfiller completes, overrides authorised by role, audit rows for each decision.
 * Backends are faked at the HTTP boundary with nock.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

const head = (id: string, extra = '') => `id: ${id}
title: ${id}
description: Orchestration test item.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
${extra}workflow:
`;
const ITEMS: Record<string, string> = {
  'orch-parallel': `${head('orch-parallel')}  - id: account
    action: http.request
    needs: []
    inputs: { method: POST, url: "https://accounts.test/users", body: { user: "{{requester.email}}" } }
  - id: mailbox
    action: http.request
    needs: []
    inputs: { method: POST, url: "https://mail.test/mailboxes", body: { user: "{{requester.email}}" } }
  - id: tell
    action: notify
    needs: [account, mailbox]
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} account {{steps.account.body.id}} mailbox {{steps.mailbox.body.id}}" }
`,
  'orch-retry': `${head('orch-retry')}  - id: call
    action: http.request
    retry: { maxAttempts: 4, backoffMs: 100 }
    inputs: { method: POST, url: "https://flaky.test/x" }
`,
  'orch-rollback': `${head('orch-rollback')}  - id: grant-a
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: rollback-a }
    undo: { action: directory.removeFromGroup, inputs: { person: "{{requester.email}}", group: rollback-a } }
  - id: grant-b
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: rollback-b }
    undo: { action: directory.removeFromGroup, inputs: { person: "{{requester.email}}", group: rollback-b } }
  - id: provision
    action: http.request
    inputs: { method: POST, url: "https://strict.test/provision" }
`,
  'orch-manual': `${head('orch-manual', 'exceptionProcedure: Create the account by hand in the admin console.\n')}  - id: provision
    label: Provision the account
    action: http.request
    manual: allowed
    retry: { maxAttempts: 2, backoffMs: 50 }
    inputs: { method: POST, url: "https://down.test/provision" }
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} provisioned" }
`,
};

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  const dir = await mkdtemp(path.join(tmpdir(), 'orch-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  for (const [id, text] of Object.entries(ITEMS)) await writeFile(path.join(dir, `${id}.yaml`), text);
  t = await startTestApp({ env: { CATALOGUE_DIR: dir }, app: { breaker: (backend) => (backend === 'http:down.test' ? { minCalls: 2, windowSize: 4, failureRatio: 0.5, halfOpenAfterMs: 60_000 } : {}) } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const submit = async (item: string) => (await t.app.requests.submit({ item: t.app.catalogue.get(item)!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' })).request;
const statusOf = async (id: string) => (await q('SELECT status FROM requests WHERE id = $1', [id]))[0]!.status as string;
const steps = (id: string) => q('SELECT step_id, status, attempts, undo_status FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index', [id]);
const auditOf = async (ref: string) => (await q('SELECT action, detail FROM audit_log WHERE subject = $1 ORDER BY id', [ref])) as { action: string; detail: Record<string, unknown> }[];

it('runs independent steps in parallel and waits for both before the dependent one', async () => {
  const spans: Record<string, [number, number]> = {};
  const slow = (name: string, id: string) => function () { spans[name] = [Date.now(), 0]; return new Promise((res) => setTimeout(() => { spans[name]![1] = Date.now(); res([201, { id }]); }, 400)); };
  nock('https://accounts.test').post('/users').reply(slow('account', 'acct-1') as never);
  nock('https://mail.test').post('/mailboxes').reply(slow('mailbox', 'mbx-1') as never);
  const r = await submit('orch-parallel');
  await eventually(async () => (await statusOf(r.id)) === 'fulfilled', 20000, 'fulfilled');
  const [a, m] = [spans.account!, spans.mailbox!];
  expect(a[0]).toBeLessThan(m[1]); // overlap: each started before the other finished
  expect(m[0]).toBeLessThan(a[1]);
  const times = await q(`SELECT step_id, started_at, finished_at FROM fulfilment_steps WHERE request_id = $1`, [r.id]);
  const at = (id: string) => times.find((x) => x.step_id === id)!;
  expect(at('tell').started_at.getTime()).toBeGreaterThanOrEqual(Math.max(at('account').finished_at.getTime(), at('mailbox').finished_at.getTime()));
  const msg = await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`${r.id}:tell`]);
  expect(msg[0]!.text).toBe(`${r.ref} account acct-1 mailbox mbx-1`);
});

it('retries retryable failures as scheduled jobs (honouring Retry-After) and then succeeds', async () => {
  const seen: number[] = [];
  nock('https://flaky.test').post('/x').reply(() => { seen.push(Date.now()); return [503, 'busy']; })
    .post('/x').reply(() => { seen.push(Date.now()); return [429, 'slow down', { 'Retry-After': '1' }]; })
    .post('/x').reply(() => { seen.push(Date.now()); return [200, { ok: true }]; });
  const r = await submit('orch-retry');
  await eventually(async () => (await statusOf(r.id)) === 'fulfilled', 20000, 'fulfilled');
  expect(await steps(r.id)).toEqual([{ step_id: 'call', status: 'done', attempts: 3, undo_status: null }]);
  expect(seen[2]! - seen[1]!).toBeGreaterThanOrEqual(1000); // waited for Retry-After
  const retries = (await auditOf(r.ref)).filter((x) => x.action === 'step.retry-scheduled');
  expect(retries.map((x) => x.detail.attempt)).toEqual([1, 2]);
  expect(retries[1]!.detail.delayMs).toBeGreaterThanOrEqual(1000);
});

it('fails a non-retryable error at once and undoes completed steps in reverse order', async () => {
  nock('https://strict.test').post('/provision').once().reply(400, { error: 'bad department' });
  const r = await submit('orch-rollback');
  await eventually(async () => (await statusOf(r.id)) === 'failed', 20000, 'failed');
  expect(await steps(r.id)).toEqual([
    { step_id: 'grant-a', status: 'done', attempts: 1, undo_status: 'done' },
    { step_id: 'grant-b', status: 'done', attempts: 1, undo_status: 'done' },
    { step_id: 'provision', status: 'failed', attempts: 1, undo_status: null },
  ]);
  const trail = (await auditOf(r.ref)).map((x) => `${x.action}${x.detail.step ? `:${x.detail.step}` : ''}`);
  expect(trail.filter((x) => x.startsWith('step.undone'))).toEqual(['step.undone:grant-b', 'step.undone:grant-a']);
  expect(trail).toEqual(expect.arrayContaining(['step.started:grant-a', 'step.succeeded:grant-a', 'step.failed:provision', 'request.failed:provision']));
  expect(await q(`SELECT group_name FROM group_memberships WHERE group_name LIKE 'rollback-%'`)).toEqual([]);
  const told = await q(`SELECT person_email, body->>'text' AS text FROM messages WHERE idempotency_key IN ($1, $2) ORDER BY person_email`, [`${r.id}:failed`, `${r.id}:failed:owner`]);
  expect(told[0]).toMatchObject({ person_email: 'erin.employee@example.com', text: expect.stringMatching(/Everything already done was undone/) });
  expect(told[1]).toMatchObject({ person_email: 'qa.owner@example.com', text: expect.stringMatching(/Outcome: rolled back/) });
  const ev = await q(`SELECT reason FROM request_events WHERE request_id = $1 AND to_status = 'failed'`, [r.id]);
  expect(ev[0]!.reason).toMatch(/step provision failed: .*400.*; rolled back/);
});

it('opens the breaker, sends steps to the manual queue without calling the backend, and resumes when a fulfiller completes the task', async () => {
  let calls = 0;
  nock('https://down.test').persist().post('/provision').reply(() => { calls += 1; return [500, 'down']; });
  const r1 = await submit('orch-manual');
  await eventually(async () => (await steps(r1.id))[0]?.status === 'manual', 20000, 'manual task');
  expect(calls).toBe(2);
  const trail = (await auditOf('http:down.test')).map((x) => x.action);
  expect(trail).toContain('breaker.open');
  const [task] = await q(`SELECT ref, description, status FROM cases WHERE idempotency_key = $1`, [`${r1.id}:provision:manual`]);
  expect(task!.description).toMatch(/Create the account by hand in the admin console/);
  const fredCard = await q(`SELECT body FROM messages WHERE person_email = 'fred.fulfiller@example.com' AND idempotency_key = $1`, [`${r1.id}:provision:manual:fred.fulfiller@example.com`]);
  expect(fredCard[0]!.body.buttons.map((b: { id: string }) => b.id)).toEqual([`task:${r1.id}:provision:done`, `task:${r1.id}:provision:failed`]);

  // while the breaker is open, a new request's step goes straight to the manual queue
  const r2 = await submit('orch-manual');
  await eventually(async () => (await steps(r2.id))[0]?.status === 'manual', 20000, 'second manual task');
  expect(calls).toBe(2);
  expect((await steps(r2.id))[0]!.attempts).toBe(0);

  const api = (ref: string, op: string, body: unknown) => fetch(`${t.base}/api/requests/${ref}/steps/provision/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify(body) });
  const refused = await api(r1.ref, 'complete', { actor: 'erin.employee@example.com', outcome: 'done', note: 'I did it myself' });
  expect(refused.status).toBe(403);
  expect((await steps(r1.id))[0]!.status).toBe('manual');
  const ok = await api(r1.ref, 'complete', { actor: 'fred.fulfiller@example.com', outcome: 'done', note: 'created in admin console' });
  expect(ok.status).toBe(200);
  await eventually(async () => (await statusOf(r1.id)) === 'fulfilled', 20000, 'fulfilled after manual task');
  expect((await q(`SELECT status, assignee FROM cases WHERE ref = $1`, [task!.ref]))[0]).toEqual({ status: 'closed', assignee: 'fred.fulfiller@example.com' });
  const over = (await auditOf(r1.ref)).find((x) => x.action === 'override.complete-done')!;
  expect(over.detail).toMatchObject({ step: 'provision', note: 'created in admin console' });
  const again = await api(r1.ref, 'complete', { actor: 'fred.fulfiller@example.com', outcome: 'done' });
  expect(again.status).toBe(409);

  // an admin skips the second request's manual step (with a reason)
  const skip = await api(r2.ref, 'skip', { actor: 'ada.admin@example.com', note: 'account exists already' });
  expect(skip.status).toBe(200);
  await eventually(async () => (await statusOf(r2.id)) === 'fulfilled', 20000, 'fulfilled after skip');
});
