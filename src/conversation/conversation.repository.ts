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

export interface ConversationLock {
  token: string; state: DialogState; personEmail: string;
  /** Set when the turn (`o.turn`) was completed before (its state saved): a retry must not run it again. */
  turnDone?: boolean;
}

/**
 * A turn of the durable chat inbox (src/channels/chat-inbox.ts): `key` identifies the stored event.
 * The lease is taken with the owner `turn:<key>`, so a retry of a turn that died holding it (database
 * gone mid-turn) takes it back at once; the state is saved together with the record that the turn
 * completed (one statement), so a retry after that point does nothing.
 */
export interface TurnOptions { turn?: string }

const TURN_CHANNEL = 'turn';

async function tryLease(q: Queryable, id: string, channel: string, personEmail: string, token: string): Promise<ConversationLock | undefined> {
  await q.query(`INSERT INTO conversations (id, channel, person_email) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, [id, channel, personEmail]);
  const r = await q.query<{ state: DialogState; person_email: string }>(
    `UPDATE conversations SET locked_by = $2, locked_until = now() + make_interval(secs => $3)
     WHERE id = $1 AND (locked_until IS NULL OR locked_until < now() OR locked_by = $2) RETURNING state, person_email`,
    [id, token, LEASE_SECONDS],
  );
  return r.rows[0] ? { token, state: r.rows[0].state, personEmail: r.rows[0].person_email } : undefined;
}

/**
 * Runs `fn` holding the conversation's lock; `fn` returns the new state, saved before the lock is
 * released. Waits (up to ~35 s) for another holder. With `o.turn`, see TurnOptions.
 */
export async function withConversation<T>(
  q: Queryable, id: string, channel: string, personEmail: string,
  fn: (lock: ConversationLock) => Promise<{ state: DialogState; result: T }>,
  o: TurnOptions = {},
): Promise<T> {
  const prev = local.get(id) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => { done = r; });
  const chain = prev.then(() => mine);
  local.set(id, chain);
  await prev;
  try {
    const token = o.turn ? `turn:${o.turn}` : randomUUID();
    let lock: ConversationLock | undefined;
    for (let waited = 0; !(lock = await tryLease(q, id, channel, personEmail, token)); waited += 50) {
      if (waited > (LEASE_SECONDS + 5) * 1000) throw new Error(`conversation ${id} is locked`);
      await new Promise((r) => setTimeout(r, 50));
    }
    try {
      if (o.turn) lock.turnDone = (await q.query(`SELECT 1 FROM inbound_dedupe WHERE channel = '${TURN_CHANNEL}' AND key = $1`, [o.turn])).rows.length > 0;
      const { state, result } = await fn(lock);
      if (o.turn) {
        // one statement: the state and the record that this turn is complete commit together
        await q.query(
          `WITH saved AS (UPDATE conversations SET state = $3, version = version + 1, updated_at = now() WHERE id = $1 AND locked_by = $2 RETURNING id)
           INSERT INTO inbound_dedupe (channel, key, owner) SELECT '${TURN_CHANNEL}', $4, $1 FROM saved ON CONFLICT DO NOTHING`,
          [id, token, JSON.stringify(state), o.turn]);
      } else {
        await q.query('UPDATE conversations SET state = $3, version = version + 1, updated_at = now() WHERE id = $1 AND locked_by = $2', [id, token, JSON.stringify(state)]);
      }
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
