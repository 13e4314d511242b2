/**
 * Delivers outbox messages to Slack and keeps delivered ones up to date.
 *
 * Which messages: those in a Slack conversation (`slack:<channel>[:<thread ts>]`), and those with
 * no conversation (approval cards, notifications, triage cards) for people who are in Slack.
 * Triage cards go once to the configured triage channel instead of to each agent.
 *
 * Exactly-once-ish: a delivery row (channel, key) is inserted before posting, so two dispatchers
 * never post the same message; a crash between the insert and Slack's answer leaves a `sending`
 * row that is retried after a while (Slack has no idempotency key, so that one case may repeat).
 * A message changed in place (an approval decided) is re-rendered with chat.update.
 *
 * In parallel, in order (delivery-lanes.ts): sends are grouped in lanes per Slack channel (a message
 * without a conversation: per person, whose DM it goes to), each lane in outbox order (a message, then
 * its updates), up to `parallel` lanes at once. A slow channel holds only its own lane; a pass started
 * while it is still busy skips it and looks again when it has finished.
 * Rate limits: the delivery client rejects a 429 at once (the shared Bolt client would pause every
 * call of the process for Retry-After); that channel and method then wait Retry-After (in memory, and
 * in the delivery row, so another instance waits too: the 429 does not count as an attempt), while
 * every other lane goes on. A failed send also stops its lane until the row's retry, so a later
 * message never overtakes an earlier one of the same channel in this process.
 * Cost per pass: O(pending), not O(history) — a watermark over the outbox (delivery-watermark.ts) and
 * updates read through an index of recently changed messages.
 */
import { WebClient, WebClientEvent } from '@slack/web-api';
import type { Database } from '../../db/database.js';
import type { OutMessage } from '../../conversation/messages.js';
import type { Logger } from '../../log.js';
import { DeliveryLoop } from '../delivery-loop.js';
import { BackOff, LanePool, type LaneStep } from '../delivery-lanes.js';
import { DeliveryWatermark } from '../delivery-watermark.js';
import type { ChatMetrics } from '../../observability/metrics.js';
import { renderMessage } from './block-kit.js';
import type { SlackIdentities } from './slack-identity.js';

/** `version` is messages.updated_at as text: full microsecond precision, unlike a JS Date. */
interface Pending { id: string; person_email: string; conversation_id: string | null; body: OutMessage; version: string }
interface Changed { message_id: string; dedupe_key: string; target: string; external_id: string; body: OutMessage; version: string }

export interface SlackTarget { channel: string; threadTs?: string }

/** Parses `slack:<channel>[:<thread ts>]`. */
export function parseSlackConversation(id: string | null): SlackTarget | undefined {
  const m = id ? /^slack:([A-Z0-9]+)(?::(\d+\.\d+))?$/.exec(id) : null;
  return m ? { channel: m[1]!, ...(m[2] ? { threadTs: m[2] } : {}) } : undefined;
}

/** Which messages Slack delivers (SQL over `m`): its conversations, and recent conversation-less ones for people not known to be outside Slack. */
const SLACK_MESSAGES = `(m.conversation_id LIKE 'slack:%' OR (m.conversation_id IS NULL AND m.created_at > now() - interval '1 day'))
  AND NOT EXISTS (SELECT 1 FROM channel_identities ci WHERE ci.channel = 'slack:none' AND ci.person_email = m.person_email)`;

/**
 * Messages to send now, above the watermark ($1): no delivery row yet, or a failed one due for a retry,
 * or a `sending` one left by a crash. At most 20 per conversation, so one long backlog cannot fill the pass.
 */
export const SLACK_PENDING_SQL = `SELECT id, person_email, conversation_id, body, version FROM (
  SELECT m.id, m.person_email, m.conversation_id, m.body, m.updated_at::text AS version,
         row_number() OVER (PARTITION BY COALESCE(m.conversation_id, m.person_email) ORDER BY m.id) AS nth
  FROM messages m
  WHERE m.id > $1 AND ${SLACK_MESSAGES}
    AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.channel = 'slack' AND d.message_id = m.id
                    AND NOT ((d.status = 'failed' AND d.attempts < 5 AND d.updated_at < now() - interval '30 seconds')
                             OR (d.status = 'sending' AND d.updated_at < now() - interval '2 minutes')))) p
  WHERE nth <= 20 ORDER BY id LIMIT 200`;

/** The oldest message in ($1, $2] not finished for Slack (no row, being sent, or failed with attempts left). */
const SLACK_OLDEST_UNFINISHED_SQL = `SELECT min(m.id)::text AS id FROM messages m
  WHERE m.id > $1 AND m.id <= $2 AND ${SLACK_MESSAGES}
    AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.channel = 'slack' AND d.message_id = m.id
                    AND (d.status IN ('sent', 'unknown') OR (d.status = 'failed' AND d.attempts >= 5)))`;

/**
 * Delivered messages changed since (an approval decided): through messages_changed_idx, the last day's
 * changes only (an update Slack keeps refusing for a day is given up). Written so that stale statistics
 * cannot turn it into a scan of every delivery: the changed messages first (materialised), then one
 * index probe per message (the OFFSET 0 keeps the lateral subquery from being flattened into a join).
 */
const SLACK_CHANGED_SQL = `WITH changed AS MATERIALIZED (
    SELECT m.id, m.body, m.updated_at FROM messages m
    WHERE m.updated_at > m.created_at AND m.updated_at > now() - interval '1 day' ORDER BY m.updated_at LIMIT 1000)
  SELECT c.id AS message_id, d.dedupe_key, d.target, d.external_id, c.body, c.updated_at::text AS version
  FROM changed c CROSS JOIN LATERAL (
    SELECT d.dedupe_key, d.target, d.external_id FROM channel_deliveries d
    WHERE d.message_id = c.id AND d.channel = 'slack' AND d.status = 'sent' AND d.external_id IS NOT NULL AND c.updated_at > d.delivered_body
    OFFSET 0) d
  LIMIT 200`;

/** Seconds to wait when Slack answered 429 (the delivery client rejects rate-limited calls). */
const retryAfterOf = (e: unknown): number | undefined => {
  const x = e as { code?: string; retryAfter?: number };
  return x.code === 'slack_webapi_rate_limited_error' ? Math.max(1, x.retryAfter ?? 1) : undefined;
};

const isRateLimited = (e: unknown): boolean => retryAfterOf(e) !== undefined;

/** How long a failed send holds its lane (the row's own retry comes after 30 s). */
const FAILED_HOLD_MS = 31_000;

export interface SlackDispatcherOptions {
  /** Lanes (Slack channels) delivered at once; default 8. */
  parallel?: number;
  /** The client that posts; default: one like `client` that rejects 429s instead of pausing. */
  deliveryClient?: WebClient;
}

/** A client for deliveries: same token and API URL, 429 rejected at once (we back off per channel). */
export function deliveryClientFor(client: WebClient): WebClient {
  return new WebClient(client.token, {
    slackApiUrl: client.slackApiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 1, minTimeout: 200, maxTimeout: 1000 },
  });
}

export class SlackDispatcher extends DeliveryLoop {
  private readonly api: WebClient;
  private readonly lanes: LanePool;
  private readonly backoff = new BackOff(() => { void this.kick(); });
  private readonly watermark: DeliveryWatermark;
  private readonly inflight = new Map<string, Promise<void>>();
  private pass: Promise<Promise<void>[]> | undefined;
  private passAgain = false;
  private stopped = false;
  private advancing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    client: WebClient,
    private readonly ids: SlackIdentities,
    private readonly triageChannel: string | undefined,
    log: Logger,
    metrics?: ChatMetrics,
    opts: SlackDispatcherOptions = {},
  ) {
    super(log, 'slack', metrics);
    client.on(WebClientEvent.RATE_LIMITED, () => this.rateLimited());
    this.api = opts.deliveryClient ?? deliveryClientFor(client);
    if (this.api !== client) this.api.on(WebClientEvent.RATE_LIMITED, () => this.rateLimited());
    this.lanes = new LanePool(Math.max(1, opts.parallel ?? 8));
    this.watermark = new DeliveryWatermark(db, 'slack');
  }

  /**
   * Runs a pass now (passes do not overlap; a kick during one runs one more) and resolves when the lanes
   * it started have finished. A lane still busy from an earlier pass is waited for, then looked at again.
   */
  override async kick(): Promise<void> {
    if (this.stopped) return;
    const started = await this.passes();
    const busy = [...new Set(started)];
    await Promise.all(busy);
  }

  override async stop(): Promise<void> {
    this.stopped = true;
    await super.stop();
    await this.pass;
    await Promise.all([...this.inflight.values()]);
    await this.advancing;
  }

  /** One pass, waiting for the lanes it started. Returns how many Slack calls it made. */
  async tick(): Promise<number> {
    const counter = { calls: 0 };
    await Promise.all(await this.dispatch(counter));
    return counter.calls;
  }

  /** Runs passes until no kick asked for another; returns the lanes they started or found busy. */
  private passes(): Promise<Promise<void>[]> {
    if (this.pass) { this.passAgain = true; return this.pass; }
    this.pass = (async () => {
      const all: Promise<void>[] = [];
      try {
        do { this.passAgain = false; all.push(...await this.dispatch({ calls: 0 })); } while (this.passAgain && !this.stopped);
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'slack delivery pass failed');
      } finally {
        this.pass = undefined;
      }
      return all;
    })();
    return this.pass;
  }

  /** Reads what is due and starts a lane per Slack channel (or person); returns the lanes' promises. */
  private async dispatch(counter: { calls: number }): Promise<Promise<void>[]> {
    const floor = await this.watermark.floor();
    const pending = await this.db.query<Pending>(SLACK_PENDING_SQL, [floor]);
    const changed = await this.db.query<Changed>(SLACK_CHANGED_SQL);
    const byLane = new Map<string, { id: bigint; step: LaneStep }[]>();
    const add = (lane: string, id: string, step: LaneStep) => {
      const list = byLane.get(lane) ?? [];
      list.push({ id: BigInt(id), step });
      byLane.set(lane, list);
    };
    for (const m of pending.rows) add(this.laneOf(m), m.id, () => this.deliver(m, counter));
    for (const c of changed.rows) add(`ch:${c.target}`, c.message_id, () => this.update(c, counter));
    const out: Promise<void>[] = [];
    for (const [lane, steps] of byLane) {
      const busy = this.inflight.get(lane);
      if (busy) {
        // its new steps wait for the lane to finish; then another pass
        out.push(busy.then(() => this.kick()));
        continue;
      }
      steps.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const run = this.lanes.run(lane, steps.map((s) => s.step), (e) => this.log.error({ err: e.message, lane }, 'slack delivery lane failed'));
      if (!run) continue;
      const done = run.finally(() => this.inflight.delete(lane));
      this.inflight.set(lane, done);
      out.push(done);
    }
    // the watermark moves once this pass's work is recorded (what is unfinished stays above it)
    void Promise.all(out).then(() => { this.advancing = this.advancing.then(() => this.advanceWatermark()); });
    return out;
  }

  private async advanceWatermark(): Promise<void> {
    try {
      await this.watermark.advance(async (floor, upTo) =>
        (await this.db.query<{ id: string | null }>(SLACK_OLDEST_UNFINISHED_SQL, [floor, upTo])).rows[0]?.id ?? null);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'slack delivery watermark not moved');
    }
  }

  /** The lane of a message: its Slack channel, the triage channel, or (no conversation) its person's DM. */
  private laneOf(m: Pending): string {
    const target = parseSlackConversation(m.conversation_id);
    if (target) return `ch:${target.channel}`;
    if (m.body.kind === 'triage' && m.body.triageId && this.triageChannel) return `ch:${this.triageChannel}`;
    return `person:${m.person_email}`;
  }

  private async update(c: Changed, counter: { calls: number }): Promise<'next' | 'stop'> {
    const key = `chat.update ${c.target}`;
    if (this.backoff.blocked(key)) return 'stop';
    const { text, blocks } = renderMessage(c.body);
    try {
      await this.timed('update', () => this.api.chat.update({ channel: c.target, ts: c.external_id, text, blocks: blocks as never }), isRateLimited);
    } catch (e) {
      const wait = retryAfterOf(e);
      this.backoff.hold(key, wait !== undefined ? wait * 1000 + 1000 : FAILED_HOLD_MS);
      this.log.warn({ err: (e as Error).message, message: c.message_id }, wait !== undefined ? 'slack update rate-limited' : 'slack update failed');
      return 'stop';
    } finally {
      counter.calls++;
    }
    await this.db.query(`UPDATE channel_deliveries SET delivered_body = GREATEST(delivered_body, $2::timestamptz), updated_at = now() WHERE channel = 'slack' AND dedupe_key = $1`, [c.dedupe_key, c.version]);
    return 'next';
  }

  private async claim(key: string, messageId: string): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('slack', $1, $2, 'sending')
       ON CONFLICT (channel, dedupe_key) DO UPDATE SET attempts = channel_deliveries.attempts + 1, status = 'sending', updated_at = now()
         WHERE channel_deliveries.status = 'failed' AND channel_deliveries.attempts < 5
            OR (channel_deliveries.status = 'sending' AND channel_deliveries.updated_at < now() - interval '2 minutes')
       RETURNING 1`, [key, messageId]);
    return (r.rowCount ?? 0) > 0;
  }

  private async deliver(m: Pending, counter: { calls: number }): Promise<'next' | 'stop'> {
    const isTriageCard = m.body.kind === 'triage' && m.body.triageId && this.triageChannel;
    const key = isTriageCard ? `triage:${m.body.triageId}` : `m:${m.id}`;
    let target = parseSlackConversation(m.conversation_id);
    if (!target && isTriageCard) target = { channel: this.triageChannel! };
    if (!target) {
      const user = await this.ids.userOf(m.person_email);
      if (!user) {
        // Not in Slack: remember, so their messages are not looked up again and again. An address that
        // is not in the directory (a team mailbox such as an item owner's contact) cannot be an identity
        // (foreign key): its message is recorded as undeliverable instead, so it never blocks the queue.
        await this.db.query(
          `WITH person AS (SELECT email FROM people WHERE email = $1),
                ident AS (INSERT INTO channel_identities (channel, external_id, person_email) SELECT 'slack:none', email, email FROM person ON CONFLICT DO NOTHING)
           INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status, attempts, error)
           SELECT 'slack', $2, $3, 'failed', 5, 'recipient has no Slack account (not in the directory or not found by e-mail)'
            WHERE NOT EXISTS (SELECT 1 FROM person) ON CONFLICT DO NOTHING`,
          [m.person_email, `m:${m.id}`, m.id]);
        counter.calls++;
        return 'next';
      }
      target = { channel: await this.ids.dmChannel(user) };
    }
    const backoffKey = `chat.postMessage ${target.channel}`;
    if (this.backoff.blocked(backoffKey)) return 'stop';
    if (!(await this.claim(key, m.id))) {
      // another agent's copy of this triage card went to the channel already: mark this copy covered
      if (key !== `m:${m.id}`) {
        await this.db.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('slack', $1, $2, 'sent') ON CONFLICT DO NOTHING`, [`m:${m.id}`, m.id]);
      }
      return 'next';
    }
    const { text, blocks } = renderMessage(m.body);
    try {
      counter.calls++;
      const res = await this.timed('post', () => this.api.chat.postMessage({ channel: target.channel, text, blocks: blocks as never, ...(target.threadTs ? { thread_ts: target.threadTs } : {}) }), isRateLimited);
      await this.db.query(
        `UPDATE channel_deliveries SET status = 'sent', target = $2, external_id = $3, delivered_body = $4::timestamptz, error = NULL, updated_at = now() WHERE channel = 'slack' AND dedupe_key = $1`,
        [key, res.channel ?? target.channel, res.ts ?? null, m.version]);
    } catch (e) {
      const wait = retryAfterOf(e);
      if (wait !== undefined) {
        // not an attempt: the row is due again when Retry-After ends (updated_at is when the usual
        // 30-second retry clock starts, so it is set that far back from the end of the wait)
        await this.db.query(
          `UPDATE channel_deliveries SET status = 'failed', attempts = attempts - 1, error = $2,
             updated_at = now() + make_interval(secs => $3) - interval '30 seconds' WHERE channel = 'slack' AND dedupe_key = $1 AND status = 'sending'`,
          [key, `rate limited: retry after ${wait} s`, wait]);
        this.backoff.hold(backoffKey, wait * 1000 + 1000);
        this.log.warn({ message: m.id, channel: target.channel, retryAfter: wait }, 'slack delivery rate-limited; this channel waits');
        return 'stop';
      }
      await this.db.query(`UPDATE channel_deliveries SET status = 'failed', error = $2, updated_at = now() WHERE channel = 'slack' AND dedupe_key = $1`, [key, (e as Error).message]);
      this.backoff.hold(backoffKey, FAILED_HOLD_MS);
      this.log.warn({ err: (e as Error).message, message: m.id }, 'slack delivery failed');
      return 'stop';
    }
    return 'next';
  }
}
