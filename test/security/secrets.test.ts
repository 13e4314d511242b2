/**
 * Secrets never leave: every secret errand can be configured with gets a distinctive value, a
 * varied scenario runs (chat in Slack and Teams, the REST API with good and bad keys, /metrics,
 * /healthz, e-mail in and out, fulfilment against backends that answer 401/403 echoing the
 * credential they were sent, an OAuth2 token endpoint echoing the client secret, Vault refusing and
 * echoing its token, an unreachable IMAP server, configuration errors), and every log line (trace
 * level), HTTP response, stored row, chat message and e-mail is scanned for each secret — whole,
 * URL-encoded, base64 or any 12-character piece (a truncated excerpt counts).
 */
import { jest } from '@jest/globals';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { createHmac } from 'node:crypto';
import { dmEvent, fakeSlackApi, slackEnv, type SlackCall } from '../support/slack-fake.js';
import { fakeTeams, message, post as teamsPost, teamsEnv, type ConnectorCall } from '../support/teams-fake.js';
import { captureLog, type CapturedLog } from '../support/security/capture.js';
import { scanForSecrets, secret } from '../support/security/secrets.js';
import { createTestDb } from '../support/test-db.js';
import { PROJECT_ROOT, loadConfig } from '../../src/config.js';
import { createApp } from '../../src/app.js';

const S = {
  slackBotToken: `xoxb-${secret('slackbot')}`,
  slackSigningSecret: secret('slacksigning'),
  msAppPassword: secret('msapppassword'),
  apiKey1: secret('apikeyone'),
  apiKey2: secret('apikeytwo'),
  smtpPassword: secret('smtppassword'),
  imapPassword: secret('imappassword'),
  listenPassword: secret('listenpassword'),
  metricsToken: secret('metricstoken'),
  vaultToken: secret('vaulttoken'),
  idmKey: secret('idmapikey'),
  oauthClientSecret: secret('oauthclientsecret'),
  oauthAccessToken: secret('oauthaccesstoken'), // obtained at run time from the token endpoint
  filePassword: secret('filepassword'),
  oktaToken: secret('oktatoken'), // resolved from Vault
  scimToken: secret('scimtoken'),
  dbPassword: secret('dbpassword'),
};
const BASIC = Buffer.from(`errand:${S.filePassword}`).toString('base64');
const ERIN = 'erin.employee@example.com';

const CONNECTORS = `connectors:
  idm:
    type: http
    config:
      baseUrl: https://idm.test/v1
      auth: { type: apiKey, key: "env:IDM_KEY" }
      healthPath: /health
      operations:
        createUser: { method: POST, path: /users, body: '{"login": input.email}' }
    retry: { maxAttempts: 1 }
    synthetic: { everySeconds: 5 }
  hr:
    type: http
    config:
      baseUrl: https://hr.test/api
      auth: { type: oauth2, tokenUrl: https://login.hr.test/token, clientId: errand, clientSecret: "env:HR_CLIENT_SECRET" }
      operations:
        sync: { method: POST, path: /sync, body: '{"who": input.email}' }
    retry: { maxAttempts: 1 }
  hrdown:
    type: http
    config:
      baseUrl: https://hr.test/api
      auth: { type: oauth2, tokenUrl: https://login.hr.test/refusing, clientId: errand, clientSecret: "env:HR_CLIENT_SECRET" }
      operations:
        sync: { method: POST, path: /sync, body: '{"who": input.email}' }
    retry: { maxAttempts: 1 }
  files:
    type: http
    config:
      baseUrl: https://files.test
      auth: { type: basic, username: errand, password: "file:__FILE__" }
      operations:
        put: { method: POST, path: /files, body: '{"owner": input.email}' }
    retry: { maxAttempts: 1 }
  scimdir:
    type: scim
    config: { baseUrl: "https://scim.test/v2", token: "env:SCIM_TOKEN" }
    retry: { maxAttempts: 1 }
  okta:
    type: http
    config:
      baseUrl: https://okta.test
      auth: { type: apiKey, header: authorization, prefix: "SSWS ", key: "vault:secret/data/errand/okta#token" }
      operations:
        ping: { method: POST, path: /ping, body: '{"who": input.email}' }
    retry: { maxAttempts: 1 }
`;
const item = (id: string, action: string) => `id: ${id}
title: Secret test ${id}
description: Calls ${action} for the requester.
category: test
owner: { team: QA, contact: qa@example.com }
responseTime: 1h
risk: low
fulfilment: automated
workflow:
  - id: call
    action: ${action}
    inputs: { email: "{{requester.email}}", userName: "{{requester.email}}" }
`;
const ITEMS: Record<string, string> = { 'sec-idm': 'idm.createUser', 'sec-hr': 'hr.sync', 'sec-hrdown': 'hrdown.sync', 'sec-files': 'files.put', 'sec-okta': 'okta.ping', 'sec-scim': 'scimdir.deactivateUser' };

let t: TestApp;
let cap: CapturedLog;
let slack: SlackCall[];
let teams: ConnectorCall[];
let dir: string;
let env: Record<string, string>;
const responses: string[] = [];
const outbound: string[] = [];
const errors: string[] = [];
let sink: { server: SMTPServer; port: number; mails: string[] };

/** Every backend answers 401/403 with whatever credential it was sent, in the body and a header. */
function hostileBackends(): void {
  const echo = (status: number) => function (this: { req: { headers: Record<string, string> } }, _uri: string, body: unknown): [number, string, Record<string, string>] {
    const h = this.req.headers;
    const sent = h.authorization ?? h['x-api-key'] ?? '';
    // padded so the credential straddles the 200-character excerpt of error messages
    return [status, JSON.stringify({ pad: 'p'.repeat(130), error: `invalid credential ${sent}`, request: { headers: h, body } }), { 'www-authenticate': `Bearer error="invalid_token" token="${sent}"` }];
  };
  nock('https://idm.test').persist().post('/v1/users').reply(echo(401)).get('/v1/health').reply(echo(401));
  nock('https://login.hr.test').persist()
    .post('/token').reply(200, { access_token: S.oauthAccessToken, token_type: 'Bearer', expires_in: 3600 })
    .post('/refusing').reply(function (_u, body) { return [401, { error: 'invalid_client', error_description: `client secret rejected: ${String(body)}` }]; });
  nock('https://hr.test').persist().post('/api/sync').reply(echo(403));
  nock('https://files.test').persist().post('/files').reply(echo(401));
  nock('https://okta.test').persist().post('/ping').reply(echo(401));
  // a plain-text refusal: SCIM errors quote the first 200 characters
  nock('https://scim.test').persist().get(/.*/).reply(function () { return [401, `${'p'.repeat(160)} token=${String(this.req.headers.authorization)}`]; });
  nock('https://vault.test:8200').persist()
    .get('/v1/secret/data/errand/okta').reply(function () { return this.req.headers['x-vault-token'] === S.vaultToken ? [200, { data: { data: { token: S.oktaToken }, metadata: {} } }] : [403, { errors: ['permission denied'] }]; })
    .get('/v1/secret/data/errand/broken').reply(function () { return [403, { errors: [`permission denied for token ${String(this.req.headers['x-vault-token'])}`] }]; });
}

async function startSink(): Promise<typeof sink> {
  const mails: string[] = [];
  const server = new SMTPServer({
    logger: false, disabledCommands: ['STARTTLS'], allowInsecureAuth: true,
    onAuth(a, _s, cb) { if (a.password === S.smtpPassword) cb(null, { user: a.username }); else cb(new Error(`bad password ${a.password}`)); },
    onData(stream, _s, cb) { const c: Buffer[] = []; stream.on('data', (b: Buffer) => c.push(b)); stream.on('end', () => { mails.push(Buffer.concat(c).toString()); cb(); }); },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port, mails };
}

/** fetch that keeps each response (status line, headers, body) for the scan. */
async function http(p: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
  const r = await fetch(`${t.base}${p}`, init);
  const text = await r.text();
  responses.push(`${init.method ?? 'GET'} ${p} ${r.status}\n${JSON.stringify(Object.fromEntries(r.headers))}\n${text}`);
  return { status: r.status, text };
}

beforeAll(async () => {
  jest.spyOn(console, 'error').mockImplementation((...m: unknown[]) => { outbound.push(`console.error ${m.map(String).join(' ')}`); });
  jest.spyOn(console, 'warn').mockImplementation((...m: unknown[]) => { outbound.push(`console.warn ${m.map(String).join(' ')}`); });
  onlyLoopback();
  hostileBackends();
  slack = fakeSlackApi();
  teams = fakeTeams();
  sink = await startSink();
  cap = captureLog('trace');
  dir = await mkdtemp(path.join(tmpdir(), 'errand-secrets-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  const pwFile = path.join(dir, 'files-password');
  await writeFile(pwFile, `${S.filePassword}\n`);
  await writeFile(path.join(dir, '_connectors.yaml'), CONNECTORS.replace('__FILE__', pwFile));
  for (const [id, action] of Object.entries(ITEMS)) await writeFile(path.join(dir, `${id}.yaml`), item(id, action));
  env = {
    ...slackEnv(), ...teamsEnv(), SLACK_BOT_TOKEN: S.slackBotToken, SLACK_SIGNING_SECRET: S.slackSigningSecret, MICROSOFT_APP_PASSWORD: S.msAppPassword,
    API_KEYS: `${S.apiKey1},${S.apiKey2}`, METRICS_TOKEN: S.metricsToken, VAULT_ADDR: 'https://vault.test:8200', VAULT_TOKEN: S.vaultToken,
    CATALOGUE_DIR: dir, CONNECTORS_FILE: path.join(dir, '_connectors.yaml'), IDM_KEY: S.idmKey, HR_CLIENT_SECRET: S.oauthClientSecret, SCIM_TOKEN: S.scimToken,
    EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: '127.0.0.1', EMAIL_SMTP_PORT: String(sink.port), EMAIL_SMTP_USER: 'errand', EMAIL_SMTP_PASSWORD: S.smtpPassword,
    EMAIL_IMAP_HOST: '127.0.0.1', EMAIL_IMAP_PORT: '1', EMAIL_IMAP_SECURE: 'false', EMAIL_IMAP_USER: 'desk', EMAIL_IMAP_PASSWORD: S.imapPassword, EMAIL_IMAP_POLL_MS: '300',
    EMAIL_LISTEN_PORT: '0', EMAIL_LISTEN_USER: 'mta', EMAIL_LISTEN_PASSWORD: S.listenPassword, EMAIL_PUBLIC_URL: 'http://errand.test', EMAIL_NOTIFY: 'all',
    ALERT_RECIPIENTS: 'ada.admin@example.com',
  };
  t = await startTestApp({ env, app: { log: cap.log } });
}, 60000);
afterAll(async () => {
  await t?.close();
  sink?.server.close();
  restoreNet();
});

describe('a varied scenario, then a scan of everything that left', () => {
  beforeAll(async () => {
    // the REST API, with good and bad keys (one of them a near miss of a real key)
    for (const key of [S.apiKey1, S.apiKey2, 'wrong', S.apiKey1.slice(0, -1)]) {
      await http('/api/requests/REQ-000001', { headers: { authorization: `Bearer ${key}` } });
      await http('/api/requests', { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: '{"text": "I need VPN", "requester": "nobody@example.com"}' });
    }
    await http(`/admin/api/overview?actor=ada.admin@example.com`, { headers: { authorization: `Bearer ${S.apiKey2}` } });
    // /metrics without, with a wrong and with the right token
    for (const auth of [undefined, 'Bearer nope', `Bearer ${S.metricsToken}`, S.metricsToken]) await http('/metrics', auth ? { headers: { authorization: auth } } : {});
    // chat
    const body = JSON.stringify({ type: 'event_callback', event_id: 'EvSecrets1', event: dmEvent('UERIN', 'status') });
    const ts = Math.floor(Date.now() / 1000);
    const sig = `v0=${createHmac('sha256', S.slackSigningSecret).update(`v0:${ts}:${body}`).digest('hex')}`;
    expect((await http('/slack/events', { method: 'POST', headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sig }, body })).status).toBe(200);
    expect((await http('/slack/events', { method: 'POST', headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': 'v0=00' }, body })).status).toBe(401);
    expect((await teamsPost(t.base, message('29:mark', 'hi'))).status).toBe(200);
    // fulfilment against hostile backends: each request fails, the requester and on-call are told
    const refs: string[] = [];
    for (const id of Object.keys(ITEMS)) {
      const r = await http('/api/requests', { method: 'POST', headers: { authorization: `Bearer ${S.apiKey1}`, 'content-type': 'application/json' }, body: JSON.stringify({ item: id, requester: ERIN }) });
      expect({ id, status: r.status }).toEqual({ id, status: 201 });
      refs.push((JSON.parse(r.text) as { ref: string }).ref);
    }
    for (const ref of refs) {
      await eventually(async () => ['failed', 'rolled-back'].includes((await t.app.db.query('SELECT status FROM requests WHERE ref = $1', [ref])).rows[0]!.status), 30000, `${ref} failed`);
      await http(`/api/requests/${ref}`, { headers: { authorization: `Bearer ${S.apiKey1}` } });
    }
    // the synthetic check of idm has failed (its error is shown in /healthz)
    await t.app.synthetic.runDue();
    expect((await http('/healthz')).text).toMatch(/"idm":\{[^}]*"ok":false/);
    // e-mail: mail to our listener without and with wrong credentials; the IMAP server is down
    for (const auth of [undefined, { user: 'mta', pass: 'wrong-password' }]) {
      const tr = nodemailer.createTransport({ host: '127.0.0.1', port: t.app.email!.listener!.port, secure: false, ignoreTLS: true, ...(auth ? { auth } : {}), logger: false });
      await tr.sendMail({ from: ERIN, to: 'itdesk@example.com', subject: 'hi', text: 'I need VPN' }).catch((e: Error) => { errors.push(e.message); });
      tr.close();
    }
    await eventually(async () => cap.lines().some((l) => /imap/i.test(JSON.stringify(l)) && Number(l.level) >= 40), 20000, 'the IMAP failure logged');
    // and e-mail out, through the relay with its password
    await eventually(async () => sink.mails.length > 0, 20000, 'a mail sent through the relay');
    // configuration errors (they are printed at start-up)
    const bad: Record<string, string>[] = [
      { SLACK_BOT_TOKEN: `not-a-bot-token-${S.slackBotToken}`, SLACK_SIGNING_SECRET: S.slackSigningSecret },
      { METRICS_TOKEN: S.metricsToken.slice(0, 15) },
      { EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: 'x', EMAIL_LISTEN_PORT: '0', EMAIL_LISTEN_USER: 'mta', EMAIL_LISTEN_PASSWORD: S.listenPassword.slice(0, 7) },
      { DATABASE_URL: `postgres://errand:${S.dbPassword}@db host/errand` },
      { DATABASE_URL: `postgres://errand:${S.dbPassword}@db/errand`, VAULT_ADDR: 'https://vault.test' },
      { VAULT_ADDR: `https://root:${S.vaultToken}@vault .test` , VAULT_TOKEN: S.vaultToken },
      { MICROSOFT_APP_ID: 'x', MICROSOFT_APP_PASSWORD: S.msAppPassword, MICROSOFT_APP_TYPE: 'SingleTenant' },
      { EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: 'x', EMAIL_SMTP_USER: 'u', EMAIL_IMAP_HOST: 'h', EMAIL_IMAP_PASSWORD: S.imapPassword },
    ];
    for (const e of bad) {
      try { loadConfig(e); errors.push(`no error for ${Object.keys(e).join(',')}`); } catch (x) { errors.push((x as Error).message); }
    }
    // a connector secret Vault refuses (echoing its token) stops start-up: the message is printed
    const broken = path.join(dir, 'broken-connectors.yaml');
    await writeFile(broken, 'connectors:\n  okta:\n    type: http\n    config:\n      baseUrl: https://okta.test\n      auth: { type: apiKey, key: "vault:secret/data/errand/broken#key" }\n      operations:\n        ping: { method: POST, path: /ping }\n');
    const tdb = await createTestDb({ kind: 'auto', migrate: false });
    try {
      const app = await createApp({ config: loadConfig({ ...env, CONNECTORS_FILE: broken, CATALOGUE_DIR: path.join(PROJECT_ROOT, 'dialogs'), LOG_LEVEL: 'silent' }), db: tdb.db, log: cap.log });
      await app.stop();
      errors.push('started');
    } catch (e) {
      errors.push((e as Error).message);
    } finally {
      await tdb.drop();
    }
  }, 120000);

  it('logs no secret (every line at trace level, and whatever went to the console)', () => {
    expect(cap.lines().length).toBeGreaterThan(50);
    expect(scanForSecrets({ ...S, basic: BASIC }, { log: cap.text(), console: outbound.join('\n') })).toEqual([]);
  });

  it('answers no secret over HTTP (API errors, /metrics, /healthz with the failed check, request details)', () => {
    expect(responses.join('\n')).toMatch(/"error":"unauthorized"/);
    expect(scanForSecrets({ ...S, basic: BASIC }, { http: responses.join('\n\n') })).toEqual([]);
  });

  it('stores no secret (failures, audit, step errors, messages, cases, jobs: every table)', async () => {
    const tables = (await t.app.db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`)).rows.map((r) => r.t);
    const dump: Record<string, string> = {};
    for (const table of tables) dump[table] = (await t.app.db.query<{ x: string | null }>(`SELECT string_agg(r::text, E'\\n') AS x FROM "${table}" r`)).rows[0]!.x ?? '';
    // the failures are there, with the echoed credential masked whole (it straddled the excerpt's cut)
    expect(dump.fulfilment_failures).toMatch(/idm\.createUser: POST \/v1\/users answered 401: .*invalid credential \*\*\*/);
    expect(dump.fulfilment_failures).toMatch(/okta\.ping: POST \/ping answered 401: .*invalid credential \*\*\*/);
    expect(dump.fulfilment_failures).toMatch(/files\.put: POST \/files answered 401: .*invalid credential \*\*\*/);
    expect(dump.fulfilment_failures).toMatch(/hr\.sync: POST \/api\/sync answered 403: .*invalid credential Bearer \*\*\*/);
    expect(dump.fulfilment_failures).toMatch(/hrdown\.sync: OAuth2 token request .* answered 401: .*client_secret=\*\*\*/);
    expect(dump.fulfilment_failures).toMatch(/scimdir: GET \/Users answered 401: p+ token=Bearer \[redacted\]/);
    expect(scanForSecrets({ ...S, basic: BASIC }, dump)).toEqual([]);
  });

  it('says no secret in chat or e-mail (Slack and Teams calls, mails through the relay)', () => {
    // (the bot token goes to Slack's own API as its credential: that argument is not content)
    const chat = { slack: JSON.stringify(slack.map((c) => ({ ...c.args, token: c.method === 'auth.test' ? undefined : c.args.token }))), teams: JSON.stringify(teams.map((c) => c.body)), mail: sink.mails.join('\n') };
    expect(chat.slack.length + chat.teams.length + chat.mail.length).toBeGreaterThan(1000);
    expect(scanForSecrets({ ...S, basic: BASIC }, chat)).toEqual([]);
  });

  it('names the problem without the value in configuration and start-up errors', () => {
    expect(errors.some((e) => /SLACK_BOT_TOKEN: .*value hidden/.test(e))).toBe(true);
    expect(errors.some((e) => /DATABASE_URL/.test(e))).toBe(true);
    expect(errors.some((e) => /vault:secret\/data\/errand\/broken#key/.test(e))).toBe(true);
    expect(scanForSecrets({ ...S, basic: BASIC }, { errors: errors.join('\n') })).toEqual([]);
  });
});
