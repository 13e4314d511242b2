/**
 * Inbound Slack requests under attack: forged, stale, future-dated and replayed signatures,
 * malformed and oversized bodies. Each refusal gets its status and stores nothing (row counts of
 * every inbound table before and after); a correctly signed request sent twice is processed once.
 */
import { createHmac } from 'node:crypto';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { blockAction, dmEvent, fakeSlackApi, SLACK_SECRET, slackEnv, type SlackCall } from '../support/slack-fake.js';
import { captureLog, type CapturedLog } from '../support/security/capture.js';
import { rowCounts } from '../support/security/counts.js';

let t: TestApp;
let calls: SlackCall[];
let cap: CapturedLog;

beforeAll(async () => {
  onlyLoopback();
  calls = fakeSlackApi();
  cap = captureLog('debug');
  t = await startTestApp({ env: { ...slackEnv(), TEAMS_ENABLED: 'false' }, app: { log: cap.log } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const now = () => Math.floor(Date.now() / 1000);
const hmac = (secret: string, ts: number | string, body: string) => createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex');

interface Send { body: string; type?: string; headers?: Record<string, string> }
async function raw(s: Send): Promise<{ status: number; text: string }> {
  const r = await fetch(`${t.base}/slack/events`, { method: 'POST', headers: { 'content-type': s.type ?? 'application/json', ...s.headers }, body: s.body });
  return { status: r.status, text: await r.text() };
}
/** Headers Slack would send for `body` at `ts`. */
const signed = (body: string, ts = now(), secret = SLACK_SECRET) => ({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${hmac(secret, ts, body)}` });

let seq = 0;
const eventBody = (user = 'UERIN', text = 'I need VPN access') => JSON.stringify({ token: 'x', team_id: 'T1', api_app_id: 'A1', type: 'event_callback', event_id: `EvSec${Date.now()}${seq++}`, event_time: now(), event: dmEvent(user, text, `${Date.now() / 1000}${seq}`) });
const form = (payload: unknown) => `payload=${encodeURIComponent(JSON.stringify(payload))}`;
const command = (name: string, user = 'UERIN') => new URLSearchParams({ token: 'x', team_id: 'T1', channel_id: 'DERIN', user_id: user, command: name, text: '', trigger_id: `trig-sec-${seq++}`, response_url: 'https://hooks.slack.test/cmd' }).toString();
const apiCalls = (method: string) => calls.filter((c) => c.method === method).length;

describe('signatures', () => {
  const body = eventBody();
  const cases: [string, () => Send][] = [
    ['a signature made with another secret', () => ({ body, headers: signed(body, now(), 'another-signing-secret-000') })],
    ['a made-up signature', () => ({ body, headers: { ...signed(body), 'x-slack-signature': 'v0=deadbeef' } })],
    ['a valid HMAC under another version prefix', () => ({ body, headers: { ...signed(body), 'x-slack-signature': `v1=${hmac(SLACK_SECRET, now(), body)}` } })],
    ['the right HMAC in upper case', () => ({ body, headers: { ...signed(body), 'x-slack-signature': `v0=${hmac(SLACK_SECRET, now(), body).toUpperCase()}` } })],
    ['no signature header', () => ({ body, headers: { 'x-slack-request-timestamp': String(now()) } })],
    ['no timestamp header', () => ({ body, headers: { 'x-slack-signature': signed(body)['x-slack-signature'] } })],
    ['a timestamp that is not a number', () => ({ body, headers: { 'x-slack-request-timestamp': 'soon', 'x-slack-signature': `v0=${hmac(SLACK_SECRET, 'soon', body)}` } })],
    ['a stale timestamp (6 minutes old, correctly signed)', () => ({ body, headers: signed(body, now() - 360) })],
    ['a future timestamp (6 minutes ahead, correctly signed)', () => ({ body, headers: signed(body, now() + 360) })],
    ['a body changed after signing', () => ({ body: body.replace('I need VPN access', 'I need admin access'), headers: signed(body) })],
    ['a signature of the body under another timestamp', () => { const ts = now(); return { body, headers: { 'x-slack-request-timestamp': String(ts), 'x-slack-signature': `v0=${hmac(SLACK_SECRET, ts - 1, body)}` } }; }],
    ['a signed interaction with a tampered payload', () => { const b = form(blockAction('UMARK', 'DMARK', '1.1', { action_id: 'dialog:cancel' })); return { body: b.replace('UMARK', 'UOLGA'), type: 'application/x-www-form-urlencoded', headers: signed(b) }; }],
  ];

  it.each(cases)('refuses %s with 401 and stores nothing', async (_what, make) => {
    const before = await rowCounts(t.app.db);
    const posts = calls.length;
    expect((await raw(make())).status).toBe(401);
    expect(await rowCounts(t.app.db)).toEqual(before);
    expect(calls.length).toBe(posts); // nothing was said to anybody
  });

  it('takes the same event correctly signed (the control case)', async () => {
    const before = apiCalls('chat.postMessage');
    const b = eventBody('UERIN', 'hello');
    expect((await raw({ body: b, headers: signed(b) })).status).toBe(200);
    await eventually(async () => apiCalls('chat.postMessage') > before, 15000, 'an answer');
  });
});

describe('replays inside the five-minute window', () => {
  it('processes a slash command sent twice with the same timestamp, body and signature once', async () => {
    const b = command('/request');
    const headers = signed(b);
    const before = apiCalls('views.open');
    const first = await raw({ body: b, type: 'application/x-www-form-urlencoded', headers });
    const replay = await raw({ body: b, type: 'application/x-www-form-urlencoded', headers });
    expect([first.status, replay.status]).toEqual([200, 200]);
    await eventually(async () => apiCalls('views.open') > before, 15000, 'the modal');
    await new Promise((r) => setTimeout(r, 1000));
    expect(apiCalls('views.open')).toBe(before + 1);
    const dedupe = await t.app.db.query(`SELECT count(*)::int AS n FROM inbound_dedupe WHERE channel = 'slack' AND key = $1`, [`sig:${headers['x-slack-signature']}`]);
    expect(dedupe.rows[0]!.n).toBe(1);
    expect(cap.lines().some((l) => l.msg === 'slack: replayed request dropped (same signature seen before)')).toBe(true);
  });

  it('processes a replayed button click once (a click is not idempotent: it would answer the next question)', async () => {
    const b = form(blockAction('UOLGA', 'DOLGA', '1700000000.000100', { action_id: 'dialog:cancel', value: 'dialog:cancel' }));
    const headers = signed(b);
    const dm = () => calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'DOLGA').length;
    const before = dm();
    const statuses = await Promise.all([0, 1, 2].map(() => raw({ body: b, type: 'application/x-www-form-urlencoded', headers }).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200]);
    await eventually(async () => dm() > before, 15000, 'the answer to the click');
    await new Promise((r) => setTimeout(r, 1000));
    expect(dm()).toBe(before + 1);
  });

  it('processes a replayed event once (and a re-signed retry of it too)', async () => {
    const b = eventBody('UTARA', 'status');
    const dm = () => calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'DTARA').length;
    const before = dm();
    const headers = signed(b);
    expect((await raw({ body: b, headers })).status).toBe(200);
    expect((await raw({ body: b, headers })).status).toBe(200);
    expect((await raw({ body: b, headers: { ...signed(b, now() + 1), 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' } })).status).toBe(200);
    await eventually(async () => dm() > before, 15000, 'the status answer');
    await new Promise((r) => setTimeout(r, 1000));
    expect(dm()).toBe(before + 1);
  });
});

describe('malformed and oversized bodies', () => {
  const cases: [string, number, () => Send][] = [
    ['JSON cut off in the middle', 400, () => { const b = '{"type":"event_callback","event":{"type":"mess'; return { body: b, headers: signed(b) }; }],
    ['an interaction whose payload is not JSON', 400, () => { const b = 'payload=%7Bnot%20json'; return { body: b, type: 'application/x-www-form-urlencoded', headers: signed(b) }; }],
    ['a form body sent as JSON', 400, () => { const b = command('/requests'); return { body: b, type: 'application/json', headers: signed(b) }; }],
    ['a gzip-encoded body', 415, () => { const b = eventBody(); return { body: b, headers: { ...signed(b), 'content-encoding': 'gzip' } }; }],
    ['a body over 1 MB', 413, () => { const b = JSON.stringify({ type: 'event_callback', event_id: 'EvBig', event: dmEvent('UERIN', 'x'.repeat(1_100_000)) }); return { body: b, headers: signed(b) }; }],
  ];

  it.each(cases)('answers %s with %i and stores nothing', async (_what, status, make) => {
    const before = await rowCounts(t.app.db);
    const posts = calls.length;
    expect((await raw(make())).status).toBe(status);
    expect(await rowCounts(t.app.db)).toEqual(before);
    expect(calls.length).toBe(posts);
  });

  it('acknowledges correctly signed bodies that are not Slack payloads without a 500 or any effect', async () => {
    const bodies: Send[] = [
      { body: 'null' }, { body: '[]' }, { body: '"text"' }, { body: '{}' }, { body: '{"type":"event_callback"}' },
      { body: '{"type":"event_callback","event_id":"EvOdd","event":{"type":"message"}}' },
      { body: 'foo=bar&payload=', type: 'application/x-www-form-urlencoded' },
      { body: form({ type: 'block_actions' }), type: 'application/x-www-form-urlencoded' },
      { body: form({ type: 'block_actions', user: { id: 'UERIN' }, actions: [] }), type: 'application/x-www-form-urlencoded' },
      { body: form({ type: 'view_submission', user: { id: 'UERIN' }, view: { callback_id: 'request-form', private_metadata: '{bad json', state: { values: {} } } }), type: 'application/x-www-form-urlencoded' },
      { body: form([1, 2, 3]), type: 'application/x-www-form-urlencoded' },
    ];
    for (const s of bodies) {
      const r = await raw({ ...s, headers: signed(s.body) });
      expect({ body: s.body.slice(0, 80), status: r.status < 500 }).toEqual({ body: s.body.slice(0, 80), status: true });
    }
    expect((await t.app.db.query(`SELECT count(*)::int AS n FROM requests`)).rows[0]!.n).toBe(0);
  }, 60000);
});
