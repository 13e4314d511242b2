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

/**
 * PostgreSQL servers for tests sometimes run with `autovacuum = off`; then nothing ever ANALYZEs the
 * fresh tables of a run, the planner keeps its empty-table estimates and picks plans that a production
 * server (autovacuum on: an ANALYZE about a minute after a table grew by 10 %) would not, and nothing
 * removes the dead rows left by every update (rows changing state several times each: inbox, deliveries,
 * conversations), so tables and indexes bloat and every pass slows as a run goes on. The benchmarks
 * therefore stand in for autovacuum on such a server: `VACUUM (ANALYZE)` every `everyS` seconds
 * (`--analyze-every`; 0 = never, which shows the stale-statistics and bloat behaviour itself).
 */
export async function autovacuumIsOn(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]?.autovacuum === 'on'; } finally { await c.end(); }
}

/** Runs VACUUM (ANALYZE) on the database every `everyS` seconds until stopped; returns how many times it ran. */
export function periodicAnalyze(url: string, everyS: number, onError: (e: Error) => void): { stop(): Promise<number> } {
  let runs = 0;
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    busy = busy.then(async () => {
      const c = new pg.Client({ connectionString: url });
      try { await c.connect(); await c.query('VACUUM (ANALYZE)'); runs++; } catch (e) { onError(e as Error); } finally { await c.end().catch(() => undefined); }
    });
  }, everyS * 1000);
  timer.unref();
  return { async stop() { clearInterval(timer); await busy; return runs; } };
}

/**
 * The `--analyze-every` decision for a run: the given value, or by default 30 s on a PostgreSQL server
 * with autovacuum off and 0 otherwise (PGlite has no autovacuum at all: the product runs like that, so
 * it is measured like that). Returns the seconds and a note for the report.
 */
export async function analyzePolicy(t: Throwaway, given: string | undefined): Promise<{ everyS: number; note: string }> {
  if (t.kind === 'pglite') {
    const s = given ? Number(given) : 0;
    return { everyS: 0, note: `PGlite: no autovacuum, tables are never analysed, as in the embedded deployment${s ? ' (--analyze-every applies to PostgreSQL only)' : ''}` };
  }
  const on = await autovacuumIsOn(t.url);
  const everyS = given !== undefined ? Number(given) : on ? 0 : 30;
  if (!Number.isFinite(everyS) || everyS < 0) throw new Error(`--analyze-every: expected seconds ≥ 0, got "${given}"`);
  return {
    everyS,
    note: on ? `autovacuum on${everyS ? `; plus ANALYZE every ${everyS} s` : ''}`
      : everyS ? `autovacuum is OFF on this server: the bench runs VACUUM (ANALYZE) every ${everyS} s in its place (--analyze-every 0 to see stale statistics)`
        : 'autovacuum is OFF on this server and --analyze-every 0: tables are never analysed during the run (stale statistics)',
  };
}
