/**
 * JobQueue on Agenda 6 with the PostgreSQL backend (also on the embedded PGlite pool).
 * The jobs table is created by our migrations, so instances run with `ensureSchema: false`.
 * Agenda's lock is a lease that is not renewed by itself: handlers get `touch()`, and our own
 * conditional updates (request leases, step states) guard against a job run twice.
 *
 * Refill on completion. Agenda 6 locks new jobs only on its poll (`processEvery`) and on a NOTIFY
 * for a *new* job; a job that finishes frees a slot but nothing fills it until the next poll, so a
 * backlog drained at about lockLimit / processEvery (2.5 jobs/s with 5 and 2 s). There is no public
 * "look now" call, so `installRefill` wraps the processor's `runOrRetry` (the step that runs a job
 * and then releases its slot and its lock count): when it returns, the freed slot is refilled at
 * once with the same lock-and-enqueue step the poll uses (`jobQueueFilling`), so the lock limit,
 * the lease and `getNextJobToRun`'s FOR UPDATE SKIP LOCKED are exactly as on a poll. Fills per job
 * name are coalesced (one at a time, one more pass if a job finished meanwhile). Agenda's internals
 * are checked at start: if they ever change shape the queue logs it and runs on polling alone
 * (test/jobs/agenda-refill.test.ts fails then).
 */
import { Agenda, exponential, type Job } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import type pg from 'pg';
import { AGENDA_TABLE } from '../db/migrate.js';
import type { Logger } from '../log.js';
import type { EnqueueOptions, JobContext, JobOptions, JobQueue } from './job-queue.port.js';

export interface AgendaQueueOptions {
  pool: pg.Pool;
  name: string;
  concurrency: number;
  lockLifetimeMs: number;
  processEvery: string | number;
  log: Logger;
}

/** The parts of Agenda 6's (private) JobProcessor that the refill uses; checked at run time. */
interface ProcessorInternals {
  isRunning: boolean;
  runOrRetry(job: Job): Promise<void>;
  jobQueueFilling(name: string): Promise<void>;
  jobProcessing(): Promise<void> | void;
}

const isProcessor = (p: unknown): p is ProcessorInternals => {
  const x = p as Partial<Record<keyof ProcessorInternals, unknown>> | undefined;
  return !!x && typeof x.isRunning === 'boolean' && typeof x.runOrRetry === 'function'
    && typeof x.jobQueueFilling === 'function' && typeof x.jobProcessing === 'function';
};

/**
 * After each run of a job (success, failure or a run refused for concurrency), locks the next due jobs
 * of that name up to the lock limit and starts them. Returns false when Agenda's internals are not
 * what this expects (then only polling and NOTIFY pick jobs up).
 */
function installRefill(agenda: Agenda, log: Logger): boolean {
  const p = (agenda as unknown as { jobProcessor?: unknown }).jobProcessor;
  if (!isProcessor(p)) {
    log.warn('job queue: Agenda internals changed, no refill on completion (a backlog drains at the poll interval)');
    return false;
  }
  const filling = new Map<string, 'busy' | 'again'>();
  const refill = (name: string): void => {
    if (filling.has(name)) { filling.set(name, 'again'); return; }
    filling.set(name, 'busy');
    void (async () => {
      try {
        do {
          filling.set(name, 'busy');
          // stopped (or stopping): never lock a job nobody will run (it would wait for its lease to end)
          if (!p.isRunning || (agenda as unknown as { jobProcessor?: unknown }).jobProcessor !== p) return;
          await p.jobQueueFilling(name); // reports its own errors as agenda 'error'
          await p.jobProcessing();
        } while (filling.get(name) === 'again');
      } catch (e) {
        log.warn({ err: (e as Error).message, job: name }, 'job queue refill failed (the next poll picks the jobs up)');
      } finally {
        filling.delete(name);
      }
    })();
  };
  const runOrRetry = p.runOrRetry.bind(p);
  p.runOrRetry = async (job: Job) => {
    try {
      await runOrRetry(job);
    } finally {
      refill(job.attrs.name);
    }
  };
  return true;
}

export function createAgendaQueue(o: AgendaQueueOptions): JobQueue {
  const backend = new PostgresBackend({ pool: o.pool, tableName: AGENDA_TABLE, ensureSchema: false, name: o.name } as never);
  const agenda = new Agenda({
    backend,
    name: o.name,
    processEvery: o.processEvery,
    defaultConcurrency: o.concurrency,
    maxConcurrency: o.concurrency * 4,
    defaultLockLimit: o.concurrency,
    defaultLockLifetime: o.lockLifetimeMs,
    removeOnComplete: true,
  });
  // The LISTEN connection reports a dropped connection (server restart, a test dropping its database)
  // as an 'error' event, and reconnects by itself: without a listener that event would crash the process.
  (backend as unknown as { notificationChannel?: { on(e: 'error', f: (err: Error) => void): void } }).notificationChannel
    ?.on('error', (err) => o.log.warn({ err: err.message }, 'job queue notification channel error (it reconnects)'));
  let running = false;
  // Agenda reports each failed poll (database unreachable, ...) as 'error'; health is degraded while
  // such errors are recent, and recovers once polling has worked for a while (a restarted database).
  let lastError: { message: string; at: number } | undefined;
  const errorWindowMs = Math.max(10_000, 5 * (typeof o.processEvery === 'number' ? o.processEvery : 2000));
  agenda.on('error', (e: Error) => { lastError = { message: e.message, at: Date.now() }; o.log.error({ err: e.message }, 'job runner error'); });
  agenda.on('fail', (e: Error, job: Job) => { o.log.warn({ job: job.attrs.name, err: e.message, failCount: job.attrs.failCount }, 'job failed'); });

  return {
    define(name, handler, opts: JobOptions = {}) {
      agenda.define(name, async (job: Job) => {
        const ctx: JobContext = { touch: async () => { await job.touch(); }, attempt: job.attrs.failCount ?? 0 };
        await handler((job.attrs.data ?? {}) as never, ctx);
      }, {
        concurrency: opts.concurrency ?? o.concurrency,
        ...(opts.retries ? { backoff: exponential({ delay: opts.retryDelayMs ?? 2000, maxRetries: opts.retries, jitter: 0.2, maxDelay: 5 * 60_000 }) } : {}),
      });
    },
    async enqueue(name, data, opts: EnqueueOptions = {}) {
      const job = agenda.create(name, data);
      if (opts.uniqueBy?.length) job.unique(Object.fromEntries(opts.uniqueBy.map((k) => [`data.${k}`, data[k]])));
      job.schedule(new Date(Date.now() + (opts.delayMs ?? 0)));
      await job.save();
    },
    async every(interval, name) {
      await agenda.every(interval, name, {}, { skipImmediate: true } as never);
    },
    async start() {
      await agenda.start();
      installRefill(agenda, o.log);
      running = true;
    },
    async stop() {
      running = false;
      await agenda.stop();
    },
    async health() {
      try {
        const r = await o.pool.query(`SELECT count(*)::int AS n FROM ${AGENDA_TABLE} WHERE next_run_at <= now() AND locked_at IS NULL AND disabled = false`);
        const recent = lastError && Date.now() - lastError.at < errorWindowMs ? lastError.message : undefined;
        return { ok: running && !recent, running, queued: (r.rows[0] as { n: number }).n, ...(recent ? { error: recent } : {}) };
      } catch (e) {
        return { ok: false, running, error: (e as Error).message };
      }
    },
  };
}
