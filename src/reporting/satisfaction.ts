/**
 * Satisfaction ratings. When a request is fulfilled the requester gets a channel-neutral prompt with
 * five buttons (`rating:<requestId>:<1-5>`) in the request's conversation, through the outbox. A
 * click reaches `SatisfactionService.rate` from the conversation core, whatever the channel: only
 * the requester may rate, once (a conditional UPDATE ... WHERE rating IS NULL); the prompt then
 * loses its buttons and shows the rating, which every channel renders in place.
 */
import { audit } from '../audit/audit.repository.js';
import type { Database, Queryable } from '../db/database.js';
import type { OutMessage } from '../conversation/messages.js';
import { postMessage } from '../conversation/outbox.repository.js';

/** The button ids of a rating prompt. */
export const RATING_ACTION = /^rating:([0-9a-f-]{36}):([1-5])$/;

const LABELS = ['1 · poor', '2', '3', '4', '5 · excellent'];

const promptKey = (requestId: string) => `${requestId}:rating-prompt`;

/** The rating prompt for a fulfilled request. */
export function ratingPrompt(r: { id: string; ref: string; title: string }): OutMessage {
  return {
    kind: 'info',
    text: `How did ${r.ref} (${r.title}) go? Rate it from 1 (poor) to 5 (excellent).`,
    buttons: LABELS.map((label, i) => ({ id: `rating:${r.id}:${i + 1}`, label, ...(i === 4 ? { style: 'primary' as const } : {}) })),
  };
}

/** Asks the requester of a fulfilled request for a rating (once per request; idempotent). */
export async function promptRating(q: Queryable, r: { id: string; ref: string; itemId: string; requesterEmail: string; conversationId: string | null; item: { title: string } }): Promise<void> {
  const ins = await q.query(`INSERT INTO satisfaction_ratings (request_id, requester_email, item_id) VALUES ($1, $2, $3) ON CONFLICT (request_id) DO NOTHING`, [r.id, r.requesterEmail, r.itemId]);
  if (!ins.rowCount) return;
  await postMessage(q, r.requesterEmail, ratingPrompt({ id: r.id, ref: r.ref, title: r.item.title }), { conversationId: r.conversationId, key: promptKey(r.id) });
}

export type RateResult = { ok: true; message: string; rating: number } | { ok: false; reason: 'not-found' | 'not-requester' | 'already-rated'; message: string };

export class SatisfactionService {
  constructor(private readonly db: Database) {}

  /** The requester rates their fulfilled request, once. Others are refused (audited). */
  async rate(requestId: string, actorEmail: string, rating: number, channel: string): Promise<RateResult> {
    const actor = actorEmail.toLowerCase();
    if (!Number.isInteger(rating) || rating < 1 || rating > 5) return { ok: false, reason: 'not-found', message: 'A rating is a whole number from 1 to 5.' };
    return this.db.transaction(async (tx): Promise<RateResult> => {
      const ref = (await tx.query<{ ref: string }>('SELECT ref FROM requests WHERE id = $1', [requestId])).rows[0]?.ref;
      const u = await tx.query(
        `UPDATE satisfaction_ratings SET rating = $3, rated_at = now(), channel = $4 WHERE request_id = $1 AND requester_email = $2 AND rating IS NULL RETURNING request_id`,
        [requestId, actor, rating, channel]);
      if (u.rowCount) {
        await audit(tx, { actor, action: 'satisfaction.rated', subject: ref, detail: { rating, channel } });
        await tx.query(
          `UPDATE messages SET body = (body - 'buttons') || jsonb_build_object('resolved', $2::text), updated_at = clock_timestamp() WHERE idempotency_key = $1`,
          [promptKey(requestId), `You rated it ${rating} of 5. Thank you!`]);
        return { ok: true, rating, message: `Thank you! You rated ${ref} ${rating} of 5.` };
      }
      const cur = (await tx.query<{ requester_email: string; rating: number | null }>('SELECT requester_email, rating FROM satisfaction_ratings WHERE request_id = $1', [requestId])).rows[0];
      if (!cur || !ref) return { ok: false, reason: 'not-found', message: 'There is no rating to give for that request.' };
      if (cur.requester_email !== actor) {
        await audit(tx, { actor, action: 'satisfaction.refused', subject: ref, detail: { why: 'not the requester', rating } });
        return { ok: false, reason: 'not-requester', message: `Only the person who requested ${ref} can rate it.` };
      }
      return { ok: false, reason: 'already-rated', message: `You already rated ${ref} (${cur.rating} of 5).` };
    });
  }
}

export interface SatisfactionStats {
  /** Requests whose requester was asked. */
  prompted: number;
  /** Ratings given. */
  count: number;
  mean: number | null;
  /** How many of each rating, 1 to 5. */
  distribution: Record<'1' | '2' | '3' | '4' | '5', number>;
  responseRate: number | null;
}

/** Ratings per item for requests whose prompt went out in [from, to) (rated at any time since). */
export async function satisfactionByItem(q: Queryable, o: { from: Date; to: Date; items?: string[] }): Promise<Map<string, SatisfactionStats>> {
  const r = await q.query<{ item_id: string; prompted: number; n: number; mean: number | null; d1: number; d2: number; d3: number; d4: number; d5: number }>(
    `SELECT item_id, count(*)::int AS prompted, count(rating)::int AS n, avg(rating)::float8 AS mean,
       count(*) FILTER (WHERE rating = 1)::int AS d1, count(*) FILTER (WHERE rating = 2)::int AS d2, count(*) FILTER (WHERE rating = 3)::int AS d3,
       count(*) FILTER (WHERE rating = 4)::int AS d4, count(*) FILTER (WHERE rating = 5)::int AS d5
     FROM satisfaction_ratings WHERE prompted_at >= $1 AND prompted_at < $2 AND ($3::text[] IS NULL OR item_id = ANY($3)) GROUP BY item_id`,
    [o.from, o.to, o.items ?? null]);
  return new Map(r.rows.map((x) => [x.item_id, toStats(x)]));
}

export function toStats(x: { prompted: number; n: number; mean: number | null; d1: number; d2: number; d3: number; d4: number; d5: number }): SatisfactionStats {
  return {
    prompted: x.prompted, count: x.n, mean: x.mean === null ? null : round(x.mean, 2),
    distribution: { 1: x.d1, 2: x.d2, 3: x.d3, 4: x.d4, 5: x.d5 },
    responseRate: x.prompted ? round(x.n / x.prompted, 4) : null,
  };
}

/** Adds up per-item statistics (for an overall line). */
export function mergeStats(list: SatisfactionStats[]): SatisfactionStats {
  const d = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 0 };
  let prompted = 0;
  for (const s of list) { prompted += s.prompted; for (const k of [1, 2, 3, 4, 5] as const) d[k] += s.distribution[k]; }
  const n = d[1] + d[2] + d[3] + d[4] + d[5];
  const mean = n ? (d[1] + 2 * d[2] + 3 * d[3] + 4 * d[4] + 5 * d[5]) / n : null;
  return toStats({ prompted, n, mean, d1: d[1], d2: d[2], d3: d[3], d4: d[4], d5: d[5] });
}

export const round = (x: number, digits: number): number => { const f = 10 ** digits; return Math.round(x * f) / f; };
