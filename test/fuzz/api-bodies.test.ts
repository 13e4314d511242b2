/**
 * Fuzzing the REST API and the admin API over HTTP against the running app: arbitrary JSON and
 * near-valid bodies (real keys and people, hostile values) to POST /api/requests, and arbitrary
 * path parameters, query strings and bodies to every other /api and /admin/api endpoint (with an
 * API key, acting for an admin, so the requests get past authorisation into the handlers). The
 * answer is never a 500 and never a hang: a 2xx, or a 4xx with an `error` and a `message` (and, for
 * invalid bodies, `fields` listing each path and what was wrong); a refused submission stores nothing.
 */
import fc from 'fast-check';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { hostileString, runs } from '../support/security/fuzz.js';

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  t = await startTestApp({ env: { TEAMS_ENABLED: 'false', API_KEYS: 'test-key' } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

const PEOPLE = ['erin.employee@example.com', 'mark.manager@example.com', 'ada.admin@example.com', 'fred.fulfiller@example.com', 'carl.contractor@example.com', 'nobody@example.com'];
const ITEMS = ['vpn-access', 'shared-drive-access', 'laptop-request', 'software-request', 'password-reset', 'admin-access', 'payroll-change', 'no-such-item'];
const FIELD_NAMES = ['drive', 'access', 'until', 'justification', 'profile', 'device', 'reason', 'software', 'cost', 'start', 'manager', 'person', '__proto__', 'constructor'];

const realistic = fc.oneof(
  fc.constantFrom(...PEOPLE, ...ITEMS, 'read', 'write', 'finance', 'standard', '2027-03-31', '2027-03-31T00:00:00Z', 'yes', 'no', 'done', 'failed', 'process', 'system', 'user', 'REQ-000001', 'tableau', 'visio'),
  fc.integer({ min: -5, max: 1_000_001 }), fc.boolean(), fc.constant(null),
  fc.array(fc.constantFrom('read', 'write', 'standard', 'engineering'), { maxLength: 3 }),
);
const anyValue = fc.oneof({ arbitrary: realistic, weight: 4 }, { arbitrary: hostileString(80), weight: 2 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 });

/** Bodies shaped like the API's, with some keys missing, wrong or extra. */
const requestBody = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 4, arbitrary: fc.record({
    item: fc.oneof(fc.constantFrom(...ITEMS), hostileString(40)),
    requester: fc.oneof(fc.constantFrom(...PEOPLE), hostileString(40)),
    fields: fc.oneof(fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), hostileString(12)), anyValue, { maxKeys: 6 }), anyValue),
    idempotencyKey: fc.oneof(hostileString(220), fc.uuid()),
  }, { requiredKeys: [] }) },
  { weight: 3, arbitrary: fc.record({ text: fc.oneof(hostileString(300), fc.constantFrom('I need VPN access', 'status', 'cancel', 'help', 'I need access to the finance drive')), requester: fc.oneof(fc.constantFrom(...PEOPLE), hostileString(30)), extra: anyValue }, { requiredKeys: ['text'] }) },
);

const genericBody = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.dictionary(fc.oneof(fc.constantFrom('actor', 'item', 'category', 'reason', 'delegate', 'from', 'until', 'outcome', 'note', 'product', 'title', 'seats', 'costPerSeat', 'owner', 'version', 'alternative', 'dryRun', 'retry', 'decision', 'fromTeam', 'toTeam', 'items', 'expectedCurrent', 'text', 'as', 'action'), hostileString(10)),
    fc.oneof(realistic, hostileString(60), fc.constant('ada.admin@example.com')), { maxKeys: 6 }),
);

interface Route { method: string; path: string; body?: boolean; auth?: boolean }
const ROUTES: Route[] = [
  { method: 'GET', path: '/api/requests/:ref' },
  { method: 'POST', path: '/api/requests/:ref/steps/:step/:op', body: true },
  { method: 'GET', path: '/api/reports/compliance' },
  { method: 'POST', path: '/api/access-reviews', body: true },
  { method: 'GET', path: '/api/access-reviews/:id' },
  { method: 'POST', path: '/api/delegations', body: true },
  { method: 'POST', path: '/api/grants/:id/revoke', body: true },
  ...['overview', 'cycle-time', 'bottlenecks', 'failures', 'forecast', 'service-review'].map((k) => ({ method: 'GET', path: `/admin/api/${k}` })),
  { method: 'PATCH', path: '/admin/api/failures/:id/category', body: true },
  { method: 'GET', path: '/admin/api/licences' },
  { method: 'POST', path: '/admin/api/licences', body: true },
  { method: 'PATCH', path: '/admin/api/licences/:product', body: true },
  { method: 'GET', path: '/admin/api/licences/:product/waitlist' },
  { method: 'GET', path: '/admin/api/catalogue/versions' },
  { method: 'GET', path: '/admin/api/catalogue/diff' },
  { method: 'GET', path: '/admin/api/lifecycle/usage' },
  { method: 'GET', path: '/admin/api/lifecycle/deprecations' },
  { method: 'POST', path: '/admin/api/lifecycle/deprecations', body: true },
  { method: 'POST', path: '/admin/api/lifecycle/deprecations/:id/cancel', body: true },
  { method: 'POST', path: '/admin/api/lifecycle/org/reassign', body: true },
  { method: 'GET', path: '/admin/api/changes' },
  { method: 'GET', path: '/admin/api/changes/:ref' },
  { method: 'POST', path: '/admin/api/changes/:ref/decide', body: true },
  { method: 'GET', path: '/admin/api/changes/freezes' },
  { method: 'POST', path: '/admin/api/changes/freezes', body: true },
  { method: 'POST', path: '/web/messages', body: true, auth: false },
  { method: 'GET', path: '/web/messages', auth: false },
  { method: 'GET', path: '/web/panel', auth: false },
];

const param = fc.oneof(fc.constantFrom('REQ-000001', 'REQ-1', '1', '0', '-1', '00000000-0000-0000-0000-000000000000', 'create', 'complete', 'retry', 'skip', 'cancel', 'tableau', 'CR-000001', '%', '..', '.', 'a%2Fb'), hostileString(30));
const queryValue = fc.oneof(realistic.map(String), hostileString(40), fc.constantFrom('ada.admin@example.com', '2026-01-01', '2026-13-45', '2026-10', 'department', 'role', 'json', 'csv'));
const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom('actor', 'from', 'to', 'item', 'group', 'category', 'weeks', 'holdoutWeeks', 'historyDays', 'period', 'format', 'status', 'as', 'after', 'since', 'version', 'a', 'b'), hostileString(8)), queryValue), { maxLength: 6 });

interface Answer { status: number; body: unknown; text: string }
async function call(method: string, path: string, body: unknown, auth = true): Promise<Answer> {
  const r = await fetch(`${t.base}${path}`, {
    method, headers: { 'content-type': 'application/json', ...(auth ? { authorization: 'Bearer test-key' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(20_000),
  });
  const text = await r.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* CSV, Prometheus text */ }
  return { status: r.status, body: parsed, text };
}

/** The API's contract for any answer. */
function clear(what: string, a: Answer): void {
  expect({ what, status: a.status < 500 }).toEqual({ what, status: true });
  if (a.status >= 400) {
    expect({ what, body: a.body }).toEqual({ what, body: expect.objectContaining({ error: expect.any(String), message: expect.any(String) }) });
    const fields = (a.body as { fields?: unknown }).fields;
    if (fields !== undefined) {
      expect(Array.isArray(fields)).toBe(true);
      for (const f of fields as { path: unknown; message: unknown }[]) expect({ what, f }).toEqual({ what, f: { path: expect.any(String), message: expect.stringMatching(/\S/) } });
    }
  }
}

const requestCount = async () => (await t.app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM requests')).rows[0]!.n;

describe('POST /api/requests', () => {
  it('answers any body with a 2xx or a clear 4xx, and stores nothing when it refuses', async () => {
    const seen = new Map<number, number>();
    await fc.assert(fc.asyncProperty(requestBody, async (body) => {
      const before = await requestCount();
      const a = await call('POST', '/api/requests', body);
      seen.set(a.status, (seen.get(a.status) ?? 0) + 1);
      clear(`POST /api/requests ${JSON.stringify(body).slice(0, 300)}`, a);
      if (a.status >= 400) expect(await requestCount()).toBe(before);
      if (a.status === 400 && (a.body as { error: string }).error === 'invalid_body') expect((a.body as { fields: unknown[] }).fields.length).toBeGreaterThan(0);
    }), runs(300));
    // the generator reaches past validation: some bodies are accepted, some refused for their content
    expect([...seen.keys()].some((s) => s >= 200 && s < 300)).toBe(true);
    expect(seen.get(400) ?? 0).toBeGreaterThan(0);
  }, 120000);
});

describe('every other endpoint', () => {
  it('answers any path parameter, query and body with a 2xx or a clear 4xx', async () => {
    const arb = fc.record({ route: fc.nat(ROUTES.length - 1), params: fc.array(param, { minLength: 3, maxLength: 3 }), query, body: genericBody, asAdmin: fc.boolean() });
    await fc.assert(fc.asyncProperty(arb, async ({ route: n, params, query: q, body, asAdmin }) => {
      const route = ROUTES[n]!;
      let i = 0;
      const path = route.path.replace(/:[a-z]+/g, () => encodeURIComponent(params[i++]!));
      const qs = new URLSearchParams([...q, ...(asAdmin && !q.some(([k]) => k === 'actor') ? [['actor', 'ada.admin@example.com'] as [string, string]] : []), ...(route.auth === false && asAdmin ? [['as', 'erin.employee@example.com'] as [string, string]] : [])]).toString();
      const b = route.body ? (asAdmin && body && typeof body === 'object' && !Array.isArray(body) ? { actor: 'ada.admin@example.com', ...body } : body) : undefined;
      clear(`${route.method} ${path}?${qs} ${JSON.stringify(b)?.slice(0, 300)}`, await call(route.method, `${path}${qs ? `?${qs}` : ''}`, b, route.auth !== false));
    }), runs(600));
  }, 120000);
});
