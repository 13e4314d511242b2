/**
 * People acting on a running workflow: fulfillers complete manual tasks (done or failed, with a
 * note); admins retry a waiting or manual step now, skip it, or cancel it (which fails the request
 * and compensates). Each is a conditional update, authorised by directory role, audited with who
 * and why, and followed by a fulfilment job so the workflow moves on.
 */
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import { findPerson } from '../directory/directory.repository.js';
import { getRequest, getRequestByRef } from '../requests/request.repository.js';
import { DEFAULT_POLICY, sodFor, type GovernancePolicy } from '../governance/policy.js';

export type OverrideOp = 'complete-done' | 'complete-failed' | 'retry' | 'skip' | 'cancel';
export type OverrideResult = { ok: true; message: string } | { ok: false; status: 403 | 404 | 409 | 400; message: string };

const RULES: Record<OverrideOp, { roles: string[]; from: string[]; to: string }> = {
  'complete-done': { roles: ['fulfiller', 'admin'], from: ['manual'], to: 'done' },
  'complete-failed': { roles: ['fulfiller', 'admin'], from: ['manual'], to: 'failed' },
  retry: { roles: ['admin'], from: ['waiting', 'manual'], to: 'pending' },
  skip: { roles: ['admin'], from: ['waiting', 'manual', 'pending'], to: 'skipped' },
  cancel: { roles: ['admin'], from: ['waiting', 'manual', 'pending'], to: 'failed' },
};

export class OverrideService {
  constructor(private readonly db: Database, private readonly resume: (requestId: string) => Promise<void>, private readonly policy: GovernancePolicy = DEFAULT_POLICY) {}

  /** Applies an override to one step of a request (by id or REQ- reference). */
  async apply(request: string, stepId: string, op: OverrideOp, actorEmail: string, note: string | undefined): Promise<OverrideResult> {
    const rule = RULES[op];
    const actor = await findPerson(this.db, actorEmail);
    if (!actor || !rule.roles.some((r) => actor.roles.includes(r))) return { ok: false, status: 403, message: `Only ${rule.roles.join(' or ')} staff can ${op.replace('complete-', 'mark a manual task ')}.` };
    if ((op === 'complete-failed' || op === 'cancel' || op === 'skip') && !note?.trim()) return { ok: false, status: 400, message: 'Please give a reason (note).' };
    const r = /^REQ-/i.test(request) ? await getRequestByRef(this.db, request) : await getRequest(this.db, request);
    if (!r) return { ok: false, status: 404, message: `No request ${request}.` };
    if (op === 'complete-done' || op === 'complete-failed') {
      const sod = sodFor(this.policy, r.item.risk);
      if (!sod.requesterMayFulfil && actor.email === r.requesterEmail) {
        await audit(this.db, { actor: actor.email, action: 'override.refused', subject: r.ref, detail: { step: stepId, rule: 'sod: requester may not fulfil', risk: r.item.risk } });
        return { ok: false, status: 403, message: `Segregation of duties: you requested ${r.ref} (${r.item.risk} risk), so another fulfiller must complete this task.` };
      }
      const approved = await this.db.query('SELECT 1 FROM approvals WHERE request_id = $1 AND decided_by = $2 AND status = $3', [r.id, actor.email, 'approved']);
      if (!sod.approverMayFulfil && approved.rows.length) {
        await audit(this.db, { actor: actor.email, action: 'override.refused', subject: r.ref, detail: { step: stepId, rule: 'sod: approver may not fulfil', risk: r.item.risk } });
        return { ok: false, status: 403, message: `Segregation of duties: you approved ${r.ref} (${r.item.risk} risk), so another fulfiller must complete this task.` };
      }
    }
    const why = note?.trim() || null;
    const done = await this.db.transaction(async (tx) => {
      const u = await tx.query<{ manual_case: string | null; status: string }>(
        `UPDATE fulfilment_steps SET status = $3, note = $4, next_attempt_at = NULL,
           attempts = CASE WHEN $3 = 'pending' THEN 0 ELSE attempts END,
           error = CASE WHEN $3 = 'failed' THEN $5 ELSE error END,
           output = CASE WHEN $3 = 'done' THEN jsonb_build_object('manual', true, 'by', $6::text, 'note', $4::text) ELSE output END,
           finished_at = CASE WHEN $3 IN ('done', 'failed', 'skipped') THEN clock_timestamp() ELSE finished_at END
         WHERE request_id = $1 AND step_id = $2 AND status = ANY($7) RETURNING manual_case, status`,
        [r.id, stepId, rule.to, why, `${op} by ${actor.email}${why ? `: ${why}` : ''}`, actor.email, rule.from]);
      if (!u.rows[0]) return false;
      if (u.rows[0].manual_case && op !== 'retry') await tx.query(`UPDATE cases SET status = 'closed', closed_at = now(), assignee = $2 WHERE ref = $1`, [u.rows[0].manual_case, actor.email]);
      await audit(tx, { actor: actor.email, action: `override.${op}`, subject: r.ref, detail: { step: stepId, note: why } });
      return true;
    });
    if (!done) {
      const cur = await this.db.query<{ status: string }>('SELECT status FROM fulfilment_steps WHERE request_id = $1 AND step_id = $2', [r.id, stepId]);
      return cur.rows[0] ? { ok: false, status: 409, message: `Step ${stepId} of ${r.ref} is ${cur.rows[0].status}; this needs it to be ${rule.from.join(' or ')}.` } : { ok: false, status: 404, message: `${r.ref} has no step ${stepId}.` };
    }
    await this.resume(r.id);
    return { ok: true, message: `${r.ref}: step ${stepId} → ${rule.to} (${op}).` };
  }
}
