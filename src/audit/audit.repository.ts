/** Append-only audit log of every decision the system takes. Callers pass masked details. */
import type { Queryable } from '../db/database.js';

export interface AuditEntry { actor: string; action: string; subject?: string; detail?: Record<string, unknown> }

/** Appends one entry. `actor` is a person's e-mail or `system`. */
export async function audit(q: Queryable, e: AuditEntry): Promise<void> {
  await q.query('INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)', [e.actor, e.action, e.subject ?? null, JSON.stringify(e.detail ?? {})]);
}

export async function auditTrail(q: Queryable, subject: string): Promise<{ at: Date; actor: string; action: string; detail: Record<string, unknown> }[]> {
  const r = await q.query('SELECT at, actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id', [subject]);
  return r.rows as never;
}
