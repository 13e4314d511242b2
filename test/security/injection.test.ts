/**
 * Hostile free text through every path it takes: classification, the dialog, stored answers,
 * messages (Slack Block Kit, Teams Adaptive Cards, the web chat's JSON), logs and the CSV reports.
 * SQL fragments, template syntax, Slack mrkdwn, Adaptive Card JSON, control characters (NUL, ANSI
 * escapes, CR/LF with a fake log line), very long text, emoji and right-to-left overrides must arrive
 * as text: never executed, expanded, mentioned, linked, parsed or split into log lines, and never
 * breaking the conversation (NUL is the one character dropped: PostgreSQL stores none).
 */
import { jest } from '@jest/globals';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { dmEvent, fakeSlackApi, sendEvent, slackEnv, TRIAGE_CHANNEL, type SlackCall } from '../support/slack-fake.js';
import { cardOf, fakeTeams, message, post as teamsPost, teamsEnv, type ConnectorCall } from '../support/teams-fake.js';
import { WebUser, type WebMessage } from '../support/web-client.js';
import { captureLog, type CapturedLog } from '../support/security/capture.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { renderMessage } from '../../src/channels/slack/block-kit.js';
import { renderCard } from '../../src/channels/teams/adaptive-cards.js';
import { renderTemplate } from '../../src/catalogue/template.js';
import { toCsv, type ComplianceRow } from '../../src/governance/compliance-report.js';
import { reviewToCsv, serviceReview } from '../../src/reporting/service-review.js';
import { csvCell } from '../../src/reporting/csv.js';

const FORMULA_TITLE = `=cmd|' /C calc'!A0`;
export const PAYLOADS: Record<string, string> = {
  sql: `Robert'); DROP TABLE requests; -- ' OR '1'='1`,
  template: 'Please {{requester.email}} ${process.env.SLACK_BOT_TOKEN} {{steps.grant.group}} #{7*7} <%= 7*7 %>',
  mrkdwn: 'hey <!channel> <!here> <!everyone> <https://evil.example/login|click here> <@UMARK> *bold* _it_ ~x~ `code` &amp; &lt;',
  card: JSON.stringify({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: 'PWNED' }], actions: [{ type: 'Action.OpenUrl', title: 'Approve', url: 'https://evil.example' }] }),
  control: 'reason\u0000 with NUL \u001b[31mred\u001b[0m\r\n{"level":60,"time":1,"msg":"FAKE LOG LINE"}\n\ttab\u0007bell',
  unicode: 'need 🔥👩🏽‍💻 access \u202Egnp.exe\u202C עברית \u200F\u2028line\u2029para',
  long: `long ${'a'.repeat(480)} <!channel> ${'b'.repeat(600)}`,
};
const ERIN = 'erin.employee@example.com', MARK = 'mark.manager@example.com';

let t: TestApp;
let slack: SlackCall[];
let teams: ConnectorCall[];
let cap: CapturedLog;
let dir: string;

beforeAll(async () => {
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
  onlyLoopback();
  slack = fakeSlackApi();
  teams = fakeTeams();
  cap = captureLog('trace');
  dir = await mkdtemp(path.join(tmpdir(), 'errand-inject-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  const vpn = await readFile(path.join(dir, 'vpn-access.yaml'), 'utf8');
  await writeFile(path.join(dir, 'vpn-access.yaml'), vpn.replace(/^title: .*$/m, `title: "${FORMULA_TITLE}"`));
  t = await startTestApp({ env: {
    ...slackEnv(), ...teamsEnv(), CATALOGUE_DIR: dir, API_KEYS: 'test-key',
    EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: '127.0.0.1', EMAIL_SMTP_PORT: '9', EMAIL_LISTEN_PORT: '0', EMAIL_PUBLIC_URL: 'http://errand.test',
  }, app: { log: cap.log } });
  // Mark has talked to the bot in Teams (his personal conversation is known), so cards reach him there too
  expect((await teamsPost(t.base, message('29:mark', 'hi'))).status).toBe(200);
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
/** What a payload becomes once stored: NUL dropped, surrounding space trimmed. */
const stored = (p: string) => p.replace(/\u0000/g, '').trim();
const fit = (p: string) => stored(p).slice(0, 500);
const errorsLogged = () => cap.lines().filter((l) => Number(l.level) >= 50 && !/bolt|teams turn error/.test(String(l.msg)));

describe('answers in a submitted request → approval cards', () => {
  const refs: Record<string, string> = {};

  beforeAll(async () => {
    for (const [name, p] of Object.entries(PAYLOADS)) {
      const r = await fetch(`${t.base}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify({ item: 'shared-drive-access', requester: ERIN, fields: { drive: 'finance', access: 'read', justification: fit(p) } }) });
      expect({ name, status: r.status }).toEqual({ name, status: 201 });
      refs[name] = ((await r.json()) as { ref: string }).ref;
    }
  }, 60000);

  it.each(Object.keys(PAYLOADS))('stores the %s answer as given (the SQL is data, the template is not expanded)', async (name) => {
    const [row] = await q(`SELECT fields->>'justification' AS j FROM requests WHERE ref = $1`, [refs[name]]);
    expect(row!.j).toBe(fit(PAYLOADS[name]!));
    expect((await q('SELECT count(*)::int AS n FROM requests'))[0]!.n).toBeGreaterThanOrEqual(Object.keys(PAYLOADS).length); // the table is still there
  });

  it.each(Object.keys(PAYLOADS))('escapes the %s answer in the Slack approval card (no mention, no link, no markup)', async (name) => {
    const card = await eventually(async () => slack.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'DMARK' && JSON.stringify(c.args.blocks ?? '').includes(refs[name]!)), 20000, `Slack card for ${name}`);
    const blocks = card.args.blocks as { type: string; text?: { type: string; text: string }; fields?: { type: string; text: string }[] }[];
    const mrkdwn = blocks.flatMap((b) => [b.text, ...(b.fields ?? [])]).filter((x): x is { type: string; text: string } => x?.type === 'mrkdwn').map((x) => x.text);
    for (const text of [...mrkdwn, String(card.args.text)]) {
      expect(text).not.toMatch(/<!(channel|here|everyone)>|<https?:|<@U/);
      // every <, > and & the person typed is an entity; the only raw ones left are none at all
      expect(text.replace(/&(amp|lt|gt);/g, '')).not.toMatch(/[<>&]/);
    }
    const reason = mrkdwn.find((x) => x.startsWith('*Business reason*'))!;
    const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    expect(unescape(reason.slice('*Business reason*\n'.length))).toBe(fit(PAYLOADS[name]!).slice(0, 2000 - '*Business reason*\n'.length));
  });

  it.each(Object.keys(PAYLOADS))('keeps the %s answer literal in the Teams approval card (a string in a FactSet, no mention entities, no extra elements)', async (name) => {
    const sent = await eventually(async () => teams.find((c) => c.method === 'send' && c.conversation === 'a:mark-personal' && JSON.stringify(c.body).includes(refs[name]!)), 20000, `Teams card for ${name}`);
    const card = cardOf(sent);
    expect(sent.body.entities ?? []).toEqual([]);
    const facts = card.body.find((b: { type: string }) => b.type === 'FactSet').facts as { title: string; value: string }[];
    expect(facts.find((f) => f.title === 'Business reason')!.value).toBe(fit(PAYLOADS[name]!));
    expect(card.body.map((b: { type: string }) => b.type)).toEqual(['TextBlock', 'FactSet']); // the payload did not become elements
    expect(JSON.stringify(card.actions ?? []).includes('evil.example')).toBe(false);
  });
});

describe('free text into classification and the triage queue', () => {
  it.each(Object.keys(PAYLOADS))('answers the %s message in the web chat, Slack and Teams without breaking the conversation', async (name) => {
    const p = PAYLOADS[name]!;
    const web = new WebUser(t.base, 'olga.owner@example.com');
    await web.say('cancel');
    const replies = await web.say(p);
    await eventually(async () => (await web.all()).length > 0, 5000, 'a reply');
    const all = [...replies, ...(await web.inbox())];
    expect(all.length).toBeGreaterThan(0);
    expect(all.filter((m) => /something went wrong/i.test(m.text))).toEqual([]);
    const dm = () => slack.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'DOLGA');
    const before = dm().length;
    expect(await sendEvent(t.base, dmEvent('UOLGA', p))).toBe(200);
    await eventually(async () => dm().length > before, 15000, 'a Slack reply');
    expect(dm().slice(before).filter((c) => /something went wrong/i.test(String(c.args.text)))).toEqual([]);
    expect((await teamsPost(t.base, message('29:olga', p))).status).toBe(200);
    await web.say('cancel');
    expect(errorsLogged()).toEqual([]);
  }, 60000);

  it.each(Object.keys(PAYLOADS))('puts the %s text on the Slack triage card as text', async (name) => {
    const p = PAYLOADS[name]!;
    const web = new WebUser(t.base, ERIN);
    await web.click('desk:ask', p);
    const [item] = await eventually(async () => { const r = await q(`SELECT id, text FROM triage_items WHERE text = $1`, [stored(p).slice(0, 2000)]); return r.length ? r : undefined; }, 10000, 'the triage item');
    const card = await eventually(async () => slack.find((c) => c.method === 'chat.postMessage' && c.args.channel === TRIAGE_CHANNEL && JSON.stringify(c.args.blocks ?? '').includes(item!.id)), 20000, 'the triage card');
    const text = JSON.stringify(card.args.blocks) + String(card.args.text);
    expect(text).not.toMatch(/<!(channel|here|everyone)>|<https?:|<@U/);
  });

  it('renders every payload through the pure renderers the same way (Block Kit escapes, Adaptive Cards keep literal)', () => {
    for (const p of Object.values(PAYLOADS)) {
      const m = { kind: 'triage' as const, text: p, fields: [{ label: p, value: p }], buttons: [{ id: 'desk:ask', label: p, value: p }] };
      const s = renderMessage(m);
      const mrkdwn = JSON.stringify(s.blocks.filter((b) => b.type === 'section'));
      expect(mrkdwn).not.toMatch(/<!(channel|here)>|<https?:/);
      expect(s.text).not.toMatch(/<!(channel|here)>|<https?:/);
      const c = renderCard(m) as { body: { text?: string; facts?: { value: string }[] }[] };
      expect(c.body[0]!.text).toBe(p);
      expect(c.body[1]!.facts![0]!.value).toBe(p);
    }
  });
});

describe('the dialog', () => {
  it('takes hostile answers literally and shows them back in the summary', async () => {
    for (const name of ['template', 'control', 'mrkdwn', 'sql'] as const) {
      const erin = new WebUser(t.base, 'dana.director@example.com');
      await erin.say('cancel');
      await erin.inbox();
      const got: WebMessage[] = [];
      got.push(...await erin.say('I need read access to the finance drive'));
      const ask = async (re: RegExp) => eventually(async () => { got.push(...await erin.inbox()); return got.find((m) => re.test(m.text)); }, 10000, String(re));
      if (!got.some((m) => /What do you need it for/.test(m.text))) {
        if (!(await ask(/Until when|What do you need it for/)).text.includes('What do you need it for')) got.push(...await erin.say('skip'));
      }
      await ask(/What do you need it for/).catch((e: Error) => { throw new Error(`${e.message}; got ${JSON.stringify(got.map((m) => m.text))}`); });
      got.push(...await erin.say(PAYLOADS[name]!));
      const summary = await eventually(async () => { got.push(...await erin.inbox()); return got.find((m) => m.kind === 'summary'); }, 10000, 'the summary');
      expect({ name, value: summary.fields!.find((f) => f.label === 'Business reason')?.value }).toEqual({ name, value: fit(PAYLOADS[name]!) });
      expect(JSON.stringify(summary)).not.toContain('dana.director@example.com'); // {{requester.email}} was not expanded
      await erin.click('dialog:cancel');
    }
  }, 90000);

  it('does not expand templates twice when a workflow input is built from an answer', () => {
    const ctx = { requester: { email: ERIN }, fields: { justification: PAYLOADS.template! }, request: { ref: 'REQ-000001' }, steps: {} };
    expect(renderTemplate({ text: 'Reason: {{fields.justification}}', whole: '{{fields.justification}}' }, ctx)).toEqual({ text: `Reason: ${PAYLOADS.template}`, whole: PAYLOADS.template });
  });
});

describe('approval e-mail links', () => {
  it('takes a deny reason with NUL and markup from the link form as text (it was a 500: PostgreSQL refused the NUL)', async () => {
    const item = t.app.catalogue.get('shared-drive-access')!;
    const { request } = await t.app.requests.submit({ item, requesterEmail: ERIN, answers: { drive: 'hr', access: 'read', justification: 'Payroll checks' }, channel: 'test' });
    const [a] = await q(`SELECT id FROM approvals WHERE request_id = $1 AND status = 'pending'`, [request.id]);
    const link = await t.app.email!.links.issue(a!.id, MARK);
    const reason = 'no\u0000pe <script>alert(1)</script> {{requester.email}}';
    const r = await fetch(link.deny.replace('http://errand.test', t.base), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ reason }).toString() });
    expect(r.status).toBe(200);
    expect(await r.text()).not.toContain('<script>');
    expect((await q('SELECT status, reason FROM approvals WHERE id = $1', [a!.id]))[0]).toEqual({ status: 'denied', reason: stored(reason) });
  });
});

describe('logs', () => {
  it('keeps one JSON object per line whatever the text (no injected lines, control characters escaped)', () => {
    for (const p of Object.values(PAYLOADS)) cap.log.warn({ text: p, nested: { p } }, p);
    const raw = cap.text();
    const lines = raw.split('\n').filter(Boolean);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    expect(lines.map((l) => JSON.parse(l) as { msg?: string }).filter((l) => l.msg === 'FAKE LOG LINE')).toEqual([]);
    expect(raw).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/); // only the line feeds between records are raw
    expect(cap.lines().filter((l) => l.msg === PAYLOADS.control)).toHaveLength(1); // the message itself survives, escaped
  });
});

describe('CSV reports', () => {
  it('neutralises formulas in the compliance CSV (an entitlement or label starting with = + - @)', async () => {
    const row: ComplianceRow = {
      ref: 'REQ-000001', item: 'shared-drive-access', title: 't', risk: 'low', regulatory: ['-1+1'], requester: '@evil.example', status: 'fulfilled',
      createdAt: '2026-01-01T00:00:00.000Z', completedAt: null, answers: {},
      approvals: [{ step: '=HYPERLINK("https://evil.example","ok")', rule: 'manager', status: 'approved', decidedBy: MARK, decidedAt: null, waitedMinutes: 3, reason: null }],
      actions: [{ step: '+cmd', action: 'notify', status: 'done', attempts: 1, finishedAt: null, undone: false }],
      grants: [{ entitlement: "=cmd|' /C calc'!A0", grantedAt: '2026-01-01T00:00:00.000Z', expiresAt: null, status: 'active', endedAt: null, endedBy: null }],
    };
    const cells = toCsv([row]).split('\n')[1]!;
    expect(cells).toContain(`"'=HYPERLINK(""https://evil.example"",""ok"") [manager]: approved by ${MARK} at - after 3 min"`);
    expect(cells).toContain(`'+cmd notify: done`);
    expect(cells).toContain(`'=cmd|' /C calc'!A0 2026-01-01T00:00:00.000Z..? active`);
    expect(cells).toContain(`,'@evil.example,`);
    expect(cells).toContain(`,'-1+1,`);
    // through the API, with a grant whose entitlement came from an answer
    const [r] = await q('SELECT id FROM requests ORDER BY created_at LIMIT 1');
    await q(`INSERT INTO grants (id, request_id, step_id, person_email, entitlement, revoke_action, revoke_input, status) VALUES ('22222222-3333-4444-5555-000000000001', $1, 'grant', $2, $3, 'directory.removeFromGroup', '{}', 'active')`, [r!.id, ERIN, '=HYPERLINK("https://evil.example")']);
    const res = await fetch(`${t.base}/api/reports/compliance?actor=ada.admin@example.com&from=2020-01-01T00:00:00Z&to=2099-01-01T00:00:00Z&format=csv`, { headers: { authorization: 'Bearer test-key' } });
    const csv = await res.text();
    expect(csv).toContain(`"'=HYPERLINK(""https://evil.example"")`);
    expect(csv.split('\n').some((line) => line.split(',').some((cell) => /^"?[=+@]/.test(cell)))).toBe(false);
  });

  it('neutralises a formula in an item title in the service-review CSV, keeps numbers (also negative) as numbers', async () => {
    const review = await serviceReview(t.app.db, { from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 86_400_000), titles: (id) => t.app.catalogue.get(id)?.title });
    const csv = reviewToCsv({ ...review, items: [...review.items, { ...review.overall, item: 'vpn-access', title: FORMULA_TITLE } as never] });
    expect(csv).toContain(`vpn-access,'${FORMULA_TITLE},`);
    expect(csv).not.toMatch(/,=cmd/);
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell('-3')).toBe("'-3");
    expect(csvCell('a\rb')).toBe('"a\rb"');
  });
});
