/**
 * Runs a request's workflow, step by step, so that a crash at any point loses nothing and
 * repeats no completed step:
 *
 * 1. Claim: a conditional UPDATE takes a lease on the request (approved → in-fulfilment, or an
 *    in-fulfilment request whose lease expired). Whoever loses the race does nothing.
 * 2. Each workflow step has a row (request, step) with an idempotency key `<requestId>:<stepId>`.
 *    A step marked `done` is never run again: its stored output feeds later templates.
 * 3. A step is marked `running` (attempts + 1) before the action runs and `done` (with its output)
 *    after. A crash in between leaves it `running`; the next claim re-runs it with the SAME key, and
 *    every action is idempotent by that key (upserts, keyed messages/cases, Idempotency-Key header).
 * 4. A retryable failure releases the lease and throws, so the job runner retries with backoff; a
 *    permanent failure (or the last attempt) fails the request and opens a case for fulfillers.
 * Stored step inputs have sensitive fields masked; the action gets the real values.
 */
import { holds } from '../catalogue/condition.js';
import { renderTemplate, type TemplateContext } from '../catalogue/template.js';
import { audit } from '../audit/audit.repository.js';
import { maskFields } from '../audit/mask.js';
import type { Database } from '../db/database.js';
import { findPerson, requesterAttributes } from '../directory/directory.repository.js';
import { postMessage } from '../conversation/outbox.repository.js';
import type { JobContext } from '../jobs/job-queue.port.js';
import type { Logger } from '../log.js';
import { getRequest, recordEvent, transition, type RequestRow } from '../requests/request.repository.js';
import { ActionError } from './action.port.js';
import type { ActionRegistry } from './action-registry.js';

export interface FulfilmentDeps {
  db: Database;
  actions: ActionRegistry;
  log: Logger;
  workerId: string;
  /** How long a claim holds without renewal; keep it at or below the job lock lifetime. */
  leaseMs: number;
  /** Attempts per step before the request fails over to a person. */
  maxAttempts: number;
  stepTimeoutMs: number;
}

interface StepRow { step_id: string; status: string; attempts: number; output: Record<string, unknown> | null }

export class FulfilmentRunner {
  constructor(private readonly deps: FulfilmentDeps) {}

  private async claim(requestId: string): Promise<{ request: RequestRow; from: string } | undefined> {
    return this.deps.db.transaction(async (tx) => {
      const r = await tx.query<{ status: string }>(
        `UPDATE requests SET status = 'in-fulfilment', lease_owner = $2, lease_until = now() + make_interval(secs => $3), updated_at = now()
         WHERE id = $1 AND (status = 'approved' OR (status = 'in-fulfilment' AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $2)))
         RETURNING (SELECT status FROM requests WHERE id = $1) AS status`,
        [requestId, this.deps.workerId, this.deps.leaseMs / 1000],
      );
      if (!r.rows[0]) return undefined;
      const from = r.rows[0].status;
      const request = (await getRequest(tx, requestId))!;
      if (from === 'approved') {
        await recordEvent(tx, requestId, { actor: 'system', kind: 'status', from, to: 'in-fulfilment' });
        await audit(tx, { actor: 'system', action: 'fulfilment.started', subject: request.ref, detail: { worker: this.deps.workerId } });
      } else {
        await recordEvent(tx, requestId, { actor: 'system', kind: 'fulfilment.resumed', detail: { worker: this.deps.workerId } });
        await audit(tx, { actor: 'system', action: 'fulfilment.resumed', subject: request.ref, detail: { worker: this.deps.workerId } });
      }
      return { request, from };
    });
  }

  private async renew(requestId: string, job: JobContext): Promise<void> {
    await this.deps.db.query(`UPDATE requests SET lease_until = now() + make_interval(secs => $3) WHERE id = $1 AND lease_owner = $2`, [requestId, this.deps.workerId, this.deps.leaseMs / 1000]);
    await job.touch();
  }

  private async release(requestId: string): Promise<void> {
    await this.deps.db.query(`UPDATE requests SET lease_until = now(), lease_owner = NULL WHERE id = $1 AND lease_owner = $2`, [requestId, this.deps.workerId]);
  }

  /** Runs (or resumes) the workflow of one request. Throws only for a retryable failure. */
  async run(requestId: string, job: JobContext): Promise<void> {
    const claimed = await this.claim(requestId);
    if (!claimed) {
      this.deps.log.debug({ requestId }, 'fulfilment: not claimable (done, running elsewhere or not approved)');
      return;
    }
    const r = claimed.request;
    const db = this.deps.db;
    const person = await findPerson(db, r.requesterEmail);
    const requester = person ? requesterAttributes(person) : { email: r.requesterEmail };
    const tctx: TemplateContext = { requester, fields: r.fields, request: { ref: r.ref, id: r.id, itemId: r.itemId, title: r.item.title }, steps: {} };
    const masked: TemplateContext = { ...tctx, fields: maskFields(r.item, r.fields) };
    const wf = r.item.workflow;

    for (const [i, s] of wf.entries()) {
      await db.query(
        `INSERT INTO fulfilment_steps (request_id, step_id, step_index, action, idempotency_key, status) VALUES ($1, $2, $3, $4, $5, 'pending')
         ON CONFLICT (request_id, step_id) DO NOTHING`, [r.id, s.id, i, s.action, `${r.id}:${s.id}`]);
    }
    const rows = new Map((await db.query<StepRow>('SELECT step_id, status, attempts, output FROM fulfilment_steps WHERE request_id = $1', [r.id])).rows.map((x) => [x.step_id, x]));
    if (claimed.from === 'approved') {
      await postMessage(db, r.requesterEmail, { kind: 'status', text: `${r.ref}: fulfilment started (${wf.length} step${wf.length === 1 ? '' : 's'}).` }, { conversationId: r.conversationId, key: `${r.id}:fulfilment-started` });
    }

    for (const [i, s] of wf.entries()) {
      const row = rows.get(s.id)!;
      if (row.status === 'done' || row.status === 'skipped') {
        tctx.steps[s.id] = row.output ?? {};
        masked.steps[s.id] = row.output ?? {};
        continue;
      }
      if (!holds(s.when, { fields: r.fields, requester })) {
        await db.query(`UPDATE fulfilment_steps SET status = 'skipped', finished_at = now() WHERE request_id = $1 AND step_id = $2 AND status <> 'done'`, [r.id, s.id]);
        await audit(db, { actor: 'system', action: 'step.skipped', subject: r.ref, detail: { step: s.id, when: s.when } });
        tctx.steps[s.id] = {};
        continue;
      }
      const input = renderTemplate(s.inputs, tctx) as Record<string, unknown>;
      const started = await db.query<{ attempts: number }>(
        `UPDATE fulfilment_steps SET status = 'running', attempts = attempts + 1, started_at = now(), input = $3, error = NULL
         WHERE request_id = $1 AND step_id = $2 AND status IN ('pending', 'running', 'failed') RETURNING attempts`,
        [r.id, s.id, JSON.stringify(renderTemplate(s.inputs, masked))],
      );
      if (!started.rows[0]) return; // another worker finished it meanwhile
      const attempt = started.rows[0].attempts;
      await this.renew(r.id, job);
      await audit(db, { actor: 'system', action: 'step.started', subject: r.ref, detail: { step: s.id, action: s.action, attempt, key: `${r.id}:${s.id}` } });

      const action = this.deps.actions.get(s.action);
      let output: Record<string, unknown>;
      try {
        if (!action) throw new ActionError(`no action named ${s.action}`, false);
        output = await action.run(input, { idempotencyKey: `${r.id}:${s.id}`, requestId: r.id, requestRef: r.ref, db, signal: AbortSignal.timeout(this.deps.stepTimeoutMs) });
      } catch (e) {
        const err = e instanceof ActionError ? e : new ActionError((e as Error).message, (e as Error).name === 'TimeoutError');
        await db.query(`UPDATE fulfilment_steps SET status = 'failed', error = $3, finished_at = now() WHERE request_id = $1 AND step_id = $2`, [r.id, s.id, err.message]);
        await audit(db, { actor: 'system', action: 'step.failed', subject: r.ref, detail: { step: s.id, attempt, retryable: err.retryable, error: err.message } });
        if (err.retryable && attempt < this.deps.maxAttempts) {
          await this.release(r.id);
          await recordEvent(db, r.id, { actor: 'system', kind: 'step.retry', reason: err.message, detail: { step: s.id, attempt } });
          throw err;
        }
        await this.failOver(r, s.id, err.message, attempt);
        return;
      }
      await db.query(`UPDATE fulfilment_steps SET status = 'done', output = $3, finished_at = now() WHERE request_id = $1 AND step_id = $2 AND status = 'running'`, [r.id, s.id, JSON.stringify(output)]);
      await audit(db, { actor: 'system', action: 'step.done', subject: r.ref, detail: { step: s.id, attempt } });
      tctx.steps[s.id] = output;
      masked.steps[s.id] = output;
      await postMessage(db, r.requesterEmail, { kind: 'status', text: `${r.ref}: step ${i + 1} of ${wf.length} done (${s.label ?? s.id}).` }, { conversationId: r.conversationId, key: `${r.id}:progress:${s.id}` });
    }

    await db.transaction(async (tx) => {
      const done = await transition(tx, r.id, ['in-fulfilment'], 'fulfilled', 'system');
      if (!done) return;
      await tx.query('UPDATE requests SET lease_owner = NULL, lease_until = NULL WHERE id = $1', [r.id]);
      await audit(tx, { actor: 'system', action: 'request.fulfilled', subject: r.ref });
      await postMessage(tx, r.requesterEmail, { kind: 'outcome', text: `${r.ref} is done: ${r.item.title} fulfilled.` }, { conversationId: r.conversationId, key: `${r.id}:fulfilled` });
    });
  }

  /** A step failed for good: the request fails and a person takes over through a case. */
  private async failOver(r: RequestRow, stepId: string, error: string, attempts: number): Promise<void> {
    await this.deps.db.transaction(async (tx) => {
      const failed = await transition(tx, r.id, ['in-fulfilment'], 'failed', 'system', `step ${stepId}: ${error}`);
      if (!failed) return;
      await tx.query('UPDATE requests SET lease_owner = NULL, lease_until = NULL WHERE id = $1', [r.id]);
      const c = await tx.query<{ ref: string }>(
        `INSERT INTO cases (ref, idempotency_key, request_id, title, description, queue, priority, person_email)
         VALUES ('CASE-' || lpad(nextval('case_ref_seq')::text, 6, '0'), $1, $2, $3, $4, 'fulfilment', 'high', $5)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING ref`,
        [`${r.id}:manual-fallback`, r.id, `Manual fulfilment: ${r.ref} ${r.item.title}`, `Step "${stepId}" failed after ${attempts} attempt(s): ${error}`, r.requesterEmail],
      );
      await audit(tx, { actor: 'system', action: 'request.failed', subject: r.ref, detail: { step: stepId, error, attempts, case: c.rows[0]?.ref ?? null } });
      await postMessage(tx, r.requesterEmail, { kind: 'outcome', text: `${r.ref}: an automatic step failed (${stepId}). A fulfiller has been given case ${c.rows[0]?.ref ?? ''} and will finish it by hand.` }, { conversationId: r.conversationId, key: `${r.id}:failed` });
    });
  }
}
