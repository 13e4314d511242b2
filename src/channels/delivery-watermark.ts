/**
 * A per-channel watermark over the outbox (`messages`), so a delivery pass costs O(pending), not O(history).
 *
 * `floor`: every message with id <= floor is finished for this channel (delivered, given up on, or not
 * for it). A pass selects only `m.id > floor` (a range scan of the primary key) instead of anti-joining
 * the whole outbox against every delivery row; after the pass the floor moves up to just below the
 * oldest message that is still unfinished (the dispatcher's own query says what unfinished means).
 *
 * The trap is commit order: ids come from a sequence when a row is inserted, not when it commits, so
 * message 100 can become visible after message 101. The floor therefore never passes an id that an
 * open transaction may still hold. Each pass samples the sequence's last value together with the
 * snapshot's xmax; a sample S is "settled" once the current snapshot's xmin is >= the xmax of a sample
 * taken at least `settleMs` after S (by then every transaction that drew an id <= S's value had written
 * its row and so had an xid below that later xmax; xmin past it means all of them have ended). Only ids
 * up to the newest settled sample count. The floor is kept in `delivery_watermarks` (monotonic
 * GREATEST), so a restart or a second instance starts from it instead of from the whole history.
 */
import type { Queryable } from '../db/database.js';

interface Sample { seq: bigint; xmax: bigint; at: number }

export class DeliveryWatermark {
  private floorValue: bigint | undefined;
  private samples: Sample[] = [];

  constructor(private readonly db: Queryable, readonly channel: string, private readonly settleMs = 1000, private readonly now: () => number = Date.now) {}

  /** The current floor (loaded once from the database). */
  async floor(): Promise<string> {
    if (this.floorValue === undefined) {
      const r = await this.db.query<{ floor: string }>('SELECT floor::text AS floor FROM delivery_watermarks WHERE channel = $1', [this.channel]);
      this.floorValue = BigInt(r.rows[0]?.floor ?? '0');
    }
    return this.floorValue.toString();
  }

  /**
   * Moves the floor up. `oldestUnfinished(floor, upTo)` returns the smallest id in (floor, upTo] that is not
   * finished for this channel, or null when all are. Call it after a pass; it samples the sequence too.
   */
  async advance(oldestUnfinished: (floor: string, upTo: string) => Promise<string | null>): Promise<string> {
    const floor = BigInt(await this.floor());
    const r = await this.db.query<{ seq: string; xmin: string; xmax: string }>(
      `SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM messages_id_seq)::text AS seq,
              pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_snapshot_xmax(pg_current_snapshot())::text AS xmax`);
    const row = r.rows[0]!;
    const at = this.now();
    const xmin = BigInt(row.xmin);
    this.samples.push({ seq: BigInt(row.seq), xmax: BigInt(row.xmax), at });
    // the newest sample whose transactions have all ended, judged by a later one (see the header)
    let settled: Sample | undefined;
    const closers = this.samples.filter((s) => s.xmax <= xmin);
    const closer = closers[closers.length - 1];
    if (closer) for (const s of this.samples) if (s.at <= closer.at - this.settleMs) settled = s;
    // keep what can still matter: the settled sample onwards (and never an unbounded list)
    if (settled) this.samples = this.samples.filter((s) => s.at >= settled.at);
    if (this.samples.length > 1000) this.samples = this.samples.slice(-1000);
    if (!settled || settled.seq <= floor) return floor.toString();
    const oldest = await oldestUnfinished(floor.toString(), settled.seq.toString());
    const next = oldest === null ? settled.seq : BigInt(oldest) - 1n;
    if (next <= floor) return floor.toString();
    this.floorValue = next;
    await this.db.query(
      `INSERT INTO delivery_watermarks (channel, floor) VALUES ($1, $2)
       ON CONFLICT (channel) DO UPDATE SET floor = GREATEST(delivery_watermarks.floor, EXCLUDED.floor), updated_at = now()`,
      [this.channel, next.toString()]);
    return next.toString();
  }
}
