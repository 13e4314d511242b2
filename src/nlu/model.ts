/**
 * The intent model: multinomial logistic regression (softmax) over the features of features.ts,
 * trained by deterministic full-batch accelerated gradient descent on the L2-regularised mean
 * cross-entropy. No randomness anywhere: the same examples in the same order give the same model,
 * byte for byte (weights are rounded before they are returned, so a model that went through JSON
 * classifies exactly like the one that was trained).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_FEATURE_OPTIONS, idfOf, rawFeatures, weightFeatures, type FeatureOptions } from './features.js';
import { lexiconFeature, lexiconMatcher, type Lexicon } from './lexicon.js';
import { words } from './text.js';
import { createObjective } from './objective/parallel.js';

export const MODEL_FORMAT = 'errand-intent-model';
export const MODEL_VERSION = 1;
/** The trained class of messages the bot does not handle; never returned as an intent. */
export const OUT_OF_SCOPE = '_out_of_scope';

export interface IntentExamples { intent: string; examples: string[] }

export interface TrainOptions extends FeatureOptions {
  /** L2 penalty on the weights (the mean cross-entropy is penalised by l2/2 · ‖W‖²). */
  l2: number;
  /** Maximum L-BFGS iterations. */
  iterations: number;
  /** Bigrams (and character n-grams) seen in fewer training examples than this are not features. */
  minNgramCount: number;
  /** Weight examples so that every class has the same total weight. */
  balanceClasses: boolean;
  /** Product lexicon (lexicon.ts): a named type is one more feature; stored in the model. */
  lexicon?: Lexicon;
}

/**
 * Features chosen by 5-fold cross-validation on the training part of the fixed split (never the
 * held-out part), comparing routing utility (see evaluate.ts): unigrams alone scored ~0.68-0.69,
 * + bigrams ~0.69, + character 4-grams ~0.72. L2 and iterations chosen on CLINC150's validation split
 * (bench/, raw top-1 accuracy over the 150 intents): l2 1e-5 → 0.921, 3e-6 → 0.928, 1e-6 → 0.931,
 * 2e-7 → 0.931; 100 and 150 iterations gave the same model quality at 1e-6. Also tried and not kept:
 * character 3-5-grams (0.923 at 3e-6, 4× slower), character weight 0.8 (0.920), bigram weight 0.6 (0.923).
 */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  ...DEFAULT_FEATURE_OPTIONS,
  l2: 1e-6,
  iterations: 100,
  minNgramCount: 3,
  balanceClasses: false,
};

const finite = z.number().finite();
const featureOptionsSchema = z.object({
  bigramWeight: finite.min(0),
  charNgram: z.number().int().min(0).max(8),
  charNgramFrom: z.number().int().min(1).max(8).optional(),
  charAcrossWords: z.boolean().optional(),
  charWeight: finite.min(0),
  idf: z.boolean(),
  dropStopwords: z.boolean(),
  unknownWeight: finite.min(0),
});

export const intentModelSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    version: z.literal(MODEL_VERSION),
    classes: z.array(z.string().min(1)).min(1),
    outOfScope: z.string().nullable(),
    featureOptions: featureOptionsSchema,
    bias: z.array(finite),
    weights: z.record(z.string(), z.array(finite)),
    /** Inverse document frequency of each feature in `weights`; `unknownIdf` for any other. */
    idf: z.record(z.string(), finite.positive()),
    unknownIdf: finite.positive(),
    vocabulary: z.record(z.string(), z.number().int().positive()),
    training: z.object({
      examples: z.number().int().nonnegative(),
      perClass: z.record(z.string(), z.number().int().nonnegative()),
      options: featureOptionsSchema.extend({
        l2: finite.min(0),
        iterations: z.number().int().min(0),
        minNgramCount: z.number().int().min(1),
        balanceClasses: z.boolean(),
      }),
      dataSha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
    /** Product lexicon (lexicon.ts) the model was trained with; absent = none. */
    lexicon: z.record(z.string(), z.array(z.array(z.string().min(1)).min(1))).optional(),
    /** Temperature scaling fitted on held-out predictions (see calibration.ts); absent = uncalibrated. */
    calibration: z
      .object({
        method: z.literal('temperature'),
        temperature: finite.positive(),
        examples: z.number().int().nonnegative(),
        eceBefore: finite.min(0),
        eceAfter: finite.min(0),
      })
      .optional(),
  })
  .superRefine((m, ctx) => {
    const c = m.classes.length;
    if (new Set(m.classes).size !== c) ctx.addIssue({ code: 'custom', path: ['classes'], message: 'duplicate class ids' });
    if (m.outOfScope !== null && !m.classes.includes(m.outOfScope)) {
      ctx.addIssue({ code: 'custom', path: ['outOfScope'], message: `"${m.outOfScope}" is not one of the classes` });
    }
    if (m.bias.length !== c) ctx.addIssue({ code: 'custom', path: ['bias'], message: `expected ${c} numbers, got ${m.bias.length}` });
    for (const [f, w] of Object.entries(m.weights)) {
      if (w.length !== c) {
        ctx.addIssue({ code: 'custom', path: ['weights', f], message: `expected ${c} numbers, got ${w.length}` });
        return;
      }
    }
  });

/** A trained model, as stored in models/intent-model.json. */
export type IntentModel = z.infer<typeof intentModelSchema>;

const round = (x: number, decimals: number): number => {
  const f = 10 ** decimals;
  const r = Math.round(x * f) / f;
  return r === 0 ? 0 : r; // no -0 in JSON
};

/** SHA-256 over the intents and their examples, in order (stored in the model as training.dataSha256). */
export function dataHash(data: readonly IntentExamples[]): string {
  const h = createHash('sha256');
  for (const d of data) h.update(JSON.stringify([d.intent, d.examples]));
  return h.digest('hex');
}

/**
 * Trains a model on every example given. Pure and deterministic. Classes keep the order of `data`;
 * the class named OUT_OF_SCOPE (if any) is trained like the others and flagged as out of scope.
 */
export function trainModel(data: readonly IntentExamples[], opts: Partial<TrainOptions> = {}): IntentModel {
  const o: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, ...opts };
  const classes = data.map((d) => d.intent);
  if (classes.length === 0) throw new Error('trainModel: no intents given');
  if (new Set(classes).size !== classes.length) throw new Error('trainModel: an intent appears more than once');
  const C = classes.length;

  // Examples → feature maps; vocabulary of surface words for spelling correction.
  const vocabulary = new Map<string, number>();
  const docs: { y: number; f: Map<string, number> }[] = [];
  const df = new Map<string, number>();
  const lexicon = lexiconMatcher(o.lexicon);
  data.forEach((d, y) => {
    for (const text of d.examples) {
      const ws = words(text);
      if (ws.length === 0) continue;
      for (const w of ws) vocabulary.set(w, (vocabulary.get(w) ?? 0) + 1);
      const f = rawFeatures(ws, o);
      for (const t of lexicon.match(ws).types) f.set(lexiconFeature(t), 1);
      for (const k of f.keys()) df.set(k, (df.get(k) ?? 0) + 1);
      docs.push({ y, f });
    }
  });
  if (docs.length === 0) throw new Error('trainModel: no usable examples');
  const unknownIdf = (o.idf ? idfOf(docs.length, 0) : 1) * o.unknownWeight;
  const idf = (k: string): number => (o.idf ? idfOf(docs.length, df.get(k) ?? 0) : 1);
  for (const d of docs) weightFeatures(d.f, (k) => (k.startsWith('u:') || (df.get(k) ?? 0) >= o.minNgramCount ? idf(k) : unknownIdf));

  // Feature index: every unigram; n-grams seen in at least minNgramCount examples.
  const names = [...df.keys()].filter((k) => k.startsWith('u:') || (df.get(k) ?? 0) >= o.minNgramCount).sort();
  const index = new Map(names.map((k, i) => [k, i]));
  const F = names.length;
  const X = docs.map(({ y, f }) => {
    const idx: number[] = [];
    const val: number[] = [];
    for (const [k, x] of f) {
      const i = index.get(k);
      if (i !== undefined) { idx.push(i); val.push(x); }
    }
    return { y, idx: Int32Array.from(idx), val: Float64Array.from(val) };
  });

  const perClass = new Array<number>(C).fill(0);
  for (const d of X) perClass[d.y]! += 1;
  const N = X.length;
  const sampleWeight = X.map((d) => (o.balanceClasses ? N / (C * perClass[d.y]!) : 1) / N);

  // L-BFGS on the mean (optionally class-balanced) cross-entropy + l2/2 ‖W‖² (biases unpenalised);
  // on large data the objective runs on worker threads (objective/parallel.ts).
  const P = F * C + C; // weights, then biases
  const objective = createObjective(X, sampleWeight, F, C, o.l2);
  let theta: Float64Array;
  try {
    theta = minimiseLbfgs(objective.f, P, o.iterations);
  } finally {
    objective.close();
  }

  const weights: Record<string, number[]> = {};
  const idfs: Record<string, number> = {};
  for (let i = 0; i < F; i++) {
    const w = Array.from(theta.subarray(i * C, i * C + C), (x) => round(x, 3));
    weights[names[i]!] = w;
    idfs[names[i]!] = round(idf(names[i]!), 4);
  }
  const perClassRecord: Record<string, number> = {};
  classes.forEach((c, i) => { perClassRecord[c] = perClass[i]!; });
  const vocab: Record<string, number> = {};
  for (const w of [...vocabulary.keys()].sort()) vocab[w] = vocabulary.get(w)!;

  return {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
    classes,
    outOfScope: classes.includes(OUT_OF_SCOPE) ? OUT_OF_SCOPE : null,
    featureOptions: {
      bigramWeight: o.bigramWeight, charNgram: o.charNgram, charWeight: o.charWeight, idf: o.idf, dropStopwords: o.dropStopwords, unknownWeight: o.unknownWeight,
      ...(o.charNgramFrom !== undefined ? { charNgramFrom: o.charNgramFrom } : {}),
      ...(o.charAcrossWords !== undefined ? { charAcrossWords: o.charAcrossWords } : {}),
    },
    bias: Array.from(theta.subarray(F * C), (x) => round(x, 3)),
    weights,
    idf: idfs,
    unknownIdf: round(unknownIdf, 4),
    vocabulary: vocab,
    training: {
      examples: N,
      perClass: perClassRecord,
      options: {
        bigramWeight: o.bigramWeight, charNgram: o.charNgram, charWeight: o.charWeight, idf: o.idf, dropStopwords: o.dropStopwords, unknownWeight: o.unknownWeight,
        ...(o.charNgramFrom !== undefined ? { charNgramFrom: o.charNgramFrom } : {}),
        ...(o.charAcrossWords !== undefined ? { charAcrossWords: o.charAcrossWords } : {}),
        l2: o.l2, iterations: o.iterations, minNgramCount: o.minNgramCount, balanceClasses: o.balanceClasses,
      },
      dataSha256: dataHash(data),
    },
    // after `training`: the order of the schema, so a loaded model serialises like a trained one
    ...(o.lexicon && Object.keys(o.lexicon).length ? { lexicon: o.lexicon } : {}),
  };
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** y += a·x */
function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < y.length; i++) y[i] = y[i]! + a * x[i]!;
}

/**
 * Deterministic L-BFGS (history 5) with a backtracking Armijo line search, from θ = 0. Stops after
 * `maxIterations`, when the largest gradient component is below 1e-6, when f improves by less than a
 * relative 1e-9, or when no step decreases f.
 */
export function minimiseLbfgs(f: (x: Float64Array, g: Float64Array) => number, size: number, maxIterations: number): Float64Array {
  const m = 5;
  let x = new Float64Array(size);
  let g = new Float64Array(size);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const d = new Float64Array(size);
  const alpha = new Array<number>(m).fill(0);
  let xNew = new Float64Array(size);
  let gNew = new Float64Array(size);
  for (let it = 0; it < maxIterations; it++) {
    let gMax = 0;
    for (let i = 0; i < size; i++) gMax = Math.max(gMax, Math.abs(g[i]!));
    if (gMax < 1e-6) break;
    // Two-loop recursion: d = -H·g.
    for (let i = 0; i < size; i++) d[i] = -g[i]!;
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, d);
      alpha[k] = a;
      axpy(-a, Y[k]!, d);
    }
    const gamma = S.length ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(gMax, 1);
    for (let i = 0; i < size; i++) d[i] = gamma * d[i]!;
    for (let k = 0; k < S.length; k++) axpy(alpha[k]! - rho[k]! * dot(Y[k]!, d), S[k]!, d);
    let slope = dot(g, d);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = 0; Y.length = 0; rho.length = 0;
      for (let i = 0; i < size; i++) d[i] = -g[i]! / Math.max(gMax, 1);
      slope = dot(g, d);
    }
    let step = 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < size; i++) xNew[i] = x[i]! + step * d[i]!;
      fNew = f(xNew, gNew);
      if (fNew <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew < fx)) break;
    const converged = fx - fNew < 1e-9 * Math.max(1, Math.abs(fx));
    const recycle = S.length === m;
    const s = recycle ? S.shift()! : new Float64Array(size);
    const y = recycle ? Y.shift()! : new Float64Array(size);
    if (recycle) rho.shift();
    for (let i = 0; i < size; i++) { s[i] = xNew[i]! - x[i]!; y[i] = gNew[i]! - g[i]!; }
    const sy = dot(s, y);
    if (sy > 1e-12) { S.push(s); Y.push(y); rho.push(1 / sy); }
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    fx = fNew;
    if (converged) break;
  }
  return x;
}

/**
 * The model as JSON text with one feature per line (readable diffs when the model is committed);
 * `JSON.parse` of it gives back an equal object.
 */
export function serialiseModel(model: IntentModel): string {
  const lines: string[] = [];
  const entries = Object.entries(model);
  entries.forEach(([key, value], i) => {
    const comma = i < entries.length - 1 ? ',' : '';
    if ((key === 'weights' || key === 'idf' || key === 'vocabulary') && value && typeof value === 'object') {
      const inner = Object.entries(value as Record<string, unknown>).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
      lines.push(inner.length ? `${JSON.stringify(key)}: {\n${inner.join(',\n')}\n}${comma}` : `${JSON.stringify(key)}: {}${comma}`);
    } else {
      lines.push(`${JSON.stringify(key)}: ${JSON.stringify(value)}${comma}`);
    }
  });
  return `{\n${lines.join('\n')}\n}\n`;
}
