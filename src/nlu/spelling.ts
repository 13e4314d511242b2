/**
 * Spelling correction against the model's vocabulary: an unknown word of 4+ letters is replaced by the
 * closest training word within 1 edit (2 edits for 8+ letters; edits = insert, delete, substitute,
 * swap adjacent). Candidates come from a deletion index (the SymSpell idea: two words within k edits
 * share a string obtained from each by at most k deletions), so a lookup costs a few map probes
 * instead of a scan of the vocabulary.
 */
import { boundedEditDistance, maxEditsFor } from './text.js';

function deletions(word: string, depth: number, out: Set<string>): void {
  if (depth === 0 || word.length <= 1) return;
  for (let i = 0; i < word.length; i++) {
    const d = word.slice(0, i) + word.slice(i + 1);
    if (!out.has(d)) {
      out.add(d);
      deletions(d, depth - 1, out);
    }
  }
}

export interface SpellingCorrector {
  /** The correction of `word`, or null if no vocabulary word is close enough. */
  correct(word: string): string | null;
}

export function createSpellingCorrector(vocabulary: Readonly<Record<string, number>>): SpellingCorrector {
  const words: string[] = [];
  const counts: number[] = [];
  for (const [w, n] of Object.entries(vocabulary)) {
    if (/^[a-z]+$/.test(w) && w.length >= 3) { words.push(w); counts.push(n); }
  }
  const cache = new Map<string, string | null>();
  const index = build();

  function build(): Map<string, number[]> {
    const idx = new Map<string, number[]>();
    words.forEach((w, i) => {
      const keys = new Set<string>([w]);
      deletions(w, w.length >= 6 ? 2 : 1, keys);
      for (const k of keys) {
        const list = idx.get(k);
        if (list) list.push(i); else idx.set(k, [i]);
      }
    });
    return idx;
  }

  function correct(word: string): string | null {
    const cached = cache.get(word);
    if (cached !== undefined) return cached;
    const max = maxEditsFor(word);
    let best = -1;
    let bestD = max + 1;
    if (max > 0) {
      const keys = new Set<string>([word]);
      deletions(word, max, keys);
      const seen = new Set<number>();
      for (const k of keys) {
        for (const i of index.get(k) ?? []) {
          if (seen.has(i)) continue;
          seen.add(i);
          const d = boundedEditDistance(word, words[i]!, max);
          if (d > max) continue;
          // Fewest edits, then the most frequent word, then alphabetical order.
          if (best < 0 || d < bestD || (d === bestD && (counts[i]! > counts[best]! || (counts[i] === counts[best] && words[i]! < words[best]!)))) {
            best = i;
            bestD = d;
          }
        }
      }
    }
    const result = best < 0 ? null : words[best]!;
    if (cache.size < 10_000) cache.set(word, result);
    return result;
  }

  return { correct };
}
