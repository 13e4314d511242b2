/**
 * Confidence calibration by temperature scaling (Guo et al. 2017): the model's softmax is recomputed
 * as softmax(logits / T), with the one scalar T chosen to minimise the negative log-likelihood of
 * held-out messages (out-of-fold predictions of `errand train`, or the validation split in the
 * benchmark). T > 1 softens an over-confident model, T < 1 sharpens an under-confident one; the
 * ranking of classes never changes, so accuracy is untouched and only the meaning of a confidence
 * (and therefore of the threshold) moves: after scaling, messages given ~0.8 are right ~80 % of
 * the time. Works from probabilities alone: softmax(log p / T) = softmax(logits / T).
 *
 * Written by hand: no maintained npm package does temperature scaling or reliability binning, and
 * both are a few lines (a golden-section search over log T and a histogram).
 */

/** One held-out message: the probabilities over all classes and the index of the right class. */
export interface CalibrationExample { p: ArrayLike<number>; label: number }

/** Bounds of the temperature search (log-uniform). */
const MIN_T = 0.05;
const MAX_T = 20;
const EPS = 1e-12;

/** Recomputes `p` at temperature `t` (returns a new array; `t` = 1 gives `p` back). */
export function applyTemperature(p: ArrayLike<number>, t: number): Float64Array {
  const out = new Float64Array(p.length);
  if (!(t > 0) || !Number.isFinite(t)) throw new RangeError(`temperature must be a positive number, got ${t}`);
  let max = -Infinity;
  for (let c = 0; c < p.length; c++) {
    out[c] = Math.log(Math.max(p[c]!, EPS)) / t;
    if (out[c]! > max) max = out[c]!;
  }
  let sum = 0;
  for (let c = 0; c < p.length; c++) { out[c] = Math.exp(out[c]! - max); sum += out[c]!; }
  for (let c = 0; c < p.length; c++) out[c] = out[c]! / sum;
  return out;
}

/** Mean negative log-likelihood of the right classes at temperature `t`. */
export function negativeLogLikelihood(examples: readonly CalibrationExample[], t: number): number {
  if (examples.length === 0) return 0;
  let nll = 0;
  for (const e of examples) nll -= Math.log(Math.max(applyTemperature(e.p, t)[e.label]!, EPS));
  return nll / examples.length;
}

/**
 * The temperature minimising the held-out NLL: golden-section search over log T in [0.05, 20]
 * (the NLL is unimodal in T for a fixed set of logits). Deterministic; 1 when there are no examples.
 */
export function fitTemperature(examples: readonly CalibrationExample[]): number {
  if (examples.length === 0) return 1;
  const f = (logT: number): number => negativeLogLikelihood(examples, Math.exp(logT));
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(MIN_T);
  let b = Math.log(MAX_T);
  let c = b - phi * (b - a);
  let d = a + phi * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < 60 && b - a > 1e-4; i++) {
    if (fc < fd) { b = d; d = c; fd = fc; c = b - phi * (b - a); fc = f(c); } else { a = c; c = d; fc = fd; d = a + phi * (b - a); fd = f(d); }
  }
  return Math.round(Math.exp((a + b) / 2) * 1e4) / 1e4;
}

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Confidence range [from, to). The last bin includes 1. */
  from: number;
  to: number;
  count: number;
  /** Mean top-class confidence of the messages in the bin. */
  meanConfidence: number;
  /** Share of them whose top class was right. */
  accuracy: number;
}

/**
 * Reliability diagram over the top-class confidence, in `bins` equal-width bins, and the expected
 * calibration error: Σ (count/N) · |accuracy − mean confidence| (0 = perfectly calibrated).
 */
export function reliability(examples: readonly CalibrationExample[], bins = 10): { bins: ReliabilityBin[]; ece: number } {
  const acc = Array.from({ length: bins }, (_, i) => ({ from: i / bins, to: (i + 1) / bins, count: 0, conf: 0, right: 0 }));
  for (const e of examples) {
    let top = 0;
    for (let c = 1; c < e.p.length; c++) if (e.p[c]! > e.p[top]!) top = c;
    const conf = e.p[top]!;
    const b = acc[Math.min(bins - 1, Math.floor(conf * bins))]!;
    b.count++;
    b.conf += conf;
    if (top === e.label) b.right++;
  }
  let ece = 0;
  const out = acc.map((b) => {
    const meanConfidence = b.count ? b.conf / b.count : 0;
    const accuracy = b.count ? b.right / b.count : 0;
    if (examples.length) ece += (b.count / examples.length) * Math.abs(accuracy - meanConfidence);
    return { from: b.from, to: b.to, count: b.count, meanConfidence, accuracy };
  });
  return { bins: out, ece };
}

/** What a model stores about its calibration (models/intent-model.json `calibration`). */
export interface CalibrationRecord {
  method: 'temperature';
  temperature: number;
  /** Held-out messages it was fitted on. */
  examples: number;
  /** Expected calibration error on them before and after scaling (10 bins). */
  eceBefore: number;
  eceAfter: number;
}

/** Fits a temperature on held-out examples and measures what it changed. */
export function calibrate(examples: readonly CalibrationExample[]): CalibrationRecord {
  const temperature = fitTemperature(examples);
  const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;
  return {
    method: 'temperature',
    temperature,
    examples: examples.length,
    eceBefore: r4(reliability(examples).ece),
    eceAfter: r4(reliability(examples.map((e) => ({ p: applyTemperature(e.p, temperature), label: e.label }))).ece),
  };
}
