/**
 * Backend checks through the http connector (dialogs/_connectors.yaml): JSONata maps the answer to
 * pass / warn / fail with a message; a backend that is slow or down is handled per the check's
 * `onError` (fail-open: warn and continue; fail-closed: refuse with a clear message). Third-party HTTP
 * is faked with nock; the app, its database and the API are real.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { PROJECT_ROOT } from '../../../src/config.js';
import { isCheckFailure } from '../../../src/requests/checks/check-service.js';
import { onlyLoopback, restoreNet } from '../../support/net.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';
import { WebUser } from '../../support/web-client.js';

const CONNECTORS = `connectors:
  idm:
    type: http
    config:
      baseUrl: https://idm.test/v1
      auth: { type: apiKey, key: "env:IDM_KEY" }
      operations:
        clearance:
          method: GET
          path: /clearances/{{input.user}}
          query: { building: "{{input.building}}" }
`;

const item = (id: string, onError: string) => `id: ${id}
title: ${id === 'badge-access' ? 'Building badge' : 'Lab access'}
description: Access to a building, if security has cleared the person.
category: facilities
owner: { team: Facilities, contact: facilities@example.com }
responseTime: 1d
risk: low
fulfilment: automated
fields:
  - name: building
    type: choice
    prompt: Which building?
    options: [hq, lab]
  - name: reason
    type: text
    prompt: What for?
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "badge ordered" }
checks:
  - id: clearance
    label: security clearance
    kind: http
    action: idm.clearance
    inputs: { user: "{{requester.email}}", building: "{{fields.building}}" }
    result: >-
      body.cleared ? {"outcome": "pass"}
      : body.review ? {"outcome": "warn", "message": "Your clearance is under review, so the badge may take longer."}
      : {"outcome": "fail", "message": "Security has not cleared you for " & body.building & ": ask your manager to request a clearance first."}
    timeoutMs: 300
    onError: ${onError}
`;

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  const dir = await mkdtemp(path.join(tmpdir(), 'checks-http-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, '_connectors.yaml'), CONNECTORS);
  await writeFile(path.join(dir, 'badge-access.yaml'), item('badge-access', 'fail-open'));
  await writeFile(path.join(dir, 'lab-access.yaml'), item('lab-access', 'fail-closed'));
  t = await startTestApp({ env: { CATALOGUE_DIR: dir, CONNECTORS_FILE: path.join(dir, '_connectors.yaml'), IDM_KEY: 'idm-key-123' }, app: { breaker: { windowSize: 50, minCalls: 50 } } });
});
afterAll(async () => { await t?.close(); restoreNet(); });
afterEach(() => nock.cleanAll());

const idm = (building: string) => nock('https://idm.test', { reqheaders: { 'x-api-key': 'idm-key-123' } }).get('/v1/clearances/erin.employee%40example.com').query({ building });
const submit = (itemId: string, building: string) => t.app.requests.submit({ item: t.app.catalogue.get(itemId)!, requesterEmail: 'erin.employee@example.com', channel: 'test', answers: { building, reason: 'New desk in the building' } });
const count = async () => (await t.app.db.query('SELECT count(*)::int AS n FROM requests')).rows[0]!.n as number;
const refusal = async (p: Promise<unknown>) => p.then(() => { throw new Error('expected a refusal'); }, (e: unknown) => { if (!isCheckFailure(e)) throw e; return e; });
const events = async (id: string) => (await t.app.db.query(`SELECT kind, reason, detail FROM request_events WHERE request_id = $1 AND kind LIKE 'check.%' ORDER BY id`, [id])).rows;

it('passes when the backend says so, and records it', async () => {
  const scope = idm('hq').reply(200, { cleared: true, building: 'hq' });
  const { request } = await submit('badge-access', 'hq');
  expect(scope.isDone()).toBe(true);
  expect(await events(request.id)).toEqual([{ kind: 'check.passed', reason: 'security clearance: passed', detail: { check: 'clearance', kind: 'http', field: 'building', action: 'idm.clearance' } }]);
});

it('refuses with the backend\'s message when it says no, storing nothing but the audited attempt', async () => {
  idm('lab').reply(200, { cleared: false, building: 'lab' });
  const before = await count();
  const e = await refusal(submit('badge-access', 'lab'));
  expect(e.message).toBe('This request can\'t go ahead: Security has not cleared you for lab: ask your manager to request a clearance first.');
  expect(e.details.errors).toEqual([{ field: 'building', message: 'Security has not cleared you for lab: ask your manager to request a clearance first.' }]);
  expect(await count()).toBe(before);
  const audited = (await t.app.db.query(`SELECT detail FROM audit_log WHERE action = 'request.refused' AND subject = 'badge-access' ORDER BY id DESC LIMIT 1`)).rows[0]!.detail;
  expect(audited).toMatchObject({ rule: 'checks', failed: ['clearance'], results: [{ check: 'clearance', outcome: 'fail' }] });
});

it('warns and continues when the backend warns; the requester is told', async () => {
  idm('hq').reply(200, { cleared: false, review: true, building: 'hq' });
  const { request } = await submit('badge-access', 'hq');
  expect((await events(request.id)).map((x) => `${x.kind}: ${x.reason}`)).toEqual(['check.warned: Your clearance is under review, so the badge may take longer.']);
  const told = (await t.app.db.query(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`${request.id}:check:clearance`])).rows[0]!.text;
  expect(told).toBe(`${request.ref}: please note: Your clearance is under review, so the badge may take longer.`);
});

describe('a backend that does not answer in time', () => {
  it('fail-open: warns and the request continues', async () => {
    idm('hq').delay(3000).reply(200, { cleared: true });
    const { request, created } = await submit('badge-access', 'hq');
    expect(created).toBe(true);
    const [ev] = await events(request.id);
    expect(ev!.kind).toBe('check.warned');
    expect(ev!.reason).toBe('I couldn\'t run the security clearance check right now (the system did not answer), so your request continues and IT will check it.');
    expect(ev!.detail).toMatchObject({ onError: 'fail-open', action: 'idm.clearance' });
  });

  it('fail-closed: refuses with a clear message, nothing stored', async () => {
    idm('hq').delay(3000).reply(200, { cleared: true });
    const before = await count();
    const e = await refusal(submit('lab-access', 'hq'));
    expect(e.message).toBe('This request can\'t go ahead: I couldn\'t run the security clearance check right now (the system did not answer), so the request can\'t be submitted yet. Please try again in a few minutes.');
    expect(await count()).toBe(before);
    const audited = (await t.app.db.query(`SELECT detail FROM audit_log WHERE action = 'request.refused' AND subject = 'lab-access' ORDER BY id DESC LIMIT 1`)).rows[0]!.detail;
    expect(audited.results[0].detail).toMatchObject({ onError: 'fail-closed', error: expect.stringMatching(/no answer within 300 ms|aborted|timed out/) });
  });
});

describe('a backend that is down (5xx)', () => {
  it('fail-open warns, fail-closed refuses; over the REST API too', async () => {
    idm('hq').reply(503, 'maintenance');
    const open = await submit('badge-access', 'hq');
    expect((await events(open.request.id))[0]!.kind).toBe('check.warned');

    idm('hq').reply(500, 'boom');
    const r = await fetch(`${t.base}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
      body: JSON.stringify({ item: 'lab-access', requester: 'erin.employee@example.com', fields: { building: 'hq', reason: 'New desk in the building' } }) });
    expect(r.status).toBe(400);
    const body = await r.json();
    expect(body.message).toMatch(/couldn't run the security clearance check right now/);
    expect(body.fields).toEqual([{ path: 'fields.checks.clearance', message: expect.stringMatching(/try again in a few minutes/) }]);
  });
});

it('runs in the dialog as soon as the building is given: a refusal asks again', async () => {
  idm('lab').reply(200, { cleared: false, building: 'lab' });
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  await erin.click('start:lab-access');
  let m = await erin.click('answer', 'lab');
  expect(m.at(-1)!.kind).toBe('error');
  expect(m.at(-1)!.text).toBe('Security has not cleared you for lab: ask your manager to request a clearance first.\nWhich building?');
  idm('hq').reply(200, { cleared: true, building: 'hq' });
  m = await erin.click('answer', 'hq');
  expect(m.at(-1)!.text).toMatch(/What for\?/);
  await erin.say('cancel');
});
