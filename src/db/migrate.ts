/**
 * Numbered migrations, applied in order at start-up, each once, each in its own transaction:
 * `src/db/migrations/NNN_name.sql`, plus the Agenda jobs table created from the backend's own
 * schema SQL (so Agenda instances run with `ensureSchema: false`, avoiding its racy DDL).
 * A PostgreSQL advisory lock keeps two starting instances from migrating at once.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCreateIndexesSQL, getCreateTableSQL, getUpdateTimestampTriggerSQL } from '@agendajs/postgres-backend';
import type { Database } from './database.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
export const AGENDA_TABLE = 'agenda_jobs';
const LOCK_ID = 7_316_221; // arbitrary, constant: "errand migrations"

interface Migration { id: string; sql: string[] }

async function migrations(): Promise<Migration[]> {
  const files = (await readdir(DIR)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const list: Migration[] = [];
  for (const f of files) list.push({ id: f.replace(/\.sql$/, ''), sql: [await readFile(path.join(DIR, f), 'utf8')] });
  list.push({
    id: '900_agenda_jobs',
    sql: [getCreateTableSQL(AGENDA_TABLE), ...getCreateIndexesSQL(AGENDA_TABLE), getUpdateTimestampTriggerSQL(AGENDA_TABLE)],
  });
  return list.sort((a, b) => a.id.localeCompare(b.id));
}

/** Applies every pending migration; returns the ids applied now. */
export async function migrate(db: Database): Promise<string[]> {
  const applied: string[] = [];
  const client = await db.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_ID]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await client.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    for (const m of await migrations()) {
      if (done.has(m.id)) continue;
      await client.query('BEGIN');
      try {
        for (const sql of m.sql) await client.query(sql);
        await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
        await client.query('COMMIT');
        applied.push(m.id);
      } catch (e) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.id} failed: ${(e as Error).message}`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_ID]).catch(() => undefined);
    client.release();
  }
  return applied;
}
