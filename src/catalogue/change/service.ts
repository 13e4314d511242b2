/**
 * ChangeService: change requests of the catalogue, end to end.
 *
 *   create     a publish of a draft, or a rollback, as a change request: the diff against the
 *              current version, the impact assessment (impact.ts), the dry run (dry-run.ts); a
 *              failing dry run stores it as `dry-run-failed` (never sent for approval); otherwise the
 *              approval steps (approvers.ts) are opened at once and every approver gets a card in
 *              chat (`change:<approvalId>:approve|deny`), the author a status message
 *   decide     one click: only a listed approver who is not the author, one decision per step
 *              (conditional update), a denial needs a reason; every decision audited. A denial
 *              denies the change and discards its draft; the last approval publishes it (or waits
 *              for its scheduled time: an Agenda job, plus a sweep every minute)
 *   publishNow through the version store (publish / rollback with expectedCurrent = the version
 *              it was assessed against), whose beforeChange (guard.ts) enforces approvals, freezes
 *              and the time; a refusal fails the change with the reason
 *   cancel, list, get; freezes: add, list, remove
 *
 * Authorisation is here, so the CLI and the admin API share it: creating needs the admin or
 * catalogue-admin role (or an internal `system` caller, e.g. the lifecycle job); adding a freeze
 * admin or catalogue-admin, removing one admin; reading admins, catalogue admins, auditors,
 * security, and the change's author and approvers.
 */
import { audit } from '../../audit/audit.repository.js';
import type { OutMessage } from '../../conversation/messages.js';
import { postMessage, resolveMessages } from '../../conversation/outbox.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { findPerson, normEmail, type Person } from '../../directory/directory.repository.js';
import type { JobQueue } from '../../jobs/job-queue.port.js';
import type { Logger } from '../../log.js';
import { diffCatalogues, renderDiff } from '../versions/diff.js';
import { CatalogueVersionError, restartNeededBetween, type CatalogueVersion, type CatalogueVersionStore } from '../versions/store.js';
import { planApprovals } from './approvers.js';
import { dryRun } from './dry-run.js';
import { changeControlGuard, describeFreeze, type Guard } from './guard.js';
import { assessImpact, connectorsUsedBy } from './impact.js';
import { whatOf, type ChangeApproval, type ChangeRequest, type ChangeStatus, type Freeze } from './model.js';
import { approvalCard, fmtTime } from './render.js';
import { ChangeError, CREATORS, hasRole, READERS, tellAuthor } from './access.js';
import { FreezeService } from './freezes.js';

export { ChangeError, type ChangeErrorCode } from './access.js';
import {
  approvalsOf, cancelPendingApprovals, decideApproval, freezeAt, getApproval, getChange, insertApproval, insertChange,
  listChanges, moveChange, pendingApprovalsCount,
} from './repository.js';

export const CHANGE_PUBLISH_JOB = 'catalogue-change-publish';

export interface ChangeServiceDeps {
  db: Database;
  store: CatalogueVersionStore;
  now: () => Date;
  log?: Logger;
  /** Schedules CHANGE_PUBLISH_JOB at a change's chosen time (absent in the CLI: the service's sweep does it). */
  queue?: Pick<JobQueue, 'enqueue'>;
  /** Connector operations besides the version's _connectors.yaml (Slack, test connectors). */
  extraOperations?: () => Iterable<string>;
}

export interface CreateInput {
  /** Publish this draft... */
  draft?: number;
  /** ...or roll back to this version (its content republished as a new version). */
  rollbackTo?: number;
  author: string;
  reason: string;
  emergency?: boolean;
  /** Publish at this time instead of as soon as it is approved. */
  at?: Date | null;
  /** Internal callers (the lifecycle job): no role check. */
  system?: boolean;
}

export interface ChangeView { change: ChangeRequest; approvals: ChangeApproval[] }

export type DecideOutcome =
  | { outcome: 'approved' | 'denied' | 'published' | 'scheduled' | 'failed'; change: ChangeRequest; message: string }
  | { outcome: 'already-decided'; change: ChangeRequest; message: string }
  | { outcome: 'not-allowed' | 'not-found' | 'reason-required' | 'closed'; message: string };

const subject = (c: Pick<ChangeRequest, 'ref'>) => `change:${c.ref}`;

export class ChangeService {
  /** The beforeChange hook with this service's clock (install it on the version store). */
  readonly guard: Guard;
  private readonly freezes: FreezeService;

  constructor(private readonly d: ChangeServiceDeps) {
    this.guard = changeControlGuard({ now: d.now });
    this.freezes = new FreezeService({ db: d.db, now: d.now, person: (e) => this.person(e) });
  }

  private async person(email: string): Promise<Person | undefined> {
    return findPerson(this.d.db, email);
  }

  // ---------------------------------------------------------------------------------------------
  // create

  async create(input: CreateInput): Promise<ChangeView & { warnings: string[] }> {
    const now = this.d.now();
    const author = input.system ? input.author.trim() : normEmail(input.author ?? '');
    if (!author) throw new ChangeError('INVALID', 'the author (an e-mail) is needed');
    if (!input.system) {
      const p = await this.person(author);
      if (!hasRole(p, CREATORS)) throw new ChangeError('FORBIDDEN', `${author} may not create catalogue changes: only ${CREATORS.join(' and ')} may`);
    }
    const reason = input.reason?.trim();
    if (!reason || reason.length < 3) throw new ChangeError('INVALID', 'a reason of a few words is needed');
    if ((input.draft === undefined) === (input.rollbackTo === undefined)) throw new ChangeError('INVALID', 'give either the draft to publish or the version to roll back to');
    const at = input.at ?? null;
    if (at && (Number.isNaN(at.getTime()) || at.getTime() <= now.getTime())) throw new ChangeError('INVALID', `--at must be a time in the future (now: ${fmtTime(now)})`);
    const emergency = Boolean(input.emergency);

    const current = await this.d.store.current();
    if (!current) throw new ChangeError('CONFLICT', 'there is no current catalogue version yet');
    let target: CatalogueVersion;
    if (input.draft !== undefined) {
      const v = await this.d.store.get(input.draft);
      if (!v) throw new ChangeError('NOT_FOUND', `there is no catalogue version ${input.draft}`);
      if (v.status !== 'draft') throw new ChangeError('CONFLICT', `version ${v.number} is ${v.status}, not a draft${v.status === 'discarded' ? '' : `; to go back to it, create a rollback change (--rollback ${v.number})`}`);
      const open = (await this.d.db.query<{ ref: string }>(`SELECT ref FROM change_requests WHERE draft_version = $1 AND status IN ('pending-approval', 'approved')`, [v.number])).rows[0];
      if (open) throw new ChangeError('CONFLICT', `draft v${v.number} already has an open change request: ${open.ref}`);
      target = v;
    } else {
      const v = await this.d.store.get(input.rollbackTo!);
      if (!v) throw new ChangeError('NOT_FOUND', `there is no catalogue version ${input.rollbackTo}`);
      if (v.status === 'draft' || v.status === 'discarded') throw new ChangeError('CONFLICT', `version ${v.number} was never published (${v.status}); publish a draft instead`);
      if (v.number === current.number || v.contentHash === current.contentHash) throw new ChangeError('CONFLICT', `the current version v${current.number} already has the content of v${v.number}`);
      target = v;
    }

    const label = input.draft !== undefined ? `v${target.number}` : `v${target.number} (rollback)`;
    const diff = diffCatalogues({ label: `v${current.number}`, documents: current.documents, files: current.files, model: current.model }, { label, documents: target.documents, files: target.files, model: target.model });
    if (diff.identical) throw new ChangeError('CONFLICT', `${label} has the same content as the current version v${current.number}: nothing to change`);
    const impact = await assessImpact(this.d.db, {
      before: { items: current.documents.items, governance: current.documents.governance },
      after: { items: target.documents.items, governance: target.documents.governance },
      diff, restartNeeded: restartNeededBetween(current, target), open: await this.d.store.openRequestsByVersion(), now,
    });

    const warnings: string[] = [];
    const freezeThen = at ? await freezeAt(this.d.db, at) : undefined;
    if (freezeThen && !emergency) throw new ChangeError('CONFLICT', `the chosen time ${fmtTime(at)} is inside ${describeFreeze(freezeThen)}: choose another time, or make it an emergency change`);
    const freezeNow = !at ? await freezeAt(this.d.db, now) : undefined;
    if (freezeNow && !emergency) warnings.push(`${describeFreeze(freezeNow)} is in force: this change will be refused if it is approved before the freeze ends; schedule it after the freeze with --at, or make it an emergency change`);
    const others = (await listChanges(this.d.db, { statuses: ['pending-approval', 'approved'] })).filter((x) => x.baseVersion === current.number);
    if (others.length) warnings.push(`also open against v${current.number}: ${others.map((x) => `${x.ref} (${whatOf(x)}${x.scheduledAt ? `, at ${fmtTime(x.scheduledAt)}` : ''})`).join(', ')}: whichever publishes first makes the others stale`);

    // dry run: changed and added items, plus unchanged ones whose connectors change
    const touchedConnectors = new Set([...diff.config.connectors.added, ...diff.config.connectors.removed, ...diff.config.connectors.modified]);
    const ids = [...diff.items.added.map((x) => x.id), ...diff.items.changed.map((x) => x.id),
      ...target.documents.items.filter((x) => connectorsUsedBy(x).some((c) => touchedConnectors.has(c))).map((x) => x.id)];
    const dry = await dryRun({ documents: target.documents, files: target.files }, ids, { db: this.d.db, now, extraOperations: this.d.extraOperations?.() ?? [] });

    const plan = dry.ok ? await planApprovals(this.d.db, { impact, author, emergency, securityRole: current.documents.governance?.securityApproverRole ?? 'security' }) : [];
    const nobody = plan.filter((s) => !s.approvers.length);
    if (nobody.length) throw new ChangeError('NO_APPROVER', `nobody can approve ${nobody.map((s) => s.label).join(', ')} (the author is never an approver): add an owner, security or admin person to the directory`);

    const authorName = input.system ? author : (await this.person(author))?.name ?? author;
    const view = await this.d.db.transaction(async (tx) => {
      const change = await insertChange(tx, {
        kind: input.draft !== undefined ? 'publish' : 'rollback', draftVersion: input.draft ?? null, targetVersion: input.rollbackTo ?? null,
        baseVersion: current.number, author, reason, emergency, scheduledAt: at, status: dry.ok ? 'pending-approval' : 'dry-run-failed',
        diff, diffText: renderDiff(diff), impact, dryRun: dry, createdAt: now,
      });
      const approvals: ChangeApproval[] = [];
      for (const [i, s] of plan.entries()) approvals.push(await insertApproval(tx, { changeId: change.id, stepIndex: i, stepId: s.stepId, label: s.label, why: s.why, approvers: s.approvers, ...(s.fallback ? { fallback: s.fallback } : {}), at: now }));
      await audit(tx, { actor: author, action: dry.ok ? 'change.created' : 'change.dry-run-failed', subject: subject(change), detail: {
        what: whatOf(change), reason, emergency, scheduledAt: at?.toISOString() ?? null, risk: impact.risk, weakened: impact.weakened,
        items: impact.items.map((x) => x.id), dryRun: dry.summary, approvals: approvals.map((a) => ({ step: a.stepId, approvers: a.approvers, fallback: a.fallback })),
      } });
      for (const a of approvals) for (const email of a.approvers) await postMessage(tx, email, approvalCard(change, a, authorName), { key: `${a.id}:card:${email}` });
      if (!input.system) {
        await this.tell(tx, change, dry.ok
          ? `${change.ref} (${whatOf(change)}) is waiting for approval: ${approvals.map((a) => a.label).join('; ')}.`
          : `${change.ref} (${whatOf(change)}) was not submitted: its dry run failed. ${dry.summary}. See errand change show ${change.ref}.`, 'created');
      }
      return { change, approvals };
    });
    return { ...view, warnings };
  }

  /** A status message to the author (once per key). */
  private tell(q: Queryable, c: ChangeRequest, text: string, key: string, kind: OutMessage['kind'] = 'status'): Promise<void> {
    return tellAuthor(q, c, text, key, kind);
  }

  // ---------------------------------------------------------------------------------------------
  // decisions

  /** One approver's decision on one approval step (a click on a card, or the CLI/API). */
  async decide(approvalId: string, actorEmail: string, decision: 'approve' | 'deny', reason?: string | null): Promise<DecideOutcome> {
    const actor = normEmail(actorEmail);
    const a = await getApproval(this.d.db, approvalId);
    if (!a) return { outcome: 'not-found', message: 'That change approval does not exist.' };
    const c = (await getChange(this.d.db, a.changeId))!;
    if (actor === normEmail(c.author)) {
      await audit(this.d.db, { actor, action: 'change.approval-refused', subject: subject(c), detail: { approvalId, step: a.stepId, why: 'self-approval' } });
      return { outcome: 'not-allowed', message: `You cannot approve or deny your own change ${c.ref}.` };
    }
    if (!a.approvers.includes(actor)) {
      await audit(this.d.db, { actor, action: 'change.approval-refused', subject: subject(c), detail: { approvalId, step: a.stepId, why: 'not an approver' } });
      return { outcome: 'not-allowed', message: `You are not an approver of ${c.ref} (${a.label}).` };
    }
    if (a.status !== 'pending') return { outcome: 'already-decided', change: c, message: `Already decided: ${a.label} was ${a.status}${a.decidedBy ? ` by ${a.decidedBy}` : ''}.` };
    if (c.status !== 'pending-approval') return { outcome: 'closed', message: `${c.ref} is ${c.status}${c.closedReason ? `: ${c.closedReason}` : ''}; nothing to decide.` };
    const why = reason?.trim() || null;
    if (decision === 'deny' && !why) return { outcome: 'reason-required', message: `Please give a reason for denying ${c.ref}.` };
    const now = this.d.now();

    const cur = await this.d.store.currentSummary();
    if (cur && cur.number !== c.baseVersion) {
      const failed = await this.fail(c, `stale: the current version is v${cur.number}, not v${c.baseVersion} it was assessed against; create a new change request`, 'system', ['pending-approval']);
      return { outcome: 'failed', change: failed ?? c, message: `${c.ref} can no longer be decided: the catalogue moved to v${cur.number} since it was assessed (v${c.baseVersion}); it was closed.` };
    }

    const res = await this.d.db.transaction(async (tx) => {
      // decisions on one change are serialised (the last approval sees every other one)
      const locked = (await getChange(tx, c.id, true))!;
      if (locked.status !== 'pending-approval') return { kind: 'closed' as const, closed: locked };
      const decided = await decideApproval(tx, approvalId, decision === 'approve' ? 'approved' : 'denied', actor, why, now);
      if (!decided) return { kind: 'lost' as const, lost: (await getApproval(tx, approvalId))! };
      const name = (await findPerson(tx, actor))?.name ?? actor;
      await audit(tx, { actor, action: `change.approval-${decided.status}`, subject: subject(c), detail: { step: decided.stepId, reason: why, waitedMinutes: Math.round((now.getTime() - decided.createdAt.getTime()) / 60_000) } });
      await resolveMessages(tx, { approvalId }, `${decided.status === 'approved' ? 'Approved' : 'Denied'} by ${name} at ${fmtTime(now)}${why ? `: ${why}` : ''}`);
      if (decided.status === 'denied') {
        const denied = await moveChange(tx, c.id, ['pending-approval'], 'denied', { at: now, by: actor, reason: why });
        for (const other of await cancelPendingApprovals(tx, c.id, now)) await resolveMessages(tx, { approvalId: other.id }, `Closed: ${c.ref} was denied by ${name}`);
        await audit(tx, { actor, action: 'change.denied', subject: subject(c), detail: { step: decided.stepId, reason: why } });
        await this.tell(tx, c, `${c.ref} (${whatOf(c)}) was denied by ${name} (${decided.label}): ${why}${c.kind === 'publish' ? `. Draft v${c.draftVersion} is discarded.` : ''}`, 'denied', 'outcome');
        return { kind: 'done' as const, change: denied ?? c, decided, allIn: false };
      }
      const left = await pendingApprovalsCount(tx, c.id);
      if (left > 0) {
        await this.tell(tx, c, `${c.ref}: ${decided.label} approved by ${name}; ${left} approval(s) to go.`, `approved:${decided.stepId}`);
        return { kind: 'done' as const, change: c, decided, allIn: false };
      }
      const approved = await moveChange(tx, c.id, ['pending-approval'], 'approved', { at: now });
      if (!approved) return { kind: 'done' as const, change: c, decided, allIn: false };
      await audit(tx, { actor, action: 'change.approved', subject: subject(c), detail: { scheduledAt: c.scheduledAt?.toISOString() ?? null } });
      await this.tell(tx, c, `${c.ref}: every approval is in${c.scheduledAt && c.scheduledAt.getTime() > now.getTime() ? `; it is published at ${fmtTime(c.scheduledAt)}` : '; publishing it now'}.`, 'approved');
      return { kind: 'done' as const, change: approved, decided, allIn: true };
    });
    if (res.kind === 'closed') return { outcome: 'closed', message: `${c.ref} is ${res.closed.status}${res.closed.closedReason ? `: ${res.closed.closedReason}` : ''}; nothing to decide.` };
    if (res.kind === 'lost') return { outcome: 'already-decided', change: c, message: `Already decided: ${res.lost.label} was ${res.lost.status}${res.lost.decidedBy ? ` by ${res.lost.decidedBy}` : ''}.` };

    if (res.decided.status === 'denied') {
      if (c.kind === 'publish' && c.draftVersion !== null) {
        await this.d.store.discard(c.draftVersion, { author: actor, reason: `${c.ref} denied: ${why}` }).catch((e: Error) => this.d.log?.warn({ err: e.message, change: c.ref }, 'could not discard the draft of a denied change'));
      }
      return { outcome: 'denied', change: res.change, message: `You denied ${c.ref}. The author has been told${c.kind === 'publish' ? ` and draft v${c.draftVersion} was discarded` : ''}.` };
    }
    if (!res.allIn) {
      const waiting = (await approvalsOf(this.d.db, c.id)).filter((x) => x.status === 'pending').map((x) => x.label);
      return { outcome: 'approved', change: res.change, message: `You approved ${c.ref} (${res.decided.label}). Still waiting for: ${waiting.join('; ')}.` };
    }
    if (res.change.scheduledAt && res.change.scheduledAt.getTime() > now.getTime()) {
      await this.schedule(res.change);
      return { outcome: 'scheduled', change: res.change, message: `You approved ${c.ref}: every approval is in; it is published at ${fmtTime(res.change.scheduledAt)}.` };
    }
    const pub = await this.publishNow(res.change.id);
    if (pub.outcome === 'published') return { outcome: 'published', change: pub.change, message: `You approved ${c.ref}: every approval is in and catalogue v${pub.change.publishedVersion} is now current.` };
    return { outcome: 'failed', change: pub.change, message: `You approved ${c.ref}, but publishing it was refused: ${pub.message}` };
  }

  /** The CLI/API form: decides every pending step of change `key` that `actor` may decide (or `step`). */
  async decideChange(key: string, actorEmail: string, decision: 'approve' | 'deny', reason?: string | null, step?: string): Promise<DecideOutcome[]> {
    const c = await getChange(this.d.db, key);
    if (!c) return [{ outcome: 'not-found', message: `There is no change request ${key}.` }];
    const actor = normEmail(actorEmail);
    const all = await approvalsOf(this.d.db, c.id);
    const mine = all.filter((a) => a.status === 'pending' && a.approvers.includes(actor) && (!step || a.stepId === step));
    if (!mine.length) {
      // let decide() answer (and audit) why: author, not an approver, already decided, closed
      const any = all.find((a) => !step || a.stepId === step);
      if (!any) return [{ outcome: 'not-found', message: step ? `${c.ref} has no approval step ${step}.` : `${c.ref} has no approval steps (it is ${c.status}).` }];
      return [await this.decide((all.find((a) => a.approvers.includes(actor) && (!step || a.stepId === step)) ?? any).id, actor, decision, reason)];
    }
    const out: DecideOutcome[] = [];
    for (const a of mine) {
      const r = await this.decide(a.id, actor, decision, reason);
      out.push(r);
      if (r.outcome !== 'approved') break; // denied, published, failed, ...: the change is settled
    }
    return out;
  }

  private async fail(c: ChangeRequest, reason: string, by: string, from: ChangeStatus[]): Promise<ChangeRequest | undefined> {
    const now = this.d.now();
    return this.d.db.transaction(async (tx) => {
      const failed = await moveChange(tx, c.id, from, 'failed', { at: now, by, reason });
      if (!failed) return undefined;
      for (const a of await cancelPendingApprovals(tx, c.id, now)) await resolveMessages(tx, { approvalId: a.id }, `Closed: ${c.ref} failed: ${reason}`);
      await audit(tx, { actor: by, action: 'change.failed', subject: subject(c), detail: { reason } });
      await this.tell(tx, c, `${c.ref} (${whatOf(c)}) failed: ${reason}`, 'failed', 'outcome');
      return failed;
    });
  }

  /** The author (or an admin) withdraws an open change; its draft is kept. */
  async cancel(key: string, actorEmail: string, reason: string): Promise<ChangeRequest> {
    const c = await getChange(this.d.db, key);
    if (!c) throw new ChangeError('NOT_FOUND', `there is no change request ${key}`);
    const actor = normEmail(actorEmail);
    if (actor !== normEmail(c.author) && !hasRole(await this.person(actor), ['admin'])) throw new ChangeError('FORBIDDEN', `only the author of ${c.ref} or an admin may cancel it`);
    if (!reason?.trim()) throw new ChangeError('INVALID', 'a reason is needed');
    const now = this.d.now();
    const done = await this.d.db.transaction(async (tx) => {
      const moved = await moveChange(tx, c.id, ['pending-approval', 'approved'], 'cancelled', { at: now, by: actor, reason: reason.trim() });
      if (!moved) return undefined;
      for (const a of await cancelPendingApprovals(tx, c.id, now)) await resolveMessages(tx, { approvalId: a.id }, `Closed: ${c.ref} was cancelled by ${actor}`);
      await audit(tx, { actor, action: 'change.cancelled', subject: subject(c), detail: { reason: reason.trim() } });
      return moved;
    });
    if (!done) throw new ChangeError('CONFLICT', `${c.ref} is ${c.status}; only open changes can be cancelled`);
    return done;
  }

  // ---------------------------------------------------------------------------------------------
  // publishing

  private async schedule(c: ChangeRequest): Promise<void> {
    if (!this.d.queue || !c.scheduledAt) return;
    await this.d.queue.enqueue(CHANGE_PUBLISH_JOB, { changeId: c.id }, { uniqueBy: ['changeId'], delayMs: Math.max(0, c.scheduledAt.getTime() - this.d.now().getTime()) });
  }

  /** Publishes an approved change through the version store; a refusal fails the change with the reason. */
  async publishNow(changeId: string): Promise<{ outcome: 'published' | 'failed' | 'not-approved'; change: ChangeRequest; message: string }> {
    const c = await getChange(this.d.db, changeId);
    if (!c) throw new ChangeError('NOT_FOUND', `there is no change request ${changeId}`);
    if (c.status !== 'approved') return { outcome: 'not-approved', change: c, message: `${c.ref} is ${c.status}` };
    const meta = { author: c.author, reason: `${c.ref}: ${c.reason}`, expectedCurrent: c.baseVersion };
    try {
      if (c.kind === 'publish') await this.d.store.publish(c.draftVersion!, meta);
      else await this.d.store.rollback(c.targetVersion!, meta);
    } catch (e) {
      if (!(e instanceof CatalogueVersionError)) throw e;
      const now = (await getChange(this.d.db, c.id))!;
      if (now.status === 'published') return { outcome: 'published', change: now, message: `catalogue v${now.publishedVersion} is current` }; // another path published it meanwhile
      const message = e.code === 'CONFLICT' ? `the current version moved since ${c.ref} was assessed against v${c.baseVersion} (${e.message})` : e.message;
      await audit(this.d.db, { actor: 'system', action: 'change.publish-refused', subject: subject(c), detail: { code: e.code, message } });
      const failed = await this.fail(c, `publishing was refused: ${message}`, 'system', ['approved']);
      return { outcome: 'failed', change: failed ?? (await getChange(this.d.db, c.id))!, message };
    }
    const after = (await getChange(this.d.db, c.id))!;
    this.d.log?.info({ change: c.ref, version: after.publishedVersion }, `${c.ref} published: catalogue v${after.publishedVersion} is current`);
    return { outcome: 'published', change: after, message: `catalogue v${after.publishedVersion} is current` };
  }

  /** Publishes one scheduled change if it is due (the Agenda job). */
  async runScheduled(changeId: string): Promise<void> {
    const c = await getChange(this.d.db, changeId);
    if (!c || c.status !== 'approved') return;
    if (c.scheduledAt && c.scheduledAt.getTime() > this.d.now().getTime()) return;
    await this.publishNow(c.id);
  }

  /** Every approved change that is due (scheduled time reached, or none and not yet published). */
  async publishDue(): Promise<number> {
    const now = this.d.now();
    const due = (await listChanges(this.d.db, { statuses: ['approved'], limit: 1000 })).filter((c) => !c.scheduledAt || c.scheduledAt.getTime() <= now.getTime())
      .sort((a, b) => (a.scheduledAt?.getTime() ?? 0) - (b.scheduledAt?.getTime() ?? 0));
    let n = 0;
    for (const c of due) if ((await this.publishNow(c.id)).outcome === 'published') n++;
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // reading

  async get(key: string): Promise<ChangeView | undefined> {
    const change = await getChange(this.d.db, key);
    return change ? { change, approvals: await approvalsOf(this.d.db, change.id) } : undefined;
  }

  /** The current catalogue version (to tell stale changes). */
  currentVersion() {
    return this.d.store.currentSummary();
  }

  async list(o: { statuses?: ChangeStatus[]; limit?: number } = {}): Promise<ChangeRequest[]> {
    return listChanges(this.d.db, o);
  }

  /** Whether `email` may read change `view` (readers' roles, its author, its approvers). */
  async mayRead(email: string, view?: ChangeView): Promise<boolean> {
    const e = normEmail(email);
    if (hasRole(await this.person(e), READERS)) return true;
    if (!view) return false;
    return normEmail(view.change.author) === e || view.approvals.some((a) => a.approvers.includes(e));
  }

  // ---------------------------------------------------------------------------------------------
  // freezes (freezes.ts)

  addFreeze(f: { from: Date; to: Date; reason: string; actor: string }): Promise<{ freeze: Freeze; affected: ChangeRequest[] }> { return this.freezes.add(f); }
  listFreezes(o: { all?: boolean } = {}): Promise<Freeze[]> { return this.freezes.list(o); }
  removeFreeze(id: number, actorEmail: string, reason?: string | null): Promise<Freeze> { return this.freezes.remove(id, actorEmail, reason); }
}
