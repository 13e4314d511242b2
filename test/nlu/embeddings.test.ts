/**
 * @jest-environment ./test/support/node-host-env.cjs
 */
// The optional sentence-embedding model (src/nlu/embeddings.ts) and the lexical+embedding ensemble
// (src/nlu/ensemble.ts), on a tiny random-weight BERT generated per run (test/support/tiny-bert.ts):
// real tokenising, ONNX inference and pooling, no network.
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jest } from '@jest/globals';
import { env } from '@xenova/transformers';
import { createClassifier, OUT_OF_SCOPE, trainModel, type IntentExamples, type IntentModel } from '../../src/nlu/classifier.js';
import { EmbeddingModelError, loadEmbedder, type Embedder } from '../../src/nlu/embeddings.js';
import { createEnsembleClassifier, DEFAULT_EMBEDDING_WEIGHT } from '../../src/nlu/ensemble.js';
import { TINY_BERT_HIDDEN, writeTinyBert } from '../support/tiny-bert.js';

const DATA: IntentExamples[] = [
  { intent: 'password-reset', examples: ['I forgot my password', 'please reset my password', 'my password expired and I am locked out', 'I cannot log in, need a new password', 'reset the password for my account'] },
  { intent: 'laptop-request', examples: ['I need a new laptop', 'my laptop is too old, please order a replacement', 'can I get a laptop for the new hire', 'request a computer for work', 'order me a notebook computer'] },
  { intent: 'vpn-access', examples: ['I need VPN access', 'set up the vpn so I can work from home', 'connect to the company network remotely', 'vpn is not working from home', 'grant me remote access through the vpn'] },
  { intent: OUT_OF_SCOPE, examples: ['what is the weather today', 'tell me a joke', 'who won the football game', 'what is the capital of France', 'recommend a good pizza place', 'how tall is mount everest'] },
];
const HELD_OUT: [string, string][] = [
  ['I forgot my password again, please reset it', 'password-reset'],
  ['my account is locked, new password please', 'password-reset'],
  ['please order a new laptop for me', 'laptop-request'],
  ['I need vpn access to work from home', 'vpn-access'],
];
const OUT = ['tell me the weather in Paris', 'what is a good joke', 'who won the game today'];
const PROBES = [...HELD_OUT.map(([t]) => t), ...OUT, 'blorp zzz'];
const WORDS = [...DATA.flatMap((d) => d.examples), ...PROBES];
const THRESHOLD = 0.4;

let tmp: string;
let modelDir: string;
let embedder: Embedder;
let lexical: IntentModel;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'errand-embeddings-'));
  modelDir = (await writeTinyBert(path.join(tmp, 'tiny-bert'), { words: WORDS })).dir;
  embedder = await loadEmbedder(modelDir);
  lexical = trainModel(DATA);
});

afterAll(async () => {
  await embedder?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cosine = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b));

describe('loadEmbedder', () => {
  it('loads the local folder and reports the model id, dimension and ONNX file', () => {
    expect(embedder.modelId).toBe('errand-tests/tiny-bert');
    expect(embedder.dimension).toBe(TINY_BERT_HIDDEN);
    expect(embedder.onnxFile).toBe('onnx/model.onnx');
    expect(env.allowRemoteModels).toBe(false);
  });

  it('returns one unit-length vector of the model dimension per text', async () => {
    const vectors = await embedder.embed(PROBES);
    expect(vectors).toHaveLength(PROBES.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v.length).toBe(TINY_BERT_HIDDEN);
      expect(Math.abs(norm(v) - 1)).toBeLessThan(1e-5);
    }
    expect(await embedder.embed([])).toEqual([]);
  });

  it('gives identical text the identical vector, and lower-cases like a BERT tokenizer', async () => {
    const [a] = await embedder.embed(['please reset my password']);
    const [again] = await embedder.embed(['please reset my password']);
    const [upper] = await embedder.embed(['PLEASE RESET MY PASSWORD']);
    expect(Array.from(again!)).toEqual(Array.from(a!));
    expect(Array.from(upper!)).toEqual(Array.from(a!));
    const [b, c] = await embedder.embed(['please reset my password', 'please reset my password']);
    expect(Array.from(c!)).toEqual(Array.from(b!));
    // onnxruntime's kernels block the batch differently, so a batch of two matches one alone to float
    // rounding, not bit for bit.
    for (let d = 0; d < TINY_BERT_HIDDEN; d++) expect(b![d]).toBeCloseTo(a![d]!, 6);
  });

  it('gives different texts different vectors (words outside the vocabulary too)', async () => {
    const [a, b, c, d] = await embedder.embed(['please reset my password', 'order a new laptop', 'qwxy', 'zvvk']);
    expect(cosine(a!, b!)).toBeLessThan(0.95);
    expect(Math.max(...a!.map((x, i) => Math.abs(x - b![i]!)))).toBeGreaterThan(1e-2);
    expect(cosine(c!, d!)).toBeLessThan(0.99); // split into different ## pieces, not both [UNK]
  });

  it('embeds a padded batch like one text at a time, whatever the batch size', async () => {
    const texts = ['vpn', 'my laptop is too old, please order a replacement', 'I forgot my password', 'tell me a joke', 'x'];
    const batch = await embedder.embed(texts);
    const small = await loadEmbedder(modelDir, { batchSize: 2 });
    try {
      const inPairs = await small.embed(texts);
      for (let i = 0; i < texts.length; i++) {
        const [alone] = await embedder.embed([texts[i]!]);
        for (let d = 0; d < TINY_BERT_HIDDEN; d++) {
          expect(batch[i]![d]).toBeCloseTo(alone![d]!, 5);
          expect(inPairs[i]![d]).toBeCloseTo(alone![d]!, 5);
        }
      }
    } finally {
      await small.dispose();
    }
  });

  describe('a missing or invalid folder gives an error naming what is missing and what is expected', () => {
    async function broken(name: string, change: (dir: string) => Promise<void>, onnxFiles?: ('model.onnx' | 'model_quantized.onnx')[]): Promise<string> {
      const dir = path.join(tmp, name);
      await writeTinyBert(dir, { words: ['x'], onnxFiles });
      await change(dir);
      return dir;
    }
    const expected = /config\.json, tokenizer\.json, tokenizer_config\.json and onnx\/model\.onnx and\/or onnx\/model_quantized\.onnx/;

    it('no folder', async () => {
      const dir = path.join(tmp, 'does-not-exist');
      const err = await loadEmbedder(dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EmbeddingModelError);
      expect((err as Error).message).toContain(`embedding model folder not found: ${dir}`);
      expect((err as Error).message).toMatch(expected);
    });

    it.each(['config.json', 'tokenizer.json', 'tokenizer_config.json'])('no %s', async (file) => {
      const dir = await broken(`no-${file}`, (d) => unlink(path.join(d, file)));
      const err = (await loadEmbedder(dir).catch((e: unknown) => e)) as EmbeddingModelError;
      expect(err).toBeInstanceOf(EmbeddingModelError);
      expect(err.file).toBe(file);
      expect(err.message).toContain(`has no ${file}`);
      expect(err.message).toMatch(expected);
    });

    it('no ONNX file', async () => {
      const dir = await broken('no-onnx', (d) => unlink(path.join(d, 'onnx', 'model.onnx')));
      await expect(loadEmbedder(dir)).rejects.toThrow(/has no onnx\/model\.onnx or onnx\/model_quantized\.onnx; expected/);
    });

    it('quantized weights asked for but absent', async () => {
      await expect(loadEmbedder(modelDir, { quantized: true })).rejects.toThrow(/has no onnx\/model_quantized\.onnx; expected/);
    });

    it('a config.json that is not JSON', async () => {
      const dir = await broken('bad-config', (d) => writeFile(path.join(d, 'config.json'), '{ "model_type": '));
      await expect(loadEmbedder(dir)).rejects.toThrow(/config\.json is not valid JSON/);
    });

    it('an ONNX file that is not a model', async () => {
      const dir = await broken('bad-onnx', (d) => writeFile(path.join(d, 'onnx', 'model.onnx'), 'not a model'));
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined); // transformers' own fallback notes
      try {
        await expect(loadEmbedder(dir)).rejects.toThrow(/cannot load the embedding model .*bad-onnx \(onnx\/model\.onnx\): Failed to load model because protobuf parsing failed/);
      } finally {
        warn.mockRestore();
      }
      expect(env.allowRemoteModels).toBe(false);
    });

    it('falls back to the quantized file when model.onnx is absent', async () => {
      const dir = await broken('quantized-only', async () => undefined, ['model_quantized.onnx']);
      const q = await loadEmbedder(dir);
      try {
        expect(q.onnxFile).toBe('onnx/model_quantized.onnx');
        expect(q.dimension).toBe(TINY_BERT_HIDDEN);
      } finally {
        await q.dispose();
      }
    });
  });
});

describe('createEnsembleClassifier', () => {
  it('routes held-out paraphrases to their intent and rejects out-of-scope and unknown words', async () => {
    const ensemble = await createEnsembleClassifier(lexical, embedder, DATA, { threshold: THRESHOLD, margin: 0.2 });
    expect(ensemble.intents).toEqual(['password-reset', 'laptop-request', 'vpn-access']);
    expect(ensemble.embeddingWeight).toBe(DEFAULT_EMBEDDING_WEIGHT);
    expect(ensemble.embeddingModel).toBe('errand-tests/tiny-bert');
    for (const [text, intent] of HELD_OUT) {
      const c = await ensemble.classify(text);
      expect({ text, intent: c.intent, route: c.route }).toEqual({ text, intent, route: 'fulfil' });
      expect(c.confidence).toBeGreaterThanOrEqual(THRESHOLD);
      expect(c.alternatives.map((a) => a.intent)).not.toContain(OUT_OF_SCOPE);
    }
    for (const text of OUT) {
      const c = await ensemble.classify(text);
      expect({ text, intent: c.intent, route: c.route, reason: c.reason }).toEqual({ text, intent: null, route: 'triage', reason: 'out-of-scope' });
    }
    expect(await ensemble.classify('blorp zzz')).toEqual({ text: 'blorp zzz', intent: null, confidence: 0, route: 'triage', alternatives: [], reason: 'no-known-words' });
  });

  it('averages the two models\' probabilities with the given weight', async () => {
    const w = 0.3;
    const ensemble = await createEnsembleClassifier(lexical, embedder, DATA, { threshold: THRESHOLD, margin: 0.2, embeddingWeight: w });
    const p = (await ensemble.probabilities('I need vpn access to work from home'))!;
    for (let c = 0; c < p.combined.length; c++) expect(p.combined[c]).toBeCloseTo((1 - w) * p.lexical[c]! + w * p.embedding[c]!, 12);
    expect(p.embedding.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 9);
    expect(Array.from(p.embedding)).not.toEqual(Array.from(p.lexical));
  });

  it('with weight 0 decides exactly like the lexical classifier', async () => {
    const ensemble = await createEnsembleClassifier(lexical, embedder, DATA, { threshold: THRESHOLD, margin: 0.2, embeddingWeight: 0 });
    const plain = createClassifier(lexical, { threshold: THRESHOLD, margin: 0.2 });
    for (const text of PROBES) expect(await ensemble.classify(text)).toEqual(plain.classify(text));
  });

  it('with weight 1 the embedding model alone places the clear paraphrases', async () => {
    const ensemble = await createEnsembleClassifier(lexical, embedder, DATA, { threshold: THRESHOLD, margin: 0, embeddingWeight: 1 });
    for (const [text, intent] of HELD_OUT.filter(([t]) => !t.startsWith('my account'))) expect((await ensemble.classify(text)).intent).toBe(intent);
    for (const text of OUT) expect((await ensemble.classify(text)).reason).toBe('out-of-scope');
  });

  it('is deterministic: two builds from two generated copies of the model decide identically', async () => {
    const copy = await writeTinyBert(path.join(tmp, 'tiny-bert-copy'), { words: WORDS });
    expect(await readFile(path.join(copy.dir, 'onnx', 'model.onnx'))).toEqual(await readFile(path.join(modelDir, 'onnx', 'model.onnx')));
    const second = await loadEmbedder(copy.dir);
    try {
      const opts = { threshold: THRESHOLD, margin: 0.2 };
      const a = await createEnsembleClassifier(lexical, embedder, DATA, opts);
      const b = await createEnsembleClassifier(trainModel(DATA), second, DATA, opts);
      for (const text of PROBES) {
        expect(await b.classify(text)).toEqual(await a.classify(text));
        expect(await b.probabilities(text)).toEqual(await a.probabilities(text));
      }
    } finally {
      await second.dispose();
    }
  });

  it('refuses training data whose intents differ from the lexical model\'s, and bad options', async () => {
    const fewer = DATA.filter((d) => d.intent !== 'vpn-access');
    await expect(createEnsembleClassifier(lexical, embedder, fewer, { threshold: THRESHOLD })).rejects.toThrow(/no examples for vpn-access/);
    const more = [...DATA, { intent: 'mfa-reset', examples: ['reset my mfa'] }];
    await expect(createEnsembleClassifier(lexical, embedder, more, { threshold: THRESHOLD })).rejects.toThrow(/not in the model: mfa-reset/);
    await expect(createEnsembleClassifier(lexical, embedder, DATA, { threshold: THRESHOLD, embeddingWeight: 1.5 })).rejects.toThrow(RangeError);
  });
});
