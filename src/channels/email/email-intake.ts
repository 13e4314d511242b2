/**
 * Inbound mail → the conversation core.
 *
 * `receive()` stores a raw mail once per Message-ID (a conditional insert: redeliveries, re-polls and
 * duplicates create nothing twice) and returns; the mail is then processed from the table, so a mail
 * accepted by the SMTP listener or taken from IMAP survives a crash. Processing:
 *
 * 1. automatic mail, bounces and loops are ignored (audited, never answered);
 * 2. the From address must be a directory person (or an `email` channel identity of one), and, for a
 *    trusted authserv-id, pass Authentication-Results: otherwise the sender is unknown (audited):
 *    refused politely or handed to the service desk as a case, per EMAIL_UNKNOWN_SENDERS; a sender that
 *    failed authentication gets no answer at all (it would go to the forged address);
 * 3. the mail joins its thread (In-Reply-To/References, "[errand E-n]", a request ref) or opens one;
 *    attachments are kept (up to the size limit; a clear note otherwise) with the thread's request;
 * 4. under the thread's hold (the dispatcher waits, so the person gets one answer per mail): a reply
 *    keyword ("CONFIRM") becomes its button action; numbered answers ("1. write", or typed under each
 *    quoted question) are fed, one by one, to the dialog engine through ConversationService.handle —
 *    the current question directly, any other with the engine's own "change <field>"; anything else
 *    is text for the core (classification, commands, a single answer). What was noted and what was
 *    not understood is summed up in one note; the dispatcher adds the remaining questions.
 */
import { createHash } from 'node:crypto';
import { simpleParser, type ParsedMail } from 'mailparser';
import { audit } from '../../audit/audit.repository.js';
import { openCase } from '../../cases/case.repository.js';
import type { Catalogue } from '../../catalogue/loader.js';
import type { EmailConfig } from '../../config.js';
import type { ConversationService } from '../../conversation/conversation.service.js';
import { formatAnswer, type DialogState } from '../../conversation/dialog-engine.js';
import type { InboundEvent, OutMessage } from '../../conversation/messages.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { Database } from '../../db/database.js';
import { findPerson, normEmail, peopleWithRole, type Person } from '../../directory/directory.repository.js';
import type { Logger } from '../../log.js';
import { pendingApprovalsFor } from '../../requests/approval.repository.js';
import { DeliveryLoop } from '../delivery-loop.js';
import { authenticationVerdict, automaticMailReason, type AuthVerdict } from './email-guards.js';
import {
  abandonStuck, claimInbound, createThread, finishInbound, foldMessages, holdThread, insertInbound, linkAttachments, matchThread, pruneEmail,
  recordMessageId, releaseThread, repliedTo, storeAttachment, type InboundRow, type InboundStatus, type OutboundMail, type Thread,
} from './email-store.js';
import { cleanSubject, formatBytes, inlineAnswers, numberedAnswers, replyKeyword, replyText } from './email-text.js';

export interface EmailIntakeDeps {
  db: Database;
  config: EmailConfig;
  conversation: Pick<ConversationService, 'handle'>;
  catalogue: () => Catalogue;
  log: Logger;
  /** After each processed mail (the dispatcher sends the answer at once). */
  onProcessed?: () => void;
}

/** At most this many attachments are kept per mail. */
export const MAX_ATTACHMENTS = 10;

type Outcome = { status: InboundStatus; reason?: string; from?: string; person?: string; threadId?: number };

/** The Message-ID of a raw mail from its header block, or undefined. */
export function rawMessageId(raw: Buffer): string | undefined {
  const head = raw.subarray(0, Math.min(raw.length, 256 * 1024)).toString('latin1').split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
  const m = /^message-id:\s*(<[^<>\s\u0000]{1,900}>)/im.exec(head); // a NUL could not be stored: the raw mail's hash is the key then
  return m?.[1];
}

/**
 * The parsed mail with NUL characters removed from every string in it (subject, addresses, headers,
 * text, file names): PostgreSQL stores none, and a header carrying one made the mail fail unanswered.
 * Attachment contents (Buffers) are untouched.
 */
export function withoutNul<T>(value: T): T {
  const seen = new Set<unknown>();
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return v.includes('\u0000') ? v.replace(/\u0000/g, '') : v;
    if (v === null || typeof v !== 'object' || seen.has(v) || Buffer.isBuffer(v) || ArrayBuffer.isView(v) || v instanceof Date) return v;
    seen.add(v);
    if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = clean(v[i]); return v; }
    if (v instanceof Map) { for (const [k, x] of v) v.set(k, clean(x)); return v; }
    for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = clean((v as Record<string, unknown>)[k]);
    return v;
  };
  return clean(value) as T;
}

export class EmailIntake extends DeliveryLoop {
  private lastPrune = 0;
  private readonly own: string[];

  constructor(private readonly d: EmailIntakeDeps) {
    super(d.log, 'email-intake');
    this.own = [d.config.address, ...d.config.aliases];
  }

  /**
   * Stores a received mail for processing (once per Message-ID). `tooLarge`: only its header was kept
   * (IMAP, over EMAIL_MAX_MESSAGE_BYTES); the sender is told.
   */
  async receive(raw: Buffer, meta: { source: 'smtp' | 'imap'; envelopeFrom?: string | null; tooLarge?: boolean; size?: number }): Promise<{ id: number } | { duplicate: true; key: string }> {
    const key = rawMessageId(raw) ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    const id = await insertInbound(this.d.db, { key, source: meta.source, envelopeFrom: meta.envelopeFrom ?? null, raw, size: meta.size ?? raw.length, tooLarge: meta.tooLarge ?? false });
    if (id === undefined) {
      await audit(this.d.db, { actor: 'email', action: 'email.duplicate', subject: key, detail: { source: meta.source } });
      return { duplicate: true, key };
    }
    return { id };
  }

  /** Processes every waiting mail; returns how many. */
  async tick(): Promise<number> {
    let n = 0;
    for (let row = await claimInbound(this.d.db); row; row = await claimInbound(this.d.db)) {
      await this.process(row);
      n++;
    }
    if (Date.now() - this.lastPrune > 3_600_000) {
      this.lastPrune = Date.now();
      await abandonStuck(this.d.db);
      await pruneEmail(this.d.db);
    }
    return n;
  }

  private async process(row: InboundRow): Promise<void> {
    let out: Outcome;
    try {
      const parsed = withoutNul(await simpleParser(row.raw ?? Buffer.alloc(0), { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true, maxHtmlLengthToParse: 2_000_000 }));
      out = await this.handleMail(row, parsed);
    } catch (e) {
      this.d.log.error({ err: (e as Error).message, mail: row.id }, 'e-mail processing failed');
      out = { status: 'failed', reason: (e as Error).message.slice(0, 500) };
    }
    await finishInbound(this.d.db, row.id, { status: out.status, reason: out.reason ?? null, from: out.from ?? null, person: out.person ?? null, threadId: out.threadId ?? null });
    this.d.onProcessed?.();
  }

  private async handleMail(row: InboundRow, p: ParsedMail): Promise<Outcome> {
    const froms = p.from?.value.filter((a) => a.address) ?? [];
    const from = froms.length === 1 ? normEmail(froms[0]!.address!) : undefined;
    const ct = p.headers.get('content-type') as { value?: string } | string | undefined;
    const ignored = froms.length > 1 ? 'more than one From address'
      : automaticMailReason({ headerLines: p.headerLines, from, envelopeFrom: row.envelopeFrom, contentType: typeof ct === 'string' ? ct : ct?.value, ownAddresses: this.own, maxReceived: this.d.config.maxReceived });
    if (ignored || !from) {
      await audit(this.d.db, { actor: from ?? 'unknown', action: 'email.ignored', subject: row.messageKey, detail: { reason: ignored ?? 'no sender address', source: row.source } });
      return { status: 'ignored', reason: ignored ?? 'no sender address', ...(from ? { from } : {}) };
    }
    const auth = authenticationVerdict(p.headerLines, this.d.config.trustedAuthservIds, this.d.config.requireAuth, from);
    if (!auth.trusted) {
      await audit(this.d.db, { actor: from, action: 'email.untrusted', subject: row.messageKey, detail: { reason: auth.reason, results: auth.results, source: row.source } });
    }
    const person = auth.trusted ? await this.personFor(from) : undefined;
    if (!person) return this.unknownSender(row, p, from, auth);
    if (row.tooLarge) return this.tooLarge(row, p, from, person);
    return this.fromPerson(row, p, from, person);
  }

  /** The active directory person of an address: their own e-mail, or an `email` channel identity (an alias). */
  private async personFor(address: string): Promise<Person | undefined> {
    let person = await findPerson(this.d.db, address);
    if (!person) {
      const alias = await this.d.db.query<{ person_email: string }>(`SELECT person_email FROM channel_identities WHERE channel = 'email' AND external_id = $1`, [address]);
      if (alias.rows[0]) person = await findPerson(this.d.db, alias.rows[0].person_email);
    }
    return person?.active ? person : undefined;
  }

  private messageIds(p: ParsedMail): string[] {
    const refs = typeof p.references === 'string' ? p.references.split(/\s+/) : p.references ?? [];
    return [...new Set([...(p.inReplyTo ? p.inReplyTo.split(/\s+/) : []), ...[...refs].reverse()].filter((x) => /^<[^<>\s]+>$/.test(x)))];
  }

  /** The thread of the mail (an existing one of this address, or a new one), with the mail's Message-ID recorded in it. */
  private async threadFor(row: InboundRow, p: ParsedMail, personEmail: string, address: string): Promise<{ thread: Thread; isNew: boolean }> {
    const found = await matchThread(this.d.db, personEmail, { messageIds: this.messageIds(p), subject: p.subject ?? '' });
    const thread = found ?? await createThread(this.d.db, { personEmail, address, subject: cleanSubject(p.subject) || 'Your request' });
    await recordMessageId(this.d.db, { messageId: p.messageId ?? `<${row.messageKey}>`, threadId: thread.id, direction: 'in' });
    return { thread: { ...thread, lastInboundId: p.messageId ?? thread.lastInboundId }, isNew: !found };
  }

  /** A reply from us to someone outside the directory, in a thread of their own. */
  private async answerStranger(row: InboundRow, p: ParsedMail, address: string, text: string): Promise<number> {
    const { thread } = await this.threadFor(row, p, address, address);
    await postMessage(this.d.db, address, { kind: 'info', text }, { conversationId: thread.conversationId, key: `email-in:${row.id}:stranger` });
    return thread.id;
  }

  private async unknownSender(row: InboundRow, p: ParsedMail, from: string, auth: AuthVerdict): Promise<Outcome> {
    const untrusted = !auth.trusted;
    const mode = this.d.config.unknownSenders;
    const reason = untrusted ? `sender not verified (${auth.reason})` : 'not in the directory';
    await audit(this.d.db, { actor: from, action: 'email.unknown-sender', subject: row.messageKey, detail: { reason, mode, results: auth.results } });
    // One answer per address and day at most, and none to an address that failed authentication
    // (the answer would go to the person whose address was forged).
    const answeredRecently = (await this.d.db.query(
      `SELECT 1 FROM email_inbound WHERE from_address = $1 AND status IN ('rejected', 'triaged') AND processed_at > now() - interval '1 day' AND id <> $2 LIMIT 1`, [from, row.id])).rows.length > 0;
    const mayAnswer = !untrusted && !answeredRecently;
    const subject = cleanSubject(p.subject) || '(no subject)';
    let threadId: number | undefined;
    if (mode === 'triage') {
      const body = replyText(p.text ?? '') || (p.text ?? '').trim();
      const names = p.attachments.filter((a) => !a.related).map((a) => `${a.filename ?? 'unnamed'} (${formatBytes(a.size)})`);
      const c = await openCase(this.d.db, {
        key: `email:${row.messageKey}`, queue: 'service-desk', person: from,
        title: `E-mail from ${from} (${untrusted ? 'sender NOT verified' : 'not in the directory'}): ${subject}`.slice(0, 200),
        description: [
          ...(untrusted ? [`Authentication failed (${auth.reason}): the From address may be forged. Do not act on it without checking with the person.`] : []),
          `From: ${from}`, `Subject: ${subject}`, '', body.slice(0, 4000),
          ...(names.length ? ['', `Attachments (not kept): ${names.join(', ')}`] : []),
        ].join('\n'),
      });
      for (const agent of await peopleWithRole(this.d.db, 'triage')) {
        await postMessage(this.d.db, agent.email, {
          kind: 'info',
          text: `An e-mail from ${from}, ${untrusted ? `whose sender could not be verified (${auth.reason})` : 'who is not in the directory'}, is waiting for the service desk as ${c.ref}: "${subject}".`,
        }, { key: `email-in:${row.id}:triage:${agent.email}` });
      }
      if (mayAnswer) threadId = await this.answerStranger(row, p, from, `Thank you for your message. I could not find ${from} in the company directory, so I have passed it to the service desk (${c.ref}); a person will get back to you.`);
      return { status: 'triaged', reason, from, ...(threadId ? { threadId } : {}) };
    }
    if (mayAnswer) {
      threadId = await this.answerStranger(row, p, from, `Hello, this is errand, the IT service desk assistant. I could not find ${from} in the company directory, so I cannot take requests from this address. If you work here, please write from your company e-mail address, or contact the service desk.`);
    }
    return { status: 'rejected', reason, from, ...(threadId ? { threadId } : {}) };
  }

  private async tooLarge(row: InboundRow, p: ParsedMail, from: string, person: Person): Promise<Outcome> {
    const { thread } = await this.threadFor(row, p, person.email, from);
    await audit(this.d.db, { actor: person.email, action: 'email.too-large', subject: row.messageKey, detail: { size: row.sizeBytes, limit: this.d.config.maxMessageBytes } });
    await postMessage(this.d.db, person.email, {
      kind: 'error',
      text: `Your e-mail "${cleanSubject(p.subject) || '(no subject)'}" is ${formatBytes(row.sizeBytes)}, more than the ${formatBytes(this.d.config.maxMessageBytes)} I accept, so I could not read it. Please send it again without the large attachments (share big files as a link).`,
    }, { conversationId: thread.conversationId, key: `email-in:${row.id}:too-large` });
    return { status: 'rejected', reason: 'message too large', from, person: person.email, threadId: thread.id };
  }

  private async fromPerson(row: InboundRow, p: ParsedMail, from: string, person: Person): Promise<Outcome> {
    const { thread, isNew } = await this.threadFor(row, p, person.email, from);
    const conv = thread.conversationId;
    const replied = isNew ? undefined : await repliedTo(this.d.db, thread.id, this.messageIds(p));
    await holdThread(this.d.db, thread.id);
    try {
      const before = await this.lastMessageId(conv);
      const notes = await this.keepAttachments(row, p, thread, person);
      const feedback = [...await this.converse(p, person, thread, isNew, replied), ...notes];
      if (!feedback.length && (await this.lastMessageId(conv)) === before) {
        feedback.push('I read your e-mail but found nothing I could act on. Tell me in a sentence what you need (e.g. "I need access to the finance drive"), or reply "status" to see your requests.');
      }
      if (feedback.length) await postMessage(this.d.db, person.email, { kind: 'info', text: feedback.join('\n') }, { conversationId: conv, key: `email-in:${row.id}:feedback` });
      if ((await this.stateOf(conv)).mode === 'idle') await linkAttachments(this.d.db, thread.id, conv);
    } finally {
      await releaseThread(this.d.db, thread.id);
    }
    return { status: 'done', from, person: person.email, threadId: thread.id };
  }

  private async stateOf(conv: string): Promise<DialogState> {
    return (await this.d.db.query<{ state: DialogState }>('SELECT state FROM conversations WHERE id = $1', [conv])).rows[0]?.state ?? { mode: 'idle' };
  }

  private async lastMessageId(conv: string): Promise<number> {
    return Number((await this.d.db.query<{ id: string | null }>('SELECT max(id) AS id FROM messages WHERE conversation_id = $1', [conv])).rows[0]?.id ?? 0);
  }

  private async messagesSince(conv: string, after: number): Promise<{ id: number; body: OutMessage }[]> {
    const r = await this.d.db.query<{ id: string; body: OutMessage }>('SELECT id, body FROM messages WHERE conversation_id = $1 AND id > $2 ORDER BY id', [conv, after]);
    return r.rows.map((x) => ({ id: Number(x.id), body: x.body }));
  }

  /** Hands the mail's content to the core; returns notes for the person (numbered answers' results). */
  private async converse(p: ParsedMail, person: Person, thread: Thread, isNew: boolean, replied: OutboundMail | undefined): Promise<string[]> {
    const conv = thread.conversationId;
    const handle = (e: Pick<InboundEvent, 'text' | 'action'>) => this.d.conversation.handle({ channel: 'email', personEmail: person.email, conversationId: conv, ...e });
    const body = p.text ?? '';
    const own = replyText(body);
    const keyword = replyKeyword(own);
    const action = keyword ? replied?.actions[keyword] : undefined;
    if (action) { await handle({ action }); return []; }

    const state = await this.stateOf(conv);
    const qs = replied?.questions;
    if (qs && (state.mode === 'collecting' || state.mode === 'confirming')) {
      const numbered = numberedAnswers(own, qs.fields.length);
      const answers = new Map([...inlineAnswers(body, qs.fields.length), ...numbered.answers]);
      if (answers.size) return this.feedAnswers(conv, qs, answers, numbered.outOfRange, handle);
    }
    if (/^(approved?|deny|denied|reject(ed)?)\b/i.test(own) && (await pendingApprovalsFor(this.d.db, person.email)).length) {
      // decisions by reply are not taken: a From address can be forged, a link from our mail cannot
      return ['Approvals are decided with the Approve and Deny links in the approval e-mail, not by a reply. Please use those links (they open a page where you confirm).'];
    }
    const subject = cleanSubject(p.subject);
    const text = isNew && subject && !own.toLowerCase().includes(subject.toLowerCase()) ? `${subject}\n${own}`.trim() : own;
    if (!text) return p.attachments.length ? [] : ['Your e-mail had no text I could read. Tell me in a sentence what you need.'];
    await handle({ text });
    return [];
  }

  /**
   * Numbered answers, fed to the dialog engine in number order: the question it is asking is answered
   * directly; another one through "change <field>" (the engine's edit command). Returns what was noted
   * and what was not understood; the engine's own re-prompts are folded into that note.
   */
  private async feedAnswers(conv: string, qs: NonNullable<OutboundMail['questions']>, answers: Map<number, string>, outOfRange: number[], handle: (e: { text: string }) => Promise<void>): Promise<string[]> {
    const first = await this.stateOf(conv);
    if (!('d' in first) || first.d.itemId !== qs.itemId) return ['The numbered answers in your e-mail belong to questions of a request that is no longer in progress here, so I did not use them.'];
    const item = this.d.catalogue().get(qs.itemId);
    if (!item) return ['That request type no longer exists; please start again.'];
    const noted: string[] = [];
    const problems: string[] = [];
    for (const [n, answer] of [...answers].sort((a, b) => a[0] - b[0])) {
      const field = item.fields.find((f) => f.name === qs.fields[n - 1]);
      if (!field) continue;
      const label = field.label ?? field.name;
      let st = await this.stateOf(conv);
      if (st.mode !== 'collecting' && st.mode !== 'confirming') break;
      if (!(st.mode === 'collecting' && st.d.asking === field.name)) {
        const mark = await this.lastMessageId(conv);
        await handle({ text: `change ${field.name}` });
        await foldMessages(this.d.db, (await this.messagesSince(conv, mark)).filter((m) => m.body.kind === 'error').map((m) => m.id), 'folded into the e-mail answer');
        st = await this.stateOf(conv);
        if (!(st.mode === 'collecting' && st.d.asking === field.name)) { problems.push(`Question ${n} (${label}) does not apply any more, so I did not use "${answer}".`); continue; }
      }
      const mark = await this.lastMessageId(conv);
      await handle({ text: answer });
      const errors = (await this.messagesSince(conv, mark)).filter((m) => m.body.kind === 'error');
      await foldMessages(this.d.db, errors.map((m) => m.id), 'folded into the e-mail answer');
      st = await this.stateOf(conv);
      if (st.mode === 'handover-offer' || (st.mode === 'collecting' && st.d.asking === field.name)) {
        problems.push(`I could not use your answer to ${n} (${label}): ${errors[0]?.body.text.split('\n')[0] ?? 'that is not a valid answer.'}`);
      } else if ('d' in st && field.name in st.d.answers) {
        const v = st.d.answers[field.name];
        noted.push(`${label}: ${field.sensitive && v != null ? '(hidden)' : formatAnswer(field, v)}`);
      }
      if (st.mode === 'idle' || st.mode === 'handover-offer') break;
    }
    return [
      ...(noted.length ? [`Thanks, I noted: ${noted.join('; ')}.`] : []),
      ...problems,
      ...(outOfRange.length ? [`There is no question ${outOfRange.join(', ')}; I ignored ${outOfRange.length === 1 ? 'that answer' : 'those answers'}.`] : []),
    ];
  }

  /** Keeps the mail's attachments (not inline images) within the limits; returns notes for the person. */
  private async keepAttachments(row: InboundRow, p: ParsedMail, thread: Thread, person: Person): Promise<string[]> {
    const notes: string[] = [];
    const kept: string[] = [];
    const files = p.attachments.filter((a) => !(a.related && a.contentDisposition === 'inline'));
    for (const [i, a] of files.entries()) {
      const name = (a.filename ?? `attachment-${i + 1}`).replace(/[\r\n\t]/g, ' ').slice(0, 200);
      const max = this.d.config.maxAttachmentBytes;
      if (a.size > max || i >= MAX_ATTACHMENTS) {
        const why = a.size > max ? `larger than the ${formatBytes(max)} limit` : `beyond the ${MAX_ATTACHMENTS} attachments I keep per e-mail`;
        notes.push(`The attachment "${name}" (${formatBytes(a.size)}) is ${why}, so I did not keep it. Please share it as a link, or send a smaller file.`);
        await audit(this.d.db, { actor: person.email, action: 'email.attachment-refused', subject: thread.ref, detail: { filename: name, size: a.size, limit: max } });
        continue;
      }
      const sha256 = createHash('sha256').update(a.content).digest('hex');
      await storeAttachment(this.d.db, { inboundId: row.id, threadId: thread.id, filename: name, contentType: a.contentType || 'application/octet-stream', size: a.size, sha256, content: a.content });
      await audit(this.d.db, { actor: person.email, action: 'email.attachment-stored', subject: thread.ref, detail: { filename: name, size: a.size, sha256 } });
      kept.push(`"${name}"`);
    }
    if (kept.length) notes.push(`I kept ${kept.join(', ')} with your request.`);
    return notes;
  }
}
