/**
 * Intent classifier combining the lexical model (model.ts) with sentence embeddings (embeddings.ts).
 *
 * At creation every training example is embedded and a softmax regression over the same classes as the
 * lexical model (out-of-scope included) is trained on the unit vectors: L2-regularised mean cross-entropy,
 * minimised by the deterministic L-BFGS of model.ts from zero, so the same data and embedder give the same
 * head. Softmax regression rather than class centroids: the out-of-scope class is a spread of unrelated
 * topics whose centroid sits near the middle of everything (it would both miss far-off messages and
 * attract vague in-scope ones), while a discriminative head learns where the classes meet; and it yields
 * probabilities of the same kind as the lexical model's (softmax over the same classes, trained on
 * cross-entropy), which is what averaging them needs.
 *
 * Per message: p = (1 − w) · p_lexical + w · p_embedding (a weighted arithmetic mean, w = embeddingWeight,
 * default DEFAULT_EMBEDDING_WEIGHT), then the decision rule of classifier.ts (`decide`), unchanged, with the
 * same threshold/margin semantics and reasons. A message with no word known to the lexical model is
 * rejected as 'no-known-words' before anything is embedded, as in classifier.ts.
 */
import { createScorer, decide, DEFAULT_MARGIN, MAX_CLASSIFY_CHARS, type Classification, type ClassifierOptions } from './classifier.js';
import type { Embedder } from './embeddings.js';
import { minimiseLbfgs, type IntentExamples, type IntentModel } from './model.js';

/**
 * Default weight of the embedding model's probabilities in the mean (0 = lexical only, 1 = embeddings only).
 * 0.5, equal weight: both are softmax regressions over the same classes and neither is known to be better
 * calibrated on our data; a linear pool of two models that agree keeps their confidence (so the threshold
 * and margin tuned for the lexical model keep their meaning) and pulls it down where they disagree, which
 * sends such messages to triage. Not tuned: compare weights with the benchmark on the real model.
 */
export const DEFAULT_EMBEDDING_WEIGHT = 0.5;
/**
 * L2 penalty of the embedding head (on the mean cross-entropy, as in model.ts). With unit-length inputs the
 * weights must grow to ‖w‖ ≈ 10–20 for confident probabilities; 1e-3 lets them get there on separable
 * classes while keeping a handful of examples per intent from producing near-certain outputs.
 */
export const DEFAULT_EMBEDDING_L2 = 1e-3;
/** Maximum L-BFGS iterations of the embedding head. */
export const DEFAULT_EMBEDDING_ITERATIONS = 100;

/** A classifier whose classification is asynchronous (the embedding model runs ONNX inference). */
export interface AsyncClassifier {
  classify(text: string): Promise<Classification>;
  /** The in-scope intent ids (the out-of-scope class excluded). */
  readonly intents: string[];
}

export interface EnsembleOptions extends ClassifierOptions {
  /** Weight of the embedding model's probabilities, 0..1; default DEFAULT_EMBEDDING_WEIGHT. */
  embeddingWeight?: number;
  /** L2 penalty of the embedding head; default DEFAULT_EMBEDDING_L2. */
  l2?: number;
  /** L-BFGS iterations of the embedding head; default DEFAULT_EMBEDDING_ITERATIONS. */
  iterations?: number;
}

/** The ensemble, with what it was built from (for logs and the benchmark). */
export interface EnsembleClassifier extends AsyncClassifier {
  readonly embeddingWeight: number;
  readonly embeddingModel: string;
  /** Class probabilities before the decision (null: no known word), for evaluation. */
  probabilities(text: string): Promise<{ lexical: Float64Array; embedding: Float64Array; combined: Float64Array } | null>;
}

/** A trained softmax regression on embeddings: logits = W·x + b, W stored feature-major (W[d·C + c]). */
export interface EmbeddingHead {
  classes: readonly string[];
  dimension: number;
  weights: Float64Array;
  bias: Float64Array;
}

function checkUnit(name: string, x: number): void {
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new RangeError(`${name} must be a number in [0, 1], got ${x}`);
}

/**
 * Trains the embedding head on vectors with class indices `labels` (0..classes.length−1). Pure and
 * deterministic: full-batch L-BFGS from zero on the mean cross-entropy + l2/2 · ‖W‖² (biases unpenalised).
 */
export function trainEmbeddingHead(
  classes: readonly string[],
  vectors: readonly Float32Array[],
  labels: readonly number[],
  opts: { l2?: number; iterations?: number } = {},
): EmbeddingHead {
  const l2 = opts.l2 ?? DEFAULT_EMBEDDING_L2;
  const iterations = opts.iterations ?? DEFAULT_EMBEDDING_ITERATIONS;
  const C = classes.length;
  const N = vectors.length;
  if (N === 0 || N !== labels.length) throw new Error('trainEmbeddingHead: needs one label per vector and at least one vector');
  const D = vectors[0]!.length;
  const X = vectors.map((v) => {
    if (v.length !== D) throw new Error(`trainEmbeddingHead: vectors of different lengths (${D} and ${v.length})`);
    return Float64Array.from(v);
  });
  const logits = new Float64Array(C);
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let n = 0; n < N; n++) {
      const x = X[n]!;
      const y = labels[n]!;
      for (let c = 0; c < C; c++) logits[c] = theta[D * C + c]!;
      for (let d = 0; d < D; d++) {
        const xd = x[d]!;
        for (let c = 0; c < C; c++) logits[c]! += theta[d * C + c]! * xd;
      }
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (logits[c]! > max) max = logits[c]!;
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(logits[c]! - max);
      loss += (Math.log(sum) + max - logits[y]!) / N;
      for (let c = 0; c < C; c++) logits[c] = (Math.exp(logits[c]! - max) / sum - (c === y ? 1 : 0)) / N;
      for (let d = 0; d < D; d++) {
        const xd = x[d]!;
        for (let c = 0; c < C; c++) grad[d * C + c]! += logits[c]! * xd;
      }
      for (let c = 0; c < C; c++) grad[D * C + c]! += logits[c]!;
    }
    for (let p = 0; p < D * C; p++) {
      loss += 0.5 * l2 * theta[p]! * theta[p]!;
      grad[p]! += l2 * theta[p]!;
    }
    return loss;
  };
  const theta = minimiseLbfgs(objective, D * C + C, iterations);
  return { classes, dimension: D, weights: theta.slice(0, D * C), bias: theta.slice(D * C) };
}

/** Softmax probabilities of the head's classes for one vector. */
export function scoreEmbedding(head: EmbeddingHead, x: Float32Array): Float64Array {
  const C = head.classes.length;
  if (x.length !== head.dimension) throw new Error(`embedding of length ${x.length}, the head expects ${head.dimension}`);
  const p = Float64Array.from(head.bias);
  for (let d = 0; d < head.dimension; d++) {
    const xd = x[d]!;
    for (let c = 0; c < C; c++) p[c]! += head.weights[d * C + c]! * xd;
  }
  let max = -Infinity;
  for (let c = 0; c < C; c++) if (p[c]! > max) max = p[c]!;
  let sum = 0;
  for (let c = 0; c < C; c++) { p[c] = Math.exp(p[c]! - max); sum += p[c]!; }
  for (let c = 0; c < C; c++) p[c] = p[c]! / sum;
  return p;
}

/**
 * Builds the ensemble: embeds every example of `data` (which must hold exactly the lexical model's
 * classes, normally the same intents/ the model was trained on), trains the embedding head, and returns
 * a classifier applying classifier.ts's decision rule to the weighted mean of both models' probabilities.
 */
export async function createEnsembleClassifier(
  lexical: IntentModel,
  embedder: Embedder,
  data: readonly IntentExamples[],
  opts: EnsembleOptions,
): Promise<EnsembleClassifier> {
  const threshold = opts.threshold;
  const margin = opts.margin ?? DEFAULT_MARGIN;
  const w = opts.embeddingWeight ?? DEFAULT_EMBEDDING_WEIGHT;
  checkUnit('threshold', threshold);
  checkUnit('margin', margin);
  checkUnit('embeddingWeight', w);

  const scorer = createScorer(lexical);
  const classes = scorer.classes;
  const index = new Map(classes.map((c, i) => [c, i]));
  const given = new Set(data.map((d) => d.intent));
  const missing = classes.filter((c) => !data.some((d) => d.intent === c && d.examples.length > 0));
  const unknown = [...given].filter((c) => !index.has(c));
  if (missing.length || unknown.length) {
    throw new Error(
      'createEnsembleClassifier: the training data must hold examples of exactly the lexical model\'s classes' +
        (missing.length ? `; no examples for ${missing.join(', ')}` : '') +
        (unknown.length ? `; not in the model: ${unknown.join(', ')}` : '') +
        ' (retrain the model with `errand train`)',
    );
  }
  const texts: string[] = [];
  const labels: number[] = [];
  for (const d of data) for (const t of d.examples) { texts.push(t.slice(0, MAX_CLASSIFY_CHARS)); labels.push(index.get(d.intent)!); }
  const vectors = await embedder.embed(texts);
  const head = trainEmbeddingHead(classes, vectors, labels, { l2: opts.l2, iterations: opts.iterations });

  async function probabilities(text: string) {
    const lex = scorer.score(text);
    if (lex === null) return null;
    const [vector] = await embedder.embed([text.slice(0, MAX_CLASSIFY_CHARS)]);
    const emb = scoreEmbedding(head, vector!);
    const combined = new Float64Array(classes.length);
    for (let c = 0; c < classes.length; c++) combined[c] = (1 - w) * lex[c]! + w * emb[c]!;
    return { lexical: lex, embedding: emb, combined };
  }

  return {
    intents: classes.filter((_, i) => i !== scorer.outOfScope),
    embeddingWeight: w,
    embeddingModel: embedder.modelId,
    probabilities: (text: string) => probabilities(typeof text === 'string' ? text : String(text)),
    async classify(text: string): Promise<Classification> {
      const input = typeof text === 'string' ? text : String(text);
      const p = await probabilities(input);
      return decide(input, p?.combined ?? null, classes, scorer.outOfScope, threshold, margin);
    },
  };
}
