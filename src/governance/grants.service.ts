/**
 * Just-in-time grants. When a step of a `jit` item succeeds and has an `undo`, the access is
 * recorded as a grant with its expiry. A scheduled pass tells people before their access ends,
 * revokes expired grants through the step's undo action (idempotent key `grant:<id>:revoke`),
 * revokes grants of people who left (disabled accounts), and the reconciler removes drift: grants
 * without a valid expiry or approval, and memberships of just-in-time groups with no active grant.
 * Early revoke by the person, an approver of the request, or an admin.
 */
import { randomUUID } from 'node:crypto';
import type { CatalogueItem, WorkflowStepDef } from '../catalogue/schema.js';
import { renderTemplate, type TemplateContext } from '../catalogue/template.js';
import { audit } from '../audit/audit.repository.js';
import type { Database, Queryable } from '../db/database.js';
import { findPerson, removeFromGroup } from '../directory/directory.repository.js';
import { postMessage } from '../conversation/outbox.repository.js';
import type { ActionInvoker } from '../fulfilment/engine/invoker.js';
import { checkEligibility } from '../requests/eligibility.js';

interface GrantRow { id: string; request_id: string; person_email: string; entitlement: string; expires_at: Date | null; revoke_action: string; revoke_input: Record<string, unknown>; status: string; ref: string }

const hhmm = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export class GrantService {
  constructor(private readonly db: Database, private readonly invoker: ActionInvoker, private readonly now: () => Date = () => new Date(),
    /** Told when a grant ended (expired or revoked): e.g. the request's licence seat is released. */
    private readonly onEnded?: (requestId: string) => Promise<void>) {}

  /** Records the grant a JIT step just gave (once per request and step). */
  async record(q: Queryable, r: { id: string; ref: string; item: CatalogueItem; requesterEmail: string; fields: Record<string, unknown> }, step: WorkflowStepDef, tctx: TemplateContext): Promise<void> {
    const jit = r.item.jit;
    if (!jit || !step.undo) return;
    const hours = Math.min(Number(r.fields[jit.durationField] ?? jit.maxHours) || jit.maxHours, jit.maxHours);
    const expires = new Date(this.now().getTime() + hours * 3_600_000);
    const input = renderTemplate(step.undo.inputs, tctx) as Record<string, unknown>;
    const entitlement = String(input.group ?? input.entitlement ?? `${step.action}:${step.id}`);
    const ins = await q.query(
      `INSERT INTO grants (id, request_id, step_id, person_email, entitlement, expires_at, revoke_action, revoke_input, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')
       ON CONFLICT (request_id, step_id) DO NOTHING`, [randomUUID(), r.id, step.id, r.requesterEmail, entitlement, expires, step.undo.action, JSON.stringify(input)]);
    if (ins.rowCount) await audit(q, { actor: 'system', action: 'grant.recorded', subject: r.ref, detail: { step: step.id, entitlement, hours, expiresAt: expires.toISOString() } });
  }

  private async revoke(g: GrantRow, status: 'expired' | 'revoked', by: string, reason: string): Promise<boolean> {
    const claimed = await this.db.query(`UPDATE grants SET status = 'revoking', updated_at = now() WHERE id = $1 AND (status = 'active' OR (status = 'revoking' AND updated_at < now() - interval '1 minute')) RETURNING id`, [g.id]);
    if (!claimed.rowCount) return false;
    try {
      await this.invoker.invoke(g.revoke_action, g.revoke_input, { idempotencyKey: `grant:${g.id}:revoke`, requestId: g.request_id, requestRef: g.ref, db: this.db, signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      await this.db.query(`UPDATE grants SET error = $2, updated_at = now() WHERE id = $1`, [g.id, (e as Error).message]);
      await audit(this.db, { actor: 'system', action: 'grant.revoke-failed', subject: g.ref, detail: { grant: g.id, entitlement: g.entitlement, error: (e as Error).message } });
      return false;
    }
    await this.db.query(`UPDATE grants SET status = $2, ended_at = now(), ended_by = $3, end_reason = $4, error = NULL, updated_at = now() WHERE id = $1`, [g.id, status, by, reason]);
    await audit(this.db, { actor: by, action: `grant.${status}`, subject: g.ref, detail: { grant: g.id, entitlement: g.entitlement, reason } });
    await postMessage(this.db, g.person_email, { kind: 'status', text: `${g.ref}: your access "${g.entitlement}" has ended (${reason}). To get it again, make a new request.` }, { key: `grant:${g.id}:ended` });
    await this.onEnded?.(g.request_id).catch(() => undefined); // the licence job settles it otherwise
    return true;
  }

  private async active(where: string, params: unknown[] = []): Promise<GrantRow[]> {
    return (await this.db.query<GrantRow>(`SELECT g.*, r.ref FROM grants g JOIN requests r ON r.id = g.request_id WHERE g.status IN ('active', 'revoking') AND ${where}`, params)).rows;
  }

  /** One pass: notices before expiry, revocation at expiry, revocation for leavers. Returns what it did. */
  async tick(): Promise<{ notified: number; expired: number; leavers: number }> {
    const now = this.now();
    let notified = 0;
    const soon = await this.db.query<GrantRow & { notify_before: number }>(
      `SELECT g.*, r.ref, COALESCE((r.item_snapshot->'jit'->>'notifyBeforeMinutes')::int, 60) AS notify_before FROM grants g JOIN requests r ON r.id = g.request_id
       WHERE g.status = 'active' AND g.notified_at IS NULL AND g.expires_at IS NOT NULL`);
    for (const g of soon.rows) {
      if (g.expires_at!.getTime() - g.notify_before * 60_000 > now.getTime() || g.expires_at!.getTime() <= now.getTime()) continue;
      const upd = await this.db.query(`UPDATE grants SET notified_at = now() WHERE id = $1 AND notified_at IS NULL`, [g.id]);
      if (!upd.rowCount) continue;
      await postMessage(this.db, g.person_email, { kind: 'status', text: `${g.ref}: your access "${g.entitlement}" ends at ${hhmm(g.expires_at!)}. To keep it, make a new request.` }, { key: `grant:${g.id}:notice` });
      notified++;
    }
    let expired = 0;
    for (const g of await this.active('g.expires_at <= $1', [now])) if (await this.revoke(g, 'expired', 'system', 'time limit reached')) expired++;
    let leavers = 0;
    for (const g of await this.active(`EXISTS (SELECT 1 FROM people p WHERE p.email = g.person_email AND NOT p.active)`)) if (await this.revoke(g, 'revoked', 'system', 'account disabled (leaver)')) leavers++;
    // role or department changes: a grant whose item the person may no longer request is revoked
    for (const g of await this.active('true')) {
      const person = await findPerson(this.db, g.person_email);
      const item = (await this.db.query<{ item_snapshot: CatalogueItem }>('SELECT item_snapshot FROM requests WHERE id = $1', [g.request_id])).rows[0]?.item_snapshot;
      const elig = person && item ? checkEligibility(item, person) : { ok: true as const };
      if (!elig.ok && person?.active && (await this.revoke(g, 'revoked', 'system', `no longer eligible: ${elig.reason}`))) leavers++;
    }
    return { notified, expired, leavers };
  }

  /** Drift: grants with no valid expiry or no fulfilled request, and JIT-group memberships with no active grant. */
  async reconcile(): Promise<{ revoked: number; removedMemberships: number }> {
    let revoked = 0;
    const bad = await this.active(`(g.expires_at IS NULL OR g.expires_at > g.granted_at + make_interval(hours => COALESCE((SELECT (item_snapshot->'jit'->>'maxHours')::float FROM requests WHERE id = g.request_id), 0)::int + 1)
      OR NOT EXISTS (SELECT 1 FROM requests r2 WHERE r2.id = g.request_id AND r2.status = 'fulfilled'))`);
    for (const g of bad) if (await this.revoke(g, 'revoked', 'reconciler', 'no valid expiry or approval (drift)')) revoked++;
    const orphans = await this.db.query<{ person_email: string; group_name: string }>(
      `SELECT m.person_email, m.group_name FROM group_memberships m
       WHERE m.group_name IN (SELECT DISTINCT entitlement FROM grants WHERE revoke_action = 'directory.removeFromGroup')
         AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.person_email = m.person_email AND g.entitlement = m.group_name AND g.status IN ('active', 'revoking'))`);
    for (const o of orphans.rows) {
      if (await removeFromGroup(this.db, o.person_email, o.group_name)) {
        await audit(this.db, { actor: 'reconciler', action: 'grant.drift-removed', subject: o.person_email, detail: { group: o.group_name, reason: 'membership of a just-in-time group without an active grant' } });
        revoked++;
      }
    }
    return { revoked: bad.length, removedMemberships: orphans.rows.length };
  }

  /** Early revoke by the person, an approver of the request, or an admin. */
  async revokeEarly(grantId: string, actorEmail: string, reason: string): Promise<{ ok: boolean; status: number; message: string }> {
    const [g] = await this.active('g.id = $1', [grantId]);
    if (!g) return { ok: false, status: 404, message: 'No active grant with that id.' };
    const actor = await findPerson(this.db, actorEmail);
    const approver = (await this.db.query('SELECT 1 FROM approvals WHERE request_id = $1 AND $2 = ANY(approvers)', [g.request_id, actorEmail.toLowerCase()])).rowCount;
    if (!actor || (actor.email !== g.person_email && !approver && !actor.roles.includes('admin'))) {
      await audit(this.db, { actor: actorEmail.toLowerCase(), action: 'grant.revoke-refused', subject: g.ref, detail: { grant: g.id, why: actor ? 'not the person, an approver or an admin' : 'not in the directory' } });
      return { ok: false, status: 403, message: 'Only the person, an approver of the request or an admin can revoke this access.' };
    }
    const done = await this.revoke(g, 'revoked', actor.email, reason || 'revoked early');
    return done ? { ok: true, status: 200, message: `${g.ref}: "${g.entitlement}" revoked.` } : { ok: false, status: 409, message: 'The grant is being revoked already.' };
  }
}
