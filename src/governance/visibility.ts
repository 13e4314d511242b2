/**
 * Who may see a request: the requester; its approvers; triage staff and fulfillers when it is in
 * their queue (a case or manual task for it); auditors and admins (everything, masked). Nobody else.
 */
import type { Queryable } from '../db/database.js';
import type { Person } from '../directory/directory.repository.js';

export async function canViewRequest(q: Queryable, person: Person, request: { id: string; requesterEmail: string }): Promise<boolean> {
  if (person.email === request.requesterEmail) return true;
  if (person.roles.some((r) => r === 'auditor' || r === 'admin')) return true;
  const approver = await q.query('SELECT 1 FROM approvals WHERE request_id = $1 AND $2 = ANY(approvers) LIMIT 1', [request.id, person.email]);
  if (approver.rowCount) return true;
  if (person.roles.some((r) => r === 'fulfiller' || r === 'triage')) {
    const queued = await q.query(`SELECT 1 FROM cases WHERE request_id = $1 UNION ALL SELECT 1 FROM fulfilment_steps WHERE request_id = $1 AND status = 'manual' LIMIT 1`, [request.id]);
    return (queued.rowCount ?? 0) > 0;
  }
  return false;
}
