/**
 * The database port: a pg-compatible pool (a real server's `pg.Pool`, or PglitePool over the
 * embedded PGlite) plus helpers for queries and transactions. Repositories receive a `Queryable`
 * (the pool or a transaction's client), never import a connection themselves.
 */
import { mkdir } from 'node:fs/promises';
import pg from 'pg';
import { PglitePool, txScope } from './pglite-pool.js';

export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** The pool, for libraries that want one (Agenda's Postgres backend). */
  readonly pool: pg.Pool;
  /** Runs `fn` in one transaction (BEGIN ... COMMIT, ROLLBACK on error). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type DatabaseTarget = { kind: 'postgres'; url: string; poolSize?: number } | { kind: 'pglite'; dataDir: string };

function wrap(kind: Database['kind'], pool: pg.Pool, close: () => Promise<void>): Database {
  return {
    kind,
    pool,
    query: (text, values) => pool.query(text, values) as never,
    async transaction(fn) {
      // A deadlock (40P01) or serialization failure (40001) aborts the whole transaction with nothing
      // written, so it is safe to run it again; transaction bodies only touch the database.
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect();
        // A checked-out client has no 'error' listener of the pool's: if the server drops the connection
        // between two queries of this transaction (a restart), 'error' would be unhandled and crash the
        // process. The next query fails instead, and the broken client is destroyed on release.
        let broken: Error | undefined;
        const onError = (e: Error) => { broken = e; };
        client.on('error', onError);
        try {
          await client.query('BEGIN');
          const result = await txScope.run(client, () => fn(client as unknown as Queryable));
          await client.query('COMMIT');
          return result;
        } catch (e) {
          await client.query('ROLLBACK').catch(() => undefined);
          const code = (e as { code?: string }).code;
          if ((code === '40P01' || code === '40001') && attempt < 4) {
            await new Promise((r) => setTimeout(r, 10 * attempt + Math.random() * 20));
            continue;
          }
          throw e;
        } finally {
          client.off('error', onError);
          client.release(broken);
        }
      }
    },
    close,
  };
}

/** Opens the database: a server when `url` is given, else PGlite in `dataDir` (`memory://` for RAM). */
export async function openDatabase(target: DatabaseTarget): Promise<Database> {
  if (target.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: target.url, max: target.poolSize ?? 10 });
    pool.on('error', () => undefined); // idle-client errors surface on the next query
    return wrap('postgres', pool, () => pool.end());
  }
  const { PGlite } = await import('@electric-sql/pglite');
  if (!target.dataDir.startsWith('memory://')) await mkdir(target.dataDir, { recursive: true });
  const db = await PGlite.create(target.dataDir);
  const pool = new PglitePool(db);
  return wrap('pglite', pool as unknown as pg.Pool, async () => { await pool.end(); await db.close(); });
}
