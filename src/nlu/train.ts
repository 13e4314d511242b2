/**
 * Training as `errand train` does it: the model on every example, then its temperature fitted on
 * out-of-fold predictions (k-fold cross-validation over the same examples, so no message is scored
 * by a model that saw it). Deterministic like trainModel: the folds are fixed (example i of each
 * intent goes to fold i mod k) and the temperature search has no randomness.
 */
import { calibrate, type CalibrationExample } from './calibration.js';
import { createScorer } from './classifier.js';
import { OUT_OF_SCOPE, trainModel, type IntentExamples, type IntentModel, type TrainOptions } from './model.js';

/** One message with its expected intent (null: out of scope) and its class probabilities (null: no known word). */
export interface Scored { text: string; expected: string | null; p: Float64Array | null }

export function scoreAll(model: IntentModel, test: readonly IntentExamples[]): Scored[] {
  const scorer = createScorer(model);
  const out: Scored[] = [];
  for (const d of test) {
    for (const text of d.examples) out.push({ text, expected: d.intent === OUT_OF_SCOPE ? null : d.intent, p: scorer.score(text) });
  }
  return out;
}

/** Out-of-fold probabilities by k-fold cross-validation (fold of example i = i mod k, per intent). */
export function crossValidatedScores(data: readonly IntentExamples[], folds = 5, trainOpts: Partial<TrainOptions> = {}): { scored: Scored[]; model: IntentModel } {
  const scored: Scored[] = [];
  let model: IntentModel | undefined;
  for (let k = 0; k < folds; k++) {
    const train = data.map((d) => ({ intent: d.intent, examples: d.examples.filter((_, i) => i % folds !== k) }));
    const test = data.map((d) => ({ intent: d.intent, examples: d.examples.filter((_, i) => i % folds === k) }));
    model = trainModel(train, trainOpts);
    scored.push(...scoreAll(model, test));
  }
  return { scored, model: model! };
}

/** Folds used to fit the temperature. */
export const CALIBRATION_FOLDS = 5;

/** Scored messages → calibration examples over `classes` (messages with no known word are left out). */
export function calibrationExamples(scored: readonly Scored[], classes: readonly string[]): CalibrationExample[] {
  const index = new Map(classes.map((c, i) => [c, i]));
  const out: CalibrationExample[] = [];
  for (const s of scored) {
    const label = index.get(s.expected ?? OUT_OF_SCOPE);
    if (s.p !== null && label !== undefined) out.push({ p: s.p, label });
  }
  return out;
}

/** Trains on all of `data` and attaches a temperature fitted by k-fold cross-validation. */
export function trainCalibratedModel(data: readonly IntentExamples[], opts: Partial<TrainOptions> = {}, folds = CALIBRATION_FOLDS): IntentModel {
  const model = trainModel(data, opts);
  const { scored } = crossValidatedScores(data, folds, opts);
  return { ...model, calibration: calibrate(calibrationExamples(scored, model.classes)) };
}
