/**
 * The two classifiers under test, behind one interface, and the shared decision rule.
 *
 * Both are trained on the same data (the out-of-scope examples as one more class, OUT_OF_SCOPE) and
 * both get the same decision rule on top of their raw scores, with threshold and margin chosen the
 * same way on validation data (see select.ts):
 *   top class unknown ('None' / no known word) or the out-of-scope class → out of scope;
 *   top score < threshold → out of scope; top − runner-up < margin → out of scope; else the top intent.
 * For errand this is exactly createClassifier()'s rule (the test figures come from the real
 * createClassifier().classify(), and nlu.ts checks that it agrees with this function).
 */
import { Nlp } from '@nlpjs/nlp';
import { LangEn } from '@nlpjs/lang-en-min';
import { createClassifier, createScorer } from '../src/nlu/classifier.js';
import { OUT_OF_SCOPE, serialiseModel, trainModel, type IntentExamples } from '../src/nlu/model.js';
import { calibrate, type CalibrationRecord } from '../src/nlu/calibration.js';
import { calibrationExamples, trainCalibratedModel } from '../src/nlu/train.js';
import type { Labelled } from './data.js';
import type { Lexicon } from '../src/nlu/lexicon.js';

/** A classifier's output for one message before any decision. */
export interface Raw {
  /** The most probable class (possibly OUT_OF_SCOPE), or null when the classifier gives none. */
  top: string | null;
  /** Score of `top`. */
  p1: number;
  /** Score of the runner-up class (0 if none). */
  p2: number;
}

export interface Decision { threshold: number; margin: number }

/** The shared decision rule: an intent id, or null (out of scope / rejected). */
export function applyDecision(r: Raw, d: Decision): string | null {
  if (r.top === null || r.top === OUT_OF_SCOPE) return null;
  if (r.p1 < d.threshold) return null;
  if (r.p1 - r.p2 < d.margin) return null;
  return r.top;
}

export interface Trained {
  /** Raw scores of one message. */
  raw(text: string): Raw | Promise<Raw>;
  /** The classifier as an application would call it, with a fixed decision. */
  classifier(d: Decision): (text: string) => string | null | Promise<string | null>;
  /** Serialised model size in bytes, or null when not measurable. */
  modelBytes: number | null;
  /** errand only: the fitted temperature and the class probabilities, to measure calibration on test. */
  calibration?: CalibrationRecord;
  probabilities?: (text: string) => Float64Array | null;
  classes?: readonly string[];
}

export interface Contender {
  name: 'errand' | 'nlpjs';
  /** `val`: held-out messages a classifier may calibrate its scores on (errand fits its temperature). */
  train(data: readonly IntentExamples[], val?: readonly Labelled[], extra?: { lexicon?: Lexicon }): Promise<Trained>;
}

export const errand: Contender = {
  name: 'errand',
  async train(data, val, extra) {
    // Calibration as `errand train` does it: on held-out predictions — the validation split when
    // there is one, else out-of-fold predictions (trainCalibratedModel).
    const opts = extra?.lexicon ? { lexicon: extra.lexicon } : {};
    let model = val ? trainModel(data, opts) : trainCalibratedModel(data, opts);
    if (val) {
      const plain = createScorer(model);
      const scored = val.map((m) => ({ text: m.text, expected: m.label, p: plain.score(m.text) }));
      model = { ...model, calibration: calibrate(calibrationExamples(scored, model.classes)) };
    }
    const scorer = createScorer(model);
    return {
      raw(text: string): Raw {
        const p = scorer.score(text);
        if (p === null) return { top: null, p1: 0, p2: 0 };
        let top = -1;
        let second = -1;
        for (let c = 0; c < p.length; c++) {
          if (top < 0 || p[c]! > p[top]!) { second = top; top = c; } else if (second < 0 || p[c]! > p[second]!) second = c;
        }
        return { top: scorer.classes[top] ?? null, p1: p[top] ?? 0, p2: second < 0 ? 0 : p[second]! };
      },
      classifier(d: Decision) {
        const c = createClassifier(model, d);
        return (text: string) => c.classify(text).intent;
      },
      modelBytes: Buffer.byteLength(serialiseModel(model), 'utf8'),
      calibration: model.calibration,
      probabilities: (text: string) => scorer.score(text),
      classes: scorer.classes,
    };
  },
};

export const nlpjs: Contender = {
  name: 'nlpjs',
  async train(data) {
    const nlp = new Nlp({
      languages: ['en'],
      autoSave: false,
      autoLoad: false,
      log: false,
      nlu: { log: false }, // otherwise it logs every training epoch
      threshold: 0, // we apply our own threshold on the raw score
      calculateSentiment: false,
    });
    nlp.container.use(LangEn);
    for (const d of data) for (const text of d.examples) nlp.addDocument('en', text, d.intent);
    await nlp.train();
    const raw = async (text: string): Promise<Raw> => {
      // classify(): the NLU manager only (no NER / NLG / sentiment, which process() would add).
      const r = await nlp.classify('en', text);
      const cls = r.classifications ?? [];
      const top = !r.intent || r.intent === 'None' ? null : r.intent;
      const second = cls.find((c) => c.intent !== r.intent);
      return { top, p1: r.score ?? 0, p2: second?.score ?? 0 };
    };
    return {
      raw,
      classifier(d: Decision) {
        return async (text: string) => applyDecision(await raw(text), d);
      },
      modelBytes: Buffer.byteLength(nlp.export(true), 'utf8'),
    };
  },
};

export const CONTENDERS: readonly Contender[] = [errand, nlpjs];
