/**
 * Organisational changes.
 *
 * Bulk reassignment (merge, rename or split of a team, group, role or department; a person
 * replaced): `preview` applies an OrgChange (edit.ts) to the current version's files, validates the
 * result as the service would load it and returns the diff (diff.ts, renderDiff) with every edit and
 * warnings (a new owner, approver or group nobody holds; conditions naming an old value). Nothing is
 * stored. `apply` stores the same content as a DRAFT version (author: the actor) and makes it
 * current through applyDraft (the single publish / change-control call site: published at once, or
 * a change request where change control is on); refused when the current version moved since the
 * preview (`expectedCurrent`). A split is one run per part, with
 * `items`.
 *
 * Re-routing approvals of leavers: a pending approval whose approver left (directory person
 * disabled, or not in the directory any more) is re-routed:
 *  - `any` approvals (one decides for all) that still have an active approver: the leavers are
 *    dropped, nobody is added (the others were asked already);
 *  - otherwise every leaver who has not voted yet is replaced by, in this order:
 *      1. the leaver's manager (active, not the requester): the same line that approval escalation
 *         uses, and who inherits a leaver's duties, e.g. a data owner's;
 *      2. the item's owner (owner.contact of the request's item snapshot) when that is an active
 *         directory person other than the requester;
 *      3. people with the `approver` role, then `admin` (as when a step resolves to nobody).
 *    Out-of-office delegations of the new approvers apply. A leaver in an `all` approval who
 *    already voted keeps their vote.
 * Each re-route is one conditional UPDATE (`status = 'pending' AND approvers = <as planned>`), so a
 * decision or escalation that happened meanwhile is never overwritten (the plan is then skipped and
 * reconsidered on the next run). It is audited (`approval.rerouted`), recorded in the request's
 * history, the new approvers get the approval card (outbox key `<approval>:card:<e-mail>`, as at
 * routing) and the requester is told. `errand org reroute-approvals` and the daily REROUTE_JOB run it.
 */
import { audit } from '../../audit/audit.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { findPerson, normEmail, peopleInGroup, peopleWithRole, type Person } from '../../directory/directory.repository.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { OutMessage } from '../../conversation/messages.js';
import { applyDelegations } from '../../requests/approval-timers.js';
import { getRequest, recordEvent } from '../../requests/request.repository.js';
import { maskedSummary } from '../../requests/request.service.js';
import type { CatalogueItem } from '../schema.js';
import { diffCatalogues, renderDiff, type CatalogueDiff } from '../versions/diff.js';
import type { CatalogueDocuments } from '../versions/validate.js';
import type { CatalogueSnapshot } from '../versions/snapshot.js';
import { formatCatalogueErrors } from '../loader.js';
import { applyDraft, type ApplyOutcome } from './apply.js';
import type { LifecycleDeps } from './deprecations.js';
import { orgChangeProblems, reassign, type EditLine, type OrgChange } from './edit.js';
import { actorWithRole, CHANGERS, LifecycleError } from './errors.js';

export interface ReassignPreview {
  /** The version the change was computed on. */
  base: number;
  changes: EditLine[];
  warnings: string[];
  diff: CatalogueDiff;
  text: string;
}

/**
 * outcome `published` (version), `change-request` (change: its ref; published once approved), or
 * `kept-as-draft` (message: why it was refused; the draft stays for a change request by hand).
 */
export type ReassignApplied = ReassignPreview & { draft: number; outcome: Exclude<ApplyOutcome['kind'], 'stale'>; version?: number; change?: string; message?: string };

export interface ReroutePlan {
  approvalId: string;
  requestId: string;
  ref: string;
  itemId: string;
  stepId: string;
  label: string;
  mode: 'any' | 'all';
  /** The approvers as read: the re-route applies only while they are unchanged. */
  expected: string[];
  next: string[];
  leavers: { email: string; why: 'disabled' | 'not in the directory' }[];
  added: { email: string; replaces: string; rule: 'manager of the leaver' | 'item owner' | 'role approver' | 'role admin' | 'delegate' }[];
  /** Set when no replacement could be found (nothing is changed). */
  unroutable?: string;
}

export type RerouteOutcome = { plan: ReroutePlan; outcome: 'rerouted' | 'changed-meanwhile' | 'unroutable' | 'planned' };

export class OrgService {
  constructor(private readonly d: LifecycleDeps) {}

  /**
   * The change applied to the current version, validated, as a diff. Nothing is stored. The actor
   * must be an admin or catalogue admin unless `trusted` (the CLI without --actor: an operator with
   * database access, like `errand catalogue publish`).
   */
  async preview(change: OrgChange, actorEmail: string, o: { trusted?: boolean } = {}): Promise<ReassignPreview & { snapshot: CatalogueSnapshot; documents: CatalogueDocuments }> {
    if (!o.trusted) await actorWithRole(this.d.db, actorEmail, CHANGERS);
    const problems = orgChangeProblems(change);
    if (problems.length) throw new LifecycleError('INVALID', problems.join('; '));
    const cur = await this.d.store.current();
    if (!cur) throw new LifecycleError('CONFLICT', 'there is no current catalogue version');
    const unknown = (change.items ?? []).filter((id) => !cur.documents.items.some((i) => i.id === id));
    if (unknown.length) throw new LifecycleError('INVALID', `not in the current catalogue: ${unknown.join(', ')}`);
    const r = reassign(cur.files, change);
    if (!r.changes.length) throw new LifecycleError('INVALID', `nothing in catalogue version ${cur.number} matches this change`);
    const snapshot: CatalogueSnapshot = { files: r.files, model: cur.model };
    const checked = await this.d.validate(snapshot);
    if (!checked.documents) throw new LifecycleError('INVALID', `the changed catalogue would not be valid:\n${formatCatalogueErrors(checked.errors)}`, { errors: checked.errors });
    const warnings = [...r.warnings, ...(await this.directoryWarnings(change))];
    const diff = diffCatalogues({ label: `v${cur.number}`, documents: cur.documents, files: cur.files, model: cur.model }, { label: 'proposed', documents: checked.documents, files: snapshot.files, model: snapshot.model });
    return { base: cur.number, changes: r.changes, warnings, diff, text: renderDiff(diff), snapshot, documents: checked.documents };
  }

  /** New owners, groups, roles and people that nobody in the directory is or holds. */
  private async directoryWarnings(c: OrgChange): Promise<string[]> {
    const out: string[] = [];
    for (const [label, email] of [['owner contact', c.ownerContact], ['person', c.toPerson]] as const) {
      if (!email) continue;
      const p = await findPerson(this.d.db, email);
      if (!p) out.push(`the new ${label} ${email} is not in the directory (a team mailbox?): approvals to it reach nobody in chat`);
      else if (!p.active) out.push(`the new ${label} ${email} is disabled in the directory`);
    }
    if (c.toGroup && !(await peopleInGroup(this.d.db, c.toGroup)).length) out.push(`nobody active is in the group ${c.toGroup}: its approvals would go to the fallback approvers`);
    if (c.toRole && !(await peopleWithRole(this.d.db, c.toRole)).length) out.push(`nobody active holds the role ${c.toRole}: its approvals would go to the fallback approvers`);
    return out;
  }

  /**
   * Dry run (`dryRun`): the preview. Otherwise a draft with the change, published through
   * applyDraft; with `expectedCurrent`, refused when the current version is another one.
   */
  async reassign(change: OrgChange, o: { actor: string; reason?: string; dryRun?: boolean; expectedCurrent?: number; trusted?: boolean }): Promise<ReassignPreview | ReassignApplied> {
    const p = await this.preview(change, o.actor, { trusted: o.trusted ?? false });
    const { snapshot: _s, documents: _d, ...shown } = p;
    if (o.dryRun) return shown;
    if (o.expectedCurrent !== undefined && o.expectedCurrent !== p.base) throw new LifecycleError('CONFLICT', `the current version is v${p.base}, not v${o.expectedCurrent}: preview again`);
    const actor = o.actor.trim();
    const reason = o.reason?.trim() || `organisational change: ${describeChange(change)}`;
    const draft = await this.d.store.createDraft(p.snapshot, p.documents, { author: actor, reason });
    const applied = await applyDraft(this.d.store, draft, { author: actor, reason, system: o.trusted ?? false }, this.d.changes);
    const result = applied.kind === 'published' ? { version: applied.result.version.number } : applied.kind === 'change-request' ? { change: applied.ref, message: applied.message } : { message: applied.message };
    await audit(this.d.db, { actor, action: 'catalogue.org-reassigned', subject: `catalogue:v${draft.number}`, detail: {
      change: { ...change }, base: p.base, draft: draft.number, outcome: applied.kind, edits: p.changes.length, items: [...new Set(p.changes.map((c) => c.item))], ...result,
    } });
    if (applied.kind === 'stale') throw new LifecycleError('CONFLICT', `${applied.message}: preview again`);
    return { ...shown, draft: draft.number, outcome: applied.kind, ...result };
  }

  /** Pending approvals with an approver who left, and what to do with each. */
  async planReroutes(q: Queryable = this.d.db): Promise<ReroutePlan[]> {
    const rows = (await q.query<{ id: string; request_id: string; step_id: string; label: string; approvers: string[]; approved_by: string[]; mode: 'any' | 'all'; ref: string; item_id: string; item_snapshot: CatalogueItem; requester_email: string }>(
      `SELECT a.id, a.request_id, a.step_id, a.label, a.approvers, a.approved_by, a.mode, r.ref, r.item_id, r.item_snapshot, r.requester_email
       FROM approvals a JOIN requests r ON r.id = a.request_id
       WHERE a.status = 'pending' AND EXISTS (SELECT 1 FROM unnest(a.approvers) x(email) WHERE NOT EXISTS (SELECT 1 FROM people p WHERE p.email = x.email AND p.active))
       ORDER BY a.created_at, a.id`)).rows;
    const plans: ReroutePlan[] = [];
    for (const a of rows) {
      const people = new Map<string, Person | undefined>();
      for (const e of a.approvers) people.set(e, await findPerson(q, e));
      const leavers = a.approvers.filter((e) => !people.get(e)?.active).map((email) => ({ email, why: (people.get(email) ? 'disabled' : 'not in the directory') as 'disabled' | 'not in the directory' }));
      const stay = a.approvers.filter((e) => people.get(e)?.active);
      const plan: ReroutePlan = { approvalId: a.id, requestId: a.request_id, ref: a.ref, itemId: a.item_id, stepId: a.step_id, label: a.label, mode: a.mode, expected: a.approvers, next: [], leavers, added: [] };
      if (a.mode === 'any' && stay.length) {
        plan.next = stay;
        plans.push(plan);
        continue;
      }
      const next = [...a.approvers.filter((e) => people.get(e)?.active || a.approved_by.includes(e))]; // a leaver's vote stays counted
      const requester = a.requester_email;
      for (const l of leavers) {
        if (a.mode === 'all' && a.approved_by.includes(l.email)) continue;
        const found = await this.replacementFor(q, people.get(l.email), a.item_snapshot, requester);
        if (!found.length) { plan.unroutable = `no replacement for ${l.email}: no active manager, item owner, approver or admin`; break; }
        for (const f of found) if (!next.includes(f.email)) { next.push(f.email); plan.added.push({ ...f, replaces: l.email }); }
      }
      plan.next = plan.unroutable ? a.approvers : next;
      plans.push(plan);
    }
    return plans;
  }

  private async replacementFor(q: Queryable, leaver: Person | undefined, item: CatalogueItem, requester: string): Promise<{ email: string; rule: ReroutePlan['added'][number]['rule'] }[]> {
    const ok = async (email: string | null | undefined) => {
      if (!email || normEmail(email) === requester) return false;
      return Boolean((await findPerson(q, email))?.active);
    };
    if (leaver?.manager && (await ok(leaver.manager))) return [{ email: normEmail(leaver.manager), rule: 'manager of the leaver' }];
    if (await ok(item.owner?.contact)) return [{ email: normEmail(item.owner.contact), rule: 'item owner' }];
    for (const role of ['approver', 'admin'] as const) {
      const xs = (await peopleWithRole(q, role)).map((p) => p.email).filter((e) => e !== requester);
      if (xs.length) return xs.map((email) => ({ email, rule: `role ${role}` as const }));
    }
    return [];
  }

  /** Applies one plan with a conditional update; a decision or another change meanwhile wins. */
  async applyReroute(plan: ReroutePlan, actor = 'system'): Promise<RerouteOutcome> {
    if (plan.unroutable) {
      await audit(this.d.db, { actor, action: 'approval.reroute-failed', subject: plan.ref, detail: { approval: plan.approvalId, step: plan.stepId, leavers: plan.leavers, why: plan.unroutable } });
      return { plan, outcome: 'unroutable' };
    }
    const now = this.d.now();
    return this.d.db.transaction(async (tx) => {
      const added = plan.added.map((x) => x.email);
      const { approvers: delegated, delegated: via } = await applyDelegations(tx, added, now);
      const request = await getRequest(tx, plan.requestId);
      const requester = request ? await findPerson(tx, request.requesterEmail) : undefined;
      const newcomers = [...new Set(delegated)].filter((e) => e !== request?.requesterEmail);
      const next = [...new Set([...plan.next.filter((e) => !added.includes(e)), ...(newcomers.length ? newcomers : added)])];
      const upd = await tx.query(`UPDATE approvals SET approvers = $3 WHERE id = $1 AND status = 'pending' AND approvers = $2::text[] RETURNING id`, [plan.approvalId, plan.expected, next]);
      if (!upd.rows[0] || !request) return { plan, outcome: 'changed-meanwhile' as const };
      const final = { ...plan, next, added: [...plan.added.filter((x) => next.includes(x.email)), ...via.filter((v) => next.includes(v.to)).map((v) => ({ email: v.to, replaces: v.from, rule: 'delegate' as const }))] };
      await recordEvent(tx, request.id, { actor, kind: 'approval.rerouted', detail: { step: plan.stepId, from: plan.leavers.map((l) => l.email), to: final.added.map((x) => x.email), approvers: next } });
      await audit(tx, { actor, action: 'approval.rerouted', subject: plan.ref, detail: { approval: plan.approvalId, step: plan.stepId, leavers: plan.leavers, added: final.added, approvers: next, before: plan.expected } });
      const newApprovers = next.filter((e) => !plan.expected.includes(e));
      for (const email of newApprovers) {
        const why = final.added.find((x) => x.email === email);
        const card: OutMessage = {
          kind: 'approval',
          text: `Approval needed (${plan.label}): ${request.item.title} for ${requester?.name ?? request.requesterEmail}, ${request.ref}. Re-routed to you${why ? ` (${why.rule}) because ${why.replaces} has left` : ''}.`,
          fields: [{ label: 'Requested by', value: `${requester?.name ?? request.requesterEmail} (${requester?.department ?? 'no department'})` }, { label: 'Risk', value: request.item.risk }, ...maskedSummary(request)],
          buttons: [{ id: `approval:${plan.approvalId}:approve`, label: 'Approve', style: 'primary' }, { id: `approval:${plan.approvalId}:deny`, label: 'Deny', style: 'danger' }],
          approvalId: plan.approvalId,
        };
        await postMessage(tx, email, card, { key: `${plan.approvalId}:card:${email}` });
      }
      const names = newApprovers.length ? newApprovers.join(', ') : next.join(', ');
      await postMessage(tx, request.requesterEmail, { kind: 'status', text: `${request.ref}: ${plan.leavers.map((l) => l.email).join(', ')} has left, so ${plan.label} is now with ${names}.` }, { conversationId: request.conversationId, key: `${request.id}:rerouted:${plan.approvalId}:${next.join(',')}` });
      return { plan: final, outcome: 'rerouted' as const };
    });
  }

  /** Plans and (unless `dryRun`) applies every re-route. */
  async rerouteApprovals(o: { dryRun?: boolean; actor?: string; trusted?: boolean } = {}): Promise<RerouteOutcome[]> {
    if (o.actor && !o.trusted) await actorWithRole(this.d.db, o.actor, CHANGERS);
    const plans = await this.planReroutes();
    if (o.dryRun) return plans.map((plan) => ({ plan, outcome: plan.unroutable ? 'unroutable' : 'planned' }));
    const out: RerouteOutcome[] = [];
    for (const p of plans) out.push(await this.applyReroute(p, o.actor ?? 'system'));
    return out;
  }
}

export function describeChange(c: OrgChange): string {
  const parts: string[] = [];
  if (c.fromTeam) parts.push(`team ${c.fromTeam} → ${c.toTeam}${c.ownerContact ? ` (contact ${c.ownerContact})` : ''}`);
  if (c.fromGroup) parts.push(`group ${c.fromGroup} → ${c.toGroup}`);
  if (c.fromRole) parts.push(`role ${c.fromRole} → ${c.toRole}`);
  if (c.fromPerson) parts.push(`person ${c.fromPerson} → ${c.toPerson}`);
  if (c.fromDepartment) parts.push(`department ${c.fromDepartment} → ${c.toDepartment}`);
  if (c.items?.length) parts.push(`items ${c.items.join(', ')}`);
  return parts.join('; ');
}

/** A re-route outcome in one line (CLI). */
export function describeReroute(r: RerouteOutcome): string {
  const p = r.plan;
  const who = p.added.length ? p.added.map((a) => `${a.email} (${a.rule}, for ${a.replaces})`).join(', ') : `no one added; remaining approvers ${p.next.join(', ')}`;
  const what = { rerouted: 're-routed', planned: 'would re-route', 'changed-meanwhile': 'skipped (decided or changed meanwhile)', unroutable: `NOT re-routed: ${p.unroutable}` }[r.outcome];
  return `${p.ref} ${p.itemId} step ${p.stepId}: ${p.leavers.map((l) => `${l.email} (${l.why})`).join(', ')} → ${r.outcome === 'unroutable' ? '' : who}  [${what}]`;
}
