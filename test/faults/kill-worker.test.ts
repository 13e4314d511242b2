/**
 * kill -9 of the fulfilment worker at seeded random points, over and over, restarting each time.
 *
 * Each run submits a few requests of a workflow with parallel branches, backend calls with undo,
 * a directory change and a notice (one request in three on average is refused by the backend at a
 * late step, so it must roll back). The active worker is a child process running the real app;
 * the test kills it with SIGKILL at a point chosen by a seeded generator:
 *   - while the k-th backend call of the run is in flight and the backend has not done the work,
 *   - while it is in flight and the backend has done the work but its answer is lost,
 *   - a few milliseconds after the k-th answer (between the backend's success and our commit),
 *   - at a random time after submission.
 * A warm standby worker then takes over (after the dead worker's lock lease) and a new standby
 * is spawned. After each run every request must have ended fulfilled, or failed with everything
 * rolled back; the backend (an HTTP server in this process that honours Idempotency-Key and logs
 * what it really did) must have done each create and each delete exactly once; retries must
 * carry the same key and body. After the last run no Agenda job may hold a lock older than the
 * lease, and no request may be left in fulfilment.
 *
 * FAULTS_KILL_RUNS (default 50: about 100 s on 2 cores, the whole faults suite about 105 s) and
 * FAULTS_SEED (default 1337) set the repetition and the seed; FAULTS_KILL_SPARES (default 2) the
 * number of warm standby workers.
 * Needs PostgreSQL (several processes share the database): TEST_DATABASE_URL, else a throwaway
 * cluster (initdb), else the suite is skipped with a message.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, PROJECT_ROOT } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { mulberry32 } from '../support/rng.js';
import { createTestDb, serverUrl, type TestDb } from '../support/test-db.js';
import { FakeBackend, type BackendCall, type Intercept } from '../support/faults/fake-backend.js';
import { KILL_ITEM as ITEM, killItem as item } from '../support/faults/items.js';
import { pgClusterUnavailable, startPgCluster, type PgCluster } from '../support/faults/pg-cluster.js';
import { cleanupWorkerBundle, spawnWorker, type WorkerProcess } from '../support/faults/workers.js';

const RUNS = Number(process.env.FAULTS_KILL_RUNS ?? 50);
const SEED = Number(process.env.FAULTS_SEED ?? 1337);
const PER_RUN = 3;
const SPARES = Number(process.env.FAULTS_KILL_SPARES ?? 2);
const LOCK_MS = 1000; // JOB_LOCK_LIFETIME_MS of the workers: a dead worker's jobs are taken over after this
const REQUESTER = 'erin.employee@example.com';

type KillPlan =
  | { kind: 'in-flight'; k: number; hang: 'before' | 'after'; afterMs: number }
  | { kind: 'after-answer'; k: number; afterMs: number }
  | { kind: 'timer'; afterMs: number };

const describePlan = (p: KillPlan) => p.kind === 'timer' ? `timer ${p.afterMs}ms` : p.kind === 'in-flight' ? `call ${p.k} in flight (hang ${p.hang}) +${p.afterMs}ms` : `call ${p.k} answered +${p.afterMs}ms`;

const unavailable = serverUrl() ? undefined : pgClusterUnavailable();
const maybe = unavailable ? it.skip : it;
if (unavailable) process.stderr.write(`kill-worker faults skipped: no TEST_DATABASE_URL and no throwaway cluster (${unavailable})\n`);

let backend: FakeBackend;
let tdb: TestDb | undefined;
let cluster: PgCluster | undefined;
let db: Database | undefined;
let app: App | undefined;
let dialogs: string | undefined;
const workers: WorkerProcess[] = [];

afterAll(async () => {
  for (const w of workers) await w.kill().catch(() => undefined);
  await app?.stop().catch(() => undefined);
  await backend?.close();
  await tdb?.drop();
  await db?.close().catch(() => undefined);
  await cluster?.destroy();
  await cleanupWorkerBundle();
  if (dialogs) await rm(dialogs, { recursive: true, force: true });
});

maybe(`kill -9 at ${RUNS} seeded random points of fulfilment: every request ends fulfilled or rolled back, every backend effect happens once`, async () => {
  const started = Date.now();
  backend = await new FakeBackend().start();
  dialogs = await mkdtemp(path.join(tmpdir(), 'faults-kill-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dialogs, { recursive: true });
  await writeFile(path.join(dialogs, `${ITEM}.yaml`), item(backend.url));

  let url: string;
  if (serverUrl()) {
    tdb = await createTestDb({ migrate: false });
    url = tdb.url!;
  } else {
    cluster = await startPgCluster({ prefix: 'faults-kill-pg-' });
    url = cluster.url();
  }
  db = tdb?.db ?? await openDatabase({ kind: 'postgres', url, poolSize: 4 });
  const env: Record<string, string> = {
    DATABASE_URL: url, CATALOGUE_DIR: dialogs, LOG_LEVEL: 'silent', JOB_LOCK_LIFETIME_MS: String(LOCK_MS), JOB_PROCESS_EVERY_MS: '250', JOB_CONCURRENCY: '5', TEAMS_ENABLED: 'false',
  };
  // this process only submits (its job runner is never started); the workers fulfil
  app = await createApp({ config: loadConfig(env), db, workerName: 'faults-submitter' });
  const catalogueItem = app.catalogue.get(ITEM)!;
  expect(catalogueItem).toBeDefined();
  const q = async <T = Record<string, any>>(sql: string, p: unknown[] = []) => (await db!.query(sql, p)).rows as T[];

  let seq = 0;
  const spawnStandby = () => { const w = spawnWorker(`faults-w${seq++}`, env, { standby: true }); void w.then((x) => workers.push(x)); return w; };
  let active = await spawnStandby();
  // warm spares, so that a start-up (a few seconds of CPU) is rarely what a run waits for
  const spares = Array.from({ length: SPARES }, () => spawnStandby());
  await active.start();

  const rng = mulberry32(SEED);
  const pick = <T>(xs: T[]) => xs[Math.floor(rng() * xs.length)]!;
  const report: string[] = [];
  const tally = { fulfilled: 0, rolledBack: 0, requests: 0, killsInFlight: 0, killsAfterAnswer: 0, killsTimer: 0, killedBeforeTrigger: 0, replays: 0 };

  for (let run = 1; run <= RUNS; run++) {
    const plans = Array.from({ length: PER_RUN }, () => (rng() < 1 / 3 ? 'refuse' : 'ok'));
    const expectedCalls = plans.reduce((n, p) => n + (p === 'ok' ? 4 : 5), 0); // refuse: account, licence, provision, 2 undos
    const r = rng();
    const plan: KillPlan = r < 0.4 ? { kind: 'in-flight', k: 1 + Math.floor(rng() * expectedCalls), hang: rng() < 0.5 ? 'before' : 'after', afterMs: Math.floor(rng() * 60) }
      : r < 0.8 ? { kind: 'after-answer', k: 1 + Math.floor(rng() * expectedCalls), afterMs: pick([0, 0, 1, 2, 5, 10, 25]) }
        : { kind: 'timer', afterMs: Math.floor(rng() * 600) };
    // slow answers for some licence calls widen the window where one branch fails while the other is in flight
    const slowLicence = rng() < 0.5 ? Math.floor(rng() * 120) : 0;
    const firstCall = backend.calls.length;
    let fire!: () => void;
    const triggered = new Promise<void>((res) => { fire = res; });
    backend.intercept = (c: BackendCall): Intercept | undefined => {
      const k = backend.calls.indexOf(c) - firstCall + 1;
      if (plan.kind === 'in-flight' && k === plan.k) { setTimeout(fire, plan.afterMs); return { hang: plan.hang }; }
      if (slowLicence && c.method === 'POST' && String(c.body.name).endsWith('-licence')) return { delayMs: slowLicence };
      return undefined;
    };
    backend.onAnswered = (c) => {
      const k = backend.calls.indexOf(c) - firstCall + 1;
      if (plan.kind === 'after-answer' && k === plan.k) setTimeout(fire, plan.afterMs);
    };

    const t0 = Date.now();
    const requests: { plan: string; id: string; ref: string }[] = [];
    for (const p of plans) {
      const { request } = await app.requests.submit({ item: catalogueItem, requesterEmail: REQUESTER, answers: { plan: p }, channel: 'test' });
      requests.push({ plan: p, id: request.id, ref: request.ref });
    }
    if (plan.kind === 'timer') setTimeout(fire, plan.afterMs);
    // a trigger that never comes (e.g. a branch ended earlier than counted) kills once the run is over
    const settled = waitTerminal(q, requests.map((x) => x.id), 30_000).then(() => 'settled' as const);
    const first = await Promise.race([triggered.then(() => 'trigger' as const), settled.catch(() => 'stuck' as const)]);
    if (first !== 'trigger') tally.killedBeforeTrigger += 1;
    else tally[plan.kind === 'in-flight' ? 'killsInFlight' : plan.kind === 'after-answer' ? 'killsAfterAnswer' : 'killsTimer'] += 1;
    const tKill = Date.now();
    await active.kill();
    backend.intercept = undefined;
    backend.onAnswered = undefined;
    active = await spares.shift()!;
    await active.start();
    const tStarted = Date.now();
    spares.push(spawnStandby());

    const ends = await waitTerminal(q, requests.map((x) => x.id), 60_000).catch(async (e: Error) => {
      const ids = requests.map((x) => x.id);
      throw new Error(`run ${run} (${describePlan(plan)}): ${e.message}`
        + `\nrequests: ${JSON.stringify(await q(`SELECT id, status, lease_owner, lease_until, updated_at, now() AS now FROM requests WHERE id = ANY($1)`, [ids]))}`
        + `\njobs: ${JSON.stringify(await q(`SELECT name, data, locked_at, next_run_at, last_run_at, last_finished_at, fail_count, fail_reason, last_modified_by FROM agenda_jobs WHERE data->>'requestId' = ANY($1)`, [ids]))}`
        + `\nevents: ${JSON.stringify(await q(`SELECT request_id, kind, actor, detail, created_at FROM request_events WHERE request_id = ANY($1) AND kind LIKE 'fulfilment%' ORDER BY id`, [ids]))}`
        + `\nsteps: ${JSON.stringify(await q(`SELECT request_id, step_id, status, attempts, error FROM fulfilment_steps WHERE request_id = ANY($1) ORDER BY request_id, step_index`, [ids]))}\nworker stderr: ${active.stderr.slice(-2000)}`);
    });
    const tDone = Date.now();
    const outcomes: string[] = [];
    for (const req of requests) {
      const where = `run ${run} (${describePlan(plan)}), ${req.ref} (${req.plan})`;
      const status = ends.get(req.id);
      const key = (step: string) => `${req.id}:${step}`;
      const name = (step: string) => `${req.id}-${step}`;
      const creates = (step: string) => backend.effects.filter((e) => e.op === 'create' && e.resource === name(step));
      const deletes = (step: string) => backend.effects.filter((e) => e.op === 'delete' && e.resource === name(step));
      const inGroup = (await q(`SELECT count(*)::int AS n FROM group_memberships WHERE person_email = $1 AND group_name = $2`, [REQUESTER, `faults-${req.ref}`]))[0]!.n;
      const tell = (await q(`SELECT count(*)::int AS n FROM messages WHERE idempotency_key = $1`, [key('tell')]))[0]!.n;
      const reason = (await q(`SELECT reason FROM request_events WHERE request_id = $1 AND to_status = 'failed'`, [req.id])).map((x) => x.reason as string);
      const lease = (await q(`SELECT lease_owner FROM requests WHERE id = $1`, [req.id]))[0]!.lease_owner;
      const told = (await q(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [key('failed')])).map((x) => x.text as string);
      const fallback = (await q(`SELECT count(*)::int AS n FROM cases WHERE idempotency_key = $1`, [key('manual-fallback')]))[0]!.n;
      const facts = { status, inGroup, tell, reason, lease, told, fallback, effects: backend.effects.filter((e) => e.resource.startsWith(req.id)), steps: await q(`SELECT step_id, status, attempts, undo_status FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index`, [req.id]) };
      const fail = (what: string) => new Error(`${where}: ${what}\n${JSON.stringify(facts, null, 1)}`);
      if (lease !== null) throw fail('the lease was not released');
      if (req.plan === 'ok') {
        if (status !== 'fulfilled') throw fail(`expected fulfilled, got ${status}`);
        for (const s of ['account', 'licence', 'provision', 'note']) {
          if (creates(s).length !== 1 || creates(s)[0]!.key !== key(s)) throw fail(`${s} created ${creates(s).length} times`);
          if (deletes(s).length !== 0) throw fail(`${s} deleted`);
        }
        if (inGroup !== 1 || tell !== 1) throw fail('directory change or notice not exactly once');
        tally.fulfilled += 1;
        outcomes.push('fulfilled');
      } else {
        if (status !== 'failed') throw fail(`expected failed, got ${status}`);
        if (reason.length !== 1 || !/; rolled back$/.test(reason[0]!)) throw fail('not rolled back completely');
        if (creates('provision').length !== 0) throw fail('provision created although refused');
        for (const s of ['account', 'licence']) {
          if (creates(s).length > 1) throw fail(`${s} created ${creates(s).length} times`);
          if (deletes(s).length !== creates(s).length) throw fail(`${s}: ${creates(s).length} created, ${deletes(s).length} deleted (left behind after "rolled back")`);
          if (deletes(s)[0] && deletes(s)[0]!.key !== `${key(s)}:undo`) throw fail(`${s} deleted with key ${deletes(s)[0]!.key}`);
        }
        if (creates('account').length !== 1) throw fail('account not created before the failure');
        if (inGroup !== 0 || tell !== 0) throw fail('directory change not undone, or a notice for a failed request');
        if (told.length !== 1 || !/Everything already done was undone/.test(told[0]!) || fallback !== 0) throw fail('the requester was not told "undone", or a manual fulfilment case was opened');
        tally.rolledBack += 1;
        outcomes.push('rolled back');
      }
      // a retry is the same request: same key, same body
      for (const c of backend.calls.filter((x) => x.key.startsWith(req.id))) {
        const firstOfKey = backend.calls.find((x) => x.key === c.key)!;
        if (JSON.stringify(c.body) !== JSON.stringify(firstOfKey.body) || c.method !== firstOfKey.method || c.path !== firstOfKey.path) throw fail(`call ${c.n} with key ${c.key} differs from the first one`);
      }
      tally.requests += 1;
    }
    tally.replays = backend.calls.filter((c) => c.kind === 'replay').length;
    report.push(`${String(run).padStart(3)} ${describePlan(plan).padEnd(38)} ${first === 'trigger' ? '' : '(killed after the run) '}${outcomes.join(', ')}  [kill at +${tKill - t0} ms, standby running +${tStarted - tKill} ms, done +${tDone - tStarted} ms]`);
  }

  // after the final run: the live worker has taken over every expired lock; none is older than the lease
  await new Promise((r) => setTimeout(r, LOCK_MS + 600));
  const stale = await q(`SELECT name, locked_at, last_modified_by FROM agenda_jobs WHERE locked_at IS NOT NULL AND locked_at < now() - make_interval(secs => $1)`, [LOCK_MS / 1000]);
  expect(stale).toEqual([]);
  expect(await q(`SELECT ref, status FROM requests WHERE status IN ('approved', 'in-fulfilment')`)).toEqual([]);
  expect(backend.calls.filter((c) => c.kind === 'no-key')).toEqual([]);
  expect(tally.requests).toBe(RUNS * PER_RUN);
  const seconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`\nkill-worker faults: seed ${SEED}, ${RUNS} runs, ${tally.requests} requests: ${tally.fulfilled} fulfilled, ${tally.rolledBack} failed and rolled back; `
    + `kills: ${tally.killsInFlight} with a call in flight, ${tally.killsAfterAnswer} just after an answer, ${tally.killsTimer} at a random time, ${tally.killedBeforeTrigger} after the run; `
    + `${backend.calls.length} backend calls, ${tally.replays} replays of a known key, ${backend.effects.length} effects; ${seq} workers spawned; ${seconds} s\n${report.join('\n')}\n`);
}, Math.max(180_000, RUNS * 15_000));

/** Waits until every request is fulfilled or failed; returns their statuses. */
async function waitTerminal(q: (sql: string, p?: unknown[]) => Promise<Record<string, any>[]>, ids: string[], ms: number): Promise<Map<string, string>> {
  const end = Date.now() + ms;
  for (;;) {
    const rows = await q(`SELECT id, status FROM requests WHERE id = ANY($1)`, [ids]);
    if (rows.length === ids.length && rows.every((x) => ['fulfilled', 'failed'].includes(x.status))) return new Map(rows.map((x) => [x.id as string, x.status as string]));
    if (Date.now() > end) throw new Error(`requests not finished after ${ms} ms: ${rows.map((x) => x.status).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

