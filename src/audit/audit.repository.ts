/** Append-only audit log of every decision the system takes. Callers pass masked details. */
import type { Queryable } from '../db/database.js';

export interface AuditEntry { actor: string; action: string; subject?: string; detail?: Record<string, unknown> }

/** Text as PostgreSQL stores it: without NUL characters (refused in text and jsonb alike). */
const noNul = (s: string): string => (s.includes('\u0000') ? s.replace(/\u0000/g, '') : s);

/**
 * Appends one entry. `actor` is a person's e-mail or `system`. Entries often quote what someone sent
 * (a refused actor, a path, a reason): NUL characters are dropped, so an audit row can always be written.
 */
export async function audit(q: Queryable, e: AuditEntry): Promise<void> {
  const detail = JSON.stringify(e.detail ?? {}, (_k, v: unknown) => (typeof v === 'string' ? noNul(v) : v));
  await q.query('INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)', [noNul(e.actor), noNul(e.action), e.subject === undefined ? null : noNul(e.subject), detail]);
}

export async function auditTrail(q: Queryable, subject: string): Promise<{ at: Date; actor: string; action: string; detail: Record<string, unknown> }[]> {
  const r = await q.query('SELECT at, actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id', [subject]);
  return r.rows as never;
}
