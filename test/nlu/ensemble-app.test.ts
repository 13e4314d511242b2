/**
 * @jest-environment ./test/support/node-host-env.cjs
 */
// NLP_MODEL_DIR wired end to end: the app loads the local embedding model (a generated tiny BERT),
// trains the embedding head on intents/ and classifies chat messages with the ensemble.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createApp } from '../../src/app.js';
import { loadIntents } from '../../src/nlu/classifier.js';
import { writeTinyBert } from '../support/tiny-bert.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { WebUser } from '../support/web-client.js';
import { INTENTS_DIR } from './helpers.js';

let tmp: string;
let modelDir: string;
let t: TestApp;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'errand-ensemble-app-'));
  const words = (await loadIntents(INTENTS_DIR)).flatMap((d) => d.examples);
  modelDir = (await writeTinyBert(path.join(tmp, 'tiny-bert'), { words })).dir;
  t = await startTestApp({ kind: 'pglite', env: { NLP_MODEL_DIR: modelDir } });
}, 120_000);

afterAll(async () => {
  await t?.close();
  await rm(tmp, { recursive: true, force: true });
});

it('classifies chat messages with the lexical + embedding ensemble and audits the decision', async () => {
  const erin = new WebUser(t.base, 'erin.employee@example.com');
  const m = await erin.say('I need access to the finance drive');
  expect(m.map((x) => x.text).join('\n')).toMatch(/Shared drive access/);
  const audit = (await t.app.db.query(`SELECT detail FROM audit_log WHERE action = 'nlu.classified' ORDER BY id DESC LIMIT 1`)).rows[0]!;
  expect(audit.detail.intent).toBe('shared-drive-access');
  expect(audit.detail.confidence).toBeGreaterThan(0);
  expect(audit.detail.confidence).toBeLessThanOrEqual(1);
});

it('keeps chit-chat out of the catalogue', async () => {
  const ivan = new WebUser(t.base, 'ivan.itlead@example.com');
  const m = await ivan.say('tell me a joke about the weather');
  expect(m.at(-1)!.text).toMatch(/doesn't sound like an IT request|passed it to the service desk/);
});

it('refuses to start with a clear error when NLP_MODEL_DIR is not a model folder', async () => {
  const config = loadConfig({ LOG_LEVEL: 'silent', API_KEYS: 'k', NLP_MODEL_DIR: path.join(tmp, 'nope') });
  await expect(createApp({ config })).rejects.toThrow(/nope.*config\.json|config\.json.*nope/s);
});
