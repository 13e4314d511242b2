/**
 * The step rows of a request's workflow (fulfilment_steps): one per step with its idempotency
 * key, status, attempts, next attempt time, fencing token, output and compensation state.
 * Every transition is conditional, so a worker that lost its lease cannot overwrite a newer run.
 */
import type { Queryable } from '../../db/database.js';

export type StepStatus = 'pending' | 'running' | 'waiting' | 'done' | 'failed' | 'skipped' | 'manual';

export interface StepRow {
  stepId: string;
  stepIndex: number;
  status: StepStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  output: Record<string, unknown> | null;
  error: string | null;
  finishedAt: Date | null;
  undoStatus: 'done' | 'failed' | 'none' | null;
  manualCase: string | null;
}

const toRow = (r: Record<string, unknown>): StepRow => ({
  stepId: r.step_id as string, stepIndex: r.step_index as number, status: r.status as StepStatus, attempts: r.attempts as number,
  nextAttemptAt: r.next_attempt_at as Date | null, output: r.output as Record<string, unknown> | null, error: r.error as string | null,
  finishedAt: r.finished_at as Date | null, undoStatus: r.undo_status as StepRow['undoStatus'], manualCase: r.manual_case as string | null,
});

export async function ensureSteps(q: Queryable, requestId: string, steps: { id: string; action: string }[]): Promise<void> {
  for (const [i, s] of steps.entries()) {
    await q.query(
      `INSERT INTO fulfilment_steps (request_id, step_id, step_index, action, idempotency_key, status) VALUES ($1, $2, $3, $4, $5, 'pending')
       ON CONFLICT (request_id, step_id) DO NOTHING`, [requestId, s.id, i, s.action, `${requestId}:${s.id}`]);
  }
}

export async function loadSteps(q: Queryable, requestId: string): Promise<Map<string, StepRow>> {
  const r = await q.query('SELECT * FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index', [requestId]);
  return new Map(r.rows.map((x) => { const row = toRow(x); return [row.stepId, row]; }));
}

/** Marks a step running with a new fencing token; returns its attempt number, or undefined if it is not runnable. */
export async function startStep(q: Queryable, requestId: string, stepId: string, token: string, maskedInput: unknown): Promise<number | undefined> {
  const r = await q.query<{ attempts: number }>(
    `UPDATE fulfilment_steps SET status = 'running', attempts = attempts + 1, run_token = $3, started_at = now(), input = $4, error = NULL, next_attempt_at = NULL
     WHERE request_id = $1 AND step_id = $2 AND status IN ('pending', 'waiting', 'running') RETURNING attempts`,
    [requestId, stepId, token, JSON.stringify(maskedInput)]);
  return r.rows[0]?.attempts;
}

/** Completes a run, only if this run still owns the step (fencing). */
export async function finishStep(q: Queryable, requestId: string, stepId: string, token: string, output: unknown): Promise<boolean> {
  const r = await q.query(
    `UPDATE fulfilment_steps SET status = 'done', output = $4, finished_at = clock_timestamp() WHERE request_id = $1 AND step_id = $2 AND run_token = $3 AND status = 'running'`,
    [requestId, stepId, token, JSON.stringify(output)]);
  return (r.rowCount ?? 0) > 0;
}

/** Sets a step's state after a failed or deferred run (waiting with a next attempt, failed, manual). */
export async function setStepState(q: Queryable, requestId: string, stepId: string, s: { status: StepStatus; error?: string | null; nextAttemptAt?: Date | null; token?: string; undoAttempt?: boolean; manualCase?: string }): Promise<boolean> {
  const r = await q.query(
    `UPDATE fulfilment_steps SET status = $3, error = COALESCE($4, error), next_attempt_at = $5, finished_at = CASE WHEN $3 IN ('failed', 'skipped') THEN clock_timestamp() ELSE finished_at END,
       attempts = CASE WHEN $7 THEN GREATEST(attempts - 1, 0) ELSE attempts END, manual_case = COALESCE($8, manual_case)
     WHERE request_id = $1 AND step_id = $2 AND ($6::text IS NULL OR run_token = $6) AND status NOT IN ('done', 'skipped')`,
    [requestId, stepId, s.status, s.error ?? null, s.nextAttemptAt ?? null, s.token ?? null, s.undoAttempt ?? false, s.manualCase ?? null]);
  return (r.rowCount ?? 0) > 0;
}

export async function setUndo(q: Queryable, requestId: string, stepId: string, status: 'done' | 'failed' | 'none', error: string | null): Promise<void> {
  await q.query('UPDATE fulfilment_steps SET undo_status = $3, undo_error = $4 WHERE request_id = $1 AND step_id = $2', [requestId, stepId, status, error]);
}
