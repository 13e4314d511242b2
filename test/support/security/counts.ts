/** Row counts of the tables inbound traffic can write to, to prove a refused request stored nothing. */
import type { Queryable } from '../../../src/db/database.js';

export const INBOUND_TABLES = [
  'inbound_dedupe', 'requests', 'approvals', 'request_events', 'messages', 'conversations', 'triage_items',
  'channel_identities', 'teams_conversations', 'email_inbound', 'email_approval_links', 'admin_sessions',
] as const;

/**
 * Counts per table; `audit_log` counts only rows by people and channels (background jobs of the
 * running app audit as `system` and would make before/after comparisons flaky).
 */
export async function rowCounts(db: Queryable, tables: readonly string[] = INBOUND_TABLES): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t}`)).rows[0]!.n;
  out.audit_log = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor NOT IN ('system', 'reconciler', 'identity-sync')`)).rows[0]!.n;
  return out;
}

/** Audit rows written after `sinceId` (the highest id before the action). */
export async function auditSince(db: Queryable, sinceId: number): Promise<{ actor: string; action: string; subject: string | null; detail: Record<string, unknown> }[]> {
  return (await db.query(`SELECT actor, action, subject, detail FROM audit_log WHERE id > $1 ORDER BY id`, [sinceId])).rows as never;
}

export async function lastAuditId(db: Queryable): Promise<number> {
  return Number((await db.query<{ id: string | null }>('SELECT max(id) AS id FROM audit_log')).rows[0]!.id ?? 0);
}
