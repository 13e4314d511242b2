/**
 * A `pg.Pool`-compatible pool over one in-process PGlite database (the embedded default).
 *
 * PGlite is a single PostgreSQL session, so this pool serialises access with one mutex:
 * - `pool.query()` takes the mutex for one statement;
 * - a client from `pool.connect()` takes it for one statement, or from BEGIN until COMMIT/ROLLBACK,
 *   so a transaction never interleaves with other statements;
 * - `LISTEN`/`UNLISTEN` on a client map to PGlite's own `listen()`, and the client emits
 *   `notification` events like a pg client, so Agenda's LISTEN/NOTIFY pick-up works.
 * Statements go through a real `pg.Client` on PGlite's node-postgres connection, so values are
 * serialised and parsed exactly as with a server.
 *
 * A statement issued outside a transaction's client while that transaction is open in the same
 * async flow would wait forever; that is detected (AsyncLocalStorage) and thrown as an error.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import type { PGlite } from '@electric-sql/pglite';
import { createPgConfig } from '@electric-sql/pglite/node-postgres';
import pg from 'pg';

type QueryArg = string | { text: string; values?: unknown[] };

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => { release = r; });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

/** Set by Database.transaction() around its callback, so misuse of the pool inside it is detected. */
export const txScope = new AsyncLocalStorage<unknown>();

const BEGIN = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const END = /^\s*(COMMIT|ROLLBACK|END|ABORT)\b/i;
const LISTEN = /^\s*(UN)?LISTEN\s+(.+?)\s*;?\s*$/i;

/** A client handed out by PglitePool.connect(). */
export class PgliteClient extends EventEmitter {
  private releaseLock: (() => void) | undefined;
  private unlisteners = new Map<string, () => Promise<void>>();

  constructor(private readonly pool: PglitePool) { super(); }

  /** True between BEGIN and COMMIT/ROLLBACK. */
  get inTransaction(): boolean { return this.releaseLock !== undefined; }

  async query(arg: QueryArg, values?: unknown[]): Promise<pg.QueryResult> {
    const text = typeof arg === 'string' ? arg : arg.text;
    const params = typeof arg === 'string' ? values : arg.values ?? values;
    const listen = LISTEN.exec(text);
    if (listen) return this.listen(listen[2]!, Boolean(listen[1]));
    if (this.releaseLock) {
      const res = await this.pool.raw(text, params);
      if (END.test(text)) this.unlock();
      return res;
    }
    if (BEGIN.test(text)) {
      this.releaseLock = await this.pool.lock(this);
      try {
        return await this.pool.raw(text, params);
      } catch (e) {
        this.unlock();
        throw e;
      }
    }
    return this.pool.query(text, params);
  }

  private unlock(): void {
    const r = this.releaseLock;
    this.releaseLock = undefined;
    r?.();
  }

  private async listen(channelSql: string, un: boolean): Promise<pg.QueryResult> {
    const channel = channelSql.replace(/^"(.*)"$/, '$1');
    if (un) {
      const targets = channel === '*' ? [...this.unlisteners.keys()] : [channel];
      for (const c of targets) { await this.unlisteners.get(c)?.(); this.unlisteners.delete(c); }
    } else if (!this.unlisteners.has(channel)) {
      const off = await this.pool.db.listen(`"${channel.replace(/"/g, '""')}"`, (payload) => {
        this.emit('notification', { channel, payload, processId: 0 });
      });
      this.unlisteners.set(channel, off);
    }
    return { command: un ? 'UNLISTEN' : 'LISTEN', rowCount: null, oid: 0, rows: [], fields: [] };
  }

  /** Returns the client to the pool; an open transaction is rolled back. */
  release(_destroy?: unknown): void {
    for (const off of this.unlisteners.values()) void off().catch(() => undefined);
    this.unlisteners.clear();
    if (this.releaseLock) {
      void this.pool.raw('ROLLBACK').catch(() => undefined).finally(() => this.unlock());
    }
  }
}

/** Pool-compatible facade (query, connect, end, on) over one PGlite instance. */
export class PglitePool extends EventEmitter {
  private readonly mutex = new Mutex();
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private ended = false;

  constructor(readonly db: PGlite) { super(); }

  /** Count of clients the pool reports (for libraries that read it). */
  readonly totalCount = 1;
  readonly idleCount = 1;
  readonly waitingCount = 0;

  private async pgClient(): Promise<pg.Client> {
    if (this.client) return this.client;
    this.connecting ??= (async () => {
      const c = new pg.Client(createPgConfig(this.db) as unknown as pg.ClientConfig);
      await c.connect();
      this.client = c;
      return c;
    })();
    return this.connecting;
  }

  /** @internal Runs a statement without taking the mutex (the caller holds it). */
  async raw(text: string, params?: unknown[]): Promise<pg.QueryResult> {
    if (this.ended) throw new Error('the embedded database is closed');
    return (await this.pgClient()).query(text, params as unknown[] | undefined);
  }

  /** @internal Takes the mutex on behalf of a transaction client. */
  async lock(_owner: PgliteClient): Promise<() => void> {
    this.assertNotInOwnTransaction();
    return this.mutex.acquire();
  }

  private assertNotInOwnTransaction(): void {
    const holder = txScope.getStore();
    if (holder instanceof PgliteClient && holder.inTransaction) {
      throw new Error('statement issued on the pool while this flow holds an open transaction: use the transaction client (it would deadlock)');
    }
  }

  async query(arg: QueryArg, values?: unknown[]): Promise<pg.QueryResult> {
    const text = typeof arg === 'string' ? arg : arg.text;
    const params = typeof arg === 'string' ? values : arg.values ?? values;
    this.assertNotInOwnTransaction();
    const release = await this.mutex.acquire();
    try {
      return await this.raw(text, params);
    } finally {
      release();
    }
  }

  async connect(): Promise<PgliteClient> {
    await this.pgClient();
    return new PgliteClient(this);
  }

  async end(): Promise<void> {
    if (this.ended) return;
    const release = await this.mutex.acquire();
    this.ended = true;
    try { await this.client?.end(); } finally { release(); }
  }
}
