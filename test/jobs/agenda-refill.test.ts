/**
 * A backlog drains by refilling freed slots, not by polling: with a poll interval far longer than the
 * test, N queued jobs at concurrency C all run (Agenda alone would run C per poll), never more than C
 * at once. Fails if Agenda's internals change so that the refill cannot be installed.
 */
import { createAgendaQueue } from '../../src/jobs/agenda-queue.js';
import { createLogger } from '../../src/log.js';
import { createTestDb, type TestDb } from '../support/test-db.js';
import { eventually } from '../support/test-app.js';
import type { JobQueue } from '../../src/jobs/job-queue.port.js';

let tdb: TestDb;
let queue: JobQueue | undefined;
beforeAll(async () => { tdb = await createTestDb(); });
afterAll(async () => {
  await queue?.stop();
  await tdb.drop();
});

it('runs a backlog of N jobs at concurrency C without waiting N/C poll intervals', async () => {
  const N = 40;
  const C = 3;
  queue = createAgendaQueue({ pool: tdb.db.pool, name: 'refill-test', concurrency: C, lockLifetimeMs: 5000, processEvery: 120_000, log: createLogger('silent') });
  const done: number[] = [];
  let running = 0;
  let peak = 0;
  queue.define<{ i: number }>('refill-job', async ({ i }) => {
    running += 1;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running -= 1;
    done.push(i);
  });
  // queued before start: no NOTIFY reaches a runner for these, only the first poll and refills
  for (let i = 0; i < N; i++) await queue.enqueue('refill-job', { i });
  await queue.start();
  await eventually(async () => done.length === N, 45000, `${N} jobs`);
  expect(new Set(done).size).toBe(N);
  expect(peak).toBeLessThanOrEqual(C);
  const left = await tdb.db.query(`SELECT count(*)::int AS n FROM agenda_jobs WHERE name = 'refill-job'`);
  expect(left.rows[0]!.n).toBe(0); // removeOnComplete: each ran once and was removed
}, 60000);
