/** Development mode (no app id): unauthenticated activities are accepted, replies go to the activity's serviceUrl. */
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
const sent: { conv: string; body: any }[] = [];
beforeAll(async () => {
  onlyLoopback();
  nock('https://emulator.test').persist().post(/\/v3\/conversations\/[^/]+\/activities.*/).reply(function (uri, body) {
    sent.push({ conv: decodeURIComponent(/conversations\/([^/]+)/.exec(uri)![1]!), body });
    return [200, { id: `e-${sent.length}` }];
  });
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

it('accepts an Emulator activity without a token and answers at its serviceUrl', async () => {
  expect(t.app.config.teams?.appId).toBe('');
  const act = {
    type: 'message', id: 'emu-1', channelId: 'emulator', serviceUrl: 'https://emulator.test/', timestamp: new Date().toISOString(),
    from: { id: 'erin.employee@example.com', name: 'erin.employee@example.com' }, recipient: { id: 'bot', name: 'errand' },
    conversation: { id: 'emu-conv-1' }, text: 'I need access to the finance drive',
  };
  const r = await fetch(`${t.base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(act) });
  expect(r.status).toBe(200);
  const reply = await eventually(async () => sent.find((s) => s.conv === 'emu-conv-1'), 15000, 'reply to the emulator');
  expect(JSON.stringify(reply.body)).toMatch(/read or write/);
});

it('refuses to start in production without an app id', async () => {
  const { loadConfig } = await import('../../src/config.js');
  expect(() => loadConfig({ NODE_ENV: 'production', API_KEYS: 'k', TEAMS_ENABLED: 'true' })).toThrow(/MICROSOFT_APP_ID: required/);
  expect(loadConfig({ NODE_ENV: 'production', API_KEYS: 'k' }).teams).toBeUndefined();
});
