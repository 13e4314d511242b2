/**
 * Text → tokens for the intent classifier: Unicode/case normalisation, natural's aggressive word
 * tokenizer, English contraction expansion, number folding, and natural's Porter stemmer.
 * Also a bounded edit distance used to map misspelt words onto the model's vocabulary.
 *
 * Only single files of `natural` are imported: the package root loads storage backends and dotenv.
 */
import PorterStemmer from 'natural/lib/natural/stemmers/porter_stemmer.js';
import AggressiveTokenizer from 'natural/lib/natural/tokenizers/aggressive_tokenizer.js';
import naturalStopwords from 'natural/lib/natural/util/stopwords.js';

const tokenizer = new AggressiveTokenizer();

/** natural's English stop words. */
export const STOPWORDS: ReadonlySet<string> = new Set(naturalStopwords.words);

/** Token that stands for any number (dates, amounts, ids). */
export const NUMBER_TOKEN = '#num';

const CONTRACTIONS: Record<string, string[]> = {
  "can't": ['can', 'not'], cant: ['can', 'not'], cannot: ['can', 'not'],
  "won't": ['will', 'not'], "shan't": ['shall', 'not'], "ain't": ['is', 'not'],
  dont: ['do', 'not'], doesnt: ['does', 'not'], didnt: ['did', 'not'], isnt: ['is', 'not'], arent: ['are', 'not'],
  wasnt: ['was', 'not'], werent: ['were', 'not'], havent: ['have', 'not'], hasnt: ['has', 'not'], hadnt: ['had', 'not'],
  couldnt: ['could', 'not'], wouldnt: ['would', 'not'], shouldnt: ['should', 'not'],
  im: ['i', 'am'], ive: ['i', 'have'],
};
const SUFFIXES: [string, string | null][] = [
  ["n't", 'not'], ["'m", 'am'], ["'re", 'are'], ["'ve", 'have'], ["'ll", 'will'], ["'d", 'would'], ["'s", null],
];

/** Lower-cases, folds accents and typographic quotes. */
export function normaliseText(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019\u02bc`´]/g, "'")
    .toLowerCase();
}

function expand(token: string): string[] {
  // own keys only: "constructor" or "__proto__" in a message found Object.prototype's and broke classification
  const fixed = Object.hasOwn(CONTRACTIONS, token) ? CONTRACTIONS[token] : undefined;
  if (fixed) return fixed;
  for (const [suffix, word] of SUFFIXES) {
    if (token.length > suffix.length && token.endsWith(suffix)) {
      const base = token.slice(0, -suffix.length);
      return word ? [base, word] : [base];
    }
  }
  return [token.replace(/'/g, '')];
}

/**
 * Surface words of a message (normalised, contractions expanded, numbers folded to NUMBER_TOKEN),
 * before stemming. Hyphens, slashes and apostrophes never survive inside a word.
 */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const raw of tokenizer.tokenize(normaliseText(text))) {
    for (const part of raw.split(/[-/]+/)) {
      const t = part.replace(/^'+|'+$/g, '');
      if (!t) continue;
      for (const w of expand(t)) {
        if (!w) continue;
        out.push(/^\d+$/.test(w) || /\d{5,}/.test(w) ? NUMBER_TOKEN : w);
      }
    }
  }
  return out;
}

const stemCache = new Map<string, string>();
/** Porter stem (natural), memoised. */
export function stem(word: string): string {
  if (word === NUMBER_TOKEN) return word;
  let s = stemCache.get(word);
  if (s === undefined) {
    s = PorterStemmer.stem(word);
    if (stemCache.size < 50_000) stemCache.set(word, s);
  }
  return s;
}

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), giving up as soon as
 * it exceeds `max` (returns max + 1 then).
 */
export function boundedEditDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let cur = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n]!;
}

/** How many edits a word of this length may be away from a vocabulary word to be corrected to it. */
export function maxEditsFor(word: string): number {
  if (word.length < 4 || !/^[a-z]+$/.test(word)) return 0;
  return word.length >= 8 ? 2 : 1;
}
