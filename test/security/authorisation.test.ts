/**
 * Decisions by people without the right, through every door: the requester on their own request,
 * a colleague who only saw the card (a triage-channel member), a Slack user who is not in the
 * directory, a Teams user the roster does not know, a web-chat user acting on someone else's
 * approval, approval e-mail links in the wrong hands, the admin API without a role, and state
 * changes with a dashboard session but no CSRF token. Each is refused with its status or message,
 * changes nothing, and leaves an audit row saying who tried what.
 */
import { jest } from '@jest/globals';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { blockAction, fakeSlackApi, sendInteraction, slackEnv, TRIAGE_CHANNEL, type SlackCall } from '../support/slack-fake.js';
import { APP_ID, channelToken, execute, fakeTeams, post as teamsPost, SERVICE_URL, teamsEnv, TENANT, TRIAGE_CONV, type ConnectorCall } from '../support/teams-fake.js';
import { WebUser } from '../support/web-client.js';
import { Client } from '../admin/http-client.js';
import { auditSince, lastAuditId, rowCounts } from '../support/security/counts.js';
import { setAccountPassword } from '../../src/http/admin/auth.js';
import { loadConfig } from '../../src/config.js';

let t: TestApp;
let slack: SlackCall[];
let teams: ConnectorCall[];
const ERIN = 'erin.employee@example.com', MARK = 'mark.manager@example.com', TARA = 'tara.triage@example.com', OLGA = 'olga.owner@example.com';
const ADA = 'ada.admin@example.com', FRED = 'fred.fulfiller@example.com';
const PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  jest.spyOn(console, 'error').mockImplementation(() => undefined); // botbuilder's own reports
  onlyLoopback();
  slack = fakeSlackApi();
  teams = fakeTeams();
  t = await startTestApp({ env: {
    ...slackEnv(), ...teamsEnv(), API_KEYS: 'test-key',
    EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: '127.0.0.1', EMAIL_SMTP_PORT: '9', EMAIL_LISTEN_PORT: '0', EMAIL_PUBLIC_URL: 'http://errand.test',
  } });
  await setAccountPassword(t.app.db, ADA, PASSWORD, 'test');
  await setAccountPassword(t.app.db, FRED, PASSWORD, 'test');
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const approvalStatus = async (id: string) => (await q('SELECT status, decided_by FROM approvals WHERE id = $1', [id]))[0];

/** A shared-drive request by Erin, waiting for her manager Mark. */
async function pendingApproval(): Promise<{ ref: string; approvalId: string }> {
  const item = t.app.catalogue.get('shared-drive-access')!;
  const { request } = await t.app.requests.submit({ item, requesterEmail: ERIN, answers: { drive: 'finance', access: 'read', justification: 'Month-end reporting' }, channel: 'test' });
  const [a] = await q(`SELECT id FROM approvals WHERE request_id = $1 AND status = 'pending'`, [request.id]);
  return { ref: request.ref, approvalId: a!.id };
}

/** Runs `act`, then waits for audit rows matching `want` written after it started. */
async function audited(act: () => Promise<unknown>, want: Record<string, unknown>): Promise<Record<string, unknown>> {
  const since = await lastAuditId(t.app.db);
  await act();
  return eventually(async () => (await auditSince(t.app.db, since)).find((r) => Object.entries(want).every(([k, v]) => (k === 'detail' ? expect.objectContaining(v as object).asymmetricMatch(r.detail) : (r as Record<string, unknown>)[k] === v))), 15000, `audit ${JSON.stringify(want)}`);
}

describe('approvals', () => {
  let ref: string, approvalId: string;
  beforeAll(async () => { ({ ref, approvalId } = await pendingApproval()); });
  afterEach(async () => { expect(await approvalStatus(approvalId)).toEqual({ status: 'pending', decided_by: null }); });

  it('refuses the requester approving her own request, in every channel', async () => {
    const erin = new WebUser(t.base, ERIN);
    const row = await audited(() => erin.click(`approval:${approvalId}:approve`), { actor: ERIN, action: 'approval.refused', subject: ref });
    expect(row.detail).toMatchObject({ approvalId, why: 'self-approval' });
    expect((await erin.all()).some((m) => /cannot approve or deny your own request/.test(m.text))).toBe(true);
    await audited(() => sendInteraction(t.base, blockAction('UERIN', 'DERIN', '1.1', { action_id: `approval:${approvalId}:approve`, value: `approval:${approvalId}:approve` })), { actor: ERIN, action: 'approval.refused', detail: { why: 'self-approval' } });
    await audited(() => teamsPost(t.base, execute('29:erin', 'action', { id: `approval:${approvalId}:deny`, reason: 'I changed my mind', fromInput: 'reason' })), { actor: ERIN, action: 'approval.refused', detail: { why: 'self-approval' } });
    await audited(() => t.app.requests.decide(approvalId, ERIN.toUpperCase(), 'approve'), { actor: ERIN, action: 'approval.refused', detail: { why: 'self-approval' } }); // case does not help
  });

  it('refuses a colleague who is not an approver (Slack, Teams, web chat acting on someone else\'s approval)', async () => {
    await audited(() => sendInteraction(t.base, blockAction('UTARA', 'DTARA', '1.2', { action_id: `approval:${approvalId}:approve`, value: `approval:${approvalId}:approve` })), { actor: TARA, action: 'approval.refused', subject: ref, detail: { why: 'not an approver' } });
    await audited(() => teamsPost(t.base, execute('29:olga', 'action', { id: `approval:${approvalId}:approve` })), { actor: OLGA, action: 'approval.refused', detail: { why: 'not an approver' } });
    // the demo web chat lets anyone pick a person; acting as Tara on Mark's approval is still Tara's decision, refused
    const tara = new WebUser(t.base, TARA);
    await audited(() => tara.click(`approval:${approvalId}:approve`), { actor: TARA, action: 'approval.refused', detail: { why: 'not an approver' } });
    expect((await tara.all()).some((m) => new RegExp(`not an approver for ${ref}`).test(m.text))).toBe(true);
    // a Teams refresh shows a non-approver the card without buttons
    const card = (await teamsPost(t.base, execute('29:olga', 'refresh', { approvalId }))).body?.value;
    expect(card?.actions ?? []).toEqual([]);
  });

  it('does nothing for a Slack user who is not in the directory, and audits the attempt', async () => {
    const before = await rowCounts(t.app.db);
    const row = await audited(() => sendInteraction(t.base, blockAction('USTRANGER', 'DSTRANGER', '1.3', { action_id: `approval:${approvalId}:approve`, value: `approval:${approvalId}:approve` })),
      { actor: 'slack:USTRANGER', action: 'channel.unknown-user', subject: 'slack' });
    expect(String((row.detail as { what: string }).what)).toContain(`approval:${approvalId}:approve`);
    await eventually(async () => slack.some((c) => c.method === 'chat.postMessage' && c.args.channel === 'DSTRANGER' && /could not find your Slack e-mail address/.test(String(c.args.text))), 15000, 'the refusal');
    const after = await rowCounts(t.app.db);
    expect({ ...after, audit_log: 0, inbound_dedupe: 0 }).toEqual({ ...before, audit_log: 0, inbound_dedupe: 0 });
  });

  it('does nothing for a Teams user the roster does not know (a valid token, someone else\'s click), and audits it', async () => {
    const ghost = {
      type: 'invoke', name: 'adaptiveCard/action', id: `ghost-${Date.now()}`, timestamp: new Date().toISOString(), channelId: 'msteams', serviceUrl: SERVICE_URL,
      from: { id: '29:ghost', name: 'mark.manager@example.com', aadObjectId: 'aad-ghost' }, recipient: { id: `28:${APP_ID}`, name: 'errand' },
      conversation: { id: 'a:ghost-personal', conversationType: 'personal', tenantId: TENANT }, channelData: { tenant: { id: TENANT } },
      value: { action: { type: 'Action.Execute', verb: 'action', data: { id: `approval:${approvalId}:approve` } }, trigger: 'manual' },
    };
    const since = await lastAuditId(t.app.db);
    const r = await teamsPost(t.base, ghost, channelToken());
    expect(r.status).toBe(200); // was 501: the roster's 404 escaped as an error
    expect(JSON.stringify(r.body)).toMatch(/could not find your e-mail address in the company directory/);
    // the display name claims to be Mark: in Teams only the roster counts, so nothing maps the ghost to him
    expect(await q(`SELECT person_email FROM channel_identities WHERE channel = 'teams' AND external_id IN ('aad-ghost', '29:ghost')`)).toEqual([]);
    const rows = await eventually(async () => { const x = await auditSince(t.app.db, since); return x.some((a) => a.action === 'channel.unknown-user') ? x : undefined; }, 15000, 'audit');
    expect(rows.find((a) => a.action === 'channel.unknown-user')).toMatchObject({ actor: 'teams:29:ghost', subject: 'teams' });
    expect(rows.some((a) => a.action.startsWith('approval.approved'))).toBe(false);
  });
});

describe('triage cards seen by colleagues', () => {
  it('refuses a channel member without the triage role (Slack and Teams triage channels), audited; the item stays open', async () => {
    const item = await t.app.triage.create({ text: 'can you set up blorp access for me', requesterEmail: MARK, channel: 'test', conversationId: 'test:mark', suggestions: [] });
    const click = (user: string) => blockAction(user, TRIAGE_CHANNEL, '1700000001.000100', { action_id: `triage:${item.id}:case`, value: `triage:${item.id}:case` });
    await audited(() => sendInteraction(t.base, click('UERIN')), { actor: ERIN, action: 'triage.refused', subject: item.id, detail: { decision: 'case', why: 'not triage staff' } });
    const inChannel = execute('29:olga', 'action', { id: `triage:${item.id}:not-a-request` }, { conversation: { id: TRIAGE_CONV, conversationType: 'channel', tenantId: TENANT } });
    await audited(() => teamsPost(t.base, inChannel), { actor: OLGA, action: 'triage.refused', subject: item.id, detail: { decision: 'not-a-request' } });
    await audited(() => t.app.triage.decide(item.id, 'nobody@elsewhere.example', { kind: 'case' }), { actor: 'nobody@elsewhere.example', action: 'triage.refused', detail: { why: 'not in the directory' } });
    expect((await q('SELECT status FROM triage_items WHERE id = $1', [item.id]))[0]!.status).toBe('open');
    expect((await q(`SELECT count(*)::int AS n FROM cases WHERE title LIKE 'From triage: can you set up the blorp%'`))[0]!.n).toBe(0);
  });
});

describe('approval e-mail links', () => {
  const use = (url: string, body = '') => fetch(url.replace('http://errand.test', t.base), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('refuses a link in the hands of someone who may not decide: the requester, a non-approver; forged and spent links get 410', async () => {
    const { ref, approvalId } = await pendingApproval();
    const links = t.app.email!.links;
    // links bound to people who may not decide (as if issued before a re-route, or to the wrong person)
    const erinLink = await links.issue(approvalId, ERIN);
    const r1 = await audited(async () => expect((await use(erinLink.approve)).status).toBe(403), { actor: ERIN, action: 'approval.refused', subject: ref, detail: { why: 'self-approval' } });
    expect(r1).toBeDefined();
    const taraLink = await links.issue(approvalId, TARA);
    await audited(async () => expect((await use(taraLink.deny, 'reason=not%20mine%20to%20decide')).status).toBe(403), { actor: TARA, action: 'approval.refused', detail: { why: 'not an approver' } });
    await audited(async () => expect((await use(`http://errand.test/email/approval/${'x'.repeat(43)}`)).status).toBe(410), { actor: 'anonymous', action: 'email.approval-link-refused', detail: { why: 'unknown link' } });
    // Mark's own link works once; the same link again (a forwarded copy) is spent
    const markLink = await links.issue(approvalId, MARK);
    expect((await use(markLink.approve)).status).toBe(200);
    await audited(async () => expect((await use(markLink.approve)).status).toBe(410), { actor: MARK, action: 'email.approval-link-refused', detail: { why: 'link used already' } });
    expect(await approvalStatus(approvalId)).toEqual({ status: 'approved', decided_by: MARK });
  });

  it('refuses the link of an approver who was disabled in the meantime', async () => {
    const { approvalId } = await pendingApproval();
    const link = await t.app.email!.links.issue(approvalId, MARK);
    await q('UPDATE people SET active = false WHERE email = $1', [MARK]);
    try {
      await audited(async () => expect((await use(link.approve)).status).toBe(403), { actor: MARK, action: 'email.approval-link-refused', detail: { why: 'approver not in the directory or disabled' } });
    } finally {
      await q('UPDATE people SET active = true WHERE email = $1', [MARK]);
    }
    expect(await approvalStatus(approvalId)).toEqual({ status: 'pending', decided_by: null });
  });
});

describe('the admin and reporting APIs without the right role', () => {
  const api = (path: string, o: { method?: string; body?: unknown; key?: string | null } = {}) => fetch(`${t.base}${path}`, {
    method: o.method ?? 'GET', headers: { 'content-type': 'application/json', ...(o.key === null ? {} : { authorization: `Bearer ${o.key ?? 'test-key'}` }) }, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });

  it('refuses reports, compliance, access reviews and recategorising to people without the role (403, audited)', async () => {
    const cases: [string, () => Promise<Response>, Record<string, unknown>][] = [
      ['overview as an employee', () => api(`/admin/api/overview?actor=${ERIN}`), { actor: ERIN, action: 'admin.access-refused', subject: 'report:overview', detail: { via: 'api-key' } }],
      ['cycle time as a fulfiller', () => api(`/admin/api/cycle-time?actor=${FRED}`), { actor: FRED, action: 'admin.access-refused', subject: 'report:cycle-time' }],
      ['failures as someone unknown', () => api('/admin/api/failures?actor=mallory@elsewhere.example'), { actor: 'mallory@elsewhere.example', action: 'admin.access-refused', subject: 'report:failures' }],
      ['compliance as a manager', () => api(`/api/reports/compliance?actor=${MARK}&from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z`), { actor: MARK, action: 'report.access-refused', subject: 'report:compliance' }],
      ['an access review started by an employee', () => api('/api/access-reviews', { method: 'POST', body: { actor: ERIN } }), { actor: ERIN, action: 'api.access-refused', subject: 'access-reviews:start' }],
      ['an access review report for a manager', () => api(`/api/access-reviews/00000000-0000-0000-0000-000000000000?actor=${MARK}`), { actor: MARK, action: 'api.access-refused' }],
      ['a failure recategorised by the requester', () => api('/admin/api/failures/1/category', { method: 'PATCH', body: { actor: ERIN, category: 'user', reason: 'not my fault' } }), { actor: ERIN, action: 'failure.category-refused' }],
    ];
    for (const [what, call, want] of cases) {
      let res: Response | undefined;
      const row = await audited(async () => { res = await call(); }, want);
      expect({ what, status: res!.status }).toEqual({ what, status: 403 });
      expect({ what, body: await res!.json() }).toEqual({ what, body: expect.objectContaining({ error: expect.any(String), message: expect.any(String) }) });
      expect(row).toBeDefined();
    }
  });

  it('refuses an early revoke of someone else\'s access by a colleague (403, audited; the grant stays)', async () => {
    const { ref } = await pendingApproval();
    const [r] = await q('SELECT id FROM requests WHERE ref = $1', [ref]);
    const grant = '11111111-2222-3333-4444-000000000001';
    await q(`INSERT INTO grants (id, request_id, step_id, person_email, entitlement, expires_at, revoke_action, revoke_input, status) VALUES ($1, $2, 'grant', $3, 'finance-drive:read', now() + interval '4 hours', 'directory.removeFromGroup', '{}', 'active')`, [grant, r!.id, ERIN]);
    let res: Response | undefined;
    await audited(async () => { res = await api(`/api/grants/${grant}/revoke`, { method: 'POST', body: { actor: TARA, reason: 'I do not like it' } }); }, { actor: TARA, action: 'grant.revoke-refused', subject: ref });
    expect(res!.status).toBe(403);
    expect((await q('SELECT status FROM grants WHERE id = $1', [grant]))[0]!.status).toBe('active');
  });

  it('refuses the admin API without a valid key (401, nothing stored)', async () => {
    const before = await rowCounts(t.app.db);
    for (const key of [null, 'wrong-key', 'test-ke', 'test-key-2', 'TEST-KEY', '']) {
      const r = await api(`/admin/api/overview?actor=${ADA}`, { key });
      expect({ key, status: r.status }).toEqual({ key, status: 401 });
      const r2 = await api('/api/requests', { method: 'POST', key, body: { text: 'I need VPN', requester: ERIN } });
      expect({ key, status: r2.status }).toEqual({ key, status: 401 });
    }
    expect(await rowCounts(t.app.db)).toEqual(before);
  });
});

describe('dashboard sessions', () => {
  it('refuses a state change with a session but without the CSRF header (or with a wrong one), audited', async () => {
    const ada = new Client(t.base);
    expect((await ada.login(ADA, PASSWORD)).status).toBe(303);
    const cases: [string, Record<string, string>][] = [
      ['no X-CSRF-Token header (a cross-site form or fetch)', {}],
      ['a wrong X-CSRF-Token', { 'x-csrf-token': 'A'.repeat(43) }],
      ['the session id as the token', { 'x-csrf-token': decodeURIComponent(ada.cookies.get('errand_admin') ?? '') }],
    ];
    for (const [what, headers] of cases) {
      let status = 0;
      const row = await audited(async () => { status = (await ada.req('/admin/api/failures/1/category', { method: 'PATCH', json: { category: 'user', reason: 'csrf' }, headers })).status; },
        { actor: ADA, action: 'admin.csrf-refused', subject: 'PATCH /admin/api/failures/1/category' });
      expect({ what, status }).toEqual({ what, status: 403 });
      expect((row.detail as { header: string }).header).toBe(headers['x-csrf-token'] ? 'wrong' : 'missing');
    }
    await audited(async () => expect((await ada.req('/admin/logout', { method: 'POST' })).status).toBe(403), { actor: ADA, action: 'admin.csrf-refused', subject: 'POST /admin/logout' });
    expect((await q(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'failure.categorised'`))[0]!.n).toBe(0);
    // with the header the same session works (the control case): 404, no such failure
    expect((await ada.req('/admin/api/failures/1/category', { method: 'PATCH', json: { category: 'user' }, headers: { 'x-csrf-token': ada.csrf } })).status).toBe(404);
  });

  it('refuses dashboard pages and the CSV export outside the person\'s role, audited', async () => {
    const fred = new Client(t.base);
    expect((await fred.login(FRED, PASSWORD)).status).toBe(303);
    await audited(async () => expect((await fred.req('/admin/overview')).status).toBe(403), { actor: FRED, action: 'admin.access-refused', subject: 'page:overview' });
    await audited(async () => expect((await fred.req('/admin/service-review.csv?period=2026-01')).status).toBe(403), { actor: FRED, action: 'admin.access-refused', subject: 'report:service-review.csv' });
    await audited(async () => expect((await fred.req(`/admin/api/overview?actor=${ADA}`)).status).toBe(403), { actor: FRED, action: 'admin.access-refused', subject: 'report:overview', detail: { via: 'session' } }); // ?actor= cannot lift a session's rights
  });
});

describe('the demo web chat', () => {
  it('is off in production, where picking a person would be impersonation', () => {
    const c = loadConfig({ NODE_ENV: 'production', API_KEYS: 'a-production-key', TEAMS_ENABLED: 'false', WEB_CHAT_DEMO: 'true' });
    expect(c.webChatDemo).toBe(false);
  });
});
