/**
 * Teams end to end over HTTP with real Bot Framework JWT validation: a test RSA key served as
 * OpenID metadata (nock), signed channel tokens, the bot's token request and connector calls faked.
 */
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import {
  activity, APP_ID, cardActions, cardOf, cardText, channelToken, connectorFailures, execute, fakeTeams, message, post, SERVICE_URL, strangerKey, teamsEnv, TENANT, TRIAGE_CONV, type ConnectorCall,
} from '../support/teams-fake.js';

let t: TestApp;
let calls: ConnectorCall[];

beforeAll(async () => {
  onlyLoopback();
  calls = fakeTeams();
  t = await startTestApp({ env: teamsEnv() });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const sends = (conv: string) => calls.filter((c) => c.method === 'send' && c.conversation === conv);
const nthSend = (conv: string, n: number) => eventually(async () => sends(conv)[n - 1], 15000, `send ${n} to ${conv}`);
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);

describe('Bot Framework authentication', () => {
  it('answers 401 to a missing, invalid, wrongly addressed or unknown-key token', async () => {
    const act = message('29:erin', 'hello');
    expect((await post(t.base, act, null)).status).toBe(401);
    expect((await post(t.base, act, 'not-a-jwt')).status).toBe(401);
    expect((await post(t.base, act, channelToken({ aud: 'someone-else' }))).status).toBe(401);
    expect((await post(t.base, act, channelToken({ serviceUrl: 'https://evil.test/teams/' }))).status).toBe(401);
    expect((await post(t.base, act, channelToken({ key: strangerKey, kid: 'unknown-kid' }))).status).toBe(401);
    expect((await post(t.base, act, channelToken({ iss: 'https://evil.test' }))).status).toBe(401);
    expect(await q(`SELECT count(*)::int AS n FROM inbound_dedupe WHERE channel = 'teams'`)).toEqual([{ n: 0 }]);
  });
});

describe('a personal-chat request approved with Action.Execute', () => {
  it('runs to fulfilled; only the approver sees buttons; refused clicks change nothing; the card updates for everyone', async () => {
    // Mark and Tara have talked to the bot before (references and identities stored)
    for (const u of ['29:mark', '29:tara']) expect((await post(t.base, message(u, 'hi'))).status).toBe(200);
    await nthSend('a:mark-personal', 1);

    expect((await post(t.base, message('29:erin', 'I need access to the finance drive'))).status).toBe(200);
    const q1 = cardOf(await nthSend('a:erin-personal', 1));
    expect(cardText(q1)).toMatch(/read or write/);
    const read = cardActions(q1).find((a) => a.data.value === 'read')!;
    const r1 = await post(t.base, execute('29:erin', read.verb, read.data));
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardText(cardOf(await nthSend('a:erin-personal', 2)))).toMatch(/Until when/);
    await post(t.base, message('29:erin', 'skip'));
    await nthSend('a:erin-personal', 3);
    await post(t.base, message('29:erin', 'Month-end reporting'));
    const summary = cardOf(await nthSend('a:erin-personal', 4));
    const confirm = cardActions(summary).find((a) => a.data.id === 'dialog:confirm')!;
    await post(t.base, execute('29:erin', confirm.verb, confirm.data));

    const sentCard = await eventually(async () => sends('a:mark-personal').map(cardOf).find((c) => /Approval needed/.test(cardText(c))), 15000, 'approval card');
    expect(sentCard.refresh.userIds).toEqual(['29:mark']);
    expect(cardActions(sentCard)).toEqual([]); // buttons only through refresh, for approvers
    const approvalId = sentCard.refresh.action.data.approvalId as string;
    const [req] = await q(`SELECT id, ref, status FROM requests WHERE channel = 'teams'`);
    expect(req).toMatchObject({ status: 'awaiting-approval' });

    const markView = cardOf((await post(t.base, execute('29:mark', 'refresh', { approvalId }))).body);
    const approve = cardActions(markView).find((a) => a.data.id === `approval:${approvalId}:approve`)!;
    expect(approve).toBeDefined();
    const erinView = cardOf((await post(t.base, execute('29:erin', 'refresh', { approvalId }))).body);
    expect(cardActions(erinView)).toEqual([]);

    // clicks by the requester and by a non-approver are refused
    await post(t.base, execute('29:erin', approve.verb, approve.data));
    await post(t.base, execute('29:tara', approve.verb, approve.data));
    expect((await q('SELECT status FROM approvals WHERE id = $1', [approvalId]))[0]!.status).toBe('pending');
    await eventually(async () => sends('a:tara-personal').some((c) => /not an approver/.test(cardText(cardOf(c)))), 15000, 'refusal to Tara');

    // a repeated invoke (same activity id) and a concurrent second click decide once
    const click = execute('29:mark', approve.verb, approve.data);
    const [a1, a2, a3] = await Promise.all([post(t.base, click), post(t.base, click), post(t.base, execute('29:mark', approve.verb, approve.data))]);
    for (const r of [a1, a2, a3]) expect(r.status).toBe(200);
    expect((await q(`SELECT count(*)::int AS n FROM request_events WHERE request_id = $1 AND kind = 'approval.approved'`, [req!.id]))[0]!.n).toBe(1);
    // the click that won answers with the decided card; a duplicate may answer before the winner has decided
    const decided = [a1, a2, a3].map((r) => cardOf(r.body)).filter((c) => /Approved by Mark Manager/.test(cardText(c)));
    expect(decided.length).toBeGreaterThanOrEqual(1);
    for (const c of decided) expect(cardActions(c)).toEqual([]);
    const after = cardOf((await post(t.base, execute('29:mark', 'refresh', { approvalId }))).body);
    expect(cardText(after)).toMatch(/Approved by Mark Manager/);
    expect(cardActions(after)).toEqual([]);
    const upd = await eventually(async () => calls.find((c) => c.method === 'update' && c.conversation === 'a:mark-personal'), 15000, 'card update');
    expect(cardText(cardOf(upd))).toMatch(/Approved by Mark Manager/);

    await eventually(async () => (await q('SELECT status FROM requests WHERE id = $1', [req!.id]))[0]!.status === 'fulfilled', 30000, 'fulfilled');
    await eventually(async () => sends('a:erin-personal').some((c) => new RegExp(`${req!.ref} is done`).test(cardText(cardOf(c)))), 15000, 'done message');
  }, 90000);
});

describe('request form card and duplicates', () => {
  it('shows conditional inputs after an update and creates one request for repeated submits', async () => {
    const n = sends('a:erin-personal').length;
    await post(t.base, message('29:erin', 'request'));
    // the reply is sent when the stored message is processed: other messages (e.g. a rating card) may come first
    const pick = cardOf(await eventually(async () => sends('a:erin-personal').slice(n).find((c) => cardText(cardOf(c)).includes('"form:pick"')), 15000, 'the pick card'));
    expect(cardText(pick)).toMatch(/laptop-request/);
    expect(cardText(pick)).not.toMatch(/"onboarding"/);
    const f1 = cardOf((await post(t.base, execute('29:erin', 'form', { id: 'form:pick', itemId: 'laptop-request' }))).body);
    const ids1 = f1.body.map((b: { id?: string }) => b.id).filter(Boolean);
    expect(ids1).toContain('f_reason');
    expect(ids1).not.toContain('f_oldAssetTag');
    const f2 = cardOf((await post(t.base, execute('29:erin', 'form', { id: 'form:refresh', itemId: 'laptop-request', f_reason: 'replacement' }))).body);
    expect(f2.body.map((b: { id?: string }) => b.id)).toContain('f_oldAssetTag');
    const values = { id: 'form:submit', itemId: 'laptop-request', f_reason: 'replacement', f_oldAssetTag: 'LT-1', f_model: 'standard-mac', f_deliveryLocation: 'berlin' };
    const item = t.app.catalogue.get('laptop-request')!;
    for (const f of item.fields) if (f.required && !f.when && !(`f_${f.name}` in values)) (values as Record<string, unknown>)[`f_${f.name}`] = f.type === 'choice' ? (f.options![0] as { value: string }).value : 'A good reason';
    const bad = cardOf((await post(t.base, execute('29:erin', 'form', values, { replyToId: 'form-card-1' }))).body);
    expect(cardText(bad)).toMatch(/asset tag like LT-01234/);
    values.f_oldAssetTag = 'LT-04321';
    const submit = execute('29:erin', 'form', values, { replyToId: 'form-card-1' });
    const [s1, s2, s3] = await Promise.all([post(t.base, submit), post(t.base, submit), post(t.base, execute('29:erin', 'form', values, { replyToId: 'form-card-1' }))]);
    expect([s1.status, s2.status, s3.status]).toEqual([200, 200, 200]);
    expect(cardText(cardOf(s1.body))).toMatch(/REQ-\d{6} submitted/);
    expect(await q(`SELECT count(*)::int AS n FROM requests WHERE channel = 'teams' AND item_id = 'laptop-request'`)).toEqual([{ n: 1 }]);

    // the same message activity delivered twice gets one reply
    const m = message('29:olga', 'status');
    await Promise.all([post(t.base, m), post(t.base, m)]);
    await nthSend('a:olga-personal', 1);
    await new Promise((r) => setTimeout(r, 800));
    expect(sends('a:olga-personal')).toHaveLength(1);
  }, 60000);
});

describe('triage in the Teams channel', () => {
  it('posts unsure requests to the triage channel; a triage agent assigns one and the requester continues', async () => {
    const install = { type: 'conversationUpdate', id: 'install-1', timestamp: new Date().toISOString(), channelId: 'msteams', serviceUrl: SERVICE_URL,
      from: { id: '29:tara', aadObjectId: 'aad-tara' }, recipient: { id: `28:${APP_ID}` },
      conversation: { id: TRIAGE_CONV, conversationType: 'channel', isGroup: true, tenantId: TENANT }, channelData: { tenant: { id: TENANT }, team: { id: '19:team' } }, membersAdded: [{ id: `28:${APP_ID}` }] };
    expect((await post(t.base, install)).status).toBe(200);
    await post(t.base, message('29:erin', 'cancel'));
    await post(t.base, message('29:erin', 'can you set up blorp access for me'));
    const card = cardOf(await nthSend(TRIAGE_CONV, 1));
    expect(cardText(card)).toMatch(/blorp/);
    const assign = cardActions(card).find((a) => /^triage:[0-9a-f-]{36}:assign$/.test(String(a.data.id)))!;
    expect(cardActions(card).map((a) => a.data.id)).toEqual(expect.arrayContaining([expect.stringMatching(/:case$/), expect.stringMatching(/:not-a-request$/)]));
    const n = sends('a:erin-personal').length;
    const res = await post(t.base, activity('29:tara', { type: 'invoke', name: 'adaptiveCard/action', conversation: { id: TRIAGE_CONV, conversationType: 'channel', tenantId: TENANT }, value: { action: { type: 'Action.Execute', verb: assign.verb, data: { ...assign.data, choice: 'vpn-access' } } } }));
    expect(cardText(cardOf(res.body))).toMatch(/Assigned to VPN access by Tara Triage/);
    expect(cardActions(cardOf(res.body))).toEqual([]);
    await eventually(async () => sends('a:erin-personal').slice(n).some((c) => /VPN/.test(cardText(cardOf(c)))), 15000, 'dialog continues');
    expect(await q(`SELECT intent FROM training_labels WHERE text LIKE '%blorp%'`)).toEqual([{ intent: 'vpn-access' }]);
    expect(sends(TRIAGE_CONV)).toHaveLength(1);
  }, 60000);
});

describe('connector throttling', () => {
  it('retries 429 and 502 with backoff and delivers the message once', async () => {
    await post(t.base, message('29:olga', 'cancel'));
    await eventually(async () => sends('a:olga-personal').some((c) => /nothing in progress/.test(cardText(cardOf(c)) + String(c.body.text))), 15000, 'first reply');
    const n = sends('a:olga-personal').length;
    connectorFailures.push(429, 502);
    await post(t.base, message('29:olga', 'status'));
    await eventually(async () => sends('a:olga-personal').length >= n + 3, 20000, 'retries');
    const tries = sends('a:olga-personal').slice(n);
    expect(tries).toHaveLength(3);
    expect(new Set(tries.map((c) => JSON.stringify(c.body.attachments))).size).toBe(1);
    await eventually(async () => (await q(`SELECT count(*)::int AS n FROM channel_deliveries WHERE channel = 'teams' AND target = 'a:olga-personal' AND status = 'sent'`))[0]!.n >= 2, 15000, 'delivered');
  }, 40000);
});

describe('@mention in a team channel', () => {
  it('answers in the channel briefly and continues in personal chat', async () => {
    const channelConv = '19:general@thread.tacv2;messageid=1700000000123';
    await post(t.base, message('29:olga', 'cancel'));
    await new Promise((r) => setTimeout(r, 300));
    const n = sends('a:olga-personal').length;
    const mention = activity('29:olga', {
      type: 'message', text: '<at>errand</at> I need vpn access',
      entities: [{ type: 'mention', text: '<at>errand</at>', mentioned: { id: `28:${APP_ID}`, name: 'errand' } }],
      conversation: { id: channelConv, conversationType: 'channel', isGroup: true, tenantId: TENANT },
    });
    expect((await post(t.base, mention)).status).toBe(200);
    const inChannel = await nthSend(channelConv, 1);
    expect(String(inChannel.body.text)).toMatch(/personal message to continue/);
    await eventually(async () => sends('a:olga-personal').slice(n).some((c) => /VPN/.test(cardText(cardOf(c)))), 15000, 'dialog in personal chat');
    expect(sends(channelConv)).toHaveLength(1);
  });
});
