/**
 * Catalogue lifecycle through the real app (web chat, REST API, admin API, CLI, Agenda jobs) with an
 * injected clock: usage numbers on crafted data; deprecating an item hides it from intake at once
 * (classification goes to the alternative or to triage, start buttons and API submissions are
 * refused naming the date and the alternative), its owner, recent requesters and approvers are told
 * once, in-flight requests finish; after the notice period the lifecycle job removes the item and
 * its intents in a new version; bulk reassignment previews the diff and applies it as a new version;
 * open approvals of leavers are re-routed (manager of the leaver, else the item owner), the new
 * approver gets the card, and a decision taken meanwhile is never overwritten.
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { LIFECYCLE_JOB, REROUTE_JOB } from '../../src/app.js';
import { armChangeControl, ChangeService } from '../../src/catalogue/change/index.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { runLifecycleCommand } from '../../src/cli/lifecycle-commands.js';
import { disableAccount } from '../../src/directory/directory.repository.js';
import { eventually, startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';

const REMOTE = `id: remote-access
title: Remote access
description: Zero-trust remote access, the VPN's successor.
category: access
owner: { team: Network Services, contact: sam.security@example.com }
responseTime: 1d
risk: low
fulfilment: automated
fields:
  - name: systems
    type: text
    label: Systems
    prompt: Which systems do you need to reach from outside the office?
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}}: remote access is ready" }
`;
const GHOST = `id: ghost-approval
title: Ghost approval
description: Signed off by someone who is no longer in the directory.
category: test
owner: { team: HR Systems, contact: hana.hr@example.com }
responseTime: 1d
risk: low
fulfilment: automated
approvals:
  - id: signoff
    label: Sign-off
    approver: { kind: person, email: ghost.leaver@example.com }
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} signed off" }
`;
const PROBE = `id: usage-probe
title: Usage probe
description: Only here to be counted.
category: test
owner: { team: QA, contact: qa.owner@example.com }
responseTime: 1d
risk: low
fulfilment: automated
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: "{{request.ref}} counted" }
`;

const DAY = 86_400_000;
const start = new Date();
let clock = start;
let t: TestApp;
let dir: string;
const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const api = (p: string, init: RequestInit = {}) => fetch(`${t.base}${p}`, { ...init, headers: { authorization: 'Bearer test-key', 'content-type': 'application/json', ...(init.headers ?? {}) } });
const post = (p: string, body: Record<string, unknown>) => api(p, { method: 'POST', body: JSON.stringify(body) });
const day = (d: Date) => d.toISOString().slice(0, 10);
const stateOf = async (email: string) => (await q(`SELECT state FROM conversations WHERE id = $1`, [`web:${email}`]))[0]?.state as { mode: string; d?: { itemId: string } } | undefined;
const statusOf = async (ref: string) => (await q('SELECT status FROM requests WHERE ref = $1', [ref]))[0]!.status as string;
const pendingApproval = async (ref: string) => (await q(`SELECT a.* FROM approvals a JOIN requests r ON r.id = a.request_id WHERE r.ref = $1 AND a.status = 'pending'`, [ref]))[0]!;
/** Inserts a request row as it would be after `status`, created at `at` (crafted history). */
async function craft(item: string, requester: string, at: Date, status: string): Promise<void> {
  await q(`INSERT INTO requests (id, ref, item_id, item_snapshot, requester_email, channel, status, created_at, updated_at, completed_at)
           VALUES (gen_random_uuid(), 'REQ-' || lpad(nextval('request_ref_seq')::text, 6, '0'), $1, $2, $3, 'test', $4, $5, $5, CASE WHEN $4 IN ('fulfilled', 'denied', 'cancelled', 'failed') THEN $5::timestamptz END)`,
  [item, JSON.stringify({ id: item, title: item }), requester, status, at]);
}
async function cli(group: 'catalogue' | 'org', sub: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runLifecycleCommand(group, sub, args, {
    stdout: new Writable({ write(c, _e, cb) { out += String(c); cb(); } }), stderr: new Writable({ write(c, _e, cb) { err += String(c); cb(); } }),
    db: t.app.db, config: t.app.config, now: () => clock,
  });
  return { code, out, err };
}
async function runJob(name: string, done: () => Promise<boolean>, what: string): Promise<void> {
  await t.app.queue.enqueue(name, {});
  await eventually(async () => done(), 30000, what);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lifecycle-cat-'));
  await cp(path.join(PROJECT_ROOT, 'dialogs'), dir, { recursive: true });
  await writeFile(path.join(dir, 'remote-access.yaml'), REMOTE);
  await writeFile(path.join(dir, 'ghost-approval.yaml'), GHOST);
  await writeFile(path.join(dir, 'usage-probe.yaml'), PROBE);
  t = await startTestApp({ env: { CATALOGUE_DIR: dir }, app: { now: () => clock } });
  // these tests publish directly; the last one turns change control (src/catalogue/change) on
  await q('DELETE FROM change_control');
});
afterAll(async () => {
  await t?.close();
  await rm(dir, { recursive: true, force: true });
});

it('counts requests per month over 12 months, the last use and open requests exactly (admin API and CLI)', async () => {
  const y = start.getUTCFullYear(), m = start.getUTCMonth();
  const at = (monthsBack: number, dayOfMonth: number) => new Date(Date.UTC(y, m - monthsBack, dayOfMonth, 0, 0, 1));
  await craft('usage-probe', 'erin.employee@example.com', at(0, 1), 'awaiting-approval'); // this month, open
  await craft('usage-probe', 'fred.fulfiller@example.com', at(0, 1), 'fulfilled');
  await craft('usage-probe', 'erin.employee@example.com', at(0, 1), 'draft'); // drafts do not count
  await craft('usage-probe', 'erin.employee@example.com', at(3, 10), 'denied');
  await craft('usage-probe', 'erin.employee@example.com', at(3, 11), 'submitted'); // open
  for (let i = 0; i < 4; i++) await craft('usage-probe', 'hana.hr@example.com', at(11, 2 + i), 'fulfilled'); // first month of the window
  for (let i = 0; i < 5; i++) await craft('usage-probe', 'hana.hr@example.com', at(12, 2 + i), 'fulfilled'); // outside the window
  await craft('retired-long-ago', 'carl.contractor@example.com', at(14, 3), 'fulfilled'); // not in the catalogue any more

  const res = await api('/admin/api/lifecycle/usage?actor=ada.admin@example.com&item=usage-probe');
  expect(res.status).toBe(200);
  const u = (await res.json()) as { from: string; to: string; items: { id: string; months: { month: string; count: number }[]; total: number; lastUsed: string; open: number; unused: boolean; inCatalogue: boolean }[] };
  const label = (back: number) => new Date(Date.UTC(y, m - back, 1)).toISOString().slice(0, 7);
  expect(u.from).toBe(label(11));
  expect(u.to).toBe(label(0));
  expect(u.items).toHaveLength(1);
  const p = u.items[0]!;
  expect(p.months.map((x) => x.month)).toEqual(Array.from({ length: 12 }, (_, i) => label(11 - i)));
  expect(p.months.map((x) => x.count)).toEqual([4, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 2]);
  expect(p).toMatchObject({ total: 8, open: 2, unused: false, inCatalogue: true, lastUsed: at(0, 1).toISOString() });

  const all = (await (await api('/admin/api/lifecycle/usage?actor=ada.admin@example.com')).json()) as typeof u;
  expect(all.items.find((i) => i.id === 'retired-long-ago')).toMatchObject({ inCatalogue: false, total: 0, unused: true, open: 0 });
  expect(all.items.find((i) => i.id === 'vpn-access')).toMatchObject({ total: 0, unused: true, lastUsed: null });
  expect(all.items.filter((i) => i.inCatalogue).map((i) => i.id)).toEqual(t.app.catalogue.list().map((i) => i.id).sort());

  expect((await api('/admin/api/lifecycle/usage?actor=erin.employee@example.com')).status).toBe(403);
  expect((await fetch(`${t.base}/admin/api/lifecycle/usage?actor=ada.admin@example.com`)).status).toBe(401);
  const c = await cli('catalogue', 'usage', '--item', 'usage-probe');
  expect(c.code).toBe(0);
  expect(c.out).toMatch(/^usage-probe\s+4(\s+0){7}\s+2\s+0\s+0\s+2\s+8\s+\d{4}-\d{2}-\d{2}\s+2\s*$/m);
});

let erinVpn: string;
let hanaVpn: string;
let vpnDeprecation: number;
const until = new Date(start.getTime() + 7 * DAY);

it('deprecating hides the item from intake at once and tells its owner, recent requesters and approvers once', async () => {
  const fred = new WebUser(t.base, 'fred.fulfiller@example.com');
  // before: the classifier routes to vpn-access
  await fred.say('I need VPN access');
  expect((await stateOf(fred.email))?.d?.itemId).toBe('vpn-access');
  await fred.say('cancel');

  // in flight: Erin waits for her manager; Hana's request waits for security (so Sam is a stakeholder)
  const vpn = t.app.catalogue.get('vpn-access')!;
  erinVpn = (await t.app.requests.submit({ item: vpn, requesterEmail: 'erin.employee@example.com', answers: { profile: 'standard', device: 'company', justification: 'working from home on Fridays' }, channel: 'test' })).request.ref;
  hanaVpn = (await t.app.requests.submit({ item: vpn, requesterEmail: 'hana.hr@example.com', answers: { profile: 'standard', device: 'personal', justification: 'payroll run from home' }, channel: 'test' })).request.ref;
  expect((await t.app.requests.decide((await pendingApproval(hanaVpn)).id as string, 'dana.director@example.com', 'approve')).outcome).toBe('approved');
  expect((await pendingApproval(hanaVpn)).approvers).toEqual(['sam.security@example.com']);
  await craft('vpn-access', 'carl.contractor@example.com', new Date(start.getTime() - 120 * DAY), 'fulfilled'); // not recent: not told

  const bad = await post('/admin/api/lifecycle/deprecations', { actor: 'ada.admin@example.com', item: 'vpn-access', until: day(new Date(start.getTime() - DAY)), reason: 'replaced' });
  expect(bad.status).toBe(400);
  const erinTry = await post('/admin/api/lifecycle/deprecations', { actor: 'erin.employee@example.com', item: 'vpn-access', until: until.toISOString(), reason: 'I do not like it' });
  expect(erinTry.status).toBe(403);

  const res = await post('/admin/api/lifecycle/deprecations', { actor: 'ada.admin@example.com', item: 'vpn-access', until: until.toISOString(), alternative: 'remote-access', reason: 'the VPN concentrators are end of life' });
  expect(res.status).toBe(201);
  const j = (await res.json()) as { deprecation: { id: number; status: string; alternative: string }; notified: { email: string; as: string }[]; openRequests: number };
  vpnDeprecation = j.deprecation.id;
  expect(j.deprecation).toMatchObject({ status: 'active', alternative: 'remote-access' });
  expect(j.openRequests).toBe(2);
  expect(j.notified.sort((a, b) => a.email.localeCompare(b.email))).toEqual([
    { email: 'dana.director@example.com', as: 'approver' },
    { email: 'erin.employee@example.com', as: 'requester' },
    { email: 'hana.hr@example.com', as: 'requester' },
    { email: 'mark.manager@example.com', as: 'approver' },
    { email: 'network@example.com', as: 'owner' },
    { email: 'sam.security@example.com', as: 'approver' },
  ]);
  // told once, with the date and the alternative; a second deprecation is refused and tells nobody again
  expect((await post('/admin/api/lifecycle/deprecations', { actor: 'ada.admin@example.com', item: 'vpn-access', until: until.toISOString(), reason: 'again' })).status).toBe(409);
  const notices = await q(`SELECT person_email, body FROM messages WHERE idempotency_key LIKE 'deprecation:${vpnDeprecation}:notice:%' ORDER BY person_email`);
  expect(notices.map((n) => n.person_email)).toEqual(['dana.director@example.com', 'erin.employee@example.com', 'hana.hr@example.com', 'mark.manager@example.com', 'network@example.com', 'sam.security@example.com']);
  for (const n of notices) expect(n.body.text).toContain(day(until));
  const erinNotice = notices.find((n) => n.person_email === 'erin.employee@example.com')!.body;
  expect(erinNotice.text).toContain('Please use "Remote access" instead');
  expect(erinNotice.buttons).toEqual([{ id: 'start:remote-access', label: 'Start Remote access' }]);
  expect(notices.find((n) => n.person_email === 'network@example.com')!.body.text).toMatch(/which your team owns, was deprecated by Ada Admin.*Requests are sent to "Remote access" \(remote-access\) instead.*Reason: the VPN concentrators are end of life\. 2 open request\(s\) finish normally/);
  const [a] = await q(`SELECT actor, detail FROM audit_log WHERE action = 'catalogue.deprecated'`);
  expect(a).toMatchObject({ actor: 'ada.admin@example.com', detail: { deprecation: vpnDeprecation, alternative: 'remote-access', notified: { owner: 1, requesters: 2, approvers: 3 } } });

  // classification goes to the alternative, with a note
  await fred.inbox();
  const m = await fred.say('I need VPN access');
  expect(m[0]!.text).toBe(`"VPN access" is being retired: it can no longer be requested and will be removed on ${day(until)}, so I've started "Remote access" instead.`);
  expect((await stateOf(fred.email))?.d?.itemId).toBe('remote-access');
  await fred.say('cancel');
  // the start button is refused with the date and the alternative
  const s = await fred.click('start:vpn-access');
  expect(s.at(-1)).toMatchObject({ kind: 'error', buttons: [{ id: 'start:remote-access', label: 'Start Remote access', style: 'primary' }] });
  expect(s.at(-1)!.text).toContain(`will be removed on ${day(until)}. Please use "Remote access" instead.`);
  expect((await stateOf(fred.email))?.mode).toBe('idle');
  // not offered in the menu
  const help = await fred.say('help');
  expect(help.at(-1)!.buttons!.map((b) => b.id)).not.toContain('start:vpn-access');
  expect(help.at(-1)!.buttons!.map((b) => b.id)).toContain('start:remote-access');
  // REST submissions are refused
  const r = await post('/api/requests', { item: 'vpn-access', requester: 'fred.fulfiller@example.com', fields: { profile: 'standard', device: 'company', justification: 'on call from home' } });
  expect(r.status).toBe(403);
  expect(((await r.json()) as { message: string }).message).toContain(`will be removed on ${day(until)}. Please use "Remote access" instead.`);
  expect(await q(`SELECT count(*)::int AS n FROM requests WHERE item_id = 'vpn-access' AND requester_email = 'fred.fulfiller@example.com'`)).toEqual([{ n: 0 }]);

  // without an alternative (CLI): classification goes to triage with a note
  const dep = await cli('catalogue', 'deprecate', 'mobile-phone', '--until', until.toISOString(), '--reason', 'phones come with the contract now', '--actor', 'ada.admin@example.com');
  expect(dep.code).toBe(0);
  expect(dep.out).toContain(`deprecated mobile-phone`);
  expect(dep.out).toContain('requests go to triage');
  const tara = new WebUser(t.base, 'tara.triage@example.com');
  const tm = await tara.say('I need a new mobile phone');
  expect(tm.some((x) => x.text.startsWith(`"Company mobile phone" is being retired`) && x.text.includes("passed your message to the service desk"))).toBe(true);
  const [tri] = await q(`SELECT suggestions FROM triage_items WHERE text = 'I need a new mobile phone'`);
  expect((tri!.suggestions as { intent: string }[]).map((x) => x.intent)).not.toContain('mobile-phone');
  expect(await q(`SELECT detail->>'routedTo' AS to FROM audit_log WHERE action = 'nlu.retired-intent' ORDER BY id`)).toEqual([{ to: 'remote-access' }, { to: 'triage' }]);
}, 60000);

it('after the notice period the lifecycle job removes the item and its intents in a new version; in-flight requests finish', async () => {
  // an item another item refers to cannot be removed: the removal is reported, not published
  const off = await post('/admin/api/lifecycle/deprecations', { actor: 'ada.admin@example.com', item: 'offboarding', until: new Date(start.getTime() + DAY).toISOString(), reason: 'moving to the HR system' });
  expect(off.status).toBe(201);
  const offId = ((await off.json()) as { deprecation: { id: number } }).deprecation.id;
  expect(await t.app.lifecycle.removeDue()).toEqual([]); // nothing is due yet

  clock = new Date(until.getTime() + 3_600_000);
  await runJob(LIFECYCLE_JOB, async () => (await q(`SELECT count(*)::int AS n FROM catalogue_deprecations WHERE status = 'removed'`))[0]!.n === 2, 'both removals');
  const versions = await t.app.catalogueVersions.store.list();
  expect(versions.map((v) => [v.number, v.status, v.author])).toEqual([[3, 'published', 'system'], [2, 'superseded', 'system'], [1, 'superseded', 'system']]);
  const v2 = (await t.app.catalogueVersions.store.get(2))!;
  expect(v2.reason).toBe(`deprecation #${vpnDeprecation} of vpn-access: removed after its notice period (until ${day(until)}, alternative remote-access): the VPN concentrators are end of life`);
  expect(v2.documents.items.map((i) => i.id)).not.toContain('vpn-access');
  expect(v2.documents.intents.map((i) => i.intent)).not.toContain('vpn-access');
  expect(Object.keys(v2.files).filter((f) => f.includes('vpn-access'))).toEqual([]);
  expect(v2.documents.items).toHaveLength((await t.app.catalogueVersions.store.get(1))!.documents.items.length - 1);
  const v3 = (await t.app.catalogueVersions.store.get(3))!;
  expect(v3.documents.items.map((i) => i.id).filter((id) => id === 'vpn-access' || id === 'mobile-phone')).toEqual([]);
  expect(v3.documents.intents.map((i) => i.intent)).not.toContain('mobile-phone');
  expect(t.app.catalogueVersions.live.currentVersion()).toBe(3);
  expect(t.app.catalogue.get('vpn-access')).toBeUndefined();
  expect(await q(`SELECT status, removed_version FROM catalogue_deprecations WHERE id = $1`, [vpnDeprecation])).toEqual([{ status: 'removed', removed_version: 2 }]);
  const [removedNote] = await q(`SELECT body FROM messages WHERE idempotency_key = $1`, [`deprecation:${vpnDeprecation}:removed:network@example.com`]);
  expect(removedNote!.body.text).toContain('errand train');

  // the offboarding removal did not validate: kept active, reported to its owner once
  const [offRow] = await q(`SELECT status, last_error FROM catalogue_deprecations WHERE id = $1`, [offId]);
  expect(offRow!.status).toBe('active');
  expect(offRow!.last_error).toMatch(/shared-drive-access/);
  expect(await q(`SELECT count(*)::int AS n FROM messages WHERE person_email = 'servicedesk@example.com' AND idempotency_key LIKE 'deprecation:${offId}:removal-failed:%'`)).toEqual([{ n: 1 }]);
  const cancel = await post(`/admin/api/lifecycle/deprecations/${offId}/cancel`, { actor: 'ada.admin@example.com', reason: 'shared drives still check it' });
  expect(cancel.status).toBe(200);
  expect(await t.app.lifecycle.intakeRefusal('offboarding')).toBeUndefined();

  // running the job again changes nothing
  expect(await t.app.lifecycle.removeDue()).toEqual([]);
  expect((await t.app.catalogueVersions.store.list()).length).toBe(3);

  // the running model still predicts the removed intent: it is mapped to the alternative
  const fred = new WebUser(t.base, 'fred.fulfiller@example.com');
  await fred.inbox();
  const m = await fred.say('I need VPN access');
  expect(m[0]!.text).toBe(`"VPN access" was retired on ${day(until)}, so I've started "Remote access" instead.`);
  expect((await stateOf(fred.email))?.d?.itemId).toBe('remote-access');
  await fred.say('cancel');
  const deps = await cli('catalogue', 'deprecations');
  expect(deps.out).toContain(`#${vpnDeprecation} vpn-access until ${day(until)} → remote-access by ada.admin@example.com: the VPN concentrators are end of life [removed in v2]`);

  // the requests submitted before finish on their own version
  expect((await t.app.requests.decide((await pendingApproval(erinVpn)).id as string, 'mark.manager@example.com', 'approve')).outcome).toBe('approved');
  expect((await t.app.requests.decide((await pendingApproval(hanaVpn)).id as string, 'sam.security@example.com', 'approve')).outcome).toBe('approved');
  for (const ref of [erinVpn, hanaVpn]) await eventually(async () => (await statusOf(ref)) === 'fulfilled', 30000, `${ref} fulfilled`);
  expect(await q(`SELECT catalogue_version FROM requests WHERE ref = $1`, [erinVpn])).toEqual([{ catalogue_version: 1 }]);
}, 90000);

it('bulk reassignment: the preview shows the diff and stores nothing; applying publishes a version with the new owners and approvers', async () => {
  const args = ['--from-team', 'Hardware & Logistics', '--to-team', 'Workplace Services', '--owner-contact', 'workplace@example.com', '--from-person', 'ivan.itlead@example.com', '--to-person', 'dana.director@example.com'];
  const pre = await cli('org', 'reassign', ...args, '--dry-run');
  expect(pre.code).toBe(0);
  expect(pre.out).toContain('preview (nothing stored) on catalogue version 3');
  expect(pre.out).toContain('  laptop-request: owner.team "Hardware & Logistics" → "Workplace Services"');
  expect(pre.out).toMatch(/~ laptop-request \(Laptop request\)\n {4}approvals: \w[\w-]*: approver person ivan\.itlead@example\.com → person dana\.director@example\.com\n {4}owner: Hardware & Logistics <hardware@example\.com> → Workplace Services <workplace@example\.com>/);
  expect(pre.out).toContain('~ peripheral-request (Peripherals and accessories)');
  expect(pre.out).toMatch(/~ app-access[^\n]*\n {4}approvals: data-owner: [^\n]*data owner changed for jira \(ivan\.itlead@example\.com → dana\.director@example\.com\), github/);
  expect(pre.out).toMatch(/~ software-request[^\n]*\n {4}approvals: \w[\w-]*: approver person ivan\.itlead@example\.com → person dana\.director@example\.com/);
  expect(pre.out).toContain('warning: the new owner contact workplace@example.com is not in the directory');
  expect((await t.app.catalogueVersions.store.list()).length).toBe(3);

  const body = { actor: 'ada.admin@example.com', fromTeam: 'Hardware & Logistics', toTeam: 'Workplace Services', ownerContact: 'workplace@example.com', fromPerson: 'ivan.itlead@example.com', toPerson: 'dana.director@example.com' };
  const dry = await post('/admin/api/lifecycle/org/reassign', { ...body, dryRun: true });
  expect(dry.status).toBe(200);
  const dj = (await dry.json()) as { base: number; text: string; diff: { items: { changed: { id: string; owner?: unknown }[] } } };
  expect(dj.base).toBe(3);
  expect(dj.diff.items.changed.map((c) => c.id).sort()).toEqual(['admin-access', 'app-access', 'laptop-request', 'peripheral-request', 'shared-mailbox', 'software-request']);
  expect(dj.text).toBe(pre.out.slice(pre.out.indexOf('catalogue v3 → proposed'), pre.out.indexOf('apply it with')));
  expect((await post('/admin/api/lifecycle/org/reassign', { ...body, actor: 'erin.employee@example.com' })).status).toBe(403);
  expect((await post('/admin/api/lifecycle/org/reassign', { ...body, expectedCurrent: 2 })).status).toBe(409);
  expect((await t.app.catalogueVersions.store.list()).length).toBe(3);

  const res = await post('/admin/api/lifecycle/org/reassign', { ...body, expectedCurrent: 3, reason: 'Hardware merges into Workplace Services; Ivan hands over to Dana' });
  expect(res.status).toBe(201);
  const j = (await res.json()) as { outcome: string; version: number; draft: number };
  expect(j).toMatchObject({ outcome: 'published', version: 4, draft: 4 });
  expect(t.app.catalogueVersions.live.currentVersion()).toBe(4);
  expect(t.app.catalogue.get('laptop-request')!.owner).toEqual({ team: 'Workplace Services', contact: 'workplace@example.com' });
  expect(t.app.catalogue.get('peripheral-request')!.owner).toEqual({ team: 'Workplace Services', contact: 'workplace@example.com' });
  expect(t.app.catalogue.get('software-request')!.approvals.map((s) => s.approver)).toContainEqual({ kind: 'person', email: 'dana.director@example.com' });
  expect(JSON.stringify(t.app.catalogue.list())).not.toContain('ivan.itlead@example.com');
  expect(t.app.catalogue.get('vpn-access')).toBeUndefined();
  const v4 = (await t.app.catalogueVersions.store.get(4))!;
  expect(v4).toMatchObject({ author: 'ada.admin@example.com', reason: 'Hardware merges into Workplace Services; Ivan hands over to Dana', basedOn: 3 });
  const v3 = (await t.app.catalogueVersions.store.get(3))!;
  const changedFiles = Object.keys(v4.files).filter((k) => v4.files[k] !== v3.files[k]).sort();
  expect(changedFiles).toEqual(['dialogs/admin-access.yaml', 'dialogs/app-access.yaml', 'dialogs/laptop-request.yaml', 'dialogs/peripheral-request.yaml', 'dialogs/shared-mailbox.yaml', 'dialogs/software-request.yaml']);
  // edited in place: comments and the rest of the file unchanged
  const [before, after] = [v3.files['dialogs/app-access.yaml']!, v4.files['dialogs/app-access.yaml']!];
  expect(after.split('\n').filter((l, i) => l !== before.split('\n')[i])).toEqual(before.split('\n').filter((l) => l.includes('ivan.itlead@example.com')).map((l) => l.replace('ivan.itlead@example.com', 'dana.director@example.com')));
  const [a] = await q(`SELECT actor, detail FROM audit_log WHERE action = 'catalogue.org-reassigned'`);
  expect(a).toMatchObject({ actor: 'ada.admin@example.com', detail: { base: 3, draft: 4, outcome: 'published', version: 4 } });
}, 60000);

it('re-routes open approvals of leavers to their manager or the item owner, who get the card; a decision meanwhile wins', async () => {
  const drive = t.app.catalogue.get('shared-drive-access')!;
  const erinDrive = (await t.app.requests.submit({ item: drive, requesterEmail: 'erin.employee@example.com', answers: { drive: 'finance', access: 'write', justification: 'month-end closing' }, channel: 'test' })).request.ref;
  expect((await t.app.requests.decide((await pendingApproval(erinDrive)).id as string, 'mark.manager@example.com', 'approve')).outcome).toBe('approved');
  const ownerStep = await pendingApproval(erinDrive);
  expect(ownerStep).toMatchObject({ step_id: 'data-owner', approvers: ['olga.owner@example.com'] });
  const ghostRef = (await t.app.requests.submit({ item: t.app.catalogue.get('ghost-approval')!, requesterEmail: 'erin.employee@example.com', answers: {}, channel: 'test' })).request.ref;
  const ghostStep = await pendingApproval(ghostRef);
  expect(ghostStep.approvers).toEqual(['ghost.leaver@example.com']);
  await disableAccount(t.app.db, 'olga.owner@example.com', 'left the company');

  const dry = await post('/admin/api/lifecycle/org/reroute-approvals', { actor: 'ada.admin@example.com', dryRun: true });
  expect(dry.status).toBe(200);
  const dj = (await dry.json()) as { results: { outcome: string; plan: { ref: string; leavers: unknown[]; added: unknown[] } }[] };
  expect(dj.results.map((r) => [r.plan.ref, r.outcome, r.plan.leavers, r.plan.added])).toEqual([
    [erinDrive, 'planned', [{ email: 'olga.owner@example.com', why: 'disabled' }], [{ email: 'dana.director@example.com', replaces: 'olga.owner@example.com', rule: 'manager of the leaver' }]],
    [ghostRef, 'planned', [{ email: 'ghost.leaver@example.com', why: 'not in the directory' }], [{ email: 'hana.hr@example.com', replaces: 'ghost.leaver@example.com', rule: 'item owner' }]],
  ]);
  expect((await pendingApproval(erinDrive)).approvers).toEqual(['olga.owner@example.com']);
  const c = await cli('org', 'reroute-approvals', '--dry-run');
  expect(c.out).toContain(`${erinDrive} shared-drive-access step data-owner: olga.owner@example.com (disabled) → dana.director@example.com (manager of the leaver, for olga.owner@example.com)  [would re-route]`);

  // the daily job re-routes
  await runJob(REROUTE_JOB, async () => (await pendingApproval(ghostRef)).approvers[0] === 'hana.hr@example.com', 'the re-route job');
  expect((await pendingApproval(erinDrive)).approvers).toEqual(['dana.director@example.com']);
  const audits = await q(`SELECT subject, detail FROM audit_log WHERE action = 'approval.rerouted' ORDER BY id`);
  expect(audits.map((x) => [x.subject, x.detail.before, x.detail.approvers])).toEqual([[erinDrive, ['olga.owner@example.com'], ['dana.director@example.com']], [ghostRef, ['ghost.leaver@example.com'], ['hana.hr@example.com']]]);
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  expect((await erin.all()).some((x) => x.text === `${erinDrive}: olga.owner@example.com has left, so Data owner is now with dana.director@example.com.`)).toBe(true);
  // the new approver gets the card and decides
  const dana = new WebUser(t.base, 'dana.director@example.com');
  const card = (await dana.all()).find((x) => x.kind === 'approval' && x.approvalId === ownerStep.id)!;
  expect(card.text).toContain(`Re-routed to you (manager of the leaver) because olga.owner@example.com has left`);
  expect(card.buttons!.map((b) => b.id)).toEqual([`approval:${ownerStep.id}:approve`, `approval:${ownerStep.id}:deny`]);
  await dana.click(`approval:${ownerStep.id}:approve`);
  await eventually(async () => (await statusOf(erinDrive)) === 'fulfilled', 30000, `${erinDrive} fulfilled`);
  const hana = new WebUser(t.base, 'hana.hr@example.com');
  expect((await hana.all()).some((x) => x.kind === 'approval' && x.approvalId === ghostStep.id)).toBe(true);

  // a decision taken between planning and re-routing is never overwritten
  const fredDrive = (await t.app.requests.submit({ item: drive, requesterEmail: 'fred.fulfiller@example.com', answers: { drive: 'finance', access: 'write', justification: 'audit preparation' }, channel: 'test' })).request.ref;
  expect((await t.app.requests.decide((await pendingApproval(fredDrive)).id as string, 'ivan.itlead@example.com', 'approve')).outcome).toBe('approved');
  const fredStep = await pendingApproval(fredDrive);
  const plan = (await t.app.lifecycle.org.planReroutes()).find((p) => p.approvalId === fredStep.id)!;
  expect(plan.added.map((x) => x.email)).toEqual(['dana.director@example.com']);
  expect((await t.app.requests.decide(fredStep.id as string, 'olga.owner@example.com', 'approve')).outcome).toBe('approved');
  expect((await t.app.lifecycle.org.applyReroute(plan)).outcome).toBe('changed-meanwhile');
  expect(await q('SELECT status, decided_by, approvers FROM approvals WHERE id = $1', [fredStep.id])).toEqual([{ status: 'approved', decided_by: 'olga.owner@example.com', approvers: ['olga.owner@example.com'] }]);
  expect(await q(`SELECT count(*)::int AS n FROM messages WHERE idempotency_key = $1`, [`${fredStep.id}:card:dana.director@example.com`])).toEqual([{ n: 0 }]);
  await eventually(async () => (await statusOf(fredDrive)) === 'fulfilled', 30000, `${fredDrive} fulfilled`);
}, 90000);

it('with change control on, a removal and a reassignment become change requests, published once approved', async () => {
  await armChangeControl(t.app.db, 'lifecycle test');
  const changes = new ChangeService({ db: t.app.db, store: t.app.catalogueVersions.store, now: () => clock });
  const approveAll = async (ref: string, as: string) => {
    for (const a of await q(`SELECT a.id FROM change_approvals a JOIN change_requests c ON c.id = a.change_id WHERE c.ref = $1 AND a.status = 'pending'`, [ref])) {
      expect((await changes.decide(a.id as string, as, 'approve')).outcome).toMatch(/approved|published/);
    }
  };
  const before = (await t.app.catalogueVersions.store.currentSummary())!.number;
  const dep = await post('/admin/api/lifecycle/deprecations', { actor: 'ada.admin@example.com', item: 'usage-probe', until: new Date(clock.getTime() + DAY).toISOString(), reason: 'nobody needs the probe' });
  expect(dep.status).toBe(201);
  clock = new Date(clock.getTime() + 2 * DAY);
  const [r] = await t.app.lifecycle.removeDue();
  expect(r).toMatchObject({ item: 'usage-probe', outcome: 'awaiting-change-control', draft: before + 1 });
  const ref = (r as { ref: string }).ref;
  expect((await t.app.catalogueVersions.store.currentSummary())!.number).toBe(before);
  expect(await t.app.lifecycle.removeDue()).toEqual([expect.objectContaining({ outcome: 'awaiting-change-control', ref })]); // no second change
  expect(await q(`SELECT count(*)::int AS n FROM change_requests WHERE draft_version = $1`, [before + 1])).toEqual([{ n: 1 }]);
  await approveAll(ref, 'ada.admin@example.com');
  await eventually(async () => (await t.app.catalogueVersions.store.currentSummary())!.number === before + 1, 10000, 'the change published');
  expect(await t.app.lifecycle.removeDue()).toEqual([expect.objectContaining({ item: 'usage-probe', outcome: 'already-removed', version: before + 1 })]);
  expect(t.app.catalogue.get('usage-probe')).toBeUndefined();
  expect(await q(`SELECT status FROM catalogue_deprecations WHERE item_id = 'usage-probe'`)).toEqual([{ status: 'removed' }]);

  const res = await post('/admin/api/lifecycle/org/reassign', { actor: 'ada.admin@example.com', fromTeam: 'HR Systems', toTeam: 'People Systems', items: ['ghost-approval'] });
  expect(res.status).toBe(202);
  const j = (await res.json()) as { outcome: string; change: string; draft: number };
  expect(j).toMatchObject({ outcome: 'change-request', draft: before + 2 });
  expect(t.app.catalogue.get('ghost-approval')!.owner.team).toBe('HR Systems');
  await approveAll(j.change, 'hana.hr@example.com');
  await eventually(async () => t.app.catalogue.get('ghost-approval')!.owner.team === 'People Systems', 10000, 'the reassignment published');
}, 60000);
