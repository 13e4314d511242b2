/**
 * Catalogue change management through the real app (web chat, admin API, CLI, Agenda):
 * a publish or rollback without an approved change request is refused on every path; owners get
 * approval cards in the web chat and their approval publishes; the author cannot approve; a
 * high-risk item or a weakened approval adds a security review, whose denial discards the draft;
 * a failing dry run keeps the change from approval; the impact assessment counts in-flight
 * requests and 30-day volume exactly; freeze windows refuse publishing unless an admin approves an
 * emergency change; a scheduled change is published by its job at the chosen time (injected clock),
 * and refused then when the current version moved; CATALOGUE_SOURCE=folder is auto-approved.
 */
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from '../../src/app.js';
import { loadConfig, PROJECT_ROOT } from '../../src/config.js';
import { runCatalogueCommand } from '../../src/cli/catalogue-commands.js';
import { runChangeCommand } from '../../src/cli/change-commands.js';
import { upsertPerson } from '../../src/directory/directory.repository.js';
import { CHANGE_PUBLISH_JOB } from '../../src/catalogue/change/service.js';
import type { ChangeRequest } from '../../src/catalogue/change/model.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser, type WebMessage } from '../support/web-client.js';

const item = (id: string, title: string, risk: string, contact: string, body: string) => `id: ${id}
title: ${title}
description: Change management test item.
category: test
owner: { team: QA, contact: ${contact} }
responseTime: 1d
risk: ${risk}
fulfilment: automated
${body}`;
const LOW_BODY = (group = 'chg-{{fields.access}}', approvals = 'approvals:\n  - id: manager\n    label: Line manager\n    approver: { kind: manager }\n') => `fields:
  - name: access
    type: choice
    label: Access
    prompt: Which access?
    options: [read, write]
  - name: team
    type: text
    label: Team
    prompt: Which team?
    when: access == "write"
${approvals}workflow:
  - id: grant
    action: directory.addToGroup
    inputs: { person: "{{requester.email}}", group: "${group}" }
`;
const HIGH_BODY = `approvals:
  - id: manager
    label: Line manager
    approver: { kind: manager }
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} done" }
`;
const low = (title: string, body = LOW_BODY()) => item('chg-low', title, 'low', 'qa-owners@example.com', body);
const high = (title: string) => item('chg-high', title, 'high', 'quinn.qa@example.com', HIGH_BODY);

const ADA = 'ada.admin@example.com';
const CORA = 'cora.catalogue@example.com';
const QUINN = 'quinn.qa@example.com';
const SAM = 'sam.security@example.com';

let t: TestApp;
let dir: string;
let offset = 0;
const clock = () => new Date(Date.now() + offset);
const tmps: string[] = [];
/** The item files of the current version (the base folder plus what was published since). */
let state: Record<string, string> = { 'chg-low.yaml': low('Change test (low)'), 'chg-high.yaml': high('Change test (high)') };
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const api = (p: string, init: RequestInit = {}) => fetch(`${t.base}${p}`, { ...init, headers: { authorization: 'Bearer test-key', 'content-type': 'application/json', ...(init.headers ?? {}) } });
const post = (b: Record<string, unknown>, method = 'POST') => ({ method, body: JSON.stringify(b) });
const live = () => t.app.catalogueVersions.live.currentVersion();

function sink(): { io: Writable; text(): string } {
  let s = '';
  return { io: new Writable({ write(c, _e, cb) { s += String(c); cb(); } }), text: () => s };
}
async function catalogueCli(sub: string, ...args: string[]) {
  const [o, e] = [sink(), sink()];
  const code = await runCatalogueCommand(sub, args, { stdout: o.io, stderr: e.io, db: t.app.db, config: t.app.config });
  return { code, out: o.text(), err: e.text() };
}
async function changeCli(sub: string, ...args: string[]) {
  const [o, e] = [sink(), sink()];
  const code = await runChangeCommand(sub, args, { stdout: o.io, stderr: e.io, db: t.app.db, config: t.app.config, now: clock });
  return { code, out: o.text(), err: e.text() };
}
/** Imports the current state with `over` as a draft; returns its number and files. */
async function draft(over: Record<string, string>): Promise<{ n: number; files: Record<string, string> }> {
  const files = { ...state, ...over };
  const r = await mkdtemp(path.join(tmpdir(), 'chg-root-'));
  tmps.push(r);
  await cp(dir, path.join(r, 'dialogs'), { recursive: true });
  await cp(path.join(PROJECT_ROOT, 'intents'), path.join(r, 'intents'), { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(r, 'dialogs', name), text);
  const imp = await catalogueCli('import', r, '--reason', 'change test', '--author', CORA);
  if (imp.code !== 0) throw new Error(`import failed: ${imp.err}`);
  return { n: Number(/draft v(\d+) created/.exec(imp.out)![1]), files };
}
const cardOf = async (u: WebUser, ref: string): Promise<WebMessage> => {
  const card = (await u.all()).find((m) => m.kind === 'approval' && m.text.includes(ref));
  if (!card) throw new Error(`${u.email} has no approval card for ${ref}`);
  return card;
};
const button = (card: WebMessage, what: 'approve' | 'deny') => card.buttons!.find((b) => b.id.endsWith(`:${what}`))!.id;
const change = async (ref: string): Promise<ChangeRequest> => (await t.app.changes.get(ref))!.change;
const auditOf = async (ref: string) => (await q(`SELECT actor, action, detail FROM audit_log WHERE subject = $1 ORDER BY id`, [`change:${ref}`]));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'chg-cat-'));
  tmps.push(dir);
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  for (const [name, text] of Object.entries(state)) await writeFile(path.join(dir, name), text);
  t = await startTestApp({ env: { CATALOGUE_DIR: dir }, app: { now: clock, catalogueRefreshMs: 200 } });
  await upsertPerson(t.app.db, { email: QUINN, name: 'Quinn QA', department: 'IT', roles: ['employee'], manager: 'ivan.itlead@example.com', groups: ['qa-owners@example.com'] });
  // the author is in the owners' group too: she is never her own approver
  await upsertPerson(t.app.db, { email: CORA, name: 'Cora Catalogue', department: 'IT', roles: ['employee', 'catalogue-admin'], manager: 'ivan.itlead@example.com', groups: ['qa-owners@example.com'] });
});
afterAll(async () => {
  await t?.close();
  for (const d of tmps) await rm(d, { recursive: true, force: true });
});

it('refuses a publish without an approved change request on every path', async () => {
  const d = await draft({ 'chg-low.yaml': low('Change test (low), renamed') });
  expect(d.n).toBe(2);
  const pub = await catalogueCli('publish', '2', '--reason', 'just do it', '--author', ADA);
  expect(pub.code).toBe(1);
  expect(pub.err).toBe('catalogue publish: publishing draft v2 needs an approved change request: errand change create 2 --reason "..."\n');
  await expect(t.app.catalogueVersions.store.publish(2, { author: ADA, reason: 'from the app' })).rejects.toMatchObject({ code: 'CHANGE_CONTROL' });
  expect(live()).toBe(1);
  expect((await t.app.catalogueVersions.store.get(2))!.status).toBe('draft');
});

it('sends owners approval cards in chat; the author cannot approve; the owner\'s approval publishes', async () => {
  const quinn = new WebUser(t.base, QUINN);
  const cora = new WebUser(t.base, CORA);
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const res = await api('/admin/api/changes', post({ actor: CORA, draft: 2, reason: 'a clearer title' }));
  expect(res.status).toBe(201);
  const j = await res.json() as { change: ChangeRequest; approvals: { stepId: string; approvers: string[]; status: string }[] };
  const ref = j.change.ref;
  expect(ref).toBe('CHG-000001');
  expect(j.change).toMatchObject({ status: 'pending-approval', baseVersion: 1, draftVersion: 2, author: CORA, dryRun: { ok: true } });
  expect(j.approvals).toEqual([expect.objectContaining({ stepId: 'owner:qa-owners@example.com', approvers: [QUINN], status: 'pending' })]);
  expect(j.change.impact).toMatchObject({ risk: 'low', items: [{ id: 'chg-low', change: 'changed', risk: 'low', weakened: false, openRequests: 0, volume30d: 0 }], security: { required: false } });

  const card = await cardOf(quinn, ref);
  expect(card.text).toBe(`Change approval needed (Owner approval: QA (chg-low)): ${ref}, publish draft v2 (current: v1), by Cora Catalogue.`);
  expect(card.fields!.map((f) => f.label)).toEqual(['Why', 'You are asked as', 'Risk', 'Items touched', 'Dry run', 'Publishes', 'Changes']);
  expect(card.fields!.find((f) => f.label === 'Dry run')!.value).toMatch(/^passed: 1 item\(s\), 2 scenario\(s\)/);
  expect(card.fields!.find((f) => f.label === 'Changes')!.value).toContain('~ chg-low (Change test (low), renamed)');
  expect((await cora.all()).some((m) => m.kind === 'approval')).toBe(false);

  // the author clicks the owner's button; someone not listed clicks it
  let m = await cora.click(button(card, 'approve'));
  expect(m.at(-1)!.text).toBe(`You cannot approve or deny your own change ${ref}.`);
  m = await erin.click(button(card, 'approve'));
  expect(m.at(-1)!.text).toBe(`You are not an approver of ${ref} (Owner approval: QA (chg-low)).`);
  expect(live()).toBe(1);

  // the owner approves: published at once; a second click is answered
  m = await quinn.click(button(card, 'approve'));
  expect(m.at(-1)!.text).toBe(`You approved ${ref}: every approval is in and catalogue v2 is now current.`);
  expect(live()).toBe(2);
  expect(t.app.catalogue.get('chg-low')!.title).toBe('Change test (low), renamed');
  m = await quinn.click(button(card, 'approve'));
  expect(m.at(-1)!.text).toMatch(/^Already decided: Owner approval: QA \(chg-low\) was approved by quinn\.qa@example\.com\.$/);
  const decided = (await quinn.all()).find((x) => x.approvalId === card.approvalId)!;
  expect(decided.resolved).toMatch(/^Approved by Quinn QA at \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
  expect(decided.buttons).toBeUndefined();
  expect((await cora.all()).map((x) => x.text)).toEqual(expect.arrayContaining([`${ref} is done: catalogue v2 is now current.`]));

  expect(await change(ref)).toMatchObject({ status: 'published', publishedVersion: 2, publishedBy: CORA });
  expect((await t.app.catalogueVersions.store.get(2))!).toMatchObject({ status: 'published', publishedBy: CORA, publishReason: `${ref}: a clearer title` });
  expect((await auditOf(ref)).map((a) => [a.actor, a.action])).toEqual([
    [CORA, 'change.created'], [CORA, 'change.approval-refused'], ['erin.employee@example.com', 'change.approval-refused'],
    [QUINN, 'change.approval-approved'], [QUINN, 'change.approved'], [CORA, 'change.published'],
  ]);
  const show = await changeCli('show', ref);
  expect(show.out).toContain(`${ref}  publish draft v2 (current: v1)  [published]`);
  expect(show.out).toMatch(/Owner approval: QA \(chg-low\): approved by quinn\.qa@example\.com at /);
  state = { ...state, 'chg-low.yaml': low('Change test (low), renamed') };
});

it('adds a security review for weakened approvals and high-risk items; a security denial discards the draft', async () => {
  // weakened: the manager approval goes
  const weak = await draft({ 'chg-low.yaml': low('Change test (low), renamed', LOW_BODY(undefined, '')) });
  const c = await changeCli('create', String(weak.n), '--reason', 'no manager approval needed', '--author', CORA);
  expect(c.code).toBe(0);
  expect(c.out).toMatch(/^CHG-000002 created: publish draft v3 \(current: v2\)\n/);
  expect(c.out).toContain(`  Security review: ${SAM}\n`);
  const v = (await t.app.changes.get('CHG-000002'))!;
  expect(v.approvals.map((a) => a.stepId)).toEqual(['owner:qa-owners@example.com', 'security']);
  expect(v.approvals[1]!.why).toBe('controls weaker in: chg-low');
  expect(v.change.impact).toMatchObject({ risk: 'high', weakened: true, items: [{ id: 'chg-low', weakened: true, weakenings: ['approval step manager (manager) removed'] }] });

  const sam = new WebUser(t.base, SAM);
  const quinn = new WebUser(t.base, QUINN);
  const card = await cardOf(sam, 'CHG-000002');
  expect(card.fields!.find((f) => f.label === 'Weaker controls')!.value).toBe('chg-low: approval step manager (manager) removed');
  let m = await sam.click(button(card, 'deny'));
  expect(m.at(-1)!.text).toBe('Please give a reason for denying CHG-000002. (or "cancel")');
  m = await sam.say('managers stay in the loop');
  expect(m.at(-1)!.text).toBe('You denied CHG-000002. The author has been told and draft v3 was discarded.');
  expect(await change('CHG-000002')).toMatchObject({ status: 'denied', closedBy: SAM, closedReason: 'managers stay in the loop' });
  expect((await t.app.catalogueVersions.store.get(weak.n))).toMatchObject({ status: 'discarded', endedReason: 'CHG-000002 denied: managers stay in the loop' });
  expect((await quinn.all()).find((x) => x.kind === 'approval' && x.text.includes('CHG-000002'))!.resolved).toBe('Closed: CHG-000002 was denied by Sam Security');

  // a high-risk item: owner (a person) + security; decided from the CLI and the admin API
  const h = await draft({ 'chg-high.yaml': high('Change test (high), renamed') });
  const created = await t.app.changes.create({ draft: h.n, author: CORA, reason: 'rename the high-risk item' });
  expect(created.approvals.map((a) => [a.stepId, a.approvers, a.why])).toEqual([
    [`owner:${QUINN}`, [QUINN], `owner (${QUINN}) of chg-high`],
    ['security', [SAM], 'high-risk item(s): chg-high'],
  ]);
  const ref = created.change.ref;
  const byCli = await changeCli('approve', ref, '--actor', QUINN);
  expect(byCli).toMatchObject({ code: 0, out: `You approved ${ref} (Owner approval: QA (chg-high)). Still waiting for: Security review.\n` });
  const self = await changeCli('approve', ref, '--actor', CORA);
  expect(self).toMatchObject({ code: 1, err: `You cannot approve or deny your own change ${ref}.\n` });
  const byApi = await api(`/admin/api/changes/${ref}/decide`, post({ actor: SAM, decision: 'approve' }));
  expect(byApi.status).toBe(200);
  expect(await byApi.json()).toMatchObject({ outcome: 'published', change: { ref, status: 'published', publishedVersion: h.n } });
  expect(live()).toBe(h.n);
  state = h.files;
});

it('keeps a change whose dry run fails from approval', async () => {
  const d = await draft({ 'chg-low.yaml': low('Change test (low), renamed', LOW_BODY('{{fields.team}}')) });
  const res = await api('/admin/api/changes', post({ actor: CORA, draft: d.n, reason: 'group per team' }));
  expect(res.status).toBe(422);
  const j = await res.json() as { error: string; change: ChangeRequest; approvals: unknown[] };
  expect(j.error).toBe('dry_run_failed');
  expect(j.approvals).toEqual([]);
  expect(j.change.status).toBe('dry-run-failed');
  expect(j.change.dryRun.items).toEqual([expect.objectContaining({ id: 'chg-low', ok: false, problems: ['step grant (directory.addToGroup): input group is empty: {{fields.team}}: field team was not asked in this scenario (when: access == "write")'] })]);
  expect(await q(`SELECT 1 FROM messages WHERE body->>'kind' = 'approval' AND body->>'text' LIKE $1`, [`%${j.change.ref}%`])).toEqual([]);
  const pub = await catalogueCli('publish', String(d.n), '--reason', 'anyway', '--author', ADA);
  expect(pub.err).toBe(`catalogue publish: publishing draft v${d.n} needs an approved change request: the dry run of ${j.change.ref} failed (errand change show ${j.change.ref}); fix the draft and create a new change\n`);
  const show = await changeCli('show', j.change.ref);
  expect(show.out).toContain('dry run: FAILED: 1 problem(s) in chg-low');
  const again = await changeCli('create', String(d.n), '--reason', 'group per team', '--author', CORA);
  expect(again.code).toBe(1);
  expect(again.err).toMatch(/was NOT submitted for approval: the dry run failed\./);
  await t.app.catalogueVersions.store.discard(d.n, { author: CORA, reason: 'broken' });
});

it('assesses the impact with exact in-flight and 30-day numbers', async () => {
  const now = clock().getTime();
  const day = 86_400_000;
  const rows: [string, number, boolean][] = [
    ['awaiting-approval', 1 * day, false], ['awaiting-approval', 40 * day, false], ['in-fulfilment', 2 * day, false],
    ['fulfilled', 10 * day, true], ['denied', 30 * day - 3_600_000, true], ['fulfilled', 30 * day + 3_600_000, true], ['draft', 1 * day, false],
  ];
  for (const [i, [status, ago, done]] of rows.entries()) {
    await q(`INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, status, fields, created_at, updated_at, completed_at, lease_until)
             VALUES ($1, $2, 'chg-high', '{}', 'erin.employee@example.com', 'test', $3, '{}', $4, now(), $5, now() + interval '1 day')`,
      [randomUUID(), `REQ-IMPACT-${i}`, status, new Date(now - ago), done ? new Date(now - ago + 3_600_000) : null]);
  }
  const d = await draft({ 'chg-high.yaml': high('Change test (high), impact'), 'chg-low.yaml': low('Change test (low), impact') });
  const { change: c } = await t.app.changes.create({ draft: d.n, author: CORA, reason: 'impact check' });
  const byId = Object.fromEntries(c.impact.items.map((x) => [x.id, x]));
  expect(byId['chg-high']).toMatchObject({ change: 'changed', risk: 'high', openRequests: 3, openByStatus: { 'awaiting-approval': 2, 'in-fulfilment': 1 }, volume30d: 4 });
  expect(byId['chg-low']).toMatchObject({ openRequests: 0, openByStatus: {}, volume30d: 0 });
  expect(c.impact.totals).toEqual({ items: 2, openRequests: 3, volume30d: 4 });
  expect(c.impact.highRisk).toEqual(['chg-high']);
  expect(c.impact.riskReasons).toEqual(['high-risk item(s): chg-high', '3 requests in flight on the touched items (they finish on their own version)']);
  const card = await cardOf(new WebUser(t.base, QUINN), c.ref);
  expect(card.fields!.find((f) => f.label === 'Items touched')!.value).toBe('chg-high (changed, high risk): 3 in flight, 4 in 30 days\nchg-low (changed, low risk): 0 in flight, 0 in 30 days');
  const cancel = await changeCli('cancel', c.ref, '--actor', CORA, '--reason', 'only a check');
  expect(cancel).toMatchObject({ code: 0, out: `${c.ref} cancelled (draft v${d.n} is kept)\n` });
  expect((await cardOf(new WebUser(t.base, SAM), c.ref)).resolved).toBe(`Closed: ${c.ref} was cancelled by ${CORA}`);
  await t.app.catalogueVersions.store.discard(d.n, { author: CORA, reason: 'only a check' });
  await q(`UPDATE requests SET status = 'cancelled', completed_at = now() WHERE ref LIKE 'REQ-IMPACT-%' AND completed_at IS NULL`);
});

it('refuses publishing inside a freeze unless an admin approves an emergency change', async () => {
  const from = new Date(clock().getTime() - 3_600_000).toISOString();
  const to = new Date(clock().getTime() + 2 * 3_600_000).toISOString();
  expect((await api('/admin/api/changes/freezes', post({ actor: 'erin.employee@example.com', from, to, reason: 'year-end close' }))).status).toBe(403);
  const add = await api('/admin/api/changes/freezes', post({ actor: CORA, from, to, reason: 'year-end close' }));
  expect(add.status).toBe(201);
  const freeze = (await add.json() as { freeze: { id: number } }).freeze;
  const listed = await (await api('/admin/api/changes/freezes?actor=sam.security@example.com')).json() as { freezes: { id: number; reason: string }[] };
  expect(listed.freezes).toEqual([expect.objectContaining({ id: freeze.id, reason: 'year-end close' })]);

  const current = live();
  const d = await draft({ 'chg-low.yaml': low('Change test (low), frozen') });
  const c = await changeCli('create', String(d.n), '--reason', 'small fix', '--author', CORA);
  expect(c.code).toBe(0);
  expect(c.err).toMatch(new RegExp(`^warning: freeze #${freeze.id} \\(.*: year-end close\\) is in force: this change will be refused if it is approved before the freeze ends`));
  const ref = /^(CHG-\d+) created/.exec(c.out)![1]!;
  const ok = await changeCli('approve', ref, '--actor', QUINN);
  expect(ok.code).toBe(1);
  expect(ok.err).toMatch(new RegExp(`^You approved ${ref}, but publishing it was refused: publishing draft v${d.n} is refused inside freeze #${freeze.id} \\(.* UTC – .* UTC: year-end close\\); only an emergency change approved by an admin may publish now`));
  expect(await change(ref)).toMatchObject({ status: 'failed', closedBy: 'system' });
  expect(live()).toBe(current);

  // the same draft as an emergency change: owner + an admin
  const e = await changeCli('create', String(d.n), '--reason', 'outage fix', '--author', CORA, '--emergency');
  expect(e.code).toBe(0);
  expect(e.out).toContain('(EMERGENCY)');
  expect(e.out).toContain(`  Emergency change: admin approval: ${ADA}\n`);
  const eref = /^(CHG-\d+) created/.exec(e.out)![1]!;
  expect((await changeCli('approve', eref, '--actor', QUINN)).out).toBe(`You approved ${eref} (Owner approval: QA (chg-low)). Still waiting for: Emergency change: admin approval.\n`);
  const ada = new WebUser(t.base, ADA);
  const card = await cardOf(ada, eref);
  expect(card.text).toContain('EMERGENCY change');
  const m = await ada.click(button(card, 'approve'));
  expect(m.at(-1)!.text).toBe(`You approved ${eref}: every approval is in and catalogue v${d.n} is now current.`);
  expect(live()).toBe(d.n);
  expect(live()).not.toBe(current);
  const published = (await auditOf(eref)).find((a) => a.action === 'change.published')!;
  expect(published.detail).toMatchObject({ version: d.n, emergency: true, insideFreeze: freeze.id });
  state = d.files;

  expect((await api(`/admin/api/changes/freezes/${freeze.id}`, post({ actor: CORA }, 'DELETE'))).status).toBe(403);
  const rm1 = await api(`/admin/api/changes/freezes/${freeze.id}`, post({ actor: ADA, reason: 'close is done' }, 'DELETE'));
  expect(rm1.status).toBe(200);
  expect((await changeCli('freeze', 'list')).out).toBe('no freeze windows\n');
});

it('publishes a scheduled change at its time (its job), and refuses it then if the current version moved', async () => {
  const a = await draft({ 'chg-low.yaml': low('Change test (low), scheduled') });
  const at = new Date(clock().getTime() + 2 * 3_600_000);
  const c = await changeCli('create', String(a.n), '--reason', 'after hours', '--author', CORA, '--at', at.toISOString());
  expect(c.code).toBe(0);
  const ref = /^(CHG-\d+) created/.exec(c.out)![1]!;
  const ok = await changeCli('approve', ref, '--actor', QUINN);
  expect(ok.out).toMatch(new RegExp(`^You approved ${ref}: every approval is in; it is published at ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC\\.\\n$`));
  expect((await change(ref)).status).toBe('approved');
  const early = await catalogueCli('publish', String(a.n), '--reason', 'now please', '--author', ADA);
  expect(early.err).toMatch(new RegExp(`^catalogue publish: ${ref} is scheduled for `));
  await t.app.changes.publishDue();
  expect((await change(ref)).status).toBe('approved');

  offset += 2 * 3_600_000 + 60_000;
  const id = (await change(ref)).id;
  await t.app.queue.enqueue(CHANGE_PUBLISH_JOB, { changeId: id }, { uniqueBy: ['changeId'] });
  await eventually(async () => (await change(ref)).status === 'published', 20000, 'the scheduled change published by its job');
  expect(live()).toBe(a.n);
  state = a.files;

  // B is scheduled; C is published before B's time: B is refused then
  const b = await draft({ 'chg-low.yaml': low('Change test (low), B') });
  const cb = await changeCli('create', String(b.n), '--reason', 'B later', '--author', CORA, '--at', new Date(clock().getTime() + 3_600_000).toISOString());
  const bref = /^(CHG-\d+) created/.exec(cb.out)![1]!;
  await changeCli('approve', bref, '--actor', QUINN);
  const cc = await draft({ 'chg-high.yaml': high('Change test (high), C') });
  const created = await changeCli('create', String(cc.n), '--reason', 'C now', '--author', CORA);
  expect(created.err).toContain(`warning: also open against v${a.n}: ${bref} (publish draft v${b.n} (current: v${a.n}), at `);
  const cref = /^(CHG-\d+) created/.exec(created.out)![1]!;
  await changeCli('approve', cref, '--actor', QUINN);
  expect((await changeCli('approve', cref, '--actor', SAM)).out).toBe(`You approved ${cref}: every approval is in and catalogue v${cc.n} is now current.\n`);
  await eventually(async () => live() === cc.n, 10000, 'the app to serve C');
  state = cc.files;

  offset += 3_600_000 + 60_000;
  expect(await t.app.changes.publishDue()).toBe(0);
  expect(await change(bref)).toMatchObject({ status: 'failed', closedReason: expect.stringMatching(new RegExp(`^publishing was refused: the current version moved since ${bref} was assessed against v${a.n}`)) });
  expect((await auditOf(bref)).map((x) => x.action)).toEqual(['change.created', 'change.approval-approved', 'change.approved', 'change.publish-refused', 'change.failed']);
  expect(live()).toBe(cc.n);
});

it('treats a rollback as a change request too', async () => {
  const target = 2;
  const refused = await api('/admin/api/catalogue/rollback', post({ actor: ADA, version: target, reason: 'back to v2' }));
  expect(refused.status).toBe(409);
  expect(await refused.json()).toMatchObject({ error: 'change_control', message: expect.stringContaining(`rolling back to v${target} needs an approved change request`) });
  const res = await api('/admin/api/changes', post({ actor: CORA, rollbackTo: target, reason: 'back to the v2 texts' }));
  expect(res.status).toBe(201);
  const { change: c, approvals } = await res.json() as { change: ChangeRequest; approvals: { stepId: string }[] };
  expect(approvals.map((a) => a.stepId)).toEqual(['owner:qa-owners@example.com', `owner:${QUINN}`, 'security']);
  for (const who of [QUINN, SAM]) await changeCli('approve', c.ref, '--actor', who);
  const done = await change(c.ref);
  expect(done.status).toBe('published');
  expect((await t.app.catalogueVersions.store.get(done.publishedVersion!))).toMatchObject({ status: 'published', rollbackOf: target });
  await eventually(async () => live() === done.publishedVersion, 10000, 'the app to serve the rollback');
  const listed = await (await api('/admin/api/changes?actor=ada.admin@example.com&all=true')).json() as { changes: { ref: string; status: string }[] };
  expect(listed.changes[0]).toMatchObject({ ref: c.ref, status: 'published' });
  expect((await api(`/admin/api/changes/${c.ref}?actor=erin.employee@example.com`)).status).toBe(404);
  expect((await api(`/admin/api/changes/${c.ref}?actor=${QUINN}&format=text`)).status).toBe(200);
});

it('lets an admin back out the latest change at once, even inside a freeze; older rollbacks and other people still need a change', async () => {
  // the latest change (the rollback of the previous test) is live: current = its version, built on the version before
  const bad = live();
  const before = (await t.app.catalogueVersions.store.get(bad))!.basedOn!;
  expect(before).toBeLessThan(bad);
  const from = new Date(clock().getTime() - 3_600_000).toISOString();
  const to = new Date(clock().getTime() + 3_600_000).toISOString();
  const freeze = (await (await api('/admin/api/changes/freezes', post({ actor: CORA, from, to, reason: 'backout drill' }))).json() as { freeze: { id: number } }).freeze;

  // not the backout target, or not an admin: still a change request
  if (before > 1) {
    const older = await api('/admin/api/catalogue/rollback', post({ actor: ADA, version: before - 1, reason: 'too far back' }));
    expect(older.status).toBe(409);
  }
  const notAdmin = await api('/admin/api/catalogue/rollback', post({ actor: QUINN, version: before, reason: 'undo' }));
  expect([403, 409]).toContain(notAdmin.status);

  // the backout itself
  const res = await api('/admin/api/catalogue/rollback', post({ actor: ADA, version: before, reason: 'the change broke intake' }));
  expect(res.status).toBe(201);
  const now = live();
  expect(now).toBeGreaterThan(bad);
  expect((await t.app.catalogueVersions.store.get(now))).toMatchObject({ status: 'published', rollbackOf: before });
  const [row] = (await t.app.db.query(`SELECT kind, status, auto_approved, target_version FROM change_requests WHERE published_version = $1`, [now])).rows;
  expect(row).toMatchObject({ kind: 'rollback', status: 'published', target_version: before });
  expect(row!.auto_approved).toMatch(/backout of v\d+/);
  const [a] = (await t.app.db.query(`SELECT actor, detail FROM audit_log WHERE action = 'change.backout' ORDER BY id DESC LIMIT 1`)).rows;
  expect(a).toMatchObject({ actor: ADA, detail: { rollbackOf: before, previous: bad, insideFreeze: freeze.id } });
  await api(`/admin/api/changes/freezes/${freeze.id}`, post({ actor: ADA }, 'DELETE'));
});

it('auto-approves CATALOGUE_SOURCE=folder (development) with an audit note', async () => {
  const r = await mkdtemp(path.join(tmpdir(), 'chg-folder-'));
  tmps.push(r);
  await cp(dir, r, { recursive: true });
  await writeFile(path.join(r, 'chg-low.yaml'), low('Change test (low), from the folder'));
  const before = (await t.app.catalogueVersions.store.currentSummary())!.number;
  const dev = await createApp({ config: loadConfig({ LOG_LEVEL: 'silent', API_KEYS: 'test-key', CATALOGUE_DIR: r, CATALOGUE_SOURCE: 'folder' }), db: t.app.db, workerName: 'folder-dev', now: clock });
  try {
    const v = dev.catalogueVersions.live.currentVersion();
    expect(v).toBe(before + 1);
    const [row] = await q(`SELECT ref, kind, status, auto_approved, published_version, base_version FROM change_requests WHERE kind = 'folder'`);
    expect(row).toMatchObject({ kind: 'folder', status: 'published', published_version: v, base_version: before, auto_approved: expect.stringContaining('CATALOGUE_SOURCE=folder (development only)') });
    expect((await auditOf(row!.ref as string)).map((a) => a.action)).toEqual(['change.auto-approved']);
  } finally {
    await dev.stop();
  }
});
