/**
 * Submission throttling (catalogue `throttle`): at most `max` requests of an item per person, and
 * per item overall, within a sliding window. Checked inside the submission transaction under a
 * transaction-scoped advisory lock per (item, person) and per item, so two concurrent submissions
 * cannot both slip under the limit.
 */
import type { CatalogueItem } from '../catalogue/schema.js';
import type { Queryable } from '../db/database.js';
import { AppError } from '../errors.js';

/** Throws AppError THROTTLED (with `retryAt`) when a limit is reached. */
export async function enforceThrottle(tx: Queryable, item: CatalogueItem, requesterEmail: string): Promise<void> {
  const t = item.throttle;
  if (!t) return;
  const check = async (scope: 'person' | 'item', max: number, windowMinutes: number) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`throttle:${item.id}:${scope === 'person' ? requesterEmail : '*'}`]);
    const r = await tx.query<{ n: number; oldest: Date | null }>(
      `SELECT count(*)::int AS n, min(created_at) AS oldest FROM (
         SELECT created_at FROM requests WHERE item_id = $1 AND ($2::text IS NULL OR requester_email = $2)
           AND created_at > now() - make_interval(mins => $3) ORDER BY created_at DESC LIMIT $4) recent`,
      [item.id, scope === 'person' ? requesterEmail : null, windowMinutes, max]);
    const { n, oldest } = r.rows[0]!;
    if (n >= max) {
      const retryAt = new Date((oldest ?? new Date()).getTime() + windowMinutes * 60_000);
      const when = retryAt.toISOString().slice(11, 16);
      const who = scope === 'person' ? 'You have' : 'Everyone together has';
      throw new AppError('THROTTLED', `${who} reached the limit for ${item.title}: at most ${max} per ${windowMinutes} minutes. You can try again after ${when} UTC.`, { scope, retryAt: retryAt.toISOString(), max, windowMinutes });
    }
  };
  if (t.perPerson) await check('person', t.perPerson.max, t.perPerson.windowMinutes);
  if (t.perItem) await check('item', t.perItem.max, t.perItem.windowMinutes);
}
