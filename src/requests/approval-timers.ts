/**
 * Approvals that wait too long: after `remindAfterHours` the approvers are reminded, after
 * `escalateAfterHours` their managers (or the step's `escalateTo`) are added as approvers, and after
 * `timeoutHours` the request is denied or cancelled with a notice. Each stage happens once
 * (conditional updates), measured with the injected clock. Out-of-office delegation: an approver's
 * active delegation routes new approvals to the delegate.
 */
import { audit } from '../audit/audit.repository.js';
import type { CatalogueItem } from '../catalogue/schema.js';
import type { Database, Queryable } from '../db/database.js';
import { findPerson, normEmail } from '../directory/directory.repository.js';
import { postMessage, resolveMessages } from '../conversation/outbox.repository.js';
import { cancelPendingApprovals } from './approval.repository.js';
import { transition } from './request.repository.js';
import type { RequestMetrics } from '../observability/metrics.js';

interface Pending { id: string; request_id: string; step_id: string; label: string; approvers: string[]; created_at: Date; reminded_at: Date | null; escalated_at: Date | null; ref: string; item_snapshot: CatalogueItem; requester_email: string; conversation_id: string | null }

/** Replaces approvers who have an active delegation at `now` by their delegates (and says who). */
export async function applyDelegations(q: Queryable, approvers: string[], now: Date): Promise<{ approvers: string[]; delegated: { from: string; to: string }[] }> {
  const delegated: { from: string; to: string }[] = [];
  const out: string[] = [];
  for (const a of approvers) {
    const r = await q.query<{ delegate: string }>('SELECT delegate FROM delegations WHERE person = $1 AND starts_at <= $2 AND ends_at > $2 ORDER BY id DESC LIMIT 1', [a, now]);
    const to = r.rows[0]?.delegate;
    if (to) delegated.push({ from: a, to });
    out.push(to ?? a);
  }
  return { approvers: [...new Set(out)], delegated };
}

export class ApprovalTimers {
  constructor(private readonly db: Database, private readonly now: () => Date, private readonly metrics?: Pick<RequestMetrics, 'requestEnded'>) {}

  /** One pass over pending approvals; returns how many were reminded, escalated and timed out. */
  async tick(): Promise<{ reminded: number; escalated: number; timedOut: number }> {
    const now = this.now();
    const rows = (await this.db.query<Pending>(
      `SELECT a.*, r.ref, r.item_snapshot, r.requester_email, r.conversation_id FROM approvals a JOIN requests r ON r.id = a.request_id
       WHERE a.status = 'pending' ORDER BY a.created_at`)).rows;
    const out = { reminded: 0, escalated: 0, timedOut: 0 };
    for (const a of rows) {
      const step = a.item_snapshot.approvals.find((s) => s.id === a.step_id);
      const hours = (now.getTime() - a.created_at.getTime()) / 3_600_000;
      const remind = step?.remindAfterHours ?? 24;
      const escalate = step?.escalateAfterHours ?? 48;
      const timeout = step?.timeoutHours ?? 168;
      if (hours >= timeout) { if (await this.timeOut(a, step?.onTimeout ?? 'deny', timeout)) { out.timedOut++; await this.metrics?.requestEnded(a.request_id); } continue; }
      if (hours >= escalate && !a.escalated_at) { if (await this.escalate(a, step?.escalateTo)) out.escalated++; continue; }
      if (hours >= remind && !a.reminded_at) {
        const upd = await this.db.query(`UPDATE approvals SET reminded_at = $2 WHERE id = $1 AND reminded_at IS NULL AND status = 'pending'`, [a.id, now]);
        if (!upd.rowCount) continue;
        for (const p of a.approvers) await postMessage(this.db, p, { kind: 'prompt', text: `Reminder: ${a.ref} has been waiting ${Math.floor(hours)} h for your approval (${a.label}).`, buttons: [{ id: `approval:${a.id}:approve`, label: 'Approve', style: 'primary' }, { id: `approval:${a.id}:deny`, label: 'Deny', style: 'danger' }], approvalId: a.id }, { key: `${a.id}:reminder:${p}` });
        await audit(this.db, { actor: 'system', action: 'approval.reminded', subject: a.ref, detail: { step: a.step_id, approvers: a.approvers, waitedHours: Math.floor(hours) } });
        out.reminded++;
      }
    }
    return out;
  }

  private async escalate(a: Pending, escalateTo: string | undefined): Promise<boolean> {
    let extra: string[] = [];
    if (escalateTo) extra = [normEmail(escalateTo)];
    else for (const p of a.approvers) { const m = (await findPerson(this.db, p))?.manager; if (m) extra.push(m); }
    extra = [...new Set(extra)].filter((e) => e !== a.requester_email && !a.approvers.includes(e));
    const upd = await this.db.query(`UPDATE approvals SET escalated_at = $2, approvers = approvers || $3::text[] WHERE id = $1 AND escalated_at IS NULL AND status = 'pending'`, [a.id, this.now(), extra]);
    if (!upd.rowCount) return false;
    for (const p of extra) {
      await postMessage(this.db, p, { kind: 'approval', text: `Escalated to you: ${a.ref} has waited too long for approval (${a.label}) by ${a.approvers.join(', ')}.`, buttons: [{ id: `approval:${a.id}:approve`, label: 'Approve', style: 'primary' }, { id: `approval:${a.id}:deny`, label: 'Deny', style: 'danger' }], approvalId: a.id }, { key: `${a.id}:escalation:${p}` });
    }
    await audit(this.db, { actor: 'system', action: 'approval.escalated', subject: a.ref, detail: { step: a.step_id, to: extra, from: a.approvers } });
    return true;
  }

  private async timeOut(a: Pending, onTimeout: 'deny' | 'cancel', hours: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const reason = `no decision within ${hours} h`;
      const d = await tx.query(`UPDATE approvals SET status = 'denied', decided_by = 'system', decided_at = $2, reason = $3 WHERE id = $1 AND status = 'pending' RETURNING id`, [a.id, this.now(), reason]);
      if (!d.rowCount) return false;
      await cancelPendingApprovals(tx, a.request_id);
      await transition(tx, a.request_id, ['awaiting-approval', 'submitted'], onTimeout === 'deny' ? 'denied' : 'cancelled', 'system', reason);
      await resolveMessages(tx, { approvalId: a.id }, `Timed out: ${reason}`);
      await audit(tx, { actor: 'system', action: 'approval.timed-out', subject: a.ref, detail: { step: a.step_id, outcome: onTimeout, hours } });
      await postMessage(tx, a.requester_email, { kind: 'outcome', text: `${a.ref} was ${onTimeout === 'deny' ? 'denied' : 'cancelled'}: ${a.label} gave ${reason}. You can submit it again.` }, { conversationId: a.conversation_id, key: `${a.request_id}:timeout` });
      return true;
    });
  }

  /** Records an out-of-office delegation (actor delegates their approvals for a period). */
  async delegate(person: string, delegate: string, startsAt: Date, endsAt: Date): Promise<void> {
    await this.db.query('INSERT INTO delegations (person, delegate, starts_at, ends_at) VALUES ($1, $2, $3, $4)', [normEmail(person), normEmail(delegate), startsAt, endsAt]);
    await audit(this.db, { actor: normEmail(person), action: 'approval.delegated', subject: normEmail(person), detail: { delegate: normEmail(delegate), startsAt, endsAt } });
  }
}
