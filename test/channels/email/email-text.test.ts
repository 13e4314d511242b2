/** The pure parts of the e-mail channel: what a person wrote, numbered answers, keywords, the guards, rendering, configuration. */
import { authenticationVerdict, automaticMailReason, parseAuthenticationResults, type HeaderLine } from '../../../src/channels/email/email-guards.js';
import { renderEmail } from '../../../src/channels/email/email-render.js';
import { cleanSubject, formatBytes, inlineAnswers, numberedAnswers, replyKeyword, replyText } from '../../../src/channels/email/email-text.js';
import { loadConfig } from '../../../src/config.js';

describe('replyText: the person\'s own words', () => {
  it('cuts a Gmail-style quote, the signature, the greeting and the closing', () => {
    const body = 'Hi,\n\nI need write access to the finance drive.\n\nThanks,\nErin\n-- \nErin Employee | Finance\n\nOn Fri, 27 Nov 2026 at 10:00, IT service desk <itdesk@example.com> wrote:\n> 1. Which drive?\n> Options: Finance, HR';
    expect(replyText(body)).toBe('I need write access to the finance drive.');
  });

  it('cuts a reply header wrapped over two lines', () => {
    expect(replyText('1. write\n\nOn Fri, 27 Nov 2026 at 10:00, IT service desk <\nitdesk@example.com> wrote:\n> 1. Which drive?')).toBe('1. write');
  });

  it('cuts an Outlook block (rule, From:, Sent:) that has no ">" quoting', () => {
    const body = 'CONFIRM\r\n\r\n________________________________\r\nFrom: IT service desk <itdesk@example.com>\r\nSent: Friday, 27 November 2026 10:00\r\nTo: Erin Employee\r\nSubject: Re: Finance drive [errand E-1]\r\n\r\nPlease check your request';
    expect(replyText(body)).toBe('CONFIRM');
    expect(replyText('2. Read only\n\nFrom: IT service desk <itdesk@example.com>\nSent: Friday\nSubject: x\n\n1. Drive: Finance')).toBe('2. Read only');
    expect(replyText('-----Original Message-----\nanything')).toBe('');
  });

  it('cuts German and French reply headers and mobile signatures', () => {
    expect(replyText('Ja, bitte.\n\nAm 27.11.2026 um 10:00 schrieb IT service desk <itdesk@example.com>:\n> Frage')).toBe('Ja, bitte.');
    expect(replyText('Oui.\n\nLe ven. 27 nov. 2026 à 10:00, IT <itdesk@example.com> a écrit :\n> Question')).toBe('Oui.');
    expect(replyText('status\n\nSent from my iPhone')).toBe('status');
  });

  it('takes a reply written below the quote when there is nothing above it', () => {
    expect(replyText('On Fri, IT service desk <itdesk@example.com> wrote:\n> 1. Which drive?\n> Reply CANCEL to drop this request.\n\n1. Finance\n\nThanks,\nErin')).toBe('1. Finance');
  });

  it('keeps a one-line message that starts with a greeting, and a closing that is the whole message', () => {
    expect(replyText('Hi, I need a new laptop')).toBe('Hi, I need a new laptop');
    expect(replyText('Thanks')).toBe('Thanks');
    expect(replyText('Hello team,\nMy VPN does not connect.\nKind regards, Fred Fulfiller')).toBe('My VPN does not connect.');
  });
});

describe('numbered and inline answers', () => {
  it('reads "1. write", "2) a date", "Q3: none" and continuation lines, within the question count', () => {
    const { answers, outOfRange } = numberedAnswers('1. write\n2) 31 March 2027\nQ3: none\n4 - Preparing the\nyear-end close\n\n7. what?', 4);
    expect([...answers]).toEqual([[1, 'write'], [2, '31 March 2027'], [3, 'none'], [4, 'Preparing the year-end close']]);
    expect(outOfRange).toEqual([7]);
  });

  it('does not take dates, times or numbers in prose for numbered answers', () => {
    expect(numberedAnswers('31.03.2027\n10:30 is fine\n3 people need it', 4).answers.size).toBe(0);
    expect([...numberedAnswers('1.\nwrite', 2).answers]).toEqual([[1, 'write']]);
  });

  it('reads answers typed under the quoted questions, but not a signature below the quote', () => {
    const body = [
      'See below.', '', 'On Fri, IT service desk wrote:', '> Hi Erin,', '>',
      '> 1. Do you need read or write access?', '>    Options: Read only, Read and write', 'write', '>',
      '> 2. Until when do you need it?', '31 March 2027', 'or earlier', '>',
      '> 3. What do you need it for?', '>', '> Reply CANCEL to drop this request.', '', 'Erin', 'Finance',
    ].join('\n');
    expect([...inlineAnswers(body, 3)]).toEqual([[1, 'write'], [2, '31 March 2027 or earlier']]);
    expect(inlineAnswers('no quote at all\n1. x', 3).size).toBe(0);
  });

  it('turns the first line into a reply keyword', () => {
    expect(replyKeyword('Confirm.\n\nThanks')).toBe('CONFIRM');
    expect(replyKeyword('  "cancel"  ')).toBe('CANCEL');
    expect(replyKeyword('hand over to a person!')).toBe('HAND OVER TO A PERSON');
    expect(replyKeyword('')).toBeUndefined();
    expect(replyKeyword('x'.repeat(80))).toBeUndefined();
  });

  it('cleans subjects and formats sizes', () => {
    expect(cleanSubject('Re: AW: Fwd: Finance drive [errand E-12]')).toBe('Finance drive');
    expect(cleanSubject('RE[2]: status')).toBe('status');
    expect(formatBytes(60_000)).toBe('58.6 KB');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MB');
  });
});

const lines = (...h: [string, string][]): HeaderLine[] => h.map(([k, v]) => ({ key: k.toLowerCase(), line: `${k}: ${v}` }));

describe('guards', () => {
  const base = { ownAddresses: ['itdesk@example.com'], maxReceived: 25 };
  it('recognises automatic mail and leaves a person\'s mail alone', () => {
    expect(automaticMailReason({ ...base, headerLines: lines(['Auto-Submitted', 'no']), from: 'erin@example.com' })).toBeUndefined();
    expect(automaticMailReason({ ...base, headerLines: lines(['Auto-Submitted', 'auto-generated; owner-email="x@example.com"']), from: 'erin@example.com' })).toMatch(/auto-generated/);
    expect(automaticMailReason({ ...base, headerLines: lines(['Precedence', 'junk']), from: 'erin@example.com' })).toBe('Precedence: junk');
    expect(automaticMailReason({ ...base, headerLines: lines(['X-Errand-Loop', 'itdesk@example.com']), from: 'erin@example.com' })).toMatch(/came back/);
    expect(automaticMailReason({ ...base, headerLines: lines(['Return-Path', '<>']), from: 'erin@example.com' })).toMatch(/bounce/);
    expect(automaticMailReason({ ...base, headerLines: [], from: 'no-reply@vendor.example' })).toMatch(/automatic sender/);
    expect(automaticMailReason({ ...base, headerLines: [], from: 'erin@example.com', contentType: 'multipart/report; report-type=delivery-status' })).toMatch(/report/);
  });

  it('parses Authentication-Results with comments, versions and properties', () => {
    expect(parseAuthenticationResults('mx.example.com 1; spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=erin@example.com; dkim/1=pass header.d=example.com header.s="s1"; dmarc=fail (p=reject dis=none) header.from=example.com')).toEqual({
      authservId: 'mx.example.com',
      results: [
        { method: 'spf', result: 'pass', props: { 'smtp.mailfrom': 'erin@example.com' } },
        { method: 'dkim', result: 'pass', props: { 'header.d': 'example.com', 'header.s': 's1' } },
        { method: 'dmarc', result: 'fail', props: { 'header.from': 'example.com' } },
      ],
    });
    expect(parseAuthenticationResults('mx.example.com; none')).toEqual({ authservId: 'mx.example.com', results: [] });
    expect(parseAuthenticationResults('spf=pass')).toBeUndefined();
  });

  it('believes only the trusted authserv-id; a fail there makes the sender untrusted', () => {
    const v = (value: string, o: { require?: boolean; from?: string } = {}) => authenticationVerdict(lines(['Authentication-Results', value]), ['mx.example.com'], o.require ?? false, o.from ?? 'erin@example.com');
    expect(v('evil.example; dmarc=fail').trusted).toBe(true); // not ours: ignored
    expect(v('mx.example.com; dmarc=fail header.from=example.com')).toMatchObject({ trusted: false, reason: 'dmarc=fail' });
    expect(v('mx.example.com; spf=fail smtp.mailfrom=example.com')).toMatchObject({ trusted: false, reason: 'spf=fail' });
    expect(v('mx.example.com; dkim=fail header.d=example.com')).toMatchObject({ trusted: false, reason: 'dkim=fail' });
    expect(v('mx.example.com; dkim=fail header.d=list.example; dkim=pass header.d=example.com').trusted).toBe(true);
    expect(v('mx.example.com; spf=softfail; dkim=none; dmarc=none').trusted).toBe(true);
    // requireAuth: a passing result aligned with the From domain
    expect(v('mx.example.com; dkim=pass header.d=example.com', { require: true }).trusted).toBe(true);
    expect(v('mx.example.com; dkim=pass header.d=mail.example.com', { require: true }).trusted).toBe(true);
    expect(v('mx.example.com; spf=pass smtp.mailfrom=bounce@other.example', { require: true })).toMatchObject({ trusted: false, reason: 'no passing authentication result aligned with the From domain' });
    expect(authenticationVerdict([], ['mx.example.com'], true, 'erin@example.com')).toMatchObject({ trusted: false, reason: 'no Authentication-Results from a trusted server' });
    expect(authenticationVerdict(lines(['Authentication-Results', 'mx.example.com; dmarc=fail']), [], false, 'erin@example.com').trusted).toBe(true);
  });
});

describe('rendering', () => {
  it('escapes HTML, turns buttons into reply keywords (a leading number alone) and approval buttons into links', () => {
    const d = renderEmail({
      name: 'Erin', threadRef: 'E-7', fromName: 'IT service desk', links: new Map([['11111111-2222-3333-4444-555555555555', { approve: 'https://e.example/email/approval/a?x=1&y=2', deny: 'https://e.example/email/approval/d', expiresAt: new Date('2027-01-01T10:00:00Z') }]]),
      messages: [
        { kind: 'info', text: 'Rate <b>it</b>', buttons: [{ id: 'rating:r:1', label: '1 (poor)' }, { id: 'rating:r:5', label: '5 (excellent)' }, { id: 'desk:ask', label: 'Pass it to the service desk', value: 'blorp' }] },
        { kind: 'approval', text: 'Approval needed', approvalId: '11111111-2222-3333-4444-555555555555', buttons: [{ id: 'approval:11111111-2222-3333-4444-555555555555:approve', label: 'Approve' }, { id: 'approval:11111111-2222-3333-4444-555555555555:deny', label: 'Deny' }] },
        { kind: 'prompt', text: 'Which drive?', choices: { options: [{ value: 'a', label: 'A' }], multi: false } },
      ],
    });
    expect(d.actions).toEqual({ 1: { id: 'rating:r:1' }, 5: { id: 'rating:r:5' }, 'PASS IT TO THE SERVICE DESK': { id: 'desk:ask', value: 'blorp' } });
    expect(d.text).toContain('To choose, reply with one of: "1", "5", "PASS IT TO THE SERVICE DESK".');
    expect(d.text).toContain('Approve: https://e.example/email/approval/a?x=1&y=2');
    expect(d.text).toContain('until 2027-01-01 10:00 UTC');
    expect(d.text).not.toContain('Which drive?'); // a dialog prompt without a dialog section is not mailed
    expect(d.html).toContain('Rate &lt;b&gt;it&lt;/b&gt;');
    expect(d.html).toContain('href="https://e.example/email/approval/a?x=1&amp;y=2"');
    expect(d.questions).toBeNull();
  });
});

describe('configuration', () => {
  const ok = { EMAIL_ADDRESS: 'ItDesk@Example.com', EMAIL_SMTP_HOST: 'smtp.example.com', EMAIL_LISTEN_PORT: '2525' };
  it('is off without EMAIL_ADDRESS, and on with a relay and an inbound path', () => {
    expect(loadConfig({}).email).toBeUndefined();
    const c = loadConfig({ ...ok, EMAIL_ALIASES: 'Help@Example.com, servicedesk@example.com', EMAIL_TRUSTED_AUTHSERV_IDS: 'MX.example.com' }).email!;
    expect(c).toMatchObject({ address: 'itdesk@example.com', aliases: ['help@example.com', 'servicedesk@example.com'], trustedAuthservIds: ['mx.example.com'], unknownSenders: 'reject', notify: 'email-users', publicUrl: 'http://localhost:3000' });
    expect(c.listen).toMatchObject({ host: '127.0.0.1', port: 2525 });
    expect(c.imap).toBeUndefined();
  });

  it('names the variables of every inconsistency', () => {
    const err = (env: Record<string, string>) => { try { loadConfig(env); return ''; } catch (e) { return (e as Error).message; } };
    expect(err({ EMAIL_SMTP_HOST: 'smtp.example.com' })).toMatch(/EMAIL_ADDRESS: required when other EMAIL_\* variables are set \(EMAIL_SMTP_HOST\)/);
    expect(err({ EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_LISTEN_PORT: '25' })).toMatch(/EMAIL_SMTP_HOST: required/);
    expect(err({ EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: 'smtp' })).toMatch(/EMAIL_IMAP_HOST or EMAIL_LISTEN_PORT/);
    expect(err({ ...ok, EMAIL_IMAP_HOST: 'imap.example.com' })).toMatch(/EMAIL_IMAP_USER and EMAIL_IMAP_PASSWORD/);
    expect(err({ ...ok, EMAIL_REQUIRE_AUTH: 'true' })).toMatch(/EMAIL_TRUSTED_AUTHSERV_IDS: required with EMAIL_REQUIRE_AUTH/);
    expect(err({ ...ok, EMAIL_UNKNOWN_SENDERS: 'ignore' })).toMatch(/EMAIL_UNKNOWN_SENDERS/);
    expect(err({ ...ok, NODE_ENV: 'production', API_KEYS: 'k', TEAMS_ENABLED: 'false' })).toMatch(/EMAIL_PUBLIC_URL: required/);
    expect(err({ ...ok, EMAIL_ADDRESS: 'not-an-address' })).toMatch(/EMAIL_ADDRESS/);
  });

  it('does not repeat a secret\'s value in the error', () => {
    const m = (() => { try { loadConfig({ ...ok, EMAIL_LISTEN_USER: 'mta', EMAIL_LISTEN_PASSWORD: 'short' }); return ''; } catch (e) { return (e as Error).message; } })();
    expect(m).toMatch(/EMAIL_LISTEN_PASSWORD: at least 8 characters \(value hidden\)/);
    expect(m).not.toContain('short');
  });
});

describe('catalogue change cards by e-mail', () => {
  it('offer no reply keywords: changes are decided in chat or with the CLI', () => {
    const d = renderEmail({
      name: 'Olga', threadRef: 'E-9', fromName: 'IT service desk', links: new Map(),
      messages: [{ kind: 'approval', text: 'Change CHG-000012 needs your approval', buttons: [{ id: 'change:CHG-000012:approve', label: 'Approve' }, { id: 'change:CHG-000012:deny', label: 'Deny' }] }],
    });
    expect(d.actions).toEqual({});
    expect(d.text).toContain('npx errand change approve|deny CHG-000012');
    expect(d.text).toContain('A reply to this e-mail does not decide');
    expect(d.text).not.toMatch(/reply with one of/);
  });
});
