/**
 * Delivers outbox messages by e-mail (nodemailer over SMTP), with the same claim rule as the Slack
 * dispatcher: a channel_deliveries row (channel 'email', `m:<message id>`) is inserted before sending,
 * so two dispatchers never send the same message; a send that failed is retried (at most 5 attempts,
 * not after a permanent 5xx); a crash between the send and its record leaves a `sending` row that is
 * retried after 2 minutes: SMTP has no idempotency key, so that one case may repeat, with the same
 * deterministic Message-ID so mail clients can fold the copies.
 *
 * Which messages: those of e-mail conversations (`email:E-<n>`: one mail per thread and pass, with the
 * dialog section built from the conversation's state; not while the thread is held by the intake), and
 * those with no conversation for people whose channel is e-mail (their latest conversation is; or
 * everybody with EMAIL_NOTIFY=all) and for addresses outside the directory (team mailboxes). A
 * requester's note that names a request (REQ-…) submitted by e-mail joins that request's thread.
 * Fulfilment progress notes ("step 1 of 2 done") are not mailed: the outcome is.
 *
 * Every mail carries Auto-Submitted (auto-replied in a thread the person wrote to, auto-generated
 * otherwise), X-Auto-Response-Suppress: All and our loop marker; replies carry In-Reply-To/References.
 */
import { createHash } from 'node:crypto';
import type { Transporter } from 'nodemailer';
import type { Catalogue } from '../../catalogue/loader.js';
import { optionsOf } from '../../catalogue/schema.js';
import type { EmailConfig } from '../../config.js';
import { formatAnswer, visibleFields, type DialogState } from '../../conversation/dialog-engine.js';
import type { OutMessage } from '../../conversation/messages.js';
import type { Database } from '../../db/database.js';
import { findPerson, requesterAttributes, type Person } from '../../directory/directory.repository.js';
import { classifySmtpError } from '../../fulfilment/connectors/email/email.connector.js';
import type { Logger } from '../../log.js';
import type { ChatMetrics } from '../../observability/metrics.js';
import { DeliveryLoop } from '../delivery-loop.js';
import type { ApprovalLinks, LinkPair } from './approval-links.js';
import { LOOP_HEADER } from './email-guards.js';
import { renderEmail, type DialogView } from './email-render.js';
import { createThread, recordMessageId, threadByConversation, type Thread } from './email-store.js';

interface Pending { id: string; person_email: string; conversation_id: string | null; body: OutMessage; idempotency_key: string | null; version: string }

export interface EmailDispatcherDeps {
  db: Database;
  config: EmailConfig;
  transport: Pick<Transporter, 'sendMail'>;
  links: ApprovalLinks;
  catalogue: () => Catalogue;
  log: Logger;
  metrics?: ChatMetrics;
}

/** Progress notes of the fulfilment runner, which e-mail leaves out (the outcome is sent). */
const isProgressNote = (key: string | null): boolean => !!key && /:(fulfilment-started|progress:[^:]+)$/.test(key);

const HIDDEN = '(hidden)';

export class EmailDispatcher extends DeliveryLoop {
  private readonly domain: string;

  constructor(private readonly d: EmailDispatcherDeps) {
    super(d.log, 'email', d.metrics);
    this.domain = d.config.address.split('@')[1]!;
  }

  /** Who gets conversation-less messages by e-mail (SQL over `m`). */
  private recipientRule(): string {
    if (this.d.config.notify === 'all') return `NOT EXISTS (SELECT 1 FROM people p WHERE p.email = m.person_email AND NOT p.active)`;
    return `(NOT EXISTS (SELECT 1 FROM people p WHERE p.email = m.person_email)
             OR EXISTS (SELECT 1 FROM people p WHERE p.email = m.person_email AND p.active
                        AND (SELECT c.channel FROM conversations c WHERE c.person_email = p.email ORDER BY c.updated_at DESC LIMIT 1) = 'email'))`;
  }

  /** One pass: one mail per thread with pending messages. Returns how many mails were sent. */
  async tick(): Promise<number> {
    const pending = await this.d.db.query<Pending>(
      `SELECT m.id, m.person_email, m.conversation_id, m.body, m.idempotency_key, m.updated_at::text AS version FROM messages m
       WHERE ((m.conversation_id LIKE 'email:%'
               AND NOT EXISTS (SELECT 1 FROM email_threads t WHERE t.conversation_id = m.conversation_id AND t.hold_until > now()))
              OR (m.conversation_id IS NULL AND m.created_at > now() - interval '1 day' AND m.person_email LIKE '%_@_%' AND ${this.recipientRule()}))
         AND NOT EXISTS (SELECT 1 FROM channel_deliveries d WHERE d.channel = 'email' AND d.message_id = m.id
                         AND NOT ((d.status = 'failed' AND d.attempts < 5 AND d.updated_at < now() - interval '30 seconds')
                                  OR (d.status = 'sending' AND d.updated_at < now() - interval '2 minutes')))
       ORDER BY m.id LIMIT 100`);
    const groups = new Map<string, Pending[]>();
    for (const m of pending.rows) {
      let key = m.conversation_id;
      if (!key) {
        const joined = await this.requestThreadOf(m);
        if (joined === 'held') continue;
        key = joined ?? `m:${m.id}`;
      }
      groups.set(key, [...(groups.get(key) ?? []), m]);
    }
    let sent = 0;
    for (const [key, rows] of groups) {
      try {
        sent += await this.deliver(key, rows);
      } catch (e) {
        this.log.error({ err: (e as Error).message, thread: key }, 'e-mail delivery failed');
      }
    }
    return sent;
  }

  /** The e-mail conversation of a request named in a requester's note ('held' while its thread is held). */
  private async requestThreadOf(m: Pending): Promise<string | 'held' | undefined> {
    const ref = /\bREQ-\d{4,}\b/.exec(m.body.text ?? '')?.[0];
    if (!ref) return undefined;
    const r = await this.d.db.query<{ conversation_id: string; held: boolean }>(
      `SELECT t.conversation_id, COALESCE(t.hold_until > now(), false) AS held FROM requests x JOIN email_threads t ON t.conversation_id = x.conversation_id
       WHERE x.ref = $1 AND x.requester_email = $2 AND t.person_email = $2`, [ref, m.person_email]);
    const row = r.rows[0];
    return row ? (row.held ? 'held' : row.conversation_id) : undefined;
  }

  private async claim(messageId: string): Promise<boolean> {
    const r = await this.d.db.query(
      `INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status) VALUES ('email', $1, $2, 'sending')
       ON CONFLICT (channel, dedupe_key) DO UPDATE SET attempts = channel_deliveries.attempts + 1, status = 'sending', updated_at = now()
         WHERE channel_deliveries.status = 'failed' AND channel_deliveries.attempts < 5
            OR (channel_deliveries.status = 'sending' AND channel_deliveries.updated_at < now() - interval '2 minutes')
       RETURNING 1`, [`m:${messageId}`, messageId]);
    return (r.rowCount ?? 0) > 0;
  }

  private async mark(ids: string[], status: 'sent' | 'failed', o: { target?: string; externalId?: string; error?: string; permanent?: boolean } = {}): Promise<void> {
    await this.d.db.query(
      `UPDATE channel_deliveries SET status = $2, target = $3, external_id = $4, error = $5, updated_at = now(),
         attempts = CASE WHEN $6 THEN 5 ELSE attempts END, delivered_body = CASE WHEN $2 = 'sent' THEN now() ELSE delivered_body END
       WHERE channel = 'email' AND dedupe_key = ANY($1::text[])`,
      [ids.map((id) => `m:${id}`), status, o.target ?? null, o.externalId ?? null, o.error?.slice(0, 500) ?? null, o.permanent ?? false]);
  }

  private async deliver(key: string, rows: Pending[]): Promise<number> {
    const claimed: Pending[] = [];
    for (const r of rows) if (await this.claim(r.id)) claimed.push(r);
    if (!claimed.length) return 0;
    const quiet = claimed.filter((r) => isProgressNote(r.idempotency_key));
    if (quiet.length) await this.mark(quiet.map((r) => r.id), 'sent', { target: 'not mailed: progress note' });
    const send = claimed.filter((r) => !isProgressNote(r.idempotency_key));
    if (!send.length) return 0;

    let thread: Thread | undefined;
    if (key.startsWith('email:')) {
      thread = await threadByConversation(this.d.db, key);
      if (!thread) { await this.mark(send.map((r) => r.id), 'failed', { error: `no e-mail thread for ${key}`, permanent: true }); return 0; }
    } else {
      const first = send[0]!;
      thread = await createThread(this.d.db, { personEmail: first.person_email, address: first.person_email, subject: subjectOf(first.body.text) });
    }
    const person = await findPerson(this.d.db, thread.personEmail);
    const dialog = person && key.startsWith('email:') ? await this.dialogView(thread.conversationId, person) : undefined;
    const links = new Map<string, LinkPair>();
    for (const r of send) {
      const m = r.body;
      if (m.approvalId && !m.resolved && m.buttons?.some((b) => b.id === `approval:${m.approvalId}:approve`) && !links.has(m.approvalId)) {
        const approver = await findPerson(this.d.db, r.person_email);
        if (approver?.active) links.set(m.approvalId, await this.d.links.issue(m.approvalId, approver.email));
      }
    }
    const draft = renderEmail({
      name: person?.name.split(' ')[0], messages: send.map((r) => r.body), dialog, links, threadRef: thread.ref, fromName: this.d.config.fromName,
    });
    const messageId = `<errand.${createHash('sha256').update(send.map((r) => `${r.id}@${r.version}`).join(',')).digest('hex').slice(0, 40)}@${this.domain}>`;
    const replying = Boolean(thread.lastInboundId);
    const inReplyTo = thread.lastInboundId ?? thread.refs.at(-1);
    const subject = `${replying ? 'Re: ' : ''}${thread.subject} [errand ${thread.ref}]`;
    try {
      await this.timed('post', () => this.d.transport.sendMail({
        from: { name: this.d.config.fromName, address: this.d.config.address },
        to: thread.address,
        subject,
        text: draft.text,
        html: draft.html,
        messageId,
        ...(inReplyTo ? { inReplyTo, references: thread.refs.length ? thread.refs : [inReplyTo] } : {}),
        headers: { 'Auto-Submitted': replying ? 'auto-replied' : 'auto-generated', 'X-Auto-Response-Suppress': 'All', [LOOP_HEADER]: this.d.config.address },
      }));
    } catch (e) {
      const { retryable } = classifySmtpError(e);
      await this.mark(send.map((r) => r.id), 'failed', { target: thread.address, error: (e as Error).message, permanent: !retryable });
      this.log.warn({ err: (e as Error).message, thread: thread.ref, retryable }, 'e-mail send failed');
      return 0;
    }
    await this.mark(send.map((r) => r.id), 'sent', { target: thread.address, externalId: messageId });
    await recordMessageId(this.d.db, { messageId, threadId: thread.id, direction: 'out', questions: draft.questions, actions: draft.actions });
    return 1;
  }

  /** The dialog section of a thread: its conversation's missing questions, or its summary. */
  private async dialogView(conversationId: string, person: Person): Promise<DialogView | undefined> {
    const st = (await this.d.db.query<{ state: DialogState }>('SELECT state FROM conversations WHERE id = $1', [conversationId])).rows[0]?.state;
    if (!st || (st.mode !== 'collecting' && st.mode !== 'confirming')) return undefined;
    const item = this.d.catalogue().get(st.d.itemId);
    if (!item) return undefined;
    const fields = visibleFields(item, st.d.answers, requesterAttributes(person));
    const show = (f: (typeof fields)[number]) => (f.sensitive && st.d.answers[f.name] != null ? HIDDEN : formatAnswer(f, st.d.answers[f.name]));
    const label = (f: (typeof fields)[number]) => f.label ?? f.name;
    return {
      itemId: item.id, itemTitle: item.title, mode: st.mode,
      noted: fields.filter((f) => f.name in st.d.answers).map((f) => ({ label: label(f), value: show(f) })),
      questions: fields.filter((f) => !(f.name in st.d.answers)).map((f) => ({
        field: f.name, label: label(f), prompt: f.prompt, type: f.type, optional: !f.required, ...(f.help ? { help: f.help } : {}),
        options: f.type === 'boolean' ? ['Yes', 'No'] : optionsOf(f).map((o) => o.label), multi: f.type === 'multichoice',
      })),
      summary: fields.map((f) => ({ field: f.name, label: label(f), value: show(f) })),
    };
  }
}

/** A subject for a new thread from a message's first line. */
export function subjectOf(text: string | undefined): string {
  const line = (text ?? '').split('\n').find((l) => l.trim())?.trim().replace(/[.:]+$/, '') || 'A message from the IT service desk';
  return line.length > 100 ? `${line.slice(0, 97)}…` : line;
}
