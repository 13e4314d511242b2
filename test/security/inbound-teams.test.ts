/**
 * Inbound Teams activities with forged or unfit Bot Framework tokens (wrong issuer, audience, key,
 * expired, not yet valid, wrong serviceUrl claim, a key not endorsed for the activity's channel,
 * alg=none), malformed and oversized bodies: each refused with its status, nothing stored. The
 * OpenID key set is our own (test/support/security/teams-auth.ts), so endorsements can be tested.
 */
import { jest } from '@jest/globals';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { APP_ID, fakeTeams, message, SERVICE_URL, teamsEnv, type ConnectorCall } from '../support/teams-fake.js';
import { KEYS, serveKeys, teamsToken } from '../support/security/teams-auth.js';
import { rowCounts } from '../support/security/counts.js';

let t: TestApp;
let calls: ConnectorCall[];
/** botbuilder reports each refusal on console.error: kept to check the reason, not printed. */
const reasons: string[] = [];

beforeAll(async () => {
  jest.spyOn(console, 'error').mockImplementation((...m: unknown[]) => { reasons.push(m.map(String).join(' ')); });
  onlyLoopback();
  serveKeys();
  calls = fakeTeams();
  t = await startTestApp({ env: { ...teamsEnv() } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

async function post(body: string, token: string | null, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(`${t.base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, body });
  return { status: r.status, text: await r.text() };
}
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('Bot Framework tokens', () => {
  const act = () => JSON.stringify(message('29:erin', 'I need VPN access'));
  const cases: [string, () => string | null][] = [
    ['no token', () => null],
    ['a token that is not a JWT', () => 'not-a-jwt'],
    ['another issuer', () => teamsToken({ iss: 'https://evil.example/' })],
    ['the Emulator issuer (not accepted for channel traffic)', () => teamsToken({ iss: 'https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/' })],
    ['another audience (another bot)', () => teamsToken({ aud: '99999999-0000-0000-0000-000000000000' })],
    ['a key the metadata does not list', () => teamsToken({ key: KEYS.unknown.key, kid: KEYS.unknown.kid })],
    ['a listed key id signed with another key', () => teamsToken({ key: KEYS.unknown.key, kid: KEYS.endorsed.kid })],
    ['an expired token (10 minutes ago, beyond the 5-minute clock skew)', () => teamsToken({ expiresIn: -600 })],
    ['a token not valid for 10 more minutes', () => teamsToken({ notBefore: 600 })],
    ['a serviceurl claim for another host', () => teamsToken({ serviceUrl: 'https://evil.example/teams/' })],
    ['no serviceurl claim', () => teamsToken({ serviceUrl: null })],
    ['a key endorsed for webchat only (activity from msteams)', () => teamsToken({ key: KEYS.webchatOnly.key, kid: KEYS.webchatOnly.kid })],
    ['alg=none', () => `${b64({ alg: 'none', typ: 'JWT', kid: KEYS.endorsed.kid })}.${b64({ iss: 'https://api.botframework.com', aud: APP_ID, exp: now() + 3600, serviceurl: SERVICE_URL })}.`],
  ];

  it.each(cases)('refuses %s with 401 and stores nothing', async (_what, token) => {
    const before = await rowCounts(t.app.db);
    const sent = calls.length;
    reasons.length = 0;
    const r = await post(act(), token());
    expect(r.status).toBe(401);
    if (/endorsed for webchat/.test(_what)) expect(reasons.join('\n')).toMatch(/endorsement for key: sec-webchat/);
    if (/serviceurl/.test(_what)) expect(reasons.join('\n')).toMatch(/ServiceUrl claim/i);
    expect(await rowCounts(t.app.db)).toEqual(before);
    expect(calls.length).toBe(sent);
  });

  it('refuses an activity whose serviceUrl differs from the token\'s claim, and one from another channel than the key is endorsed for', async () => {
    const before = await rowCounts(t.app.db);
    expect((await post(JSON.stringify(message('29:erin', 'hi', { serviceUrl: 'https://evil.example/teams/' })), teamsToken())).status).toBe(401);
    expect((await post(JSON.stringify(message('29:erin', 'hi', { channelId: 'skype' })), teamsToken())).status).toBe(401);
    expect(await rowCounts(t.app.db)).toEqual(before);
  });

  it('takes the same activity with a good token (the control case)', async () => {
    const r = await post(act(), teamsToken());
    expect(r.status).toBe(200);
    await eventually(async () => calls.some((c) => c.method === 'send' && c.conversation === 'a:erin-personal'), 15000, 'an answer');
  });
});

describe('bodies with a valid token', () => {
  const cases: [string, number, () => { body: string; headers?: Record<string, string> }][] = [
    ['malformed JSON', 400, () => ({ body: '{"type":"message","text":' })],
    ['a JSON body over 256 kB', 413, () => ({ body: JSON.stringify(message('29:erin', 'x'.repeat(300_000))) })],
    ['an unsupported content encoding', 415, () => ({ body: JSON.stringify(message('29:erin', 'hi')), headers: { 'content-encoding': 'br2' } })],
    ['an unsupported charset', 415, () => ({ body: JSON.stringify(message('29:erin', 'hi')), headers: { 'content-type': 'application/json; charset=ebcdic-xx' } })],
  ];
  it.each(cases)('answers %s with %i and stores nothing', async (_what, status, make) => {
    const before = await rowCounts(t.app.db);
    const m = make();
    const r = await post(m.body, teamsToken(), m.headers);
    expect(r.status).toBe(status);
    expect(JSON.parse(r.text)).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    expect(await rowCounts(t.app.db)).toEqual(before);
  });
});
