/**
 * Choice options named in free text: value, label or alias, as whole words after folding case,
 * accents and punctuation ("Read-Only" = "read only"), singular forms ("monitors"), joined or split
 * spellings ("powerbi" = "power bi", "vscode" = "vs code") and small typos in long words
 * ("tablaeu", "intelij"). A mention inside a longer one of another option does not count
 * ("read and write" is the write option, not also read; "macbook pro" is not also "macbook").
 */
import { optionsOf, type FieldDef } from '../../catalogue/schema.js';
import { fold, matches, type Tok } from './text.js';

interface Hit { value: string; start: number; end: number }

/** The option phrases of a field as token lists. */
function phrases(field: FieldDef): { value: string; toks: string[] }[] {
  return optionsOf(field).flatMap((o) =>
    [o.value, o.label, ...o.aliases].map((p) => ({ value: o.value, toks: fold(p).split(' ').filter(Boolean) })).filter((p) => p.toks.length > 0 && p.toks.join('').length > 1),
  );
}

/** Every place where an option phrase occurs in `toks`. */
export function findOptions(field: FieldDef, toks: Tok[]): Hit[] {
  const hits: Hit[] = [];
  for (const { value, toks: p } of phrases(field)) {
    const joined = p.join('');
    for (let i = 0; i < toks.length; i++) {
      if (i + p.length <= toks.length && p.every((w, j) => matches(toks[i + j]!, w))) hits.push({ value, start: i, end: i + p.length });
      if (joined.length < 6) continue;
      for (const w of [p.length - 1, p.length + 1]) {
        if (w >= 1 && i + w <= toks.length && toks.slice(i, i + w).map((t) => t.w).join('') === joined) hits.push({ value, start: i, end: i + w });
      }
    }
  }
  // drop mentions strictly inside a longer mention of another option
  return hits.filter((h) => !hits.some((g) => g.value !== h.value && g.start <= h.start && g.end >= h.end && g.end - g.start > h.end - h.start));
}
