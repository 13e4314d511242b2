/**
 * The admin dashboard's JSON endpoints (/admin/api): API key, then the actor's role decides —
 * admins and auditors see everything, service owners only their items, fulfillers only failures,
 * others nothing — and malformed query strings get 400 with the fields named.
 */
import { runCli } from '../../src/cli/main.js';
import { upsertPerson } from '../../src/directory/directory.repository.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

let t: TestApp;
let ref: string;
const KEY = { authorization: 'Bearer test-key' };
const day = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  t = await startTestApp();
  // Nina owns vpn-access through the team mailbox group; Ivan is the owner contact of app-access himself
  await upsertPerson(t.app.db, { email: 'nina.network@example.com', name: 'Nina Network', department: 'IT', roles: ['employee'], groups: ['network@example.com'] });
  await upsertPerson(t.app.db, { email: 'iam@example.com', name: 'IAM Team', department: 'IT', roles: ['employee'] });
  const { request } = await t.app.requests.submit({ item: t.app.catalogue.get('vpn-access')!, requesterEmail: 'erin.employee@example.com', channel: 'test', answers: { profile: 'standard', device: 'company', justification: 'Working from home on Fridays' } });
  ref = request.ref;
  // waiting for the manager for 30 hours: past the 1-day target
  await t.app.db.query(`UPDATE requests SET created_at = now() - interval '30 hours' WHERE id = $1`, [request.id]);
  await t.app.db.query(`INSERT INTO triage_items (id, text, requester_email, channel, conversation_id, status, created_at) VALUES (gen_random_uuid(), 'the blorp is broken', 'erin.employee@example.com', 'web', 'web:erin', 'open', now() - interval '3 hours')`);
});
afterAll(async () => { await t?.close(); });

const get = async (path: string, headers: Record<string, string> = KEY) => {
  const r = await fetch(`${t.base}/admin/api/${path}`, { headers });
  return { status: r.status, body: await r.json() as Record<string, unknown> & { fields?: { path: string; message: string }[] } };
};

it('needs the API key', async () => {
  expect((await get('overview?actor=ada.admin@example.com', {})).status).toBe(401);
  expect((await get('overview?actor=ada.admin@example.com', { 'x-api-key': 'wrong' })).status).toBe(401);
});

it('answers malformed query strings with 400 and the field', async () => {
  const bad: [string, string][] = [
    ['overview', 'actor'],
    ['cycle-time?actor=not-an-email', 'actor'],
    ['cycle-time?actor=ada.admin@example.com&from=yesterday', 'from'],
    ['cycle-time?actor=ada.admin@example.com&from=2026-10-05&to=2026-10-01', 'from'],
    ['cycle-time?actor=ada.admin@example.com&from=2020-01-01&to=2026-01-01', 'to'],
    ['cycle-time?actor=ada.admin@example.com&group=team', 'group'],
    ['cycle-time?actor=ada.admin@example.com&item=Not_An_Id', 'item'],
    ['cycle-time?actor=ada.admin@example.com&item=no-such-item', 'item'],
    ['cycle-time?actor=ada.admin@example.com&form=2026-10-01', 'form'],
    ['bottlenecks?actor=ada.admin@example.com&to=31/10/2026', 'to'],
    ['failures?actor=ada.admin@example.com&category=human', 'category'],
    ['forecast?actor=ada.admin@example.com&weeks=0', 'weeks'],
    ['forecast?actor=ada.admin@example.com&weeks=two', 'weeks'],
    ['service-review?actor=ada.admin@example.com&period=2026-13', 'period'],
    ['service-review?actor=ada.admin@example.com&period=2026-10&from=2026-10-01', 'period'],
  ];
  for (const [path, field] of bad) {
    const r = await get(path);
    expect([path, r.status, r.body.error]).toEqual([path, 400, 'invalid_query']);
    expect(r.body.message).toMatch(/^GET \/admin\/api\//);
    expect(r.body.fields!.map((f) => f.path)).toContain(field);
  }
});

it('refuses people who are not admins, auditors, service owners (or fulfillers, for failures)', async () => {
  for (const p of ['overview', 'cycle-time', 'bottlenecks', 'failures', 'forecast', 'service-review']) {
    expect([p, (await get(`${p}?actor=erin.employee@example.com`)).status]).toEqual([p, 403]);
    expect([p, (await get(`${p}?actor=nobody@example.com`)).status]).toEqual([p, 403]);
  }
  expect((await get('cycle-time?actor=fred.fulfiller@example.com')).status).toBe(403);
  expect((await get('failures?actor=fred.fulfiller@example.com')).status).toBe(200);
  expect((await get('cycle-time?actor=ada.admin@example.com')).status).toBe(200);
});

it('shows service owners only their items', async () => {
  const nina = await get('overview?actor=nina.network@example.com');
  expect(nina.status).toBe(200);
  expect(nina.body.scope).toEqual(['vpn-access']);
  expect(nina.body.items).toEqual([{ id: 'vpn-access', title: 'VPN access', category: 'access', responseTime: '1d', owner: { team: 'Network Services', contact: 'network@example.com' } }]);
  expect((await get('cycle-time?actor=nina.network@example.com&item=app-access')).status).toBe(403);
  expect((await get('cycle-time?actor=nina.network@example.com&item=vpn-access')).status).toBe(200);
  const iamItems = t.app.catalogue.list().filter((i) => i.owner.contact === 'iam@example.com').map((i) => i.id).sort();
  expect(iamItems).toContain('app-access');
  expect((await get('overview?actor=iam@example.com')).body.scope).toEqual(iamItems);
  const iam = await get('overview?actor=iam@example.com');
  expect((iam.body.slaRisk as unknown[]).length).toBe(0); // Erin's vpn request is not theirs
  const review = await get(`service-review?actor=nina.network@example.com&from=${day(-2)}&to=${day(1)}`);
  expect((review.body.items as { item: string }[]).map((i) => i.item)).toEqual(['vpn-access']);
});

it('gives admins the overview: today, open requests, SLA risk and the triage queue', async () => {
  const r = await get('overview?actor=ada.admin@example.com');
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ scope: 'all', open: { total: 1, byStatus: { 'awaiting-approval': 1 } }, triage: { open: 1 } });
  expect((r.body.triage as { oldestAgeHours: number }).oldestAgeHours).toBeGreaterThanOrEqual(3);
  expect(r.body.slaRisk).toEqual([expect.objectContaining({ ref, item: 'vpn-access', status: 'awaiting-approval', requester: 'erin.employee@example.com', targetHours: 24, breached: true })]);
});

it('serves every report as JSON for an auditor', async () => {
  const period = `from=${day(-7)}&to=${day(1)}`;
  const actor = 'actor=ada.admin@example.com';
  const ct = await get(`cycle-time?${actor}&${period}&group=role`);
  expect(ct.body).toMatchObject({ group: 'role', overall: { count: 0 }, byItem: [], daily: expect.any(Array) });
  expect((ct.body.daily as unknown[]).length).toBe(8);
  expect((await get(`bottlenecks?${actor}&${period}`)).body).toMatchObject({ items: [], ranking: [] });
  expect((await get(`failures?${actor}&${period}`)).body).toMatchObject({ total: 0, byCategory: { process: 0, system: 0, user: 0 }, recurring: [], recent: [] });
  const fc = await get(`forecast?${actor}&item=vpn-access&weeks=3`);
  expect(fc.body).toMatchObject({ weeks: 3, series: { item: 'vpn-access' }, capacity: { perDay: expect.any(Array) } });
  expect((fc.body.series as { forecast: unknown[] }).forecast).toHaveLength(21);
  const sr = await get(`service-review?${actor}&${period}`);
  expect(sr.body).toMatchObject({ overall: { volume: { submitted: 1 } }, items: [expect.objectContaining({ item: 'vpn-access', title: 'VPN access' })] });
});

it('the CLI dispatches `report service-review` (bad arguments exit 2)', async () => {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    expect(await runCli(['report', 'service-review', '--period', 'October'])).toBe(2);
  } finally {
    process.stderr.write = write;
  }
});
