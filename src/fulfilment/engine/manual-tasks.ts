/**
 * Manual fallback: a step marked `manual: allowed` whose backend is unavailable becomes a task in
 * the fulfiller queue (a case linked to the request and step, with the item's exception procedure
 * and the step's masked inputs). Fulfillers complete it as done or failed (overrides.service.ts).
 */
import type { WorkflowStepDef } from '../../catalogue/schema.js';
import { renderTemplate } from '../../catalogue/template.js';
import { audit } from '../../audit/audit.repository.js';
import type { Queryable } from '../../db/database.js';
import { peopleWithRole } from '../../directory/directory.repository.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { RunContext } from '../fulfilment-runner.js';
import { setStepState } from './step-store.js';
import { openCase } from '../../cases/case.repository.js';
import { runbookBlock, runbookFields, runbooksFor } from '../../catalogue/versions/runbooks.js';

export async function createManualTask(db: Queryable, rc: RunContext, s: WorkflowStepDef, reason: string, token?: string): Promise<string> {
  const { r } = rc;
  const inputs = JSON.stringify(renderTemplate(s.inputs, rc.masked));
  const runbooks = runbooksFor(r.item, s.id); // the request's own catalogue version (its snapshot)
  const { ref } = await openCase(db, {
    key: `${r.id}:${s.id}:manual`, requestId: r.id, title: `Manual step: ${s.label ?? s.id} for ${r.ref} (${r.item.title})`, queue: 'fulfilment', priority: 'high', person: r.requesterEmail, reopen: true,
    description: `Automation could not run: ${reason}.\nDo by hand: ${s.action} with ${inputs}.${r.item.exceptionProcedure ? `\nProcedure: ${r.item.exceptionProcedure}` : ''}${runbookBlock(runbooks)}`,
  });
  for (const f of await peopleWithRole(db, 'fulfiller')) {
    await postMessage(db, f.email, {
      kind: 'prompt',
      text: `Manual task ${ref}: ${s.label ?? s.id} for ${r.ref} (${r.item.title}). Automation could not run: ${reason}.${r.item.exceptionProcedure ? `\nProcedure: ${r.item.exceptionProcedure}` : ''}`,
      ...(runbooks.length ? { fields: runbookFields(runbooks) } : {}),
      buttons: [{ id: `task:${r.id}:${s.id}:done`, label: 'Mark done', style: 'primary' }, { id: `task:${r.id}:${s.id}:failed`, label: 'Mark failed', style: 'danger' }],
    }, { key: `${r.id}:${s.id}:manual:${f.email}` });
  }
  await postMessage(db, r.requesterEmail, { kind: 'status', text: `${r.ref}: "${s.label ?? s.id}" is waiting for a person at the service desk (${ref}); the system it needs is not available right now.` }, { conversationId: r.conversationId, key: `${r.id}:${s.id}:manual:requester` });
  // the step turns `manual` last, so whoever sees that state also finds the task and its messages
  await setStepState(db, r.id, s.id, { status: 'manual', error: reason, token, manualCase: ref });
  await audit(db, { actor: 'system', action: 'step.manual', subject: r.ref, detail: { step: s.id, case: ref, reason } });
  return ref;
}
