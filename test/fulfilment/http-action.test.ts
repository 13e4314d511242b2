/**
 * http.request steps against a faked backend (nock at the HTTP boundary): templated body, our
 * idempotency key, retry on 503, and fail-over to a person on a 4xx.
 */
import nock from 'nock';
import { onlyLoopback, restoreNet } from '../support/net.js';
import { startTestApp, eventually, type TestApp } from '../support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  onlyLoopback();
  t = await startTestApp({ env: { LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent' } });
});
afterAll(async () => {
  await t?.close();
  restoreNet();
});

async function submitReset(): Promise<{ id: string; ref: string }> {
  const item = t.app.catalogue.get('password-reset')!;
  const answers: Record<string, unknown> = {};
  for (const f of item.fields) {
    if (f.type === 'choice') answers[f.name] = (f.options![0] as { value?: string }).value ?? f.options![0];
    else if (f.type === 'boolean') answers[f.name] = true;
    else if (f.type === 'text') answers[f.name] = 'locked out after holiday';
  }
  const { request } = await t.app.requests.submit({ item, requesterEmail: 'erin.employee@example.com', answers, channel: 'test' });
  return request;
}

const status = async (id: string) => (await t.app.db.query('SELECT status FROM requests WHERE id = $1', [id])).rows[0]!.status as string;

it('retries a 503 and succeeds with the same idempotency key and the templated body', async () => {
  const keys: string[] = [];
  const bodies: unknown[] = [];
  const scope = nock('https://idm.example.com')
    .post('/api/password-resets').reply(function (_uri, body) { keys.push(String(this.req.headers['idempotency-key'])); bodies.push(body); return [503, 'busy']; })
    .post('/api/password-resets').reply(function (_uri, body) { keys.push(String(this.req.headers['idempotency-key'])); bodies.push(body); return [202, { queued: true }]; });
  const r = await submitReset();
  await eventually(async () => (await status(r.id)) === 'fulfilled', 30000, 'fulfilled');
  expect(scope.isDone()).toBe(true);
  expect(keys).toEqual([`${r.id}:reset`, `${r.id}:reset`]);
  expect(bodies[1]).toMatchObject({ user: 'erin.employee@example.com', reference: r.ref });
  const step = (await t.app.db.query(`SELECT status, attempts, output FROM fulfilment_steps WHERE request_id = $1 AND step_id = 'reset'`, [r.id])).rows[0]!;
  expect(step).toMatchObject({ status: 'done', attempts: 2, output: { status: 202, body: { queued: true } } });
});

it('fails over to a fulfiller case on a 400, without retrying', async () => {
  const scope = nock('https://idm.example.com').post('/api/password-resets').once().reply(400, { error: 'unknown user' });
  const r = await submitReset();
  await eventually(async () => (await status(r.id)) === 'failed', 30000, 'failed');
  expect(scope.isDone()).toBe(true);
  const step = (await t.app.db.query(`SELECT status, attempts, error FROM fulfilment_steps WHERE request_id = $1 AND step_id = 'reset'`, [r.id])).rows[0]!;
  expect(step.status).toBe('failed');
  expect(step.attempts).toBe(1);
  expect(step.error).toMatch(/answered 400/);
  const c = (await t.app.db.query('SELECT queue, priority, status, title FROM cases WHERE request_id = $1', [r.id])).rows;
  expect(c).toEqual([{ queue: 'fulfilment', priority: 'high', status: 'open', title: expect.stringContaining(r.ref) }]);
  const told = (await t.app.db.query(`SELECT body->>'text' AS text FROM messages WHERE person_email = 'erin.employee@example.com' AND idempotency_key = $1`, [`${r.id}:failed`])).rows;
  expect(told[0]!.text).toMatch(/A fulfiller has been given case CASE-\d{6}/);
});
