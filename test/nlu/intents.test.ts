import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IntentDataError, loadIntents, OUT_OF_SCOPE } from '../../src/nlu/classifier.js';
import { INTENTS_DIR } from './helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'errand-intents-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function errorsOf(files: Record<string, string>): Promise<IntentDataError> {
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  try {
    await loadIntents(dir);
  } catch (e) {
    expect(e).toBeInstanceOf(IntentDataError);
    return e as IntentDataError;
  }
  throw new Error('expected loadIntents to fail');
}

describe('loadIntents', () => {
  it('loads the repository training data, out-of-scope included', async () => {
    const data = await loadIntents(INTENTS_DIR);
    expect(data.length).toBeGreaterThanOrEqual(2);
    expect(data.map((d) => d.intent)).toContain(OUT_OF_SCOPE);
    expect(data.map((d) => d.intent)).toContain('shared-drive-access');
    for (const d of data) expect(d.examples.length).toBeGreaterThan(0);
  });

  it('loads a valid folder in file-name order', async () => {
    await writeFile(path.join(dir, 'b-thing.yaml'), 'intent: b-thing\nexamples:\n  - second\n');
    await writeFile(path.join(dir, 'a-thing.yml'), 'intent: a-thing\nexamples: [first, "also first"]\n');
    await writeFile(path.join(dir, 'README.md'), 'not yaml data');
    expect(await loadIntents(dir)).toEqual([
      { intent: 'a-thing', examples: ['first', 'also first'] },
      { intent: 'b-thing', examples: ['second'] },
    ]);
  });

  it('names the file in every error', async () => {
    const e = await errorsOf({
      'broken.yaml': 'intent: broken\nexamples: [unclosed\n',
      'empty.yaml': 'intent: empty\nexamples: []\n',
      'wrong-name.yaml': 'intent: other-name\nexamples: [hello there]\n',
      'numbers.yaml': 'intent: numbers\nexamples: [42]\n',
      'dupe.yaml': 'intent: dupe\nexamples: [same words, Same Words]\n',
      'Bad_Id.yaml': 'intent: Bad_Id\nexamples: [x]\n',
    });
    const files = e.errors.map((x) => x.file);
    for (const f of ['broken.yaml', 'empty.yaml', 'wrong-name.yaml', 'numbers.yaml', 'dupe.yaml', 'Bad_Id.yaml']) expect(files).toContain(f);
    expect(e.message).toMatch(/broken\.yaml: .*not valid YAML/);
    expect(e.message).toMatch(/empty\.yaml: examples: at least one example/);
    expect(e.message).toMatch(/wrong-name\.yaml: intent: intent "other-name" must match the file name "wrong-name"/);
    expect(e.message).toMatch(/numbers\.yaml: examples\[0\]/);
    expect(e.message).toMatch(/dupe\.yaml: examples\[1\]: duplicate of examples\[0\]/);
  });

  it('rejects an example given under two intents', async () => {
    const e = await errorsOf({
      'one.yaml': 'intent: one\nexamples: [shared example]\n',
      'two.yaml': 'intent: two\nexamples: [Shared example]\n',
    });
    expect(e.message).toMatch(/two\.yaml: examples\[0\]: "Shared example" is also an example in one\.yaml/);
  });

  it('reports a missing or empty folder', async () => {
    await expect(loadIntents(path.join(dir, 'missing'))).rejects.toThrow(/cannot read the intents folder/);
    await mkdir(path.join(dir, 'empty'));
    await expect(loadIntents(path.join(dir, 'empty'))).rejects.toThrow(/no intent files/);
  });
});
