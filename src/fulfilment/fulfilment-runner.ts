/**
 * The orchestration engine: runs a request's workflow as a dependency graph, so that a crash at
 * any point loses nothing and repeats no completed step.
 *
 * 1. Claim: a conditional UPDATE takes a lease on the request (approved → in-fulfilment, or an
 *    in-fulfilment request whose lease expired). Whoever loses the race does nothing. A heartbeat
 *    renews the lease and the job lock while steps run.
 * 2. Every step has a row with an idempotency key `<requestId>:<stepId>`; `done` steps are never run
 *    again, their outputs feed later templates. Ready steps (all `needs` done or skipped) run in
 *    parallel. A run takes a fencing token; completion is accepted only with that token.
 * 3. Failures: retryable ones (timeouts, 5xx, 429 honouring Retry-After) put the step in `waiting`
 *    with a next attempt time and a job is scheduled for then (no sleeping, survives restarts);
 *    an open breaker defers the step without burning an attempt; when retries are exhausted or the
 *    backend is down, a step with `manual: allowed` becomes a manual task; anything else fails the
 *    request and completed steps are compensated in reverse order (see compensation.ts).
 * Stored inputs have sensitive fields masked; actions get the real values.
 */
import { randomUUID } from 'node:crypto';
import { holds } from '../catalogue/condition.js';
import type { WorkflowStepDef } from '../catalogue/schema.js';
import { renderTemplate, type TemplateContext } from '../catalogue/template.js';
import { audit } from '../audit/audit.repository.js';
import { maskFields } from '../audit/mask.js';
import type { Database } from '../db/database.js';
import { findPerson, requesterAttributes } from '../directory/directory.repository.js';
import { postMessage } from '../conversation/outbox.repository.js';
import type { JobContext, JobQueue } from '../jobs/job-queue.port.js';
import type { Logger } from '../log.js';
import { getRequest, recordEvent, transition, type RequestRow } from '../requests/request.repository.js';
import { checkEligibility } from '../requests/eligibility.js';
import { recordFailure } from '../reporting/rca.js';
import { promptRating } from '../reporting/satisfaction.js';
import { compensate } from './engine/compensation.js';
import type { ActionInvoker } from './engine/invoker.js';
import { createManualTask } from './engine/manual-tasks.js';
import { classify, retryDelayMs, retryPolicyOf, type RetryPolicy } from './engine/step-policy.js';
import { ensureSteps, finishStep, loadSteps, setStepState, startStep, type StepRow } from './engine/step-store.js';
import { dependencies } from './engine/workflow-graph.js';
import type { FulfilmentMetrics } from '../observability/metrics.js';

export const FULFIL_RETRY_JOB = 'fulfil-request-retry';

export interface FulfilmentDeps {
  db: Database;
  invoker: ActionInvoker;
  queue: JobQueue;
  log: Logger;
  workerId: string;
  /** How long a claim holds without renewal; keep it at or below the job lock lifetime. */
  leaseMs: number;
  defaultRetry: RetryPolicy;
  /** Retry defaults per connector id. */
  connectorRetry?: (backend: string) => Partial<RetryPolicy> | undefined;
  stepTimeoutMs: number;
  /** Records just-in-time grants given by steps of `jit` items. */
  grants?: { record(q: Database, r: RequestRow, step: WorkflowStepDef, tctx: TemplateContext): Promise<void> };
  metrics?: FulfilmentMetrics;
  /** Told when a request ends (fulfilled: its licence seat is consumed; failed: released). */
  checks?: { requestEnded(requestId: string): Promise<void> };
}

type Outcome = 'done' | 'skipped' | 'waiting' | 'manual' | 'failed' | 'lost';

export interface RunContext { r: RequestRow; tctx: TemplateContext; masked: TemplateContext }

export class FulfilmentRunner {
  constructor(private readonly deps: FulfilmentDeps) {}

  private async claim(requestId: string): Promise<{ request: RequestRow; from: string } | undefined> {
    return this.deps.db.transaction(async (tx) => {
      const r = await tx.query<{ status: string }>(
        `UPDATE requests SET status = 'in-fulfilment', lease_owner = $2, lease_until = now() + make_interval(secs => $3), updated_at = now()
         WHERE id = $1 AND (status = 'approved' OR (status = 'in-fulfilment' AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)))
         RETURNING (SELECT status FROM requests WHERE id = $1) AS status`,
        [requestId, this.deps.workerId, this.deps.leaseMs / 1000]);
      if (!r.rows[0]) return undefined;
      const from = r.rows[0].status;
      const request = (await getRequest(tx, requestId))!;
      const kind = from === 'approved' ? 'fulfilment.started' : 'fulfilment.resumed';
      if (from === 'approved') await recordEvent(tx, requestId, { actor: 'system', kind: 'status', from, to: 'in-fulfilment' });
      else await recordEvent(tx, requestId, { actor: 'system', kind, detail: { worker: this.deps.workerId } });
      await audit(tx, { actor: 'system', action: kind, subject: request.ref, detail: { worker: this.deps.workerId } });
      return { request, from };
    });
  }

  private async release(requestId: string): Promise<void> {
    await this.deps.db.query(`UPDATE requests SET lease_until = now(), lease_owner = NULL WHERE id = $1 AND lease_owner = $2`, [requestId, this.deps.workerId]);
  }

  /** Runs (or resumes) the workflow of one request. */
  async run(requestId: string, job: JobContext): Promise<void> {
    const claimed = await this.claim(requestId);
    if (!claimed) {
      // Still leased by another worker. If that worker died, its job lock can expire before its lease (the lock
      // is renewed after the lease, and was taken before the claim): look again when the lease ends, instead of
      // leaving the request to the stranded-request sweep (found by test/faults/kill-worker.test.ts under load).
      const leased = await this.deps.db.query<{ ms: number }>(
        `SELECT ceil(GREATEST(0, EXTRACT(EPOCH FROM lease_until - now())) * 1000)::int AS ms FROM requests
          WHERE id = $1 AND status = 'in-fulfilment' AND lease_until >= now() AND lease_owner IS DISTINCT FROM $2`, [requestId, this.deps.workerId]);
      if (leased.rows[0]) await this.deps.queue.enqueue(FULFIL_RETRY_JOB, { requestId }, { delayMs: leased.rows[0].ms + 250 });
      this.deps.log.debug({ requestId, leased: Boolean(leased.rows[0]) }, 'fulfilment: not claimable (done, running elsewhere or not approved)');
      return;
    }
    const db = this.deps.db;
    // The job's lock was taken before the claim (the job may have waited for a free slot): renew it now, so
    // that it outlives the lease.
    await job.touch().catch(() => undefined);
    const heartbeat = setInterval(() => {
      void db.query(`UPDATE requests SET lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND lease_owner = $2`, [requestId, this.deps.workerId, this.deps.leaseMs / 1000])
        .then(() => job.touch()).catch(() => undefined);
    }, Math.max(200, this.deps.leaseMs / 3));
    try {
      await this.drive(claimed.request, claimed.from === 'approved');
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async drive(r: RequestRow, fresh: boolean): Promise<void> {
    const db = this.deps.db;
    const person = await findPerson(db, r.requesterEmail);
    const elig = person ? checkEligibility(r.item, person) : { ok: false as const, rule: 'directory', reason: 'the requester is no longer in the directory' };
    if (fresh && !elig.ok) {
      // attributes can change between submission and fulfilment: check again before acting
      const ended = await db.transaction(async (tx) => {
        if (!(await transition(tx, r.id, ['in-fulfilment'], 'failed', 'system', `no longer eligible: ${elig.reason}`))) return false;
        await tx.query('UPDATE requests SET lease_owner = NULL, lease_until = NULL WHERE id = $1', [r.id]);
        await audit(tx, { actor: 'system', action: 'request.refused-at-fulfilment', subject: r.ref, detail: { rule: elig.rule, reason: elig.reason } });
        await recordFailure(tx, { requestId: r.id, itemId: r.itemId, outcome: 'refused', error: `no longer eligible: ${elig.reason}` });
        await postMessage(tx, r.requesterEmail, { kind: 'outcome', text: `${r.ref} was not carried out: ${elig.reason}. Nothing was changed.` }, { conversationId: r.conversationId, key: `${r.id}:ineligible` });
        return true;
      });
      if (ended) { await this.deps.metrics?.requestEnded(r.id); await this.deps.checks?.requestEnded(r.id); }
      return;
    }
    const requester = person ? requesterAttributes(person) : { email: r.requesterEmail };
    const tctx: TemplateContext = { requester, fields: r.fields, request: { ref: r.ref, id: r.id, itemId: r.itemId, title: r.item.title }, steps: {} };
    const rc: RunContext = { r, tctx, masked: { ...tctx, fields: maskFields(r.item, r.fields), steps: {} } };
    const wf = r.item.workflow;
    const deps = dependencies(wf);
    await ensureSteps(db, r.id, wf);
    if (fresh) await postMessage(db, r.requesterEmail, { kind: 'status', text: `${r.ref}: fulfilment started (${wf.length} step${wf.length === 1 ? '' : 's'}).` }, { conversationId: r.conversationId, key: `${r.id}:fulfilment-started` });

    for (;;) {
      const rows = await loadSteps(db, r.id);
      for (const [id, row] of rows) if (row.status === 'done') { tctx.steps[id] = row.output ?? {}; rc.masked.steps[id] = row.output ?? {}; }
      const failed = [...rows.values()].find((x) => x.status === 'failed');
      if (failed) await recordFailure(db, { requestId: r.id, itemId: r.itemId, stepId: failed.stepId, action: wf.find((s) => s.id === failed.stepId)?.action, outcome: 'failed', attempt: failed.attempts, error: failed.error ?? 'failed' }); // no-op when the run below recorded it
      // A step still `running` here was left by a worker that died: its outcome is in doubt (the backend may
      // have done it). Finish it first with the same idempotency key, as a failed step's siblings are finished
      // when nobody crashes, so that compensation undoes everything that was really done.
      const inDoubt = failed ? wf.filter((s) => rows.get(s.id)?.status === 'running') : [];
      if (inDoubt.length) {
        const outcomes = await Promise.all(inDoubt.map((s) => this.runStep(rc, s, rows.get(s.id)!)));
        if (outcomes.includes('lost')) return; // another worker owns this request now
        continue;
      }
      if (failed) { await compensate(this.deps, rc, rows, failed.stepId, failed.error ?? 'failed'); await this.release(r.id); await this.deps.metrics?.requestEnded(r.id); await this.deps.checks?.requestEnded(r.id); return; }
      const settled = (id: string) => ['done', 'skipped'].includes(rows.get(id)?.status ?? '');
      const now = Date.now();
      const ready = wf.filter((s) => {
        const row = rows.get(s.id)!;
        const due = row.status === 'pending' || row.status === 'running' || (row.status === 'waiting' && (row.nextAttemptAt?.getTime() ?? 0) <= now);
        return due && (deps.get(s.id) ?? []).every(settled);
      });
      if (ready.length === 0) {
        if (wf.every((s) => settled(s.id))) { await this.finish(r); return; }
        const next = [...rows.values()].filter((x) => x.status === 'waiting' && x.nextAttemptAt).map((x) => x.nextAttemptAt!.getTime()).sort((a, b) => a - b)[0];
        if (next !== undefined) await this.deps.queue.enqueue(FULFIL_RETRY_JOB, { requestId: r.id, at: next }, { delayMs: Math.max(0, next - Date.now()) });
        await this.release(r.id);
        return;
      }
      const outcomes = await Promise.all(ready.map((s) => this.runStep(rc, s, rows.get(s.id)!)));
      if (outcomes.includes('lost')) return; // another worker owns this request now
    }
  }

  private async runStep(rc: RunContext, s: WorkflowStepDef, row: StepRow): Promise<Outcome> {
    const { r, tctx } = rc;
    const db = this.deps.db;
    if (!holds(s.when, { fields: r.fields, requester: tctx.requester })) {
      await setStepState(db, r.id, s.id, { status: 'skipped' });
      await audit(db, { actor: 'system', action: 'step.skipped', subject: r.ref, detail: { step: s.id, when: s.when } });
      return 'skipped';
    }
    const input = renderTemplate(s.inputs, tctx) as Record<string, unknown>;
    const backend = this.deps.invoker.backendOf(s.action, input);
    const policy = retryPolicyOf(s, this.deps.connectorRetry?.(backend), this.deps.defaultRetry);
    if (this.deps.invoker.breakers.refuses(backend)) return this.deferOrManual(rc, s, backend, 'backend unavailable (circuit open)', row.attempts, policy, true);

    const token = randomUUID();
    const maskedInput = renderTemplate(s.inputs, rc.masked);
    const attempt = await startStep(db, r.id, s.id, token, maskedInput);
    if (attempt === undefined) return 'lost';
    await audit(db, { actor: 'system', action: 'step.started', subject: r.ref, detail: { step: s.id, action: s.action, backend, attempt, key: `${r.id}:${s.id}`, input: maskedInput } });
    this.deps.log.info({ ref: r.ref, step: s.id, action: s.action, backend, attempt, input: maskedInput }, 'step started');
    try {
      const output = await this.deps.invoker.invoke(s.action, input, {
        idempotencyKey: `${r.id}:${s.id}`, requestId: r.id, requestRef: r.ref, db, signal: AbortSignal.timeout(s.timeoutMs ?? this.deps.stepTimeoutMs),
      });
      if (!(await finishStep(db, r.id, s.id, token, output))) {
        await audit(db, { actor: 'system', action: 'step.fenced', subject: r.ref, detail: { step: s.id, attempt } });
        return 'lost';
      }
      tctx.steps[s.id] = output;
      rc.masked.steps[s.id] = output;
      await this.deps.grants?.record(db, r, s, tctx);
      await audit(db, { actor: 'system', action: 'step.succeeded', subject: r.ref, detail: { step: s.id, attempt, output } });
      this.deps.log.info({ ref: r.ref, step: s.id, attempt }, 'step succeeded');
      const n = r.item.workflow.length;
      const done = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM fulfilment_steps WHERE request_id = $1 AND status IN ('done', 'skipped')`, [r.id])).rows[0]!.n;
      await postMessage(db, r.requesterEmail, { kind: 'status', text: `${r.ref}: step ${done} of ${n} done (${s.label ?? s.id}).` }, { conversationId: r.conversationId, key: `${r.id}:progress:${s.id}` });
      return 'done';
    } catch (e) {
      const c = classify(e);
      this.deps.metrics?.stepFailed(backend, e);
      if (c.circuitOpen) return this.deferOrManual(rc, s, backend, c.message, attempt, policy, true, token, e);
      await audit(db, { actor: 'system', action: 'step.failed', subject: r.ref, detail: { step: s.id, backend, attempt, retryable: c.retryable, error: c.message } });
      if (c.retryable && attempt < policy.maxAttempts) {
        const delay = retryDelayMs(policy, attempt, c.retryAfterMs);
        await setStepState(db, r.id, s.id, { status: 'waiting', error: c.message, nextAttemptAt: new Date(Date.now() + delay), token });
        await recordEvent(db, r.id, { actor: 'system', kind: 'step.retry', reason: c.message, detail: { step: s.id, attempt, delayMs: delay } });
        await audit(db, { actor: 'system', action: 'step.retry-scheduled', subject: r.ref, detail: { step: s.id, attempt, delayMs: delay, error: c.message } });
        return 'waiting';
      }
      if (c.retryable) return this.deferOrManual(rc, s, backend, `${c.message} (after ${attempt} attempt${attempt === 1 ? '' : 's'})`, attempt, policy, false, token, e);
      await setStepState(db, r.id, s.id, { status: 'failed', error: c.message, token });
      await recordFailure(db, { requestId: r.id, itemId: r.itemId, stepId: s.id, action: s.action, outcome: 'failed', attempt, error: e });
      return 'failed';
    }
  }

  /** Backend unavailable: a manual task if the step allows it, else wait (open breaker) or fail. */
  private async deferOrManual(rc: RunContext, s: WorkflowStepDef, backend: string, reason: string, attempt: number, policy: RetryPolicy, circuitOpen: boolean, token?: string, error: unknown = reason): Promise<Outcome> {
    const db = this.deps.db;
    const failure = (outcome: 'manual' | 'failed') => recordFailure(db, { requestId: rc.r.id, itemId: rc.r.itemId, stepId: s.id, action: s.action, outcome, attempt, error, message: reason });
    if (s.manual === 'allowed') {
      await createManualTask(db, rc, s, reason, token);
      await failure('manual');
      return 'manual';
    }
    if (circuitOpen) {
      const wait = this.deps.invoker.breakers.get(backend).config.halfOpenAfterMs;
      // an open breaker does not burn an attempt
      await setStepState(db, rc.r.id, s.id, { status: 'waiting', error: reason, nextAttemptAt: new Date(Date.now() + wait), token, undoAttempt: Boolean(token) });
      await audit(db, { actor: 'system', action: 'step.deferred', subject: rc.r.ref, detail: { step: s.id, backend, reason, retryInMs: wait, attempt } });
      return 'waiting';
    }
    await setStepState(db, rc.r.id, s.id, { status: 'failed', error: reason, token });
    await failure('failed');
    void policy;
    return 'failed';
  }

  private async finish(r: RequestRow): Promise<void> {
    const ended = await this.deps.db.transaction(async (tx) => {
      const done = await transition(tx, r.id, ['in-fulfilment'], 'fulfilled', 'system');
      if (!done) return false;
      await tx.query('UPDATE requests SET lease_owner = NULL, lease_until = NULL WHERE id = $1', [r.id]);
      await audit(tx, { actor: 'system', action: 'request.fulfilled', subject: r.ref });
      await postMessage(tx, r.requesterEmail, { kind: 'outcome', text: `${r.ref} is done: ${r.item.title} fulfilled.` }, { conversationId: r.conversationId, key: `${r.id}:fulfilled` });
      await promptRating(tx, r);
      return true;
    });
    if (ended) { await this.deps.metrics?.requestEnded(r.id); await this.deps.checks?.requestEnded(r.id); }
  }
}
