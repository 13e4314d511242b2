/**
 * Evaluation of the intent classifier on a FIXED held-out split, and the threshold/margin sweep.
 *
 * Split: in every intent file, every 5th example (indices 4, 9, 14, … — by position, no randomness)
 * is held out; the other 80 % train the evaluation model. The shipped model is trained on everything.
 *
 * Figures (the out-of-scope class and every rejection count as the label "null"):
 *   - inScopeAccuracy: in-scope examples routed to the right intent / in-scope examples (a rejection is an error);
 *   - oosRecall: out-of-scope examples given intent null / out-of-scope examples;
 *   - macroF1: mean F1 over the in-scope intents plus "null";
 *   - misrouteRate: examples routed 'fulfil' to a wrong intent (incl. out-of-scope ones) / all examples.
 */
import { performance } from 'node:perf_hooks';
import { createClassifier, decide, type Classification } from './classifier.js';
import { type IntentExamples, type IntentModel, type TrainOptions } from './model.js';
import { applyTemperature, fitTemperature, reliability } from './calibration.js';
import { calibrationExamples, crossValidatedScores, scoreAll, trainCalibratedModel, type Scored } from './train.js';

export type { Scored } from './train.js';

export const HOLDOUT_EVERY = 5;

export interface Split { train: IntentExamples[]; test: IntentExamples[] }

/** Deterministic split: example i of each intent is held out iff i % every === every - 1. */
export function splitHeldOut(data: readonly IntentExamples[], every = HOLDOUT_EVERY): Split {
  return {
    train: data.map((d) => ({ intent: d.intent, examples: d.examples.filter((_, i) => i % every !== every - 1) })),
    test: data.map((d) => ({ intent: d.intent, examples: d.examples.filter((_, i) => i % every === every - 1) })),
  };
}

export interface Metrics {
  examples: number;
  inScopeExamples: number;
  outOfScopeExamples: number;
  inScopeAccuracy: number;
  oosRecall: number;
  macroF1: number;
  misrouteRate: number;
  /** Per in-scope intent and "null": precision / recall / F1 / support. */
  perLabel: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  errors: { text: string; expected: string | null; got: string | null; confidence: number; reason?: string }[];
}

export interface LabelledPrediction { text: string; expected: string | null; got: Classification }

/** Figures over predictions; `expected` is null for out-of-scope examples. */
export function computeMetrics(preds: readonly LabelledPrediction[], intents: readonly string[]): Metrics {
  const labels = [...intents, 'null'];
  const tp = new Map(labels.map((l) => [l, 0]));
  const fp = new Map(labels.map((l) => [l, 0]));
  const fn = new Map(labels.map((l) => [l, 0]));
  let inScope = 0, inScopeOk = 0, oos = 0, oosOk = 0, misroutes = 0;
  const errors: Metrics['errors'] = [];
  for (const { text, expected, got } of preds) {
    const e = expected ?? 'null';
    const g = got.intent ?? 'null';
    if (expected === null) { oos++; if (got.intent === null) oosOk++; } else { inScope++; if (got.intent === expected) inScopeOk++; }
    if (got.intent !== null && got.intent !== expected) misroutes++;
    if (e === g) tp.set(e, (tp.get(e) ?? 0) + 1);
    else {
      fn.set(e, (fn.get(e) ?? 0) + 1);
      fp.set(g, (fp.get(g) ?? 0) + 1);
      errors.push({ text, expected, got: got.intent, confidence: got.confidence, ...(got.reason ? { reason: got.reason } : {}) });
    }
  }
  const perLabel: Metrics['perLabel'] = {};
  let f1Sum = 0;
  for (const l of labels) {
    const t = tp.get(l) ?? 0, p = fp.get(l) ?? 0, n = fn.get(l) ?? 0;
    const precision = t + p === 0 ? 0 : t / (t + p);
    const recall = t + n === 0 ? 0 : t / (t + n);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perLabel[l] = { precision, recall, f1, support: t + n };
    f1Sum += f1;
  }
  return {
    examples: preds.length,
    inScopeExamples: inScope,
    outOfScopeExamples: oos,
    inScopeAccuracy: inScope ? inScopeOk / inScope : 0,
    oosRecall: oos ? oosOk / oos : 0,
    macroF1: f1Sum / labels.length,
    misrouteRate: preds.length ? misroutes / preds.length : 0,
    perLabel,
    errors,
  };
}

function metricsAt(scored: readonly Scored[], model: IntentModel, threshold: number, margin: number): Metrics {
  const oos = model.outOfScope === null ? -1 : model.classes.indexOf(model.outOfScope);
  const preds = scored.map((s) => ({ text: s.text, expected: s.expected, got: decide(s.text, s.p, model.classes, oos, threshold, margin) }));
  return computeMetrics(preds, model.classes.filter((_, i) => i !== oos));
}

export interface HeldOutReport {
  trainExamples: number;
  testExamples: number;
  trainMs: number;
  threshold: number;
  margin: number;
  metrics: Metrics;
  /** The evaluation model's temperature and how well its confidences match reality on the held-out part. */
  calibration: { temperature: number; heldOut: ReturnType<typeof reliability> };
  /** classify() wall time per held-out message (first sight of each; the JIT warmed on the training texts). */
  latency: { meanMs: number; p99Ms: number; maxMs: number };
}

/** Trains on the 80 % part of the fixed split and measures the held-out 20 %. */
export function evaluateHeldOut(
  data: readonly IntentExamples[],
  decision: { threshold: number; margin: number },
  trainOpts: Partial<TrainOptions> = {},
): HeldOutReport {
  const { train, test } = splitHeldOut(data);
  const t0 = performance.now();
  const model = trainCalibratedModel(train, trainOpts);
  const trainMs = performance.now() - t0;
  const scored = scoreAll(model, test);
  const metrics = metricsAt(scored, model, decision.threshold, decision.margin);
  const calibration = { temperature: model.calibration?.temperature ?? 1, heldOut: reliability(calibrationExamples(scored, model.classes)) };
  const count = (ds: readonly IntentExamples[]): number => ds.reduce((n, d) => n + d.examples.length, 0);
  const classifier = createClassifier(model, decision);
  const texts = test.flatMap((d) => d.examples);
  for (const d of train) for (const t of d.examples) classifier.classify(t); // warm the JIT on other texts
  const times = texts.map((t) => {
    const t0 = performance.now();
    classifier.classify(t);
    return performance.now() - t0;
  });
  times.sort((a, b) => a - b);
  const latency = {
    meanMs: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    p99Ms: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? 0,
    maxMs: times[times.length - 1] ?? 0,
  };
  return { trainExamples: count(train), testExamples: count(test), trainMs, ...decision, metrics, calibration, latency };
}

export interface TuneResult {
  threshold: number;
  margin: number;
  /** Figures of the chosen point on the cross-validated predictions. */
  metrics: Metrics;
  utility: number;
  /** Every grid point (threshold-major), for printing. */
  grid: { threshold: number; margin: number; utility: number; macroF1: number; inScopeAccuracy: number; oosRecall: number; misrouteRate: number }[];
}

export const THRESHOLD_GRID = Array.from({ length: 17 }, (_, i) => Math.round((0.1 + i * 0.05) * 100) / 100); // 0.10 … 0.90
export const MARGIN_GRID = [0, 0.05, 0.1, 0.15, 0.2];
/** A message routed to the wrong intent costs this many times a hand-off to triage (see routingUtility). */
export const MISROUTE_COST = 2;

/**
 * Mean utility of a set of routing decisions: +1 per message routed right (the right intent, or null
 * for an out-of-scope message), 0 per in-scope message sent to triage, −misrouteCost per message
 * routed to a wrong intent (an out-of-scope one included). A wrong dialog makes the user notice, back
 * out and start again, so it costs more than a hand-off.
 */
export function routingUtility(m: Metrics, misrouteCost = MISROUTE_COST): number {
  const correct = m.inScopeAccuracy * m.inScopeExamples + m.oosRecall * m.outOfScopeExamples;
  return m.examples ? (correct - misrouteCost * m.misrouteRate * m.examples) / m.examples : 0;
}

/**
 * Chooses threshold and margin: k-fold cross-validation on `data` gives out-of-fold probabilities,
 * rescaled by the temperature fitted on them (so the grid is over calibrated confidences, as the
 * shipped model gives them — see train.ts), then the threshold × margin grid point with the highest routingUtility wins (ties: higher threshold,
 * then larger margin — the safer choice). Pass the TRAINING part of the split, never the held-out part.
 */
export function tuneDecision(
  data: readonly IntentExamples[],
  opts: { folds?: number; misrouteCost?: number; trainOpts?: Partial<TrainOptions> } = {},
): TuneResult {
  const cv = crossValidatedScores(data, opts.folds ?? 5, opts.trainOpts);
  const model = cv.model;
  const t = fitTemperature(calibrationExamples(cv.scored, model.classes));
  const scored = cv.scored.map((s) => ({ ...s, p: s.p === null ? null : applyTemperature(s.p, t) }));
  let best: TuneResult | undefined;
  const grid: TuneResult['grid'] = [];
  for (const threshold of THRESHOLD_GRID) {
    for (const margin of MARGIN_GRID) {
      const metrics = metricsAt(scored, model, threshold, margin);
      const utility = routingUtility(metrics, opts.misrouteCost);
      grid.push({ threshold, margin, utility, macroF1: metrics.macroF1, inScopeAccuracy: metrics.inScopeAccuracy, oosRecall: metrics.oosRecall, misrouteRate: metrics.misrouteRate });
      if (!best || utility >= best.utility - 1e-12) best = { threshold, margin, metrics, utility, grid };
    }
  }
  return best!;
}
