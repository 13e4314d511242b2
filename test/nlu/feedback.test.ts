/** The feedback loop: triage labels reviewed, then folded into intents/ files (a copy here). */
import { cp, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '../../src/config.js';
import { foldAccepted, pendingLabels, reviewLabels } from '../../src/nlu/feedback.js';
import { createTestDb, type TestDb } from '../support/test-db.js';

let tdb: TestDb;
beforeAll(async () => { tdb = await createTestDb(); });
afterAll(async () => { await tdb?.drop(); });

it('folds only reviewed, accepted labels into the intents files, once', async () => {
  const ins = (text: string, intent: string) => tdb.db.query(`INSERT INTO training_labels (text, intent, source, labelled_by) VALUES ($1, $2, 'triage', 'tara.triage@example.com')`, [text, intent]);
  await ins('can you set up blorp access for me', 'vpn-access');
  await ins('my zorble thingy needs sorting', '_out_of_scope');
  await ins('Need a VPN please', 'vpn-access'); // already an example in some form? kept if new
  const pending = await pendingLabels(tdb.db);
  expect(pending.map((l) => l.intent)).toEqual(['vpn-access', '_out_of_scope', 'vpn-access']);
  expect(await reviewLabels(tdb.db, [pending[0]!.id, pending[1]!.id], 'accepted', 'ada.admin@example.com')).toBe(2);
  expect(await reviewLabels(tdb.db, [pending[2]!.id], 'rejected', 'ada.admin@example.com')).toBe(1);
  const dir = await mkdtemp(path.join(tmpdir(), 'intents-'));
  await cp(path.join(PROJECT_ROOT, 'intents'), dir, { recursive: true });
  const before = (parse(await readFile(path.join(dir, 'vpn-access.yaml'), 'utf8')) as { examples: string[] }).examples.length;
  expect(await foldAccepted(tdb.db, dir)).toEqual({ added: 2, skipped: 0, unknown: [] });
  const vpn = (parse(await readFile(path.join(dir, 'vpn-access.yaml'), 'utf8')) as { intent: string; examples: string[] });
  expect(vpn.intent).toBe('vpn-access');
  expect(vpn.examples.length).toBe(before + 1);
  expect(vpn.examples.at(-1)).toBe('can you set up blorp access for me');
  expect(vpn.examples).not.toContain('Need a VPN please');
  expect((parse(await readFile(path.join(dir, '_out_of_scope.yaml'), 'utf8')) as { examples: string[] }).examples).toContain('my zorble thingy needs sorting');
  expect(await foldAccepted(tdb.db, dir)).toEqual({ added: 0, skipped: 0, unknown: [] }); // folded once
  expect((await tdb.db.query(`SELECT status FROM training_labels ORDER BY id`)).rows.map((r) => r.status)).toEqual(['folded', 'folded', 'rejected']);
});
