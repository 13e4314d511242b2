/**
 * Secret references: env, file and Vault KV v2 (nock plays Vault's HTTP API as Vault documents it:
 * GET /v1/<mount>/data/<path> with X-Vault-Token, answering { data: { data, metadata } }),
 * caching with a TTL, and errors that name the reference but never the value.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { createSecretResolver, isSecretRef, maskSecrets, SecretError } from '../../../src/fulfilment/connectors/secrets.js';

const VAULT = 'http://vault.test:8200';
let dir: string;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1/);
  dir = await mkdtemp(join(tmpdir(), 'errand-secrets-'));
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
});

/** A KV v2 read response, as in Vault's API docs. */
function kv2(data: Record<string, unknown>) {
  return {
    request_id: 'a9cbb2ab-3d33-4a0d-9f2b-36e0bb5e3e4f', lease_id: '', renewable: false, lease_duration: 0,
    data: { data, metadata: { created_time: '2024-03-22T02:24:06.945319214Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 2 } },
    wrap_info: null, warnings: null, auth: null,
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (e) { return e as Error; }
  throw new Error('expected a rejection');
}

describe('isSecretRef', () => {
  it('accepts the three schemes and rejects plain values', () => {
    expect(isSecretRef('env:SCIM_TOKEN')).toBe(true);
    expect(isSecretRef('file:/run/secrets/smtp')).toBe(true);
    expect(isSecretRef('vault:secret/data/errand/scim#token')).toBe(true);
    for (const s of ['hunter2', 'env:', 'env:1BAD', 'file:relative/path', 'vault:secret/data/x', 'vault:#k', '', 42]) {
      expect(isSecretRef(s)).toBe(false);
    }
  });
});

describe('maskSecrets', () => {
  it('replaces every occurrence of every value, longest first, ignoring empty values', () => {
    expect(maskSecrets('token s3cr3t-long failed; s3cr3t again', ['s3cr3t', 's3cr3t-long', '', undefined]))
      .toBe('token [redacted] failed; [redacted] again');
    expect(maskSecrets('nothing here', [])).toBe('nothing here');
  });
});

describe('createSecretResolver', () => {
  it('resolves env: and file: (trimmed)', async () => {
    const path = join(dir, 'smtp-password');
    await writeFile(path, '  p@ss-from-file\n');
    const resolve = createSecretResolver({ env: { SCIM_TOKEN: 'tok-123' } });
    await expect(resolve('env:SCIM_TOKEN')).resolves.toBe('tok-123');
    await expect(resolve(`file:${path}`)).resolves.toBe('p@ss-from-file');
  });

  it('reads a key of a Vault KV v2 secret with the Vault token', async () => {
    const scope = nock(VAULT, { reqheaders: { 'x-vault-token': 'root-token' } })
      .get('/v1/secret/data/errand/scim').reply(200, kv2({ token: 'vault-tok', other: 'x' }));
    const resolve = createSecretResolver({ env: {}, vault: { endpoint: VAULT, token: 'root-token' } });
    await expect(resolve('vault:secret/data/errand/scim#token')).resolves.toBe('vault-tok');
    expect(scope.isDone()).toBe(true);
  });

  it('caches values for the TTL, then reads again', async () => {
    let t = 1_000;
    const scope = nock(VAULT).get('/v1/secret/data/errand/smtp').times(2).reply(200, () => kv2({ password: `pw-${t}` }));
    const resolve = createSecretResolver({ env: {}, vault: { endpoint: VAULT, token: 'root-token' }, ttlMs: 5_000, now: () => t });
    await expect(resolve('vault:secret/data/errand/smtp#password')).resolves.toBe('pw-1000');
    t += 4_999;
    await expect(resolve('vault:secret/data/errand/smtp#password')).resolves.toBe('pw-1000');
    expect(scope.pendingMocks()).toHaveLength(1);
    t += 1;
    await expect(resolve('vault:secret/data/errand/smtp#password')).resolves.toBe('pw-6000');
    expect(scope.isDone()).toBe(true);
  });

  it('caches env values too (default TTL 60 s)', async () => {
    const env: Record<string, string | undefined> = { A: 'one' };
    let t = 0;
    const resolve = createSecretResolver({ env, now: () => t });
    await resolve('env:A');
    env.A = 'two';
    await expect(resolve('env:A')).resolves.toBe('one');
    t = 60_000;
    await expect(resolve('env:A')).resolves.toBe('two');
  });

  it('fails with the reference named and the value never shown', async () => {
    const resolve = createSecretResolver({ env: {}, vault: { endpoint: VAULT, token: 'root-token' } });
    nock(VAULT).get('/v1/secret/data/errand/scim').reply(200, kv2({ token: 'vault-tok' }));
    nock(VAULT).get('/v1/secret/data/missing').reply(404, { errors: [] });

    const cases: [string, RegExp][] = [
      ['env:NOPE', /secret env:NOPE: environment variable is not set/],
      [`file:${join(dir, 'absent')}`, /secret file:.*absent: cannot read file \(ENOENT\)/],
      ['vault:secret/data/errand/scim#password', /secret vault:secret\/data\/errand\/scim#password: key not found/],
      ['vault:secret/data/missing#k', /secret vault:secret\/data\/missing#k: not found in Vault/],
    ];
    for (const [ref, msg] of cases) {
      const e = await rejection(resolve(ref));
      expect(e).toBeInstanceOf(SecretError);
      expect(e.message).toMatch(msg);
      expect(e.message).not.toContain('vault-tok');
      expect((e as SecretError).retryable).toBe(false);
    }
  });

  it('does not echo an unknown scheme, which may be a pasted credential', async () => {
    const resolve = createSecretResolver({ env: {} });
    const e1 = await rejection(resolve('ldap:cn=admin'));
    expect(e1.message).toBe('secret ldap:…: unknown secret scheme (expected env:, file: or vault:)');
    const e2 = await rejection(resolve('sk_live_abc123/xyz'));
    expect(e2.message).not.toContain('sk_live_abc123');
  });

  it('reports Vault being down as retryable and a missing Vault config as not', async () => {
    nock(VAULT).get('/v1/secret/data/errand/scim').reply(503, { errors: ['Vault is sealed'] });
    const resolve = createSecretResolver({ env: {}, vault: { endpoint: VAULT, token: 'root-token' } });
    const e = await rejection(resolve('vault:secret/data/errand/scim#token')) as SecretError;
    expect(e.message).toMatch(/Vault read failed \(503\)/);
    expect(e.retryable).toBe(true);

    const noVault = createSecretResolver({ env: {} });
    const e2 = await rejection(noVault('vault:secret/data/errand/scim#token')) as SecretError;
    expect(e2.message).toMatch(/no Vault server is configured/);
    expect(e2.retryable).toBe(false);
  });
});
