/**
 * Verifies the audit log's hash chain (migration 008_audit_chain.sql): each row's `hash` is the
 * SHA-256 of its canonical text, which includes the previous row's hash (`prev_hash`).
 *
 * - a row whose content no longer matches its hash was edited            → `edited`
 * - a row whose prev_hash is not the hash of the row before it in id order
 *   (a row between them was deleted, or a hash was rewritten)           → `broken-link` at that row
 * - a row without a hash (written with the chain trigger disabled)        → `missing-hash`
 *
 * The hash is recomputed in SQL with the very expression the trigger uses (repeated here rather than
 * calling the `audit_log_hash` function stored in the database, so a replaced function cannot make
 * a tampered log pass), so timestamps and jsonb render to the same text. The log is read in
 * batches by id (keyset pagination), so memory stays flat however long the log is.
 *
 * Limits: removing the newest rows (the tail) leaves a valid, shorter chain; someone who can
 * disable the triggers can also rewrite every hash after an edit. Record the head hash
 * (`errand audit verify` prints it) somewhere else to detect both.
 */
import type { Queryable } from '../db/database.js';

/** Trigger names (see the migration): disabling them is what tampering requires. */
export const AUDIT_TRIGGERS = { chain: 'audit_log_chain', appendOnly: 'audit_log_append_only' } as const;

export type AuditChainProblemKind = 'edited' | 'broken-link' | 'missing-hash';
export interface AuditChainProblem { id: string; kind: AuditChainProblemKind; message: string }
export interface AuditChainReport {
  ok: boolean;
  rows: number;
  problems: AuditChainProblem[];
  /** Problems found beyond `maxProblems` (counted, not listed). */
  problemsOmitted: number;
  /** The newest row checked: its id and stored hash (undefined for an empty log). */
  head?: { id: string; hash: string | null };
}
export interface VerifyOptions { batchSize?: number; maxProblems?: number }

const field = (x: string): string => `CASE WHEN ${x} IS NULL THEN '|-' ELSE '|' || length(${x})::text || ':' || ${x} END`;
const AT_TEXT = `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** The hash of a stored row, recomputed: identical to `audit_log_hash(prev_hash, id, at, ...)`. */
export const AUDIT_HASH_SQL = `encode(sha256(convert_to('errand-audit-v1' || ${[
  field('prev_hash'), field('id::text'), field(AT_TEXT), field('actor'), field('action'), field('subject'), field('detail::text'),
].join(' || ')}, 'UTF8')), 'hex')`;

// (ORDER BY says audit_log.id: a bare `id` would sort by the text output column below)
const COLUMNS = `id::text AS id, prev_hash, hash, ${AUDIT_HASH_SQL} AS computed`;
interface Row { id: string; prev_hash: string | null; hash: string | null; computed: string }

/** Walks the whole chain in id order and reports every problem found. */
export async function verifyAuditChain(q: Queryable, opts: VerifyOptions = {}): Promise<AuditChainReport> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 5000));
  const maxProblems = opts.maxProblems ?? 1000;
  const problems: AuditChainProblem[] = [];
  let omitted = 0;
  const report = (id: string, kind: AuditChainProblemKind, message: string) => {
    if (problems.length < maxProblems) problems.push({ id, kind, message });
    else omitted++;
  };

  let rows = 0;
  let prev: { id: string; hash: string | null } | undefined;
  for (;;) {
    const batch = prev
      ? await q.query<Row>(`SELECT ${COLUMNS} FROM audit_log WHERE audit_log.id > $1::bigint ORDER BY audit_log.id LIMIT $2`, [prev.id, batchSize])
      : await q.query<Row>(`SELECT ${COLUMNS} FROM audit_log ORDER BY audit_log.id LIMIT $1`, [batchSize]);
    for (const r of batch.rows) {
      rows++;
      if (r.hash === null) report(r.id, 'missing-hash', `row #${r.id} has no hash (written with the chain trigger disabled, or its hash was removed)`);
      else if (r.hash !== r.computed) report(r.id, 'edited', `row #${r.id} does not match its hash: it was changed after it was written`);
      const expected = prev ? prev.hash : null;
      if (r.prev_hash !== expected) {
        report(r.id, 'broken-link', prev
          ? `row #${r.id} does not follow row #${prev.id} (its prev_hash is not #${prev.id}'s hash): rows between them were deleted, or a hash was rewritten`
          : `row #${r.id} is the first row but points to an earlier one: earlier rows were deleted`);
      }
      prev = { id: r.id, hash: r.hash };
    }
    if (batch.rows.length < batchSize) break;
  }
  return { ok: problems.length === 0 && omitted === 0, rows, problems, problemsOmitted: omitted, ...(prev ? { head: prev } : {}) };
}
