/**
 * Memory over many messages: does errand's process grow with the number of messages it has handled?
 *
 *   npm run --silent bench:memory -- [--messages 100000] [--every 5000] [--window 32] [--pglite] [--json]
 *
 * (The npm script runs node with --expose-gc.) The real app runs in this process (createApp, listening on
 * loopback) on a throwaway PostgreSQL database, with Slack on and its Web API faked by a loopback server
 * in this process (bench/support/fake-slack.ts). Signed `message.im` events from seeded bench users are
 * posted to /slack/events in a closed loop: at most --window events wait for their reply at a time (the
 * reply is the bot's chat.postMessage in the event's thread), so the server is never flooded and
 * every message is fully handled: deduplicated, classified, answered, stored and delivered.
 *
 * Every --every messages the loop waits until every reply is in, then records RSS and V8 heap used:
 * the least of three readings 300 ms apart, each right after a full GC. The slope is the least-squares
 * line over the second half of the samples (the first half is warm-up: JIT, caches, pools), in bytes
 * per 1,000 messages; "flat" means both slopes are below --flat-kb-per-1k. With --pglite the database lives in this process too, so its growth
 * (the data itself) is part of the figures.
 *
 * Output: a table on stdout, progress on stderr; with --json the LAST stdout line is one JSON object.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { writeHeapSnapshot } from 'node:v8';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { pino } from 'pino';
import { createLogger } from '../../src/log.js';
import { logger, parseCli, positive } from '../support/cli.js';
import { writeSeed } from '../support/errand-server.js';
import { BENCH_BOT_TOKEN, BENCH_SIGNING_SECRET, BENCH_TRIAGE_CHANNEL, FakeSlackApi, REQUEST_TEXTS, benchPeople, dmEventBody, dmOf, signSlack, threadTsOf } from '../support/fake-slack.js';
import { KeepAliveClient } from '../support/http-client.js';
import { jsonLine, leastSquares, mib, num, rng, sleep, table } from '../support/stats.js';
import { analyzePolicy, createThrowaway, periodicAnalyze, type Throwaway } from '../support/throwaway-db.js';

const NAME = 'bench:memory';
const args = parseCli(NAME, 'RSS and heap after GC every N handled Slack messages; least-squares slope over the second half.', {
  messages: { type: 'string', default: '100000', help: 'messages to send in all' },
  every: { type: 'string', help: 'sample after every this many messages (default messages / 20)' },
  window: { type: 'string', default: '32', help: 'events waiting for their reply at most' },
  users: { type: 'string', default: '2000', help: 'bench users seeded into the directory' },
  'flat-kb-per-1k': { type: 'string', default: '16', help: 'a slope below this (KiB per 1,000 messages) counts as flat' },
  'reply-timeout': { type: 'string', default: '60', help: 'seconds to wait for the replies before a sample' },
  seed: { type: 'string', default: '1', help: 'seed of the user/text choice' },
  pglite: { type: 'boolean', default: false, help: 'embedded PGlite (in this process) instead of PostgreSQL' },
  'db-url': { type: 'string', help: 'PostgreSQL server for the throwaway database (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)' },
  'analyze-every': { type: 'string', help: 'seconds between VACUUM (ANALYZE) runs standing in for autovacuum (default 30 when the server has autovacuum off, else 0; see bench/README.md)' },
  'heap-snapshots': { type: 'string', help: 'a folder: V8 heap snapshots at the middle and the last sample (diff: npx tsx bench/support/heap-diff.ts a b); writing one inflates RSS from then on' },
  'keep-log': { type: 'boolean', default: false, help: 'keep the app log (its path is printed)' },
  json: { type: 'boolean', default: false, help: 'print one JSON line last' },
});
const MESSAGES = Math.max(1, positive('messages', args.messages, true));
const EVERY = Math.max(1, args.every ? positive('every', args.every, true) : Math.max(1, Math.floor(MESSAGES / 20)));
const WINDOW = Math.max(1, positive('window', args.window, true));
const USERS = Math.max(1, positive('users', args.users, true));
const FLAT = positive('flat-kb-per-1k', args['flat-kb-per-1k']);
const REPLY_TIMEOUT_S = positive('reply-timeout', args['reply-timeout']);
const log = logger(NAME);

const gc = (globalThis as { gc?: () => void }).gc;

interface Sample { messages: number; rssBytes: number; heapUsedBytes: number; externalBytes: number; seconds: number; perSecond: number }

let cleanup: (() => Promise<void>) | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { log(`${sig}: cleaning up`); void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130)); });

async function main(): Promise<void> {
  if (!gc) log('no global gc(): run through `npm run bench:memory` (node --expose-gc); samples are taken without a forced GC');
  const tmp = await mkdtemp(path.join(tmpdir(), 'errand-memory-'));
  const seedFile = path.join(tmp, 'people.yaml');
  await writeSeed(seedFile, benchPeople(USERS));
  const fake = await new FakeSlackApi({ track: false }).start();
  let t: Throwaway | undefined;
  let db: Database | undefined;
  let server: Server | undefined;
  let stopApp: (() => Promise<void>) | undefined;
  let done = false;
  cleanup = async () => {
    if (done) return;
    done = true;
    if (server) await new Promise((r) => { server!.closeAllConnections(); server!.close(r); });
    await stopApp?.().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await fake.stop().catch(() => undefined);
    await t?.drop().catch((e: Error) => log(`could not drop the database: ${e.message}`));
    if (args['keep-log']) log(`app log kept: ${path.join(tmp, 'app.log')}`); else await rm(tmp, { recursive: true, force: true });
  };
  try {
    t = await createThrowaway({ pglite: args.pglite, label: 'memory', ...(args['db-url'] ? { serverUrl: args['db-url'] } : {}) });
    db = await openDatabase(t.kind === 'postgres' ? { kind: 'postgres', url: t.url } : { kind: 'pglite', dataDir: t.dataDir });
    const analyze = await analyzePolicy(t, args['analyze-every']);
    log(analyze.note);
    const analyzer = t.kind === 'postgres' && analyze.everyS > 0 ? periodicAnalyze(t.url, analyze.everyS, (e) => log(`ANALYZE failed: ${e.message}`)) : undefined;
    const config = loadConfig({
      NODE_ENV: 'development', LOG_LEVEL: 'warn', WEB_CHAT_DEMO: 'false', TEAMS_ENABLED: 'false', API_KEYS: 'bench-api-key',
      DIRECTORY_SEED: seedFile, DATA_DIR: path.join(tmp, 'data'), ...(t.kind === 'postgres' ? { DATABASE_URL: t.url } : {}),
      SLACK_BOT_TOKEN: BENCH_BOT_TOKEN, SLACK_SIGNING_SECRET: BENCH_SIGNING_SECRET, SLACK_API_URL: fake.url, SLACK_TRIAGE_CHANNEL: BENCH_TRIAGE_CHANNEL,
    });
    const appLog = path.join(tmp, 'app.log');
    const app = await createApp({ config, db, log: createLogger('warn', pino.destination({ dest: appLog, sync: false })) });
    stopApp = () => app.stop();
    await app.start();
    server = await new Promise<Server>((r) => { const s = app.http.listen(0, '127.0.0.1', () => r(s)); });
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    log(`database: ${t.kind === 'postgres' ? t.name : t.dataDir}; app at ${base}; ${MESSAGES} messages, a sample every ${EVERY}, window ${WINDOW}`);

    const client = new KeepAliveClient(base, WINDOW + 4);
    const pick = rng(Number(args.seed) || 1);
    const runBase = Math.floor(Date.now() / 1000);
    // events waiting for their first reply: thread key → resolve
    const waiting = new Map<string, () => void>();
    fake.onPost = (channel, threadTs) => {
      if (!threadTs) return;
      const k = `${channel}:${threadTs}`;
      const r = waiting.get(k);
      if (r) { waiting.delete(k); r(); }
    };
    let httpErrors = 0, timedOut = 0;
    const errorKinds = new Map<string, number>();
    const inflight = new Set<Promise<void>>();
    const sendOne = (seq: number) => {
      const user = Math.floor(pick() * USERS);
      const threadTs = threadTsOf(runBase, seq);
      const body = dmEventBody(`EvMEM${runBase}x${seq}`, user, REQUEST_TEXTS[Math.floor(pick() * REQUEST_TEXTS.length)]!, threadTs);
      const key = `${dmOf(user)}:${threadTs}`;
      const p: Promise<void> = new Promise<void>((resolve) => {
        const timer = setTimeout(() => { if (waiting.delete(key)) { timedOut++; resolve(); } }, REPLY_TIMEOUT_S * 1000);
        waiting.set(key, () => { clearTimeout(timer); resolve(); });
        void client.post('/slack/events', { 'content-type': 'application/json', ...signSlack(body) }, body).then((r) => {
          if (r.status !== 200) { httpErrors++; const k = r.error ?? `HTTP ${r.status}`; errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1); if (waiting.delete(key)) { clearTimeout(timer); resolve(); } }
        });
      }).finally(() => { inflight.delete(p); });
      inflight.add(p);
    };
    const sample = async (messages: number, seconds: number, perSecond: number): Promise<Sample> => {
      await Promise.all([...inflight]);
      // the least of three readings 300 ms apart, each right after a full GC: a transient object alive at
      // one reading (a timer's work in progress) is not growth
      let best: NodeJS.MemoryUsage | undefined;
      for (let k = 0; k < 3; k++) {
        if (k) await sleep(300);
        gc?.(); gc?.();
        const m = process.memoryUsage();
        best = best ? { ...best, rss: Math.min(best.rss, m.rss), heapUsed: Math.min(best.heapUsed, m.heapUsed), external: Math.min(best.external, m.external) } : m;
      }
      return { messages, rssBytes: best!.rss, heapUsedBytes: best!.heapUsed, externalBytes: best!.external, seconds, perSecond };
    };

    const samples: Sample[] = [await sample(0, 0, 0)];
    log(`at 0 messages: RSS ${mib(samples[0]!.rssBytes)} MiB, heap ${mib(samples[0]!.heapUsedBytes)} MiB`);
    const t0 = performance.now();
    let seq = 0;
    while (seq < MESSAGES) {
      const target = Math.min(MESSAGES, seq + EVERY);
      const w0 = performance.now();
      const from = seq;
      while (seq < target) {
        while (inflight.size >= WINDOW) await Promise.race(inflight);
        sendOne(seq++);
      }
      await Promise.all([...inflight]);
      const secs = (performance.now() - w0) / 1000;
      const s = await sample(seq, (performance.now() - t0) / 1000, (seq - from) / secs);
      samples.push(s);
      const snapshotAt = [Math.ceil(MESSAGES / EVERY / 2) * EVERY, MESSAGES];
      if (args['heap-snapshots'] && snapshotAt.includes(seq)) {
        await mkdir(args['heap-snapshots'], { recursive: true });
        log(`heap snapshot: ${writeHeapSnapshot(path.join(args['heap-snapshots'], `errand-${seq}.heapsnapshot`))}`);
      }
      log(`at ${seq} messages: RSS ${mib(s.rssBytes)} MiB, heap ${mib(s.heapUsedBytes)} MiB, ${num(s.perSecond)} messages/s${httpErrors || timedOut ? `; ${httpErrors} HTTP errors, ${timedOut} without a reply in ${REPLY_TIMEOUT_S} s` : ''}`);
    }
    client.close();
    await analyzer?.stop();
    report(samples, { analyzeNote: analyze.note, httpErrors, errorKinds: Object.fromEntries(errorKinds), timedOut, database: t.kind, gc: Boolean(gc) });
  } finally {
    await cleanup();
  }
}

function report(samples: Sample[], o: { analyzeNote: string; httpErrors: number; errorKinds: Record<string, number>; timedOut: number; database: string; gc: boolean }): void {
  const half = samples.slice(Math.floor(samples.length / 2));
  const fit = (f: (s: Sample) => number) => leastSquares(half.map((s) => ({ x: s.messages / 1000, y: f(s) })));
  const rss = fit((s) => s.rssBytes);
  const heap = fit((s) => s.heapUsedBytes);
  const flat = Math.abs(rss.slope) < FLAT * 1024 && Math.abs(heap.slope) < FLAT * 1024;
  const out: string[] = [];
  out.push(`bench:memory — ${samples[samples.length - 1]!.messages} Slack messages through the app in this process (${o.database}${o.gc ? ', GC before each sample' : ', NO forced GC'})`);
  out.push(`database statistics: ${o.analyzeNote}`);
  out.push('');
  out.push(table(['messages', 'RSS MiB', 'heap used MiB', 'external MiB', 'elapsed s', 'messages/s'],
    samples.map((s) => [s.messages, mib(s.rssBytes), mib(s.heapUsedBytes), mib(s.externalBytes), num(s.seconds, 0), s.messages ? num(s.perSecond) : '—'])));
  out.push('');
  out.push(`slope over the second half (${half.length} samples from ${half[0]?.messages ?? 0} messages), bytes per 1,000 messages:`);
  out.push(`  RSS   ${num(rss.slope, 0)} (r² ${num(rss.r2, 2)})  → ${num((rss.slope * 1000) / 2 ** 20, 1)} MiB per million messages`);
  out.push(`  heap  ${num(heap.slope, 0)} (r² ${num(heap.r2, 2)})  → ${num((heap.slope * 1000) / 2 ** 20, 1)} MiB per million messages`);
  out.push(`  ${flat ? 'FLAT' : 'GROWING'} (threshold ${FLAT} KiB per 1,000 messages for both)`);
  if (o.httpErrors || o.timedOut) out.push(`${o.httpErrors} HTTP errors (${Object.entries(o.errorKinds).map(([k, n]) => `${k}: ${n}`).join(', ')}), ${o.timedOut} messages without a reply`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (args.json) {
    process.stdout.write(`${jsonLine({
      bench: 'memory', database: o.database, statistics: o.analyzeNote, forcedGc: o.gc, messages: samples[samples.length - 1]!.messages, every: EVERY, window: WINDOW,
      samples: samples.map((s) => ({ ...s, perSecond: Math.round(s.perSecond * 10) / 10, seconds: Math.round(s.seconds * 10) / 10 })),
      slopeBytesPer1k: { rss: rss.slope, heap: heap.slope }, r2: { rss: rss.r2, heap: heap.r2 }, flatThresholdKiBPer1k: FLAT, flat,
      httpErrors: o.httpErrors, httpErrorKinds: o.errorKinds, withoutReply: o.timedOut,
    })}\n`);
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  process.stderr.write(`${NAME}: ${(e as Error).stack ?? String(e)}\n`);
  void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(1));
});
