/**
 * Requests: submission (eligibility, answer validation, approval routing), approval decisions,
 * cancellation and status. Each operation is one transaction; the fulfilment job is enqueued only
 * after commit (a lost enqueue is recovered by the stranded-request sweeper).
 */
import { holds } from '../catalogue/condition.js';
import type { CatalogueItem } from '../catalogue/schema.js';
import { audit } from '../audit/audit.repository.js';
import { maskFields } from '../audit/mask.js';
import type { Database, Queryable } from '../db/database.js';
import { findPerson, requesterAttributes, searchPeople, type Person } from '../directory/directory.repository.js';
import { formatAnswer } from '../conversation/dialog-engine.js';
import type { OutMessage } from '../conversation/messages.js';
import { postMessage, resolveMessages } from '../conversation/outbox.repository.js';
import { AppError } from '../errors.js';
import type { JobQueue } from '../jobs/job-queue.port.js';
import {
  approvalsOf, cancelPendingApprovals, createApproval, decide, getApproval, lastStepIndex, pendingCount, vote, type ApprovalRow,
} from './approval.repository.js';
import { resolveApprovers } from './approver-resolver.js';
import { checkEligibility } from './eligibility.js';
import {
  getRequest, insertRequest, recordEvent, requestsOf, transition, type RequestRow,
} from './request.repository.js';
import { validateAnswers } from './validate-answers.js';
import { enforceThrottle } from './throttle.js';
import { applyDelegations } from './approval-timers.js';
import { conflictsOf, grantedEntitlements } from '../governance/entitlements.js';
import { DEFAULT_POLICY, type GovernancePolicy } from '../governance/policy.js';
import type { RequestMetrics } from '../observability/metrics.js';
import { CheckFailedError, type CheckService, type SubmissionCheckPlan } from './checks/check-service.js';
import { OPEN_OR_WAITING, WAITLISTED } from './checks/status.js';

export const FULFIL_JOB = 'fulfil-request';

export interface RequestServiceDeps {
  db: Database; queue: JobQueue; now: () => Date;
  /** Told about throttle trips (possible abuse). */
  alertRecipients?: string[];
  /** Segregation of duties and the entitlement conflict matrix. */
  policy?: GovernancePolicy;
  metrics?: RequestMetrics;
  /** The current catalogue version (recorded on requests submitted without one). */
  catalogueVersion?: () => number | undefined;
  /** Pre-validation (catalogue `checks:`): run at submission, seats reserved in the transaction. */
  checks?: Pick<CheckService, 'evaluate' | 'apply' | 'refused' | 'requestEnded'>;
  /** Why new requests for an item are refused (a deprecated item: src/catalogue/lifecycle/intake.ts). */
  intakeRefusal?: (itemId: string) => Promise<{ message: string; until: Date; alternative: string | null } | undefined>;
}

export interface SubmitInput {
  item: CatalogueItem;
  requesterEmail: string;
  answers: Record<string, unknown>;
  channel: string;
  conversationId?: string | null;
  originalText?: string | null;
  confidence?: number | null;
  /** Makes a retried submission (API retry, redelivered click) return the first request. */
  submissionKey?: string | null;
  /** The catalogue version `item` comes from (a dialog's pinned version); default: the current one. */
  catalogueVersion?: number;
}

/** The visible answers of a request as label/value lines, sensitive values masked. */
export function maskedSummary(r: Pick<RequestRow, 'item' | 'fields'>): { label: string; value: string }[] {
  const masked = maskFields(r.item, r.fields);
  return r.item.fields.filter((f) => f.name in r.fields).map((f) => ({
    label: f.label ?? f.name,
    value: f.sensitive ? String(masked[f.name] ?? '—') : formatAnswer(f, r.fields[f.name]),
  }));
}

function approvalCard(r: RequestRow, requester: Person, a: ApprovalRow): OutMessage {
  return {
    kind: 'approval',
    text: `Approval needed (${a.label}): ${r.item.title} for ${requester.name}, ${r.ref}.`,
    fields: [{ label: 'Requested by', value: `${requester.name} (${requester.department ?? 'no department'})` }, { label: 'Risk', value: r.item.risk }, ...maskedSummary(r)],
    buttons: [
      { id: `approval:${a.id}:approve`, label: 'Approve', style: 'primary' },
      { id: `approval:${a.id}:deny`, label: 'Deny', style: 'danger' },
    ],
    approvalId: a.id,
  };
}

export class RequestService {
  constructor(private readonly deps: RequestServiceDeps) {}

  private findPeople = (text: string) => searchPeople(this.deps.db, text);

  /**
   * Submits a request. Refuses (AppError INELIGIBLE / INVALID_FIELDS / UNKNOWN_PERSON) without
   * storing anything; otherwise stores it, routes the first approval or approves it at once.
   */
  async submit(input: SubmitInput): Promise<{ request: RequestRow; created: boolean }> {
    const requester = await findPerson(this.deps.db, input.requesterEmail);
    if (!requester) throw new AppError('UNKNOWN_PERSON', `${input.requesterEmail} is not in the directory`);
    const retired = await this.deps.intakeRefusal?.(input.item.id);
    if (retired && !(input.submissionKey && (await this.deps.db.query('SELECT 1 FROM requests WHERE submission_key = $1', [input.submissionKey])).rows.length)) {
      await audit(this.deps.db, { actor: requester.email, action: 'request.refused', subject: input.item.id, detail: { rule: 'deprecated', until: retired.until.toISOString(), alternative: retired.alternative } });
      throw new AppError('INELIGIBLE', retired.message, { rule: 'deprecated', until: retired.until.toISOString(), alternative: retired.alternative });
    }
    const elig = checkEligibility(input.item, requester);
    if (!elig.ok) {
      await audit(this.deps.db, { actor: requester.email, action: 'request.refused', subject: input.item.id, detail: { rule: elig.rule, reason: elig.reason } });
      throw new AppError('INELIGIBLE', `You can't request this: ${elig.reason}.`, { rule: elig.rule });
    }
    const checked = await validateAnswers(input.item, requesterAttributes(requester), input.answers, { today: this.deps.now(), findPeople: this.findPeople });
    if (!checked.ok) throw new AppError('INVALID_FIELDS', 'Some fields are missing or invalid.', { errors: checked.errors });

    const item = this.applyRegulatoryGates(await this.applyConflictMatrix(input.item, requester, checked.answers), requester, checked.answers);
    // throws CheckFailedError (audited, nothing stored) when a check fails
    const plan = await this.deps.checks?.evaluate({ item: input.item, person: requester, answers: checked.answers, channel: input.channel, submissionKey: input.submissionKey });
    let result;
    try {
      result = await this.submitInTransaction({ ...input, item }, requester, checked.answers, plan);
    } catch (e) {
      if (e instanceof AppError && e.code === 'THROTTLED') await this.throttled(input.item, requester, e);
      if (e instanceof CheckFailedError) await this.deps.checks?.refused(e); // lost the last seat, or a duplicate, in the transaction
      throw e;
    }
    if (result.created) this.deps.metrics?.requestSubmitted(result.request);
    if (result.created && result.request.status === 'failed') { await this.deps.metrics?.requestEnded(result.request.id); await this.deps.checks?.requestEnded(result.request.id); }
    if (result.approved) await this.enqueueFulfilment(result.request.id);
    return { request: result.request, created: result.created };
  }

  /**
   * Segregation of duties over entitlements: if the request would give the requester a conflicting
   * pair (with what they hold now), it is refused, or an extra security approval is added to this
   * request's copy of the item, per policy.
   */
  private async applyConflictMatrix(item: CatalogueItem, requester: Person, answers: Record<string, unknown>): Promise<CatalogueItem> {
    const policy = this.deps.policy ?? DEFAULT_POLICY;
    const granted = grantedEntitlements(item, answers, requesterAttributes(requester));
    const conflicts = conflictsOf(policy, requester.groups, granted);
    if (!conflicts.length) return item;
    const refuse = conflicts.find((c) => c.policy === 'refuse');
    if (refuse) {
      const [a, b] = refuse.pair;
      await audit(this.deps.db, { actor: requester.email, action: 'request.refused', subject: item.id, detail: { rule: 'sod-conflict', conflict: refuse.pair, granted } });
      throw new AppError('SOD_CONFLICT', `You can't hold ${a} and ${b} together${refuse.reason ? ` (${refuse.reason})` : ''}, so this request can't go ahead. Ask your manager or the security team.`, { conflict: refuse.pair });
    }
    if (item.approvals.some((s) => s.id === 'sod-security')) return item;
    return { ...item, approvals: [...item.approvals, { id: 'sod-security', label: `Security review (segregation of duties: ${conflicts.map((c) => c.pair.join(' + ')).join(', ')})`, approver: { kind: 'role', role: policy.securityApproverRole }, remindAfterHours: 24, escalateAfterHours: 48, timeoutHours: 168, onTimeout: 'deny', mode: 'any', parallel: false }] };
  }

  /**
   * Regulatory gates: an item tagged e.g. `sox` always gets an approval by the policy's role when none
   * of its applicable steps is a data-owner approval.
   */
  private applyRegulatoryGates(item: CatalogueItem, requester: Person, answers: Record<string, unknown>): CatalogueItem {
    const policy = this.deps.policy ?? DEFAULT_POLICY;
    const ctx = { fields: answers, requester: requesterAttributes(requester) };
    let out = item;
    for (const tag of item.regulatory) {
      const role = policy.regulatory[tag]?.requireApprovalByRole;
      if (!role) continue;
      const covered = out.approvals.some((s) => holds(s.when, ctx) && (s.approver.kind === 'data-owner' || (s.approver.kind === 'role' && s.approver.role === role)));
      if (covered || out.approvals.some((s) => s.id === `${tag}-gate`)) continue;
      out = { ...out, approvals: [...out.approvals, { id: `${tag}-gate`, label: `Data owner (${tag.toUpperCase()})`, approver: { kind: 'role', role }, remindAfterHours: 24, escalateAfterHours: 48, timeoutHours: 168, onTimeout: 'deny', mode: 'any', parallel: false }] };
    }
    return out;
  }

  /** A throttle tripped: audited, and the alert recipients are told once per person, item and hour. */
  private async throttled(item: CatalogueItem, requester: Person, e: AppError): Promise<void> {
    await audit(this.deps.db, { actor: requester.email, action: 'request.throttled', subject: item.id, detail: e.details });
    const hour = new Date().toISOString().slice(0, 13);
    for (const to of this.deps.alertRecipients ?? []) {
      await postMessage(this.deps.db, to, { kind: 'error', text: `Security notice: ${requester.name} (${requester.email}) hit the ${String(e.details.scope)} limit for ${item.title} (${String(e.details.max)} per ${String(e.details.windowMinutes)} min).` }, { key: `throttle:${item.id}:${requester.email}:${hour}:${to}` });
    }
  }

  private async submitInTransaction(input: SubmitInput, requester: Person, answers: Record<string, unknown>, plan?: SubmissionCheckPlan): Promise<{ request: RequestRow; created: boolean; approved: boolean }> {
    return this.deps.db.transaction(async (tx) => {
      if (input.submissionKey) {
        const existing = await tx.query('SELECT id FROM requests WHERE submission_key = $1', [input.submissionKey]);
        if (existing.rows[0]) return { request: (await getRequest(tx, existing.rows[0].id as string))!, created: false, approved: false };
      }
      await enforceThrottle(tx, input.item, requester.email);
      const ins = await insertRequest(tx, {
        item: input.item, requesterEmail: requester.email, channel: input.channel, conversationId: input.conversationId,
        fields: answers, originalText: input.originalText, confidence: input.confidence, submissionKey: input.submissionKey, actor: requester.email,
      });
      if (!ins.created) return { ...ins, approved: false };
      const version = input.catalogueVersion ?? this.deps.catalogueVersion?.();
      if (version !== undefined) await tx.query('UPDATE requests SET catalogue_version = $2 WHERE id = $1', [ins.request.id, version]); // pinned to the end
      const r = ins.request;
      await audit(tx, { actor: requester.email, action: 'request.submitted', subject: r.ref, detail: { item: r.itemId, channel: r.channel, fields: maskFields(r.item, r.fields), confidence: input.confidence ?? null, catalogueVersion: version ?? null } });
      await this.tell(tx, r, `${r.ref} submitted: ${r.item.title}. I'll keep you posted here.`, 'submitted');
      const checked = plan && this.deps.checks ? await this.deps.checks.apply(tx, r, plan) : undefined;
      if (checked?.waitlisted) return { request: checked.request, created: true, approved: false }; // approval waits for a licence seat
      const routed = await this.routeNextApproval(tx, r, requester, -1);
      return { request: routed.request, created: true, approved: routed.approved };
    });
  }

  /** A waitlisted request got its licence seat: it continues to approval (once; later calls do nothing). */
  async resumeWaitlisted(requestId: string): Promise<RequestRow | undefined> {
    const res = await this.deps.db.transaction(async (tx) => {
      const r = await transition(tx, requestId, [WAITLISTED], 'submitted', 'system', 'a licence seat is reserved');
      if (!r) return undefined;
      await audit(tx, { actor: 'system', action: 'request.resumed', subject: r.ref, detail: { from: 'waitlist' } });
      await this.tell(tx, r, `${r.ref}: a licence seat is free now, so your ${r.item.title} request continues.`, 'waitlist-resumed');
      const requester = await findPerson(tx, r.requesterEmail);
      if (!requester) return { request: (await transition(tx, r.id, ['submitted'], 'failed', 'system', 'the requester is no longer in the directory')) ?? r, approved: false };
      return this.routeNextApproval(tx, r, requester, -1);
    });
    if (res?.approved) await this.enqueueFulfilment(res.request.id);
    if (res && res.request.status === 'failed') await this.deps.checks?.requestEnded(res.request.id);
    return res?.request;
  }

  /** Tells the requester something about their request (once per key). */
  private async tell(q: Queryable, r: RequestRow, text: string, key: string, kind: OutMessage['kind'] = 'status'): Promise<void> {
    await postMessage(q, r.requesterEmail, { kind, text }, { conversationId: r.conversationId, key: `${r.id}:${key}` });
  }

  /**
   * Opens the first applicable approval step after `afterIndex`, or approves the request when none
   * is left. Returns the request as it now is.
   */
  private async routeNextApproval(tx: Queryable, r: RequestRow, requester: Person, afterIndex: number, onlyParallel = false): Promise<{ request: RequestRow; approved: boolean }> {
    const ctx = { fields: r.fields, requester: requesterAttributes(requester) };
    for (let i = afterIndex + 1; i < r.item.approvals.length; i++) {
      const step = r.item.approvals[i]!;
      if (onlyParallel && !step.parallel) return { request: r, approved: false };
      if (!holds(step.when, ctx)) continue;
      const resolved = await resolveApprovers(tx, step, requester, r.fields);
      const { approvers: delegatedTo, delegated } = await applyDelegations(tx, resolved.approvers, this.deps.now());
      const kept = delegatedTo.filter((x) => x !== requester.email);
      const approvers = kept.length ? kept : resolved.approvers; // a delegation to the requester is ignored
      const fallback = resolved.fallback;
      if (delegated.length) await audit(tx, { actor: 'system', action: 'approval.delegation-applied', subject: r.ref, detail: { step: step.id, delegated } });
      if (approvers.length === 0) {
        const failed = await transition(tx, r.id, ['submitted', 'awaiting-approval'], 'failed', 'system', fallback);
        await this.tell(tx, r, `${r.ref} could not be routed for approval (${fallback}). The service desk has been told.`, `route-failed:${step.id}`, 'outcome');
        return { request: failed ?? r, approved: false };
      }
      const a = await createApproval(tx, { requestId: r.id, stepIndex: i, stepId: step.id, label: step.label ?? step.id, approvers, mode: step.mode });
      if (!a) continue;
      // steps marked `parallel` right after this one open in the same stage
      const next = r.item.approvals[i + 1];
      if (next?.parallel) {
        const sibling = await this.routeNextApproval(tx, r, requester, i, true);
        void sibling;
      }
      const moved = (await transition(tx, r.id, ['submitted'], 'awaiting-approval', 'system', `approval step ${step.id}`)) ?? r;
      await recordEvent(tx, r.id, { actor: 'system', kind: 'approval.requested', detail: { step: step.id, approvers, ...(fallback ? { fallback } : {}) } });
      await audit(tx, { actor: 'system', action: 'approval.requested', subject: r.ref, detail: { step: step.id, approvers, fallback: fallback ?? null } });
      for (const email of approvers) await postMessage(tx, email, approvalCard(r, requester, a), { key: `${a.id}:card:${email}` });
      const names = approvers.length === 1 ? approvers[0]! : `${approvers.length} approvers`;
      await this.tell(tx, r, `${r.ref} is waiting for approval: ${a.label} (${names}).`, `approval-requested:${step.id}`);
      return { request: moved, approved: false };
    }
    if (onlyParallel) return { request: r, approved: false };
    const approved = await transition(tx, r.id, ['submitted', 'awaiting-approval'], 'approved', 'system', afterIndex < 0 ? 'no approval needed' : 'all approvals given');
    return { request: approved ?? r, approved: Boolean(approved) };
  }

  /**
   * An approver's decision. Authorised server-side: only a listed approver who is not the
   * requester may decide; the first decision wins (conditional update), later clicks get
   * `already-decided`. A denial needs a reason.
   */
  async decide(approvalId: string, actorEmail: string, decision: 'approve' | 'deny', reason?: string | null): Promise<
    | { outcome: 'approved' | 'denied'; request: RequestRow }
    | { outcome: 'already-decided'; approval: ApprovalRow }
    | { outcome: 'not-allowed' | 'not-found' | 'reason-required'; message: string }
  > {
    const actor = actorEmail.toLowerCase();
    const approval = await getApproval(this.deps.db, approvalId);
    if (!approval) return { outcome: 'not-found', message: 'That approval does not exist.' };
    const request = (await getRequest(this.deps.db, approval.requestId))!;
    if (actor === request.requesterEmail) {
      await audit(this.deps.db, { actor, action: 'approval.refused', subject: request.ref, detail: { approvalId, why: 'self-approval' } });
      return { outcome: 'not-allowed', message: 'You cannot approve or deny your own request.' };
    }
    if (!approval.approvers.includes(actor)) {
      await audit(this.deps.db, { actor, action: 'approval.refused', subject: request.ref, detail: { approvalId, why: 'not an approver' } });
      return { outcome: 'not-allowed', message: `You are not an approver for ${request.ref}.` };
    }
    if (approval.status !== 'pending') return { outcome: 'already-decided', approval };
    const why = reason?.trim() || null;
    if (decision === 'deny' && !why) return { outcome: 'reason-required', message: `Please give a reason for denying ${request.ref}.` };

    const res = await this.deps.db.transaction(async (tx) => {
      if (decision === 'approve' && approval.mode === 'all') {
        const votes = await vote(tx, approvalId, actor);
        if (!votes) return { lost: (await getApproval(tx, approvalId))! };
        const missing = votes.approvers.filter((x) => !votes.approvedBy.includes(x));
        if (missing.length) {
          await recordEvent(tx, request.id, { actor, kind: 'approval.vote', detail: { step: approval.stepId, waitingFor: missing } });
          await audit(tx, { actor, action: 'approval.vote', subject: request.ref, detail: { step: approval.stepId, approvedBy: votes.approvedBy, waitingFor: missing } });
          await this.tell(tx, request, `${request.ref}: ${approval.label} approved by ${actor}; waiting for ${missing.join(', ')}.`, `vote:${approval.stepId}:${actor}`);
          return { request, approved: false, outcome: 'approved' as const };
        }
      }
      const decided = await decide(tx, approvalId, decision === 'approve' ? 'approved' : 'denied', actor, why);
      if (!decided) return { lost: (await getApproval(tx, approvalId))! };
      await recordEvent(tx, request.id, { actor, kind: `approval.${decided.status}`, reason: why, detail: { step: decided.stepId } });
      const stepDef = request.item.approvals.find((x) => x.id === decided.stepId);
      await audit(tx, { actor, action: `approval.${decided.status}`, subject: request.ref, detail: {
        step: decided.stepId, reason: why, rule: stepDef ? `${stepDef.approver.kind}${stepDef.when ? ` when ${stepDef.when}` : ''}` : null,
        mode: decided.mode, waitedMinutes: Math.round((Date.now() - decided.createdAt.getTime()) / 60_000),
      } });
      const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
      const actorName = (await findPerson(tx, actor))?.name ?? actor;
      await resolveMessages(tx, { approvalId }, `${decided.status === 'approved' ? 'Approved' : 'Denied'} by ${actorName} at ${when} UTC${why ? `: ${why}` : ''}`);
      if (decided.status === 'denied') {
        await cancelPendingApprovals(tx, request.id);
        const denied = (await transition(tx, request.id, ['awaiting-approval'], 'denied', actor, why ?? undefined)) ?? request;
        await this.tell(tx, request, `${request.ref} (${request.item.title}) was denied by ${actorName}: ${why}`, 'denied', 'outcome');
        return { request: denied, approved: false, outcome: 'denied' as const };
      }
      await this.tell(tx, request, `${request.ref}: ${decided.label} approved by ${actorName}.`, `approved:${decided.stepId}`);
      if ((await pendingCount(tx, request.id)) > 0) return { request, approved: false, outcome: 'approved' as const }; // a parallel step still open
      const requester = (await findPerson(tx, request.requesterEmail))!;
      const routed = await this.routeNextApproval(tx, request, requester, await lastStepIndex(tx, request.id));
      return { request: routed.request, approved: routed.approved, outcome: 'approved' as const };
    });
    if ('lost' in res) return { outcome: 'already-decided', approval: res.lost as ApprovalRow };
    await this.deps.metrics?.approvalDecided(approvalId);
    if (res.outcome === 'denied') { await this.deps.metrics?.requestEnded(res.request.id); await this.deps.checks?.requestEnded(res.request.id); }
    if (res.approved) await this.enqueueFulfilment(res.request.id);
    return { outcome: res.outcome, request: res.request };
  }

  /** The requester cancels their own request while it is not yet being fulfilled. */
  async cancel(requestId: string, actorEmail: string): Promise<RequestRow | undefined> {
    const cancelled = await this.deps.db.transaction(async (tx) => {
      const r = await getRequest(tx, requestId);
      if (!r || r.requesterEmail !== actorEmail.toLowerCase()) return undefined;
      const done = await transition(tx, requestId, ['submitted', 'awaiting-approval', 'approved', WAITLISTED], 'cancelled', actorEmail);
      if (done) {
        for (const a of await cancelPendingApprovals(tx, requestId)) await resolveMessages(tx, { approvalId: a.id }, 'Cancelled by the requester');
        await audit(tx, { actor: actorEmail, action: 'request.cancelled', subject: r.ref });
      }
      return done;
    });
    if (cancelled) { await this.deps.metrics?.requestEnded(cancelled.id); await this.deps.checks?.requestEnded(cancelled.id); }
    return cancelled;
  }

  async enqueueFulfilment(requestId: string): Promise<void> {
    await this.deps.queue.enqueue(FULFIL_JOB, { requestId }, { uniqueBy: ['requestId'] });
  }

  /** Open requests of a person with a plain-words stage and progress (step k of n). */
  async statusOf(email: string): Promise<{ ref: string; title: string; stage: string; step: number; of: number }[]> {
    const rows = await requestsOf(this.deps.db, email.toLowerCase(), OPEN_OR_WAITING);
    const out = [];
    for (const r of rows) out.push({ ref: r.ref, title: r.item.title, ...(await this.progress(r)) });
    return out;
  }

  /** Plain-words stage and progress of one request. */
  async progress(r: RequestRow): Promise<{ stage: string; step: number; of: number }> {
    const approvals = await approvalsOf(this.deps.db, r.id);
    const steps = (await this.deps.db.query<{ step_id: string; status: string }>('SELECT step_id, status FROM fulfilment_steps WHERE request_id = $1', [r.id])).rows;
    const approvalCount = r.item.approvals.filter((s) => holds(s.when, { fields: r.fields, requester: {} }) || approvals.some((a) => a.stepId === s.id)).length;
    const of = approvalCount + r.item.workflow.length;
    const doneSteps = steps.filter((s) => s.status === 'done' || s.status === 'skipped').length;
    const step = approvals.filter((a) => a.status === 'approved').length + doneSteps;
    const pending = approvals.find((a) => a.status === 'pending');
    const running = r.item.workflow.find((w) => !steps.some((s) => s.step_id === w.id && (s.status === 'done' || s.status === 'skipped')));
    const stage: Record<string, string> = {
      draft: 'Draft', submitted: 'Submitted',
      'awaiting-approval': `Waiting for approval: ${pending?.label ?? 'approver'}`,
      approved: 'Approved, queued for fulfilment',
      'in-fulfilment': `Being fulfilled: ${running?.label ?? running?.id ?? 'finishing'}`,
      fulfilled: 'Done', failed: 'Failed: the service desk is on it', denied: 'Denied', cancelled: 'Cancelled',
      waitlisted: 'Waiting for a free licence seat (it continues by itself)',
    };
    return { stage: stage[r.status] ?? r.status, step: Math.min(step, of), of };
  }
}
