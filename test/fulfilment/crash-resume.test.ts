/**
 * Kill -9 a worker process in the middle of a workflow, start another, and check that the
 * request finishes with no completed step repeated and the interrupted step retried with the
 * same idempotency key. Runs on PostgreSQL when TEST_DATABASE_URL is set, else on a PGlite data
 * folder on disk (which then also goes through PGlite's crash recovery).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, PROJECT_ROOT } from '../../src/config.js';
import { createTestDb, serverUrl, type TestDb } from '../support/test-db.js';
import { eventually } from '../support/test-app.js';

const item = (url: string) => `id: crash-test
title: Crash test item
description: Five steps, one of them a slow backend call.
category: test
owner: { team: QA, contact: qa@example.com }
responseTime: 1h
risk: low
fulfilment: automated
workflow:
  - id: grant-a
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: crash-a }
  - id: tell-1
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} first step done" }
  - id: backend
    action: http.request
    inputs: { method: POST, url: "${url}/accounts", body: { user: "{{requester.email}}", ref: "{{request.ref}}" } }
  - id: grant-b
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: crash-b }
  - id: tell-2
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} backend said {{steps.backend.status}}" }
`;

let server: Server;
const calls: { key: string; body: string }[] = [];
let hang = true;
let firstCall!: () => void;
const firstCallSeen = new Promise<void>((r) => { firstCall = r; });
let tdb: TestDb | undefined;
let child: ChildProcess | undefined;
let app: App | undefined;

afterAll(async () => {
  child?.kill('SIGKILL');
  await app?.stop();
  server?.closeAllConnections();
  server?.close();
  await tdb?.drop();
});

it('resumes a killed fulfilment without repeating completed steps', async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      calls.push({ key: String(req.headers['idempotency-key']), body });
      if (hang) { firstCall(); return; } // never answer: the worker dies waiting
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"acct-1"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const dialogs = await mkdtemp(path.join(tmpdir(), 'crash-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dialogs, { recursive: true });
  await writeFile(path.join(dialogs, 'crash-test.yaml'), item(url));
  const env: Record<string, string> = { CATALOGUE_DIR: dialogs, LOG_LEVEL: 'silent', JOB_LOCK_LIFETIME_MS: '3000', JOB_PROCESS_EVERY_MS: '300' };
  if (serverUrl()) {
    tdb = await createTestDb({ migrate: false });
    env.DATABASE_URL = tdb.url!;
  } else {
    env.DATA_DIR = await mkdtemp(path.join(tmpdir(), 'crash-data-'));
  }

  // 1. submit (no approval needed: the job is enqueued), then close this process's app
  app = await createApp({ config: loadConfig(env) });
  const { request } = await app.requests.submit({ item: app.catalogue.get('crash-test')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' });
  expect(request.status).toBe('approved');
  await app.stop();
  app = undefined;

  // 2. a worker process picks the job up and is killed while the backend call hangs
  child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'test/support/crash-worker.ts')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let childErr = '';
  child.stderr!.on('data', (c) => { childErr += String(c); });
  child.stdout!.resume();
  const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`worker exited (${code}) before calling the backend:\n${childErr}`))));
  exited.catch(() => undefined); // our own kill below also ends it
  await Promise.race([firstCallSeen, exited]);
  child.kill('SIGKILL');
  await new Promise((r) => child!.once('exit', r));
  child = undefined;

  // 3. a new instance resumes once the dead worker's lock has expired
  hang = false;
  app = await createApp({ config: loadConfig(env), workerName: 'resumer', retryDelayMs: 200 });
  const db = app.db;
  const mid = (await db.query('SELECT step_id, status, attempts FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index', [request.id])).rows;
  expect(mid.slice(0, 3)).toEqual([
    { step_id: 'grant-a', status: 'done', attempts: 1 },
    { step_id: 'tell-1', status: 'done', attempts: 1 },
    { step_id: 'backend', status: 'running', attempts: 1 },
  ]);
  await app.start();
  await eventually(async () => (await db.query('SELECT status FROM requests WHERE id = $1', [request.id])).rows[0]!.status === 'fulfilled', 40000, 'resumed fulfilment');

  const steps = (await db.query('SELECT step_id, status, attempts FROM fulfilment_steps WHERE request_id = $1 ORDER BY step_index', [request.id])).rows;
  expect(steps).toEqual([
    { step_id: 'grant-a', status: 'done', attempts: 1 },
    { step_id: 'tell-1', status: 'done', attempts: 1 },
    { step_id: 'backend', status: 'done', attempts: 2 },
    { step_id: 'grant-b', status: 'done', attempts: 1 },
    { step_id: 'tell-2', status: 'done', attempts: 1 },
  ]);
  // the interrupted call was repeated with the same idempotency key, so the backend can drop it
  expect(calls.length).toBe(2);
  expect(calls[0]!.key).toBe(`${request.id}:backend`);
  expect(calls[1]!.key).toBe(calls[0]!.key);
  const notes = (await db.query(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'erin.employee@example.com' AND body->>'text' LIKE $1`, [`${request.ref}%`])).rows.map((r) => r.text);
  expect(notes.filter((x) => x.endsWith('first step done'))).toHaveLength(1);
  expect(notes).toContain(`${request.ref} backend said 201`);
  const groups = (await db.query(`SELECT group_name FROM group_memberships WHERE person_email = 'erin.employee@example.com' AND group_name LIKE 'crash-%' ORDER BY 1`)).rows;
  expect(groups).toEqual([{ group_name: 'crash-a' }, { group_name: 'crash-b' }]);
  const kinds = (await db.query('SELECT kind FROM request_events WHERE request_id = $1', [request.id])).rows.map((r) => r.kind);
  expect(kinds).toContain('fulfilment.resumed');
}, 120000);
