/**
 * Fulfilment under load: errand's job runner (Agenda 6 + @agendajs/postgres-backend, the real
 * FulfilmentRunner) against a plain `FOR UPDATE SKIP LOCKED` queue, same backend calls, same concurrency.
 *
 *   npm run --silent bench:fulfilment -- [--n 1000] [--paced 300] [--rate 20] [--concurrency 5] [--pglite] [--json]
 *
 * The real app runs in this process (createApp) on a throwaway database, with a temporary catalogue
 * holding one item without approvals whose workflow is three calls, through the `http` connector
 * (with Idempotency-Key), to a fake backend served by this process. Requests go in through
 * RequestService.submit (what the REST API and the dialogs call), so each is approved at once and its
 * fulfilment job enqueued.
 *
 * Two phases, run for the reference and then for errand:
 *   backlog — N requests are submitted while the runner is stopped, then it starts: completed/s
 *             (N / time from start to the last completion) and the queue depth while it drains;
 *   paced   — M requests arrive at R per second with the runner running: job pick-up latency (due →
 *             handler start; errand's own instrumentation, the value behind errand_job_pickup_seconds)
 *             and end-to-end latency (request created → fulfilled), and the queue depth.
 * The reference is a table `bench_jobs` and C workers each looping: claim one row (UPDATE … WHERE id =
 * (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)), make the same three calls (same keys scheme), record
 * each step, mark it done; when nothing is due it sleeps --ref-poll-ms. Ratios are errand / reference.
 *
 * Output: tables on stdout, progress on stderr; with --json the LAST stdout line is one JSON object.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { AGENDA_TABLE } from '../../src/db/migrate.js';
import { pino } from 'pino';
import { createLogger } from '../../src/log.js';
import { FULFIL_JOB } from '../../src/requests/request.service.js';
import { logger, parseCli, positive } from '../support/cli.js';
import { BENCH_ITEM_YAML, FakeBackend, benchConnectorsYaml } from '../support/fake-backend.js';
import { readProc } from '../support/proc.js';
import { jsonLine, num, sleep, summarise, table, type Summary } from '../support/stats.js';
import { analyzePolicy, createThrowaway, periodicAnalyze, type Throwaway } from '../support/throwaway-db.js';

const NAME = 'bench:fulfilment';
const args = parseCli(NAME, 'A 3-step workflow against a fake backend: errand\'s Agenda runner vs a plain SKIP LOCKED loop.', {
  n: { type: 'string', default: '1000', help: 'requests in the backlog phase' },
  paced: { type: 'string', default: '300', help: 'requests in the paced phase (0 = skip it)' },
  rate: { type: 'string', default: '20', help: 'arrivals per second in the paced phase' },
  concurrency: { type: 'string', default: '5', help: 'jobs at once (JOB_CONCURRENCY) = reference workers' },
  submitters: { type: 'string', default: '4', help: 'parallel submissions while loading the backlog' },
  'backend-latency-ms': { type: 'string', default: '0', help: 'delay of every fake backend answer' },
  'process-every-ms': { type: 'string', default: '2000', help: 'JOB_PROCESS_EVERY_MS (Agenda poll interval; LISTEN/NOTIFY picks up new jobs at once)' },
  'ref-poll-ms': { type: 'string', default: '10', help: 'reference workers: sleep when nothing is due' },
  'sample-ms': { type: 'string', default: '250', help: 'queue depth sampling interval' },
  'timeout': { type: 'string', default: '600', help: 'max seconds per phase' },
  'skip-reference': { type: 'boolean', default: false, help: 'errand only' },
  pglite: { type: 'boolean', default: false, help: 'embedded PGlite (in this process) instead of PostgreSQL' },
  'db-url': { type: 'string', help: 'PostgreSQL server for the throwaway database (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)' },
  'analyze-every': { type: 'string', help: 'seconds between VACUUM (ANALYZE) runs standing in for autovacuum (default 30 when the server has autovacuum off, else 0; see bench/README.md)' },
  'keep-log': { type: 'boolean', default: false, help: 'keep the app log (its path is printed)' },
  json: { type: 'boolean', default: false, help: 'print one JSON line last' },
});
const N = positive('n', args.n, true);
const PACED = positive('paced', args.paced, true);
const RATE = Math.max(0.1, positive('rate', args.rate));
const CONCURRENCY = Math.max(1, positive('concurrency', args.concurrency, true));
const SUBMITTERS = Math.max(1, positive('submitters', args.submitters, true));
const BACKEND_LATENCY = positive('backend-latency-ms', args['backend-latency-ms']);
const PROCESS_EVERY = Math.max(50, positive('process-every-ms', args['process-every-ms'], true));
const REF_POLL = positive('ref-poll-ms', args['ref-poll-ms']);
const SAMPLE_MS = Math.max(20, positive('sample-ms', args['sample-ms']));
const TIMEOUT_S = positive('timeout', args.timeout);
const log = logger(NAME);
const REQUESTERS = ['erin.employee@example.com', 'mark.manager@example.com', 'dana.director@example.com', 'tara.triage@example.com', 'fred.fulfiller@example.com'];

interface DepthSample { t: number; due: number; running: number }
interface BacklogResult { n: number; loadSeconds: number; loadPerSecond: number; drainSeconds: number; completedPerSecond: number; failed: number; maxDue: number; depth: DepthSample[]; cpuPercent: number | null }
interface PacedResult { n: number; rate: number; pickup: Summary; endToEnd: Summary; completedPerSecond: number; failed: number; maxDue: number; depth: DepthSample[]; cpuPercent: number | null }
interface RunResult { backlog: BacklogResult | null; paced: PacedResult | null; backendCalls: number; replays: number; withoutKey: number; incomplete: number }

let cleanup: (() => Promise<void>) | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { log(`${sig}: cleaning up`); void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130)); });

/** Samples `depth()` every SAMPLE_MS until stopped. */
function depthSampler(depth: () => Promise<{ due: number; running: number }>): { samples: DepthSample[]; stop(): Promise<void> } {
  const samples: DepthSample[] = [];
  const t0 = performance.now();
  let on = true;
  const loop = (async () => {
    while (on) {
      try { samples.push({ t: (performance.now() - t0) / 1000, ...(await depth()) }); } catch { /* database busy or closing */ }
      await sleep(SAMPLE_MS);
    }
  })();
  return { samples, async stop() { on = false; await loop; } };
}

/** Runs `fn(i)` for i < n with at most `k` at once. */
async function pool(n: number, k: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(k, n) }, async () => { while (next < n) await fn(next++); }));
}

/** Calls `fn(i)` for i < n on a fixed schedule of `rate` per second (open loop); resolves when all are done. */
async function paced(n: number, rate: number, fn: (i: number) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    all.push(fn(i));
  }
  await Promise.all(all);
}

async function waitUntil(what: string, fn: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + TIMEOUT_S * 1000;
  while (!(await fn())) {
    if (performance.now() > end) throw new Error(`timed out after ${TIMEOUT_S} s waiting for ${what}`);
    await sleep(50);
  }
}

const cpuSince = (a: ReturnType<typeof readProc>, b: ReturnType<typeof readProc>) => (a && b ? (100 * (b.cpuSeconds - a.cpuSeconds)) / ((b.at - a.at) / 1000) : null);

async function runErrand(db: Database, backend: FakeBackend, tmp: string, t: Throwaway): Promise<RunResult> {
  const dialogs = path.join(tmp, 'dialogs');
  await mkdir(dialogs, { recursive: true });
  await writeFile(path.join(dialogs, 'bench-three-step.yaml'), BENCH_ITEM_YAML);
  await writeFile(path.join(tmp, '_connectors.yaml'), benchConnectorsYaml(backend.base));
  const config = loadConfig({
    NODE_ENV: 'development', LOG_LEVEL: 'warn', WEB_CHAT_DEMO: 'false', TEAMS_ENABLED: 'false', API_KEYS: 'bench-api-key',
    CATALOGUE_DIR: dialogs, CONNECTORS_FILE: path.join(tmp, '_connectors.yaml'), DATA_DIR: path.join(tmp, 'data'),
    JOB_CONCURRENCY: String(CONCURRENCY), JOB_PROCESS_EVERY_MS: String(PROCESS_EVERY),
    ...(t.kind === 'postgres' ? { DATABASE_URL: t.url } : {}),
  });
  const app: App = await createApp({ config, db, log: createLogger('warn', pino.destination({ dest: path.join(tmp, 'app.log'), sync: false })) });
  const item = app.catalogue.get('bench-three-step');
  if (!item) throw new Error('the bench item did not load');
  // job pick-up latencies of fulfilment jobs, as errand itself measures them (instrumented queue)
  let pickups: number[] | undefined;
  const observe = app.metrics.jobPickedUp.bind(app.metrics);
  app.metrics.jobPickedUp = (job: string, seconds: number) => { if (job === FULFIL_JOB) pickups?.push(seconds * 1000); observe(job, seconds); };
  const depth = async () => {
    const r = await db.query<{ due: number; running: number }>(
      `SELECT count(*) FILTER (WHERE locked_at IS NULL AND next_run_at <= now())::int AS due, count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS running
         FROM ${AGENDA_TABLE} WHERE name IN ('fulfil-request', 'fulfil-request-retry')`);
    return r.rows[0]!;
  };
  const count = async (status: string, prefix: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM requests WHERE status = $1 AND submission_key LIKE $2`, [status, `${prefix}%`])).rows[0]!.n;
  const submit = (key: string, i: number) => app.requests.submit({ item, requesterEmail: REQUESTERS[i % REQUESTERS.length]!, answers: { note: `bench ${key}` }, channel: 'api', submissionKey: key }).then(() => undefined);

  let backlog: BacklogResult | null = null;
  let started = false;
  try {
    if (N > 0) {
      log(`errand backlog: submitting ${N} requests (runner stopped, ${SUBMITTERS} at once)`);
      const l0 = performance.now();
      await pool(N, SUBMITTERS, (i) => submit(`bench:backlog:${i}`, i));
      const loadSeconds = (performance.now() - l0) / 1000;
      log(`errand backlog: submitted in ${loadSeconds.toFixed(1)} s; starting the runner (concurrency ${CONCURRENCY})`);
      const p0 = readProc(process.pid);
      const sampler = depthSampler(depth);
      const dbT0 = (await db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
      await app.start();
      started = true;
      await waitUntil('the backlog to drain', async () => (await count('fulfilled', 'bench:backlog:')) + (await count('failed', 'bench:backlog:')) >= N);
      await sampler.stop();
      const p1 = readProc(process.pid);
      const last = (await db.query<{ t: Date }>(`SELECT max(completed_at) AS t FROM requests WHERE submission_key LIKE 'bench:backlog:%'`)).rows[0]!.t;
      const drainSeconds = (last.getTime() - dbT0.getTime()) / 1000;
      backlog = {
        n: N, loadSeconds, loadPerSecond: N / loadSeconds, drainSeconds, completedPerSecond: N / drainSeconds, failed: await count('failed', 'bench:backlog:'),
        maxDue: Math.max(0, ...sampler.samples.map((s) => s.due)), depth: sampler.samples, cpuPercent: cpuSince(p0, p1),
      };
      log(`errand backlog: ${num(backlog.completedPerSecond)} requests/s (${drainSeconds.toFixed(1)} s)`);
    }
    if (!started) { await app.start(); started = true; }
    let pacedResult: PacedResult | null = null;
    if (PACED > 0) {
      log(`errand paced: ${PACED} requests at ${RATE}/s`);
      pickups = [];
      const p0 = readProc(process.pid);
      const sampler = depthSampler(depth);
      const t0 = performance.now();
      await paced(PACED, RATE, (i) => submit(`bench:paced:${i}`, i));
      await waitUntil('the paced requests', async () => (await count('fulfilled', 'bench:paced:')) + (await count('failed', 'bench:paced:')) >= PACED);
      const seconds = (performance.now() - t0) / 1000;
      await sampler.stop();
      const p1 = readProc(process.pid);
      const e2e = (await db.query<{ ms: number }>(`SELECT (extract(epoch FROM completed_at - created_at) * 1000)::float8 AS ms FROM requests WHERE submission_key LIKE 'bench:paced:%' AND status = 'fulfilled'`)).rows.map((r) => r.ms);
      pacedResult = {
        n: PACED, rate: RATE, pickup: summarise(pickups), endToEnd: summarise(e2e), completedPerSecond: PACED / seconds, failed: await count('failed', 'bench:paced:'),
        maxDue: Math.max(0, ...sampler.samples.map((s) => s.due)), depth: sampler.samples, cpuPercent: cpuSince(p0, p1),
      };
      pickups = undefined;
      log(`errand paced: pick-up p50 ${num(pacedResult.pickup.p50)} ms, p99 ${num(pacedResult.pickup.p99)} ms; end-to-end p50 ${num(pacedResult.endToEnd.p50)} ms, p99 ${num(pacedResult.endToEnd.p99)} ms`);
    }
    const incomplete = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fulfilment_steps s JOIN requests r ON r.id = s.request_id WHERE r.submission_key LIKE 'bench:%' AND s.status <> 'done'`)).rows[0]!.n;
    return { backlog, paced: pacedResult, backendCalls: backend.calls, replays: backend.replays, withoutKey: backend.withoutKey, incomplete };
  } finally {
    await app.stop();
  }
}

async function runReference(db: Database, backend: FakeBackend): Promise<RunResult> {
  await db.query(`DROP TABLE IF EXISTS bench_jobs`);
  await db.query(`CREATE TABLE bench_jobs (
    id bigserial PRIMARY KEY, request_key text NOT NULL UNIQUE, step int NOT NULL DEFAULT 0,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(), picked_at timestamptz, done_at timestamptz)`);
  await db.query(`CREATE INDEX bench_jobs_due ON bench_jobs (id) WHERE picked_at IS NULL`);
  const post = async (url: string, key: string, body: unknown): Promise<Record<string, unknown>> => {
    const r = await fetch(`${backend.base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify(body) });
    if (r.status >= 300) throw new Error(`backend answered ${r.status}`);
    return (await r.json()) as Record<string, unknown>;
  };
  let on = false;
  let failed = 0;
  /** One worker: claim a due job (SKIP LOCKED), make its three calls, record each step, mark it done. */
  const worker = async () => {
    while (on) {
      const claimed = await db.query<{ id: string; request_key: string }>(
        `UPDATE bench_jobs SET picked_at = clock_timestamp() WHERE id = (SELECT id FROM bench_jobs WHERE picked_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, request_key`);
      const job = claimed.rows[0];
      if (!job) { await sleep(REF_POLL); continue; }
      try {
        const acc = await post('/accounts', `${job.request_key}:create`, { user: job.request_key, reference: job.id });
        await db.query('UPDATE bench_jobs SET step = 1 WHERE id = $1', [job.id]);
        await post('/groups/bench-users/members', `${job.request_key}:group`, { account: acc.id });
        await db.query('UPDATE bench_jobs SET step = 2 WHERE id = $1', [job.id]);
        await post(`/accounts/${String(acc.id)}/licences`, `${job.request_key}:licence`, { sku: 'bench' });
        await db.query('UPDATE bench_jobs SET step = 3, done_at = clock_timestamp() WHERE id = $1', [job.id]);
      } catch (e) {
        failed++;
        log(`reference job ${job.id} failed: ${(e as Error).message}`);
        await db.query('UPDATE bench_jobs SET done_at = clock_timestamp() WHERE id = $1', [job.id]);
      }
    }
  };
  const workers: Promise<void>[] = [];
  const startWorkers = () => { on = true; for (let i = 0; i < CONCURRENCY; i++) workers.push(worker()); };
  const depth = async () => (await db.query<{ due: number; running: number }>(
    `SELECT count(*) FILTER (WHERE picked_at IS NULL)::int AS due, count(*) FILTER (WHERE picked_at IS NOT NULL AND done_at IS NULL)::int AS running FROM bench_jobs`)).rows[0]!;
  const doneCount = async (prefix: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bench_jobs WHERE done_at IS NOT NULL AND request_key LIKE $1`, [`${prefix}%`])).rows[0]!.n;
  const insert = (key: string) => db.query('INSERT INTO bench_jobs (request_key) VALUES ($1)', [key]).then(() => undefined);
  let backlog: BacklogResult | null = null;
  let pacedResult: PacedResult | null = null;
  try {
    if (N > 0) {
      log(`reference backlog: inserting ${N} jobs (${SUBMITTERS} at once)`);
      const l0 = performance.now();
      await pool(N, SUBMITTERS, (i) => insert(`ref:backlog:${i}`));
      const loadSeconds = (performance.now() - l0) / 1000;
      const p0 = readProc(process.pid);
      const sampler = depthSampler(depth);
      const dbT0 = (await db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t;
      startWorkers();
      await waitUntil('the reference backlog', async () => (await doneCount('ref:backlog:')) >= N);
      await sampler.stop();
      const p1 = readProc(process.pid);
      const last = (await db.query<{ t: Date }>(`SELECT max(done_at) AS t FROM bench_jobs WHERE request_key LIKE 'ref:backlog:%'`)).rows[0]!.t;
      const drainSeconds = (last.getTime() - dbT0.getTime()) / 1000;
      backlog = { n: N, loadSeconds, loadPerSecond: N / loadSeconds, drainSeconds, completedPerSecond: N / drainSeconds, failed, maxDue: Math.max(0, ...sampler.samples.map((s) => s.due)), depth: sampler.samples, cpuPercent: cpuSince(p0, p1) };
      log(`reference backlog: ${num(backlog.completedPerSecond)} jobs/s (${drainSeconds.toFixed(1)} s)`);
    } else startWorkers();
    if (PACED > 0) {
      log(`reference paced: ${PACED} jobs at ${RATE}/s`);
      const failedBefore = failed;
      const p0 = readProc(process.pid);
      const sampler = depthSampler(depth);
      const t0 = performance.now();
      await paced(PACED, RATE, (i) => insert(`ref:paced:${i}`));
      await waitUntil('the reference paced jobs', async () => (await doneCount('ref:paced:')) >= PACED);
      const seconds = (performance.now() - t0) / 1000;
      await sampler.stop();
      const p1 = readProc(process.pid);
      const rows = (await db.query<{ pick: number; e2e: number }>(
        `SELECT (extract(epoch FROM picked_at - enqueued_at) * 1000)::float8 AS pick, (extract(epoch FROM done_at - enqueued_at) * 1000)::float8 AS e2e FROM bench_jobs WHERE request_key LIKE 'ref:paced:%'`)).rows;
      pacedResult = {
        n: PACED, rate: RATE, pickup: summarise(rows.map((r) => r.pick)), endToEnd: summarise(rows.map((r) => r.e2e)), completedPerSecond: PACED / seconds, failed: failed - failedBefore,
        maxDue: Math.max(0, ...sampler.samples.map((s) => s.due)), depth: sampler.samples, cpuPercent: cpuSince(p0, p1),
      };
      log(`reference paced: pick-up p50 ${num(pacedResult.pickup.p50)} ms, p99 ${num(pacedResult.pickup.p99)} ms; end-to-end p50 ${num(pacedResult.endToEnd.p50)} ms, p99 ${num(pacedResult.endToEnd.p99)} ms`);
    }
    const incomplete = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM bench_jobs WHERE step <> 3`)).rows[0]!.n;
    return { backlog, paced: pacedResult, backendCalls: backend.calls, replays: backend.replays, withoutKey: backend.withoutKey, incomplete };
  } finally {
    on = false;
    await Promise.all(workers);
    await db.query('DROP TABLE IF EXISTS bench_jobs').catch(() => undefined);
  }
}

/** ~`k` evenly spaced samples of a depth series, as "t s: due/running". */
function depthLine(samples: DepthSample[], k = 12): string {
  if (!samples.length) return '—';
  const step = Math.max(1, Math.floor(samples.length / k));
  const picked = samples.filter((_, i) => i % step === 0).slice(0, k);
  return picked.map((s) => `${s.t.toFixed(1)}s:${s.due}/${s.running}`).join('  ');
}

function report(e: RunResult, r: RunResult | null, meta: Record<string, unknown>): void {
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || !b ? '—' : (a / b).toFixed(2));
  const out: string[] = [];
  out.push(`bench:fulfilment — 3-step workflow, fake backend latency ${BACKEND_LATENCY} ms, concurrency ${CONCURRENCY}, ${String(meta.database)}`);
  out.push(`database statistics: ${String(meta.statistics)}`);
  out.push('');
  const rows: (string | number)[][] = [];
  if (e.backlog) {
    const b = e.backlog, rb = r?.backlog ?? undefined;
    rows.push([`backlog of ${b.n}: loaded per second`, num(b.loadPerSecond), num(rb?.loadPerSecond), '']);
    rows.push(['backlog: completed per second', num(b.completedPerSecond), num(rb?.completedPerSecond), ratio(b.completedPerSecond, rb?.completedPerSecond)]);
    rows.push(['backlog: drain seconds', num(b.drainSeconds), num(rb?.drainSeconds), ratio(b.drainSeconds, rb?.drainSeconds)]);
    rows.push(['backlog: bench process CPU %', num(b.cpuPercent, 0), num(rb?.cpuPercent, 0), '']);
    rows.push(['backlog: failed', b.failed, rb?.failed ?? '—', '']);
  }
  if (e.paced) {
    const p = e.paced, rp = r?.paced ?? undefined;
    rows.push([`paced ${p.n} at ${p.rate}/s: pick-up p50 ms`, num(p.pickup.p50), num(rp?.pickup.p50), ratio(p.pickup.p50, rp?.pickup.p50)]);
    rows.push(['paced: pick-up p99 ms', num(p.pickup.p99), num(rp?.pickup.p99), ratio(p.pickup.p99, rp?.pickup.p99)]);
    rows.push(['paced: end-to-end p50 ms', num(p.endToEnd.p50), num(rp?.endToEnd.p50), ratio(p.endToEnd.p50, rp?.endToEnd.p50)]);
    rows.push(['paced: end-to-end p99 ms', num(p.endToEnd.p99), num(rp?.endToEnd.p99), ratio(p.endToEnd.p99, rp?.endToEnd.p99)]);
    rows.push(['paced: max jobs due (not picked up)', p.maxDue, rp?.maxDue ?? '—', '']);
    rows.push(['paced: bench process CPU %', num(p.cpuPercent, 0), num(rp?.cpuPercent, 0), '']);
    rows.push(['paced: failed', p.failed, rp?.failed ?? '—', '']);
  }
  rows.push(['backend calls (3 per request)', e.backendCalls, r?.backendCalls ?? '—', '']);
  rows.push(['calls repeating a key / without a key', `${e.replays} / ${e.withoutKey}`, r ? `${r.replays} / ${r.withoutKey}` : '—', '']);
  rows.push(['steps not done at the end', e.incomplete, r?.incomplete ?? '—', '']);
  out.push(table(['', 'errand (Agenda)', 'SKIP LOCKED', 'ratio'], rows));
  out.push('');
  out.push('queue depth over time (seconds since start: due/running):');
  if (e.backlog) out.push(`  errand backlog     ${depthLine(e.backlog.depth)}`);
  if (r?.backlog) out.push(`  reference backlog  ${depthLine(r.backlog.depth)}`);
  if (e.paced) out.push(`  errand paced       ${depthLine(e.paced.depth)}`);
  if (r?.paced) out.push(`  reference paced    ${depthLine(r.paced.depth)}`);
  out.push('');
  out.push('ratio = errand / reference (throughput: > 1 is errand faster; latency: > 1 is errand slower). Errand does the whole request');
  out.push('lifecycle per job (lease, step rows, audit chain, outbox messages); the reference only claims, calls and records steps.');
  process.stdout.write(`${out.join('\n')}\n`);
  if (args.json) {
    const slim = (x: RunResult | null) => x && {
      ...x,
      backlog: x.backlog && { ...x.backlog, depth: x.backlog.depth.map((s) => [Math.round(s.t * 100) / 100, s.due, s.running]) },
      paced: x.paced && { ...x.paced, depth: x.paced.depth.map((s) => [Math.round(s.t * 100) / 100, s.due, s.running]) },
    };
    process.stdout.write(`${jsonLine({
      bench: 'fulfilment', ...meta, errand: slim(e), reference: slim(r),
      ratios: {
        backlogThroughput: e.backlog && r?.backlog ? e.backlog.completedPerSecond / r.backlog.completedPerSecond : null,
        pickupP50: e.paced && r?.paced ? e.paced.pickup.p50 / r.paced.pickup.p50 : null,
        pickupP99: e.paced && r?.paced ? e.paced.pickup.p99 / r.paced.pickup.p99 : null,
        endToEndP50: e.paced && r?.paced ? e.paced.endToEnd.p50 / r.paced.endToEnd.p50 : null,
        endToEndP99: e.paced && r?.paced ? e.paced.endToEnd.p99 / r.paced.endToEnd.p99 : null,
      },
    })}\n`);
  }
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'errand-fulfilment-'));
  const backend = await new FakeBackend(BACKEND_LATENCY).start();
  let t: Throwaway | undefined;
  let db: Database | undefined;
  let done = false;
  cleanup = async () => {
    if (done) return;
    done = true;
    await db?.close().catch(() => undefined);
    await backend.stop().catch(() => undefined);
    await t?.drop().catch((e: Error) => log(`could not drop the database: ${e.message}`));
    if (args['keep-log']) log(`app log kept: ${path.join(tmp, 'app.log')}`); else await rm(tmp, { recursive: true, force: true });
  };
  try {
    t = await createThrowaway({ pglite: args.pglite, label: 'fulfil', ...(args['db-url'] ? { serverUrl: args['db-url'] } : {}) });
    db = await openDatabase(t.kind === 'postgres' ? { kind: 'postgres', url: t.url } : { kind: 'pglite', dataDir: t.dataDir });
    log(`database: ${t.kind === 'postgres' ? t.name : t.dataDir}; fake backend at ${backend.base}`);
    const analyze = await analyzePolicy(t, args['analyze-every']);
    log(analyze.note);
    const analyzer = t.kind === 'postgres' && analyze.everyS > 0 ? periodicAnalyze(t.url, analyze.everyS, (e) => log(`ANALYZE failed: ${e.message}`)) : undefined;
    // the reference first: after app.stop() a caller-owned PGlite database answers no more queries
    // (see bench/README.md, findings), and the order does not matter on PostgreSQL
    let r: RunResult | null = null;
    if (!args['skip-reference']) {
      r = await runReference(db, backend);
      backend.reset();
    }
    const e = await runErrand(db, backend, tmp, t);
    await analyzer?.stop();
    report(e, r, { statistics: analyze.note, database: t.kind, n: N, pacedN: PACED, rate: RATE, concurrency: CONCURRENCY, backendLatencyMs: BACKEND_LATENCY, processEveryMs: PROCESS_EVERY, refPollMs: REF_POLL });
  } finally {
    await cleanup();
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`${NAME}: ${(e as Error).stack ?? String(e)}\n`);
  void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(1));
});
