/**
 * The intent model: multinomial logistic regression (softmax) over the features of features.ts,
 * trained by deterministic full-batch accelerated gradient descent on the L2-regularised mean
 * cross-entropy. No randomness anywhere: the same examples in the same order give the same model,
 * byte for byte (weights are rounded before they are returned, so a model that went through JSON
 * classifies exactly like the one that was trained).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_FEATURE_OPTIONS, extractFeatures, type FeatureOptions } from './features.js';
import { words } from './text.js';

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
}

export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  ...DEFAULT_FEATURE_OPTIONS,
  l2: 1e-4,
  iterations: 400,
  minNgramCount: 1,
  balanceClasses: false,
};

const finite = z.number().finite();
const featureOptionsSchema = z.object({
  bigramWeight: finite.min(0),
  charNgram: z.number().int().min(0).max(8),
  charWeight: finite.min(0),
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

function dataHash(data: readonly IntentExamples[]): string {
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
  data.forEach((d, y) => {
    for (const text of d.examples) {
      const ws = words(text);
      if (ws.length === 0) continue;
      for (const w of ws) vocabulary.set(w, (vocabulary.get(w) ?? 0) + 1);
      const f = extractFeatures(ws, o);
      for (const k of f.keys()) df.set(k, (df.get(k) ?? 0) + 1);
      docs.push({ y, f });
    }
  });
  if (docs.length === 0) throw new Error('trainModel: no usable examples');

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

  // L-BFGS on the mean (optionally class-balanced) cross-entropy + l2/2 ‖W‖² (biases unpenalised).
  const P = F * C + C; // weights, then biases
  const logits = new Float64Array(C);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let n = 0; n < N; n++) {
      const { y, idx, val } = X[n]!;
      for (let c = 0; c < C; c++) logits[c] = theta[F * C + c]!;
      for (let j = 0; j < idx.length; j++) {
        const base = idx[j]! * C;
        const x = val[j]!;
        for (let c = 0; c < C; c++) logits[c]! += theta[base + c]! * x;
      }
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (logits[c]! > max) max = logits[c]!;
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(logits[c]! - max);
      const sw = sampleWeight[n]!;
      loss += sw * (Math.log(sum) + max - logits[y]!);
      for (let c = 0; c < C; c++) logits[c] = sw * (Math.exp(logits[c]! - max) / sum - (c === y ? 1 : 0));
      for (let j = 0; j < idx.length; j++) {
        const base = idx[j]! * C;
        const x = val[j]!;
        for (let c = 0; c < C; c++) grad[base + c]! += logits[c]! * x;
      }
      for (let c = 0; c < C; c++) grad[F * C + c]! += logits[c]!;
    }
    for (let p = 0; p < F * C; p++) {
      loss += 0.5 * o.l2 * theta[p]! * theta[p]!;
      grad[p]! += o.l2 * theta[p]!;
    }
    return loss;
  };
  const theta = minimiseLbfgs(objective, P, o.iterations);

  const weights: Record<string, number[]> = {};
  for (let i = 0; i < F; i++) {
    const w = Array.from(theta.subarray(i * C, i * C + C), (x) => round(x, 3));
    if (w.some((x) => x !== 0)) weights[names[i]!] = w;
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
    featureOptions: { bigramWeight: o.bigramWeight, charNgram: o.charNgram, charWeight: o.charWeight },
    bias: Array.from(theta.subarray(F * C), (x) => round(x, 3)),
    weights,
    vocabulary: vocab,
    training: {
      examples: N,
      perClass: perClassRecord,
      options: {
        bigramWeight: o.bigramWeight, charNgram: o.charNgram, charWeight: o.charWeight,
        l2: o.l2, iterations: o.iterations, minNgramCount: o.minNgramCount, balanceClasses: o.balanceClasses,
      },
      dataSha256: dataHash(data),
    },
  };
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/**
 * Deterministic L-BFGS (history 10) with a backtracking Armijo line search, from θ = 0. Stops after
 * `maxIterations`, when the largest gradient component is below 1e-6, or when no step decreases f.
 */
export function minimiseLbfgs(f: (x: Float64Array, g: Float64Array) => number, size: number, maxIterations: number): Float64Array {
  const m = 10;
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
      alpha[k] = rho[k]! * dot(S[k]!, d);
      const yk = Y[k]!;
      for (let i = 0; i < size; i++) d[i]! -= alpha[k]! * yk[i]!;
    }
    const gamma = S.length ? dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!) : 1 / Math.max(gMax, 1);
    for (let i = 0; i < size; i++) d[i]! *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k]! * dot(Y[k]!, d);
      const sk = S[k]!;
      for (let i = 0; i < size; i++) d[i]! += (alpha[k]! - beta) * sk[i]!;
    }
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
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) { s[i] = xNew[i]! - x[i]!; y[i] = gNew[i]! - g[i]!; }
    const sy = dot(s, y);
    if (sy > 1e-12) {
      if (S.length === m) { S.shift(); Y.shift(); rho.shift(); }
      S.push(s); Y.push(y); rho.push(1 / sy);
    }
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    fx = fNew;
    if (converged) break;
  }
  return x;
}
