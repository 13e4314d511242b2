/**
 * Deterministic versions of what the kill -9 runs found, each a state a worker leaves behind when
 * it dies at one precise point, resumed by the real runner (FulfilmentRunner.run, as the Agenda job
 * calls it after the lock lease), against the fake backend over HTTP:
 *   1. one branch failed (the backend refused it) while its sibling was in flight and the backend
 *      had done the sibling's work: the sibling is finished with the same idempotency key (the
 *      backend replays its answer) and then undone, before the request is reported rolled back;
 *   2. every undo was done but the worker died before marking the request failed: the request is
 *      reported "rolled back" (not "nothing to roll back" with a manual fulfilment case).
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, PROJECT_ROOT } from '../../src/config.js';
import { addToGroup, removeFromGroup } from '../../src/directory/directory.repository.js';
import { ensureSteps } from '../../src/fulfilment/engine/step-store.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { FakeBackend } from '../support/faults/fake-backend.js';
import { KILL_ITEM, killItem } from '../support/faults/items.js';

const ERIN = 'erin.employee@example.com';
let backend: FakeBackend;
let tdb: TestDb;
let app: App;
let dir: string;

beforeAll(async () => {
  backend = await new FakeBackend().start();
  dir = await mkdtemp(path.join(tmpdir(), 'faults-resume-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, `${KILL_ITEM}.yaml`), killItem(backend.url));
  tdb = await createTestDb({ migrate: false });
  // never started: nothing runs but what the test calls
  app = await createApp({ config: loadConfig({ CATALOGUE_DIR: dir, LOG_LEVEL: 'silent', TEAMS_ENABLED: 'false' }), db: tdb.db, workerName: 'resumer' });
});
afterAll(async () => {
  await app?.stop();
  await tdb?.drop();
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const q = async (sql: string, p: unknown[] = []) => (await app.db.query(sql, p)).rows;
const call = async (method: 'POST' | 'DELETE', key: string, name: string, extra: Record<string, unknown> = {}) =>
  (await fetch(`${backend.url}/resources${method === 'DELETE' ? `/${name}` : ''}`, { method, headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: method === 'POST' ? JSON.stringify({ name, ...extra }) : undefined })).status;

/** A refused request as a dead worker left it: in fulfilment, its lease expired, its step rows created. */
async function leftBehind() {
  const { request: r } = await app.requests.submit({ item: app.catalogue.get(KILL_ITEM)!, requesterEmail: ERIN, answers: { plan: 'refuse' }, channel: 'test' });
  await q(`UPDATE requests SET status = 'in-fulfilment', lease_owner = 'dead-worker', lease_until = now() - interval '1 second' WHERE id = $1`, [r.id]);
  await ensureSteps(app.db, r.id, r.item.workflow);
  return r;
}
interface Left { status: string; attempts: number; undo?: 'done'; output?: unknown; error?: string }
/** Step rows as the dead worker's run left them (completion order = the order given). */
async function setSteps(requestId: string, steps: Record<string, Left>): Promise<void> {
  for (const [i, [step, s]] of Object.entries(steps).entries()) {
    await q(`UPDATE fulfilment_steps SET status = $3, attempts = $4, undo_status = $5, output = $6, error = $7, run_token = 'dead-token', started_at = now(),
             finished_at = CASE WHEN $3 IN ('done', 'failed') THEN clock_timestamp() + make_interval(secs => $8) END WHERE request_id = $1 AND step_id = $2`,
    [requestId, step, s.status, s.attempts, s.undo ?? null, s.output === undefined ? null : JSON.stringify(s.output), s.error ?? null, i]);
  }
}
const resume = (id: string) => app.runner.run(id, { touch: async () => undefined, attempt: 0 });
const refused = (id: string) => `POST ${backend.url}/resources answered 400: {"error":"${id}-provision refused"}`;

it('finishes a branch left in flight next to a failed one (same key, replayed), then undoes it with the rest', async () => {
  const r = await leftBehind();
  // what the dead worker did: account, group, then licence and provision in parallel; the
  // provision's refusal was recorded, the licence's answer never was
  expect(await call('POST', `${r.id}:account`, `${r.id}-account`)).toBe(201);
  await addToGroup(app.db, ERIN, `faults-${r.ref}`, null, 'dead-worker');
  expect(await call('POST', `${r.id}:licence`, `${r.id}-licence`)).toBe(201);
  expect(await call('POST', `${r.id}:provision`, `${r.id}-provision`, { plan: 'refuse' })).toBe(400);
  await setSteps(r.id, {
    account: { status: 'done', attempts: 1, output: { status: 201, body: { id: `id-${r.id}-account` } } },
    group: { status: 'done', attempts: 1, output: { person: ERIN, group: `faults-${r.ref}`, added: true, until: null } },
    provision: { status: 'failed', attempts: 1, error: refused(r.id) },
    licence: { status: 'running', attempts: 1 },
  });
  const callsBefore = backend.calls.length;

  await resume(r.id);

  expect((await q('SELECT status FROM requests WHERE id = $1', [r.id]))[0]!.status).toBe('failed');
  expect(await q(`SELECT step_id, status, attempts, undo_status FROM fulfilment_steps WHERE request_id = $1 AND step_id IN ('account', 'group', 'licence', 'provision') ORDER BY step_index`, [r.id])).toEqual([
    { step_id: 'account', status: 'done', attempts: 1, undo_status: 'done' },
    { step_id: 'group', status: 'done', attempts: 1, undo_status: 'done' },
    { step_id: 'licence', status: 'done', attempts: 2, undo_status: 'done' },
    { step_id: 'provision', status: 'failed', attempts: 1, undo_status: null },
  ]);
  const resumed = backend.calls.slice(callsBefore).map((c) => `${c.method} ${c.key} ${c.kind}`);
  expect(resumed).toEqual([`POST ${r.id}:licence replay`, `DELETE ${r.id}:licence:undo fresh`, `DELETE ${r.id}:account:undo fresh`]);
  expect([...backend.resources.keys()].filter((k) => k.startsWith(r.id))).toEqual([]);
  expect(await q(`SELECT group_name FROM group_memberships WHERE person_email = $1 AND group_name = $2`, [ERIN, `faults-${r.ref}`])).toEqual([]);
  expect((await q(`SELECT reason FROM request_events WHERE request_id = $1 AND to_status = 'failed'`, [r.id]))[0]!.reason).toMatch(/; rolled back$/);
});

it('reports "rolled back" when every undo was done before the worker died', async () => {
  const r = await leftBehind();
  for (const s of ['account', 'licence']) expect(await call('POST', `${r.id}:${s}`, `${r.id}-${s}`)).toBe(201);
  expect(await call('POST', `${r.id}:provision`, `${r.id}-provision`, { plan: 'refuse' })).toBe(400);
  for (const s of ['licence', 'account']) expect(await call('DELETE', `${r.id}:${s}:undo`, `${r.id}-${s}`)).toBe(200);
  await addToGroup(app.db, ERIN, `faults-${r.ref}`, null, 'dead-worker');
  await removeFromGroup(app.db, ERIN, `faults-${r.ref}`);
  await setSteps(r.id, {
    account: { status: 'done', attempts: 1, undo: 'done', output: {} },
    group: { status: 'done', attempts: 1, undo: 'done', output: {} },
    licence: { status: 'done', attempts: 1, undo: 'done', output: {} },
    provision: { status: 'failed', attempts: 1, error: refused(r.id) },
  });
  const callsBefore = backend.calls.length;

  await resume(r.id);

  expect(backend.calls.length).toBe(callsBefore); // nothing left to undo
  expect((await q('SELECT status FROM requests WHERE id = $1', [r.id]))[0]!.status).toBe('failed');
  expect((await q(`SELECT reason FROM request_events WHERE request_id = $1 AND to_status = 'failed'`, [r.id]))[0]!.reason).toMatch(/; rolled back$/);
  expect((await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`${r.id}:failed`]))[0]!.text).toMatch(/Everything already done was undone/);
  expect(await q(`SELECT ref FROM cases WHERE idempotency_key = $1`, [`${r.id}:manual-fallback`])).toEqual([]);
  const failedAudit = (await q(`SELECT detail FROM audit_log WHERE subject = $1 AND action = 'request.failed'`, [r.ref]))[0]!.detail;
  expect(failedAudit).toMatchObject({ outcome: 'rolled back', undone: expect.arrayContaining(['account', 'group', 'licence']) });
});
