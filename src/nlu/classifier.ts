/**
 * Intent classifier: message → catalogue intent id with a calibrated-ish confidence, or null (triage).
 *
 * Decision rule, in order (`p` are softmax probabilities over every trained class, out-of-scope included,
 * so the in-scope confidences sum to at most 1):
 *   1. no word of the message is known to the model, even after spelling correction (numbers do not
 *      count)                                                    → null, 'no-known-words', confidence 0;
 *   2. the most probable class is the out-of-scope class         → null, 'out-of-scope';
 *   3. its probability is below `threshold`                      → null, 'below-threshold';
 *   4. it leads the runner-up (any class) by less than `margin`  → null, 'ambiguous';
 *   5. otherwise                                                 → that intent, route 'fulfil'.
 * See DEFAULT_THRESHOLD for how the defaults were chosen.
 */
import { readFile } from 'node:fs/promises';
import { rawFeatures, weightFeatures, type FeatureOptions } from './features.js';
import { intentModelSchema, MODEL_FORMAT, MODEL_VERSION, type IntentModel } from './model.js';
import { lexiconFeature, lexiconMatcher } from './lexicon.js';
import { createSpellingCorrector } from './spelling.js';
import { NUMBER_TOKEN, stem, words } from './text.js';

export { trainModel, dataHash, serialiseModel, OUT_OF_SCOPE, MODEL_FORMAT, MODEL_VERSION, DEFAULT_TRAIN_OPTIONS } from './model.js';
export type { IntentModel, IntentExamples, TrainOptions } from './model.js';
export { loadIntents, IntentDataError } from './intents.js';

/**
 * Default confidence threshold below which a message goes to triage. Chosen with `errand train --tune`
 * (src/nlu/evaluate.ts `tuneDecision`): 5-fold cross-validation on the training part of the fixed split
 * (the held-out 20 % takes no part), over calibrated confidences (temperature fitted on the same
 * out-of-fold predictions), sweeping threshold 0.10…0.90 × margin 0…0.20 and maximising the routing
 * utility "+1 routed right, 0 sent to triage, −2 routed to a wrong intent" per message. With 1,504
 * examples (Nov 2026) the surface is flat: 0.35/0.20 → 0.761, 0.40/0.20 → 0.760, 0.50/0.20 → 0.759,
 * 0.60 → 0.757; 0.40 is kept (a calibrated 0.4 = "right about 40 % of the time" is the least we route on).
 * Re-run `--tune` after changing the training data; the service passes its own value (NLU_THRESHOLD).
 */
export const DEFAULT_THRESHOLD = 0.4;
/** Default minimum lead of the top class over the runner-up (see DEFAULT_THRESHOLD). */
export const DEFAULT_MARGIN = 0.2;
/** At most this many unknown words of a message are looked up for a spelling correction. */
const MAX_CORRECTIONS = 30;
/** Longer messages are classified on their first MAX_CLASSIFY_CHARS characters. */
export const MAX_CLASSIFY_CHARS = 2000;

export interface IntentScore { intent: string; confidence: number }

export type RejectReason = 'out-of-scope' | 'below-threshold' | 'no-known-words' | 'ambiguous';

export interface Classification {
  text: string;
  /** Catalogue id, or null when below threshold, ambiguous, out of scope or not understood. */
  intent: string | null;
  /** 0..1: probability of the most probable in-scope intent (0 when no word is known). */
  confidence: number;
  /** 'fulfil' iff intent !== null. */
  route: 'fulfil' | 'triage';
  /**
   * In-scope intents by descending confidence, at most 3: those after `intent` when one was chosen;
   * when intent is null, the best candidates themselves (the first one is the one `confidence` is of),
   * so that triage can offer "did you mean …?".
   */
  alternatives: IntentScore[];
  reason?: RejectReason;
}

export interface Classifier {
  classify(text: string): Classification;
  /** The in-scope intent ids the model knows (the out-of-scope class excluded). */
  readonly intents: string[];
}

export interface ClassifierOptions {
  /** Minimum probability of the top intent to route to 'fulfil' (0..1). */
  threshold: number;
  /** Minimum lead of the top class over the runner-up (0..1); default DEFAULT_MARGIN. */
  margin?: number;
}

/** A model file that is missing, unreadable or not a valid current model. */
export class ModelLoadError extends Error {
  readonly code = 'MODEL_INVALID';
  constructor(message: string, readonly file: string) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

/** Reads and validates a model written by `errand train`. */
export async function loadModel(file: string): Promise<IntentModel> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelLoadError(
      code === 'ENOENT'
        ? `intent model not found: ${file} (run \`errand train\` to create it)`
        : `cannot read the intent model ${file}: ${(e as Error).message}`,
      file,
    );
  }
  return parseModel(text, file);
}

/** Validates a model's JSON text; `file` names it in errors. */
export function parseModel(text: string, file = '(model)'): IntentModel {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError(`intent model ${file} is not valid JSON (${(e as Error).message}); run \`errand train\` to rebuild it`, file);
  }
  const head = raw as { format?: unknown; version?: unknown } | null;
  if (head && typeof head === 'object' && head.format === MODEL_FORMAT && head.version !== MODEL_VERSION) {
    throw new ModelLoadError(
      `intent model ${file} has format version ${JSON.stringify(head.version)}, this code reads version ${MODEL_VERSION}; run \`errand train\` to rebuild it`,
      file,
    );
  }
  const parsed = intentModelSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const more = parsed.error.issues.length > 5 ? ` (+${parsed.error.issues.length - 5} more)` : '';
    throw new ModelLoadError(
      `intent model ${file} is invalid or from an older version: ${issues.join('; ')}${more}; run \`errand train\` to rebuild it`,
      file,
    );
  }
  return parsed.data;
}

function checkUnit(name: string, x: number): void {
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new RangeError(`${name} must be a number in [0, 1], got ${x}`);
}

/** Probabilities of every class of a model for one message (null: no word of it is known). */
export interface Scorer {
  readonly classes: readonly string[];
  /** Index of the out-of-scope class in `classes`, or -1. */
  readonly outOfScope: number;
  score(text: string): Float64Array | null;
}

/** The model's softmax probabilities (at its calibrated temperature), before any decision (used by createClassifier and evaluation). */
export function createScorer(model: IntentModel): Scorer {
  const classes = model.classes;
  const C = classes.length;
  const weights = new Map<string, Float64Array>();
  for (const [f, w] of Object.entries(model.weights)) weights.set(f, Float64Array.from(w));
  const bias = Float64Array.from(model.bias);
  const idf = new Map(Object.entries(model.idf));
  const unknownIdf = model.unknownIdf;
  const featureOptions: FeatureOptions = model.featureOptions;
  const inverseTemperature = 1 / (model.calibration?.temperature ?? 1);

  // Known words: any surface word seen in training, or any word with the same stem.
  const knownStems = new Set<string>(Object.keys(model.vocabulary).map(stem));
  const speller = createSpellingCorrector(model.vocabulary);
  const lexicon = lexiconMatcher(model.lexicon);

  function score(text: string): Float64Array | null {
    const ws: string[] = [];
    let known = 0;
    let corrected = 0;
    const surface = words(text.slice(0, MAX_CLASSIFY_CHARS));
    const named = lexicon.match(surface);
    surface.forEach((w, i) => {
      if (named.covered.has(i) || knownStems.has(stem(w))) {
        ws.push(w);
        if (w !== NUMBER_TOKEN) known++; // a number alone says nothing about the request
        return;
      }
      const fixed = corrected < MAX_CORRECTIONS ? speller.correct(w) : null;
      corrected++;
      if (fixed !== null) known++;
      ws.push(fixed ?? w);
    });
    if (known === 0) return null;
    const p = Float64Array.from(bias);
    const raw = rawFeatures(ws, featureOptions);
    for (const t of named.types) raw.set(lexiconFeature(t), 1);
    const features = weightFeatures(raw, (f) => idf.get(f) ?? unknownIdf);
    for (const [f, x] of features) {
      const w = weights.get(f);
      if (w) for (let c = 0; c < C; c++) p[c]! += w[c]! * x;
    }
    let max = -Infinity;
    for (let c = 0; c < C; c++) {
      p[c] = p[c]! * inverseTemperature;
      if (p[c]! > max) max = p[c]!;
    }
    let sum = 0;
    for (let c = 0; c < C; c++) { p[c] = Math.exp(p[c]! - max); sum += p[c]!; }
    for (let c = 0; c < C; c++) p[c] = p[c]! / sum;
    return p;
  }

  const oos = model.outOfScope === null ? -1 : classes.indexOf(model.outOfScope);
  return { classes, outOfScope: oos, score };
}

/** Applies the decision rule (see the top of this file) to one message's probabilities. */
export function decide(
  text: string,
  p: ArrayLike<number> | null,
  classes: readonly string[],
  outOfScope: number,
  threshold: number,
  margin: number,
): Classification {
  if (p === null) return { text, intent: null, confidence: 0, route: 'triage', alternatives: [], reason: 'no-known-words' };
  let top = -1;
  let second = -1;
  for (let c = 0; c < classes.length; c++) {
    if (top < 0 || p[c]! > p[top]!) { second = top; top = c; } else if (second < 0 || p[c]! > p[second]!) second = c;
  }
  const ranked: IntentScore[] = classes
    .map((intent, i) => ({ intent, confidence: p[i]!, i }))
    .filter((s) => s.i !== outOfScope)
    .sort((a, b) => b.confidence - a.confidence || a.i - b.i)
    .map(({ intent, confidence }) => ({ intent, confidence }));
  const confidence = ranked[0]?.confidence ?? 0;
  const runnerUp = second < 0 ? 0 : p[second]!;
  let reason: RejectReason | undefined;
  if (top === outOfScope || ranked.length === 0) reason = 'out-of-scope';
  else if (p[top]! < threshold) reason = 'below-threshold';
  else if (p[top]! - runnerUp < margin) reason = 'ambiguous';
  if (reason) return { text, intent: null, confidence, route: 'triage', alternatives: ranked.slice(0, 3), reason };
  return { text, intent: classes[top]!, confidence, route: 'fulfil', alternatives: ranked.slice(1, 4) };
}

/** Builds a classifier over a (trained or loaded) model. Cheap: a few ms. */
export function createClassifier(model: IntentModel, opts: ClassifierOptions): Classifier {
  const threshold = opts.threshold;
  const margin = opts.margin ?? DEFAULT_MARGIN;
  checkUnit('threshold', threshold);
  checkUnit('margin', margin);
  const scorer = createScorer(model);
  const intents = scorer.classes.filter((_, i) => i !== scorer.outOfScope);
  return {
    intents,
    classify(text: string): Classification {
      const input = typeof text === 'string' ? text : String(text);
      return decide(input, scorer.score(input), scorer.classes, scorer.outOfScope, threshold, margin);
    },
  };
}
