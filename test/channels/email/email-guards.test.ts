/**
 * What errand must not do with mail, against the real listener and relay: answer automatic mail or
 * loops, act twice on one Message-ID, believe a sender that failed DMARC, take requests from strangers,
 * keep oversized attachments, or let an approval link be reused, used late or used by the wrong person.
 */
import { createHash } from 'node:crypto';
import { EmailIntake } from '../../../src/channels/email/email-intake.js';
import { buildMail, nextMail, auditRows, mailsTo, newMessageId, openLink, pressLink, sendToListener, startEmailApp, textOf, DESK, type EmailTest } from './harness.js';

const ERIN = 'erin.employee@example.com';
const FRED = 'fred.fulfiller@example.com';
const MARK = 'mark.manager@example.com';

let e: EmailTest;
beforeAll(async () => {
  e = await startEmailApp({ EMAIL_MAX_ATTACHMENT_BYTES: '50000', EMAIL_MAX_MESSAGE_BYTES: '400000' });
});
afterAll(async () => { await e?.close(); });

const send = (raw: Buffer, envelopeFrom: string) => sendToListener(e.listenPort, raw, envelopeFrom);
const inboundStatus = async (messageId: string) => (await e.t.app.db.query('SELECT status, reason FROM email_inbound WHERE message_key = $1', [messageId])).rows[0];
/** Sends a plain mail from Fred and waits for its answer: everything sent before it was processed. */
async function sentinel(): Promise<void> {
  const id = newMessageId();
  const before = mailsTo(e.sink, FRED).length;
  await send(buildMail({ from: FRED, subject: 'status', text: 'status', messageId: id }), FRED);
  await nextMail(e.sink, FRED, before + 1, undefined, 'the sentinel answer');
}

it('ignores auto-replies, bounces and mail loops, audited and unanswered', async () => {
  const received = Array.from({ length: 30 }, (_, i): [string, string] => ['Received', `from relay${i}.example.com by relay${i + 1}.example.com; Fri, 27 Nov 2026 10:00:${String(i).padStart(2, '0')} +0000`]);
  const cases: { name: string; raw: Buffer; envelope: string; reason: RegExp }[] = [
    { name: 'out of office', raw: buildMail({ from: ERIN, subject: 'Automatic reply: Your request', text: 'I am out of the office.', headers: [['Auto-Submitted', 'auto-replied']] }), envelope: ERIN, reason: /Auto-Submitted: auto-replied/ },
    { name: 'bulk', raw: buildMail({ from: ERIN, subject: 'Newsletter', text: 'News', headers: [['Precedence', 'bulk']] }), envelope: ERIN, reason: /Precedence: bulk/ },
    { name: 'exchange auto', raw: buildMail({ from: ERIN, subject: 'Out of office', text: 'Away', headers: [['X-Auto-Response-Suppress', 'All']] }), envelope: ERIN, reason: /X-Auto-Response-Suppress/ },
    { name: 'bounce', raw: buildMail({ from: 'Mail Delivery System <MAILER-DAEMON@mail.example.com>', subject: 'Undelivered Mail Returned to Sender', text: 'could not be delivered' }), envelope: '', reason: /null envelope sender|MAILER-DAEMON|mailer-daemon/i },
    { name: 'postmaster', raw: buildMail({ from: 'postmaster@example.com', subject: 'Delivery report', text: 'report' }), envelope: 'postmaster@example.com', reason: /automatic sender postmaster@example.com/ },
    { name: 'our own address', raw: buildMail({ from: DESK, subject: 'Re: Your request', text: 'echo' }), envelope: DESK, reason: /our own address/ },
    { name: 'a loop', raw: buildMail({ from: ERIN, subject: 'Looping', text: 'I need access to the finance drive', headers: received }), envelope: ERIN, reason: /30 Received: headers/ },
    { name: 'a list', raw: buildMail({ from: ERIN, subject: 'Weekly digest', text: 'digest', headers: [['List-Id', '<it-news.example.com>']] }), envelope: ERIN, reason: /mailing-list/ },
  ];
  for (const c of cases) await send(c.raw, c.envelope);
  await sentinel();
  const ignored = await auditRows(e.t, 'email.ignored');
  for (const c of cases) expect({ name: c.name, hit: ignored.some((a) => c.reason.test(String(a.detail.reason))) }).toEqual({ name: c.name, hit: true });
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM email_inbound WHERE status = 'ignored'`)).rows[0]!.n).toBe(cases.length);
  // nothing answered, nothing started
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM messages WHERE person_email <> $1`, [FRED])).rows[0]!.n).toBe(0);
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM conversations WHERE person_email = $1`, [ERIN])).rows[0]!.n).toBe(0);
  expect(e.sink.received.filter((c) => !c.to.includes(FRED))).toEqual([]);
});

it('creates nothing twice for a duplicate Message-ID', async () => {
  const id = newMessageId();
  const raw = buildMail({ from: FRED, subject: 'VPN', text: 'I need VPN access to work from home.', messageId: id });
  const before = mailsTo(e.sink, FRED).length;
  await Promise.all([send(raw, FRED), send(raw, FRED)]);
  await send(buildMail({ from: FRED, subject: 'VPN again', text: 'I need VPN access to work from home.', messageId: id }), FRED); // same id, other content
  const reply = await nextMail(e.sink, FRED, before + 1);
  expect(textOf(reply)).toMatch(/I understood that you need: VPN access/);
  await sentinel();
  expect(mailsTo(e.sink, FRED).filter((c) => /VPN access/.test(textOf(c)))).toHaveLength(1);
  expect((await e.t.app.db.query('SELECT count(*)::int AS n FROM email_inbound WHERE message_key = $1', [id])).rows[0]!.n).toBe(1);
  expect((await auditRows(e.t, 'email.duplicate')).filter((a) => a.subject === id)).toHaveLength(2);
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'nlu.classified' AND actor = $1 AND detail->>'intent' = 'vpn-access'`, [FRED])).rows[0]!.n).toBe(1);
});

it('matches a mail to its thread by the subject tag, only for the thread\'s own person', async () => {
  const db = e.t.app.db;
  const questions = mailsTo(e.sink, FRED).find((c) => /VPN access/.test(textOf(c)))!;
  const tag = /\[errand (E-\d+)\]/.exec(questions.mail.subject!)![1]!;
  const conv = `email:${tag}`;
  expect(textOf(questions)).toMatch(/\n1\. Will you connect from a company laptop or a personal device\?/);
  const stateOf = async () => (await db.query('SELECT state FROM conversations WHERE id = $1', [conv])).rows[0]!.state;
  const before = await stateOf();

  // someone else answers in Fred's thread (his Message-ID and tag): a thread of their own, Fred's dialog untouched
  const DANA = 'dana.director@example.com';
  await send(buildMail({ from: DANA, subject: `Re: ${questions.mail.subject}`, text: '1. personal\n2. I want to see', inReplyTo: questions.mail.messageId!, references: [questions.mail.messageId!] }), DANA);
  const toDana = await nextMail(e.sink, DANA, 1);
  expect(toDana.mail.subject).not.toContain(tag);
  expect(await stateOf()).toEqual(before);

  // Fred writes a new mail (no threading headers) with the tag: it continues his dialog
  const n = mailsTo(e.sink, FRED).length;
  await send(buildMail({ from: FRED, subject: `VPN [errand ${tag}]`, text: '1. company laptop\n2. Remote work from home on Fridays' }), FRED);
  const summary = await nextMail(e.sink, FRED, n + 1);
  expect(summary.mail.subject).toContain(`[errand ${tag}]`);
  expect(textOf(summary)).toMatch(/Please check your VPN access request:/);
  expect(textOf(summary)).toMatch(/Device: Company-managed laptop/);
  expect((await stateOf()).mode).toBe('confirming');
});

it('reads a mail that has only an HTML body', async () => {
  const n = mailsTo(e.sink, FRED).length;
  await send(buildMail({ from: FRED, subject: 'Drive', html: '<div>Hello,</div><div>I need access to the <b>marketing</b> drive, read only please.</div><div>-- <br>Fred Fulfiller<br>IT</div>' }), FRED);
  const reply = textOf(await nextMail(e.sink, FRED, n + 1));
  expect(reply).toMatch(/I understood that you need: Shared drive access/);
  expect(reply).toMatch(/Drive: Marketing/);
  expect(reply).toMatch(/Access level: Read only/);
});

it('does not believe a sender that fails DMARC at our own server, and does not answer the forged address', async () => {
  const spoof = newMessageId();
  await send(buildMail({
    from: `Erin Employee <${ERIN}>`, subject: 'Admin access please', text: 'I need admin access to the finance server.', messageId: spoof,
    headers: [
      ['Authentication-Results', 'evil.example; dmarc=pass header.from=example.com'], // anyone can write this one: not believed
      ['Authentication-Results', 'mx.example.com; spf=softfail smtp.mailfrom=evil.example; dkim=none; dmarc=fail (p=quarantine) header.from=example.com'],
    ],
  }), 'attacker@evil.example');
  await sentinel();
  expect(await inboundStatus(spoof)).toEqual({ status: 'rejected', reason: 'sender not verified (dmarc=fail)' });
  const untrusted = (await auditRows(e.t, 'email.untrusted')).find((a) => a.subject === spoof)!;
  expect(untrusted).toMatchObject({ actor: ERIN, detail: { reason: 'dmarc=fail', results: ['mx.example.com: spf=softfail dkim=none dmarc=fail'] } });
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM conversations WHERE person_email = $1`, [ERIN])).rows[0]!.n).toBe(0);
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM messages WHERE person_email = $1`, [ERIN])).rows[0]!.n).toBe(0);
  expect(mailsTo(e.sink, ERIN)).toEqual([]);
});

it('refuses a stranger politely, once a day; in triage mode their mail becomes a case', async () => {
  const stranger = 'someone@elsewhere.example';
  await send(buildMail({ from: `Some One <${stranger}>`, subject: 'Laptop', text: 'Please send me a laptop.' }), stranger);
  const reply = await nextMail(e.sink, stranger, 1);
  expect(textOf(reply)).toMatch(/could not find someone@elsewhere\.example in the company directory/);
  expect(reply.mail.subject).toMatch(/^Re: Laptop \[errand E-\d+\]$/);
  await send(buildMail({ from: stranger, subject: 'Laptop??', text: 'Hello?' }), stranger);
  await sentinel();
  expect(mailsTo(e.sink, stranger)).toHaveLength(1);
  expect((await auditRows(e.t, 'email.unknown-sender')).filter((a) => a.actor === stranger)).toHaveLength(2);
  expect((await e.t.app.db.query(`SELECT count(*)::int AS n FROM requests`)).rows[0]!.n).toBe(0);

  // the same app's pieces with EMAIL_UNKNOWN_SENDERS=triage
  const app = e.t.app;
  await app.email!.intake.stop(); // the app's own intake (reject mode) must not take this mail
  const triage = new EmailIntake({ db: app.db, config: { ...app.config.email!, unknownSenders: 'triage' }, conversation: app.conversation, catalogue: () => app.catalogue, log: app.log });
  const other = 'contractor@partner.example';
  await triage.receive(buildMail({ from: other, subject: 'Cannot log in', text: 'My account does not work, can you help?' }), { source: 'smtp', envelopeFrom: other });
  expect(await triage.tick()).toBe(1);
  app.email!.intake.start(5_000);
  const c = (await app.db.query(`SELECT ref, title, description, queue, person_email FROM cases WHERE person_email = $1`, [other])).rows[0]!;
  expect(c).toMatchObject({ queue: 'service-desk', title: `E-mail from ${other} (not in the directory): Cannot log in` });
  expect(c.description).toContain('My account does not work');
  const told = (await app.db.query(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'tara.triage@example.com'`)).rows.map((r) => r.text);
  expect(told).toEqual([expect.stringContaining(`is waiting for the service desk as ${c.ref}`)]);
  await app.email!.dispatcher.kick();
  expect(textOf(await nextMail(e.sink, other, 1))).toContain(`passed it to the service desk (${c.ref})`);
});

it('keeps attachments within the limit and says which it did not keep; refuses an oversized mail at SMTP', async () => {
  const id = newMessageId();
  const before = mailsTo(e.sink, FRED).length;
  await send(buildMail({
    from: FRED, subject: 'New monitor', text: 'I need access to the engineering drive, read only.', messageId: id,
    attachments: [
      { filename: 'screenshot.png', contentType: 'image/png', content: Buffer.alloc(2000, 7) },
      { filename: 'disk-image.iso', contentType: 'application/octet-stream', content: Buffer.alloc(60_000, 1) },
    ],
  }), FRED);
  const reply = textOf(await nextMail(e.sink, FRED, before + 1));
  expect(reply).toContain('The attachment "disk-image.iso" (58.6 KB) is larger than the 48.8 KB limit, so I did not keep it. Please share it as a link, or send a smaller file.');
  expect(reply).toContain('I kept "screenshot.png" with your request.');
  const kept = (await e.t.app.db.query('SELECT a.filename, a.size_bytes, a.sha256 FROM email_attachments a JOIN email_inbound i ON i.id = a.inbound_id WHERE i.message_key = $1', [id])).rows;
  expect(kept).toEqual([{ filename: 'screenshot.png', size_bytes: 2000, sha256: createHash('sha256').update(Buffer.alloc(2000, 7)).digest('hex') }]);
  expect((await auditRows(e.t, 'email.attachment-refused')).map((a) => a.detail.filename)).toEqual(['disk-image.iso']);

  const huge = buildMail({ from: FRED, subject: 'Huge', text: 'big', attachments: [{ filename: 'huge.bin', contentType: 'application/octet-stream', content: Buffer.alloc(450_000, 2) }] });
  await expect(send(huge, FRED)).rejects.toThrow(/552.*at most 390.6 KB/);
});

describe('approval links', () => {
  let approvalId: string;
  let requestId: string;
  const links = () => e.t.app.email!.links;
  const path = (url: string) => new URL(url).pathname;

  beforeAll(async () => {
    const app = e.t.app;
    const { request } = await app.requests.submit({
      item: app.catalogue.get('vpn-access')!, requesterEmail: ERIN, channel: 'email',
      answers: { profile: 'standard', device: 'company', justification: 'Working from home on Fridays' },
    });
    requestId = request.id;
    approvalId = (await app.db.query(`SELECT id FROM approvals WHERE request_id = $1 AND step_id = 'manager'`, [request.id])).rows[0]!.id;
  });

  const status = async () => (await e.t.app.db.query('SELECT status FROM approvals WHERE id = $1', [approvalId])).rows[0]!.status;

  it('are not mailed to an approver whose channel is not e-mail (EMAIL_NOTIFY=email-users)', async () => {
    await e.t.app.email!.dispatcher.kick();
    expect(mailsTo(e.sink, MARK)).toEqual([]);
  });

  it('refuse an expired link, on the page and on the button', async () => {
    const pair = await links().issue(approvalId, MARK);
    const token = path(pair.approve).split('/').pop()!;
    await e.t.app.db.query(`UPDATE email_approval_links SET expires_at = now() - interval '1 minute' WHERE token_hash = $1`, [createHash('sha256').update(token).digest('hex')]);
    expect((await openLink(e.t, path(pair.approve))).status).toBe(410);
    const r = await pressLink(e.t, path(pair.approve));
    expect(r.status).toBe(410);
    expect(r.html).toContain('This link no longer works');
    expect(await status()).toBe('pending');
  });

  it('refuse the requester, someone who is not an approver, and an approver removed from the step', async () => {
    const self = await links().issue(approvalId, ERIN);
    const r1 = await pressLink(e.t, path(self.approve));
    expect(r1.status).toBe(403);
    expect(r1.html).toContain('You cannot approve or deny your own request.');
    const stranger = await links().issue(approvalId, FRED);
    const r2 = await pressLink(e.t, path(stranger.approve));
    expect(r2.status).toBe(403);
    expect(r2.html).toMatch(/You are not an approver for REQ-\d{6}/);
    const mark = await links().issue(approvalId, MARK);
    await e.t.app.db.query(`UPDATE approvals SET approvers = '{dana.director@example.com}' WHERE id = $1`, [approvalId]);
    const r3 = await pressLink(e.t, path(mark.approve));
    expect(r3.status).toBe(403);
    await e.t.app.db.query(`UPDATE approvals SET approvers = '{mark.manager@example.com}' WHERE id = $1`, [approvalId]);
    expect(await status()).toBe('pending');
    expect((await auditRows(e.t, 'approval.refused')).map((a) => a.detail.why)).toEqual(['self-approval', 'not an approver', 'not an approver']);
  });

  it('decide once: a denial needs a reason, the link pair is then spent, and a reused link is refused', async () => {
    const pair = await links().issue(approvalId, MARK);
    const page = await openLink(e.t, path(pair.deny));
    expect(page.status).toBe(200);
    expect(page.html).toContain('<textarea id="reason" name="reason" required');
    const noReason = await pressLink(e.t, path(pair.deny), { reason: ' ' });
    expect(noReason.status).toBe(400);
    expect(noReason.html).toContain('Please give a reason');
    expect((await openLink(e.t, path(pair.deny))).status).toBe(200); // still usable
    const denied = await pressLink(e.t, path(pair.deny), { reason: 'Use the office on Fridays' });
    expect(denied.status).toBe(200);
    expect(denied.html).toMatch(/You denied REQ-\d{6}/);
    expect(await status()).toBe('denied');
    expect((await e.t.app.db.query('SELECT status FROM requests WHERE id = $1', [requestId])).rows[0]!.status).toBe('denied');
    expect((await pressLink(e.t, path(pair.deny), { reason: 'again' })).status).toBe(410);
    expect((await pressLink(e.t, path(pair.approve))).status).toBe(410);
    expect((await openLink(e.t, '/email/approval/not-a-token')).status).toBe(410);
    const used = (await e.t.app.db.query(`SELECT decision, outcome FROM email_approval_links WHERE approval_id = $1 AND approver_email = $2 AND used_at IS NOT NULL ORDER BY used_at, decision`, [approvalId, MARK])).rows;
    expect(used).toEqual(expect.arrayContaining([{ decision: 'deny', outcome: 'denied' }, { decision: 'approve', outcome: 'superseded' }]));
    expect((await auditRows(e.t, 'email.approval-link-refused')).map((a) => a.detail.why)).toEqual(['link expired', 'link used already', 'link used already']);
  });
});
