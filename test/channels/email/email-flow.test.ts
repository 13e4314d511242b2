/**
 * A request by e-mail, start to end, against real servers: errand polls a dovecot IMAP mailbox (its
 * own throwaway instance; without dovecot the same mails go through errand's SMTP listener and the
 * IMAP part is skipped with the install hint) and sends through an SMTP relay (smtp-server) that
 * captures every mail. First mail → every missing question numbered in one reply → answers inline
 * (numbered at the top and typed under a quoted question; one invalid) → the last question → the
 * summary → CONFIRM → approval mails with links to the manager and the data owner → GET shows a page
 * (decides nothing), POST decides → the job runner fulfils → the requester is told in the thread.
 */
import { auditRows, approvalLinks, buildMail, dateAhead, nextMail, openLink, pressLink, replyTo, sendToListener, startEmailApp, textOf, type Captured, type EmailTest } from './harness.js';
import { DOVECOT_INSTALL_HINT, dovecotBinary, startDovecot, type Dovecot } from '../../support/dovecot.js';
import { pino } from 'pino';
import { ImapPoller } from '../../../src/channels/email/imap-poller.js';
import { eventually } from '../../support/test-app.js';

const ERIN = 'erin.employee@example.com';
const MARK = 'mark.manager@example.com';
const OLGA = 'olga.owner@example.com';
const MAILBOX = { user: 'itdesk', password: `imap-${Date.now()}` };
const PASS = ['Authentication-Results', 'mx.example.com; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass (p=reject) header.from=example.com'] as [string, string];

let e: EmailTest;
let dovecot: Dovecot | undefined;

beforeAll(async () => {
  if (dovecotBinary()) dovecot = await startDovecot({ users: [MAILBOX] });
  else console.warn(`${DOVECOT_INSTALL_HINT}\nThe request scenario runs through errand's SMTP listener instead.`);
  e = await startEmailApp({
    EMAIL_NOTIFY: 'all',
    ...(dovecot ? {
      EMAIL_IMAP_HOST: '127.0.0.1', EMAIL_IMAP_PORT: String(dovecot.port), EMAIL_IMAP_SECURE: 'false',
      EMAIL_IMAP_USER: MAILBOX.user, EMAIL_IMAP_PASSWORD: MAILBOX.password, EMAIL_IMAP_POLL_MS: '200',
    } : {}),
  });
});

afterAll(async () => {
  await e?.close();
  await dovecot?.stop();
});

/** Into the service desk's mailbox (IMAP, polled by errand) or, without dovecot, to its SMTP listener. */
async function deliver(raw: Buffer, from: string): Promise<void> {
  if (dovecot) await dovecot.deliver(MAILBOX, raw);
  else await sendToListener(e.listenPort, raw, from);
}

const header = (c: Captured, name: string): string | undefined => {
  const v = c.mail.headers.get(name);
  return typeof v === 'string' ? v : undefined;
};

it('takes a shared-drive request by e-mail through numbered questions, approval links and fulfilment', async () => {
  const { t, sink } = e;
  const db = t.app.db;
  const firstId = '<first-request@mail.example.com>';
  await deliver(buildMail({
    from: `Erin Employee <${ERIN}>`, subject: 'Finance drive', messageId: firstId, headers: [PASS],
    text: 'Hi,\n\nI need access to the finance drive.\n\nThanks,\nErin\n-- \nErin Employee | Accountant | Finance | +44 20 7946 0000',
    attachments: [{ filename: 'manager-ok.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 a small test file') }],
  }), ERIN);

  // 1. what it understood, and every missing question, numbered, in one reply
  const questions = await nextMail(sink, ERIN, 1);
  const q1 = textOf(questions);
  expect(questions.mail.subject).toMatch(/^Re: Finance drive \[errand E-\d+\]$/);
  expect(questions.mail.inReplyTo).toBe(firstId);
  expect(header(questions, 'auto-submitted')).toBe('auto-replied');
  expect(questions.mail.html).toContain('I understood that you need: Shared drive access.');
  expect(q1).toContain('I understood that you need: Shared drive access.');
  expect(q1).toMatch(/Drive: Finance/);
  expect(q1).toMatch(/\n1\. Do you need read or write access\?\n {3}Options: Read only, Read and write/);
  expect(q1).toMatch(/\n2\. Until when do you need it\?/);
  expect(q1).toMatch(/\n3\. What do you need it for\?/);
  expect(q1).toContain('I kept "manager-ok.pdf" with your request.');

  // 2. answers at the top ("1. write", "2. yesterday": invalid) and one typed under its quoted question
  await deliver(replyTo(questions, `Erin Employee <${ERIN}>`, '1. write\n2. yesterday\n', {
    quoteWith: (o) => `\nOn Fri, IT service desk <itdesk@example.com> wrote:\n${o.split('\n').flatMap((l) => (/^3\. /.test(l) ? [`> ${l}`, 'Preparing the year-end close', ''] : [`> ${l}`])).join('\n')}\n`,
    headers: [PASS],
  }), ERIN);
  const second = await nextMail(sink, ERIN, 2);
  const q2 = textOf(second);
  expect(q2).toMatch(/Thanks, I noted: Access level: Read and write; Business reason: Preparing the year-end close\./);
  expect(q2).toMatch(/I could not use your answer to 2 \(Access until\): Please give a date after today/);
  expect(q2).toMatch(/One more question/);
  expect(q2).toMatch(/\n1\. Until when do you need it\?/);
  expect(q2).not.toMatch(/\n2\. /);
  expect(second.mail.inReplyTo).not.toBe(firstId);

  // 3. the last answer → the summary
  const until = dateAhead(90);
  await deliver(replyTo(second, ERIN, `1. ${until.words}`, { quote: true }), ERIN);
  const summary = textOf(await nextMail(sink, ERIN, 3));
  expect(summary).toMatch(/Please check your Shared drive access request:/);
  expect(summary).toMatch(/1\. Drive: Finance\n\n2\. Access level: Read and write\n\n3\. Access until: \d{4}-\d{2}-\d{2}\n\n4\. Business reason: Preparing the year-end close/);
  expect(summary).toContain(`Access until: ${until.iso}`);
  expect(summary).toMatch(/Reply CONFIRM to submit it/);

  // 4. CONFIRM
  await deliver(replyTo(mailsLast(ERIN), ERIN, 'Confirm.', { quote: true }), ERIN);
  const submitted = textOf(await nextMail(sink, ERIN, 1, (c) => /REQ-\d{6} submitted/.test(textOf(c))));
  const ref = /REQ-\d{6}/.exec(submitted)![0];
  const req = (await db.query('SELECT id, status, channel, conversation_id, fields FROM requests WHERE ref = $1', [ref])).rows[0]!;
  expect(req).toMatchObject({ status: 'awaiting-approval', channel: 'email', fields: { drive: 'finance', access: 'write', until: until.iso, justification: 'Preparing the year-end close' } });
  expect(req.conversation_id).toMatch(/^email:E-\d+$/);
  expect(submitted).toMatch(/waiting for approval: Line manager/);
  const files = (await db.query('SELECT filename, size_bytes, request_id FROM email_attachments')).rows;
  expect(files).toEqual([{ filename: 'manager-ok.pdf', size_bytes: 26, request_id: req.id }]);

  // 5. the manager's approval mail: links; opening one decides nothing
  const toMark = await nextMail(sink, MARK, 1, (c) => /Approval needed/.test(c.mail.subject ?? ''), 'approval mail to the manager');
  expect(toMark.mail.subject).toContain(ref);
  expect(header(toMark, 'auto-submitted')).toBe('auto-generated');
  expect(textOf(toMark)).toMatch(/Hi Mark,/);
  expect(textOf(toMark)).toMatch(/Drive: Finance/);
  // a reply does not decide (a From address can be forged): the links do
  await deliver(replyTo(toMark, MARK, 'Approved, go ahead.', { quote: true }), MARK);
  const hint = await nextMail(sink, MARK, 1, (c) => /Approve and Deny links/.test(textOf(c)), 'the hint to use the links');
  expect(hint.mail.subject).toBe(`Re: ${toMark.mail.subject}`);
  expect((await db.query(`SELECT status FROM approvals WHERE request_id = $1 AND step_id = 'manager'`, [req.id])).rows[0]!.status).toBe('pending');
  const markLinks = approvalLinks(toMark);
  const page = await openLink(t, markLinks.approve);
  expect(page.status).toBe(200);
  expect(page.html).toContain(`Approve ${ref}`);
  expect(page.html).toContain('<form method="post">');
  await openLink(t, markLinks.approve); // a link scanner, twice
  expect((await db.query(`SELECT status FROM approvals WHERE request_id = $1 AND step_id = 'manager'`, [req.id])).rows[0]!.status).toBe('pending');
  const approved = await pressLink(t, markLinks.approve);
  expect(approved.status).toBe(200);
  expect(approved.html).toContain(`You approved ${ref}`);
  expect((await db.query(`SELECT status, decided_by FROM approvals WHERE request_id = $1 AND step_id = 'manager'`, [req.id])).rows[0]).toEqual({ status: 'approved', decided_by: MARK });
  // used once: neither link works again
  expect((await pressLink(t, markLinks.approve)).status).toBe(410);
  expect((await pressLink(t, markLinks.deny, { reason: 'changed my mind' })).status).toBe(410);
  expect((await auditRows(t, 'email.approval-link-used')).map((a) => a.detail.outcome)).toEqual(['approved']);

  // 6. write access needs the data owner too
  const toOlga = await nextMail(sink, OLGA, 1, (c) => /Approval needed/.test(c.mail.subject ?? ''), 'approval mail to the data owner');
  expect(textOf(toOlga)).toMatch(/Data owner/);
  expect((await pressLink(t, approvalLinks(toOlga).approve)).html).toContain(`You approved ${ref}`);

  // 7. fulfilled by the job runner; the requester is told in her thread
  await eventually(async () => (await db.query('SELECT status FROM requests WHERE id = $1', [req.id])).rows[0]!.status === 'fulfilled', 30000, 'fulfilment');
  const done = await nextMail(sink, ERIN, 1, (c) => textOf(c).includes(`${ref} is done`), 'the fulfilled mail');
  expect(done.mail.subject).toBe(questions.mail.subject);
  expect(header(done, 'auto-submitted')).toBe('auto-replied');
  const granted = await nextMail(sink, ERIN, 1, (c) => textOf(c).includes('you now have write access to the finance drive'), 'the notify step');
  expect(granted.mail.subject).toBe(questions.mail.subject); // a note naming the request joins its thread
  expect(mailsTo(ERIN).some((c) => /fulfilment started|step \d of \d done/.test(textOf(c)))).toBe(false);
  const grp = (await db.query(`SELECT group_name, until::text AS until FROM group_memberships WHERE person_email = $1 AND group_name LIKE 'drive-%'`, [ERIN])).rows;
  expect(grp).toEqual([{ group_name: 'drive-finance-write', until: until.iso }]);

  // the classifier saw her words, without greeting, closing and signature (the subject is in the sentence already)
  expect((await db.query('SELECT original_text FROM requests WHERE id = $1', [req.id])).rows[0]!.original_text).toBe('I need access to the finance drive.');

  // a new mail naming the request (no threading headers) joins its thread
  await deliver(buildMail({ from: ERIN, subject: `Question about ${ref}`, text: 'status', headers: [PASS] }), ERIN);
  const status = await nextMail(sink, ERIN, 1, (c) => /You have no open requests/.test(textOf(c)), 'the status answer');
  expect(status.mail.subject).toBe(questions.mail.subject);

  if (dovecot) {
    // every mail errand took from the mailbox is marked seen, each processed once
    const seen = await dovecot.messages(MAILBOX);
    expect(seen.length).toBe(6);
    expect(seen.every((m) => m.flags.includes('\\Seen'))).toBe(true);
    expect((await db.query(`SELECT count(*)::int AS n FROM email_inbound WHERE source = 'imap' AND status = 'done'`)).rows[0]!.n).toBe(6);
  }
});

function mailsTo(to: string): Captured[] { return e.sink.received.filter((c) => c.to.includes(to)); }
function mailsLast(to: string): Captured { return mailsTo(to).at(-1)!; }

it('does not take a mail polled again from IMAP twice (same Message-ID)', async () => {
  if (!dovecot) { console.warn(DOVECOT_INSTALL_HINT); return; }
  const { t, sink } = e;
  const raw = buildMail({ from: ERIN, subject: 'status', text: 'status', messageId: '<status-once@mail.example.com>', headers: [PASS] });
  await dovecot.deliver(MAILBOX, raw);
  await dovecot.deliver(MAILBOX, raw); // delivered twice into the mailbox
  await nextMail(sink, ERIN, 2, (c) => /open requests/.test(textOf(c)), 'the status answer');
  await t.app.email!.poller!.poll();
  await t.app.email!.intake.kick();
  await t.app.email!.dispatcher.kick();
  expect(mailsTo(ERIN).filter((c) => /open requests/.test(textOf(c))).length).toBe(2);
  expect((await t.app.db.query(`SELECT count(*)::int AS n FROM email_inbound WHERE message_key = '<status-once@mail.example.com>'`)).rows[0]!.n).toBe(1);
  expect((await auditRows(t, 'email.duplicate')).some((a) => a.subject === '<status-once@mail.example.com>')).toBe(true);
});


it('logs an IMAP failure without the password', async () => {
  if (!dovecot) { console.warn(DOVECOT_INSTALL_HINT); return; }
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => { lines.push(l); } });
  const secret = 'wrong-secret-4711';
  const poller = new ImapPoller({ host: '127.0.0.1', port: dovecot.port, secure: false, user: MAILBOX.user, password: secret, mailbox: 'INBOX', processedMailbox: undefined, pollMs: 60_000 }, 1_000_000, e.t.app.email!.intake, log);
  await expect(poller.poll()).rejects.toThrow();
  expect(lines.join('')).toMatch(/IMAP poll failed/);
  expect(lines.join('')).not.toContain(secret);
});
