/**
 * A throwaway database for one benchmark run: a fresh PostgreSQL database on a server
 * (`BENCH_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/postgres), dropped at the end,
 * or — with `--pglite` — an embedded PGlite in a temporary folder (removed at the end).
 * The benchmarks register `drop()` for SIGINT/SIGTERM too, so an interrupted run cleans up.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export type Throwaway =
  | { kind: 'postgres'; url: string; name: string; drop(): Promise<void> }
  | { kind: 'pglite'; dataDir: string; drop(): Promise<void> };

/** Creates the database (PostgreSQL) or the folder (PGlite). */
export async function createThrowaway(o: { pglite: boolean; serverUrl?: string; label: string }): Promise<Throwaway> {
  if (o.pglite) {
    const dir = await mkdtemp(path.join(tmpdir(), `errand-${o.label}-`));
    return { kind: 'pglite', dataDir: dir, drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const base = o.serverUrl ?? process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL;
  const name = `errand_bench_${o.label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect().catch((e: Error) => { throw new Error(`cannot reach PostgreSQL at ${redact(base)} (${e.message}); set BENCH_DATABASE_URL or pass --pglite`); });
  try { await admin.query(`CREATE DATABASE ${name}`); } finally { await admin.end(); }
  const u = new URL(base);
  u.pathname = `/${name}`;
  let dropped = false;
  return {
    kind: 'postgres', url: u.toString(), name,
    async drop() {
      if (dropped) return;
      dropped = true;
      const a = new pg.Client({ connectionString: base });
      await a.connect();
      try { await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } finally { await a.end(); }
    },
  };
}

/** The URL without its password, for messages. */
export const redact = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
