/**
 * Delivers outbox messages to Teams proactively (stored conversation references) and updates
 * delivered cards in place when the message changes (an approval decided, a triage item taken).
 *
 * Same delivery table and claim rule as Slack. Sends respect Teams' per-conversation limits and
 * retry 429/412/502/504 with exponential backoff; a send that times out is marked `unknown` and
 * not retried blindly (it may have reached the chat).
 */
import type { CloudAdapter, ConversationReference } from 'botbuilder';
import { CardFactory } from 'botbuilder';
import { ExponentialBackoff, handleWhen, retry, timeout, TimeoutStrategy, TaskCancelledError, wrap } from 'cockatiel';
import type { Database } from '../../db/database.js';
import type { OutMessage } from '../../conversation/messages.js';
import type { Logger } from '../../log.js';
import { DeliveryLoop } from '../delivery-loop.js';
import type { ChatMetrics } from '../../observability/metrics.js';
import { readOnly, renderCard } from './adaptive-cards.js';
import { ConversationRateLimiter } from './rate-limiter.js';
import type { TeamsStore } from './teams-store.js';

const RETRY_STATUS = new Set([429, 412, 502, 504]);
const statusOf = (e: unknown): number | undefined => (e as { statusCode?: number }).statusCode ?? (e as { response?: { status?: number } }).response?.status;

interface Pending { id: string; person_email: string; conversation_id: string | null; body: OutMessage; version: string }

export class TeamsDispatcher extends DeliveryLoop {
  private readonly limiter = new ConversationRateLimiter();
  private readonly policy = wrap(
    retry(handleWhen((e) => !(e instanceof TaskCancelledError) && RETRY_STATUS.has(statusOf(e) ?? 0)), { maxAttempts: 4, backoff: new ExponentialBackoff({ initialDelay: 300, maxDelay: 10_000 }) }),
    timeout(20_000, TimeoutStrategy.Aggressive),
  );

  constructor(
    private readonly db: Database,
    private readonly adapter: CloudAdapter,
    private readonly appId: string,
    private readonly store: TeamsStore,
    private readonly triageChannel: string | undefined,
    log: Logger,
    metrics?: ChatMetrics,
  ) {
    super(log, 'teams', metrics);
  }

  /** Sends one activity (or updates one) in a conversation, within limits and with retries. */
  private async send(ref: Partial<ConversationReference>, activity: Record<string, unknown>, updateId?: string): Promise<string | undefined> {
    const conv = ref.conversation?.id ?? '?';
    await this.limiter.take(conv);
    let id: string | undefined;
    await this.timed(updateId ? 'update' : 'post', () => this.policy.execute(() => this.adapter.continueConversationAsync(this.appId, ref, async (ctx) => {
      if (updateId) {
        await ctx.updateActivity({ ...activity, id: updateId });
        id = updateId;
      } else {
        id = (await ctx.sendActivity(activity))?.id;
      }
    }).catch((e: unknown) => { if (statusOf(e) === 429) this.rateLimited(); throw e; })));
    return id;
  }

  private async activityFor(m: OutMessage): Promise<Record<string, unknown>> {
    let refreshUserIds: string[] | undefined;
    if (m.approvalId && !m.resolved) {
      const r = await this.db.query<{ id: string }>(
        `SELECT ci.meta->>'teamsId' AS id FROM approvals a JOIN channel_identities ci ON ci.channel = 'teams' AND ci.person_email = ANY(a.approvers)
         WHERE a.id = $1 AND ci.meta ? 'teamsId'`, [m.approvalId]);
      refreshUserIds = r.rows.map((x) => x.id);
    }
    const c = renderCard(m, { refreshUserIds });
    // Approval cards carry their buttons only for approvers (refresh); the stored card is read-only.
    const shown = refreshUserIds?.length ? { ...readOnly(c), refresh: c.refresh } : c;
    return { type: 'message', text: m.text, attachments: [CardFactory.adaptiveCard(shown)] };
  }

  async tick(): Promise<void> {
    const pending = await this.db.query<Pending>(
      `SELECT m.id, m.person_email, m.conversation_id, m.body, m.updated_at::text AS version FROM messages m
       WHERE (m.conversation_id LIKE 'teams:%'
              OR (m.conversation_id IS NULL AND m.created_at > now() - interval '1 day'
                  AND EXISTS (SELECT 1 FROM teams_conversations t WHERE t.person_email = m.person_email AND t.kind = 'personal')))
         AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.channel = 'teams' AND d.message_id = m.id
                         AND NOT (d.status = 'failed' AND d.attempts < 5 AND d.updated_at < now() - interval '30 seconds'))
       ORDER BY m.id LIMIT 50`);
    for (const m of pending.rows) await this.deliver(m);

    const changed = await this.db.query<{ dedupe_key: string; target: string; external_id: string; body: OutMessage; version: string }>(
      `SELECT d.dedupe_key, d.target, d.external_id, m.body, m.updated_at::text AS version FROM channel_deliveries d JOIN messages m ON m.id = d.message_id
       WHERE d.channel = 'teams' AND d.status = 'sent' AND d.external_id IS NOT NULL AND m.updated_at > d.delivered_body LIMIT 50`);
    for (const c of changed.rows) {
      const ref = await this.store.reference(c.target);
      if (!ref) continue;
      await this.send(ref, await this.activityFor(c.body), c.external_id);
      await this.db.query(`UPDATE channel_deliveries SET delivered_body = $2::timestamptz, updated_at = now() WHERE channel = 'teams' AND dedupe_key = $1`, [c.dedupe_key, c.version]);
    }
  }

  private async claim(key: string, messageId: string): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('teams', $1, $2, 'sending')
       ON CONFLICT (channel, dedupe_key) DO UPDATE SET attempts = channel_deliveries.attempts + 1, status = 'sending', updated_at = now()
         WHERE channel_deliveries.status = 'failed' AND channel_deliveries.attempts < 5
       RETURNING 1`, [key, messageId]);
    return (r.rowCount ?? 0) > 0;
  }

  private async deliver(m: Pending): Promise<void> {
    const triage = m.body.kind === 'triage' && m.body.triageId && this.triageChannel;
    const key = triage ? `triage:${m.body.triageId}` : `m:${m.id}`;
    let conversationId = m.conversation_id?.startsWith('teams:') ? m.conversation_id.slice('teams:'.length) : undefined;
    if (triage) conversationId = this.triageChannel;
    conversationId ??= await this.store.personalConversationOf(m.person_email);
    const ref = conversationId ? await this.store.reference(conversationId) : undefined;
    if (!(await this.claim(key, m.id))) {
      if (key !== `m:${m.id}`) await this.db.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('teams', $1, $2, 'sent') ON CONFLICT DO NOTHING`, [`m:${m.id}`, m.id]);
      return;
    }
    const mark = (status: string, extra: { target?: string; id?: string; error?: string } = {}) => this.db.query(
      `UPDATE channel_deliveries SET status = $2, target = $3, external_id = $4, error = $5, delivered_body = $6::timestamptz, updated_at = now() WHERE channel = 'teams' AND dedupe_key = $1`,
      [key, status, extra.target ?? null, extra.id ?? null, extra.error ?? null, m.version]);
    if (!ref || !conversationId) { await mark('failed', { error: `no Teams conversation reference for ${conversationId ?? m.person_email}` }); return; }
    try {
      const id = await this.send(ref, await this.activityFor(m.body));
      await mark('sent', { target: conversationId, id });
    } catch (e) {
      if (e instanceof TaskCancelledError) {
        await mark('unknown', { target: conversationId, error: 'send timed out: outcome unknown, not retried' });
        this.log.warn({ message: m.id }, 'teams send timed out; not retried (it may have arrived)');
      } else {
        await mark('failed', { target: conversationId, error: (e as Error).message });
        this.log.warn({ message: m.id, err: (e as Error).message }, 'teams delivery failed');
      }
    }
  }
}
