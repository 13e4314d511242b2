import { applyTemperature, calibrate, fitTemperature, negativeLogLikelihood, reliability, type CalibrationExample } from '../../src/nlu/calibration.js';
import { createClassifier, createScorer } from '../../src/nlu/classifier.js';
import { OUT_OF_SCOPE, trainModel } from '../../src/nlu/model.js';
import { trainCalibratedModel } from '../../src/nlu/train.js';
import { mulberry32 } from '../support/rng.js';

const rng = mulberry32;

const softmax = (z: number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};

/**
 * Examples drawn from a known model: true logits z, label ~ softmax(z); the classifier reports
 * softmax(z · k). With k = 3 it is over-confident and the fitted temperature must come out near 3.
 */
function synthetic(n: number, k: number, seed = 7): CalibrationExample[] {
  const r = rng(seed);
  const out: CalibrationExample[] = [];
  for (let i = 0; i < n; i++) {
    const z = [0, 1, 2, 3].map(() => r() * 4);
    const truth = softmax(z);
    let u = r();
    let label = 0;
    while (label < 3 && u > truth[label]!) { u -= truth[label]!; label++; }
    out.push({ p: softmax(z.map((x) => x * k)), label });
  }
  return out;
}

describe('temperature scaling', () => {
  it('applyTemperature keeps p at T = 1, flattens at T > 1, sharpens at T < 1, keeps the ranking', () => {
    const p = [0.7, 0.2, 0.1];
    expect(Array.from(applyTemperature(p, 1)).map((x) => +x.toFixed(10))).toEqual(p);
    const soft = applyTemperature(p, 2);
    const sharp = applyTemperature(p, 0.5);
    expect(soft[0]!).toBeLessThan(0.7);
    expect(sharp[0]!).toBeGreaterThan(0.7);
    expect(soft[0]! > soft[1]! && soft[1]! > soft[2]!).toBe(true);
    // T = 2 on probabilities is the square root, renormalised
    const s = Math.sqrt(0.7) + Math.sqrt(0.2) + Math.sqrt(0.1);
    expect(soft[0]!).toBeCloseTo(Math.sqrt(0.7) / s, 10);
    expect(() => applyTemperature(p, 0)).toThrow(/positive/);
  });

  it('recovers the over-confidence factor of a known model (T ≈ 3) and lowers the NLL', () => {
    const ex = synthetic(4000, 3);
    const t = fitTemperature(ex);
    expect(t).toBeGreaterThan(2.7);
    expect(t).toBeLessThan(3.3);
    expect(negativeLogLikelihood(ex, t)).toBeLessThan(negativeLogLikelihood(ex, 1));
  });

  it('finds T ≈ 1 for an already calibrated model and T < 1 for an under-confident one', () => {
    expect(Math.abs(fitTemperature(synthetic(4000, 1)) - 1)).toBeLessThan(0.12);
    expect(fitTemperature(synthetic(4000, 0.5))).toBeLessThan(0.6);
  });

  it('gives 1 with no examples and is deterministic', () => {
    expect(fitTemperature([])).toBe(1);
    const ex = synthetic(500, 2);
    expect(fitTemperature(ex)).toBe(fitTemperature(ex));
  });
});

describe('reliability and expected calibration error', () => {
  it('bins by top-class confidence and weighs |accuracy − confidence| by the bin share', () => {
    const ex: CalibrationExample[] = [
      { p: [0.95, 0.05], label: 0 }, // bin 0.9–1.0, right
      { p: [0.95, 0.05], label: 1 }, // bin 0.9–1.0, wrong
      { p: [0.35, 0.65], label: 1 }, // bin 0.6–0.7, right
      { p: [0.65, 0.35], label: 0 }, // bin 0.6–0.7, right
    ];
    const r = reliability(ex);
    const b9 = r.bins[9]!;
    const b6 = r.bins[6]!;
    expect([b9.count, b9.accuracy, b9.meanConfidence]).toEqual([2, 0.5, 0.95]);
    expect([b6.count, b6.accuracy]).toEqual([2, 1]);
    expect(b6.meanConfidence).toBeCloseTo(0.65, 12);
    // ECE = 2/4·|0.5−0.95| + 2/4·|1−0.65| = 0.225 + 0.175
    expect(r.ece).toBeCloseTo(0.4, 12);
    expect(r.bins.reduce((n, b) => n + b.count, 0)).toBe(4);
  });

  it('scaling an over-confident model reduces its calibration error', () => {
    const rec = calibrate(synthetic(4000, 3, 11));
    expect(rec.eceAfter).toBeLessThan(rec.eceBefore / 2);
    expect(rec.examples).toBe(4000);
  });
});

describe('calibrated training', () => {
  const data = [
    { intent: 'vpn', examples: ['vpn access please', 'i need vpn', 'set up vpn for me', 'remote access vpn', 'vpn account', 'connect from home vpn', 'vpn token', 'vpn is not set up'] },
    { intent: 'laptop', examples: ['new laptop please', 'i need a laptop', 'my laptop is old replace it', 'order a notebook computer', 'laptop for new hire', 'a faster laptop', 'replace laptop', 'laptop request'] },
    { intent: 'drive', examples: ['access to the finance drive', 'shared drive access', 'read the hr folder', 'write access to a share', 'open the finance folder', 'drive permission', 'folder access please', 'team share access'] },
    { intent: OUT_OF_SCOPE, examples: ['what is the weather', 'tell me a joke', 'who won the game', 'book a restaurant', 'how tall is everest', 'play some music', 'what time is it', 'order pizza'] },
  ];

  it('stores the fitted temperature, changes confidences but never the chosen intent, and is deterministic', () => {
    const plain = trainModel(data);
    const calibrated = trainCalibratedModel(data);
    expect(calibrated.calibration?.method).toBe('temperature');
    expect(calibrated.calibration!.temperature).not.toBe(1);
    // 32 out-of-fold messages, less any whose words its fold model never saw (left out)
    expect(calibrated.calibration!.examples).toBeGreaterThanOrEqual(30);
    expect(calibrated.calibration!.examples).toBeLessThanOrEqual(32);
    expect(trainCalibratedModel(data)).toEqual(calibrated);
    expect({ ...calibrated, calibration: undefined }).toEqual({ ...plain, calibration: undefined });
    const a = createScorer(plain);
    const b = createScorer(calibrated);
    for (const text of ['vpn from home', 'a laptop please', 'finance share', 'tell me the weather']) {
      const pa = Array.from(a.score(text)!);
      const pb = Array.from(b.score(text)!);
      expect(pb.indexOf(Math.max(...pb))).toBe(pa.indexOf(Math.max(...pa)));
      expect(Math.max(...pb)).not.toBeCloseTo(Math.max(...pa), 6);
    }
  });

  it('thresholds apply to the calibrated confidence', () => {
    const model = trainCalibratedModel(data);
    const conf = createClassifier(model, { threshold: 0, margin: 0 }).classify('vpn from home').confidence;
    expect(createClassifier(model, { threshold: conf - 0.01, margin: 0 }).classify('vpn from home').intent).toBe('vpn');
    const above = createClassifier(model, { threshold: Math.min(1, conf + 0.01), margin: 0 }).classify('vpn from home');
    expect(above.intent).toBeNull();
    expect(above.reason).toBe('below-threshold');
  });
});
