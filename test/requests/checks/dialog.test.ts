/**
 * Checks run early, in the dialog (through the real app and its web chat), as soon as the answers
 * they depend on are given, and again at submission (the REST API, and a chat confirm after things
 * changed): incompatible devices with the options that fit, the licence waitlist offered with
 * alternatives, duplicates pointing to the open request, conflicts with an open offboarding.
 */
import { WebUser, type WebMessage } from '../../support/web-client.js';
import { startTestApp, type TestApp } from '../../support/test-app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const count = async () => (await q('SELECT count(*)::int AS n FROM requests'))[0]!.n as number;
const post = (body: unknown) => fetch(`${t.base}/api/requests`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' }, body: JSON.stringify(body) });
const texts = (m: WebMessage[]) => m.map((x) => x.text).join('\n');

it('refuses software that does not run on the person\'s computer as soon as it is named, offering what does', async () => {
  const mark = new WebUser(t.base, 'mark.manager@example.com'); // a MacBook
  await mark.click('start:software-request');
  let m = await mark.say('Microsoft Visio');
  const err = m.at(-1)!;
  expect(err.kind).toBe('error');
  expect(err.text).toMatch(/Microsoft Visio needs Windows, and your device is MacBook Pro 14 \(LAP-1002, macOS\), so it would not work for you/);
  expect(err.text).toMatch(/Which software do you need\?/);
  expect(err.choices!.options).toEqual([{ value: 'drawio', label: 'draw.io (diagrams.net, free)' }]);
  expect((await q(`SELECT action, detail FROM audit_log WHERE actor = 'mark.manager@example.com' AND action = 'check.failed' ORDER BY id DESC LIMIT 1`))[0]!.detail)
    .toMatchObject({ stage: 'dialog', check: 'runs-on-your-computer', kind: 'compatibility', incompatible: ['visio'], devices: ['LAP-1002'] });
  m = await mark.click('answer', 'drawio');
  expect(m.at(-1)!.text).toMatch(/Windows, macOS or Linux/);
  await mark.say('cancel');
});

it('refuses a peripheral the computer has no port for, re-asking with the items that fit', async () => {
  const tara = new WebUser(t.base, 'tara.triage@example.com'); // a desktop without USB-C
  await tara.click('start:peripheral-request');
  let m = await tara.say('docking station, keyboard');
  const err = m.at(-1)!;
  expect(err.text).toMatch(/Docking station needs a USB-C or Thunderbolt port \(our docks connect over USB-C\), and your device is Dell OptiPlex 7050 \(DSK-2001, Windows\)/);
  expect(err.choices!.multi).toBe(true);
  expect(err.choices!.options.map((o) => o.value)).toEqual(['monitor', 'keyboard', 'mouse', 'headset', 'webcam', 'adapter', 'laptop-stand']);
  m = await tara.click('answer', 'keyboard,adapter');
  expect(m.at(-1)!.text).toMatch(/ergonomic/i);
  await tara.say('cancel');
});

it('offers the waitlist or an alternative when no licence seat is free, and the alternative changes the answer', async () => {
  await t.app.checks.licences.updatePool('visio', { seats: 0 }, 'ada.admin@example.com');
  const erin = new WebUser(t.base, 'erin.employee@example.com'); // Windows: Visio fits
  await erin.click('start:software-request');
  let m = await erin.say('visio');
  const note = m.find((x) => /no free Microsoft Visio licence/.test(x.text))!;
  expect(note.kind).toBe('info');
  expect(note.text).toMatch(/joins the waitlist and continues to approval by itself as soon as a seat frees\. Or choose an alternative: draw\.io/);
  expect(note.choices).toEqual({ options: [{ value: 'drawio', label: 'draw.io (diagrams.net, free)' }], multi: false, actionId: 'dialog:set:software' });
  expect(m.at(-1)!.text).toMatch(/Windows, macOS or Linux/); // the answer was taken: the dialog goes on
  m = await erin.click('dialog:set:software', 'drawio');
  expect(m.at(-1)!.text).toMatch(/Windows, macOS or Linux/);
  const state = (await q(`SELECT state FROM conversations WHERE person_email = 'erin.employee@example.com' ORDER BY updated_at DESC LIMIT 1`))[0]!.state;
  expect(state.d.answers.software).toBe('drawio');
  await erin.say('cancel');
  await t.app.checks.licences.updatePool('visio', { seats: 3 }, 'ada.admin@example.com');
});

it('points to the open request instead of a duplicate: in the dialog, again at submission over the REST API, and on a late chat confirm', async () => {
  const first = await post({ item: 'app-access', requester: 'erin.employee@example.com', fields: { application: 'jira', accessLevel: 'viewer', justification: 'Following the finance project tickets' } });
  expect(first.status).toBe(201);
  const { ref } = await first.json();

  const erin = new WebUser(t.base, 'erin.employee@example.com');
  await erin.click('start:app-access');
  await erin.say('Jira');
  let m = await erin.say('viewer');
  const dup = m.at(-1)!;
  expect(dup.kind).toBe('error');
  expect(dup.text).toContain(`You already have ${ref} for this (Business application access), waiting for approval: Line manager. I won't open a second one: say "status" to follow it, or "cancel ${ref}" first`);
  expect(dup.text).toMatch(/What level of access do you need\?/);
  m = await erin.click('answer', 'user'); // a different access level is another request
  expect(m.at(-1)!.text).toMatch(/What do you need the access for/);
  await erin.say('cancel');

  // the same again over the REST API: refused, nothing stored, the attempt audited
  const before = await count();
  const again = await post({ item: 'app-access', requester: 'erin.employee@example.com', fields: { application: 'jira', accessLevel: 'viewer', justification: 'Following the finance project tickets' } });
  expect(again.status).toBe(409); // the only failure is another open request
  const body = await again.json();
  expect(body.error).toBe('conflict');
  expect(body.checks).toEqual(expect.arrayContaining([expect.objectContaining({ check: 'not-already-requested', kind: 'duplicate', outcome: 'fail' })]));
  expect(body.message).toContain(`You already have ${ref}`);
  expect(body.fields).toEqual([{ path: 'fields.accessLevel', message: expect.stringContaining(ref) }]);
  expect(await count()).toBe(before);
  const refused = (await q(`SELECT detail FROM audit_log WHERE action = 'request.refused' AND subject = 'app-access' ORDER BY id DESC LIMIT 1`))[0]!.detail;
  expect(refused).toMatchObject({ rule: 'checks', stage: 'submission', channel: 'api', failed: ['not-already-requested'] });
  expect(refused.results.map((r: { check: string; outcome: string }) => `${r.check}:${r.outcome}`)).toEqual(['no-open-offboarding:pass', 'not-already-requested:fail']); // no seat needed for viewers

  // a chat dialog that passed its checks, confirmed after the same request arrived another way
  await erin.click('start:app-access');
  await erin.say('Salesforce');
  await erin.click('answer', 'user');
  m = await erin.say('Pipeline reports for the finance forecast');
  expect(m.at(-1)!.kind).toBe('summary');
  const other = await post({ item: 'app-access', requester: 'erin.employee@example.com', fields: { application: 'salesforce', accessLevel: 'user', justification: 'Pipeline reports for the finance forecast' } });
  const otherRef = (await other.json()).ref as string;
  m = await erin.click('dialog:confirm');
  expect(texts(m)).toContain(`You already have ${otherRef}`);
  expect(m.at(-1)!.text).toMatch(/Nothing was submitted/);
  const state = (await q(`SELECT state FROM conversations WHERE id = 'web:erin.employee@example.com'`))[0]!.state;
  expect(state.mode).toBe('confirming'); // the answers are kept: the person can change one and confirm
  await erin.say('cancel');
});

it('refuses access requests while an offboarding of the person is open', async () => {
  const lastDay = new Date(Date.now() + 20 * 86_400_000).toISOString().slice(0, 10);
  const off = await t.app.requests.submit({ item: t.app.catalogue.get('offboarding')!, requesterEmail: 'ivan.itlead@example.com', channel: 'test', answers: { leaver: 'fred.fulfiller@example.com', lastDay, immediate: false } });
  expect(off.request.status).toBe('awaiting-approval');

  const fred = new WebUser(t.base, 'fred.fulfiller@example.com');
  const m = await fred.click('start:shared-drive-access');
  expect(m.at(-1)!.kind).toBe('error');
  expect(m.at(-1)!.text).toBe(`You can't request Shared drive access right now: An offboarding request is open for you, so no new drive access is given while it is open. (${off.request.ref}: waiting for approval: HR (confirms the leaving date))`);
  expect((await q(`SELECT state FROM conversations WHERE id = 'web:fred.fulfiller@example.com'`))[0]!.state.mode).toBe('idle');

  const api = await post({ item: 'app-access', requester: 'fred.fulfiller@example.com', fields: { application: 'jira', accessLevel: 'viewer', justification: 'Checking the service desk backlog' } });
  expect(api.status).toBe(409);
  expect((await api.json()).message).toContain(`An offboarding request is open for you, so no new application access is given while it is open. (${off.request.ref}`);
  // someone else is not affected
  expect((await post({ item: 'shared-drive-access', requester: 'hana.hr@example.com', fields: { drive: 'hr', access: 'read', justification: 'Policy review' } })).status).toBe(201);
});

it('records every check of a stored request in its history (GET /api/requests/:ref)', async () => {
  const r = await post({ item: 'software-request', requester: 'olga.owner@example.com', fields: { software: 'visio', platform: 'windows', licenceCost: 180, costCentre: 'CC2001', justification: 'Process maps for the audit' } });
  expect(r.status).toBe(201);
  const { ref } = await r.json();
  const shown = await (await fetch(`${t.base}/api/requests/${ref}`, { headers: { 'x-api-key': 'test-key' } })).json();
  const checks = shown.history.filter((h: { kind: string }) => h.kind.startsWith('check.') || h.kind.startsWith('licence.'));
  expect(checks.map((h: { kind: string; reason: string }) => `${h.kind}: ${h.reason}`)).toEqual([
    'check.passed: Works on your computer: passed',
    expect.stringMatching(/^licence\.reserved: a visio seat is reserved \(\d of 3 in use\)$/),
    'check.passed: Licence seat: passed',
    'check.passed: No open request for the same software: passed',
  ]);
  expect((await q(`SELECT action FROM audit_log WHERE subject = $1 AND action LIKE 'check.%' ORDER BY id`, [ref])).map((x) => x.action)).toEqual(['check.passed', 'check.passed', 'check.passed']);
});
