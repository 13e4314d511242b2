/**
 * Feature extraction: stemmed unigrams, stemmed bigrams (with sentence boundary markers) and, when
 * enabled, character n-grams of the surface words. Each present feature has its kind's weight times
 * its inverse document frequency; the vector is then scaled to unit length over *all* extracted
 * features, so words the model does not know dilute the evidence of the words it does know (and lower
 * the confidence) instead of being silently ignored.
 */
import { STOPWORDS, stem } from './text.js';

export interface FeatureOptions {
  /** Weight of a bigram relative to a unigram (0 disables bigrams). */
  bigramWeight: number;
  /** Longest character n-gram (0 disables them); n-grams are taken from `<word>`. */
  charNgram: number;
  /** Shortest character n-gram (default: charNgram, i.e. one length only). */
  charNgramFrom?: number;
  /** Also take character n-grams across word boundaries (`<new>_<laptop>`), over the whole message. */
  charAcrossWords?: boolean;
  /** Weight of a character n-gram relative to a unigram. */
  charWeight: number;
  /** Multiply by the smoothed inverse document frequency (ln((N+1)/(df+1)) + 1). */
  idf: boolean;
  /** Leave natural's English stop words out of the unigrams (they stay in bigrams). */
  dropStopwords: boolean;
  /** Weight of a feature the model does not know, relative to the rarest known one (0: ignored). */
  unknownWeight: number;
}

/** See DEFAULT_TRAIN_OPTIONS (model.ts) for how these were chosen. */
export const DEFAULT_FEATURE_OPTIONS: FeatureOptions = {
  bigramWeight: 0.3,
  charNgram: 4,
  charWeight: 0.5,
  idf: true,
  dropStopwords: false,
  unknownWeight: 1,
};

/** Sparse feature vector: feature name → value. */
export type FeatureVector = Map<string, number>;

/** Present features with their kind weight (before idf and normalisation). */
export function rawFeatures(words: readonly string[], opts: FeatureOptions): FeatureVector {
  const v: FeatureVector = new Map();
  const stems = words.map(stem);
  stems.forEach((s, i) => {
    if (!(opts.dropStopwords && STOPWORDS.has(words[i]!))) v.set(`u:${s}`, 1);
  });
  if (opts.bigramWeight > 0 && stems.length > 0) {
    const seq = ['^', ...stems, '$'];
    for (let i = 0; i + 1 < seq.length; i++) v.set(`b:${seq[i]} ${seq[i + 1]}`, opts.bigramWeight);
  }
  if (opts.charNgram > 0 && opts.charWeight > 0) {
    const pieces = opts.charAcrossWords ? [words.map((w) => `<${w}>`).join(' ')] : words.map((w) => `<${w}>`);
    for (let n = opts.charNgramFrom ?? opts.charNgram; n <= opts.charNgram; n++) {
      for (const padded of pieces) {
        for (let i = 0; i + n <= padded.length; i++) v.set(`c:${padded.slice(i, i + n)}`, opts.charWeight);
      }
    }
  }
  return v;
}

/** Scales each feature by `idf(feature)` and the whole vector to unit length (in place). */
export function weightFeatures(v: FeatureVector, idf: (feature: string) => number): FeatureVector {
  let norm = 0;
  for (const [k, x] of v) {
    const y = x * idf(k);
    v.set(k, y);
    norm += y * y;
  }
  norm = Math.sqrt(norm);
  if (norm > 0) for (const [k, x] of v) v.set(k, x / norm);
  return v;
}

/** Smoothed inverse document frequency, as in scikit-learn. */
export const idfOf = (examples: number, df: number): number => Math.log((examples + 1) / (df + 1)) + 1;
