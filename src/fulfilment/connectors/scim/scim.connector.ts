/**
 * SCIM 2.0 connector (RFC 7643 schema, RFC 7644 protocol): provisions users and group
 * memberships in an identity provider or SaaS app that speaks SCIM.
 *
 * Every operation is idempotent by its natural key (userName, group displayName): it first reads
 * the current state with a `filter` search and only writes what is missing, so a retry or a
 * replay after a crash reports `created: false` / `changed: false` instead of failing or
 * duplicating. Writes also carry `Idempotency-Key: <ctx.idempotencyKey>` for servers that honour it.
 *
 * Failures are `ConnectorError`s: network errors, timeouts, 408 and 5xx are retryable; 429 is
 * retryable with `retryAfterMs` from Retry-After; other 4xx are not, with the SCIM `detail`.
 */
import { z } from 'zod';
import { ConnectorError, type Connector, type ConnectorCallContext, type ConnectorType, type SecretResolver } from '../connector.port.js';
import { isSecretRef, maskSecrets, SecretError } from '../secrets.js';

export const SCIM_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SCIM_LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SCIM_ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const MEDIA_TYPE = 'application/scim+json';

/** Connector config (one entry of `_connectors.yaml`). */
export const scimConfigSchema = z.strictObject({
  /** SCIM service root, e.g. `https://idp.example.com/scim/v2` (endpoints `/Users`, `/Groups` below it). */
  baseUrl: z.url(),
  /** Secret reference for the Bearer token (`env:`, `file:` or `vault:`). */
  token: z.string().refine(isSecretRef, 'must be a secret reference (env:NAME, file:/path or vault:path#key)'),
  /** Per-request timeout in ms, on top of the step's own signal. */
  timeoutMs: z.number().int().positive().default(10_000),
  /** `deactivateUser` of a userName the server does not know: a non-retryable error (default) or success with `changed: false`. */
  deactivateMissingUser: z.enum(['error', 'ignore']).default('error'),
});
export type ScimConfig = z.infer<typeof scimConfigSchema>;

const userName = z.string().trim().min(1);
const inputs = {
  createUser: z.object({
    userName, givenName: z.string().min(1), familyName: z.string().min(1), email: z.email(), active: z.boolean().default(true),
  }),
  deactivateUser: z.object({ userName }),
  addToGroup: z.object({ userName, group: z.string().trim().min(1) }),
  removeFromGroup: z.object({ userName, group: z.string().trim().min(1) }),
};

interface ScimResource { id: string; active?: boolean; members?: { value?: string }[]; [k: string]: unknown }

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when
 * absent or unparsable. A date in the past gives 0.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A SCIM filter `attr eq "value"`; the value is a JSON string (RFC 7644 §3.4.2.2), so quotes and backslashes are escaped. */
export function eqFilter(attr: string, value: string): string {
  return `${attr} eq ${JSON.stringify(value)}`;
}

/** Why a fetch threw: timeout, abort, or the network error's code (ECONNRESET, ECONNREFUSED, ...). */
function describeFetchError(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason = signal.reason as { name?: string } | undefined;
    return reason?.name === 'TimeoutError' ? 'timed out' : 'aborted';
  }
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

/** Builds the error for a non-2xx answer, from the SCIM error body when there is one (RFC 7644 §3.12). */
function statusError(what: string, res: Response, text: string): ConnectorError {
  let detail = text.slice(0, 200);
  try {
    const b = JSON.parse(text) as { scimType?: string; detail?: string };
    if (b && typeof b === 'object' && (b.detail || b.scimType)) detail = [b.scimType, b.detail].filter(Boolean).join(': ');
  } catch { /* not JSON: keep the text */ }
  const s = res.status;
  const msg = `${what} answered ${s}${detail ? `: ${detail}` : ''}`;
  if (s === 429) return new ConnectorError(msg, true, parseRetryAfter(res.headers.get('retry-after')), s);
  return new ConnectorError(msg, s >= 500 || s === 408, undefined, s);
}

function parseInput<T extends z.ZodTypeAny>(op: string, schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ConnectorError(`scim.${op}: invalid input: ${z.prettifyError(r.error)}`, false);
  return r.data;
}

/** The SCIM connector type: `scim` in `_connectors.yaml`. */
export const scimConnectorType: ConnectorType<typeof scimConfigSchema> = {
  type: 'scim',
  configSchema: scimConfigSchema,
  create(id: string, config: ScimConfig, secrets: SecretResolver): Connector {
    const base = config.baseUrl.replace(/\/+$/, '');
    let knownToken: string | undefined;

    async function token(): Promise<string> {
      try {
        knownToken = await secrets(config.token);
        return knownToken;
      } catch (e) {
        throw new ConnectorError(`${id}: ${(e as Error).message}`, e instanceof SecretError && e.retryable);
      }
    }

    /** One request; returns the parsed JSON body (null for 204). Throws a classified ConnectorError. */
    async function call(method: string, path: string, signal: AbortSignal, opts: { body?: unknown; idempotencyKey?: string } = {}): Promise<unknown> {
      const what = `${id}: ${method} ${path.split('?')[0]}`;
      const headers = new Headers({ accept: MEDIA_TYPE, authorization: `Bearer ${await token()}` });
      if (opts.body !== undefined) headers.set('content-type', MEDIA_TYPE);
      if (opts.idempotencyKey) headers.set('idempotency-key', opts.idempotencyKey);
      const sig = AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]);
      let res: Response;
      let text: string;
      try {
        res = await fetch(base + path, {
          method, headers, signal: sig, body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        });
        text = await res.text();
      } catch (e) {
        throw new ConnectorError(maskSecrets(`${what}: ${describeFetchError(e, sig)}`, [knownToken]), true);
      }
      if (!res.ok) {
        const err = statusError(what, res, maskSecrets(text, [knownToken])); // masked before it is cut to 200 characters
        throw new ConnectorError(maskSecrets(err.message, [knownToken]), err.retryable, err.retryAfterMs, err.status);
      }
      if (!text) return null;
      try { return JSON.parse(text); } catch {
        throw new ConnectorError(`${what}: answered ${res.status} with a body that is not JSON`, false, undefined, res.status);
      }
    }

    /** Finds the one resource whose `attr` equals `value` (a ListResponse, RFC 7644 §3.4.2); null when none. */
    async function findOne(endpoint: 'Users' | 'Groups', attr: string, value: string, signal: AbortSignal): Promise<ScimResource | null> {
      const body = await call('GET', `/${endpoint}?filter=${encodeURIComponent(eqFilter(attr, value))}`, signal) as
        { totalResults?: number; Resources?: ScimResource[] } | null;
      const found = body?.Resources ?? [];
      if (found.length > 1) throw new ConnectorError(`${id}: ${found.length} ${endpoint} match ${attr} "${value}"`, false);
      const r = found[0];
      if (r && typeof r.id !== 'string') throw new ConnectorError(`${id}: ${endpoint} search returned a resource without id`, false);
      return r ?? null;
    }

    async function requireOne(endpoint: 'Users' | 'Groups', attr: string, value: string, signal: AbortSignal): Promise<ScimResource> {
      const r = await findOne(endpoint, attr, value, signal);
      if (!r) throw new ConnectorError(`${id}: no ${endpoint === 'Users' ? 'user' : 'group'} with ${attr} "${value}"`, false, undefined, 404);
      return r;
    }

    function patchOp(operations: Record<string, unknown>[]): Record<string, unknown> {
      return { schemas: [SCIM_PATCH_OP], Operations: operations };
    }

    /** Membership from the group's `members`, when the server returned them; undefined when unknown. */
    function isMember(group: ScimResource, userId: string): boolean | undefined {
      return Array.isArray(group.members) ? group.members.some((m) => m?.value === userId) : undefined;
    }

    const operations = {
      /** Creates the user unless one with this userName exists: `{ id, created }`. */
      async createUser(raw: Record<string, unknown>, ctx: ConnectorCallContext) {
        const i = parseInput('createUser', inputs.createUser, raw);
        const existing = await findOne('Users', 'userName', i.userName, ctx.signal);
        if (existing) return { id: existing.id, created: false };
        const user = {
          schemas: [SCIM_USER],
          userName: i.userName,
          name: { givenName: i.givenName, familyName: i.familyName },
          displayName: `${i.givenName} ${i.familyName}`,
          emails: [{ value: i.email, type: 'work', primary: true }],
          active: i.active,
        };
        try {
          const created = await call('POST', '/Users', ctx.signal, { body: user, idempotencyKey: ctx.idempotencyKey }) as ScimResource | null;
          if (!created || typeof created.id !== 'string') throw new ConnectorError(`${id}: POST /Users returned no id`, false);
          return { id: created.id, created: true };
        } catch (e) {
          // 409 uniqueness: an earlier attempt (or someone else) created it in the meantime.
          if (e instanceof ConnectorError && e.status === 409) {
            const now = await findOne('Users', 'userName', i.userName, ctx.signal);
            if (now) return { id: now.id, created: false };
          }
          throw e;
        }
      },

      /** Sets `active` to false: `{ id, changed }` (changed false when already inactive). */
      async deactivateUser(raw: Record<string, unknown>, ctx: ConnectorCallContext) {
        const i = parseInput('deactivateUser', inputs.deactivateUser, raw);
        const user = await findOne('Users', 'userName', i.userName, ctx.signal);
        if (!user) {
          if (config.deactivateMissingUser === 'ignore') return { id: null, changed: false };
          throw new ConnectorError(`${id}: no user with userName "${i.userName}"`, false, undefined, 404);
        }
        if (user.active === false) return { id: user.id, changed: false };
        await call('PATCH', `/Users/${encodeURIComponent(user.id)}`, ctx.signal, {
          body: patchOp([{ op: 'replace', path: 'active', value: false }]), idempotencyKey: ctx.idempotencyKey,
        });
        return { id: user.id, changed: true };
      },

      /** Adds the user to the group: `{ userId, groupId, changed }` (changed false when already a member). */
      async addToGroup(raw: Record<string, unknown>, ctx: ConnectorCallContext) {
        const i = parseInput('addToGroup', inputs.addToGroup, raw);
        const user = await requireOne('Users', 'userName', i.userName, ctx.signal);
        const group = await requireOne('Groups', 'displayName', i.group, ctx.signal);
        if (isMember(group, user.id) === true) return { userId: user.id, groupId: group.id, changed: false };
        // When members were not returned, "add" of an existing member is a no-op by RFC 7644 §3.5.2.1.
        await call('PATCH', `/Groups/${encodeURIComponent(group.id)}`, ctx.signal, {
          body: patchOp([{ op: 'add', path: 'members', value: [{ value: user.id }] }]), idempotencyKey: ctx.idempotencyKey,
        });
        return { userId: user.id, groupId: group.id, changed: true };
      },

      /** Removes the user from the group: `{ userId, groupId, changed }` (changed false when not a member). */
      async removeFromGroup(raw: Record<string, unknown>, ctx: ConnectorCallContext) {
        const i = parseInput('removeFromGroup', inputs.removeFromGroup, raw);
        const user = await requireOne('Users', 'userName', i.userName, ctx.signal);
        const group = await requireOne('Groups', 'displayName', i.group, ctx.signal);
        if (isMember(group, user.id) === false) return { userId: user.id, groupId: group.id, changed: false };
        try {
          await call('PATCH', `/Groups/${encodeURIComponent(group.id)}`, ctx.signal, {
            body: patchOp([{ op: 'remove', path: `members[value eq ${JSON.stringify(user.id)}]` }]),
            idempotencyKey: ctx.idempotencyKey,
          });
        } catch (e) {
          // 400 noTarget: the filter matched no member, i.e. the user is not (or no longer) in the group.
          if (e instanceof ConnectorError && e.status === 400 && /noTarget/.test(e.message)) {
            return { userId: user.id, groupId: group.id, changed: false };
          }
          throw e;
        }
        return { userId: user.id, groupId: group.id, changed: true };
      },
    };

    return {
      id,
      type: 'scim',
      operations,
      /** Reads `/ServiceProviderConfig` (RFC 7644 §4): harmless and authenticated. */
      async check(signal: AbortSignal) {
        await call('GET', '/ServiceProviderConfig', signal);
      },
    };
  },
};
