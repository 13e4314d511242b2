/**
 * Messages to people, stored before any channel delivers them (the web chat reads them by cursor;
 * Slack/Teams adapters deliver and may update them in place). An idempotency key makes a
 * replayed notification a no-op.
 */
import type { Queryable } from '../db/database.js';
import type { OutMessage } from './messages.js';

export interface StoredMessage { id: number; personEmail: string; conversationId: string | null; body: OutMessage; createdAt: Date; updatedAt: Date }

/** Stores a message for a person; returns its id, or undefined when the idempotency key was used already. */
export async function postMessage(q: Queryable, personEmail: string, body: OutMessage, opts: { conversationId?: string | null; key?: string } = {}): Promise<number | undefined> {
  const r = await q.query<{ id: string }>(
    `INSERT INTO messages (person_email, conversation_id, body, idempotency_key) VALUES ($1, $2, $3, $4)
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
    [personEmail, opts.conversationId ?? null, JSON.stringify(body), opts.key ?? null],
  );
  return r.rows[0] ? Number(r.rows[0].id) : undefined;
}

const toMsg = (r: Record<string, unknown>): StoredMessage => ({
  id: Number(r.id), personEmail: r.person_email as string, conversationId: r.conversation_id as string | null,
  body: r.body as OutMessage, createdAt: r.created_at as Date, updatedAt: r.updated_at as Date,
});

/** Messages for a person after cursor `after`, oldest first. */
export async function messagesAfter(q: Queryable, personEmail: string, after: number, limit = 200): Promise<StoredMessage[]> {
  const r = await q.query('SELECT * FROM messages WHERE person_email = $1 AND id > $2 ORDER BY id LIMIT $3', [personEmail, after, limit]);
  return r.rows.map(toMsg);
}

/** Messages for a person changed in place since `since` (e.g. an approval card that was decided). */
export async function messagesUpdatedSince(q: Queryable, personEmail: string, since: Date): Promise<StoredMessage[]> {
  const r = await q.query('SELECT * FROM messages WHERE person_email = $1 AND updated_at > $2 AND updated_at > created_at ORDER BY id', [personEmail, since]);
  return r.rows.map(toMsg);
}

/** Marks every message about an approval or triage item as resolved (buttons gone, outcome shown). */
export async function resolveMessages(q: Queryable, link: { approvalId?: string; triageId?: string }, resolved: string): Promise<number> {
  const [key, id] = link.approvalId ? ['approvalId', link.approvalId] : ['triageId', link.triageId];
  const r = await q.query(
    `UPDATE messages SET body = (body - 'buttons' - 'choices') || jsonb_build_object('resolved', $2::text), updated_at = clock_timestamp()
     WHERE body->>'${key}' = $1`,
    [id, resolved],
  );
  return r.rowCount ?? 0;
}
