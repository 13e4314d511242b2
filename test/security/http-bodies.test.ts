/**
 * Every endpoint that takes a body, at its limit: oversized bodies get 413, malformed JSON 400,
 * forms with too many fields 413, unsupported encodings 415, bodies of the wrong type the endpoint's
 * own 400 — each with `error` and `message`, never a 500, and nothing stored (row counts before and
 * after). Limits: JSON 256 kB (server.ts), dashboard and approval-link forms 8 kB with 10 and 5
 * fields, Slack 1 MB and Teams 256 kB (their own suites).
 */
import { onlyLoopback, restoreNet } from '../support/net.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { rowCounts } from '../support/security/counts.js';

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  t = await startTestApp({ env: {
    TEAMS_ENABLED: 'false', API_KEYS: 'test-key',
    // the e-mail channel for its approval-link form (outbound to a closed port: nothing is sent here)
    EMAIL_ADDRESS: 'itdesk@example.com', EMAIL_SMTP_HOST: '127.0.0.1', EMAIL_SMTP_PORT: '9', EMAIL_LISTEN_PORT: '0', EMAIL_PUBLIC_URL: 'http://errand.test',
  } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

type Kind = 'json' | 'form';
const KEY = { authorization: 'Bearer test-key' };
const TOKEN = 'A'.repeat(43);
const ENDPOINTS: { method: string; path: string; kind: Kind; limit: number; fields?: number; headers?: Record<string, string> }[] = [
  { method: 'POST', path: '/api/requests', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/api/requests/REQ-000001/steps/create/complete', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/api/delegations', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/api/access-reviews', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/api/grants/00000000-0000-0000-0000-000000000000/revoke', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'PATCH', path: '/admin/api/failures/1/category', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/admin/api/licences', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'PATCH', path: '/admin/api/licences/tableau', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/admin/api/catalogue/rollback', kind: 'json', limit: 256 * 1024, headers: KEY },
  { method: 'POST', path: '/web/messages', kind: 'json', limit: 256 * 1024 },
  { method: 'POST', path: '/admin/login', kind: 'form', limit: 8 * 1024, fields: 10 },
  { method: 'POST', path: '/admin/login/link', kind: 'form', limit: 8 * 1024, fields: 10 },
  { method: 'POST', path: '/admin/login/link/consume', kind: 'form', limit: 8 * 1024, fields: 10 },
  { method: 'POST', path: `/email/approval/${TOKEN}`, kind: 'form', limit: 8 * 1024, fields: 5 },
];

async function send(e: (typeof ENDPOINTS)[number], body: string, o: { type?: string; headers?: Record<string, string> } = {}) {
  const r = await fetch(`${t.base}${e.path}`, { method: e.method, headers: { 'content-type': o.type ?? (e.kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'), ...e.headers, ...o.headers }, body });
  const text = await r.text();
  let json: Record<string, unknown> | undefined;
  try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* an HTML page */ }
  return { status: r.status, text, json };
}

const label = (e: (typeof ENDPOINTS)[number]) => `${e.method} ${e.path.replace(TOKEN, '<token>')}`;

describe.each(ENDPOINTS.map((e) => [label(e), e] as const))('%s', (_l, e) => {
  const oversized = e.kind === 'json' ? JSON.stringify({ text: 'x'.repeat(e.limit + 10) }) : `email=${'x'.repeat(e.limit + 10)}`;
  const fits = e.kind === 'json' ? JSON.stringify({ text: 'x'.repeat(e.limit - 1024) }) : `email=${'x'.repeat(e.limit - 1024)}`;

  it(`answers a body over its limit (${e.limit / 1024} kB) with 413 naming the limit, one just under it with no 413/500`, async () => {
    const before = await rowCounts(t.app.db);
    const big = await send(e, oversized);
    expect(big.status).toBe(413);
    expect(big.json).toEqual({ error: 'too_large', message: `The body is larger than ${e.limit / 1024} kB.` });
    const ok = await send(e, fits);
    expect(ok.status).not.toBe(413);
    expect(ok.status).toBeLessThan(500);
    expect((await rowCounts(t.app.db)).requests).toBe(before.requests);
    expect((await rowCounts(t.app.db)).inbound_dedupe).toBe(before.inbound_dedupe);
  });

  it('answers malformed bodies with a 4xx, an error and a message, and stores nothing', async () => {
    const before = await rowCounts(t.app.db);
    const bad = e.kind === 'json'
      ? [['{"text": "hi"', 400], ['{"a":1}}', 400], ["{'single': 'quotes'}", 400], ['\u0000', 400], ['{"__proto__": {"admin": true}, "text": 1}', 'any 4xx']] as const
      : [['%E0%A4%A', 400], [Array.from({ length: (e.fields ?? 10) + 1 }, (_, i) => `f${i}=1`).join('&'), 413]] as const;
    for (const [body, status] of bad) {
      const r = await send(e, body);
      if (status === 'any 4xx') {
        expect({ body, status: r.status >= 400 && r.status < 500 }).toEqual({ body, status: true });
        expect(({} as Record<string, unknown>).admin).toBeUndefined(); // no prototype pollution (the server runs in this process)
      } else if (e.kind === 'json' || status === 413) {
        expect({ body, status: r.status }).toEqual({ body, status });
        expect(r.json).toMatchObject({ error: expect.any(String), message: expect.any(String) });
      } else {
        expect({ body, status: r.status < 500 && r.status >= 400 }).toEqual({ body, status: true });
      }
    }
    for (const [type, headers] of [['application/json; charset=klingon', {}], ['application/json', { 'content-encoding': 'snappy' }]] as const) {
      const r = await send(e, e.kind === 'json' ? '{}' : 'a=1', { type: e.kind === 'json' ? type : type.replace('application/json', 'application/x-www-form-urlencoded'), headers });
      expect({ type, headers, status: r.status }).toEqual({ type, headers, status: 415 });
      expect(r.json).toMatchObject({ error: 'unsupported_encoding', message: expect.any(String) });
    }
    // a body of another type than the endpoint reads: the endpoint's own refusal, not a crash
    const other = await send(e, e.kind === 'json' ? 'text=hello' : '{"email":"x"}', { type: e.kind === 'json' ? 'application/x-www-form-urlencoded' : 'application/json' });
    expect(other.status).toBeGreaterThanOrEqual(400);
    expect(other.status).toBeLessThan(500);
    const plain = await send(e, 'hello', { type: 'text/plain' });
    expect(plain.status).toBeGreaterThanOrEqual(400);
    expect(plain.status).toBeLessThan(500);
    expect(await rowCounts(t.app.db)).toMatchObject({ requests: before.requests, inbound_dedupe: before.inbound_dedupe, messages: before.messages, conversations: before.conversations, approvals: before.approvals });
  });
});
