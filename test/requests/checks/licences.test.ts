/**
 * Licence seats through the real app and catalogue (software-request, seed/assets.yaml pools): a seat
 * is reserved at submission, the request waits on the waitlist when none is free and continues to
 * approval by itself when a seat is released (deny, cancel); concurrent submissions for the last seat
 * give exactly one reservation; a fulfilled request consumes its seat, and the end of its
 * just-in-time access releases it. Pools are managed by admins (API and CLI), audited.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import nock from 'nock';
import { runLicenceCommand } from '../../../src/cli/licence-commands.js';
import { onlyLoopback, restoreNet } from '../../support/net.js';
import { eventually, startTestApp, type TestApp } from '../../support/test-app.js';

let t: TestApp;
beforeAll(async () => { onlyLoopback(); t = await startTestApp(); });
afterAll(async () => { await t?.close(); restoreNet(); });

const q = (sql: string, p: unknown[] = []) => t.app.db.query(sql, p).then((r) => r.rows);
const item = () => t.app.catalogue.get('software-request')!;
const paid = (software: string) => ({ software, platform: 'windows', licenceCost: 400, costCentre: 'CC1234', justification: 'Needed for the quarterly reporting work' });
const submit = (email: string, answers: Record<string, unknown>) => t.app.requests.submit({ item: item(), requesterEmail: email, answers, channel: 'test' });
const statusOf = async (id: string) => (await q('SELECT status FROM requests WHERE id = $1', [id]))[0]!.status as string;
const seats = (product: string) => q(`SELECT r.ref, l.status, l.release_reason FROM licence_reservations l JOIN requests r ON r.id = l.request_id WHERE l.product = $1 ORDER BY l.id`, [product]);
const history = async (ref: string) => (await (await fetch(`${t.base}/api/requests/${ref}`, { headers: { 'x-api-key': 'test-key' } })).json()) as { status: string; history: { kind: string; to: string | null; reason: string | null }[] };
const setSeats = (product: string, n: number) => t.app.checks.licences.updatePool(product, { seats: n }, 'ada.admin@example.com');
const approvalOf = async (requestId: string) => (await q(`SELECT id FROM approvals WHERE request_id = $1 AND status = 'pending'`, [requestId]))[0]!.id as string;

it('waitlists a request when no seat is free and resumes it when a seat is released by a denial', async () => {
  await setSeats('tableau-desktop', 1);
  const first = await submit('erin.employee@example.com', paid('tableau-desktop'));
  expect(first.request.status).toBe('awaiting-approval');
  expect(await seats('tableau-desktop')).toEqual([{ ref: first.request.ref, status: 'reserved', release_reason: null }]);

  const second = await submit('olga.owner@example.com', paid('tableau-desktop'));
  expect(second.created).toBe(true);
  expect(second.request.status as string).toBe('waitlisted');
  expect(await q(`SELECT count(*)::int AS n FROM approvals WHERE request_id = $1`, [second.request.id])).toEqual([{ n: 0 }]);
  const waiting = await history(second.request.ref);
  expect(waiting.status).toBe('waitlisted');
  expect(waiting.history.map((h) => h.kind)).toEqual(expect.arrayContaining(['check.waitlisted', 'licence.waitlisted', 'check.passed']));
  expect(waiting.history.find((h) => h.kind === 'check.waitlisted')!.reason).toMatch(/no free Tableau Desktop licence.*joins the waitlist/);
  expect((await t.app.checks.licences.waitlist('tableau-desktop')).map((w) => [w.position, w.ref])).toEqual([[1, second.request.ref]]);
  const told = (await q(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'olga.owner@example.com' ORDER BY id`)).map((m) => m.text).join('\n');
  expect(told).toMatch(new RegExp(`${second.request.ref} is on the waitlist`));
  // the person's status list shows it
  expect((await t.app.requests.statusOf('olga.owner@example.com')).find((s) => s.ref === second.request.ref)!.stage).toMatch(/licence seat/);

  // Erin's manager denies her request: the seat goes to Olga's, which continues to approval by itself
  const denied = await t.app.requests.decide(await approvalOf(first.request.id), 'mark.manager@example.com', 'deny', 'Use the shared Tableau Server instead');
  expect(denied.outcome).toBe('denied');
  expect(await seats('tableau-desktop')).toEqual([
    { ref: first.request.ref, status: 'released', release_reason: 'request denied' },
    { ref: second.request.ref, status: 'reserved', release_reason: null },
  ]);
  expect(await statusOf(second.request.id)).toBe('awaiting-approval');
  const resumed = await history(second.request.ref);
  expect(resumed.history.filter((h) => h.kind === 'status').map((h) => h.to)).toEqual(['submitted', 'waitlisted', 'submitted', 'awaiting-approval']);
  expect(resumed.history.find((h) => h.kind === 'licence.reserved')!.reason).toMatch(/became free/);
  expect((await history(first.request.ref)).history.map((h) => h.kind)).toContain('licence.released');
  expect((await q(`SELECT action FROM audit_log WHERE subject = $1 ORDER BY id`, [second.request.ref])).map((x) => x.action))
    .toEqual(expect.arrayContaining(['check.waitlisted', 'licence.waitlisted', 'licence.seat-reserved', 'request.resumed', 'approval.requested']));
  expect(await t.app.checks.licences.waitlist('tableau-desktop')).toEqual([]);
});

it('releases a seat when its request is cancelled, and the next in line gets it', async () => {
  await setSeats('ms-project', 1);
  const a = await submit('hana.hr@example.com', paid('ms-project'));
  const b = await submit('fred.fulfiller@example.com', paid('ms-project'));
  const c = await submit('ivan.itlead@example.com', paid('ms-project'));
  expect([a.request.status, b.request.status, c.request.status] as string[]).toEqual(['awaiting-approval', 'waitlisted', 'waitlisted']);
  expect((await t.app.checks.licences.waitlist('ms-project')).map((w) => w.ref)).toEqual([b.request.ref, c.request.ref]);
  // a waitlisted request can be cancelled too: it leaves the line without a seat
  expect((await t.app.requests.cancel(c.request.id, 'ivan.itlead@example.com'))!.status).toBe('cancelled');
  expect((await t.app.checks.licences.waitlist('ms-project')).map((w) => w.ref)).toEqual([b.request.ref]);
  expect((await t.app.requests.cancel(a.request.id, 'hana.hr@example.com'))!.status).toBe('cancelled');
  expect((await seats('ms-project')).map((s) => [s.ref, s.status])).toEqual([[a.request.ref, 'released'], [b.request.ref, 'reserved']]);
  expect(await statusOf(b.request.id)).toBe('awaiting-approval');
  expect(await statusOf(c.request.id)).toBe('cancelled');
});

it('gives the last seat to exactly one of many concurrent submissions', async () => {
  await setSeats('acrobat-pro', 1);
  const people = ['erin.employee@example.com', 'olga.owner@example.com', 'hana.hr@example.com', 'fred.fulfiller@example.com', 'mark.manager@example.com', 'tara.triage@example.com', 'ada.admin@example.com'];
  const results = await Promise.all(people.map((p) => submit(p, paid('acrobat-pro'))));
  const statuses: string[] = results.map((r) => r.request.status);
  expect(statuses.filter((s) => s === 'awaiting-approval')).toHaveLength(1);
  expect(statuses.filter((s) => s === 'waitlisted')).toHaveLength(people.length - 1);
  const held = await q(`SELECT count(*)::int AS n FROM licence_reservations WHERE product = 'acrobat-pro' AND status IN ('reserved', 'consumed')`);
  const pool = (await t.app.checks.licences.getPool('acrobat-pro'))!;
  expect(held[0]!.n).toBe(1);
  expect(pool).toMatchObject({ free: 0, waiting: people.length - 1 });
});

it('consumes the seat when the request is fulfilled, and releases it when its just-in-time access ends', async () => {
  nock('https://swdist.example.com').post('/api/deployments').reply(201, { id: 'dep-1' });
  // free software costs nothing: no approval, straight to fulfilment
  const r = await submit('sam.security@example.com', { software: 'intellij', platform: 'linux', licenceCost: 0, justification: 'Reviewing the authentication service code' });
  await eventually(async () => (await statusOf(r.request.id)) === 'fulfilled', 20000, 'fulfilled');
  await eventually(async () => (await seats('intellij')).some((s) => s.ref === r.request.ref && s.status === 'consumed'), 5000, 'consumed');
  expect((await history(r.request.ref)).history.map((h) => h.kind)).toEqual(expect.arrayContaining(['licence.reserved', 'licence.consumed']));
  // a grant of the request ends (as when a just-in-time grant expires): the seat is free again
  await t.app.db.query(`INSERT INTO grants (id, request_id, step_id, person_email, entitlement, expires_at, revoke_action, revoke_input, status, ended_at)
    VALUES ($1, $2, 'deploy', 'sam.security@example.com', 'intellij', now(), 'notify', '{}', 'expired', now())`, [randomUUID(), r.request.id]);
  await t.app.checks.settle();
  expect((await seats('intellij')).find((s) => s.ref === r.request.ref)).toMatchObject({ status: 'released', release_reason: 'access ended' });
});

describe('admins manage the pools', () => {
  const call = (method: string, path: string, body?: unknown, key = 'test-key') => fetch(`${t.base}/admin/api/licences${path}`, {
    method, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, ...(body ? { body: JSON.stringify(body) } : {}),
  });

  it('lists, adds and changes pools over the admin API (admins only, audited); more seats move the waitlist at once', async () => {
    expect((await call('GET', '?actor=ada.admin@example.com', undefined, 'wrong')).status).toBe(401);
    expect((await call('GET', '?actor=erin.employee@example.com')).status).toBe(403);
    const list = await (await call('GET', '?actor=ada.admin@example.com')).json();
    expect(list.pools.find((p: { product: string }) => p.product === 'visio')).toMatchObject({ title: 'Microsoft Visio', costPerSeat: 180, owner: 'euc@example.com' });

    const bad = await call('POST', '', { actor: 'ada.admin@example.com', product: 'Big Tool', seats: -1, owner: 'nobody' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).fields.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['product', 'seats', 'owner']));
    const added = await call('POST', '', { actor: 'ada.admin@example.com', product: 'figma', title: 'Figma', seats: 2, costPerSeat: 144, owner: 'design@example.com' });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ product: 'figma', seats: 2, free: 2, reserved: 0 });
    expect((await call('POST', '', { actor: 'ada.admin@example.com', product: 'figma', seats: 2, owner: 'design@example.com' })).status).toBe(409);

    // the acrobat-pro waitlist from the concurrency test: two more seats → the first two in line continue
    const line = await (await call('GET', '/acrobat-pro/waitlist?actor=ada.admin@example.com')).json();
    expect(line.waiting.map((w: { position: number }) => w.position)).toEqual([1, 2, 3, 4, 5, 6]);
    const pool = (await t.app.checks.licences.getPool('acrobat-pro'))!;
    expect((await call('PATCH', '/acrobat-pro', { actor: 'ada.admin@example.com', seats: pool.used - 1 })).status).toBe(409); // below what is in use
    const patched = await call('PATCH', '/acrobat-pro', { actor: 'ada.admin@example.com', seats: pool.seats + 2 });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ seats: pool.seats + 2, waiting: line.waiting.length - 2 });
    const statuses = await Promise.all(line.waiting.map(async (w: { ref: string }) => (await q('SELECT status FROM requests WHERE ref = $1', [w.ref]))[0]!.status));
    expect(statuses).toEqual(['awaiting-approval', 'awaiting-approval', 'waitlisted', 'waitlisted', 'waitlisted', 'waitlisted']);
    expect((await q(`SELECT actor, action FROM audit_log WHERE subject = 'licence:figma' ORDER BY id`)).map((x) => `${x.actor} ${x.action}`)).toEqual(['ada.admin@example.com licence.pool-added']);
    const change = (await q(`SELECT actor, detail FROM audit_log WHERE subject = 'licence:acrobat-pro' AND action = 'licence.pool-changed' ORDER BY id DESC LIMIT 1`))[0]!;
    expect(change).toEqual({ actor: 'ada.admin@example.com', detail: { changed: { seats: { from: pool.seats, to: pool.seats + 2 } } } });
  });

  it('has the same operations on the command line', async () => {
    let out = '';
    let err = '';
    const io = { stdout: new Writable({ write(c, _e, cb) { out += String(c); cb(); } }), stderr: new Writable({ write(c, _e, cb) { err += String(c); cb(); } }), db: t.app.db };
    expect(await runLicenceCommand('add', ['--product', 'miro', '--seats', '4', '--owner', 'design@example.com', '--cost', '96', '--actor', 'ada.admin@example.com'], io)).toBe(0);
    expect(out).toMatch(/added miro: 4 seats at 96 per seat/);
    expect(await runLicenceCommand('set', ['--product', 'miro', '--seats', '6'], io)).toBe(0);
    expect(await runLicenceCommand('list', [], io)).toBe(0);
    expect(out).toMatch(/miro\s+6\s+0\s+0\s+6\s+0\s+96\.00\s+design@example\.com/);
    expect(await runLicenceCommand('waitlist', ['--product', 'miro'], io)).toBe(0);
    expect(out).toMatch(/nobody is waiting for miro/);
    expect(await runLicenceCommand('set', ['--product', 'nope', '--seats', '1'], io)).toBe(1);
    expect(err).toMatch(/no licence pool "nope"/);
    expect(await runLicenceCommand('add', ['--product', 'x1', '--seats', '1', '--owner', 'a@example.com', '--actor', 'erin.employee@example.com'], io)).toBe(1);
    expect(err).toMatch(/not an admin/);
    expect(await runLicenceCommand('add', ['--product', 'x1'], io)).toBe(2);
    expect((await q(`SELECT actor, action FROM audit_log WHERE subject = 'licence:miro' ORDER BY id`)).map((x) => `${x.actor} ${x.action}`)).toEqual(['ada.admin@example.com licence.pool-added', 'cli licence.pool-changed']);
  });
});
