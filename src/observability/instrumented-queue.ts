/**
 * Job pick-up latency without touching the queue adapter: every enqueued job carries the time it
 * is due (`_dueAt`, epoch ms, stripped before the handler sees its data); when a handler starts
 * its first run, now − dueAt is observed. Agenda's own retries (attempt > 0) and recurring jobs
 * (no data) are not observed: their delay is backoff or schedule, not pick-up.
 */
import type { JobQueue } from '../jobs/job-queue.port.js';

const DUE = '_dueAt';

export function instrumentQueue(queue: JobQueue, metrics: { jobPickedUp(job: string, seconds: number): void }, clock: () => number = Date.now): JobQueue {
  return {
    ...queue,
    define(name, handler, opts) {
      queue.define<Record<string, unknown>>(name, async (data, ctx) => {
        const { [DUE]: due, ...rest } = data ?? {};
        if (typeof due === 'number' && ctx.attempt === 0) metrics.jobPickedUp(name, (clock() - due) / 1000);
        await handler(rest as never, ctx);
      }, opts);
    },
    enqueue(name, data, opts) {
      return queue.enqueue(name, { ...data, [DUE]: clock() + (opts?.delayMs ?? 0) }, opts);
    },
  };
}
