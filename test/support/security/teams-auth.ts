/**
 * Bot Framework tokens for the security tests: the OpenID key set is served with two keys of our
 * own, one endorsed for `msteams` and one endorsed only for `webchat`, so a correctly signed token
 * whose key is not endorsed for the activity's channel can be tested. Call `serveKeys()` before
 * `fakeTeams()` (nock answers with the first matching interceptor); then sign with `teamsToken`.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import nock from 'nock';
import { APP_ID, SERVICE_URL } from '../teams-fake.js';

const endorsed = generateKeyPairSync('rsa', { modulusLength: 2048 });
const webchatOnly = generateKeyPairSync('rsa', { modulusLength: 2048 });
const unknown = generateKeyPairSync('rsa', { modulusLength: 2048 });

export const KEYS = { endorsed: { kid: 'sec-msteams', key: endorsed.privateKey }, webchatOnly: { kid: 'sec-webchat', key: webchatOnly.privateKey }, unknown: { kid: 'sec-unknown', key: unknown.privateKey } };

const jwk = (k: { publicKey: KeyObject }, kid: string, endorsements: string[]) => ({ ...(k.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid, use: 'sig', alg: 'RS256', endorsements });

/** Serves our key set at the Bot Framework's keys endpoint (registered first, so it wins over fakeTeams'). */
export function serveKeys(): void {
  nock('https://login.botframework.com').persist().get('/v1/.well-known/keys').reply(200, {
    keys: [jwk(endorsed, KEYS.endorsed.kid, ['msteams']), jwk(webchatOnly, KEYS.webchatOnly.kid, ['webchat'])],
  });
}

export interface TokenOptions {
  key?: KeyObject; kid?: string; iss?: string; aud?: string; serviceUrl?: string | null;
  /** Seconds relative to now; negative = expired. */
  expiresIn?: number; notBefore?: number; algorithm?: jwt.Algorithm;
}

/** A channel token signed like the Bot Framework's, every claim overridable. */
export function teamsToken(o: TokenOptions = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: o.iss ?? 'https://api.botframework.com', aud: o.aud ?? APP_ID, iat: now - 60, exp: now + (o.expiresIn ?? 3600),
    ...(o.notBefore !== undefined ? { nbf: now + o.notBefore } : {}),
    ...(o.serviceUrl === null ? {} : { serviceurl: o.serviceUrl ?? SERVICE_URL }),
  };
  return jwt.sign(claims, (o.key ?? KEYS.endorsed.key).export({ format: 'pem', type: 'pkcs8' }) as string, { algorithm: o.algorithm ?? 'RS256', keyid: o.kid ?? KEYS.endorsed.kid });
}
