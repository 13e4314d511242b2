/**
 * Compensation after a terminal failure: completed steps that declare `undo` are undone in reverse
 * order of completion (each undo idempotent by `<requestId>:<stepId>:undo` and retried a few
 * times); the request ends `failed`, "rolled back" or "rollback incomplete" with a manual task,
 * and the requester and the item's owner are told in plain words.
 */
import { renderTemplate } from '../../catalogue/template.js';
import { audit } from '../../audit/audit.repository.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import { transition } from '../../requests/request.repository.js';
import { openCase } from '../../cases/case.repository.js';
import type { FulfilmentDeps, RunContext } from '../fulfilment-runner.js';
import { classify } from './step-policy.js';
import { setUndo, type StepRow } from './step-store.js';
import { runbookBlock, runbooksFor } from '../../catalogue/versions/runbooks.js';

const UNDO_ATTEMPTS = 3;

export async function compensate(deps: FulfilmentDeps, rc: RunContext, rows: Map<string, StepRow>, failedStep: string, error: string): Promise<void> {
  const { r, tctx } = rc;
  const db = deps.db;
  const byId = new Map(r.item.workflow.map((s) => [s.id, s]));
  // every completed step with an undo; those undone already (by a run that crashed before the
  // request was marked failed) count as rolled back, not as "nothing to roll back"
  const undoable = [...rows.values()].filter((x) => x.status === 'done' && byId.get(x.stepId)?.undo);
  const toUndo = undoable
    .filter((x) => x.undoStatus !== 'done')
    .sort((a, b) => (b.finishedAt?.getTime() ?? 0) - (a.finishedAt?.getTime() ?? 0));
  const failedUndos: string[] = [];
  for (const row of toUndo) {
    const step = byId.get(row.stepId)!;
    const input = renderTemplate(step.undo!.inputs, tctx) as Record<string, unknown>;
    let last = '';
    let ok = false;
    for (let attempt = 1; attempt <= UNDO_ATTEMPTS && !ok; attempt++) {
      try {
        await deps.invoker.invoke(step.undo!.action, input, { idempotencyKey: `${r.id}:${row.stepId}:undo`, requestId: r.id, requestRef: r.ref, db, signal: AbortSignal.timeout(step.timeoutMs ?? deps.stepTimeoutMs) });
        ok = true;
      } catch (e) {
        const c = classify(e);
        last = c.message;
        await audit(db, { actor: 'system', action: 'step.undo-failed', subject: r.ref, detail: { step: row.stepId, attempt, error: c.message, retryable: c.retryable } });
        if (!c.retryable) break;
        await new Promise((res) => setTimeout(res, 200 * 2 ** (attempt - 1)));
      }
    }
    await setUndo(db, r.id, row.stepId, ok ? 'done' : 'failed', ok ? null : last);
    if (ok) await audit(db, { actor: 'system', action: 'step.undone', subject: r.ref, detail: { step: row.stepId, undo: step.undo!.action } });
    else failedUndos.push(row.stepId);
  }

  const failedLabel = byId.get(failedStep)?.label ?? failedStep;
  const rolledBack = undoable.length > 0 && failedUndos.length === 0;
  const outcome = undoable.length === 0 ? 'nothing to roll back' : rolledBack ? 'rolled back' : `rollback incomplete (${failedUndos.join(', ')}): manual task created`;
  await db.transaction(async (tx) => {
    const failed = await transition(tx, r.id, ['in-fulfilment'], 'failed', 'system', `step ${failedStep} failed: ${error}; ${outcome}`);
    if (!failed) return;
    await tx.query('UPDATE requests SET lease_owner = NULL, lease_until = NULL WHERE id = $1', [r.id]);
    let caseRef: string | undefined;
    if (!rolledBack) {
      caseRef = (await openCase(tx, {
        key: `${r.id}:manual-fallback`, requestId: r.id, title: `Manual fulfilment: ${r.ref} ${r.item.title}`, queue: 'fulfilment', priority: 'high', person: r.requesterEmail,
        description: `Step "${failedStep}" failed: ${error}. ${failedUndos.length ? `Could not undo: ${failedUndos.join(', ')}.` : ''}${r.item.exceptionProcedure ? `\nProcedure: ${r.item.exceptionProcedure}` : ''}${runbookBlock(runbooksFor(r.item, failedStep))}`,
      })).ref;
    }
    await audit(tx, { actor: 'system', action: 'request.failed', subject: r.ref, detail: { step: failedStep, error, outcome, undone: undoable.map((x) => x.stepId).filter((x) => !failedUndos.includes(x)), case: caseRef ?? null } });
    const text = rolledBack
      ? `${r.ref}: ${r.item.title} could not be completed: "${failedLabel}" failed (${error}). Everything already done was undone, so nothing is half-finished. The service desk has been told.`
      : `${r.ref}: an automatic step failed (${failedLabel}: ${error}). A fulfiller has been given case ${caseRef ?? ''} and will finish it by hand.${failedUndos.length ? ' Some changes could not be undone automatically; the case covers them.' : ''}`;
    await postMessage(tx, r.requesterEmail, { kind: 'outcome', text }, { conversationId: r.conversationId, key: `${r.id}:failed` });
    await postMessage(tx, r.item.owner.contact.toLowerCase(), { kind: 'outcome', text: `Owner notice: ${r.ref} (${r.item.title}) failed at "${failedLabel}": ${error}. Outcome: ${outcome}.` }, { key: `${r.id}:failed:owner` });
  });
}
