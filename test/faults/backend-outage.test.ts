/**
 * A backend goes down and comes back, through the real app and job runner (Agenda), with the
 * backend as a real HTTP server (test/support/faults/fake-backend.ts):
 *   1. down (503 to everything): retries fail, the breaker for the backend opens (audited, shown
 *      in /healthz), steps marked `manual: allowed` become manual tasks in the fulfiller queue
 *      (cases and chat prompts with Mark done / Mark failed); while it is open, new requests go
 *      to the manual queue without calling the backend, and steps without a manual fallback wait
 *      without burning attempts;
 *   2. back up: after the half-open pause the waiting step's scheduled retry is the probe, it
 *      succeeds and closes the breaker (half-open and closed audited); the waiting request
 *      completes, and new requests run automatically again (no manual task).
 * Extends test/fulfilment/orchestration.test.ts (which covers opening and the manual queue with
 * nock) with the recovery half, against a real socket.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { FakeBackend } from '../support/faults/fake-backend.js';

const HALF_OPEN_MS = 1500;
const head = (id: string) => `id: ${id}
title: ${id}
description: Backend outage test item.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
exceptionProcedure: Create the resource by hand in the admin console.
workflow:
`;
const items = (url: string): Record<string, string> => ({
  'faults-outage-manual': `${head('faults-outage-manual')}  - id: provision
    label: Provision the resource
    action: http.request
    manual: allowed
    retry: { maxAttempts: 2, backoffMs: 50 }
    inputs: { method: POST, url: "${url}/resources", body: { name: "{{request.id}}-provision" } }
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} provisioned" }
`,
  'faults-outage-wait': `${head('faults-outage-wait')}  - id: provision
    action: http.request
    retry: { maxAttempts: 2, backoffMs: 50 }
    inputs: { method: POST, url: "${url}/resources", body: { name: "{{request.id}}-provision" } }
`,
});

let t: TestApp | undefined;
let backend: FakeBackend;
let dir: string | undefined;

afterAll(async () => {
  await t?.close();
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('opens the breaker in an outage (manual tasks, waiting steps), probes half-open after it and closes when the backend is back', async () => {
  backend = await new FakeBackend().start();
  const host = `http:${new URL(backend.url).host}`;
  dir = await mkdtemp(path.join(tmpdir(), 'faults-outage-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  for (const [id, text] of Object.entries(items(backend.url))) await writeFile(path.join(dir, `${id}.yaml`), text);
  t = await startTestApp({
    env: { CATALOGUE_DIR: dir, TEAMS_ENABLED: 'false' },
    app: { breaker: (b) => (b === host ? { minCalls: 2, windowSize: 4, failureRatio: 0.5, halfOpenAfterMs: HALF_OPEN_MS } : {}) },
  });
  const app = t.app;
  const q = (sql: string, p: unknown[] = []) => app.db.query(sql, p).then((r) => r.rows);
  const submit = async (id: string) => (await app.requests.submit({ item: app.catalogue.get(id)!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' })).request;
  const step = async (id: string) => (await q(`SELECT status, attempts FROM fulfilment_steps WHERE request_id = $1 AND step_id = 'provision'`, [id]))[0] as { status: string; attempts: number } | undefined;
  const statusOf = async (id: string) => (await q('SELECT status FROM requests WHERE id = $1', [id]))[0]!.status as string;
  const breakerTrail = async () => (await q(`SELECT action FROM audit_log WHERE subject = $1 AND action LIKE 'breaker.%' ORDER BY id`, [host])).map((x) => x.action as string);
  const health = async () => (await (await fetch(`${t!.base}/healthz`)).json()) as { backends: Record<string, { breaker: string }> };

  // 1. outage
  backend.down = true;
  const m1 = await submit('faults-outage-manual');
  await eventually(async () => (await step(m1.id))?.status === 'manual', 20000, 'first manual task');
  const m2 = await submit('faults-outage-manual');
  await eventually(async () => (await step(m2.id))?.status === 'manual', 20000, 'second manual task');
  await eventually(async () => (await breakerTrail()).includes('breaker.open'), 10000, 'breaker.open audited');
  expect(app.breakers.state(host)).toBe('open');
  expect((await health()).backends[host]?.breaker).toBe('open');
  const downCalls = backend.calls.filter((c) => c.kind === 'down').length;
  expect(downCalls).toBeGreaterThanOrEqual(2);

  // while open: straight to the manual queue without a call; a step without manual fallback waits
  const m3 = await submit('faults-outage-manual');
  await eventually(async () => (await step(m3.id))?.status === 'manual', 20000, 'third manual task');
  expect(await step(m3.id)).toEqual({ status: 'manual', attempts: 0 });
  const w = await submit('faults-outage-wait');
  await eventually(async () => (await step(w.id))?.status === 'waiting', 20000, 'deferred step');
  expect((await step(w.id))!.attempts).toBe(0); // an open breaker does not burn an attempt
  expect(backend.calls.length).toBe(downCalls);
  for (const r of [m1, m2, m3]) {
    const [task] = await q(`SELECT ref, status, description FROM cases WHERE idempotency_key = $1`, [`${r.id}:provision:manual`]);
    expect(task).toMatchObject({ status: 'open', description: expect.stringMatching(/Create the resource by hand in the admin console/) });
    const prompt = await q(`SELECT body FROM messages WHERE idempotency_key = $1`, [`${r.id}:provision:manual:fred.fulfiller@example.com`]);
    expect(prompt[0]!.body.buttons.map((b: { id: string }) => b.id)).toEqual([`task:${r.id}:provision:done`, `task:${r.id}:provision:failed`]);
    expect(await statusOf(r.id)).toBe('in-fulfilment');
  }

  // 2. the backend comes back: the deferred step's retry is the half-open probe
  backend.down = false;
  await eventually(async () => (await statusOf(w.id)) === 'fulfilled', 20000, 'the waiting request completes after the outage');
  expect(await breakerTrail()).toEqual(['breaker.open', 'breaker.half-open', 'breaker.closed']);
  expect(app.breakers.state(host)).toBe('closed');
  expect((await health()).backends[host]?.breaker).toBe('closed');
  expect(backend.effects.filter((e) => e.resource === `${w.id}-provision`)).toHaveLength(1);

  // closed again: a new request runs automatically, no manual task
  const m4 = await submit('faults-outage-manual');
  await eventually(async () => (await statusOf(m4.id)) === 'fulfilled', 20000, 'automatic fulfilment after recovery');
  expect(await q(`SELECT ref FROM cases WHERE idempotency_key = $1`, [`${m4.id}:provision:manual`])).toEqual([]);

  // the tasks created during the outage are still the fulfillers' to finish: one is completed and its request resumes
  const done = await fetch(`${t.base}/api/requests/${m1.ref}/steps/provision/complete`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify({ actor: 'fred.fulfiller@example.com', outcome: 'done', note: 'created by hand during the outage' }),
  });
  expect(done.status).toBe(200);
  await eventually(async () => (await statusOf(m1.id)) === 'fulfilled', 20000, 'manual task completed');
}, 90000);
