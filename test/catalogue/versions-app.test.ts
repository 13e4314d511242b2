/**
 * Catalogue versions through the real app: dialogs/ becomes version 1 at the first start; a request
 * keeps the version it started on to the end (web chat → approval → job runner) while a publish
 * changes fields, approvals and workflow for new requests; runbooks (`exceptions:`) show on manual
 * tasks, in triage and in the API for fulfillers; the admin API rolls back (a new version, audited);
 * a folder that differs from the database is reported, not served (CATALOGUE_SOURCE=folder lets it win).
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createApp } from '../../src/app.js';
import { loadConfig, PROJECT_ROOT } from '../../src/config.js';
import { runCatalogueCommand } from '../../src/cli/catalogue-commands.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser, type WebMessage } from '../support/web-client.js';

const head = (id: string, title: string) => `id: ${id}
title: ${title}
description: Catalogue version test item.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1d
risk: low
fulfilment: automated
`;
const PIN_V1 = `${head('pin-test', 'Pin test')}fields:
  - name: colour
    type: choice
    label: Colour
    prompt: Which colour?
    options: [red, blue]
approvals:
  - id: manager
    label: Line manager
    approver: { kind: manager }
workflow:
  - id: grant-v1
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: "pin-v1-{{fields.colour}}" }
`;
const PIN_V2 = `${head('pin-test', 'Pin test')}fields:
  - name: colour
    type: choice
    label: Colour
    prompt: Which colour (new palette)?
    options: [red, green]
  - name: reason
    type: text
    label: Reason
    prompt: Why do you need it?
approvals:
  - id: manager
    label: Line manager
    approver: { kind: manager }
  - id: security
    label: Security
    approver: { kind: role, role: security }
workflow:
  - id: grant-v2
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: "pin-v2-{{fields.colour}}" }
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} v2 done" }
`;
const runbookItem = (url: string) => `${head('runbook-test', 'Runbook test')}workflow:
  - id: provision
    label: Provision the account
    action: http.request
    manual: allowed
    retry: { maxAttempts: 1 }
    inputs: { method: POST, url: "${url}" }
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} provisioned" }
exceptions:
  - title: Everything else
    symptom: anything not covered below
    steps: [Call the owner]
  - title: Provisioning API down
    symptom: the provisioning API refuses connections or answers 5xx
    steps: [Open the admin console, Create the account by hand, Mark the task done]
    link: https://wiki.example.com/runbooks/provisioning
    appliesTo: [provision]
  - title: Notification bounced
    symptom: the requester did not get the message
    steps: [Tell them in person]
    appliesTo: [tell]
`;

let t: TestApp;
let dir: string;
const tmps: string[] = [];
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const refOf = (m: WebMessage[]) => /REQ-\d{6}/.exec(m.map((x) => x.text).join(' '))![0];
const requestRow = async (ref: string) => (await q('SELECT id, status, catalogue_version, fields, item_snapshot FROM requests WHERE ref = $1', [ref]))[0]!;
const stepsOf = async (ref: string) => (await q('SELECT s.step_id FROM fulfilment_steps s JOIN requests r ON r.id = s.request_id WHERE r.ref = $1 ORDER BY s.step_index', [ref])).map((r) => r.step_id);
const api = (p: string, init: RequestInit = {}) => fetch(`${t.base}${p}`, { ...init, headers: { authorization: 'Bearer test-key', 'content-type': 'application/json', ...(init.headers ?? {}) } });
async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/provision`;
}
async function approve(user: WebUser, ref: string): Promise<void> {
  const card = (await user.all()).find((x) => x.kind === 'approval' && x.text.includes(ref));
  if (!card) throw new Error(`${user.email} has no approval card for ${ref}`);
  await user.click(card.buttons!.find((b) => b.id.endsWith(':approve'))!.id);
}
/** A catalogue root (dialogs/ + intents/) like `dir`, with `files` written into dialogs/. */
async function root(files: Record<string, string>): Promise<string> {
  const r = await mkdtemp(path.join(tmpdir(), 'ver-root-'));
  tmps.push(r);
  await cp(dir, path.join(r, 'dialogs'), { recursive: true });
  await cp(path.join(PROJECT_ROOT, 'intents'), path.join(r, 'intents'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(r, 'dialogs', name), text);
  return r;
}
async function cli(sub: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCatalogueCommand(sub, args, {
    stdout: new Writable({ write(c, _e, cb) { out += String(c); cb(); } }), stderr: new Writable({ write(c, _e, cb) { err += String(c); cb(); } }),
    db: t.app.db, config: t.app.config,
  });
  return { code, out, err };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ver-cat-'));
  tmps.push(dir);
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, 'pin-test.yaml'), PIN_V1);
  await writeFile(path.join(dir, 'runbook-test.yaml'), runbookItem(await closedPortUrl()));
  // this suite publishes directly; change control has its own suites (test/catalogue/change*.test.ts)
  t = await startTestApp({ env: { CATALOGUE_DIR: dir }, app: { catalogueRefreshMs: 200, changeControl: false } });
});
afterAll(async () => {
  await t?.close();
  for (const d of tmps) await rm(d, { recursive: true, force: true });
});

it('imports the folder as version 1 at the first start', async () => {
  const list = await t.app.catalogueVersions.store.list();
  expect(list).toEqual([expect.objectContaining({ number: 1, status: 'published', author: 'system', reason: 'initial import', itemCount: 19 })]);
  expect(t.app.catalogueVersions.live.currentVersion()).toBe(1);
  const [a] = await q(`SELECT actor, detail FROM audit_log WHERE action = 'catalogue.published' AND subject = 'catalogue:v1'`);
  expect(a).toMatchObject({ actor: 'system', detail: { version: 1, reason: 'initial import', items: 19 } });
});

it('keeps in-flight requests and dialogs on their version after a publish that changes fields, approvals and workflow', async () => {
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const tara = new WebUser(t.base, 'tara.triage@example.com');
  const fred = new WebUser(t.base, 'fred.fulfiller@example.com');
  const mark = new WebUser(t.base, 'mark.manager@example.com');
  const ivan = new WebUser(t.base, 'ivan.itlead@example.com');
  const sam = new WebUser(t.base, 'sam.security@example.com');

  // 1. Erin submits on v1: waiting for her manager
  let m = await erin.click('start:pin-test');
  expect(m.at(-1)!.text).toMatch(/Which colour\?$/);
  m = await erin.click('answer', 'blue');
  expect(m.at(-1)!.kind).toBe('summary');
  const erinRef = refOf(await erin.click('dialog:confirm'));
  expect(await requestRow(erinRef)).toMatchObject({ status: 'awaiting-approval', catalogue_version: 1 });

  // 2. Tara starts a dialog on v1 and leaves it half-way
  m = await tara.click('start:pin-test');
  expect(m.at(-1)!.choices!.options.map((o) => o.value)).toEqual(['red', 'blue']);

  // 3. v2 is imported and published from the CLI (another process, as far as the app knows)
  const v2root = await root({ 'pin-test.yaml': PIN_V2 });
  const imp = await cli('import', v2root, '--reason', 'new palette, security sign-off', '--author', 'ada.admin@example.com');
  expect(imp.code).toBe(0);
  expect(imp.out).toMatch(/draft v2 created/);
  expect(imp.out).toMatch(/~ pin-test \(Pin test\)\n {4}fields: \+reason \(text, required\); colour: options \+green -blue, prompt "Which colour\?" → "Which colour \(new palette\)\?"\n {4}approvals: \+security \(role security\); 1 → 2 steps\n {4}workflow: \+grant-v2 \(directory.addToGroup\); \+tell \(notify\); -grant-v1 \(directory.addToGroup\)/);
  expect(t.app.catalogueVersions.live.currentVersion()).toBe(1); // a draft changes nothing
  const pub = await cli('publish', '2', '--reason', 'CAB approved', '--author', 'ada.admin@example.com');
  expect(pub.code).toBe(0);
  await eventually(async () => t.app.catalogueVersions.live.currentVersion() === 2, 10000, 'the app to switch to v2');
  expect(await t.app.catalogueVersions.store.openRequestsByVersion()).toEqual([{ version: 1, itemId: 'pin-test', status: 'awaiting-approval', count: 1 }]);

  // 4. Tara's dialog continues on v1: "blue" is still an option, no reason is asked
  m = await tara.click('answer', 'blue');
  expect(m.at(-1)!.kind).toBe('summary');
  const taraRef = refOf(await tara.click('dialog:confirm'));
  expect(await requestRow(taraRef)).toMatchObject({ status: 'awaiting-approval', catalogue_version: 1, fields: { colour: 'blue' } });

  // 5. Fred's new request is on v2: new options, the new field, two approvals
  m = await fred.click('start:pin-test');
  expect(m.at(-1)!.text).toMatch(/Which colour \(new palette\)\?$/);
  expect(m.at(-1)!.choices!.options.map((o) => o.value)).toEqual(['red', 'green']);
  m = await fred.click('answer', 'green');
  expect(m.at(-1)!.text).toBe('Why do you need it?');
  m = await fred.say('testing the new palette');
  const fredRef = refOf(await fred.click('dialog:confirm'));
  expect(await requestRow(fredRef)).toMatchObject({ catalogue_version: 2, fields: { colour: 'green', reason: 'testing the new palette' } });

  // 6. approvals: v1 requests need only the manager (no security step added by v2)
  await approve(mark, erinRef);
  await approve(ivan, taraRef);
  await approve(ivan, fredRef);
  for (const ref of [erinRef, taraRef]) await eventually(async () => (await requestRow(ref)).status === 'fulfilled', 30000, `${ref} fulfilled`);
  expect((await requestRow(fredRef)).status).toBe('awaiting-approval');
  await approve(sam, fredRef);
  await eventually(async () => (await requestRow(fredRef)).status === 'fulfilled', 30000, `${fredRef} fulfilled`);

  // 7. each ran the workflow of its own version
  expect(await stepsOf(erinRef)).toEqual(['grant-v1']);
  expect(await stepsOf(taraRef)).toEqual(['grant-v1']);
  expect(await stepsOf(fredRef)).toEqual(['grant-v2', 'tell']);
  const groups = await q(`SELECT person_email, group_name FROM group_memberships WHERE group_name LIKE 'pin-%' ORDER BY group_name, person_email`);
  expect(groups).toEqual([
    { person_email: 'erin.employee@example.com', group_name: 'pin-v1-blue' },
    { person_email: 'tara.triage@example.com', group_name: 'pin-v1-blue' },
    { person_email: 'fred.fulfiller@example.com', group_name: 'pin-v2-green' },
  ]);
  const approvals = await q(`SELECT r.ref, a.step_id FROM approvals a JOIN requests r ON r.id = a.request_id WHERE r.ref = ANY($1) ORDER BY r.ref, a.step_index`, [[erinRef, taraRef, fredRef]]);
  expect(approvals.filter((a) => a.step_id === 'security').map((a) => a.ref)).toEqual([fredRef]);
  const got = await (await api(`/api/requests/${erinRef}`)).json() as { catalogueVersion: number };
  expect(got.catalogueVersion).toBe(1);
}, 120000);

it('shows the runbook on manual tasks, in triage and in the API for fulfillers', async () => {
  const fred = new WebUser(t.base, 'fred.fulfiller@example.com');
  await fred.inbox();
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('runbook-test')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' });
  await eventually(async () => (await q(`SELECT status FROM fulfilment_steps WHERE request_id = $1 AND step_id = 'provision'`, [request.id]))[0]?.status === 'manual', 30000, 'manual task');
  const task = (await fred.inbox()).find((x) => x.text.startsWith('Manual task') && x.text.includes(request.ref))!;
  expect(task.fields!.map((f) => f.label)).toEqual(['Runbook: Provisioning API down', 'Runbook: Everything else']);
  expect(task.fields![0]!.value).toBe('When: the provisioning API refuses connections or answers 5xx\n1. Open the admin console\n2. Create the account by hand\n3. Mark the task done\nhttps://wiki.example.com/runbooks/provisioning');
  const [c] = await q(`SELECT description FROM cases WHERE request_id = $1`, [request.id]);
  expect(c!.description).toContain('Runbook:\nProvisioning API down (when: the provisioning API refuses connections or answers 5xx)\n  1. Open the admin console');
  expect(c!.description).not.toContain('Notification bounced');

  const asFred = await (await api(`/api/requests/${request.ref}?actor=fred.fulfiller@example.com`)).json() as { exceptions: { title: string; appliesTo: string[] | null }[]; catalogueVersion: number };
  expect(asFred.exceptions.map((x) => x.title)).toEqual(['Everything else', 'Provisioning API down', 'Notification bounced']);
  expect(asFred.exceptions[1]).toEqual({ title: 'Provisioning API down', symptom: 'the provisioning API refuses connections or answers 5xx', steps: ['Open the admin console', 'Create the account by hand', 'Mark the task done'], link: 'https://wiki.example.com/runbooks/provisioning', appliesTo: ['provision'] });
  expect(asFred.catalogueVersion).toBe(2);
  const asErin = await (await api(`/api/requests/${request.ref}?actor=erin.employee@example.com`)).json() as Record<string, unknown>;
  expect(asErin.exceptions).toBeUndefined();

  const tara = new WebUser(t.base, 'tara.triage@example.com');
  await tara.inbox();
  const item = await t.app.triage.create({ text: 'the provisioning thing is stuck', requesterEmail: 'erin.employee@example.com', channel: 'web', conversationId: 'web:erin.employee@example.com', suggestions: [{ intent: 'runbook-test', confidence: 0.4 }] });
  const card = (await tara.inbox()).find((x) => x.triageId === item.id)!;
  expect(card.fields!.map((f) => f.label)).toEqual(['Suggestions', 'Runbook: Everything else (Runbook test)', 'Runbook: Provisioning API down (Runbook test)', 'Runbook: Notification bounced (Runbook test)']);
}, 60000);

it('rolls back over the admin API (admins and catalogue admins only): a new version, audited, served at once', async () => {
  const body = (b: Record<string, unknown>) => ({ method: 'POST', body: JSON.stringify(b) });
  expect((await fetch(`${t.base}/admin/api/catalogue/rollback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  const bad = await api('/admin/api/catalogue/rollback', body({ actor: 'ada.admin@example.com', version: 1 }));
  expect(bad.status).toBe(400);
  const erin = await api('/admin/api/catalogue/rollback', body({ actor: 'erin.employee@example.com', version: 1, reason: 'I want blue back' }));
  expect(erin.status).toBe(403);
  expect(await q(`SELECT actor FROM audit_log WHERE action = 'catalogue.refused'`)).toEqual([{ actor: 'erin.employee@example.com' }]);
  expect(t.app.catalogue.get('pin-test')!.workflow.map((s) => s.id)).toEqual(['grant-v2', 'tell']);

  const ok = await api('/admin/api/catalogue/rollback', body({ actor: 'ada.admin@example.com', version: 1, reason: 'security step blocks the pilot', expectedCurrent: 2 }));
  expect(ok.status).toBe(201);
  const j = await ok.json() as { version: { number: number; rollbackOf: number; status: string }; previous: { number: number; status: string }; diff: string };
  expect(j.version).toMatchObject({ number: 3, rollbackOf: 1, status: 'published' });
  expect(j.previous).toMatchObject({ number: 2, status: 'rolled-back' });
  expect(j.diff).toContain('approvals: -security (role security) [WEAKER]');
  // the app serves it at once (same process), history is kept
  expect(t.app.catalogueVersions.live.currentVersion()).toBe(3);
  expect(t.app.catalogue.get('pin-test')!.workflow.map((s) => s.id)).toEqual(['grant-v1']);
  expect((await t.app.catalogueVersions.store.list()).map((v) => [v.number, v.status])).toEqual([[3, 'published'], [2, 'rolled-back'], [1, 'superseded']]);
  const [a] = await q(`SELECT actor, detail FROM audit_log WHERE action = 'catalogue.rolled-back'`);
  expect(a).toMatchObject({ actor: 'ada.admin@example.com', detail: { version: 3, rollbackOf: 1, previous: 2, reason: 'security step blocks the pilot', summary: { weakened: ['pin-test'] } } });

  const again = await api('/admin/api/catalogue/rollback', body({ actor: 'ada.admin@example.com', version: 1, reason: 'once more', expectedCurrent: 2 }));
  expect(again.status).toBe(409);
  expect((await again.json() as { error: string }).error).toBe('conflict');
  const versions = await (await api('/admin/api/catalogue/versions?actor=ada.admin@example.com')).json() as { versions: { number: number }[] };
  expect(versions.versions.map((v) => v.number)).toEqual([3, 2, 1]);
  const diff = await api('/admin/api/catalogue/diff?actor=ada.admin@example.com&from=2&to=3&format=text');
  expect(await diff.text()).toMatch(/^catalogue v2 → v3: 0 added, 0 removed, 1 changed/);
  expect((await api('/admin/api/catalogue/versions?actor=erin.employee@example.com')).status).toBe(403);
});

it('a folder that differs from the current version is reported, not served; CATALOGUE_SOURCE=folder publishes it', async () => {
  const changed = await root({ 'pin-test.yaml': PIN_V2.replace('[red, green]', '[red, green, yellow]') });
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
  const env = { LOG_LEVEL: 'silent', API_KEYS: 'test-key', CATALOGUE_DIR: path.join(changed, 'dialogs') };
  const other = await createApp({ config: loadConfig(env), db: t.app.db, log, workerName: 'differs' });
  try {
    expect(other.catalogueVersions.live.currentVersion()).toBe(3);
    expect(other.catalogue.get('pin-test')!.workflow.map((s) => s.id)).toEqual(['grant-v1']);
    const warn = lines.map((l) => JSON.parse(l) as { level: number; msg: string; differences?: string }).find((l) => l.level === 40 && l.msg.includes('differs from catalogue version 3'))!;
    expect(warn.msg).toContain('serving version 3, the database is the system of record');
    expect(warn.msg).toContain('errand catalogue import --reason');
    expect(warn.msg).toContain('CATALOGUE_SOURCE=folder');
    expect(warn.differences).toBe('~pin-test');
  } finally {
    await other.stop();
  }

  const dev = await createApp({ config: loadConfig({ ...env, CATALOGUE_SOURCE: 'folder' }), db: t.app.db, log, workerName: 'folder-wins' });
  try {
    expect(dev.catalogueVersions.live.currentVersion()).toBe(4);
    const v4 = (await dev.catalogueVersions.store.get(4))!;
    expect(v4).toMatchObject({ status: 'published', author: 'system', reason: `CATALOGUE_SOURCE=folder: ${path.join(changed, 'dialogs')} changed` });
    expect(dev.catalogue.get('pin-test')!.fields[0]!.options).toEqual(['red', 'green', 'yellow']);
  } finally {
    await dev.stop();
  }
  expect(() => loadConfig({ NODE_ENV: 'production', API_KEYS: 'k', TEAMS_ENABLED: 'false', CATALOGUE_SOURCE: 'folder' })).toThrow(/CATALOGUE_SOURCE: "folder" is for local development/);
});
