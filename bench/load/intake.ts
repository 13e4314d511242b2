/**
 * Intake under load: signed Slack Events API callbacks into one real errand server process.
 *
 *   npm run --silent bench:intake -- [--rates 50,100,200,400] [--duration 20] [--users 2000] [--pglite] [--json]
 *
 * The server is a child process (`node --import tsx src/main.ts`) on a throwaway PostgreSQL database
 * (or PGlite with --pglite), with Slack on and SLACK_API_URL pointing at a fake Web API served by this
 * process (bench/support/fake-slack.ts). Each rate step sends `rate × duration` DMs from random bench
 * users (seeded into the directory), open loop on a schedule (latency is measured from the scheduled
 * send time, so a stalled server cannot hide behind a slower sender), over keep-alive connections.
 * Every event is a message in a thread of its own, so it is its own errand conversation and its
 * replies can be matched to it exactly.
 *
 * After the last step and a drain, the server is stopped and the database is checked per event: the
 * event id recorded once (inbound_dedupe), classified exactly once (audit `nlu.classified` for its
 * conversation), at least one reply stored (messages), every stored reply delivered (channel_deliveries
 * `sent`) and posted to the fake Slack exactly once (chat.postMessage count for its thread = stored
 * replies). Server CPU and RSS come from /proc/<pid>.
 *
 * Output: a table per rate and the checks on stdout, progress on stderr; with --json the LAST stdout
 * line is one JSON object. See bench/README.md ("Load").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, type Database } from '../../src/db/database.js';
import { numbers, parseCli, positive, logger } from '../support/cli.js';
import { startErrand, writeSeed, type ErrandServer } from '../support/errand-server.js';
import {
  BENCH_BOT_TOKEN, BENCH_SIGNING_SECRET, BENCH_TRIAGE_CHANNEL, FakeSlackApi, REQUEST_TEXTS, benchPeople, conversationOf, dmEventBody, dmOf, signSlack, threadTsOf,
} from '../support/fake-slack.js';
import { KeepAliveClient } from '../support/http-client.js';
import { cpuSecondsOfCommand, ProcSampler } from '../support/proc.js';
import { jsonLine, mib, num, rng, sleep, summarise, table, type Summary } from '../support/stats.js';
import { analyzePolicy, createThrowaway, periodicAnalyze, type Throwaway } from '../support/throwaway-db.js';

const NAME = 'bench:intake';
const args = parseCli(NAME, 'Signed Slack events into a real errand server at increasing rates; ack latency, losses, CPU and RSS.', {
  rates: { type: 'string', default: '50,100,200,400', help: 'events per second, one step each' },
  duration: { type: 'string', default: '20', help: 'seconds per rate step' },
  users: { type: 'string', default: '2000', help: 'bench users seeded into the directory (senders are drawn at random)' },
  warmup: { type: 'string', default: '3', help: 'seconds of warm-up at 20 events/s before the first step (checked, not in the step figures)' },
  settle: { type: 'string', default: '30', help: 'max seconds to wait between steps for the previous step\'s replies (0 = go on at once)' },
  drain: { type: 'string', default: '300', help: 'max seconds to wait after the last step for every reply' },
  'slack-latency-ms': { type: 'string', default: '0', help: 'delay of every fake Slack Web API answer' },
  'max-sockets': { type: 'string', default: '64', help: 'keep-alive connections to the server at most' },
  'target-rate': { type: 'string', default: '200', help: 'the rate the target applies to' },
  'target-p99-ms': { type: 'string', default: '50', help: 'target: ack p99 below this at the target rate, none lost' },
  seed: { type: 'string', default: '1', help: 'seed of the user/text choice' },
  pglite: { type: 'boolean', default: false, help: 'embedded PGlite (in the server process) instead of PostgreSQL' },
  'db-url': { type: 'string', help: 'PostgreSQL server to create the throwaway database on (default $BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres)' },
  'analyze-every': { type: 'string', help: 'seconds between VACUUM (ANALYZE) runs standing in for autovacuum (default 30 when the server has autovacuum off, else 0; see bench/README.md)' },
  'keep-log': { type: 'boolean', default: false, help: 'keep the server log (its path is printed)' },
  json: { type: 'boolean', default: false, help: 'print one JSON line last' },
});
const RATES = numbers('rates', args.rates);
const DURATION_S = positive('duration', args.duration);
const USERS = Math.max(1, positive('users', args.users, true));
const WARMUP_S = positive('warmup', args.warmup);
const SETTLE_S = positive('settle', args.settle);
const DRAIN_S = positive('drain', args.drain);
const SLACK_LATENCY = positive('slack-latency-ms', args['slack-latency-ms']);
const MAX_SOCKETS = Math.max(1, positive('max-sockets', args['max-sockets'], true));
const TARGET_RATE = positive('target-rate', args['target-rate']);
const TARGET_P99 = positive('target-p99-ms', args['target-p99-ms']);
const log = logger(NAME);

interface Sent {
  seq: number; step: number; user: number; threadTs: string; eventId: string;
  intended: number; startedAt: number; ackMs: number; status: number; error?: string;
}

interface StepResult {
  rate: number; events: number; sentPerSecond: number;
  ack: Summary; httpErrors: number; genLagP99Ms: number;
  reply: Summary; backlogAtEnd: number; settleSeconds: number;
  serverCpuPercent: number | null; serverRssMaxMiB: number | null; postgresCpuPercent: number | null; benchCpuPercent: number;
}

let cleanup: (() => Promise<void>) | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => { log(`${sig}: cleaning up`); void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130)); });
}

async function main(): Promise<void> {
  const tmp = await mkdtemp(path.join(tmpdir(), 'errand-intake-'));
  const seedFile = path.join(tmp, 'people.yaml');
  await writeSeed(seedFile, benchPeople(USERS));
  const fake = await new FakeSlackApi({ track: true, latencyMs: SLACK_LATENCY }).start();
  let db: Throwaway | undefined;
  let server: ErrandServer | undefined;
  let stopped = false;
  cleanup = async () => {
    if (stopped) return;
    stopped = true;
    await server?.stop().catch(() => undefined);
    await fake.stop().catch(() => undefined);
    await db?.drop().catch((e: Error) => log(`could not drop the database: ${e.message}`));
    if (!args['keep-log']) await rm(tmp, { recursive: true, force: true });
  };
  try {
    db = await createThrowaway({ pglite: args.pglite, label: 'intake', ...(args['db-url'] ? { serverUrl: args['db-url'] } : {}) });
    log(`database: ${db.kind === 'postgres' ? db.name : db.dataDir}; ${USERS} bench users; fake Slack at ${fake.url}`);
    const analyze = await analyzePolicy(db, args['analyze-every']);
    log(analyze.note);
    const analyzer = db.kind === 'postgres' && analyze.everyS > 0 ? periodicAnalyze(db.url, analyze.everyS, (e) => log(`ANALYZE failed: ${e.message}`)) : undefined;
    const localPg = db.kind === 'postgres' && /@(127\.0\.0\.1|localhost)[:/]/.test(db.url);
    server = await startErrand({
      logFile: path.join(tmp, 'server.log'),
      env: {
        NODE_ENV: 'development', LOG_LEVEL: 'warn', WEB_CHAT_DEMO: 'false', TEAMS_ENABLED: 'false', API_KEYS: 'bench-api-key',
        DIRECTORY_SEED: seedFile,
        ...(db.kind === 'postgres' ? { DATABASE_URL: db.url } : { DATA_DIR: db.dataDir }),
        SLACK_BOT_TOKEN: BENCH_BOT_TOKEN, SLACK_SIGNING_SECRET: BENCH_SIGNING_SECRET, SLACK_API_URL: fake.url, SLACK_TRIAGE_CHANNEL: BENCH_TRIAGE_CHANNEL,
      },
    });
    log(`errand server pid ${server.pid} at ${server.base} (log ${server.logFile})`);
    const sampler = new ProcSampler(server.pid, 500).start();
    const client = new KeepAliveClient(server.base, MAX_SOCKETS);
    const pick = rng(Number(args.seed) || 1);
    const runBase = Math.floor(Date.now() / 1000);
    const sent: Sent[] = [];
    let seq = 0;

    /** Sends `count` events at `rate`/s on a fixed schedule; resolves when every ack is in. */
    async function runStep(step: number, rate: number, count: number): Promise<Sent[]> {
      const mine: Sent[] = [];
      const pending: Promise<void>[] = [];
      const interval = 1000 / rate;
      const t0 = performance.now() + 5;
      let i = 0;
      while (i < count) {
        const now = performance.now();
        while (i < count && t0 + i * interval <= now) {
          const s: Sent = { seq, step, user: Math.floor(pick() * USERS), threadTs: threadTsOf(runBase, seq), eventId: `EvBENCH${runBase}x${seq}`, intended: t0 + i * interval, startedAt: 0, ackMs: 0, status: 0 };
          seq++;
          i++;
          const body = dmEventBody(s.eventId, s.user, REQUEST_TEXTS[Math.floor(pick() * REQUEST_TEXTS.length)]!, s.threadTs);
          const headers = { 'content-type': 'application/json', ...signSlack(body) };
          mine.push(s);
          s.startedAt = performance.now();
          pending.push(client.post('/slack/events', headers, body).then((r) => {
            s.ackMs = performance.now() - s.intended;
            s.status = r.status;
            if (r.error) s.error = r.error;
          }));
        }
        const next = t0 + i * interval - performance.now();
        await sleep(Math.max(0, Math.min(next, 20)));
      }
      await Promise.all(pending);
      sent.push(...mine);
      return mine;
    }

    const replied = (s: Sent) => fake.threads.has(`${dmOf(s.user)}:${s.threadTs}`);
    /** Waits until every acked event of `list` has a reply, or `maxS` seconds. */
    async function settle(list: Sent[], maxS: number): Promise<number> {
      const t0 = performance.now();
      while (performance.now() - t0 < maxS * 1000 && list.some((s) => s.status === 200 && !replied(s))) await sleep(100);
      return (performance.now() - t0) / 1000;
    }

    if (WARMUP_S > 0) {
      log(`warm-up: ${WARMUP_S} s at 20 events/s`);
      const w = await runStep(-1, 20, Math.round(20 * WARMUP_S));
      await settle(w, 30);
    }

    const steps: StepResult[] = [];
    for (const [k, rate] of RATES.entries()) {
      const count = Math.max(1, Math.round(rate * DURATION_S));
      log(`step ${k + 1}/${RATES.length}: ${rate} events/s for ${DURATION_S} s (${count} events)`);
      const pg0 = localPg ? cpuSecondsOfCommand('postgres') : undefined;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const list = await runStep(k, rate, count);
      const t1 = performance.now();
      const cpu1 = process.cpuUsage(cpu0);
      const pg1 = localPg ? cpuSecondsOfCommand('postgres') : undefined;
      sampler.sample();
      const backlogAtEnd = list.filter((s) => s.status === 200 && !replied(s)).length;
      const win = sampler.window(t0, t1 + 1);
      const settleSeconds = SETTLE_S > 0 && k < RATES.length - 1 ? await settle(list, SETTLE_S) : 0;
      const first = Math.min(...list.map((s) => s.startedAt)), last = Math.max(...list.map((s) => s.startedAt));
      steps.push({
        rate, events: list.length, sentPerSecond: list.length > 1 ? (list.length - 1) / ((last - first) / 1000) : list.length,
        ack: summarise(list.map((s) => s.ackMs)), httpErrors: list.filter((s) => s.status !== 200).length,
        genLagP99Ms: summarise(list.map((s) => s.startedAt - s.intended)).p99,
        reply: summarise([]), backlogAtEnd, settleSeconds,
        serverCpuPercent: win.cpuPercent, serverRssMaxMiB: win.rssMaxBytes === null ? null : win.rssMaxBytes / 2 ** 20,
        postgresCpuPercent: pg0 !== undefined && pg1 !== undefined ? (100 * (pg1 - pg0)) / ((t1 - t0) / 1000) : null,
        benchCpuPercent: (100 * (cpu1.user + cpu1.system) / 1000) / (t1 - t0),
      });
      const st = steps[steps.length - 1]!;
      log(`  ack p50 ${num(st.ack.p50)} ms, p99 ${num(st.ack.p99)} ms, max ${num(st.ack.max)} ms; ${st.httpErrors} HTTP errors; ${backlogAtEnd} without reply at the end of the step${settleSeconds ? `; replies caught up after ${settleSeconds.toFixed(1)} s` : ''}`);
    }

    log(`drain: waiting up to ${DRAIN_S} s for every reply`);
    const drainT0 = performance.now();
    await settle(sent, DRAIN_S);
    // then until the fake Slack sees no new posts for 2 s (triage cards, second messages)
    let lastPosts = -1;
    while (performance.now() - drainT0 < DRAIN_S * 1000 && fake.count('chat.postMessage') !== lastPosts) { lastPosts = fake.count('chat.postMessage'); await sleep(2000); }
    const drainSeconds = (performance.now() - drainT0) / 1000;
    sampler.stop();
    const rssEnd = sampler.samples[sampler.samples.length - 1]?.rssBytes ?? null;
    client.close();

    // reply latency per step (first reply in the event's thread − scheduled send)
    for (const [k, st] of steps.entries()) {
      const lat: number[] = [];
      for (const s of sent) {
        if (s.step !== k) continue;
        const at = fake.threads.get(`${dmOf(s.user)}:${s.threadTs}`)?.firstAt;
        if (at !== undefined) lat.push(at - s.intended);
      }
      st.reply = summarise(lat);
    }

    await analyzer?.stop();
    log('stopping the server, then checking the database');
    const exitCode = await server.stop();
    server = undefined;
    const checks = await verify(db, sent, fake);

    printReport(steps, checks, sent, { drainSeconds, rssEndMiB: rssEnd === null ? null : rssEnd / 2 ** 20, exitCode, db: db.kind, users: USERS, slackLatencyMs: SLACK_LATENCY, analyzeNote: analyze.note });
  } finally {
    await cleanup();
  }
}

interface Checks {
  events: number; acked: number; rejected: number;
  processed: number; lost: number; lostIds: string[]; classifiedTwice: number;
  repliesStored: number; repliesPosted: number; eventsWithoutReply: number; repliesMissing: number; repliesDuplicated: number; notSent: number;
  rejectedButProcessed: number;
  outcomes: { dialog: number; triage: number; answered: number };
  triageItems: number; triageCardsPosted: number;
}

async function verify(t: Throwaway, sent: Sent[], fake: FakeSlackApi): Promise<Checks> {
  const q: Database = await openDatabase(t.kind === 'postgres' ? { kind: 'postgres', url: t.url, poolSize: 2 } : { kind: 'pglite', dataDir: path.join(t.dataDir, 'pglite') });
  try {
    const rows = async <R>(sql: string) => ((await q.query(sql)).rows as R[]);
    const dedupe = new Set((await rows<{ key: string }>(`SELECT key FROM inbound_dedupe WHERE channel = 'slack' AND key LIKE 'event:EvBENCH%'`)).map((r) => r.key.slice('event:'.length)));
    const classified = new Map((await rows<{ subject: string; n: number }>(`SELECT subject, count(*)::int AS n FROM audit_log WHERE action = 'nlu.classified' AND subject LIKE 'slack:DL%' GROUP BY subject`)).map((r) => [r.subject, r.n]));
    const stored = new Map((await rows<{ c: string; n: number; sent: number }>(
      `SELECT m.conversation_id AS c, count(*)::int AS n, count(*) FILTER (WHERE d.status = 'sent')::int AS sent
         FROM messages m LEFT JOIN channel_deliveries d ON d.channel = 'slack' AND d.dedupe_key = 'm:' || m.id
        WHERE m.conversation_id LIKE 'slack:DL%' GROUP BY m.conversation_id`)).map((r) => [r.c, r]));
    const triage = new Map((await rows<{ c: string; n: number }>(`SELECT conversation_id AS c, count(*)::int AS n FROM triage_items WHERE conversation_id LIKE 'slack:DL%' GROUP BY 1`)).map((r) => [r.c, r.n]));
    const modes = new Map((await rows<{ id: string; mode: string }>(`SELECT id, state->>'mode' AS mode FROM conversations WHERE id LIKE 'slack:DL%'`)).map((r) => [r.id, r.mode]));
    const c: Checks = {
      events: sent.length, acked: 0, rejected: 0, processed: 0, lost: 0, lostIds: [], classifiedTwice: 0, repliesStored: 0, repliesPosted: 0,
      eventsWithoutReply: 0, repliesMissing: 0, repliesDuplicated: 0, notSent: 0, rejectedButProcessed: 0, outcomes: { dialog: 0, triage: 0, answered: 0 },
      triageItems: [...triage.values()].reduce((a, b) => a + b, 0), triageCardsPosted: fake.threads.get(`${BENCH_TRIAGE_CHANNEL}:`)?.count ?? 0,
    };
    for (const s of sent) {
      const conv = conversationOf(s.user, s.threadTs);
      const ok = s.status === 200;
      if (ok) c.acked++; else c.rejected++;
      const processed = dedupe.has(s.eventId) && (classified.get(conv) ?? 0) >= 1;
      if (processed) c.processed++;
      if (!ok) { if (processed) c.rejectedButProcessed++; continue; }
      const st = stored.get(conv);
      if (!processed || !st) { c.lost++; if (c.lostIds.length < 10) c.lostIds.push(s.eventId); continue; }
      if ((classified.get(conv) ?? 0) > 1) c.classifiedTwice++;
      const posted = fake.threads.get(`${dmOf(s.user)}:${s.threadTs}`)?.count ?? 0;
      c.repliesStored += st.n;
      c.repliesPosted += posted;
      c.notSent += st.n - st.sent;
      if (posted === 0) c.eventsWithoutReply++;
      if (posted < st.n) c.repliesMissing += st.n - posted;
      if (posted > st.n) c.repliesDuplicated += posted - st.n;
      const mode = modes.get(conv) ?? 'idle';
      if (mode !== 'idle') c.outcomes.dialog++; else if (triage.get(conv)) c.outcomes.triage++; else c.outcomes.answered++;
    }
    return c;
  } finally {
    await q.close();
  }
}

function printReport(steps: StepResult[], c: Checks, sentAll: Sent[], o: { drainSeconds: number; rssEndMiB: number | null; exitCode: number | null; db: string; users: number; slackLatencyMs: number; analyzeNote: string }): void {
  const out: string[] = [];
  out.push(`bench:intake — signed Slack DMs into one errand server (${o.db}, ${o.users} users, fake Slack latency ${o.slackLatencyMs} ms)`);
  out.push(`database statistics: ${o.analyzeNote}`);
  out.push('');
  out.push(table(
    ['rate/s', 'events', 'sent/s', 'ack p50 ms', 'ack p99 ms', 'ack max ms', 'http err', 'reply p50 ms', 'reply p99 ms', 'no reply at end', 'server CPU %', 'server RSS MiB', 'pg CPU %', 'bench CPU %'],
    steps.map((s) => [s.rate, s.events, num(s.sentPerSecond), num(s.ack.p50), num(s.ack.p99), num(s.ack.max), s.httpErrors, num(s.reply.p50, 0), num(s.reply.p99, 0), s.backlogAtEnd, num(s.serverCpuPercent, 0), num(s.serverRssMaxMiB, 0), num(s.postgresCpuPercent, 0), num(s.benchCpuPercent, 0)]),
  ));
  out.push('');
  out.push('ack = HTTP 200 from /slack/events, from the scheduled send time; reply = first chat.postMessage in the event\'s thread at the fake Slack, from the scheduled send time;');
  out.push('"no reply at end" = acked events of the step without a reply when its last ack came in; CPU % of one core (pg = every postgres process on this host).');
  out.push('');
  out.push(`checks after a ${o.drainSeconds.toFixed(1)} s drain (server exit code ${o.exitCode}, RSS at the end ${num(o.rssEndMiB, 0)} MiB):`);
  out.push(table(['check', 'count'], [
    ['events sent', c.events],
    ['acked (200)', c.acked],
    ['rejected (not 200)', `${c.rejected}${c.rejected ? ` (${c.rejectedButProcessed} processed anyway)` : ''}`],
    ['LOST (acked, not processed or no reply stored)', c.lost],
    ['processed more than once', c.classifiedTwice],
    ['replies stored', c.repliesStored],
    ['replies posted to Slack', c.repliesPosted],
    ['events without any posted reply', c.eventsWithoutReply],
    ['replies stored but not posted when the drain ended', c.repliesMissing],
    ['replies posted twice or more', c.repliesDuplicated],
    ['of which without a sent delivery row', c.notSent],
    ['outcome: dialog started', c.outcomes.dialog],
    ['outcome: triage', c.outcomes.triage],
    ['outcome: answered (out of scope / not eligible)', c.outcomes.answered],
    ['triage cards posted / triage items', `${c.triageCardsPosted} / ${c.triageItems}`],
  ]));
  const kinds = new Map<string, number>();
  for (const s of sentAll) if (s.status !== 200) kinds.set(s.error ?? `HTTP ${s.status}`, (kinds.get(s.error ?? `HTTP ${s.status}`) ?? 0) + 1);
  if (kinds.size) out.push(`rejections: ${[...kinds].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  if (c.lostIds.length) out.push(`lost event ids (first ${c.lostIds.length}): ${c.lostIds.join(', ')}`);
  const target = steps.find((s) => s.rate === TARGET_RATE);
  const exact = c.lost === 0 && c.classifiedTwice === 0 && c.repliesMissing === 0 && c.repliesDuplicated === 0 && c.rejected === 0;
  const met = target !== undefined && target.ack.p99 < TARGET_P99 && exact;
  out.push('');
  out.push(target
    ? `target (ack p99 < ${TARGET_P99} ms at ${TARGET_RATE} events/s, none lost, every reply posted exactly once by the end of the drain): ${met ? 'MET' : 'NOT MET'} — p99 ${num(target.ack.p99)} ms, lost ${c.lost}, replies not posted ${c.repliesMissing}, posted twice ${c.repliesDuplicated}`
    : `target: no step at ${TARGET_RATE} events/s in this run`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (args.json) {
    process.stdout.write(`${jsonLine({
      bench: 'intake', database: o.db, statistics: o.analyzeNote, users: o.users, durationSeconds: DURATION_S, slackLatencyMs: o.slackLatencyMs,
      steps: steps.map((s) => ({ ...s, ack: round(s.ack), reply: round(s.reply) })),
      checks: c, drainSeconds: o.drainSeconds, serverRssEndMiB: o.rssEndMiB,
      target: { rate: TARGET_RATE, p99Ms: TARGET_P99, met, exactlyOnce: exact },
    })}\n`);
  }
}

const round = (s: Summary) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Number.isFinite(v) ? Math.round(v * 100) / 100 : null]));

main().catch((e: unknown) => {
  process.stderr.write(`${NAME}: ${(e as Error).stack ?? String(e)}\n`);
  void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(1));
});
