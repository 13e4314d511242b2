import { startTestApp, eventually, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const post = (body: unknown, key = 'test-key') => fetch(`${t.base}/api/requests`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: typeof body === 'string' ? body : JSON.stringify(body),
});
const count = async () => (await t.app.db.query('SELECT count(*)::int AS n FROM requests')).rows[0]!.n as number;

describe('REST intake', () => {
  it('refuses requests without a valid API key', async () => {
    const r = await post({ item: 'vpn-access', requester: 'erin.employee@example.com' }, 'wrong');
    expect(r.status).toBe(401);
    expect((await r.json()).message).toMatch(/API key/);
  });

  it('answers malformed input with 400 and the field errors, storing nothing', async () => {
    const before = await count();
    const bad1 = await post('{"item": "vpn-access", ');
    expect(bad1.status).toBe(400);
    expect((await bad1.json()).error).toBe('invalid_json');
    const bad2 = await post({ item: 'VPN!', requester: 'not-an-email' });
    expect(bad2.status).toBe(400);
    const j2 = await bad2.json();
    expect(j2.fields.map((f: { path: string }) => f.path)).toEqual(expect.arrayContaining(['item', 'requester']));
    const bad3 = await post({ item: 'shared-drive-access', requester: 'erin.employee@example.com', fields: { drive: 'moon', access: 'write', justification: 'x', colour: 'red' } });
    expect(bad3.status).toBe(400);
    const j3 = await bad3.json();
    const paths = j3.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['fields.drive', 'fields.colour', 'fields.justification']));
    expect(j3.fields.find((f: { path: string }) => f.path === 'fields.drive').message).toMatch(/choose one of/i);
    const bad4 = await post({ item: 'no-such-item', requester: 'erin.employee@example.com' });
    expect(bad4.status).toBe(400);
    expect(await count()).toBe(before);
  });

  it('creates a request once per idempotency key and shows it masked', async () => {
    const body = { item: 'payroll-change', requester: 'erin.employee@example.com', idempotencyKey: 'payroll-abc-123', fields: {} as Record<string, unknown> };
    const item = t.app.catalogue.get('payroll-change')!;
    // fill every field with a valid value for the bank-details path
    for (const f of item.fields) {
      if (f.type === 'choice') body.fields[f.name] = 'bank-details';
      else if (f.type === 'date') body.fields[f.name] = '2027-01-15';
      else if (f.name.toLowerCase().includes('iban')) body.fields[f.name] = 'DE89370400440532013000';
      else if (f.type === 'text') body.fields[f.name] = 'New bank account after moving';
    }
    const r1 = await post(body);
    const j1 = await r1.json();
    expect(r1.status).toBe(201);
    expect(j1.ref).toMatch(/^REQ-\d{6}$/);
    const r2 = await post(body);
    expect(r2.status).toBe(200);
    expect((await r2.json()).ref).toBe(j1.ref);
    const g = await fetch(`${t.base}/api/requests/${j1.ref}`, { headers: { 'x-api-key': 'test-key' } });
    const shown = await g.json();
    expect(shown.status).toBe('awaiting-approval');
    expect(JSON.stringify(shown)).not.toContain('DE89370400440532013000');
    expect(JSON.stringify(shown)).toContain('3000'); // last 4 digits stay visible
    expect((await fetch(`${t.base}/api/requests/REQ-999999`, { headers: { 'x-api-key': 'test-key' } })).status).toBe(404);
  });

  it('refuses an ineligible requester with the reason', async () => {
    const r = await post({ item: 'onboarding', requester: 'erin.employee@example.com', fields: {} });
    expect(r.status).toBe(403);
    expect((await r.json()).message).toMatch(/can only be requested by/);
  });

  it('reports database and job runner health', async () => {
    const h = await eventually(async () => { const r = await fetch(`${t.base}/healthz`); return r.status === 200 ? r.json() : undefined; });
    expect(h).toMatchObject({ status: 'ok', database: { ok: true }, jobs: { ok: true, running: true } });
  });
});
