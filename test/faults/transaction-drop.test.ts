/**
 * A connection that the server drops in the middle of a transaction (a PostgreSQL restart, an
 * administrator terminating it) fails that transaction with an error, the pool replaces the
 * client, and no 'error' event is left unhandled: that crashed the whole process when PostgreSQL
 * restarted while a transaction was between two statements (found by pg-restart.test.ts). Only on
 * a server (TEST_DATABASE_URL): it terminates its own backend, nobody else's.
 */
import pg from 'pg';
import { createTestDb, serverUrl, type TestDb } from '../support/test-db.js';

let tdb: TestDb | undefined;
afterAll(async () => { await tdb?.drop(); });

(serverUrl() ? it : it.skip)('a connection dropped by the server in the middle of a transaction fails that transaction, and nothing is left unhandled', async () => {
  tdb = await createTestDb({ migrate: false });
  const killer = new pg.Client({ connectionString: tdb.url });
  await killer.connect();
  try {
    for (let i = 0; i < 3; i++) {
      const p = tdb.db.transaction(async (tx) => {
        const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        await killer.query('SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((r) => setTimeout(r, 200)); // the client learns of it while idle in the transaction
        await tx.query('SELECT 1');
      });
      await expect(p).rejects.toThrow();
      // the pool replaced the broken client
      expect((await tdb.db.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      expect(await tdb.db.transaction(async (tx) => (await tx.query('SELECT 2 AS ok')).rows)).toEqual([{ ok: 2 }]);
    }
  } finally {
    await killer.end();
  }
});
