/**
 * Licence pools: a product's seats, cost per seat and owner (managed by admins through
 * `errand licence` and `/admin/api/licences`, every change audited), the seats held by requests,
 * and the waitlist.
 *
 * - A seat is reserved inside the submission transaction under the pool row's lock (`SELECT ... FOR
 *   UPDATE`), so concurrent submissions for the last seat never over-allocate: the second one waits
 *   for the first to commit, then counts again. Seats promised to the waitlist are not free for
 *   newcomers (first come, first served).
 * - `settle()` derives the seats' state from the requests: consumed when fulfilled; released when
 *   denied, cancelled or failed, or when every just-in-time grant of the request has ended. Each change
 *   is one conditional UPDATE ... RETURNING, so it happens (and is audited) once however many
 *   instances settle at the same time. Then free seats go to the oldest waiting requests.
 */
import { audit } from '../../audit/audit.repository.js';
import type { Database, Queryable } from '../../db/database.js';
import { recordEvent } from '../request.repository.js';
import { PRODUCT_PATTERN } from './schema.js';

export interface LicencePool {
  product: string; title: string | null; seats: number; costPerSeat: number; owner: string;
  reserved: number; consumed: number; used: number; waiting: number; free: number; updatedAt: Date; updatedBy: string | null;
}

export interface WaitlistEntry { product: string; position: number; ref: string; requester: string; since: Date; requestStatus: string }

export type PoolInput = { product: string; title?: string | null; seats: number; costPerSeat?: number; owner: string };
export type PoolPatch = { title?: string | null; seats?: number; costPerSeat?: number; owner?: string };

export class LicenceError extends Error {
  constructor(readonly status: 400 | 404 | 409, message: string) { super(message); }
}

const POOL_SELECT = `SELECT p.product, p.title, p.seats, p.cost_per_seat, p.owner, p.updated_at, p.updated_by,
  (SELECT count(*)::int FROM licence_reservations r WHERE r.product = p.product AND r.status = 'reserved') AS reserved,
  (SELECT count(*)::int FROM licence_reservations r WHERE r.product = p.product AND r.status = 'consumed') AS consumed,
  (SELECT count(*)::int FROM licence_waitlist w WHERE w.product = p.product AND w.status = 'waiting') AS waiting
  FROM licence_pools p`;

function toPool(r: Record<string, unknown>): LicencePool {
  const reserved = r.reserved as number, consumed = r.consumed as number, seats = r.seats as number, waiting = r.waiting as number;
  return {
    product: r.product as string, title: r.title as string | null, seats, costPerSeat: Number(r.cost_per_seat), owner: r.owner as string,
    reserved, consumed, used: reserved + consumed, waiting, free: Math.max(0, seats - reserved - consumed - waiting),
    updatedAt: r.updated_at as Date, updatedBy: r.updated_by as string | null,
  };
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function checkPool(p: { product?: string; seats?: number; costPerSeat?: number; owner?: string }): void {
  if (p.product !== undefined && !PRODUCT_PATTERN.test(p.product)) throw new LicenceError(400, `product "${p.product}": expected a key like "visio" (lower-case letters, digits and -)`);
  if (p.seats !== undefined && (!Number.isInteger(p.seats) || p.seats < 0 || p.seats > 1_000_000)) throw new LicenceError(400, `seats: expected a whole number from 0 to 1000000, got ${p.seats}`);
  if (p.costPerSeat !== undefined && (!Number.isFinite(p.costPerSeat) || p.costPerSeat < 0)) throw new LicenceError(400, `costPerSeat: expected an amount of 0 or more, got ${p.costPerSeat}`);
  if (p.owner !== undefined && !EMAIL.test(p.owner)) throw new LicenceError(400, `owner: expected the e-mail of the pool's owner, got "${p.owner}"`);
}

export type ReserveOutcome = { kind: 'reserved'; seats: number; used: number } | { kind: 'full'; seats: number; used: number; waiting: number } | { kind: 'no-pool' };

export class LicenceService {
  constructor(private readonly db: Database) {}

  async listPools(q: Queryable = this.db): Promise<LicencePool[]> {
    return (await q.query(`${POOL_SELECT} ORDER BY p.product`)).rows.map(toPool);
  }

  async getPool(product: string, q: Queryable = this.db): Promise<LicencePool | undefined> {
    const r = await q.query(`${POOL_SELECT} WHERE p.product = $1`, [product]);
    return r.rows[0] ? toPool(r.rows[0]) : undefined;
  }

  async addPool(p: PoolInput, actor: string): Promise<LicencePool> {
    checkPool(p);
    return this.db.transaction(async (tx) => {
      const ins = await tx.query(`INSERT INTO licence_pools (product, title, seats, cost_per_seat, owner, updated_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (product) DO NOTHING`,
        [p.product, p.title ?? null, p.seats, p.costPerSeat ?? 0, p.owner.toLowerCase(), actor]);
      if (!ins.rowCount) throw new LicenceError(409, `a licence pool "${p.product}" exists already; change it with "set"`);
      const pool = (await this.getPool(p.product, tx))!;
      await audit(tx, { actor, action: 'licence.pool-added', subject: `licence:${p.product}`, detail: { title: pool.title, seats: pool.seats, costPerSeat: pool.costPerSeat, owner: pool.owner } });
      return pool;
    });
  }

  /** Changes a pool; seats cannot go below what is reserved or consumed. */
  async updatePool(product: string, patch: PoolPatch, actor: string): Promise<LicencePool> {
    checkPool(patch);
    return this.db.transaction(async (tx) => {
      const locked = await tx.query('SELECT product FROM licence_pools WHERE product = $1 FOR UPDATE', [product]);
      if (!locked.rowCount) throw new LicenceError(404, `no licence pool "${product}"`);
      const before = (await this.getPool(product, tx))!;
      if (patch.seats !== undefined && patch.seats < before.used) {
        throw new LicenceError(409, `${product}: cannot set seats to ${patch.seats}, ${before.used} are in use (${before.reserved} reserved, ${before.consumed} consumed)`);
      }
      await tx.query(`UPDATE licence_pools SET title = COALESCE($2, title), seats = COALESCE($3, seats), cost_per_seat = COALESCE($4, cost_per_seat),
        owner = COALESCE($5, owner), updated_at = now(), updated_by = $6 WHERE product = $1`,
      [product, patch.title ?? null, patch.seats ?? null, patch.costPerSeat ?? null, patch.owner?.toLowerCase() ?? null, actor]);
      const after = (await this.getPool(product, tx))!;
      const changed = Object.fromEntries((['title', 'seats', 'costPerSeat', 'owner'] as const).filter((k) => before[k] !== after[k]).map((k) => [k, { from: before[k], to: after[k] }]));
      await audit(tx, { actor, action: 'licence.pool-changed', subject: `licence:${product}`, detail: { changed } });
      return after;
    });
  }

  /** Waiting requests, in order (one product or all). */
  async waitlist(product?: string, q: Queryable = this.db): Promise<WaitlistEntry[]> {
    const r = await q.query(
      `SELECT w.product, row_number() OVER (PARTITION BY w.product ORDER BY w.id)::int AS position, r.ref, w.person_email, w.created_at, r.status
       FROM licence_waitlist w JOIN requests r ON r.id = w.request_id
       WHERE w.status = 'waiting' AND ($1::text IS NULL OR w.product = $1) ORDER BY w.product, w.id`, [product ?? null]);
    return r.rows.map((x) => ({ product: x.product, position: x.position, ref: x.ref, requester: x.person_email, since: x.created_at, requestStatus: x.status }));
  }

  /** Seats free for a newcomer (read only: for the dialog and the submission's first look). */
  async availability(product: string, q: Queryable = this.db): Promise<LicencePool | undefined> {
    return this.getPool(product, q);
  }

  /** Reserves a seat for `requestId` inside the caller's transaction (the pool row stays locked until it commits). */
  async reserve(tx: Queryable, product: string, request: { id: string; ref: string }, personEmail: string): Promise<ReserveOutcome> {
    const pool = await tx.query<{ seats: number }>('SELECT seats FROM licence_pools WHERE product = $1 FOR UPDATE', [product]);
    if (!pool.rows[0]) return { kind: 'no-pool' };
    const seats = pool.rows[0].seats;
    const c = (await tx.query<{ used: number; waiting: number }>(
      `SELECT (SELECT count(*)::int FROM licence_reservations WHERE product = $1 AND status IN ('reserved', 'consumed')) AS used,
              (SELECT count(*)::int FROM licence_waitlist WHERE product = $1 AND status = 'waiting' AND request_id <> $2) AS waiting`, [product, request.id])).rows[0]!;
    if (c.used + c.waiting >= seats) return { kind: 'full', seats, used: c.used, waiting: c.waiting };
    await tx.query(`INSERT INTO licence_reservations (product, request_id, person_email, status) VALUES ($1, $2, $3, 'reserved')`, [product, request.id, personEmail]);
    await recordEvent(tx, request.id, { actor: 'system', kind: 'licence.reserved', reason: `a ${product} seat is reserved (${c.used + 1} of ${seats} in use)`, detail: { product } });
    await audit(tx, { actor: 'system', action: 'licence.seat-reserved', subject: request.ref, detail: { product, used: c.used + 1, seats } });
    return { kind: 'reserved', seats, used: c.used + 1 };
  }

  /** Puts the request on the product's waitlist (inside the submission transaction); returns its position. */
  async joinWaitlist(tx: Queryable, product: string, request: { id: string; ref: string }, personEmail: string): Promise<number> {
    await tx.query(`INSERT INTO licence_waitlist (product, request_id, person_email, status) VALUES ($1, $2, $3, 'waiting') ON CONFLICT (product, request_id) DO NOTHING`, [product, request.id, personEmail]);
    const pos = (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM licence_waitlist WHERE product = $1 AND status = 'waiting'`, [product])).rows[0]!.n;
    await recordEvent(tx, request.id, { actor: 'system', kind: 'licence.waitlisted', reason: `no free ${product} seat: waiting (position ${pos})`, detail: { product, position: pos } });
    await audit(tx, { actor: 'system', action: 'licence.waitlisted', subject: request.ref, detail: { product, position: pos } });
    return pos;
  }

  /**
   * Brings the seats in line with the requests (see the file comment), then gives free seats to the
   * waitlist. Returns the waitlisted requests that now hold every seat they wait for (to resume).
   */
  async settle(): Promise<{ released: number; consumed: number; resumable: string[] }> {
    const released = await this.db.query<{ id: string; product: string; request_id: string; ref: string; reason: string }>(
      `UPDATE licence_reservations l SET status = 'released', released_at = now(), release_reason = 'request ' || r.status
       FROM requests r WHERE r.id = l.request_id AND l.status IN ('reserved', 'consumed') AND r.status IN ('denied', 'cancelled', 'failed')
       RETURNING l.id, l.product, l.request_id, r.ref, l.release_reason AS reason`);
    const expired = await this.db.query<{ id: string; product: string; request_id: string; ref: string; reason: string }>(
      `UPDATE licence_reservations l SET status = 'released', released_at = now(), release_reason = 'access ended'
       FROM requests r WHERE r.id = l.request_id AND l.status = 'consumed'
         AND EXISTS (SELECT 1 FROM grants g WHERE g.request_id = l.request_id)
         AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.request_id = l.request_id AND g.status IN ('active', 'revoking'))
       RETURNING l.id, l.product, l.request_id, r.ref, l.release_reason AS reason`);
    for (const x of [...released.rows, ...expired.rows]) {
      await recordEvent(this.db, x.request_id, { actor: 'system', kind: 'licence.released', reason: `the ${x.product} seat was released (${x.reason})`, detail: { product: x.product } });
      await audit(this.db, { actor: 'system', action: 'licence.seat-released', subject: x.ref, detail: { product: x.product, reason: x.reason } });
    }
    const consumed = await this.db.query<{ product: string; request_id: string; ref: string }>(
      `UPDATE licence_reservations l SET status = 'consumed', consumed_at = now()
       FROM requests r WHERE r.id = l.request_id AND l.status = 'reserved' AND r.status = 'fulfilled'
       RETURNING l.product, l.request_id, r.ref`);
    for (const x of consumed.rows) {
      await recordEvent(this.db, x.request_id, { actor: 'system', kind: 'licence.consumed', reason: `the ${x.product} seat is now in use`, detail: { product: x.product } });
      await audit(this.db, { actor: 'system', action: 'licence.seat-consumed', subject: x.ref, detail: { product: x.product } });
    }
    // requests that stopped waiting by another way (cancelled while on the waitlist) leave it
    const left = await this.db.query<{ product: string; request_id: string; ref: string; status: string }>(
      `UPDATE licence_waitlist w SET status = 'left', updated_at = now() FROM requests r
       WHERE r.id = w.request_id AND w.status = 'waiting' AND r.status <> 'waitlisted' RETURNING w.product, w.request_id, r.ref, r.status`);
    for (const x of left.rows) await audit(this.db, { actor: 'system', action: 'licence.waitlist-left', subject: x.ref, detail: { product: x.product, requestStatus: x.status } });
    await this.promote();
    const resumable = (await this.db.query<{ id: string }>(
      `SELECT r.id FROM requests r WHERE r.status = 'waitlisted'
       AND NOT EXISTS (SELECT 1 FROM licence_waitlist w WHERE w.request_id = r.id AND w.status = 'waiting') ORDER BY r.created_at`)).rows.map((x) => x.id);
    return { released: released.rows.length + expired.rows.length, consumed: consumed.rows.length, resumable };
  }

  /** Gives free seats to the oldest waiting requests, one seat per transaction under the pool lock. */
  private async promote(): Promise<void> {
    const products = (await this.db.query<{ product: string }>(`SELECT DISTINCT product FROM licence_waitlist WHERE status = 'waiting'`)).rows.map((x) => x.product);
    for (const product of products) {
      for (;;) {
        const promoted = await this.db.transaction(async (tx) => {
          const pool = (await tx.query<{ seats: number }>('SELECT seats FROM licence_pools WHERE product = $1 FOR UPDATE', [product])).rows[0];
          if (!pool) return false;
          const used = (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM licence_reservations WHERE product = $1 AND status IN ('reserved', 'consumed')`, [product])).rows[0]!.n;
          if (used >= pool.seats) return false;
          const next = (await tx.query<{ id: string; request_id: string; person_email: string; ref: string }>(
            `SELECT w.id, w.request_id, w.person_email, r.ref FROM licence_waitlist w JOIN requests r ON r.id = w.request_id
             WHERE w.product = $1 AND w.status = 'waiting' AND r.status = 'waitlisted' ORDER BY w.id LIMIT 1 FOR UPDATE OF w SKIP LOCKED`, [product])).rows[0];
          if (!next) return false;
          await tx.query(`UPDATE licence_waitlist SET status = 'promoted', updated_at = now() WHERE id = $1`, [next.id]);
          await tx.query(`INSERT INTO licence_reservations (product, request_id, person_email, status) VALUES ($1, $2, $3, 'reserved')
            ON CONFLICT (product, request_id) DO UPDATE SET status = 'reserved', reserved_at = now(), released_at = NULL, release_reason = NULL`, [product, next.request_id, next.person_email]);
          await recordEvent(tx, next.request_id, { actor: 'system', kind: 'licence.reserved', reason: `a ${product} seat became free and is reserved (${used + 1} of ${pool.seats} in use)`, detail: { product, fromWaitlist: true } });
          await audit(tx, { actor: 'system', action: 'licence.seat-reserved', subject: next.ref, detail: { product, used: used + 1, seats: pool.seats, fromWaitlist: true } });
          return true;
        });
        if (!promoted) break;
      }
    }
  }
}
