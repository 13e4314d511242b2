/**
 * The tamper-evident audit log (migration 008_audit_chain.sql + src/audit/audit-chain.ts), on
 * real PostgreSQL when TEST_DATABASE_URL is set, else on PGlite.
 *
 * How tampering is simulated: the table refuses UPDATE/DELETE/TRUNCATE through the
 * `audit_log_append_only` trigger. Its owner (or a superuser; the test connections are both) can
 * still switch it off: `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`, edit, and
 * `ENABLE` it again. The tests do exactly that, inside one transaction (ALTER TABLE is
 * transactional, so the trigger is off only for that transaction), and to write a row outside the
 * chain they disable `audit_log_chain` likewise. After each tampering they put the original row
 * back and check the chain verifies again, so the suite shares one database.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { audit } from '../../src/audit/audit.repository.js';
import { AUDIT_TRIGGERS, verifyAuditChain } from '../../src/audit/audit-chain.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { openDatabase, type Database, type Queryable } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { createTestDb, serverUrl, type TestDb } from '../support/test-db.js';

let t: TestDb;
beforeAll(async () => {
  t = await createTestDb();
  await t.db.query('CREATE TABLE audit_saved (LIKE audit_log)'); // originals of tampered rows, put back afterwards
});
afterAll(async () => { await t?.drop(); });

interface AuditRow { id: string; actor: string; action: string; prev_hash: string | null; hash: string | null }
const rowsOf = async (q: Queryable = t.db) => (await q.query<AuditRow>('SELECT id::text AS id, actor, action, prev_hash, hash FROM audit_log ORDER BY audit_log.id')).rows;

/** Runs `fn` with the named triggers switched off, as a tamperer with owner rights would. */
async function tamper(db: Database, fn: (tx: Queryable) => Promise<unknown>, triggers: string[] = [AUDIT_TRIGGERS.appendOnly]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const tr of triggers) await tx.query(`ALTER TABLE audit_log DISABLE TRIGGER ${tr}`);
    await fn(tx);
    for (const tr of triggers) await tx.query(`ALTER TABLE audit_log ENABLE TRIGGER ${tr}`);
  });
}

/** Keeps an exact copy of rows about to be tampered with (in the database: no text round trip). */
const save = (db: Database, ...ids: string[]) => db.query('INSERT INTO audit_saved SELECT * FROM audit_log WHERE id = ANY($1::bigint[])', [ids]);
/** Puts the saved rows back exactly as they were (ids and hashes included), with both triggers off. */
const restore = (db: Database) => tamper(db, async (tx) => {
  await tx.query('DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_saved)');
  await tx.query('INSERT INTO audit_log SELECT * FROM audit_saved');
  await tx.query('DELETE FROM audit_saved');
}, [AUDIT_TRIGGERS.appendOnly, AUDIT_TRIGGERS.chain]);

const BATCHES = [1, 7, 5000];
async function expectValid(q: Queryable = t.db): Promise<number> {
  const counts: number[] = [];
  for (const batchSize of BATCHES) {
    const r = await verifyAuditChain(q, { batchSize });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    counts.push(r.rows);
  }
  expect(new Set(counts).size).toBe(1);
  return counts[0]!;
}

describe('appending', () => {
  it('chains 50 concurrent appends (on the pool and inside transactions) into one valid chain', async () => {
    const before = (await rowsOf()).length;
    let rolledBack = 0;
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const e = { actor: `p${i}@example.com`, action: 'test.concurrent', subject: `S-${i}`, detail: { i, nested: { list: [1, 2.50, 'x'] } } };
      if (i % 10 === 3) { // a transaction that rolls back after appending leaves a gap in ids, not in the chain
        await t.db.transaction(async (tx) => { await audit(tx, e); throw new Error('roll back'); }).catch(() => { rolledBack++; });
      } else if (i % 3 === 0) {
        await t.db.transaction(async (tx) => {
          await audit(tx, e);
          await tx.query('SELECT pg_sleep(0.005)');
          await audit(tx, { ...e, action: 'test.concurrent.second' });
        });
      } else {
        await audit(t.db, e);
      }
    }));
    const rows = await rowsOf();
    const tx2 = Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 10 !== 3 && i % 3 === 0).length;
    expect(rolledBack).toBe(5);
    expect(rows.length - before).toBe(45 + tx2);
    expect(await expectValid()).toBe(rows.length);
    // each row points at the one before it, in id order; every hash is a distinct hex SHA-256
    rows.forEach((r, k) => expect(r.prev_hash).toBe(k === 0 ? null : rows[k - 1]!.hash));
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    for (const r of rows) expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('chains rows of one multi-row INSERT, and ignores hashes and ids given by the writer', async () => {
    await t.db.query(`INSERT INTO audit_log (actor, action, detail) SELECT 'system', 'test.bulk.' || g, jsonb_build_object('g', g) FROM generate_series(1, 5) g`);
    await t.db.query(`INSERT INTO audit_log (id, actor, action, prev_hash, hash) VALUES (1, 'system', 'test.forged', 'abc', 'def')`);
    const last = (await rowsOf()).at(-1)!;
    expect(last.action).toBe('test.forged');
    expect(last.id).not.toBe('1');
    expect(last.hash).not.toBe('def');
    await expectValid();
  });

  it('hashes timestamps and jsonb the same whatever the session time zone, and any text', async () => {
    await t.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL TIME ZONE 'Pacific/Chatham'`);
      await audit(tx, { actor: 'zoë@example.com', action: 'test.unicode', subject: 'naïve|12:x', detail: { '': null, b: '|-', a: ['é', 1e3, { z: true }], emoji: '🙂', nl: 'a\nb' } });
      await tx.query(`INSERT INTO audit_log (actor, action, at) VALUES ('system', 'test.at', '2001-02-03 04:05:06.789012+05:45')`);
    });
    await t.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL TIME ZONE 'America/St_Johns'`);
      await expectValid(tx);
    });
    await expectValid();
    // the verifier's expression and the trigger's stored function agree
    const agree = await t.db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log WHERE hash IS DISTINCT FROM audit_log_hash(prev_hash, id, at, actor, action, subject, detail)');
    expect(agree.rows[0]!.n).toBe('0');
  });

  it('refuses appends from REPEATABLE READ transactions (they would fork the chain)', async () => {
    await expect(t.db.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await audit(tx, { actor: 'system', action: 'test.rr' });
    })).rejects.toThrow(/READ COMMITTED/);
    await expectValid();
  });
});

describe('append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    const n = (await rowsOf()).length;
    await expect(t.db.query(`UPDATE audit_log SET detail = '{"x":1}' WHERE id = (SELECT min(id) FROM audit_log)`)).rejects.toThrow(/audit_log is append-only/);
    await expect(t.db.query('DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)')).rejects.toThrow(/audit_log is append-only/);
    await expect(t.db.query('TRUNCATE audit_log')).rejects.toThrow(/audit_log is append-only/);
    expect((await rowsOf()).length).toBe(n);
    await expectValid();
  });
});

describe('tampering (trigger disabled by the table owner)', () => {
  it('an edited row is reported as edited, and only that row', async () => {
    const rows = await rowsOf();
    const victim = rows[Math.floor(rows.length / 2)]!;
    await save(t.db, victim.id);
    await tamper(t.db, (tx) => tx.query(`UPDATE audit_log SET detail = detail || '{"approved": true}' WHERE id = $1`, [victim.id]));
    for (const batchSize of BATCHES) {
      const r = await verifyAuditChain(t.db, { batchSize });
      expect(r.ok).toBe(false);
      expect(r.rows).toBe(rows.length);
      expect(r.problems).toEqual([{ id: victim.id, kind: 'edited', message: expect.stringContaining(`#${victim.id}`) }]);
    }
    await restore(t.db);
    await expectValid();
  });

  it('an edited row whose hash was recomputed too breaks the link at the next row', async () => {
    const rows = await rowsOf();
    const k = 3;
    const victim = rows[k]!;
    await save(t.db, victim.id);
    await tamper(t.db, (tx) => tx.query(`UPDATE audit_log SET actor = 'someone-else@example.com', hash = audit_log_hash(prev_hash, id, at, 'someone-else@example.com', action, subject, detail) WHERE id = $1`, [victim.id]));
    const r = await verifyAuditChain(t.db, { batchSize: 7 });
    expect(r.problems).toEqual([{ id: rows[k + 1]!.id, kind: 'broken-link', message: expect.stringContaining(`#${victim.id}`) }]);
    await restore(t.db);
    await expectValid();
  });

  it('a deleted middle row shows as a broken link at the next row', async () => {
    const rows = await rowsOf();
    for (const k of [7, 20]) { // 7: right at a batch boundary for batchSize 7
      const victim = rows[k]!;
      await save(t.db, victim.id);
      await tamper(t.db, (tx) => tx.query('DELETE FROM audit_log WHERE id = $1', [victim.id]));
      for (const batchSize of BATCHES) {
        const r = await verifyAuditChain(t.db, { batchSize });
        expect(r.rows).toBe(rows.length - 1);
        expect(r.problems).toEqual([{ id: rows[k + 1]!.id, kind: 'broken-link', message: expect.stringContaining(`#${rows[k - 1]!.id}`) }]);
      }
      await restore(t.db);
      await expectValid();
    }
  });

  it('deleting the first row shows as a broken link at the new first row', async () => {
    const [first, second] = await rowsOf();
    await save(t.db, first!.id);
    await tamper(t.db, (tx) => tx.query('DELETE FROM audit_log WHERE id = $1', [first!.id]));
    const r = await verifyAuditChain(t.db);
    expect(r.problems).toEqual([{ id: second!.id, kind: 'broken-link', message: expect.stringMatching(/first row/) }]);
    await restore(t.db);
    await expectValid();
  });

  it('a row written with the chain trigger disabled has a missing hash', async () => {
    await tamper(t.db, (tx) => tx.query(`INSERT INTO audit_log (actor, action) VALUES ('system', 'test.smuggled')`), [AUDIT_TRIGGERS.chain]);
    await audit(t.db, { actor: 'system', action: 'test.after-smuggled' });
    const rows = await rowsOf();
    const r = await verifyAuditChain(t.db);
    // the smuggled row has no hash and no link; the row after it links to its (absent) hash
    expect(r.problems).toEqual([
      { id: rows.at(-2)!.id, kind: 'missing-hash', message: expect.any(String) },
      { id: rows.at(-2)!.id, kind: 'broken-link', message: expect.any(String) },
    ]);
    await tamper(t.db, (tx) => tx.query('DELETE FROM audit_log WHERE id >= $1', [rows.at(-2)!.id]));
    await expectValid();
  });
});

it('the migration chains rows written before it, in id order', async () => {
  const fresh = await createTestDb({ migrate: false });
  try {
    const dir = path.join(PROJECT_ROOT, 'src', 'db', 'migrations');
    const files = (await readdir(dir)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
    for (const f of files.filter((x) => x < '008_audit_chain.sql')) await fresh.db.query(await readFile(path.join(dir, f), 'utf8'));
    for (let i = 0; i < 12; i++) await audit(fresh.db, { actor: 'system', action: 'old', ...(i % 2 ? {} : { subject: `S${i}` }), detail: { i } });
    await fresh.db.transaction(async (tx) => { await tx.query(await readFile(path.join(dir, '008_audit_chain.sql'), 'utf8')); });
    const old = await rowsOf(fresh.db);
    expect(old.every((r) => r.hash)).toBe(true);
    expect(await expectValid(fresh.db)).toBe(12);
    await audit(fresh.db, { actor: 'system', action: 'new' });
    const all = await rowsOf(fresh.db);
    expect(all.at(-1)!.prev_hash).toBe(old.at(-1)!.hash);
    expect(await expectValid(fresh.db)).toBe(13);
  } finally {
    await fresh.drop();
  }
});

describe('errand audit verify (child process)', () => {
  const bin = path.join(PROJECT_ROOT, 'bin', 'errand.js');
  function cli(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, 'audit', 'verify'], { cwd: PROJECT_ROOT, env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: '', DATA_DIR: '', ...env } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
  }
  const editDetail = (tx: Queryable, id: string) => tx.query(`UPDATE audit_log SET detail = '{"tampered": true}' WHERE id = $1`, [id]);

  if (serverUrl()) {
    it('on PostgreSQL: exit 0 on a good chain, 1 listing the edited row on a tampered one', async () => {
      const env = { DATABASE_URL: t.url! };
      const n = await expectValid();
      const good = await cli(env);
      expect(good.out).toContain(`audit chain ok: ${n} rows`);
      expect(good.code).toBe(0);
      const rows = await rowsOf();
      const victim = rows[5]!;
      await save(t.db, victim.id);
      await tamper(t.db, (tx) => editDetail(tx, victim.id));
      const bad = await cli(env);
      expect(bad.code).toBe(1);
      expect(bad.out).toMatch(new RegExp(`#${victim.id} edited`));
      await restore(t.db);
      expect((await cli(env)).code).toBe(0);
    }, 60000);

    it('on PostgreSQL: an unmigrated database is reported, not migrated', async () => {
      const bare = await createTestDb({ migrate: false });
      try {
        const r = await cli({ DATABASE_URL: bare.url! });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/run errand once to migrate/);
      } finally {
        await bare.drop();
      }
    }, 60000);
  } else {
    it('on PGlite (data dir on disk): exit 0 on a good chain, 1 listing the problems on a tampered one', async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'errand-audit-'));
      try {
        const open = () => openDatabase({ kind: 'pglite', dataDir: path.join(dataDir, 'pglite') });
        let db = await open();
        await migrate(db);
        for (let i = 0; i < 10; i++) await audit(db, { actor: 'system', action: 'cli.test', subject: `S${i}`, detail: { i } });
        const rows = await rowsOf(db);
        await db.close();

        const good = await cli({ DATA_DIR: dataDir });
        expect(good.out).toContain(`audit chain ok: ${rows.length} rows`);
        expect(good.code).toBe(0);

        db = await open();
        await tamper(db, async (tx) => { await editDetail(tx, rows[2]!.id); await tx.query('DELETE FROM audit_log WHERE id = $1', [rows[6]!.id]); });
        await db.close();
        const bad = await cli({ DATA_DIR: dataDir });
        expect(bad.code).toBe(1);
        expect(bad.out).toMatch(/audit chain BROKEN: 2 problem\(s\) in 9 rows/);
        expect(bad.out).toMatch(new RegExp(`#${rows[2]!.id} edited`));
        expect(bad.out).toMatch(new RegExp(`#${rows[7]!.id} broken-link`));
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }, 60000);

    it('on PGlite: a missing database is reported, not created', async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'errand-audit-empty-'));
      try {
        const r = await cli({ DATA_DIR: dataDir });
        expect(r.code).toBe(1);
        expect(r.out).toMatch(/run errand once to migrate/);
        expect(await readdir(dataDir)).toEqual([]);
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    }, 60000);
  }
});
