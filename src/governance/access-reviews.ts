/**
 * Access reviews: a campaign lists errand's administrative roles (admin, catalogue-admin, auditor)
 * and privileged access (members of privileged groups, active just-in-time grants), asks each
 * person's manager (or an admin) Keep / Revoke in chat, executes revocations (role removed, group
 * membership removed, grants ended), reminds once, and reports completion and outcomes.
 */
import { randomUUID } from 'node:crypto';
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import { findPerson, peopleWithRole, removeFromGroup } from '../directory/directory.repository.js';
import { postMessage, resolveMessages } from '../conversation/outbox.repository.js';

export const REVIEWED_ROLES = ['admin', 'catalogue-admin', 'auditor'];
export const PRIVILEGED_GROUPS = ['local-admins', 'prod-deployer', 'ap-approver'];

export interface ReviewReport { id: string; status: string; total: number; decided: number; kept: number; revoked: number; completion: number; pending: { person: string; entitlement: string; reviewer: string }[] }

export class AccessReviewService {
  constructor(private readonly db: Database, private readonly now: () => Date) {}

  /** Starts a campaign; returns its id and the number of items to review. */
  async start(actorEmail: string, dueInDays = 14): Promise<{ id: string; items: number }> {
    const id = randomUUID();
    const due = new Date(this.now().getTime() + dueInDays * 86_400_000);
    await this.db.query(`INSERT INTO access_reviews (id, started_by, due_at, status) VALUES ($1, $2, $3, 'open')`, [id, actorEmail, due]);
    const entries: { person: string; entitlement: string }[] = [];
    for (const role of REVIEWED_ROLES) for (const p of await peopleWithRole(this.db, role)) entries.push({ person: p.email, entitlement: `role:${role}` });
    const groups = await this.db.query<{ person_email: string; group_name: string }>(
      `SELECT person_email, group_name FROM group_memberships WHERE group_name = ANY($1)
       UNION SELECT person_email, entitlement FROM grants WHERE status = 'active'`, [PRIVILEGED_GROUPS]);
    for (const g of groups.rows) entries.push({ person: g.person_email, entitlement: `group:${g.group_name}` });
    const admins = (await peopleWithRole(this.db, 'admin')).map((p) => p.email);
    let n = 0;
    for (const e of entries) {
      const person = await findPerson(this.db, e.person);
      const reviewer = person?.manager ?? admins.find((a) => a !== e.person) ?? admins[0];
      if (!reviewer || reviewer === e.person) continue;
      const itemId = randomUUID();
      const ins = await this.db.query(`INSERT INTO access_review_items (id, review_id, person_email, entitlement, reviewer) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [itemId, id, e.person, e.entitlement, reviewer]);
      if (!ins.rowCount) continue;
      n++;
      await postMessage(this.db, reviewer, {
        kind: 'approval', text: `Access review: should ${person?.name ?? e.person} keep ${e.entitlement.replace(':', ' ')}? (due ${due.toISOString().slice(0, 10)})`,
        buttons: [{ id: `review:${itemId}:keep`, label: 'Keep', style: 'primary' }, { id: `review:${itemId}:revoke`, label: 'Revoke', style: 'danger' }],
        approvalId: itemId,
      }, { key: `review:${itemId}` });
    }
    await audit(this.db, { actor: actorEmail, action: 'review.started', subject: id, detail: { items: n, due: due.toISOString() } });
    return { id, items: n };
  }

  /** A reviewer's decision; a revoke is executed at once. */
  async decide(itemId: string, actorEmail: string, decision: 'keep' | 'revoke', note?: string): Promise<{ ok: boolean; message: string }> {
    const r = await this.db.query<{ reviewer: string; person_email: string; entitlement: string; decision: string | null; review_id: string }>('SELECT * FROM access_review_items WHERE id = $1', [itemId]);
    const item = r.rows[0];
    if (!item) return { ok: false, message: 'No such review item.' };
    if (item.reviewer !== actorEmail.toLowerCase()) return { ok: false, message: 'Only the assigned reviewer can decide this item.' };
    const upd = await this.db.query(`UPDATE access_review_items SET decision = $2, decided_by = $3, decided_at = $4, note = $5 WHERE id = $1 AND decision IS NULL`, [itemId, decision, item.reviewer, this.now(), note ?? null]);
    if (!upd.rowCount) return { ok: false, message: `Already decided: ${item.decision}.` };
    if (decision === 'revoke') {
      const [kind, name] = item.entitlement.split(':') as [string, string];
      if (kind === 'role') await this.db.query('UPDATE people SET roles = array_remove(roles, $2) WHERE email = $1', [item.person_email, name]);
      else {
        await removeFromGroup(this.db, item.person_email, name);
        await this.db.query(`UPDATE grants SET status = 'revoked', ended_at = now(), ended_by = $3, end_reason = 'access review' WHERE person_email = $1 AND entitlement = $2 AND status = 'active'`, [item.person_email, name, item.reviewer]);
      }
      await postMessage(this.db, item.person_email, { kind: 'status', text: `Access review: your ${item.entitlement.replace(':', ' ')} was revoked by ${item.reviewer}.` }, { key: `review:${itemId}:revoked` });
    }
    await resolveMessages(this.db, { approvalId: itemId }, `${decision === 'keep' ? 'Kept' : 'Revoked'} by ${item.reviewer}`);
    await audit(this.db, { actor: item.reviewer, action: `review.${decision}`, subject: item.review_id, detail: { person: item.person_email, entitlement: item.entitlement, note: note ?? null } });
    return { ok: true, message: `${item.person_email}: ${item.entitlement} ${decision === 'keep' ? 'kept' : 'revoked'}.` };
  }

  /** Reminds reviewers of undecided items once (after `afterDays`). */
  async remind(afterDays = 7): Promise<number> {
    const due = await this.db.query<{ id: string; reviewer: string; person_email: string; entitlement: string }>(
      `SELECT i.* FROM access_review_items i JOIN access_reviews r ON r.id = i.review_id WHERE r.status = 'open' AND i.decision IS NULL AND i.reminded_at IS NULL AND r.started_at < $1`,
      [new Date(this.now().getTime() - afterDays * 86_400_000)]);
    for (const i of due.rows) {
      await this.db.query('UPDATE access_review_items SET reminded_at = $2 WHERE id = $1', [i.id, this.now()]);
      await postMessage(this.db, i.reviewer, { kind: 'prompt', text: `Reminder: the access review of ${i.person_email} (${i.entitlement}) is waiting for you.`, buttons: [{ id: `review:${i.id}:keep`, label: 'Keep', style: 'primary' }, { id: `review:${i.id}:revoke`, label: 'Revoke', style: 'danger' }] }, { key: `review:${i.id}:reminder` });
    }
    return due.rows.length;
  }

  async report(id: string): Promise<ReviewReport | undefined> {
    const r = await this.db.query<{ status: string }>('SELECT status FROM access_reviews WHERE id = $1', [id]);
    if (!r.rows[0]) return undefined;
    const items = (await this.db.query<{ person_email: string; entitlement: string; reviewer: string; decision: string | null }>('SELECT * FROM access_review_items WHERE review_id = $1 ORDER BY person_email, entitlement', [id])).rows;
    const decided = items.filter((i) => i.decision).length;
    return {
      id, status: r.rows[0].status, total: items.length, decided, kept: items.filter((i) => i.decision === 'keep').length, revoked: items.filter((i) => i.decision === 'revoke').length,
      completion: items.length ? Math.round((decided / items.length) * 100) : 100,
      pending: items.filter((i) => !i.decision).map((i) => ({ person: i.person_email, entitlement: i.entitlement, reviewer: i.reviewer })),
    };
  }
}
