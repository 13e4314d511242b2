/** Builds the real app on a throwaway database, listening on a random port. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createTestDb, type TestDb } from './test-db.js';

export interface TestApp { app: App; base: string; tdb: TestDb; close(): Promise<void> }

export async function startTestApp(o: { kind?: 'pglite' | 'auto'; env?: Record<string, string>; app?: Partial<AppOptions> } = {}): Promise<TestApp> {
  const tdb = await createTestDb({ kind: o.kind, migrate: false });
  const config = loadConfig({ LOG_LEVEL: 'silent', JOB_PROCESS_EVERY_MS: '300', JOB_LOCK_LIFETIME_MS: '10000', API_KEYS: 'test-key', ...o.env });
  const app = await createApp({ config, db: tdb.db, retryDelayMs: 200, ...o.app });
  await app.start();
  const server: Server = await new Promise((resolve) => { const s = app.http.listen(0, '127.0.0.1', () => resolve(s)); });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    app, base, tdb,
    async close() {
      await new Promise((r) => server.close(r));
      await app.stop();
      await tdb.drop();
    },
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `ms`). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, ms = 20000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
