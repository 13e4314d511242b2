/** The `slack` connector (channel requests) against the Slack Web API faked with nock. */
import nock from 'nock';
import { createSlackConnector } from '../../src/channels/slack/slack-connector.js';
import { ConnectorError } from '../../src/fulfilment/connectors/connector.port.js';

const config = { botToken: 'xoxb-test', signingSecret: 'x'.repeat(10), appToken: undefined, triageChannel: undefined, apiUrl: 'https://slack-conn.test/api/' };
const ctx = { idempotencyKey: 'k', signal: AbortSignal.timeout(10_000) };
let c: ReturnType<typeof createSlackConnector>;

beforeAll(() => { nock.disableNetConnect(); c = createSlackConnector({ ...config }); });
afterAll(() => { nock.cleanAll(); nock.enableNetConnect(); nock.restore(); });
afterEach(() => nock.cleanAll());

const form = (b: unknown): Record<string, string> => (typeof b === 'string' ? Object.fromEntries(new URLSearchParams(b)) : (b as Record<string, string>));

it('creates a channel, and finds it when the name is taken', async () => {
  const api = nock('https://slack-conn.test')
    .post('/api/conversations.create', (b) => form(b).name === 'proj-apollo' && form(b).is_private === 'false').reply(200, { ok: true, channel: { id: 'C100', name: 'proj-apollo' } })
    .post('/api/conversations.create').reply(200, { ok: false, error: 'name_taken' })
    .post('/api/conversations.list').reply(200, { ok: true, channels: [{ id: 'C7', name: 'other' }], response_metadata: { next_cursor: 'p2' } })
    .post('/api/conversations.list', (b) => form(b).cursor === 'p2').reply(200, { ok: true, channels: [{ id: 'C100', name: 'proj-apollo' }], response_metadata: { next_cursor: '' } });
  expect(await c.operations.createChannel!({ name: 'Proj-Apollo' }, ctx)).toEqual({ channel: 'C100', created: true });
  expect(await c.operations.createChannel!({ name: 'proj-apollo' }, ctx)).toEqual({ channel: 'C100', created: false });
  expect(api.isDone()).toBe(true);
});

it('invites people by e-mail; already in the channel is a success', async () => {
  nock('https://slack-conn.test')
    .post('/api/users.lookupByEmail', (b) => form(b).email === 'erin.employee@example.com').reply(200, { ok: true, user: { id: 'UERIN' } })
    .post('/api/users.lookupByEmail', (b) => form(b).email === 'mark.manager@example.com').reply(200, { ok: true, user: { id: 'UMARK' } })
    .post('/api/conversations.invite', (b) => form(b).channel === 'C100' && form(b).users === 'UERIN,UMARK').reply(200, { ok: false, error: 'already_in_channel' });
  expect(await c.operations.inviteToChannel!({ channel: 'C100', people: 'erin.employee@example.com, mark.manager@example.com' }, ctx)).toEqual({ channel: 'C100', invited: 2 });
});

it('classifies failures: unknown person and bad names are permanent, Slack outages retryable', async () => {
  nock('https://slack-conn.test').post('/api/users.lookupByEmail').reply(200, { ok: false, error: 'users_not_found' });
  await expect(c.operations.inviteToChannel!({ channel: 'C1', people: ['nobody@example.com'] }, ctx)).rejects.toMatchObject({ retryable: false, message: expect.stringMatching(/nobody@example.com has no Slack account/) });
  await expect(c.operations.createChannel!({ name: 'Bad Name!' }, ctx)).rejects.toBeInstanceOf(ConnectorError);
  nock('https://slack-conn.test').post('/api/conversations.create').reply(200, { ok: false, error: 'service_unavailable' });
  await expect(c.operations.createChannel!({ name: 'later' }, ctx)).rejects.toMatchObject({ retryable: true });
});
