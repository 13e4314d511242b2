/**
 * Feature extraction: stemmed unigrams, stemmed bigrams (with sentence boundary markers) and, when
 * enabled, character n-grams of the surface words. Every feature is binary; the vector is scaled to
 * unit length over *all* extracted features, so words the model does not know dilute the evidence
 * of the words it does know (and lower the confidence) instead of being silently ignored.
 */
import { stem } from './text.js';

export interface FeatureOptions {
  /** Weight of a bigram relative to a unigram (0 disables bigrams). */
  bigramWeight: number;
  /** Character n-gram length (0 disables them); n-grams are taken from `<word>`. */
  charNgram: number;
  /** Weight of a character n-gram relative to a unigram. */
  charWeight: number;
}

export const DEFAULT_FEATURE_OPTIONS: FeatureOptions = { bigramWeight: 0.6, charNgram: 0, charWeight: 0.3 };

/** Sparse feature vector: feature name → value. */
export type FeatureVector = Map<string, number>;

/** Feature names are prefixed by kind so that no two kinds can collide. */
export const unigramFeature = (s: string): string => `u:${s}`;

/** Features of a message given its (already spelling-corrected) surface words. */
export function extractFeatures(words: readonly string[], opts: FeatureOptions): FeatureVector {
  const v: FeatureVector = new Map();
  const stems = words.map(stem);
  for (const s of stems) v.set(unigramFeature(s), 1);
  if (opts.bigramWeight > 0 && stems.length > 0) {
    const seq = ['^', ...stems, '$'];
    for (let i = 0; i + 1 < seq.length; i++) v.set(`b:${seq[i]} ${seq[i + 1]}`, opts.bigramWeight);
  }
  if (opts.charNgram > 0 && opts.charWeight > 0) {
    const n = opts.charNgram;
    for (const w of words) {
      const padded = `<${w}>`;
      for (let i = 0; i + n <= padded.length; i++) v.set(`c:${padded.slice(i, i + n)}`, opts.charWeight);
    }
  }
  let norm = 0;
  for (const x of v.values()) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (const [k, x] of v) v.set(k, x / norm);
  return v;
}
