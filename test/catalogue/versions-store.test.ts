/**
 * The catalogue version store on a real database: versions are immutable (the trigger refuses
 * content updates and deletes), exactly one is current under concurrent publishes, rollback
 * creates a new version and is audited, and the CLI round-trips a version through the folder
 * layout losslessly (export → import: the same content hash, byte-identical files) while an
 * invalid import lists every problem and stores nothing.
 */
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig, PROJECT_ROOT, type Config } from '../../src/config.js';
import { runCatalogueCommand } from '../../src/cli/catalogue-commands.js';
import { contentHash, layoutPaths, pathsFromConfig, readFolderSnapshot, type CatalogueSnapshot } from '../../src/catalogue/versions/snapshot.js';
import { CatalogueVersionError, CatalogueVersionStore } from '../../src/catalogue/versions/store.js';
import { readAndValidate, type CatalogueDocuments } from '../../src/catalogue/versions/validate.js';
import { createTestDb, type TestDb } from '../support/test-db.js';

let tdb: TestDb;
let store: CatalogueVersionStore;
let config: Config;
let base: { snapshot: CatalogueSnapshot; documents: CatalogueDocuments };
const tmps: string[] = [];
const tmp = async (prefix: string) => { const d = await mkdtemp(path.join(tmpdir(), prefix)); tmps.push(d); return d; };
const q = (sql: string, p: unknown[] = []) => tdb.db.query(sql, p).then((r) => r.rows);
const meta = (reason: string) => ({ author: 'ada.admin@example.com', reason });

/** A variant of the shipped catalogue: `edit` changes files in a copy of dialogs/. */
async function variant(edit: (dialogs: string) => Promise<void>): Promise<{ snapshot: CatalogueSnapshot; documents: CatalogueDocuments }> {
  const root = await tmp('cat-variant-');
  await cp(path.join(PROJECT_ROOT, 'dialogs'), path.join(root, 'dialogs'), { recursive: true });
  await cp(path.join(PROJECT_ROOT, 'intents'), path.join(root, 'intents'), { recursive: true });
  await edit(path.join(root, 'dialogs'));
  const r = await readAndValidate(await layoutPaths(root, config.modelFile));
  if (!r.documents) throw new Error(`variant invalid: ${JSON.stringify(r.errors)}`);
  return { snapshot: r.snapshot, documents: r.documents };
}

function capture(): { io: Writable; text(): string } {
  let s = '';
  return { io: new Writable({ write(c, _e, cb) { s += String(c); cb(); } }), text: () => s };
}
async function cli(sub: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [o, e] = [capture(), capture()];
  const code = await runCatalogueCommand(sub, args, { stdout: o.io, stderr: e.io, db: tdb.db, config });
  return { code, out: o.text(), err: e.text() };
}

beforeAll(async () => {
  tdb = await createTestDb();
  store = new CatalogueVersionStore(tdb.db);
  config = loadConfig({ LOG_LEVEL: 'silent' });
  const r = await readAndValidate(pathsFromConfig(config));
  expect(r.errors).toEqual([]);
  base = { snapshot: r.snapshot, documents: r.documents! };
  const first = await store.publishSnapshot(base.snapshot, base.documents, { author: 'system', reason: 'initial import', onlyIfEmpty: true });
  expect(first).toMatchObject({ created: true, version: { number: 1, status: 'published' } });
});
afterAll(async () => {
  await tdb?.drop();
  for (const d of tmps) await rm(d, { recursive: true, force: true });
});

describe('a version is immutable', () => {
  it('refuses changes to its content and its deletion; only the status moves, forward', async () => {
    await expect(q(`UPDATE catalogue_versions SET files = '{}'::jsonb WHERE number = 1`)).rejects.toThrow(/catalogue version 1 is immutable: only its status may change/);
    await expect(q(`UPDATE catalogue_versions SET documents = jsonb_set(documents, '{items,0,risk}', '"low"') WHERE number = 1`)).rejects.toThrow(/immutable/);
    await expect(q(`UPDATE catalogue_versions SET reason = 'rewritten history' WHERE number = 1`)).rejects.toThrow(/immutable/);
    await expect(q(`UPDATE catalogue_versions SET content_hash = repeat('0', 64) WHERE number = 1`)).rejects.toThrow(/immutable/);
    await expect(q('DELETE FROM catalogue_versions WHERE number = 1')).rejects.toThrow(/cannot be deleted/);
    await expect(q('TRUNCATE catalogue_versions CASCADE')).rejects.toThrow(/cannot be deleted/);
    await expect(q(`UPDATE catalogue_versions SET status = 'draft' WHERE number = 1`)).rejects.toThrow(/status published cannot become draft/);
    await expect(q(`UPDATE catalogue_versions SET published_by = 'mallory@example.com' WHERE number = 1`)).rejects.toThrow(/written once/);
    const [v] = await q('SELECT status, reason, content_hash FROM catalogue_versions WHERE number = 1');
    expect(v).toEqual({ status: 'published', reason: 'initial import', content_hash: contentHash(base.snapshot) });
  });

  it('a second published row is impossible (unique index), even bypassing the store', async () => {
    await expect(q(`INSERT INTO catalogue_versions (number, status, content_hash, files, documents, item_count, author, reason)
      VALUES (999, 'published', repeat('a', 64), '{}', '{"items": []}', 0, 'x', 'y')`)).rejects.toThrow(/catalogue_versions_one_current/);
  });
});

describe('publishing', () => {
  it('exactly one version is current after concurrent publishes; each supersedes the one before', async () => {
    const before = (await store.currentSummary())!.number;
    const drafts = [];
    for (let i = 0; i < 5; i++) {
      const v = await variant(async (d) => writeFile(path.join(d, 'vpn-access.yaml'), `${await readFile(path.join(d, 'vpn-access.yaml'), 'utf8')}# variant ${i}\n`));
      drafts.push(await store.createDraft(v.snapshot, v.documents, meta(`variant ${i}`)));
    }
    expect(drafts.map((d) => d.status)).toEqual(Array(5).fill('draft'));
    const results = await Promise.all(drafts.map((d) => store.publish(d.number, meta(`publish ${d.number}`))));
    const published = await q(`SELECT number FROM catalogue_versions WHERE status = 'published'`);
    expect(published).toHaveLength(1);
    // the chain of "previous" versions is a line through every publish: nothing lost, nothing doubled
    const prevs = results.map((r) => r.previous!.number).sort((a, b) => a - b);
    const nums = results.map((r) => r.version.number);
    expect(prevs).toEqual([before, ...nums].sort((a, b) => a - b).filter((n) => n !== published[0]!.number));
    const ended = await q(`SELECT number, status, successor FROM catalogue_versions WHERE number = ANY($1) ORDER BY number`, [[before, ...nums]]);
    expect(ended.filter((r) => r.status === 'superseded')).toHaveLength(5);
    for (const r of ended.filter((x) => x.status === 'superseded')) expect(nums).toContain(r.successor);
    const audits = await q(`SELECT subject FROM audit_log WHERE action = 'catalogue.published' AND subject = ANY($1)`, [nums.map((n) => `catalogue:v${n}`)]);
    expect(audits).toHaveLength(5);
  });

  it('with expectedCurrent only one of several publishes based on the same version wins', async () => {
    const cur = (await store.currentSummary())!.number;
    const drafts = [];
    for (let i = 0; i < 4; i++) {
      const v = await variant(async (d) => writeFile(path.join(d, 'mfa-reset.yaml'), `${await readFile(path.join(d, 'mfa-reset.yaml'), 'utf8')}# race ${i}\n`));
      drafts.push(await store.createDraft(v.snapshot, v.documents, meta(`race ${i}`)));
    }
    const settled = await Promise.allSettled(drafts.map((d) => store.publish(d.number, { ...meta('race'), expectedCurrent: cur })));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    const lost = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as CatalogueVersionError);
    expect(lost.map((e) => e.code)).toEqual(['CONFLICT', 'CONFLICT', 'CONFLICT']);
    expect(lost[0]!.message).toMatch(/the current version is v\d+, not v\d+/);
    expect(await q(`SELECT count(*)::int AS n FROM catalogue_versions WHERE status = 'draft' AND number = ANY($1)`, [drafts.map((d) => d.number)])).toEqual([{ n: 3 }]);
  });

  it('only drafts are published; a discarded draft stays in the history', async () => {
    await expect(store.publish(1, meta('again'))).rejects.toMatchObject({ code: 'NOT_DRAFT' });
    await expect(store.publish(9999, meta('nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const v = await variant(async (d) => writeFile(path.join(d, 'mfa-reset.yaml'), `${await readFile(path.join(d, 'mfa-reset.yaml'), 'utf8')}# abandoned\n`));
    const draft = await store.createDraft(v.snapshot, v.documents, meta('to be abandoned'));
    const gone = await store.discard(draft.number, meta('not needed after all'));
    expect(gone).toMatchObject({ status: 'discarded', endedBy: 'ada.admin@example.com', endedReason: 'not needed after all' });
    await expect(store.publish(draft.number, meta('late'))).rejects.toMatchObject({ code: 'NOT_DRAFT' });
    await expect(store.createDraft(v.snapshot, v.documents, { author: 'x', reason: ' ' })).rejects.toMatchObject({ code: 'INVALID' });
  });
});

describe('change control hook', () => {
  it('beforeChange runs under the publish lock and can refuse; nothing moves then', async () => {
    const seen: string[] = [];
    const guarded = new CatalogueVersionStore(tdb.db, { beforeChange: async (tx, c) => {
      seen.push(`${c.action} v${c.version} from v${c.current} by ${c.author}`);
      const open = await tx.query(`SELECT 1 FROM catalogue_versions WHERE status = 'published'`);
      if (open.rows.length !== 1) throw new Error('expected one current version inside the transaction');
      if (!/CR-\d+/.test(c.reason)) throw new CatalogueVersionError('CONFLICT', 'no approved change request named in the reason');
    } });
    const cur = (await guarded.currentSummary())!.number;
    const v = await variant(async (d) => writeFile(path.join(d, 'mfa-reset.yaml'), `${await readFile(path.join(d, 'mfa-reset.yaml'), 'utf8')}# guarded\n`));
    const draft = await guarded.createDraft(v.snapshot, v.documents, meta('guarded change'));
    await expect(guarded.publish(draft.number, meta('just because'))).rejects.toThrow(/no approved change request/);
    expect((await guarded.currentSummary())!.number).toBe(cur);
    expect((await guarded.get(draft.number))!.status).toBe('draft');
    const ok = await guarded.publish(draft.number, meta('CR-12 approved by the CAB'));
    expect(ok.version.status).toBe('published');
    expect(seen).toEqual([`publish v${draft.number} from v${cur} by ada.admin@example.com`, `publish v${draft.number} from v${cur} by ada.admin@example.com`]);
  });
});

describe('rollback', () => {
  it('republishes an earlier version as a new version, marks the replaced one rolled-back, and is audited', async () => {
    const stricter = await variant(async (d) => {
      const f = path.join(d, 'vpn-access.yaml');
      await writeFile(f, (await readFile(f, 'utf8')).replace(/^risk: .*$/m, 'risk: high'));
    });
    const draft = await store.createDraft(stricter.snapshot, stricter.documents, meta('VPN is high risk now'));
    const pub = await store.publish(draft.number, meta('approved change'));
    expect(pub.diff!.items.changed.map((c) => c.id)).toEqual(['vpn-access']);
    const res = await store.rollback(1, { author: 'ada.admin@example.com', reason: 'the risk change broke approvals' });
    expect(res.version).toMatchObject({ number: draft.number + 1, status: 'published', rollbackOf: 1, basedOn: draft.number, contentHash: contentHash(base.snapshot), author: 'ada.admin@example.com' });
    expect(res.previous).toMatchObject({ number: draft.number, status: 'rolled-back', successor: draft.number + 1, endedReason: 'the risk change broke approvals' });
    expect(res.diff!.items.changed[0]).toMatchObject({ id: 'vpn-access', risk: { from: 'high', to: 'medium', lowered: true } });
    const v1 = (await store.get(1))!;
    const now = (await store.current())!;
    expect(now.files).toEqual(v1.files); // history is not rewritten: v1 is untouched, the content is copied
    expect(v1.status).toBe('superseded');
    const [a] = await q(`SELECT actor, detail FROM audit_log WHERE action = 'catalogue.rolled-back' AND subject = $1`, [`catalogue:v${res.version.number}`]);
    expect(a).toMatchObject({ actor: 'ada.admin@example.com', detail: { rollbackOf: 1, previous: draft.number, reason: 'the risk change broke approvals', summary: { itemsChanged: ['vpn-access'], weakened: ['vpn-access'] } } });
    await expect(store.rollback(res.version.number, meta('noop'))).rejects.toMatchObject({ code: 'ALREADY_CURRENT' });
    await expect(store.rollback(1, meta('same content'))).rejects.toMatchObject({ code: 'ALREADY_CURRENT' });
    const d2 = await store.createDraft(stricter.snapshot, stricter.documents, meta('a draft'));
    await expect(store.rollback(d2.number, meta('to a draft'))).rejects.toMatchObject({ code: 'NEVER_PUBLISHED' });
  });

  it('errand catalogue rollback needs a reason and an author, and reports the new version', async () => {
    expect((await cli('rollback', '1', '--reason', 'x')).code).toBe(2);
    const cur = (await store.currentSummary())!;
    const target = (await q(`SELECT number FROM catalogue_versions WHERE status = 'rolled-back' ORDER BY number DESC LIMIT 1`))[0]!.number as number;
    const next = ((await q('SELECT max(number)::int AS n FROM catalogue_versions'))[0]!.n as number) + 1; // numbers are never reused, drafts take them too
    const r = await cli('rollback', String(target), '--reason', 'try the stricter VPN again', '--author', 'ada.admin@example.com');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^rolled back to v${target} as v${next} \\(published, 17 items, by ada.admin@example.com at .* UTC: try the stricter VPN again\\); v${cur.number} is now rolled-back`));
    expect(r.out).toContain('~ vpn-access (VPN access)');
  });
});

describe('export and import', () => {
  it('round-trips a version losslessly: the same content hash and byte-identical files', async () => {
    const out = await tmp('cat-export-');
    const e = await cli('export', '1', '--out', out);
    expect(e.code).toBe(0);
    expect(e.out).toMatch(/^exported v1 \(superseded, 17 items, by system at .* UTC: initial import\) to .*: \d+ file\(s\)/);
    for (const name of (await readdir(path.join(PROJECT_ROOT, 'dialogs'))).filter((n) => n.endsWith('.yaml'))) {
      expect(await readFile(path.join(out, 'dialogs', name), 'utf8')).toBe(await readFile(path.join(PROJECT_ROOT, 'dialogs', name), 'utf8'));
    }
    expect(await readFile(path.join(out, 'intents', 'vpn-access.yaml'), 'utf8')).toBe(await readFile(path.join(PROJECT_ROOT, 'intents', 'vpn-access.yaml'), 'utf8'));
    const reread = await readFolderSnapshot(await layoutPaths(out, config.modelFile));
    expect(contentHash(reread)).toBe(contentHash(base.snapshot));

    const i = await cli('import', out, '--reason', 'round trip', '--author', 'ada.admin@example.com');
    expect(i.code).toBe(0);
    const n = Number(/draft v(\d+) created/.exec(i.out)![1]);
    const draft = (await store.get(n))!;
    expect(draft).toMatchObject({ status: 'draft', contentHash: contentHash(base.snapshot), author: 'ada.admin@example.com', reason: 'round trip' });
    expect(draft.files).toEqual((await store.get(1))!.files);
    expect(draft.documents.items).toEqual((await store.get(1))!.documents.items);
    expect(i.out).toContain(`publish it with: errand catalogue publish ${n} --reason "..."`);

    // exporting over a folder removes the item files the version does not have
    await writeFile(path.join(out, 'dialogs', 'stale-item.yaml'), 'id: stale-item\n');
    const again = await cli('export', String(n), '--out', out);
    expect(again.out).toContain('removed 1 not in the version (dialogs/stale-item.yaml)');
  });

  it('an invalid import lists every problem and stores nothing', async () => {
    const out = await tmp('cat-bad-');
    expect((await cli('export', 'current', '--out', out)).code).toBe(0);
    const f = path.join(out, 'dialogs', 'vpn-access.yaml');
    await writeFile(f, (await readFile(f, 'utf8')).replace(/^risk: .*$/m, 'risk: extreme'));
    const g = path.join(out, 'dialogs', 'shared-drive-access.yaml');
    await writeFile(g, (await readFile(g, 'utf8')).replace('when: access == "write"', 'when: acess == "write"'));
    await writeFile(path.join(out, 'dialogs', 'orch-runbook.yaml'), `id: orch-runbook
title: Runbook test
description: x
category: test
owner: { team: QA, contact: qa@example.com }
responseTime: 1h
risk: low
fulfilment: automated
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: hi }
exceptions:
  - title: Broken
    symptom: the step fails
    steps: []
  - title: Wrong step
    symptom: x
    steps: [do it]
    appliesTo: [nope]
`);
    await writeFile(path.join(out, 'intents', 'vpn-access.yaml'), 'intent: vpn-access\nexamples: []\n');
    const before = await q('SELECT count(*)::int AS n FROM catalogue_versions');
    const r = await cli('import', out, '--reason', 'broken on purpose');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/catalogue import: nothing stored, 4 problem\(s\):/);
    expect(r.err).toMatch(/vpn-access\.yaml: risk: /);
    expect(r.err).toMatch(/shared-drive-access\.yaml: approvals\[1\]\.when: .*unknown field "acess"/);
    expect(r.err).toMatch(/orch-runbook\.yaml: exceptions\[0\]\.steps: at least one step/);
    expect(r.err).toMatch(/intents\/vpn-access\.yaml: examples: /);
    expect(await q('SELECT count(*)::int AS n FROM catalogue_versions')).toEqual(before);
    // the runbook's unknown step is reported once the structure is valid
    await writeFile(path.join(out, 'dialogs', 'orch-runbook.yaml'), (await readFile(path.join(out, 'dialogs', 'orch-runbook.yaml'), 'utf8')).replace('steps: []', 'steps: [restart it]'));
    await writeFile(f, (await readFile(f, 'utf8')).replace('risk: extreme', 'risk: low'));
    await writeFile(g, (await readFile(g, 'utf8')).replace('acess', 'access'));
    await cp(path.join(PROJECT_ROOT, 'intents', 'vpn-access.yaml'), path.join(out, 'intents', 'vpn-access.yaml'));
    const r2 = await cli('import', out, '--reason', 'still broken');
    expect(r2.code).toBe(1);
    expect(r2.err).toContain('orch-runbook.yaml: exceptions[1].appliesTo[0]: unknown workflow step "nope"; expected one of tell');
    expect(await q('SELECT count(*)::int AS n FROM catalogue_versions')).toEqual(before);
  });

  it('importing the current content again stores nothing', async () => {
    const out = await tmp('cat-same-');
    await cli('export', 'current', '--out', out);
    const r = await cli('import', out, '--reason', 'no change');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^nothing to import: .* is identical to the current version v\d+/);
  });
});

describe('errand catalogue versions and diff', () => {
  it('lists versions with number, status, author, time, items and reason; the current one starred', async () => {
    const r = await cli('versions');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/version\s+status\s+time \(UTC\)\s+author\s+items\s+reason/);
    expect(lines.filter((l) => l.startsWith('*'))).toHaveLength(1);
    expect(r.out).toMatch(/\n {2}v1 {7}superseded +\d{4}-\d\d-\d\d \d\d:\d\d +system +17 {2}initial import\n/);
    expect(r.out).toMatch(/rollback to v1/);
    expect(r.out).toMatch(/discarded: not needed after all/);
  });

  it('diffs two versions, or a version and the working folder', async () => {
    const cur = (await store.currentSummary())!.number;
    const r = await cli('diff', '1', String(cur));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^catalogue v1 → v${cur}: 0 added, 0 removed, 1 changed, 16 unchanged item\\(s\\)`));
    expect(r.out).toContain('risk: medium → high');
    const f = await cli('diff', '1', 'folder');
    expect(f.out).toMatch(/^catalogue v1 → folder: identical/);
    const j = await cli('diff', String(cur), '1', '--json');
    expect(JSON.parse(j.out)).toMatchObject({ weakened: true, weakenedItems: ['vpn-access'] });
    expect((await cli('diff', '1')).code).toBe(2);
    expect((await cli('diff', '1', '424242')).code).toBe(1);
  });
});
