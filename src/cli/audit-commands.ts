/**
 * `errand audit verify`: checks the audit log's hash chain in the configured database
 * (DATABASE_URL, else the embedded PGlite in DATA_DIR/pglite). Exit 0 and `audit chain ok: N rows`
 * when intact; exit 1 listing each problem otherwise (or when the database is not migrated).
 * It only reads: it never migrates. With the embedded database, stop the server first (PGlite
 * is single-process).
 */
import { stat } from 'node:fs/promises';
import { verifyAuditChain } from '../audit/audit-chain.js';
import { loadConfig } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';

export interface AuditIo { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env?: Record<string, string | undefined> }

const NOT_MIGRATED = 'run errand once to migrate';

export async function runAuditCommand(sub: string | undefined, _args: string[], io: AuditIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (sub !== 'verify') {
    io.stderr.write('usage: errand audit verify\n');
    return 2;
  }
  let db: Database | undefined;
  try {
    const target = loadConfig(io.env ?? process.env).database;
    if (target.kind === 'pglite' && !(await stat(target.dataDir).then(() => true, () => false))) {
      io.stderr.write(`audit verify: no database at ${target.dataDir}: ${NOT_MIGRATED}\n`);
      return 1;
    }
    db = await openDatabase(target.kind === 'postgres' ? { ...target, poolSize: 1 } : target);
    const cols = await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'audit_log' AND column_name IN ('prev_hash', 'hash')`);
    if (cols.rows.length < 2) {
      io.stderr.write(`audit verify: the audit log has no hash chain yet: ${NOT_MIGRATED}\n`);
      return 1;
    }
    const r = await verifyAuditChain(db);
    if (r.ok) {
      io.stdout.write(`audit chain ok: ${r.rows} rows\n`);
      if (r.head) io.stdout.write(`head: #${r.head.id} ${r.head.hash}\n`);
      return 0;
    }
    const total = r.problems.length + r.problemsOmitted;
    io.stderr.write(`audit chain BROKEN: ${total} problem(s) in ${r.rows} rows\n`);
    for (const p of r.problems) io.stderr.write(`  #${p.id} ${p.kind}: ${p.message}\n`);
    if (r.problemsOmitted) io.stderr.write(`  ... and ${r.problemsOmitted} more\n`);
    return 1;
  } catch (e) {
    io.stderr.write(`audit verify: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}
