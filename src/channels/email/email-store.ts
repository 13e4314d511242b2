/** Storage of the e-mail channel (migration 019): received mails, threads, Message-IDs, attachments. */
import type { Queryable } from '../../db/database.js';

export type InboundStatus = 'received' | 'processing' | 'done' | 'ignored' | 'rejected' | 'triaged' | 'failed';

export interface InboundRow {
  id: number; messageKey: string; source: 'smtp' | 'imap'; envelopeFrom: string | null; raw: Buffer | null;
  sizeBytes: number; tooLarge: boolean; attempts: number;
}

/** Stores a received mail unless its key was seen before; the new row's id, or undefined for a duplicate. */
export async function insertInbound(q: Queryable, m: { key: string; source: 'smtp' | 'imap'; envelopeFrom: string | null; raw: Buffer; size: number; tooLarge: boolean }): Promise<number | undefined> {
  const r = await q.query<{ id: string }>(
    `INSERT INTO email_inbound (message_key, source, envelope_from, raw, size_bytes, too_large, status) VALUES ($1, $2, $3, $4, $5, $6, 'received')
     ON CONFLICT (message_key) DO NOTHING RETURNING id`, [m.key, m.source, m.envelopeFrom, m.raw, m.size, m.tooLarge]);
  return r.rows[0] ? Number(r.rows[0].id) : undefined;
}

/**
 * Takes the oldest mail waiting to be processed (or one whose processing instance died, at most three
 * attempts), leased for five minutes; SKIP LOCKED lets several instances work side by side.
 */
export async function claimInbound(q: Queryable): Promise<InboundRow | undefined> {
  const r = await q.query(
    `UPDATE email_inbound SET status = 'processing', attempts = attempts + 1, claimed_until = now() + interval '5 minutes'
     WHERE id = (SELECT id FROM email_inbound WHERE status = 'received' OR (status = 'processing' AND claimed_until < now() AND attempts < 3)
                 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING id, message_key, source, envelope_from, raw, size_bytes, too_large, attempts`);
  const x = r.rows[0];
  return x ? {
    id: Number(x.id), messageKey: x.message_key, source: x.source, envelopeFrom: x.envelope_from, raw: x.raw,
    sizeBytes: x.size_bytes, tooLarge: x.too_large, attempts: x.attempts,
  } : undefined;
}

/** Records the outcome; the raw mail is dropped unless processing failed (kept for a look and a retry). */
export async function finishInbound(q: Queryable, id: number, o: { status: InboundStatus; reason?: string | null; from?: string | null; person?: string | null; threadId?: number | null }): Promise<void> {
  await q.query(
    `UPDATE email_inbound SET status = $2, reason = $3, from_address = COALESCE($4, from_address), person_email = COALESCE($5, person_email),
       thread_id = COALESCE($6, thread_id), processed_at = now(), claimed_until = NULL, raw = CASE WHEN $2 = 'failed' THEN raw ELSE NULL END
     WHERE id = $1`, [id, o.status, o.reason ?? null, o.from ?? null, o.person ?? null, o.threadId ?? null]);
}

/** Mails processing gave up on for good (crashed three times): marked failed. */
export async function abandonStuck(q: Queryable): Promise<number> {
  const r = await q.query(`UPDATE email_inbound SET status = 'failed', reason = 'processing did not finish (3 attempts)', claimed_until = NULL
    WHERE status = 'processing' AND claimed_until < now() AND attempts >= 3`);
  return r.rowCount ?? 0;
}

/** Forgets processed mails after `days` (the duplicate guard only needs the recent ones) and spent approval links. */
export async function pruneEmail(q: Queryable, days = 90): Promise<void> {
  await q.query(`DELETE FROM email_inbound WHERE processed_at < now() - make_interval(days => $1) AND status <> 'failed'
    AND NOT EXISTS (SELECT 1 FROM email_attachments a WHERE a.inbound_id = email_inbound.id)`, [days]);
  await q.query(`DELETE FROM email_approval_links WHERE expires_at < now() - interval '7 days'`);
}

export interface Thread {
  id: number; ref: string; conversationId: string; personEmail: string; address: string; subject: string;
  refs: string[]; lastInboundId: string | null;
}

const toThread = (r: Record<string, unknown>): Thread => ({
  id: Number(r.id), ref: r.ref as string, conversationId: r.conversation_id as string, personEmail: r.person_email as string,
  address: r.address as string, subject: r.subject as string, refs: (r.refs as string[]) ?? [], lastInboundId: (r.last_inbound_id as string | null) ?? null,
});

export async function createThread(q: Queryable, t: { personEmail: string; address: string; subject: string }): Promise<Thread> {
  const r = await q.query(
    `WITH s AS (SELECT nextval('email_thread_seq') AS n)
     INSERT INTO email_threads (id, ref, conversation_id, person_email, address, subject)
     SELECT n, 'E-' || n, 'email:E-' || n, $1, $2, $3 FROM s RETURNING *`, [t.personEmail, t.address, t.subject.slice(0, 200) || 'Your request']);
  return toThread(r.rows[0]!);
}

export async function threadByConversation(q: Queryable, conversationId: string): Promise<Thread | undefined> {
  const r = await q.query('SELECT * FROM email_threads WHERE conversation_id = $1', [conversationId]);
  return r.rows[0] ? toThread(r.rows[0]) : undefined;
}

/** The thread of a person a reply belongs to: by In-Reply-To/References (latest first), then the "[errand E-n]" tag, then a request ref. */
export async function matchThread(q: Queryable, personEmail: string, o: { messageIds: string[]; subject: string }): Promise<Thread | undefined> {
  if (o.messageIds.length) {
    const r = await q.query(
      `SELECT t.* FROM email_messages m JOIN email_threads t ON t.id = m.thread_id
       WHERE m.message_id = ANY($1::text[]) AND t.person_email = $2 ORDER BY array_position($1::text[], m.message_id) LIMIT 1`, [o.messageIds, personEmail]);
    if (r.rows[0]) return toThread(r.rows[0]);
  }
  const tag = /\[errand\s+(E-\d+)\]/i.exec(o.subject)?.[1]?.toUpperCase();
  if (tag) {
    const r = await q.query('SELECT * FROM email_threads WHERE ref = $1 AND person_email = $2', [tag, personEmail]);
    if (r.rows[0]) return toThread(r.rows[0]);
  }
  const ref = /\b(REQ-\d{4,})\b/i.exec(o.subject)?.[1]?.toUpperCase();
  if (ref) {
    const r = await q.query(
      `SELECT t.* FROM requests x JOIN email_threads t ON t.conversation_id = x.conversation_id WHERE x.ref = $1 AND x.requester_email = $2 AND t.person_email = $2`, [ref, personEmail]);
    if (r.rows[0]) return toThread(r.rows[0]);
  }
  return undefined;
}

/** Records a Message-ID of a thread (both directions); false when it was known already. */
export async function recordMessageId(q: Queryable, m: { messageId: string; threadId: number; direction: 'in' | 'out'; questions?: unknown; actions?: unknown }): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO email_messages (message_id, thread_id, direction, questions, actions) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (message_id) DO NOTHING`,
    [m.messageId, m.threadId, m.direction, m.questions === undefined ? null : JSON.stringify(m.questions), JSON.stringify(m.actions ?? {})]);
  if (r.rowCount) {
    await q.query(
      `UPDATE email_threads SET refs = (refs || ARRAY[$2::text])[greatest(1, cardinality(refs) - 18):], updated_at = now()${m.direction === 'in' ? ', last_inbound_id = $2' : ''} WHERE id = $1`,
      [m.threadId, m.messageId]);
  }
  return (r.rowCount ?? 0) > 0;
}

export interface OutboundMail { messageId: string; questions: { itemId: string; mode: 'collecting' | 'confirming'; fields: string[] } | null; actions: Record<string, { id: string; value?: string }> }

/** What the mail a reply answers offered: the one named by In-Reply-To/References in the thread, else the thread's latest. */
export async function repliedTo(q: Queryable, threadId: number, messageIds: string[]): Promise<OutboundMail | undefined> {
  const r = await q.query(
    `SELECT message_id, questions, actions FROM email_messages WHERE thread_id = $1 AND direction = 'out'
     ORDER BY (message_id = ANY($2::text[])) DESC, array_position($2::text[], message_id), created_at DESC LIMIT 1`, [threadId, messageIds]);
  const x = r.rows[0];
  return x ? { messageId: x.message_id, questions: x.questions ?? null, actions: x.actions ?? {} } : undefined;
}

/** Holds the dispatcher off a thread while one of its mails is processed (waits for another holder, up to ~2 minutes). */
export async function holdThread(q: Queryable, threadId: number): Promise<void> {
  for (let waited = 0; ; waited += 100) {
    const r = await q.query(`UPDATE email_threads SET hold_until = now() + interval '2 minutes' WHERE id = $1 AND (hold_until IS NULL OR hold_until < now())`, [threadId]);
    if (r.rowCount) return;
    if (waited > 130_000) throw new Error(`e-mail thread ${threadId} is held by another instance`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

export async function releaseThread(q: Queryable, threadId: number): Promise<void> {
  await q.query('UPDATE email_threads SET hold_until = NULL WHERE id = $1', [threadId]);
}

/** Marks outbox messages as not to be sent by e-mail (their content went into another message). */
export async function foldMessages(q: Queryable, ids: number[], why: string): Promise<void> {
  for (const id of ids) {
    await q.query(`INSERT INTO channel_deliveries (channel, dedupe_key, message_id, status, target) VALUES ('email', $1, $2, 'sent', $3) ON CONFLICT DO NOTHING`, [`m:${id}`, id, why]);
  }
}

export async function storeAttachment(q: Queryable, a: { inboundId: number; threadId: number; filename: string; contentType: string; size: number; sha256: string; content: Buffer }): Promise<number> {
  const r = await q.query<{ id: string }>(
    `INSERT INTO email_attachments (inbound_id, thread_id, filename, content_type, size_bytes, sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [a.inboundId, a.threadId, a.filename, a.contentType, a.size, a.sha256, a.content]);
  return Number(r.rows[0]!.id);
}

/** Attaches a thread's loose attachments to the latest request submitted from it; returns that request's ref. */
export async function linkAttachments(q: Queryable, threadId: number, conversationId: string): Promise<string | undefined> {
  const r = await q.query<{ ref: string }>(
    `WITH req AS (SELECT id, ref FROM requests WHERE conversation_id = $2 ORDER BY created_at DESC LIMIT 1),
          upd AS (UPDATE email_attachments SET request_id = (SELECT id FROM req) WHERE thread_id = $1 AND request_id IS NULL AND EXISTS (SELECT 1 FROM req) RETURNING 1)
     SELECT ref FROM req WHERE EXISTS (SELECT 1 FROM upd)`, [threadId, conversationId]);
  return r.rows[0]?.ref;
}

/** Attachments stored with a request (metadata). */
export async function attachmentsOf(q: Queryable, requestId: string): Promise<{ id: number; filename: string; contentType: string; sizeBytes: number; sha256: string }[]> {
  const r = await q.query('SELECT id, filename, content_type, size_bytes, sha256 FROM email_attachments WHERE request_id = $1 ORDER BY id', [requestId]);
  return r.rows.map((x) => ({ id: Number(x.id), filename: x.filename, contentType: x.content_type, sizeBytes: x.size_bytes, sha256: x.sha256 }));
}
