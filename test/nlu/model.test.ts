import { trainCalibratedModel } from '../../src/nlu/train.js';
import { loadLexicon } from '../../src/nlu/lexicon.js';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  createClassifier,
  dataHash,
  loadIntents,
  loadModel,
  ModelLoadError,
  parseModel,
  serialiseModel,
  trainModel,
  type IntentExamples,
  type IntentModel,
} from '../../src/nlu/classifier.js';
import { MODEL_FILE, INTENTS_DIR } from './helpers.js';

let data: IntentExamples[];
let model: IntentModel;
let trainMs: number;
let dir: string;

beforeAll(async () => {
  data = await loadIntents(INTENTS_DIR);
  const t0 = performance.now();
  model = trainModel(data);
  trainMs = performance.now() - t0;
  dir = await mkdtemp(path.join(os.tmpdir(), 'errand-nlu-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trainModel', () => {
  it('trains all intents', () => {
    expect(trainMs).toBeGreaterThan(0); // speed is measured by `errand train`, not asserted in tests
    expect(model.classes).toEqual(data.map((d) => d.intent));
    expect(model.training.examples).toBe(data.reduce((n, d) => n + d.examples.length, 0));
  });

  it('is deterministic: the same data gives the same model, byte for byte', () => {
    expect(serialiseModel(trainModel(data))).toBe(serialiseModel(model));
  });

  it('does not mutate its input', () => {
    const copy = structuredClone(data);
    trainModel(copy.slice(0, 3));
    expect(copy).toEqual(data);
  });

  it('rejects empty or duplicated intents', () => {
    expect(() => trainModel([])).toThrow(/no intents/);
    expect(() => trainModel([{ intent: 'a', examples: ['x'] }, { intent: 'a', examples: ['y'] }])).toThrow(/more than once/);
  });
});

describe('model file', () => {
  it('round-trips through JSON and classifies identically', async () => {
    const file = path.join(dir, 'roundtrip.json');
    await writeFile(file, serialiseModel(model));
    const loaded = await loadModel(file);
    expect(loaded).toEqual(model);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    const a = createClassifier(model, { threshold: 0.4 });
    const b = createClassifier(loaded, { threshold: 0.4 });
    for (const text of ['I need access to the finance drive', 'new laptop please', 'hi there', 'vpn acess']) {
      expect(b.classify(text)).toEqual(a.classify(text));
    }
  });

  it('the committed model is current: trained on the present intents/ with the present code (else run `errand train`)', async () => {
    const shipped = await loadModel(MODEL_FILE);
    expect(shipped.training.dataSha256).toBe(dataHash(data));
    // what `errand train` writes: the model plus its temperature, fitted by deterministic 5-fold CV
    const lexicon = await loadLexicon(INTENTS_DIR);
    expect(lexicon).toBeDefined(); // intents/_lexicon.yaml is part of the training data
    expect(shipped.lexicon).toEqual(lexicon);
    expect(serialiseModel(shipped)).toBe(serialiseModel(trainCalibratedModel(data, { lexicon })));
  });

  it('the committed model is under 2 MB', async () => {
    expect((await stat(MODEL_FILE)).size).toBeLessThan(2 * 1024 * 1024);
  });

  it('a missing file gives a clear error', async () => {
    await expect(loadModel(path.join(dir, 'nope.json'))).rejects.toThrow(/not found.*errand train/);
    await expect(loadModel(path.join(dir, 'nope.json'))).rejects.toBeInstanceOf(ModelLoadError);
  });

  it('a corrupt (truncated) file gives a clear error', async () => {
    const file = path.join(dir, 'corrupt.json');
    const text = await readFile(MODEL_FILE, 'utf8');
    await writeFile(file, text.slice(0, Math.floor(text.length / 2)));
    await expect(loadModel(file)).rejects.toThrow(/corrupt\.json is not valid JSON.*errand train/);
  });

  it('a file from another version or with a wrong shape gives a clear error', () => {
    const old = { ...JSON.parse(serialiseModel(model)), version: 0 };
    expect(() => parseModel(JSON.stringify(old), 'old.json')).toThrow(/old\.json has format version 0.*errand train/);
    expect(() => parseModel(JSON.stringify({ classes: ['a'] }), 'x.json')).toThrow(/x\.json is invalid or from an older version.*format/);
    const bad = JSON.parse(serialiseModel(model)) as IntentModel;
    bad.bias = bad.bias.slice(1);
    expect(() => parseModel(JSON.stringify(bad), 'bad.json')).toThrow(/bias: expected 18 numbers/);
    const bad2 = JSON.parse(serialiseModel(model)) as IntentModel;
    bad2.weights[Object.keys(bad2.weights)[0]!] = [1, 2];
    expect(() => parseModel(JSON.stringify(bad2), 'bad2.json')).toThrow(/weights/);
    expect(() => parseModel('null', 'n.json')).toThrow(ModelLoadError);
  });
});
