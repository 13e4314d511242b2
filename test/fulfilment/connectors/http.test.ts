/**
 * The generic http connector against backends faked with nock, asserting the exact requests:
 * templated paths, JSONata request/response mapping, auth headers, OAuth2 token caching and refresh,
 * failure classification (retryable, Retry-After, body excerpts), secret masking and config errors.
 */
import nock from 'nock';
import { ConnectorError, type Connector, type SecretResolver } from '../../../src/fulfilment/connectors/connector.port.js';
import { createHttpConnectorType, httpConnectorType } from '../../../src/fulfilment/connectors/http/http.connector.js';
import { HttpConnectorConfigError } from '../../../src/fulfilment/connectors/http/http.config.js';

const API = 'https://idm.example.com';
const LOGIN = 'https://login.example.com';
const SECRETS: Record<string, string> = { 'env:IDM_KEY': 'k3y-S3cr3t-value', 'env:IDM_PASSWORD': 'p@ss w0rd!', 'vault:idm#client': 'cl1ent s3cret+/=' };
const secrets: SecretResolver = async (ref) => {
  const v = SECRETS[ref];
  if (v === undefined) throw new Error(`no secret ${ref}`);
  return v;
};
const ctx = (signal: AbortSignal = new AbortController().signal) => ({ idempotencyKey: 'req-7:provision', signal });

interface Seen { method: string; uri: string; headers: Record<string, string>; body: unknown }
/** A nock reply function recording what arrived. */
const record = (seen: Seen[], status: number, body?: nock.Body, headers?: Record<string, string>) =>
  function (this: nock.ReplyFnContext, uri: string, reqBody: nock.Body): nock.ReplyFnResult {
    seen.push({ method: this.req.method, uri, headers: { ...this.req.headers }, body: reqBody === '' ? undefined : reqBody });
    return headers ? [status, body ?? '', headers] : [status, body ?? ''];
  };

async function make(config: Record<string, unknown>, type = httpConnectorType): Promise<Connector> {
  return type.create('idm', type.configSchema.parse({ baseUrl: `${API}/v1`, ...config }), secrets);
}
/** The ConnectorError a call rejects with. */
async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  const e = await p.then(() => null, (err: unknown) => err);
  expect(e).toBeInstanceOf(ConnectorError);
  return e as ConnectorError;
}
const op = (c: Connector, name: string) => c.operations[name]!;

beforeAll(() => { nock.disableNetConnect(); nock.enableNetConnect('127.0.0.1'); });
afterEach(() => { expect(nock.pendingMocks()).toEqual([]); nock.cleanAll(); });
afterAll(() => { nock.cleanAll(); nock.enableNetConnect(); nock.restore(); });

describe('operations', () => {
  const users = {
    headers: { 'x-tenant': 'acme' },
    operations: {
      updateUser: {
        method: 'PATCH', path: '/users/{{input.user.id}}/profile', query: { notify: '{{input.notify}}', source: 'errand', tag: '{{input.tags}}' },
        body: '{ "display_name": input.firstName & " " & input.lastName, "dept": $uppercase(input.department) }',
        response: '{ "userId": body.data.user_id, "email": body.data.attributes.mail, "groups": body.data.memberships.name, "created": status = 201 }',
      },
      getUser: { method: 'GET', path: '/users/{{input.id}}', response: '{ "found": true, "name": body.cn }' },
      deleteUser: { method: 'DELETE', path: '/users/{{input.id}}', notFoundIsSuccess: true },
      createTicket: { method: 'POST', path: '/tickets', body: '{ "title": input.title }', expectStatus: [201, 202] },
    },
  };

  it('renders the path and query, maps the body with JSONata and maps a differently shaped answer', async () => {
    const seen: Seen[] = [];
    nock(API).patch(/.*/).reply(record(seen, 201, { data: { user_id: 'u-42', attributes: { mail: 'erin@example.com' }, memberships: [{ name: 'staff' }, { name: 'vpn' }] } }));
    const c = await make(users);
    const out = await op(c, 'updateUser')({ user: { id: 'erin e/1' }, notify: true, tags: ['a', 'b'], firstName: 'Erin', lastName: 'Employee', department: 'sales' }, ctx());
    expect(out).toEqual({ userId: 'u-42', email: 'erin@example.com', groups: ['staff', 'vpn'], created: true });
    expect(seen).toEqual([{
      method: 'PATCH', uri: '/v1/users/erin%20e%2F1/profile?notify=true&source=errand&tag=a&tag=b',
      headers: expect.objectContaining({ 'idempotency-key': 'req-7:provision', 'content-type': 'application/json', accept: 'application/json', 'x-tenant': 'acme' }),
      body: { display_name: 'Erin Employee', dept: 'SALES' },
    }]);
  });

  it('sends reads without a body or idempotency key, leaving out a query value whose input is missing', async () => {
    const seen: Seen[] = [];
    nock(API).get('/v1/users/u-42').reply(record(seen, 200, { cn: 'Erin Employee' }));
    const c = await make(users);
    expect(await op(c, 'getUser')({ id: 'u-42' }, ctx())).toEqual({ found: true, name: 'Erin Employee' });
    expect(seen[0]!.headers['idempotency-key']).toBeUndefined();
    expect(seen[0]!.headers['content-type']).toBeUndefined();
    expect(seen[0]!.body).toBeUndefined();
  });

  it('treats 404 as success with notFoundIsSuccess, and as a non-retryable failure without it', async () => {
    const seen: Seen[] = [];
    nock(API).delete('/v1/users/gone').reply(record(seen, 404, { error: 'no such user' })).get('/v1/users/gone').reply(404, { error: 'no such user' });
    const c = await make(users);
    expect(await op(c, 'deleteUser')({ id: 'gone' }, ctx())).toEqual({ status: 404, notFound: true });
    expect(seen[0]!.headers['idempotency-key']).toBe('req-7:provision');
    const e = await failure(op(c, 'getUser')({ id: 'gone' }, ctx()));
    expect(e).toMatchObject({ retryable: false, status: 404 });
  });

  it('accepts only expectStatus when given, and refuses path values that would walk out', async () => {
    nock(API).post('/v1/tickets').reply(200, {});
    const c = await make(users);
    expect(await failure(op(c, 'createTicket')({ title: 'x' }, ctx()))).toMatchObject({ retryable: false, status: 200, message: expect.stringContaining('answered 200') });
    const e = await failure(op(c, 'getUser')({ id: '..' }, ctx()));
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/idm\.getUser: path needs input\.id/);
    expect((await failure(op(c, 'getUser')({}, ctx()))).message).toMatch(/input\.id, which is missing/);
  });

  it('offers a generic request operation that stays under baseUrl', async () => {
    const seen: Seen[] = [];
    nock(API).put('/v1/tickets/9?expand=all&dry=false').reply(record(seen, 200, { ok: 1 }));
    const c = await make({});
    expect(await op(c, 'request')({ method: 'PUT', path: '/tickets/9?expand=all', query: { dry: false }, body: { state: 'closed' } }, ctx()))
      .toEqual({ status: 200, body: { ok: 1 } });
    expect(seen[0]).toMatchObject({ method: 'PUT', body: { state: 'closed' }, headers: { 'idempotency-key': 'req-7:provision' } });
    expect((await failure(op(c, 'request')({ method: 'GET', path: '/../admin' }, ctx()))).message).toMatch(/leaves the connector's baseUrl/);
    expect((await failure(op(c, 'request')({ method: 'GET', path: '//evil.example.com/x' }, ctx()))).message).toMatch(/path: expected a path starting with \//);
  });

  it('check() GETs the health path and expects 2xx', async () => {
    nock(API).get('/v1/health').reply(204).get('/v1/health').reply(503, 'down');
    const c = await make({ healthPath: '/health' });
    await expect(c.check!(AbortSignal.timeout(5000))).resolves.toBeUndefined();
    expect(await failure(c.check!(AbortSignal.timeout(5000)))).toMatchObject({ retryable: true, message: 'idm.check: GET /v1/health answered 503: down' });
  });
});

describe('auth', () => {
  const ping = { operations: { ping: { method: 'POST', path: '/ping' } } };

  it('sends the API key in the configured header, and Basic credentials', async () => {
    const seen: Seen[] = [];
    nock(API).post('/v1/ping').reply(record(seen, 200)).post('/v1/ping').reply(record(seen, 200)).post('/v1/ping').reply(record(seen, 200));
    await op(await make({ ...ping, auth: { type: 'apiKey', key: 'env:IDM_KEY' } }), 'ping')({}, ctx());
    await op(await make({ ...ping, auth: { type: 'apiKey', header: 'Authorization', prefix: 'Bearer ', key: 'env:IDM_KEY' } }), 'ping')({}, ctx());
    await op(await make({ ...ping, auth: { type: 'basic', username: 'svc-errand', password: 'env:IDM_PASSWORD' } }), 'ping')({}, ctx());
    expect(seen[0]!.headers['x-api-key']).toBe('k3y-S3cr3t-value');
    expect(seen[1]!.headers.authorization).toBe('Bearer k3y-S3cr3t-value');
    expect(seen[2]!.headers.authorization).toBe(`Basic ${Buffer.from('svc-errand:p@ss w0rd!').toString('base64')}`);
  });

  describe('oauth2 client credentials', () => {
    const oauth = { ...ping, auth: { type: 'oauth2', tokenUrl: `${LOGIN}/oauth2/token`, clientId: 'errand', clientSecret: 'vault:idm#client', scope: 'users.write', audience: 'idm' } };
    const tokenForm = { grant_type: 'client_credentials', client_id: 'errand', client_secret: 'cl1ent s3cret+/=', scope: 'users.write', audience: 'idm' };
    const token = (access: string, expires = 3600) => nock(LOGIN).post('/oauth2/token', tokenForm).once().reply(200, { access_token: access, token_type: 'Bearer', expires_in: expires });

    it('fetches one token for several calls, concurrent or not', async () => {
      const seen: Seen[] = [];
      const t = token('tok-1');
      nock(API).post('/v1/ping').times(4).reply(record(seen, 200));
      const c = await make(oauth);
      await Promise.all([op(c, 'ping')({}, ctx()), op(c, 'ping')({}, ctx()), op(c, 'ping')({}, ctx())]);
      await op(c, 'ping')({}, ctx());
      expect(t.isDone()).toBe(true);
      expect(seen.map((s) => s.headers.authorization)).toEqual(Array(4).fill('Bearer tok-1'));
    });

    it('renews the token shortly before expires_in (injected clock)', async () => {
      let now = 1_000_000;
      const seen: Seen[] = [];
      token('tok-1', 60);
      nock(API).post('/v1/ping').times(3).reply(record(seen, 200));
      const c = await make(oauth, createHttpConnectorType({ now: () => now }));
      await op(c, 'ping')({}, ctx());
      now += 53_000; // 60 s lifetime, renewed 6 s early
      await op(c, 'ping')({}, ctx());
      token('tok-2', 60);
      now += 1_000;
      await op(c, 'ping')({}, ctx());
      expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-2']);
    });

    it('on a 401 refreshes the token and retries once', async () => {
      const seen: Seen[] = [];
      token('tok-1');
      token('tok-2');
      nock(API).post('/v1/ping').reply(record(seen, 401, { error: 'token revoked' })).post('/v1/ping').reply(record(seen, 200, { ok: true }));
      const c = await make(oauth);
      expect(await op(c, 'ping')({}, ctx())).toEqual({ status: 200, body: { ok: true } });
      expect(seen.map((s) => [s.headers.authorization, s.headers['idempotency-key']])).toEqual([['Bearer tok-1', 'req-7:provision'], ['Bearer tok-2', 'req-7:provision']]);
      token('tok-3');
      nock(API).post('/v1/ping').twice().reply(401, 'nope');
      expect(await failure(op(c, 'ping')({}, ctx()))).toMatchObject({ retryable: false, status: 401, message: 'idm.ping: POST /v1/ping answered 401: nope' });
    });

    it('a refused token request is not retryable and does not show the client secret', async () => {
      nock(LOGIN).post('/oauth2/token').reply((_uri, body) => [401, `invalid_client for ${String(body)}`]);
      const e = await failure(op(await make(oauth), 'ping')({}, ctx()));
      expect(e).toMatchObject({ retryable: false, status: 401 });
      expect(e.message).toMatch(/^idm\.ping: OAuth2 token request \(https:\/\/login\.example\.com\/oauth2\/token\) answered 401: invalid_client for .*client_secret=\*\*\*/);
      expect(e.message).not.toMatch(/cl1ent|s3cret/);
    });
  });
});

describe('failures', () => {
  const ping = { operations: { ping: { method: 'POST', path: '/ping' } } };

  it('5xx is retryable', async () => {
    nock(API).post('/v1/ping').reply(500, 'internal');
    expect(await failure(op(await make(ping), 'ping')({}, ctx()))).toMatchObject({ retryable: true, status: 500, retryAfterMs: undefined });
  });

  it('429 is retryable after Retry-After, in seconds or as an HTTP date', async () => {
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    nock(API).post('/v1/ping').reply(429, 'slow down', { 'Retry-After': '3' })
      .post('/v1/ping').reply(429, '', { 'Retry-After': new Date(now + 5_000).toUTCString() });
    const c = await make(ping, createHttpConnectorType({ now: () => now }));
    expect(await failure(op(c, 'ping')({}, ctx()))).toMatchObject({ retryable: true, status: 429, retryAfterMs: 3000 });
    expect(await failure(op(c, 'ping')({}, ctx()))).toMatchObject({ retryable: true, status: 429, retryAfterMs: 5000 });
  });

  it('400 is not retryable and quotes a short excerpt of the body', async () => {
    nock(API).post('/v1/ping').reply(400, { error: 'unknown user', detail: 'x'.repeat(500) });
    const e = await failure(op(await make(ping), 'ping')({}, ctx()));
    expect(e).toMatchObject({ retryable: false, status: 400 });
    expect(e.message).toMatch(/^idm\.ping: POST \/v1\/ping answered 400: \{"error":"unknown user","detail":"x+…$/);
    expect(e.message.length).toBeLessThan(260);
  });

  it('a reset connection is retryable', async () => {
    nock(API).post('/v1/ping').replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    expect(await failure(op(await make(ping), 'ping')({}, ctx()))).toMatchObject({ retryable: true, message: 'idm.ping: POST /v1/ping: network error: ECONNRESET socket hang up' });
  });

  it('the step signal and the connector timeout abort the call, retryably', async () => {
    nock(API).post('/v1/ping').delay(600).reply(200).post('/v1/ping').delay(600).reply(200);
    const e1 = await failure(op(await make(ping), 'ping')({}, ctx(AbortSignal.timeout(100))));
    expect(e1).toMatchObject({ retryable: true, message: 'idm.ping: POST /v1/ping: aborted (step timeout or cancellation)' });
    const e2 = await failure(op(await make({ ...ping, timeoutMs: 100 }), 'ping')({}, ctx()));
    expect(e2).toMatchObject({ retryable: true, message: 'idm.ping: POST /v1/ping: timed out after 100 ms' });
  });

  it('never shows a secret value in an error message', async () => {
    const echo = function (this: nock.ReplyFnContext): nock.ReplyFnResult { return [403, `denied: ${JSON.stringify(this.req.headers)}`]; };
    nock(API).post('/v1/ping').reply(echo).post('/v1/ping').reply(echo).post('/v1/ping').reply(echo);
    const keyed = await make({ ...ping, auth: { type: 'apiKey', key: 'env:IDM_KEY' } });
    const basic = await make({ ...ping, auth: { type: 'basic', username: 'svc', password: 'env:IDM_PASSWORD' } });
    const messages = [
      (await failure(op(keyed, 'ping')({}, ctx()))).message,
      (await failure(op(basic, 'ping')({}, ctx()))).message,
      (await failure(op(keyed, 'request')({ method: 'POST', path: '/ping', body: { note: 'k3y-S3cr3t-value' } }, ctx()))).message,
    ];
    for (const m of messages) {
      expect(m).toMatch(/answered 403: denied: .*\*\*\*/);
      for (const s of [...Object.values(SECRETS), Buffer.from('svc:p@ss w0rd!').toString('base64')]) expect(m).not.toContain(s);
    }
  });
});

describe('config', () => {
  const base = { baseUrl: `${API}/v1` };

  it('reports bad JSONata and a missing tokenUrl at the field, naming the operation', () => {
    const r = httpConnectorType.configSchema.safeParse({
      ...base,
      auth: { type: 'oauth2', clientId: 'errand', clientSecret: 'env:X' },
      operations: { createUser: { method: 'POST', path: '/users', body: '{ "name": input.name ' } },
    });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(expect.arrayContaining([
      expect.stringMatching(/^auth\.tokenUrl: expected an absolute http\(s\) URL/),
      expect.stringMatching(/^operations\.createUser\.body: not a valid JSONata expression over \{input\}/),
    ]));
  });

  it('create() refuses an unparsed bad config with a config error naming the field', async () => {
    const bad = { ...base, operations: { lookup: { method: 'GET', path: '/u/{{id}}', response: '$$.(' } } };
    const e = await Promise.resolve().then(() => httpConnectorType.create('idm', bad as never, secrets)).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(HttpConnectorConfigError);
    const [head, ...lines] = (e as Error).message.split('\n');
    expect(head).toBe('connector "idm" (http): invalid config:');
    expect(lines.sort()).toEqual([
      '  operations.lookup.path: expected placeholders of the form {{input.name}}, got {{id}}',
      expect.stringMatching(/^ {2}operations\.lookup\.response: not a valid JSONata expression over \{status, body, headers\} \(.+ at position \d+\)$/),
    ]);
  });

  it('refuses plain secrets, unknown keys and a redefined request operation; an unresolvable secret fails create()', async () => {
    const r = httpConnectorType.configSchema.safeParse({ ...base, retries: 3, auth: { type: 'apiKey', key: 'hunter2' }, operations: { request: { method: 'GET', path: '/' } } });
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual(expect.arrayContaining([
      ['auth.key', expect.stringMatching(/^expected a secret reference such as env:NAME/)],
      ['', 'Unrecognized key: "retries"'],
    ]));
    const e = await make({ auth: { type: 'basic', username: 'svc', password: 'env:MISSING' } }).then(() => null, (err: unknown) => err);
    expect((e as Error).message).toBe('connector "idm" (http): cannot resolve auth.password (env:MISSING): no secret env:MISSING');
    expect(httpConnectorType.configSchema.safeParse({ ...base, operations: { request: { method: 'GET', path: '/' } } }).error!.issues[0]!.message).toMatch(/built in/);
  });
});
