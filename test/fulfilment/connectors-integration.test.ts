/**
 * Connectors configured in dialogs/_connectors.yaml, used by a catalogue workflow through the
 * engine (secret from env:, JSONata mapping, rate limit), validated with the catalogue, and
 * watched by synthetic checks that show in /healthz and alert the on-call people.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { checkCatalogueDir } from '../../src/catalogue/loader.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { loadConnectors, ConnectorConfigError } from '../../src/fulfilment/connectors/registry.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';

const CONNECTORS = `connectors:
  idm:
    type: http
    config:
      baseUrl: https://idm.test/v1
      auth: { type: apiKey, key: "env:IDM_KEY" }
      healthPath: /health
      operations:
        createUser:
          method: POST
          path: /users
          body: '{"login": input.email, "dept": input.department}'
          response: '{"userId": body.id}'
    rateLimit: { ratePerSecond: 50, burst: 5 }
    retry: { maxAttempts: 2, backoffMs: 50 }
    synthetic: { everySeconds: 5 }
`;
const ITEM = `id: conn-item
title: Connector test
description: Creates a user through the idm connector.
category: test
owner: { team: QA, contact: qa@example.com }
responseTime: 1h
risk: low
fulfilment: automated
workflow:
  - id: create
    action: idm.createUser
    inputs: { email: "{{requester.email}}", department: "{{requester.department}}" }
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} user {{steps.create.userId}}" }
`;

let t: TestApp;
let dir: string;
beforeAll(async () => {
  onlyLoopback();
  dir = await mkdtemp(path.join(tmpdir(), 'conn-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, '_connectors.yaml'), CONNECTORS);
  await writeFile(path.join(dir, 'conn-item.yaml'), ITEM);
  t = await startTestApp({ env: { CATALOGUE_DIR: dir, CONNECTORS_FILE: path.join(dir, '_connectors.yaml'), IDM_KEY: 'idm-secret-123', ALERT_RECIPIENTS: 'ada.admin@example.com' } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

it('runs a workflow step through a configured connector with its secret, mapping and idempotency key', async () => {
  let seen: { headers: Record<string, unknown>; body: unknown } | undefined;
  nock('https://idm.test').post('/v1/users').reply(function (_u, body) { seen = { headers: this.req.headers, body }; return [201, { id: 'u-77' }]; });
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('conn-item')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' });
  await eventually(async () => (await t.app.db.query('SELECT status FROM requests WHERE id = $1', [request.id])).rows[0]!.status === 'fulfilled', 20000, 'fulfilled');
  expect(seen!.headers['x-api-key']).toBe('idm-secret-123');
  expect(seen!.headers['idempotency-key']).toBe(`${request.id}:create`);
  expect(seen!.body).toEqual({ login: 'erin.employee@example.com', dept: 'Finance' });
  const msg = await t.app.db.query(`SELECT body->>'text' AS text FROM messages WHERE idempotency_key = $1`, [`${request.id}:tell`]);
  expect(msg.rows[0]!.text).toBe(`${request.ref} user u-77`);
  const audit = await t.app.db.query(`SELECT detail FROM audit_log WHERE subject = $1 AND action = 'step.started'`, [request.ref]);
  expect(audit.rows[0]!.detail.backend).toBe('idm');
  expect(JSON.stringify(audit.rows)).not.toContain('idm-secret-123');
});

it('validates catalogue actions against the configured connector operations', async () => {
  await writeFile(path.join(dir, 'conn-bad.yaml'), ITEM.replace('id: conn-item', 'id: conn-bad').replace('idm.createUser', 'idm.deleteUser'));
  const ops = (await loadConnectors(path.join(dir, '_connectors.yaml'), async () => 'x')).operations;
  const { errors } = await checkCatalogueDir(dir, ops);
  expect(errors).toEqual([expect.objectContaining({ file: 'conn-bad.yaml', path: 'workflow[0].action', message: expect.stringContaining('unknown action "idm.deleteUser"') })]);
  await writeFile(path.join(dir, 'bad-connectors.yaml'), CONNECTORS.replace('"env:IDM_KEY"', 'plain-text-key').replace('type: http', 'type: http\n    colour: blue'));
  await expect(loadConnectors(path.join(dir, 'bad-connectors.yaml'), async () => 'x')).rejects.toBeInstanceOf(ConnectorConfigError);
  await expect(loadConnectors(path.join(dir, 'bad-connectors.yaml'), async () => 'x')).rejects.toThrow(/connectors\.idm/);
});

it('runs synthetic checks, shows backend health in /healthz and alerts on-call on failure and recovery', async () => {
  nock('https://idm.test').get('/v1/health').reply(503, 'maintenance');
  expect(await t.app.synthetic.runDue(true)).toEqual(['idm']);
  const h1 = await (await fetch(`${t.base}/healthz`)).json();
  expect(h1.status).toBe('ok'); // a failing backend is reported, it does not make errand unhealthy
  expect(h1.backends.idm).toMatchObject({ ok: false, breaker: 'closed' });
  nock('https://idm.test').get('/v1/health').reply(200, { ok: true });
  await t.app.synthetic.runDue(true);
  const h2 = await (await fetch(`${t.base}/healthz`)).json();
  expect(h2.backends.idm.ok).toBe(true);
  const alerts = (await t.app.db.query(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'ada.admin@example.com' AND body->>'text' LIKE '%backend "idm"%' ORDER BY id`)).rows.map((r) => r.text);
  expect(alerts).toEqual([expect.stringMatching(/^Alert: backend "idm" fails its synthetic check/), expect.stringMatching(/^Resolved: backend "idm"/)]);
  const trail = (await t.app.db.query(`SELECT action FROM audit_log WHERE subject = 'idm' ORDER BY id`)).rows.map((r) => r.action);
  expect(trail).toEqual(expect.arrayContaining(['backend.failing', 'backend.healthy']));
});
