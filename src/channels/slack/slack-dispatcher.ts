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
 */
import { WebClientEvent, type WebClient } from '@slack/web-api';
import type { Database } from '../../db/database.js';
import type { OutMessage } from '../../conversation/messages.js';
import type { Logger } from '../../log.js';
import { DeliveryLoop } from '../delivery-loop.js';
import type { ChatMetrics } from '../../observability/metrics.js';
import { renderMessage } from './block-kit.js';
import type { SlackIdentities } from './slack-identity.js';

/** `version` is messages.updated_at as text: full microsecond precision, unlike a JS Date. */
interface Pending { id: string; person_email: string; conversation_id: string | null; body: OutMessage; version: string }

export interface SlackTarget { channel: string; threadTs?: string }

/** Parses `slack:<channel>[:<thread ts>]`. */
export function parseSlackConversation(id: string | null): SlackTarget | undefined {
  const m = id ? /^slack:([A-Z0-9]+)(?::(\d+\.\d+))?$/.exec(id) : null;
  return m ? { channel: m[1]!, ...(m[2] ? { threadTs: m[2] } : {}) } : undefined;
}

export class SlackDispatcher extends DeliveryLoop {

  constructor(
    private readonly db: Database,
    private readonly client: WebClient,
    private readonly ids: SlackIdentities,
    private readonly triageChannel: string | undefined,
    log: Logger,
    metrics?: ChatMetrics,
  ) {
    super(log, 'slack', metrics);
    client.on(WebClientEvent.RATE_LIMITED, () => this.rateLimited());
  }

  /** One pass: post new messages, then update changed ones. Returns how many calls it made. */
  async tick(): Promise<number> {
    let calls = 0;
    const pending = await this.db.query<Pending>(
      `SELECT m.id, m.person_email, m.conversation_id, m.body, m.updated_at::text AS version FROM messages m
       WHERE (m.conversation_id LIKE 'slack:%' OR (m.conversation_id IS NULL AND m.created_at > now() - interval '1 day'))
         AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.channel = 'slack' AND d.message_id = m.id
                         AND NOT ((d.status = 'failed' AND d.attempts < 5 AND d.updated_at < now() - interval '30 seconds')
                                  OR (d.status = 'sending' AND d.updated_at < now() - interval '2 minutes')))
         AND NOT EXISTS (SELECT 1 FROM channel_identities ci WHERE ci.channel = 'slack:none' AND ci.person_email = m.person_email)
       ORDER BY m.id LIMIT 50`);
    for (const m of pending.rows) calls += await this.deliver(m);

    const changed = await this.db.query<{ dedupe_key: string; target: string; external_id: string; body: OutMessage; version: string }>(
      `SELECT d.dedupe_key, d.target, d.external_id, m.body, m.updated_at::text AS version FROM channel_deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.channel = 'slack' AND d.status = 'sent' AND d.external_id IS NOT NULL AND m.updated_at > d.delivered_body LIMIT 50`);
    for (const c of changed.rows) {
      const { text, blocks } = renderMessage(c.body);
      await this.timed('update', () => this.client.chat.update({ channel: c.target, ts: c.external_id, text, blocks: blocks as never }));
      await this.db.query(`UPDATE channel_deliveries SET delivered_body = $2::timestamptz, updated_at = now() WHERE channel = 'slack' AND dedupe_key = $1`, [c.dedupe_key, c.version]);
      calls++;
    }
    return calls;
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

  private async deliver(m: Pending): Promise<number> {
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
        return 1;
      }
      target = { channel: await this.ids.dmChannel(user) };
    }
    if (!(await this.claim(key, m.id))) {
      // another agent's copy of this triage card went to the channel already: mark this copy covered
      if (key !== `m:${m.id}`) {
        await this.db.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('slack', $1, $2, 'sent') ON CONFLICT DO NOTHING`, [`m:${m.id}`, m.id]);
      }
      return 0;
    }
    const { text, blocks } = renderMessage(m.body);
    try {
      const res = await this.timed('post', () => this.client.chat.postMessage({ channel: target.channel, text, blocks: blocks as never, ...(target.threadTs ? { thread_ts: target.threadTs } : {}) }));
      await this.db.query(
        `UPDATE channel_deliveries SET status = 'sent', target = $2, external_id = $3, delivered_body = $4::timestamptz, error = NULL, updated_at = now() WHERE channel = 'slack' AND dedupe_key = $1`,
        [key, res.channel ?? target.channel, res.ts ?? null, m.version]);
    } catch (e) {
      await this.db.query(`UPDATE channel_deliveries SET status = 'failed', error = $2, updated_at = now() WHERE channel = 'slack' AND dedupe_key = $1`, [key, (e as Error).message]);
      this.log.warn({ err: (e as Error).message, message: m.id }, 'slack delivery failed');
    }
    return 1;
  }
}
