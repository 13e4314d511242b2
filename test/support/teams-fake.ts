/**
 * Microsoft Teams at the HTTP boundary: a test RSA key whose public half is served as Bot
 * Framework OpenID metadata (nock), channel tokens signed with it (real JWT validation in the
 * adapter), the bot's token request and the connector API faked and recorded.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import nock from 'nock';

export const APP_ID = '11111111-2222-3333-4444-555555555555';
export const SERVICE_URL = 'https://smba.test/teams/';
export const TENANT = 'tenant-1';
export const TRIAGE_CONV = '19:triage@thread.tacv2';
const KID = 'errand-test-key';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

export const TEAMS_USERS: Record<string, { email: string; aad: string; conv: string }> = {
  '29:erin': { email: 'erin.employee@example.com', aad: 'aad-erin', conv: 'a:erin-personal' },
  '29:mark': { email: 'mark.manager@example.com', aad: 'aad-mark', conv: 'a:mark-personal' },
  '29:tara': { email: 'tara.triage@example.com', aad: 'aad-tara', conv: 'a:tara-personal' },
  '29:olga': { email: 'olga.owner@example.com', aad: 'aad-olga', conv: 'a:olga-personal' },
};

export const teamsEnv = (): Record<string, string> => ({
  MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'test-app-password', MICROSOFT_APP_TYPE: 'MultiTenant', TEAMS_TRIAGE_CHANNEL: TRIAGE_CONV,
});

/** Statuses to answer the next connector sends with, before answering normally. */
export const connectorFailures: number[] = [];

export interface ConnectorCall { method: string; conversation: string; activityId?: string; body: Record<string, unknown> }

/** Serves OpenID metadata and keys, the token endpoint and the connector; returns recorded connector calls. */
export function fakeTeams(): ConnectorCall[] {
  const calls: ConnectorCall[] = [];
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: KID, use: 'sig', alg: 'RS256', endorsements: ['msteams'] };
  nock('https://login.botframework.com').persist()
    .get('/v1/.well-known/openidconfiguration').reply(200, { issuer: 'https://api.botframework.com', jwks_uri: 'https://login.botframework.com/v1/.well-known/keys', id_token_signing_alg_values_supported: ['RS256'], token_endpoint_auth_methods_supported: ['private_key_jwt'] })
    .get('/v1/.well-known/keys').reply(200, { keys: [jwk] });
  nock('https://login.microsoftonline.com').persist()
    .post((uri) => uri.includes('/oauth2/v2.0/token')).reply(200, { token_type: 'Bearer', expires_in: 3600, ext_expires_in: 3600, access_token: 'bot-access-token' })
    .get(/.*/).reply(200, { tenant_discovery_endpoint: 'https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration', 'api-version': '1.1', metadata: [] });
  let n = 0;
  const conv = (uri: string) => decodeURIComponent(/\/v3\/conversations\/([^/]+)/.exec(uri)?.[1] ?? '');
  nock('https://smba.test').persist()
    .post(/\/teams\/v3\/conversations\/[^/]+\/activities(\/[^/]+)?$/).reply(function (uri, body) {
      const replyTo = /\/activities\/([^/]+)$/.exec(uri)?.[1];
      calls.push({ method: 'send', conversation: conv(uri), ...(replyTo ? { activityId: decodeURIComponent(replyTo) } : {}), body: body as Record<string, unknown> });
      const fail = connectorFailures.shift();
      if (fail) return [fail, { error: { code: 'Throttled', message: 'slow down' } }, { 'retry-after': '1' }];
      n += 1;
      return [200, { id: `act-${n}` }];
    })
    .put(/\/teams\/v3\/conversations\/[^/]+\/activities\/[^/]+$/).reply(function (uri, body) {
      calls.push({ method: 'update', conversation: conv(uri), activityId: decodeURIComponent(/\/activities\/([^/]+)$/.exec(uri)![1]!), body: body as Record<string, unknown> });
      return [200, { id: 'updated' }];
    })
    .get(/\/teams\/v3\/conversations\/[^/]+\/members\/[^/]+$/).reply(function (uri) {
      const id = decodeURIComponent(/\/members\/([^/]+)$/.exec(uri)![1]!);
      const u = TEAMS_USERS[id];
      return u ? [200, { id, name: u.email, aadObjectId: u.aad, email: u.email, userPrincipalName: u.email, tenantId: TENANT }] : [404, { error: { code: 'MemberNotFoundInConversation' } }];
    })
    .post('/teams/v3/conversations').reply(function (_uri, body) {
      const member = ((body as { members?: { id: string }[] }).members ?? [])[0]?.id ?? '';
      calls.push({ method: 'create', conversation: '', body: body as Record<string, unknown> });
      return [200, { id: TEAMS_USERS[member]?.conv ?? `a:new-${member}` }];
    });
  return calls;
}

/** A channel token as the Bot Framework signs it (overridable to forge bad ones). */
export function channelToken(o: { aud?: string; serviceUrl?: string; key?: KeyObject; kid?: string; iss?: string } = {}): string {
  return jwt.sign({ serviceurl: o.serviceUrl ?? SERVICE_URL }, (o.key ?? privateKey).export({ format: 'pem', type: 'pkcs8' }) as string, {
    algorithm: 'RS256', keyid: o.kid ?? KID, issuer: o.iss ?? 'https://api.botframework.com', audience: o.aud ?? APP_ID, expiresIn: 3600,
  });
}
export const strangerKey = stranger.privateKey;

let seq = 0;
/** A personal-chat (or channel) activity from a user. */
export function activity(from: string, extra: Record<string, unknown>): Record<string, unknown> {
  const u = TEAMS_USERS[from]!;
  return {
    id: `act-in-${Date.now()}-${seq++}`, timestamp: new Date().toISOString(), channelId: 'msteams', serviceUrl: SERVICE_URL,
    from: { id: from, name: u.email.split('@')[0], aadObjectId: u.aad }, recipient: { id: `28:${APP_ID}`, name: 'errand' },
    conversation: { id: u.conv, conversationType: 'personal', tenantId: TENANT }, channelData: { tenant: { id: TENANT } }, ...extra,
  };
}
export const message = (from: string, text: string, extra: Record<string, unknown> = {}) => activity(from, { type: 'message', text, ...extra });
export const execute = (from: string, verb: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  activity(from, { type: 'invoke', name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' }, ...extra });

/** POSTs an activity to /api/messages with a channel token; returns status and JSON body. */
export async function post(base: string, act: Record<string, unknown>, token: string | null = channelToken()): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(act) });
  const text = await r.text();
  let body: unknown = text;
  try { body = text ? JSON.parse(text) : null; } catch { /* text */ }
  return { status: r.status, body };
}

/** The Adaptive Card inside a recorded send/update (or invoke response). */
export function cardOf(x: { body?: Record<string, unknown> } | Record<string, unknown> | undefined): any {
  const b = (x && 'body' in x ? x.body : x) as { attachments?: { content: unknown }[]; value?: unknown } | undefined;
  return b?.attachments?.[0]?.content ?? b?.value;
}
/** Action.Execute data of every action in a card. */
export const cardActions = (card: any): { title: string; verb: string; data: Record<string, unknown> }[] => (card?.actions ?? []).filter((a: any) => a.type === 'Action.Execute');
export const cardText = (card: any): string => JSON.stringify(card ?? {});
