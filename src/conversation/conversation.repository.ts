/**
 * Conversation state and its lock. The lock is a lease taken by a conditional UPDATE, so no
 * database connection is held while a message is processed and a crashed holder's lock expires.
 * Within one process a keyed mutex queues messages of the same conversation (no polling).
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import type { DialogState } from './dialog-engine.js';

const LEASE_SECONDS = 30;
const local = new Map<string, Promise<void>>();

export interface ConversationLock { token: string; state: DialogState; personEmail: string }

async function tryLease(q: Queryable, id: string, channel: string, personEmail: string, token: string): Promise<ConversationLock | undefined> {
  await q.query(`INSERT INTO conversations (id, channel, person_email) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [id, channel, personEmail]);
  const r = await q.query<{ state: DialogState; person_email: string }>(
    `UPDATE conversations SET locked_by = $2, locked_until = now() + make_interval(secs => $3)
     WHERE id = $1 AND (locked_until IS NULL OR locked_until < now()) RETURNING state, person_email`,
    [id, token, LEASE_SECONDS],
  );
  return r.rows[0] ? { token, state: r.rows[0].state, personEmail: r.rows[0].person_email } : undefined;
}

/**
 * Runs `fn` holding the conversation's lock; `fn` returns the new state, saved before the lock is
 * released. Waits (up to ~35 s) for another holder.
 */
export async function withConversation<T>(
  q: Queryable, id: string, channel: string, personEmail: string,
  fn: (lock: ConversationLock) => Promise<{ state: DialogState; result: T }>,
): Promise<T> {
  const prev = local.get(id) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => { done = r; });
  const chain = prev.then(() => mine);
  local.set(id, chain);
  await prev;
  try {
    const token = randomUUID();
    let lock: ConversationLock | undefined;
    for (let waited = 0; !(lock = await tryLease(q, id, channel, personEmail, token)); waited += 50) {
      if (waited > (LEASE_SECONDS + 5) * 1000) throw new Error(`conversation ${id} is locked`);
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      const { state, result } = await fn(lock);
      await q.query('UPDATE conversations SET state = $3, version = version + 1, updated_at = now() WHERE id = $1 AND locked_by = $2', [id, token, JSON.stringify(state)]);
      return result;
    } finally {
      await q.query('UPDATE conversations SET locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2', [id, token]);
    }
  } finally {
    done();
    if (local.get(id) === chain) local.delete(id);
  }
}

/** The conversation a person last used on a channel (to continue a dialog after triage). */
export async function latestConversationOf(q: Queryable, personEmail: string): Promise<{ id: string; channel: string } | undefined> {
  const r = await q.query<{ id: string; channel: string }>('SELECT id, channel FROM conversations WHERE person_email = $1 ORDER BY updated_at DESC LIMIT 1', [personEmail]);
  return r.rows[0];
}
