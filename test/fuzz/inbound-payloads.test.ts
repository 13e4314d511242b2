/**
 * Fuzzing inbound payload parsing at the channel boundaries, with valid credentials so the payloads
 * reach the adapters: correctly signed Slack Events API bodies, interactions (block actions, modal
 * submissions) and slash commands; Teams activities (messages, Action.Execute invokes, conversation
 * updates) with a valid Bot Framework token; raw e-mails (mutations of well-formed mails, header
 * soup, arbitrary bytes) into the mail parser path. Nothing answers 500, nothing throws out of the
 * adapters, every mail ends in a final state other than `failed`, and the service still works after.
 */
import { jest } from '@jest/globals';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { fakeSlackApi, SLACK_SECRET, slackEnv, USERS } from '../support/slack-fake.js';
import { APP_ID, channelToken, fakeTeams, SERVICE_URL, TEAMS_USERS, TENANT, TRIAGE_CONV } from '../support/teams-fake.js';
import { WebUser } from '../support/web-client.js';
import { buildMail } from '../channels/email/harness.js';
import { hostileString, runs } from '../support/security/fuzz.js';
import { captureLog, type CapturedLog } from '../support/security/capture.js';

let t: TestApp;
let cap: CapturedLog;
const logged: string[] = [];

beforeAll(async () => {
  jest.spyOn(console, 'error').mockImplementation((...m: unknown[]) => { logged.push(m.map(String).join(' ')); }); // botbuilder's reports
  onlyLoopback();
  fakeSlackApi();
  fakeTeams();
  cap = captureLog('warn');
  t = await startTestApp({ app: { log: cap.log }, env: {
    ...slackEnv(), MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'test-app-password', TEAMS_TRIAGE_CHANNEL: TRIAGE_CONV, API_KEYS: 'test-key',
    EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: '127.0.0.1', EMAIL_SMTP_PORT: '9', EMAIL_LISTEN_PORT: '0', EMAIL_PUBLIC_URL: 'http://errand.test', EMAIL_TRUSTED_AUTHSERV_IDS: 'mx.example.com',
  } });
}, 60000);
afterAll(async () => {
  await t?.close();
  restoreNet();
});

// Slack payloads as Slack shapes them (the signature proves Slack sent them): ids, timestamps and our own
// private_metadata are well-formed; what people type or pick (text, input values, options) is hostile.
const someString = hostileString(80);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 4 });
const slackId = (prefix: string) => fc.stringMatching(new RegExp(`^${prefix}[A-Z0-9]{8,10}$`));
const slackTs = fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }).chain((s) => fc.integer({ min: 0, max: 999_999 }).map((u) => `${s}.${String(u).padStart(6, '0')}`));
const slackUser = fc.oneof(fc.constantFrom(...Object.keys(USERS)), slackId('U'));
const slackChannel = fc.oneof(fc.constantFrom('DERIN', 'DMARK', 'CTRIAGE01'), slackId('D'), slackId('C'));
const uuid = fc.uuid();
const actionId = fc.oneof(
  fc.constantFrom('answer:0', 'answer', 'answer-multi', 'dialog:confirm', 'dialog:edit', 'dialog:cancel', 'dialog:handover', 'dialog:change:access', 'dialog:set:drive', 'desk:ask', 'start:vpn-access', 'catalogue:pick', 'field:drive'),
  uuid.map((u) => `approval:${u}:approve`), uuid.map((u) => `approval:${u}:deny`), uuid.map((u) => `triage:${u}:case`), uuid.map((u) => `task:${u}:create:done`), uuid.map((u) => `rating:${u}:5`),
  hostileString(30),
);

const slackEvent = fc.record({
  type: fc.constant('event_callback'), event_id: slackId('Ev'), team_id: fc.constant('T1'),
  event: fc.record({
    type: fc.constantFrom('message', 'app_mention', 'app_home_opened', 'reaction_added', 'member_joined_channel'),
    channel_type: maybe(fc.constantFrom('im', 'channel', 'group')), channel: slackChannel,
    user: maybe(slackUser), text: maybe(someString), ts: slackTs,
    thread_ts: maybe(slackTs), subtype: maybe(fc.constantFrom('bot_message', 'message_changed', 'file_share')), tab: maybe(fc.constantFrom('home', 'messages')),
  }, { requiredKeys: ['type', 'channel', 'ts'] }),
});
const stateValues = fc.dictionary(fc.constantFrom('drive', 'access', 'until', 'justification', 'reason', 'item', 'device', 'profile'),
  fc.dictionary(fc.constantFrom('field:drive', 'field:access', 'field:until', 'field:justification', 'reason', 'catalogue:pick'), fc.record({
    type: fc.constantFrom('static_select', 'multi_static_select', 'datepicker', 'radio_buttons', 'plain_text_input', 'number_input', 'other'),
    value: maybe(fc.oneof(someString, fc.constant(null))), selected_option: maybe(fc.record({ value: hostileString(20) })), selected_options: maybe(fc.array(fc.record({ value: hostileString(10) }), { maxLength: 3 })), selected_date: maybe(hostileString(12)),
  }, { requiredKeys: ['type'] }), { maxKeys: 2 }), { maxKeys: 4 });
const slackAction = fc.record({
  type: fc.constant('block_actions'), user: fc.record({ id: slackUser }), trigger_id: fc.constant('trig'), team: fc.constant({ id: 'T1' }),
  channel: maybe(fc.record({ id: slackChannel })), message: maybe(fc.record({ ts: slackTs, thread_ts: maybe(slackTs) }, { requiredKeys: ['ts'] })),
  view: maybe(fc.record({ id: slackId('V'), hash: fc.constant('h1'), type: fc.constantFrom('modal', 'home'), private_metadata: maybe(fc.constantFrom('{"itemId":"shared-drive-access"}', '{"itemId":"laptop-request"}', '{"itemId":1}', 'null', '')), state: fc.record({ values: stateValues }) })),
  actions: fc.array(fc.record({ action_id: actionId, block_id: fc.constant('b'), type: fc.constantFrom('button', 'static_select', 'multi_static_select', 'datepicker'), value: maybe(hostileString(60)), selected_option: maybe(fc.record({ value: hostileString(20) })), selected_options: maybe(fc.array(fc.record({ value: hostileString(10) }), { maxLength: 3 })), action_ts: fc.constant('1.1') }, { requiredKeys: ['action_id', 'type'] }), { minLength: 1, maxLength: 1 }),
});
const slackView = fc.record({
  type: fc.constant('view_submission'), user: fc.record({ id: slackUser }), team: fc.constant({ id: 'T1' }), trigger_id: fc.constant('trig'),
  view: fc.record({ id: slackId('V'), callback_id: fc.constantFrom('request-form', 'deny-reason'), private_metadata: fc.oneof(uuid, fc.constantFrom('{"itemId":"shared-drive-access"}', '{"itemId":"vpn-access"}', '{"itemId":"nope"}')), state: fc.record({ values: stateValues }) }),
});
const slackCommand = fc.record({ command: fc.constantFrom('/request', '/requests'), user_id: slackUser, channel_id: slackChannel, text: hostileString(60), trigger_id: fc.constant('trig') });

function signed(body: string, type: string): { headers: Record<string, string>; body: string } {
  const ts = Math.floor(Date.now() / 1000);
  return { body, headers: { 'content-type': type, 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${createHmac('sha256', SLACK_SECRET).update(`v0:${ts}:${body}`).digest('hex')}` } };
}
const slackRequest = fc.oneof(
  slackEvent.map((e) => signed(JSON.stringify(e), 'application/json')),
  slackAction.map((p) => signed(`payload=${encodeURIComponent(JSON.stringify(p))}`, 'application/x-www-form-urlencoded')),
  slackView.map((p) => signed(`payload=${encodeURIComponent(JSON.stringify(p))}`, 'application/x-www-form-urlencoded')),
  slackCommand.map((c) => signed(new URLSearchParams(Object.entries(c).map(([k, v]) => [k, String(v)])).toString(), 'application/x-www-form-urlencoded')),
);

/** Runs a batch concurrently (Bolt answers what no listener acknowledges only after 3 s). */
async function batch<T>(items: T[], send: (x: T) => Promise<{ status: number; what: string }>): Promise<void> {
  const out = await Promise.all(items.map(send));
  for (const o of out) expect({ what: o.what, status: o.status < 500 }).toEqual({ what: o.what, status: true });
}

describe('Slack', () => {
  it('answers signed events, interactions and commands of any shape without a 500', async () => {
    await fc.assert(fc.asyncProperty(fc.array(slackRequest, { minLength: 1, maxLength: 12 }), async (reqs) => {
      await batch(reqs, async (r) => {
        const res = await fetch(`${t.base}/slack/events`, { method: 'POST', headers: r.headers, body: r.body, signal: AbortSignal.timeout(20_000) });
        await res.text();
        let what = r.body;
        try { what = decodeURIComponent(r.body); } catch { /* lone surrogates: keep it encoded */ }
        return { status: res.status, what: what.slice(0, 400) };
      });
    }), runs(12));
  }, 120000);
});

// Activities as the Bot Framework shapes them (ids are non-empty strings, text is text, value an object):
// the token proves the sender is the channel service, so the content is hostile, not the schema.
const nonEmpty = (a: fc.Arbitrary<string>) => a.filter((s) => s.length > 0);
const teamsFrom = fc.oneof(fc.constantFrom(...Object.keys(TEAMS_USERS)), nonEmpty(hostileString(12)));
const teamsActivity = fc.record({
  type: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('message', 'invoke', 'conversationUpdate') }, { weight: 1, arbitrary: fc.constantFrom('messageReaction', 'typing', 'installationUpdate', 'event') }),
  id: fc.oneof(uuid, nonEmpty(hostileString(20))), timestamp: fc.constant(new Date().toISOString()), channelId: fc.constant('msteams'), serviceUrl: fc.constant(SERVICE_URL),
  from: fc.record({ id: teamsFrom, name: maybe(hostileString(20)), aadObjectId: maybe(fc.oneof(fc.constantFrom('aad-erin', 'aad-mark'), hostileString(10))) }, { requiredKeys: ['id'] }),
  recipient: fc.constant({ id: `28:${APP_ID}`, name: 'errand' }),
  conversation: fc.record({ id: fc.oneof(fc.constantFrom('a:erin-personal', 'a:mark-personal', TRIAGE_CONV), nonEmpty(hostileString(20))), conversationType: maybe(fc.constantFrom('personal', 'channel', 'groupChat')), tenantId: fc.constant(TENANT) }, { requiredKeys: ['id'] }),
  channelData: fc.constant({ tenant: { id: TENANT } }),
  text: maybe(hostileString(200)),
  name: maybe(fc.oneof({ weight: 5, arbitrary: fc.constant('adaptiveCard/action') }, { weight: 1, arbitrary: hostileString(20) })),
  value: maybe(fc.oneof(
    fc.record({ action: fc.record({ type: fc.constant('Action.Execute'), verb: fc.constantFrom('action', 'form', 'refresh'), data: fc.record({ id: maybe(actionId), value: maybe(someString), fromInput: maybe(fc.constantFrom('reason', 'choice', 'nope')), reason: maybe(hostileString(30)), choice: maybe(hostileString(20)), approvalId: maybe(fc.oneof(uuid, hostileString(20))), itemId: maybe(fc.constantFrom('vpn-access', 'shared-drive-access', 'nope')), f_drive: maybe(hostileString(10)), f_access: maybe(hostileString(10)), f_until: maybe(hostileString(12)) }) }), trigger: fc.constant('manual') }),
    fc.dictionary(hostileString(8), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  )),
  membersAdded: maybe(fc.array(fc.record({ id: teamsFrom }), { maxLength: 2 })),
  entities: maybe(fc.array(fc.record({ type: fc.constantFrom('mention', 'clientInfo', 'other'), text: maybe(hostileString(20)) }), { maxLength: 2 })),
  replyToId: maybe(hostileString(12)),
}, { requiredKeys: ['type', 'id', 'timestamp', 'channelId', 'serviceUrl', 'from', 'recipient', 'conversation', 'channelData'] });

describe('Teams', () => {
  it('answers activities of any shape with a valid token without a 500 (501 only for invokes it does not implement)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(teamsActivity, { minLength: 1, maxLength: 8 }), async (acts) => {
      const token = channelToken();
      const out = await Promise.all(acts.map(async (a) => {
        const res = await fetch(`${t.base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(a), signal: AbortSignal.timeout(20_000) });
        await res.text();
        return { a, status: res.status };
      }));
      for (const { a, status } of out) {
        const notImplemented = status === 501 && a.type === 'invoke' && a.name !== 'adaptiveCard/action';
        expect({ activity: JSON.stringify(a).slice(0, 500), ok: status < 500 || notImplemented }).toEqual({ activity: JSON.stringify(a).slice(0, 500), ok: true });
      }
    }), runs(25));
  }, 120000);
});

const SENDERS = ['erin.employee@example.com', 'Erin <erin.employee@example.com>', 'stranger@elsewhere.example', '"=?utf-8?B?w6k=?=" <mark.manager@example.com>', 'a@b@c', '', 'MAILER-DAEMON@example.com', 'itdesk@example.com'];
const headerLine = fc.oneof(
  fc.tuple(fc.constantFrom('Auto-Submitted', 'Precedence', 'Authentication-Results', 'Received', 'Content-Type', 'Content-Transfer-Encoding', 'In-Reply-To', 'References', 'Reply-To', 'X-Errand-Loop', 'List-Id', 'Message-ID', 'Subject', 'From'), hostileString(80)).map(([k, v]) => [k, v.replace(/[\r\n]/g, ' ')] as [string, string]),
  fc.constantFrom<[string, string]>(['Authentication-Results', 'mx.example.com; dmarc=fail header.from=example.com'], ['Content-Type', 'multipart/mixed; boundary="x"'], ['Content-Type', 'text/plain; charset=klingon'], ['Content-Transfer-Encoding', 'base64'], ['Received', 'from a by b'], ['References', '<a@b> <c@d>']),
);
const rawMail = fc.oneof(
  { weight: 5, arbitrary: fc.record({ from: fc.constantFrom(...SENDERS), subject: hostileString(100), text: fc.oneof(hostileString(600), fc.constantFrom('I need VPN access', '1. write\n2) 31 March 2027\nCONFIRM', 'status', 'cancel REQ-000001', '> quoted\nOn Fri, someone wrote:\n> more')), headers: fc.array(headerLine, { maxLength: 4 }) })
    .map((m) => buildMail({ ...m, subject: m.subject.replace(/[\r\n]/g, ' ') })) },
  { weight: 2, arbitrary: fc.tuple(fc.array(headerLine, { maxLength: 8 }), hostileString(400)).map(([h, body]) => Buffer.from(`${h.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\nFrom: erin.employee@example.com\r\n\r\n${body}`)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.nat(50), fc.uint8Array({ maxLength: 20 })).map(([at, del, ins]) => { const m = buildMail({ from: SENDERS[0]!, subject: 'I need VPN access', text: 'Please give me VPN access for my laptop' }); const i = at % m.length; return Buffer.concat([m.subarray(0, i), Buffer.from(ins), m.subarray(i + del)]); }) },
);

describe('e-mail', () => {
  it('parses any raw mail into a final state, never "failed" (every sender is answered, ignored or refused on purpose)', async () => {
    const intake = t.app.email!.intake;
    await fc.assert(fc.asyncProperty(fc.array(rawMail, { minLength: 1, maxLength: 6 }), async (mails) => {
      const ids: number[] = [];
      for (const raw of mails) {
        const r = await intake.receive(raw, { source: 'smtp', envelopeFrom: 'erin.employee@example.com' });
        if ('id' in r) ids.push(r.id);
      }
      await intake.tick();
      if (!ids.length) return;
      // the app's own intake loop may have claimed some of them: wait until each is settled
      const rows = await eventually(async () => {
        const r = (await t.app.db.query<{ id: string; status: string; reason: string | null }>('SELECT id, status, reason FROM email_inbound WHERE id = ANY($1::bigint[])', [ids])).rows;
        return r.every((x) => x.status !== 'received' && x.status !== 'processing') ? r : undefined;
      }, 20000, 'the mails processed');
      for (const row of rows) expect({ id: row.id, status: row.status, reason: row.reason }).toEqual({ id: row.id, status: expect.stringMatching(/^(done|ignored|rejected|triaged)$/), reason: row.reason });
    }), runs(40));
  }, 120000);
});

describe('afterwards', () => {
  it('still serves a request end to end', async () => {
    const erin = new WebUser(t.base, 'dana.director@example.com');
    await erin.say('cancel');
    const replies = await erin.say('I need VPN access');
    expect(replies.length + (await eventually(async () => (await erin.all()).length))).toBeGreaterThan(0);
    expect((await fetch(`${t.base}/healthz`)).status).toBe(200);
    expect(logged.filter((l) => /TypeError|ReferenceError/.test(l))).toEqual([]);
    // the core never failed on what came in (a "constructor" in a message did: "expand is not a function"),
    // and no request ended in the HTTP layer's "unhandled error"
    const errors = cap.lines().filter((l) => Number(l.level) >= 50).map((l) => `${String(l.msg)}: ${String(l.err ?? '')}${l.what ? ` (${String(l.what)})` : ''}`);
    expect(errors.filter((e) => /^(conversation error|unhandled error|slack handler failed|e-mail processing failed)/.test(e))).toEqual([]);
  });
});
