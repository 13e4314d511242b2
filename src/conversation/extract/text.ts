/**
 * Text helpers shared by the extractors: folding (case, accents, punctuation), tokens with
 * naive singular forms, small number words, field words from names/labels, and a conservative
 * typo-tolerant token comparison (natural's Damerau-Levenshtein, imported as a single file).
 */
import distance from 'natural/lib/natural/distance/levenshtein_distance.js';

const normalise = (text: string): string =>
  text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/(\d)\s*(?:"|\u201d|''|-?\s?inch(?:es)?\b)/gi, '$1inch ');

/** Folds accents, quotes, case; `27"`/`27-inch` → `27inch`; anything else non-alphanumeric → space. */
export function fold(text: string): string {
  return normalise(text).toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
}

const KEEP_S = new Set(['news', 'does', 'always', 'perhaps', 'series', 'lens', 'bonus', 'status', 'canvas', 'analysis', 'yes', 'ios', 'macos', 'chaos', 'alias', 'atlas']);

/** A naive singular ("monitors" → "monitor", "licences" → "licence", "mice" → "mouse"); other words unchanged. */
export function singular(w: string): string {
  if (w === 'mice') return 'mouse';
  if (w.length <= 3 || KEEP_S.has(w) || !/^[a-z]+$/.test(w)) return w;
  if (w.endsWith('ies')) return `${w.slice(0, -3)}y`;
  if (/(?:ss|ch|sh|x|z)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith('s') && !/(?:ss|us|is)$/.test(w)) return w.slice(0, -1);
  return w;
}

/** Folded, singular tokens (for field names and labels). */
export const tokens = (text: string): string[] => fold(text).split(' ').filter(Boolean).map(singular);

/**
 * A word of a message: folded (`w`), and its singular (`s`), except for a Capitalised word inside a
 * sentence that is not in Title Case ("I use Teams": a product, not more than one team), and for a
 * sentence's first word whose singular would be a short word ("Teams crashes" is not about a team).
 */
export interface Tok { w: string; s: string }

export function textTokens(text: string): Tok[] {
  const norm = normalise(text);
  const words = [...norm.matchAll(/[A-Za-z0-9]+/g)];
  const alpha = words.filter((m) => /^[A-Za-z]/.test(m[0]));
  const titleCase = alpha.filter((m) => /^[A-Z]/.test(m[0])).length >= 0.6 * alpha.length;
  return words.map((m, i) => {
    const w = m[0].toLowerCase();
    const prev = words[i - 1];
    const sentenceStart = !prev || /[.!?:;]/.test(norm.slice(prev.index + prev[0].length, m.index));
    const name = /^[A-Z][a-z]/.test(m[0]) && !titleCase && (!sentenceStart || singular(w).length < 5);
    return { w, s: name ? w : singular(w) };
  });
}

/** A message word matches a phrase word: the same, the same in the singular, or a small typo of it. */
export const matches = (t: Tok, p: string): boolean => t.w === p || t.s === singular(p) || isTypo(t.w, p) || (t.s !== t.w && isTypo(t.s, p));

export const NUMBER_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11, twelve: 12,
  thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19, twenty: 20,
};
export const NUMBER_WORD_RE = Object.keys(NUMBER_WORDS).join('|');

/** A quantity token: digits or a number word (not "a"/"an"). */
export function quantity(tok: string): number | undefined {
  if (/^\d+(?:\.\d+)?$/.test(tok)) return Number(tok);
  return NUMBER_WORDS[tok];
}

/** camelCase and label words of a field, folded ("monitorCount", "Number of monitors" → monitor, count, number, of, monitor). */
export function fieldWords(name: string, label?: string): string[] {
  return tokens(`${name.replace(/([a-z0-9])([A-Z])/g, '$1 $2')} ${label ?? ''}`);
}

export const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A typo of `word`: same first letter, both alphabetic, `word` of at least 6 letters, neither a prefix
 * of the other (so "manager" is not "manage"), one edit apart, or two when the endings agree
 * ("authentication" is not a typo of "authenticator").
 */
export function isTypo(tok: string, word: string): boolean {
  if (word.length < 6 || tok[0] !== word[0] || !/^[a-z]+$/.test(tok) || !/^[a-z]+$/.test(word)) return false;
  if (Math.abs(tok.length - word.length) > 2 || tok.startsWith(word) || word.startsWith(tok)) return false;
  const d = distance.DamerauLevenshteinDistance(tok, word);
  return d <= 1 || (d === 2 && word.length >= 9 && tok.slice(-2) === word.slice(-2));
}

/** `tok` is `cue` or an inflection sharing most of it ("leaving" ~ "leaver", "owners" ~ "owner"). */
export function isCue(tok: string, cue: string): boolean {
  if (tok === cue) return true;
  let i = 0;
  while (i < tok.length && i < cue.length && tok[i] === cue[i]) i++;
  return i >= Math.max(4, cue.length - 2);
}
