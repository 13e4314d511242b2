/**
 * The durable chat inbox (migration 023), the chat channels' counterpart of `email_inbound`.
 *
 * A chat event errand must act on (a Slack DM or @mention, a Teams message) is stored here after its
 * signature or token was verified and before the platform gets its 2xx: `receive()` is a conditional
 * insert on (channel, delivery key), so a redelivery or replay of a stored event is a duplicate (2xx,
 * nothing more), and when the insert fails (database down) the adapter answers 5xx and the platform
 * delivers again. Slack and Teams never redeliver an acknowledged event, so nothing acknowledged is lost.
 *
 * The processor claims stored events (FOR UPDATE SKIP LOCKED, a lease of LEASE_SECONDS) right after a
 * receive (`kick()`) and on a timer (events stored while processing failed, or by an instance that
 * died), and runs the channel's handler. A handler must be safe to run again after a partial failure:
 * the conversation turn is (InboundEvent.deliveryKey), and delivery keys in inbound_dedupe belong to
 * their row (`claimDelivery`). A failure is retried after a short pause; a failure because the
 * database is unreachable does not count as an attempt; the third counted failure (or lease expiry:
 * the instance died) marks the row failed, logged, audited and handed to `onFailed`.
 */
import { audit } from '../audit/audit.repository.js';
import type { Database, Queryable } from '../db/database.js';
import type { Logger } from '../log.js';

/** A stored event's lease while it is processed; an instance that dies holding it leaves it to another after this. */
export const LEASE_SECONDS = 60;
/** Counted failed attempts before an event is marked failed. */
export const MAX_ATTEMPTS = 3;

export interface ChatInboundRow {
  id: number; channel: string; deliveryKey: string; payload: unknown; attempts: number; progress: Record<string, unknown>;
}

export interface ChatInboxDeps {
  db: Database;
  log: Logger;
  /** The channel whose rows this processor claims (`slack`, `teams`). */
  channel: string;
  /** Processes one stored event; throws to have it retried. */
  handle: (row: ChatInboundRow) => Promise<void>;
  /** After the last failed attempt (the row is marked failed): e.g. tell the person. Errors are logged. */
  onFailed?: (row: ChatInboundRow, error: string) => Promise<void>;
  /** Rows processed side by side (default 8): one slow turn does not hold up the others. */
  concurrency?: number;
  /** Pause before a failed row is tried again (default: 1 s, then 5 s). */
  retryDelayMs?: (attempts: number) => number;
}

/** Removes NUL characters from every string (PostgreSQL stores none in jsonb: such an event could never be stored). */
export function withoutNuls(v: unknown): unknown {
  if (typeof v === 'string') return v.includes('\u0000') ? v.replace(/\u0000/g, '') : v;
  if (Array.isArray(v)) return v.map(withoutNuls);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [String(withoutNuls(k)), withoutNuls(x)]));
  return v;
}

/** Stores an event unless its key was stored before. */
export async function insertChatInbound(q: Queryable, e: { channel: string; key: string; payload: unknown }): Promise<'stored' | 'duplicate'> {
  const r = await q.query(
    `INSERT INTO chat_inbound (channel, delivery_key, payload) VALUES ($1, $2, $3) ON CONFLICT (channel, delivery_key) DO NOTHING`,
    [e.channel, e.key, JSON.stringify(withoutNuls(e.payload))]);
  return (r.rowCount ?? 0) > 0 ? 'stored' : 'duplicate';
}

/** Takes the oldest event of a channel that is due (received and not held back, or its processing instance's lease ran out). */
export async function claimChatInbound(q: Queryable, channel: string): Promise<ChatInboundRow | undefined> {
  const r = await q.query(
    `UPDATE chat_inbound SET status = 'processing', attempts = attempts + 1, claimed_until = now() + make_interval(secs => $3)
     WHERE id = (SELECT id FROM chat_inbound WHERE channel = $1 AND status IN ('received', 'processing')
                   AND (claimed_until IS NULL OR claimed_until < now()) AND attempts < $2
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING id, channel, delivery_key, payload, attempts, progress`, [channel, MAX_ATTEMPTS, LEASE_SECONDS]);
  const x = r.rows[0];
  return x ? { id: Number(x.id), channel: x.channel, deliveryKey: x.delivery_key, payload: x.payload, attempts: x.attempts, progress: x.progress ?? {} } : undefined;
}

/** Notes what a half-done attempt did outside the database (merged into the row's `progress`). */
export async function noteProgress(q: Queryable, id: number, progress: Record<string, unknown>): Promise<void> {
  await q.query(`UPDATE chat_inbound SET progress = progress || $2::jsonb WHERE id = $1`, [id, JSON.stringify(progress)]);
}

async function finish(q: Queryable, id: number): Promise<void> {
  await q.query(`UPDATE chat_inbound SET status = 'done', processed_at = now(), claimed_until = NULL WHERE id = $1`, [id]); // last_error stays: it failed before
}

/** Back in the queue after `delayMs`; `counted` false gives the attempt back (the database was unreachable). */
// Both only touch the row as this attempt claimed it (not after another instance took it over).
async function retryLater(q: Queryable, row: ChatInboundRow, error: string, delayMs: number, counted: boolean): Promise<void> {
  await q.query(
    `UPDATE chat_inbound SET status = 'received', claimed_until = now() + make_interval(secs => $3), last_error = $2,
       attempts = CASE WHEN $4 THEN attempts ELSE greatest(attempts - 1, 0) END
     WHERE id = $1 AND status = 'processing' AND attempts = $5`, [row.id, error.slice(0, 1000), delayMs / 1000, counted, row.attempts]);
}

async function markFailed(q: Queryable, row: ChatInboundRow, error: string): Promise<void> {
  await q.query(`UPDATE chat_inbound SET status = 'failed', processed_at = now(), claimed_until = NULL, last_error = $2 WHERE id = $1 AND status = 'processing' AND attempts = $3`,
    [row.id, error.slice(0, 1000), row.attempts]);
}

/** Events whose processing instance died on every attempt: marked failed; returns them. */
export async function abandonStuckChat(q: Queryable, channel: string): Promise<ChatInboundRow[]> {
  const r = await q.query(
    `UPDATE chat_inbound SET status = 'failed', processed_at = now(), claimed_until = NULL,
       last_error = coalesce(last_error, 'processing did not finish') || ' (' || attempts || ' attempts)'
     WHERE channel = $1 AND status IN ('received', 'processing') AND claimed_until < now() AND attempts >= $2
     RETURNING id, channel, delivery_key, payload, attempts, progress`, [channel, MAX_ATTEMPTS]);
  return r.rows.map((x) => ({ id: Number(x.id), channel: x.channel, deliveryKey: x.delivery_key, payload: x.payload, attempts: x.attempts, progress: x.progress ?? {} }));
}

/** Forgets processed events after `days` (failed ones after `failedDays`, kept for a look). */
export async function pruneChatInbound(q: Queryable, days = 7, failedDays = 30): Promise<number> {
  const r = await q.query(
    `DELETE FROM chat_inbound WHERE (status = 'done' AND processed_at < now() - make_interval(days => $1))
       OR (status = 'failed' AND processed_at < now() - make_interval(days => $2))`, [days, failedDays]);
  return r.rowCount ?? 0;
}

/**
 * Records an inbound delivery key for the inbox row `owner`; false when another delivery recorded it
 * (a duplicate). The same owner passes again: a retried turn is not dropped by its own key.
 */
export async function claimDelivery(q: Queryable, channel: string, key: string, owner: string): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO inbound_dedupe (channel, key, owner) VALUES ($1, $2, $3)
     ON CONFLICT (channel, key) DO UPDATE SET owner = inbound_dedupe.owner WHERE inbound_dedupe.owner = EXCLUDED.owner RETURNING 1`,
    [channel, key, owner]);
  return r.rows.length > 0;
}

/** True for errors that mean the database could not be reached (a restart, a dropped connection), not that the work is wrong. */
export function isDatabaseUnavailable(e: unknown): boolean {
  const x = e as { code?: unknown; message?: unknown } | undefined;
  const code = typeof x?.code === 'string' ? x.code : '';
  if (/^(08|57P0)/.test(code) || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code)) return true;
  const m = typeof x?.message === 'string' ? x.message : '';
  return /Connection terminated|connection error|terminating connection|Client was closed|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery)|Cannot use a pool after calling end/i.test(m);
}

export class ChatInbox {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Until start(): events are stored, not processed. */
  private stopped = true;
  private lastHousekeeping = 0;
  /** Rows whose failure could not be recorded yet (database down): recorded on the next passes. */
  private unrecorded = new Map<number, { error: string; delayMs: number; counted: boolean; row: ChatInboundRow; final: boolean }>();

  constructor(private readonly d: ChatInboxDeps) {}

  /** Stores an event (throws when the database cannot be written: answer the platform 5xx then). */
  receive(key: string, payload: unknown): Promise<'stored' | 'duplicate'> {
    return insertChatInbound(this.d.db, { channel: this.d.channel, key, payload });
  }

  start(everyMs = 1000): void {
    this.stopped = false;
    this.timer = setInterval(() => { void this.kick(); }, everyMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for the pass in progress (rows not finished stay claimable). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Runs a pass now (or right after the current one); never rejects. */
  kick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      try {
        do { this.again = false; await this.pass(); } while (this.again && !this.stopped);
      } catch (e) {
        this.d.log.warn({ err: (e as Error).message, channel: this.d.channel }, 'chat inbox pass failed');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** Processes every due event (several side by side); returns how many were handled. */
  async pass(): Promise<number> {
    await this.recordPending();
    let n = 0;
    const worker = async () => {
      while (!this.stopped) {
        const row = await claimChatInbound(this.d.db, this.d.channel);
        if (!row) return;
        await this.process(row);
        n++;
      }
    };
    await Promise.all(Array.from({ length: this.d.concurrency ?? 8 }, worker));
    if (Date.now() - this.lastHousekeeping > 3_600_000) {
      this.lastHousekeeping = Date.now();
      for (const row of await abandonStuckChat(this.d.db, this.d.channel)) await this.failed(row, 'processing did not finish (the instance stopped or died on every attempt)');
      await pruneChatInbound(this.d.db);
    }
    return n;
  }

  private async process(row: ChatInboundRow): Promise<void> {
    try {
      await this.d.handle(row);
    } catch (e) {
      const error = (e as Error)?.message ?? String(e);
      const counted = !isDatabaseUnavailable(e);
      const final = counted && row.attempts >= MAX_ATTEMPTS;
      const delayMs = this.d.retryDelayMs?.(row.attempts) ?? (row.attempts <= 1 || !counted ? 1000 : 5000);
      this.d.log.warn({ err: error, channel: row.channel, key: row.deliveryKey, attempt: row.attempts, final }, 'chat inbox: processing failed');
      await this.record(row, { error, delayMs, counted, row, final });
      return;
    }
    try {
      await finish(this.d.db, row.id);
    } catch (e) {
      // the turn is complete; a retry after the lease finds it so (completed turns are not repeated)
      this.d.log.warn({ err: (e as Error).message, key: row.deliveryKey }, 'chat inbox: could not mark an event done');
    }
  }

  private async record(row: ChatInboundRow, f: { error: string; delayMs: number; counted: boolean; row: ChatInboundRow; final: boolean }): Promise<void> {
    try {
      if (f.final) {
        await markFailed(this.d.db, row, f.error);
        await this.failed(row, f.error);
      } else {
        await retryLater(this.d.db, row, f.error, f.delayMs, f.counted);
      }
      this.unrecorded.delete(row.id);
    } catch {
      // database unreachable: keep it here and record it on the next pass (the timer runs one a second),
      // so the retry does not wait for the lease
      this.unrecorded.set(row.id, f);
    }
  }

  private async recordPending(): Promise<void> {
    for (const [id, f] of [...this.unrecorded]) {
      await this.record(f.row, f);
      if (this.unrecorded.has(id)) return; // still down
    }
  }

  private async failed(row: ChatInboundRow, error: string): Promise<void> {
    this.d.log.error({ err: error, channel: row.channel, key: row.deliveryKey, attempts: row.attempts }, 'chat inbox: event given up after repeated failures');
    await audit(this.d.db, { actor: 'system', action: 'chat.inbound-failed', subject: `${row.channel}:${row.deliveryKey}`.slice(0, 200), detail: { attempts: row.attempts, error: error.slice(0, 500) } })
      .catch((e: Error) => this.d.log.error({ err: e.message }, 'chat inbox: could not audit a failed event'));
    await this.d.onFailed?.(row, error).catch((e: Error) => this.d.log.error({ err: e.message, key: row.deliveryKey }, 'chat inbox: could not tell about a failed event'));
  }
}
