import { withConversation } from '../../src/conversation/conversation.repository.js';
import { createTestDb, type TestDb } from '../support/test-db.js';

let tdb: TestDb;
beforeAll(async () => { tdb = await createTestDb(); });
afterAll(async () => { await tdb?.drop(); });

const idle = { mode: 'idle' as const };

it('never lets two messages of one conversation interleave', async () => {
  const spans: [number, number][] = [];
  let counter = 0;
  await Promise.all(Array.from({ length: 5 }, () => withConversation(tdb.db, 'web:a@example.com', 'web', 'a@example.com', async (lock) => {
    const start = counter++;
    await new Promise((r) => setTimeout(r, 20));
    spans.push([start, counter++]);
    expect(lock.state).toEqual(idle);
    return { state: idle, result: undefined };
  })));
  // each critical section ran start..end with nothing in between
  spans.sort((a, b) => a[0] - b[0]);
  for (const [s, e] of spans) expect(e).toBe(s + 1);
  const row = (await tdb.db.query(`SELECT version, locked_by FROM conversations WHERE id = 'web:a@example.com'`)).rows[0]!;
  expect(row).toEqual({ version: 5, locked_by: null });
});

it('waits for a lock held by another instance until its lease expires', async () => {
  await tdb.db.query(`INSERT INTO conversations (id, channel, person_email, locked_by, locked_until) VALUES ('web:b@example.com', 'web', 'b@example.com', 'other-instance', now() + interval '1 second')`);
  const heldUntil = (await tdb.db.query(`SELECT locked_until FROM conversations WHERE id = 'web:b@example.com'`)).rows[0]!.locked_until as Date;
  let ranAt: Date | undefined;
  await withConversation(tdb.db, 'web:b@example.com', 'web', 'b@example.com', async () => {
    ranAt = (await tdb.db.query('SELECT now() AS t')).rows[0]!.t as Date;
    return { state: { mode: 'awaiting-deny-reason', approvalId: 'x' }, result: undefined };
  });
  expect(ranAt!.getTime()).toBeGreaterThanOrEqual(heldUntil.getTime());
  const row = (await tdb.db.query(`SELECT state, locked_by FROM conversations WHERE id = 'web:b@example.com'`)).rows[0]!;
  expect(row).toEqual({ state: { mode: 'awaiting-deny-reason', approvalId: 'x' }, locked_by: null });
});
