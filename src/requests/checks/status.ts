/**
 * The `waitlisted` request status (migration 020): a submitted request waiting for a licence seat.
 * It is open (it counts for duplicates, the person's status list and "cancel REQ-…"), has no
 * approvals yet, and moves to `submitted` → approval routing by itself when its seat is reserved.
 */
import type { Queryable } from '../../db/database.js';
import { OPEN_STATUSES, type RequestStatus } from '../request.repository.js';

/** The status a request waits in for a licence seat (accepted by the database since migration 020). */
export const WAITLISTED: RequestStatus = 'waitlisted';

/** Open statuses including the waitlist. */
export const OPEN_OR_WAITING: RequestStatus[] = OPEN_STATUSES; // waitlisted is one of them

/** A request's stage in plain words, for messages that point to it ("waiting for approval: Line manager"). */
export async function stageOf(q: Queryable, r: { id: string; status: string }): Promise<string> {
  if (r.status === 'awaiting-approval') {
    const a = (await q.query<{ label: string }>(`SELECT label FROM approvals WHERE request_id = $1 AND status = 'pending' ORDER BY step_index LIMIT 1`, [r.id])).rows[0];
    return `waiting for approval${a ? `: ${a.label}` : ''}`;
  }
  const words: Record<string, string> = {
    submitted: 'just submitted', approved: 'approved, queued for fulfilment', 'in-fulfilment': 'being fulfilled', waitlisted: 'waiting for a licence seat',
    fulfilled: 'done', failed: 'failed', denied: 'denied', cancelled: 'cancelled',
  };
  return words[r.status] ?? r.status;
}
