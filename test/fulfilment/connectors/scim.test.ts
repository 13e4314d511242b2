/**
 * SCIM connector against a SCIM 2.0 server played by nock: request bodies, media types and
 * headers as RFC 7643/7644 define them, idempotency by natural key, and status classification.
 */
import nock from 'nock';
import type { Connector, ConnectorCallContext } from '../../../src/fulfilment/connectors/connector.port.js';
import { ConnectorError } from '../../../src/fulfilment/connectors/connector.port.js';
import { createSecretResolver } from '../../../src/fulfilment/connectors/secrets.js';
import { parseRetryAfter, scimConnectorType } from '../../../src/fulfilment/connectors/scim/scim.connector.js';

const ORIGIN = 'https://idp.example.test';
const ROOT = '/scim/v2';
const TOKEN = 'scim-bearer-s3cret';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_JSON = { 'content-type': 'application/scim+json' };

/** Headers every request must carry; writes add the content type and the idempotency key. */
const readHeaders = { authorization: `Bearer ${TOKEN}`, accept: 'application/scim+json' };
const writeHeaders = (key: string) => ({ ...readHeaders, 'content-type': 'application/scim+json', 'idempotency-key': key });

function connector(extra: Record<string, unknown> = {}): Connector {
  const config = scimConnectorType.configSchema.parse({ baseUrl: `${ORIGIN}${ROOT}`, token: 'env:SCIM_TOKEN', timeoutMs: 2_000, ...extra });
  return scimConnectorType.create('idp', config, createSecretResolver({ env: { SCIM_TOKEN: TOKEN } })) as Connector;
}
const ctx = (key = 'req-1:step-1', signal: AbortSignal = new AbortController().signal): ConnectorCallContext => ({ idempotencyKey: key, signal });
const op = (c: Connector, name: string) => c.operations[name]!;

const alice = {
  schemas: [USER], id: '2819c223-7f76-453a-919d-413861904646', userName: 'alice@example.com', active: true,
  name: { givenName: 'Alice', familyName: 'Ng' }, meta: { resourceType: 'User', location: `${ORIGIN}${ROOT}/Users/2819c223-7f76-453a-919d-413861904646` },
};
const vpn = (members: { value: string; display?: string }[]) => ({
  schemas: [GROUP], id: 'e9e30dba-f08f-4109-8486-d5c6a331660a', displayName: 'VPN Users', members, meta: { resourceType: 'Group' },
});
const list = (...resources: unknown[]) => ({ schemas: [LIST], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources });

/** The server's search endpoint for one filter, with the read headers checked. */
function search(endpoint: 'Users' | 'Groups', filter: string) {
  return nock(ORIGIN, { reqheaders: readHeaders, badheaders: ['idempotency-key'] }).get(`${ROOT}/${endpoint}`).query({ filter });
}

async function failure(p: Promise<unknown>): Promise<ConnectorError> {
  try { await p; } catch (e) { expect(e).toBeInstanceOf(ConnectorError); return e as ConnectorError; }
  throw new Error('expected a ConnectorError');
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1/);
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
});

describe('config', () => {
  it('is strict and takes the token as a secret reference only', () => {
    const s = scimConnectorType.configSchema;
    expect(s.safeParse({ baseUrl: `${ORIGIN}${ROOT}`, token: TOKEN }).success).toBe(false);
    expect(s.safeParse({ baseUrl: `${ORIGIN}${ROOT}`, token: 'env:X', extra: 1 }).success).toBe(false);
    expect(s.parse({ baseUrl: `${ORIGIN}${ROOT}`, token: 'vault:secret/data/idp#token' })).toMatchObject({ timeoutMs: 10_000, deactivateMissingUser: 'error' });
  });
});

describe('createUser', () => {
  const input = { userName: 'alice@example.com', givenName: 'Alice', familyName: 'Ng', email: 'alice@example.com' };

  it('searches by userName, then POSTs a core User with the idempotency key', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(), SCIM_JSON);
    nock(ORIGIN, { reqheaders: writeHeaders('req-1:step-1') })
      .post(`${ROOT}/Users`, {
        schemas: [USER],
        userName: 'alice@example.com',
        name: { givenName: 'Alice', familyName: 'Ng' },
        displayName: 'Alice Ng',
        emails: [{ value: 'alice@example.com', type: 'work', primary: true }],
        active: true,
      })
      .reply(201, alice, { ...SCIM_JSON, location: alice.meta.location });
    await expect(op(connector(), 'createUser')(input, ctx())).resolves.toEqual({ id: alice.id, created: true });
  });

  it('returns the existing user without writing', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    await expect(op(connector(), 'createUser')(input, ctx())).resolves.toEqual({ id: alice.id, created: false });
  });

  it('treats a 409 uniqueness conflict (created meanwhile) as already done', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(), SCIM_JSON);
    nock(ORIGIN).post(`${ROOT}/Users`).reply(409, { schemas: [ERROR], status: '409', scimType: 'uniqueness', detail: 'userName exists' });
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    await expect(op(connector(), 'createUser')(input, ctx())).resolves.toEqual({ id: alice.id, created: false });
  });

  it('escapes quotes in the filter value as a JSON string', async () => {
    search('Users', 'userName eq "o\\"brien"').reply(200, list(alice), SCIM_JSON);
    await expect(op(connector(), 'createUser')({ ...input, userName: 'o"brien' }, ctx())).resolves.toMatchObject({ created: false });
  });

  it('rejects invalid input without calling the server', async () => {
    const e = await failure(op(connector(), 'createUser')({ userName: 'bob', givenName: 'Bob' }, ctx()));
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/scim.createUser: invalid input/);
  });
});

describe('group membership', () => {
  it('adds a member with a PatchOp "add" on members', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    search('Groups', 'displayName eq "VPN Users"').reply(200, list(vpn([{ value: 'someone-else' }])), SCIM_JSON);
    nock(ORIGIN, { reqheaders: writeHeaders('req-1:step-2') })
      .patch(`${ROOT}/Groups/${vpn([]).id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: alice.id }] }] })
      .reply(204);
    await expect(op(connector(), 'addToGroup')({ userName: 'alice@example.com', group: 'VPN Users' }, ctx('req-1:step-2')))
      .resolves.toEqual({ userId: alice.id, groupId: vpn([]).id, changed: true });
  });

  it('does nothing when the user is already a member', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    search('Groups', 'displayName eq "VPN Users"').reply(200, list(vpn([{ value: alice.id, display: 'Alice Ng' }])), SCIM_JSON);
    await expect(op(connector(), 'addToGroup')({ userName: 'alice@example.com', group: 'VPN Users' }, ctx()))
      .resolves.toEqual({ userId: alice.id, groupId: vpn([]).id, changed: false });
  });

  it('fails without retry when the group does not exist', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    search('Groups', 'displayName eq "Nope"').reply(200, list(), SCIM_JSON);
    const e = await failure(op(connector(), 'addToGroup')({ userName: 'alice@example.com', group: 'Nope' }, ctx()));
    expect(e).toMatchObject({ retryable: false, status: 404 });
    expect(e.message).toMatch(/no group with displayName "Nope"/);
  });

  it('removes a member with a PatchOp "remove" and a value filter path', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    search('Groups', 'displayName eq "VPN Users"').reply(200, list(vpn([{ value: alice.id }])), SCIM_JSON);
    nock(ORIGIN, { reqheaders: writeHeaders('req-1:step-3') })
      .patch(`${ROOT}/Groups/${vpn([]).id}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${alice.id}"]` }] })
      .reply(200, vpn([]), SCIM_JSON);
    await expect(op(connector(), 'removeFromGroup')({ userName: 'alice@example.com', group: 'VPN Users' }, ctx('req-1:step-3')))
      .resolves.toEqual({ userId: alice.id, groupId: vpn([]).id, changed: true });
  });

  it('does nothing when removing a non-member', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    search('Groups', 'displayName eq "VPN Users"').reply(200, list(vpn([])), SCIM_JSON);
    await expect(op(connector(), 'removeFromGroup')({ userName: 'alice@example.com', group: 'VPN Users' }, ctx()))
      .resolves.toMatchObject({ changed: false });
  });
});

describe('deactivateUser', () => {
  it('PATCHes active to false', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list(alice), SCIM_JSON);
    nock(ORIGIN, { reqheaders: writeHeaders('req-9:offboard') })
      .patch(`${ROOT}/Users/${alice.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'active', value: false }] })
      .reply(200, { ...alice, active: false }, SCIM_JSON);
    await expect(op(connector(), 'deactivateUser')({ userName: 'alice@example.com' }, ctx('req-9:offboard')))
      .resolves.toEqual({ id: alice.id, changed: true });
  });

  it('does nothing for an already inactive user', async () => {
    search('Users', 'userName eq "alice@example.com"').reply(200, list({ ...alice, active: false }), SCIM_JSON);
    await expect(op(connector(), 'deactivateUser')({ userName: 'alice@example.com' }, ctx())).resolves.toEqual({ id: alice.id, changed: false });
  });

  it('fails without retry for an unknown user, or succeeds when configured to ignore it', async () => {
    search('Users', 'userName eq "ghost@example.com"').reply(200, list(), SCIM_JSON);
    const e = await failure(op(connector(), 'deactivateUser')({ userName: 'ghost@example.com' }, ctx()));
    expect(e).toMatchObject({ retryable: false, status: 404 });

    search('Users', 'userName eq "ghost@example.com"').reply(200, list(), SCIM_JSON);
    await expect(op(connector({ deactivateMissingUser: 'ignore' }), 'deactivateUser')({ userName: 'ghost@example.com' }, ctx()))
      .resolves.toEqual({ id: null, changed: false });
  });
});

describe('status classification', () => {
  const create = () => op(connector(), 'createUser')({ userName: 'bob@example.com', givenName: 'Bob', familyName: 'Li', email: 'bob@example.com' }, ctx());
  const usersSearch = () => search('Users', 'userName eq "bob@example.com"');

  it('500 is retryable', async () => {
    usersSearch().reply(500, { schemas: [ERROR], status: '500', detail: 'database unavailable' }, SCIM_JSON);
    const e = await failure(create());
    expect(e).toMatchObject({ retryable: true, status: 500, retryAfterMs: undefined });
    expect(e.message).toMatch(/idp: GET \/Users answered 500: database unavailable/);
  });

  it('429 is retryable after Retry-After (seconds or HTTP date)', async () => {
    usersSearch().reply(429, { schemas: [ERROR], status: '429', detail: 'slow down' }, { ...SCIM_JSON, 'retry-after': '7' });
    expect(await failure(create())).toMatchObject({ retryable: true, status: 429, retryAfterMs: 7000 });
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });

  it('400 with scimType is not retryable and carries the detail', async () => {
    usersSearch().reply(200, list(), SCIM_JSON);
    nock(ORIGIN).post(`${ROOT}/Users`)
      .reply(400, { schemas: [ERROR], status: '400', scimType: 'invalidValue', detail: 'Attribute emails is malformed' }, SCIM_JSON);
    const e = await failure(create());
    expect(e).toMatchObject({ retryable: false, status: 400 });
    expect(e.message).toBe('idp: POST /Users answered 400: invalidValue: Attribute emails is malformed');
  });

  it('never puts the bearer token into a message', async () => {
    usersSearch().reply(401, { schemas: [ERROR], status: '401', detail: `token ${TOKEN} is expired` }, SCIM_JSON);
    const e = await failure(create());
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('token [redacted] is expired');
    expect(e.message).not.toContain(TOKEN);
  });

  it('a connection reset is retryable', async () => {
    usersSearch().replyWithError({ code: 'ECONNRESET', message: 'socket hang up' });
    const e = await failure(create());
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/idp: GET \/Users: /);
  });

  it('a timeout of the step signal is retryable', async () => {
    usersSearch().delay(500).reply(200, list(), SCIM_JSON);
    const e = await failure(op(connector(), 'createUser')(
      { userName: 'bob@example.com', givenName: 'Bob', familyName: 'Li', email: 'bob@example.com' }, ctx('k', AbortSignal.timeout(100))));
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(/timed out/);
  });

  it('the connector timeout applies too', async () => {
    usersSearch().delay(500).reply(200, list(), SCIM_JSON);
    const c = connector({ timeoutMs: 100 });
    const e = await failure(op(c, 'createUser')({ userName: 'bob@example.com', givenName: 'Bob', familyName: 'Li', email: 'bob@example.com' }, ctx()));
    expect(e).toMatchObject({ retryable: true });
  });
});

describe('check', () => {
  it('reads /ServiceProviderConfig', async () => {
    nock(ORIGIN, { reqheaders: readHeaders }).get(`${ROOT}/ServiceProviderConfig`)
      .reply(200, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'], patch: { supported: true }, filter: { supported: true, maxResults: 100 } }, SCIM_JSON);
    await expect(connector().check!(new AbortController().signal)).resolves.toBeUndefined();
  });

  it('throws when the server refuses', async () => {
    nock(ORIGIN).get(`${ROOT}/ServiceProviderConfig`).reply(401, { schemas: [ERROR], status: '401', detail: 'bad token' }, SCIM_JSON);
    expect(await failure(connector().check!(new AbortController().signal))).toMatchObject({ retryable: false, status: 401 });
  });
});
