/**
 * Root-cause categories: assigned from the real error classes (unit), stored with each failure by
 * the fulfilment engine (through the app, backends faked with nock), and changed by a fulfiller over
 * the admin API: authorised server-side, audited; anyone else is refused.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BrokenCircuitError, TaskCancelledError, timeout, TimeoutStrategy } from 'cockatiel';
import { NoSuchObjectError, InvalidCredentialsError } from 'ldapts';
import nock from 'nock';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import { ActionError } from '../../src/fulfilment/action.port.js';
import { parseInput } from '../../src/fulfilment/actions/parse-input.js';
import { ConnectorError } from '../../src/fulfilment/connectors/connector.port.js';
import { compileMapping, evaluate } from '../../src/fulfilment/connectors/http/http.mapping.js';
import { toConnectorError } from '../../src/fulfilment/connectors/ldap/ldap.errors.js';
import { categorise, errorSignature } from '../../src/reporting/rca.js';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

describe('categorise', () => {
  const thrown = async (fn: () => unknown): Promise<unknown> => { try { await fn(); } catch (e) { return e; } throw new Error('did not throw'); };

  it('puts backends that are down, slow or refusing our credentials under system', async () => {
    expect(categorise(new BrokenCircuitError())).toMatchObject({ category: 'system', errorClass: 'BrokenCircuitError' });
    const slow = await thrown(() => timeout(5, TimeoutStrategy.Aggressive).execute(() => new Promise((r) => setTimeout(r, 200))));
    expect(slow).toBeInstanceOf(TaskCancelledError);
    expect(categorise(slow)).toMatchObject({ category: 'system', reason: 'the step timed out' });
    expect(categorise(new ConnectorError('scim: POST /Users answered 503', true, undefined, 503))).toMatchObject({ category: 'system', status: 503 });
    expect(categorise(new ActionError('POST https://hr.test/x answered 429: slow down', true))).toMatchObject({ category: 'system', status: 429 });
    expect(categorise(new ConnectorError('scim: answered 401', false, undefined, 401))).toMatchObject({ category: 'system', status: 401 });
    expect(categorise(toConnectorError(new InvalidCredentialsError('bad'), 'dir', 'bind'))).toMatchObject({ category: 'system', status: 49 });
    expect(categorise(new ActionError('POST https://x.test/y: fetch failed: ECONNREFUSED', true))).toMatchObject({ category: 'system' });
  });

  it("puts the request's data under user", async () => {
    expect(categorise(new ConnectorError('hr: POST /users answered 422: department unknown', false, undefined, 422))).toMatchObject({ category: 'user', status: 422 });
    const ldap = toConnectorError(new NoSuchObjectError('no such entry'), 'dir', 'adding x to group y');
    expect(categorise(ldap)).toMatchObject({ category: 'user', status: 32, errorClass: 'ConnectorError' });
    const invalid = await thrown(() => parseInput('directory.addToGroup', { person: 'not-an-email' }, z.object({ person: z.string().email() })));
    expect(categorise(invalid)).toMatchObject({ category: 'user', errorClass: 'ActionError' });
    expect(categorise(new AppError('INELIGIBLE', 'no longer eligible'))).toMatchObject({ category: 'user' });
    expect(categorise('no longer eligible: only Finance')).toMatchObject({ category: 'user', errorClass: 'message' });
  });

  it('puts definitions that cannot work under process', async () => {
    const mapping = await thrown(() => evaluate(compileMapping('hr', 'create', 'body', '$error("no mapping for this department")'), { input: {} }));
    expect(categorise(mapping)).toMatchObject({ category: 'process', errorClass: 'MappingError' });
    // the http connector wraps mapping errors in a status-less ConnectorError: the message tells
    expect(categorise(new ConnectorError('hr.create: body mapping failed: D3137 no mapping', false))).toMatchObject({ category: 'process' });
    expect(categorise(new ActionError('no action or connector operation named hr.nope', false))).toMatchObject({ category: 'process' });
    expect(categorise(new TypeError("Cannot read properties of undefined (reading 'id')"))).toMatchObject({ category: 'process', errorClass: 'TypeError' });
    expect(categorise('complete-failed by fred@example.com: printer gone')).toMatchObject({ category: 'process' });
  });

  it('normalises messages to signatures without numbers, ids, uuids, e-mails or quoted values', () => {
    const a = errorSignature('POST https://hr.test/users/12345?x=1 answered 503 for REQ-000042 (3f2a1b7c-9d4e-4f5a-8b6c-0d1e2f3a4b5c), user "ann@example.com" after 3 attempts');
    const b = errorSignature('POST https://hr.test/users/999?x=2 answered 503 for REQ-000777 (00000000-1111-2222-3333-444444444444), user "bob@example.com" after 2 attempts');
    expect(a).toBe(b);
    expect(a).toBe('POST https://hr.test/users/<n>?<query> answered <n> for <REQ> (<uuid>), user "<v>" after <n> attempts');
    expect(errorSignature('object a1b2c3d4e5f6 deleted')).toBe('object <id> deleted');
  });
});

const head = (id: string) => `id: ${id}
title: ${id}
description: RCA test item.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1h
risk: low
fulfilment: automated
workflow:
`;
const ITEMS: Record<string, string> = {
  'rca-system': `${head('rca-system')}  - id: call
    action: http.request
    retry: { maxAttempts: 2, backoffMs: 50 }
    inputs: { method: POST, url: "https://down.test/x" }
`,
  'rca-user': `${head('rca-user')}  - id: call
    action: http.request
    inputs: { method: POST, url: "https://strict.test/x", body: { dept: "{{requester.department}}" } }
`,
  'rca-process': `${head('rca-process')}  - id: create
    action: hr.createUser
    inputs: { email: "{{requester.email}}" }
`,
  'rca-manual': `${head('rca-manual')}  - id: provision
    action: http.request
    manual: allowed
    retry: { maxAttempts: 1, backoffMs: 50 }
    inputs: { method: POST, url: "https://busy.test/x" }
`,
};
const CONNECTORS = `connectors:
  hr:
    type: http
    config:
      baseUrl: https://hr.test/v1
      operations:
        createUser:
          method: POST
          path: /users
          body: '$error("no mapping for this department")'
`;

describe('failures through the engine, and the fulfiller changing a category', () => {
  let t: TestApp;
  const auth = { authorization: 'Bearer test-key', 'content-type': 'application/json' };
  beforeAll(async () => {
    onlyLoopback();
    const dir = await mkdtemp(path.join(tmpdir(), 'rca-cat-'));
    await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
    for (const [id, text] of Object.entries(ITEMS)) await writeFile(path.join(dir, `${id}.yaml`), text);
    await writeFile(path.join(dir, '_connectors.yaml'), CONNECTORS);
    nock('https://down.test').persist().post('/x').reply(503, 'maintenance');
    nock('https://strict.test').persist().post('/x').reply(422, { error: 'department Finance is not provisioned' });
    nock('https://busy.test').persist().post('/x').reply(503, 'busy');
    t = await startTestApp({ env: { CATALOGUE_DIR: dir, CONNECTORS_FILE: path.join(dir, '_connectors.yaml') } });
  });
  afterAll(async () => {
    await t?.close();
    restoreNet();
  });

  const failureOf = (item: string) => eventually(async () => (await t.app.db.query(`SELECT * FROM fulfilment_failures WHERE item_id = $1`, [item])).rows[0], 20000, `failure of ${item}`);

  it('stores each failure with its category, reason, class and status', async () => {
    for (const id of Object.keys(ITEMS)) await t.app.requests.submit({ item: t.app.catalogue.get(id)!, requesterEmail: 'erin.employee@example.com', channel: 'test', answers: {} });
    expect(await failureOf('rca-system')).toMatchObject({ step_id: 'call', outcome: 'failed', category: 'system', auto_category: 'system', category_source: 'auto', error_class: 'ActionError', status_code: 503, attempt: 2 });
    expect(await failureOf('rca-user')).toMatchObject({ step_id: 'call', outcome: 'failed', category: 'user', status_code: 422, category_reason: "the backend refused the request's data (422)" });
    expect(await failureOf('rca-process')).toMatchObject({ step_id: 'create', action: 'hr.createUser', outcome: 'failed', category: 'process', error_class: 'ConnectorError', status_code: null });
    expect((await failureOf('rca-process')).error).toMatch(/body mapping failed/);
    expect(await failureOf('rca-manual')).toMatchObject({ step_id: 'provision', outcome: 'manual', category: 'system', status_code: 503 });
    // one row per terminal failure, even though the engine saw the failed step twice (run + compensation)
    await eventually(async () => (await t.app.db.query(`SELECT status FROM requests WHERE item_id = 'rca-system'`)).rows[0]?.status === 'failed', 20000, 'failed');
    expect((await t.app.db.query(`SELECT count(*)::int AS n FROM fulfilment_failures WHERE item_id = 'rca-system'`)).rows[0]!.n).toBe(1);
  });

  it('lets a fulfiller change a category (audited) and refuses everyone else', async () => {
    const f = await failureOf('rca-user');
    const patch = (id: unknown, body: Record<string, unknown>) => fetch(`${t.base}/admin/api/failures/${id}/category`, { method: 'PATCH', headers: auth, body: JSON.stringify(body) });

    const refused = await patch(f.id, { actor: 'erin.employee@example.com', category: 'process', reason: 'I think so' });
    expect(refused.status).toBe(403);
    expect((await t.app.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'failure.category-refused' AND actor = 'erin.employee@example.com'`)).rows[0]!.n).toBe(1);
    expect((await t.app.db.query(`SELECT category FROM fulfilment_failures WHERE id = $1`, [f.id])).rows[0]!.category).toBe('user');

    expect((await fetch(`${t.base}/admin/api/failures/${f.id}/category`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ actor: 'fred.fulfiller@example.com', category: 'process' }) })).status).toBe(401);
    expect((await patch(f.id, { actor: 'fred.fulfiller@example.com', category: 'human' })).status).toBe(400);
    expect((await patch('abc', { actor: 'fred.fulfiller@example.com', category: 'process' })).status).toBe(400);
    expect((await patch(999999, { actor: 'fred.fulfiller@example.com', category: 'process' })).status).toBe(404);

    const ok = await patch(f.id, { actor: 'fred.fulfiller@example.com', category: 'process', reason: 'the workflow sends the department, the backend wants a cost centre' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: Number(f.id), category: 'process', previous: 'user', changedBy: 'fred.fulfiller@example.com', reason: 'the workflow sends the department, the backend wants a cost centre' });
    expect((await t.app.db.query(`SELECT category, auto_category, category_source, categorised_by FROM fulfilment_failures WHERE id = $1`, [f.id])).rows[0])
      .toEqual({ category: 'process', auto_category: 'user', category_source: 'fulfiller', categorised_by: 'fred.fulfiller@example.com' });
    const trail = (await t.app.db.query(`SELECT actor, detail FROM audit_log WHERE action = 'failure.categorised'`)).rows;
    expect(trail).toEqual([{ actor: 'fred.fulfiller@example.com', detail: expect.objectContaining({ failure: Number(f.id), from: 'user', to: 'process' }) }]);

    // the fulfiller sees the failures (with the new category); the requester does not
    const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
    const url = (actor: string) => `${t.base}/admin/api/failures?actor=${actor}&from=${day(-1)}&to=${day(2)}`;
    const seen = await (await fetch(url('fred.fulfiller@example.com'), { headers: auth })).json();
    expect(seen.byCategory).toEqual({ process: 2, system: 2, user: 0 });
    expect(seen.recent.find((x: { id: number }) => x.id === Number(f.id))).toMatchObject({ category: 'process', autoCategory: 'user', source: 'fulfiller' });
    expect((await fetch(url('erin.employee@example.com'), { headers: auth })).status).toBe(403);
  });
});
