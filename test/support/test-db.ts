/**
 * Throwaway databases for tests: with TEST_DATABASE_URL (CI sets it) a fresh database on that
 * PostgreSQL server per test file, dropped afterwards; without it (a laptop with no server) an
 * in-memory PGlite. `kind: 'pglite'` forces PGlite (at least one suite always runs on it).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';

export interface TestDb { db: Database; url?: string; drop(): Promise<void> }

export const serverUrl = (): string | undefined => process.env.TEST_DATABASE_URL || undefined;

/** Creates an empty, migrated database. */
export async function createTestDb(opts: { kind?: 'pglite' | 'auto'; migrate?: boolean } = {}): Promise<TestDb> {
  const base = opts.kind === 'pglite' ? undefined : serverUrl();
  let db: Database;
  let url: string | undefined;
  let drop: () => Promise<void>;
  if (base) {
    const name = `errand_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const u = new URL(base);
    u.pathname = `/${name}`;
    url = u.toString();
    db = await openDatabase({ kind: 'postgres', url, poolSize: 8 });
    drop = async () => {
      await db.close().catch(() => undefined);
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    };
  } else {
    db = await openDatabase({ kind: 'pglite', dataDir: 'memory://' });
    drop = () => db.close();
  }
  if (opts.migrate !== false) await migrate(db);
  return { db, url, drop };
}
