/**
 * Turns an approval step of the catalogue into the people who may decide it. The requester is
 * never among them (no self-approval). When a step resolves to nobody (no manager on file, an
 * empty group), it falls back to people with the `approver` role, then `admin`, and says so.
 */
import type { ApprovalStepDef } from '../catalogue/schema.js';
import type { Queryable } from '../db/database.js';
import { normEmail, peopleInGroup, peopleWithRole, type Person } from '../directory/directory.repository.js';

export interface ResolvedApprovers { approvers: string[]; fallback?: string }

export async function resolveApprovers(q: Queryable, step: ApprovalStepDef, requester: Person, answers: Record<string, unknown>): Promise<ResolvedApprovers> {
  const a = step.approver;
  let emails: string[] = [];
  switch (a.kind) {
    case 'manager': emails = requester.manager ? [requester.manager] : []; break;
    case 'role': emails = (await peopleWithRole(q, a.role)).map((p) => p.email); break;
    case 'group': emails = (await peopleInGroup(q, a.group)).map((p) => p.email); break;
    case 'person': emails = [a.email]; break;
    case 'data-owner': {
      const v = answers[a.field];
      const owner = typeof v === 'string' ? a.owners[v] : undefined;
      emails = owner ? [owner] : [];
      break;
    }
  }
  const eligible = (xs: string[]) => [...new Set(xs.map(normEmail))].filter((e) => e !== requester.email);
  const approvers = eligible(emails);
  if (approvers.length) return { approvers };
  for (const role of ['approver', 'admin']) {
    const fb = eligible((await peopleWithRole(q, role)).map((p) => p.email));
    if (fb.length) return { approvers: fb, fallback: `no eligible ${a.kind} approver for step "${step.id}"; routed to role ${role}` };
  }
  return { approvers: [], fallback: `no eligible approver for step "${step.id}"` };
}
