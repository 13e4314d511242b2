/**
 * Secret references for connector configs: a config never holds a credential, only a reference
 * that is resolved when a connector needs it.
 *
 *   env:NAME                      an environment variable
 *   file:/abs/path                a file's content, trimmed (e.g. a mounted Kubernetes secret)
 *   vault:secret/data/path#key    one key of a HashiCorp Vault KV v2 secret (GET /v1/<path>)
 *
 * Resolved values are cached for a short TTL so a rotated secret is picked up without a restart.
 * Errors name the reference, never the value; `maskSecrets` scrubs values out of other messages.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import vaultClient from 'node-vault';
import type { SecretResolver } from './connector.port.js';

/** A reference that could not be resolved. `retryable` is true when a later attempt may succeed (Vault down). */
export class SecretError extends Error {
  constructor(readonly ref: string, reason: string, readonly retryable = false) {
    super(`secret ${ref}: ${reason}`);
    this.name = 'SecretError';
  }
}

export interface SecretResolverOptions {
  /** Usually `process.env`; passed in so tests and callers decide what is visible. */
  env: Record<string, string | undefined>;
  /** Vault server for `vault:` references (KV v2 paths include `/data/`, e.g. `secret/data/errand#key`). */
  vault?: { endpoint: string; token: string };
  /** How long a resolved value is reused, in ms (default 60 000; 0 disables caching). */
  ttlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

const REF = /^(?:env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+|vault:[^#\s]+#[^#\s]+)$/;

/** True when `s` is a well-formed secret reference (`env:NAME`, `file:/abs/path`, `vault:path#key`). */
export function isSecretRef(s: unknown): s is string {
  return typeof s === 'string' && REF.test(s);
}

/**
 * Replaces every occurrence of any of `values` in `text` with `[redacted]` (longest first, so a
 * secret that contains another is masked whole). Empty values are ignored.
 */
export function maskSecrets(text: string, values: readonly (string | undefined)[]): string {
  const vs = [...new Set(values.filter((v): v is string => typeof v === 'string' && v.length > 0))]
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const v of vs) out = out.split(v).join('[redacted]');
  return out;
}

/** The status of a node-vault ApiResponseError, or undefined for a network error. */
function vaultStatus(e: unknown): number | undefined {
  const r = (e as { response?: { statusCode?: unknown } }).response;
  return typeof r?.statusCode === 'number' ? r.statusCode : undefined;
}

/**
 * Builds a resolver for secret references. Failures throw a `SecretError` that names the
 * reference and the reason (unknown scheme, variable not set, file missing, key missing, Vault
 * unreachable), never the value.
 */
export function createSecretResolver(opts: SecretResolverOptions): SecretResolver {
  const ttlMs = opts.ttlMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { value: string; expires: number }>();
  const vault = opts.vault
    ? vaultClient({ apiVersion: 'v1', endpoint: opts.vault.endpoint, token: opts.vault.token })
    : undefined;

  async function fromEnv(ref: string, name: string): Promise<string> {
    const v = opts.env[name];
    if (v === undefined || v === '') throw new SecretError(ref, 'environment variable is not set');
    return v;
  }

  async function fromFile(ref: string, path: string): Promise<string> {
    if (!isAbsolute(path)) throw new SecretError(ref, 'file path must be absolute');
    try {
      return (await readFile(path, 'utf8')).trim();
    } catch (e) {
      throw new SecretError(ref, `cannot read file (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  async function fromVault(ref: string, spec: string): Promise<string> {
    const hash = spec.lastIndexOf('#');
    const path = spec.slice(0, hash).replace(/^\/+/, '');
    const key = spec.slice(hash + 1);
    if (hash <= 0 || !path || !key) throw new SecretError(ref, 'expected vault:<mount>/data/<path>#<key>');
    if (!vault) throw new SecretError(ref, 'no Vault server is configured');
    let res: unknown;
    try {
      res = await vault.read(path);
    } catch (e) {
      const status = vaultStatus(e);
      if (status === 404) throw new SecretError(ref, 'not found in Vault');
      if (status === 401 || status === 403) throw new SecretError(ref, `Vault denied access (${status})`);
      const retryable = status === undefined || status >= 500 || status === 429;
      throw new SecretError(ref, `Vault read failed (${status ?? (e as { code?: string }).code ?? 'network error'})`, retryable);
    }
    // KV v2 answers { data: { data: { <key>: <value> }, metadata: {...} } }.
    const data = (res as { data?: { data?: Record<string, unknown> | null } } | null)?.data?.data;
    const v = data?.[key];
    if (v === undefined || v === null) throw new SecretError(ref, 'key not found in the Vault secret');
    return typeof v === 'string' ? v : JSON.stringify(v);
  }

  async function resolveUncached(ref: string): Promise<string> {
    const colon = ref.indexOf(':');
    const scheme = colon > 0 ? ref.slice(0, colon) : '';
    const rest = ref.slice(colon + 1);
    switch (scheme) {
      case 'env': return fromEnv(ref, rest);
      case 'file': return fromFile(ref, rest);
      case 'vault': return fromVault(ref, rest);
      default: {
        // The text may be a pasted credential rather than a reference: name at most its scheme.
        const shown = /^[A-Za-z][A-Za-z0-9+.-]{0,15}$/.test(scheme) ? `${scheme}:…` : '(not a reference)';
        throw new SecretError(shown, 'unknown secret scheme (expected env:, file: or vault:)');
      }
    }
  }

  return async (ref: string) => {
    const hit = cache.get(ref);
    if (hit && hit.expires > now()) return hit.value;
    const value = await resolveUncached(ref);
    if (ttlMs > 0) cache.set(ref, { value, expires: now() + ttlMs });
    return value;
  };
}
