/**
 * JobQueue on Agenda 6 with the PostgreSQL backend (also on the embedded PGlite pool).
 * The jobs table is created by our migrations, so instances run with `ensureSchema: false`.
 * Agenda's lock is a lease that is not renewed by itself: handlers get `touch()`, and our own
 * conditional updates (request leases, step states) guard against a job run twice.
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
