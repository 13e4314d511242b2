/**
 * What the e-mail tests share: a real SMTP sink (smtp-server) that stands for the outbound relay and
 * captures what errand sends; the app with the e-mail channel on (its own SMTP listener on a free
 * port); raw mails built by hand (every header under the test's control); sending them to errand's
 * listener with nodemailer, or putting them into an IMAP mailbox errand polls.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { eventually, startTestApp, type TestApp } from '../../support/test-app.js';

export const DESK = 'itdesk@example.com';
export const PUBLIC = 'http://errand.test';

export interface Captured { from: string; to: string[]; raw: string; mail: ParsedMail }

export interface Sink { port: number; received: Captured[]; close(): Promise<void> }

/** The outbound relay errand sends through: accepts everything, keeps every message parsed. */
export async function startSink(): Promise<Sink> {
  const received: Captured[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        void simpleParser(raw).then((mail) => {
          received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw, mail });
          cb(null);
        }, (e: Error) => cb(e));
      });
    },
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;
  return { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export interface EmailTest { t: TestApp; sink: Sink; listenPort: number; close(): Promise<void> }

/** The app with the e-mail channel on: outbound to a sink, its own listener on a free port. */
export async function startEmailApp(env: Record<string, string> = {}): Promise<EmailTest> {
  const sink = await startSink();
  const t = await startTestApp({ env: {
    EMAIL_ADDRESS: DESK, EMAIL_SMTP_HOST: '127.0.0.1', EMAIL_SMTP_PORT: String(sink.port), EMAIL_LISTEN_PORT: '0',
    EMAIL_PUBLIC_URL: PUBLIC, EMAIL_TRUSTED_AUTHSERV_IDS: 'mx.example.com', WEB_CHAT_DEMO: 'false', TEAMS_ENABLED: 'false', ...env,
  } });
  return {
    t, sink, listenPort: t.app.email!.listener?.port ?? 0,
    async close() { await t.close(); await sink.close(); },
  };
}

export interface MailSpec {
  from: string;
  subject: string;
  text?: string;
  html?: string;
  to?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string[];
  headers?: [string, string][];
  attachments?: { filename: string; contentType: string; content: Buffer }[];
}

export const newMessageId = (): string => `<${randomBytes(8).toString('hex')}@mail.example.com>`;

const wrap64 = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');

/** A raw RFC 5322 message (UTF-8 text as base64 parts, so any content survives). */
export function buildMail(m: MailSpec): Buffer {
  const head = [
    ...(m.headers ?? []).map(([k, v]) => `${k}: ${v}`),
    `From: ${m.from}`, `To: ${m.to ?? DESK}`, `Subject: ${m.subject}`, `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${m.messageId ?? newMessageId()}`,
    ...(m.inReplyTo ? [`In-Reply-To: ${m.inReplyTo}`] : []),
    ...(m.references?.length ? [`References: ${m.references.join(' ')}`] : []),
    'MIME-Version: 1.0',
  ];
  const part = (type: string, body: string) => `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrap64(Buffer.from(body, 'utf8'))}`;
  let body: string;
  const alt = m.html !== undefined && m.text !== undefined;
  const content = alt ? `Content-Type: multipart/alternative; boundary="alt-b"\r\n\r\n--alt-b\r\n${part('text/plain', m.text!)}\r\n--alt-b\r\n${part('text/html', m.html!)}\r\n--alt-b--`
    : m.html !== undefined ? part('text/html', m.html) : part('text/plain', m.text ?? '');
  if (m.attachments?.length) {
    body = `Content-Type: multipart/mixed; boundary="mix-b"\r\n\r\n--mix-b\r\n${content}\r\n${m.attachments.map((a) =>
      `--mix-b\r\nContent-Type: ${a.contentType}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrap64(a.content)}\r\n`).join('')}--mix-b--`;
  } else body = content;
  return Buffer.from(`${head.join('\r\n')}\r\n${body}\r\n`, 'utf8');
}

/** Sends a raw mail to errand's SMTP listener; `envelopeFrom` '' is the null sender of bounces. */
export async function sendToListener(port: number, raw: Buffer, envelopeFrom: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, logger: false });
  try {
    await transport.sendMail({ envelope: { from: envelopeFrom, to: [DESK] }, raw });
  } finally {
    transport.close();
  }
}

/** Mails errand sent to `to` (newest last). */
export const mailsTo = (sink: Sink, to: string): Captured[] => sink.received.filter((c) => c.to.includes(to));

/** Waits for the `n`-th mail (1-based) errand sends to `to`, optionally one matching `match`. */
export async function nextMail(sink: Sink, to: string, n: number, match?: (c: Captured) => boolean, what = `mail #${n} to ${to}`): Promise<Captured> {
  return eventually(async () => {
    const list = mailsTo(sink, to).filter((c) => !match || match(c));
    return list.length >= n ? list[n - 1]! : undefined;
  }, 30000, what);
}

/** The text of a mail errand sent (its plain-text part). */
export const textOf = (c: Captured): string => c.mail.text ?? '';

/** A reply to a mail errand sent: threading headers, "Re:" subject, optionally the original quoted under the answer. */
export function replyTo(c: Captured, from: string, text: string, o: { quote?: boolean; quoteWith?: (original: string) => string; messageId?: string; headers?: [string, string][] } = {}): Buffer {
  const original = textOf(c);
  const quoted = o.quoteWith ? o.quoteWith(original) : o.quote ? `\nOn ${new Date().toUTCString()}, IT service desk <${DESK}> wrote:\n${original.split('\n').map((l) => `> ${l}`).join('\n')}\n` : '';
  const refs = [...(Array.isArray(c.mail.references) ? c.mail.references : c.mail.references ? [c.mail.references] : []), c.mail.messageId!];
  return buildMail({ from, subject: `Re: ${c.mail.subject}`, text: `${text}\n${quoted}`, inReplyTo: c.mail.messageId!, references: refs, ...(o.messageId ? { messageId: o.messageId } : {}), ...(o.headers ? { headers: o.headers } : {}) });
}

/** The approve/deny link paths in an approval mail (relative to the app). */
export function approvalLinks(c: Captured): { approve: string; deny: string } {
  const text = textOf(c);
  const find = (label: string) => new RegExp(`${label}: ${PUBLIC.replace(/[.]/g, '\\.')}(/email/approval/[A-Za-z0-9_-]{43})`).exec(text)?.[1];
  const approve = find('Approve'), deny = find('Deny');
  if (!approve || !deny) throw new Error(`no approval links in:\n${text}`);
  return { approve, deny };
}

/** GET of a link page. */
export async function openLink(t: TestApp, path: string): Promise<{ status: number; html: string }> {
  const r = await fetch(`${t.base}${path}`);
  return { status: r.status, html: await r.text() };
}

/** POST of a link page's form (what its button does). */
export async function pressLink(t: TestApp, path: string, form: Record<string, string> = {}): Promise<{ status: number; html: string }> {
  const r = await fetch(`${t.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  return { status: r.status, html: await r.text() };
}

/** A date `days` ahead as people write it ("31 March 2027"). */
export function dateAhead(days: number): { words: string; iso: string } {
  const d = new Date(Date.now() + days * 86_400_000);
  return { words: d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }), iso: d.toISOString().slice(0, 10) };
}

/** The audit rows of an action, newest last. */
export async function auditRows(t: TestApp, action: string): Promise<{ actor: string; subject: string | null; detail: Record<string, unknown> }[]> {
  return (await t.app.db.query(`SELECT actor, subject, detail FROM audit_log WHERE action = $1 ORDER BY id`, [action])).rows as never;
}
