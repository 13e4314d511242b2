/**
 * The product lexicon (intents/_lexicon.yaml): proper names of products and systems grouped by entity
 * type (laptop-model, authenticator, saas-application, ...), in the spirit of Rasa's lookup tables.
 * A message that names any entry of a type gets one extra feature for that type (`u:@<type>`), so a
 * product the training examples never mention ("Dell Latitude 7440", "Stata") still counts as "a
 * laptop model" or "installable software" — the classifier learns what each type means from the
 * training examples that name one. Entries are matched as whole words after the classifier's own
 * normalisation (text.ts `words`), multi-word entries as a phrase, longest match first; the words of
 * a match count as known and are never spelling-corrected.
 *
 * The compiled lexicon (token lists) is stored inside the model, so a model classifies the same way
 * wherever it is loaded, whatever the folder holds then.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { NUMBER_TOKEN, words } from './text.js';

/** Reserved file name in the intents folder (not an intent). */
export const LEXICON_FILE = '_lexicon.yaml';

/** Entity type → entries, each as its normalised words. */
export type Lexicon = Record<string, string[][]>;

const TYPE_ID = /^[a-z][a-z0-9-]*$/;
export const lexiconFileSchema = z.object({
  types: z.record(z.string(), z.array(z.union([z.string(), z.number()]).transform(String).pipe(z.string().trim().min(1).max(100)))),
});

export class LexiconError extends Error {
  readonly code = 'LEXICON_INVALID';
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'LexiconError';
  }
}

/** Parses and compiles a lexicon file's text; throws LexiconError naming every problem. */
export function parseLexicon(text: string, file = LEXICON_FILE): Lexicon {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw new LexiconError(file, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`));
  const parsed = lexiconFileSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new LexiconError(file, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  const out: Lexicon = {};
  const problems: string[] = [];
  for (const [type, entries] of Object.entries(parsed.data.types)) {
    if (!TYPE_ID.test(type)) { problems.push(`types.${type}: a type id is lower-case letters, digits and dashes, like "laptop-model"`); continue; }
    if (entries.length === 0) { problems.push(`types.${type}: a type needs at least one entry`); continue; }
    const seen = new Set<string>();
    const list: string[][] = [];
    for (const entry of entries) {
      const ws = words(entry);
      if (ws.length === 0) { problems.push(`types.${type}: "${entry}" has no words`); continue; }
      if (ws.every((w) => w === NUMBER_TOKEN)) { problems.push(`types.${type}: "${entry}" is only a number, which would match every number in a message; add a word (e.g. "Form ${entry}")`); continue; }
      const key = ws.join(' ');
      if (!seen.has(key)) { seen.add(key); list.push(ws); }
    }
    out[type] = list;
  }
  if (problems.length) throw new LexiconError(file, problems);
  return out;
}

/** The lexicon of an intents folder, or undefined when it has none. */
export async function loadLexicon(intentsDir: string): Promise<Lexicon | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(intentsDir, LEXICON_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return parseLexicon(text, path.join(path.basename(intentsDir), LEXICON_FILE));
}

/** Finds lexicon entries in a message's words. */
export interface LexiconMatcher {
  /** Types named in `ws` (sorted, each once) and which positions of `ws` the matches cover. */
  match(ws: readonly string[]): { types: string[]; covered: Set<number> };
}

/** Compiles a lexicon for matching: entries indexed by first word, longest first. */
export function lexiconMatcher(lexicon: Lexicon | undefined): LexiconMatcher {
  const byFirst = new Map<string, { tokens: string[]; type: string }[]>();
  for (const [type, entries] of Object.entries(lexicon ?? {})) {
    for (const tokens of entries) {
      let list = byFirst.get(tokens[0]!);
      if (!list) byFirst.set(tokens[0]!, (list = []));
      list.push({ tokens, type });
    }
  }
  for (const list of byFirst.values()) list.sort((a, b) => b.tokens.length - a.tokens.length || a.type.localeCompare(b.type));
  return {
    match(ws) {
      const types = new Set<string>();
      const covered = new Set<number>();
      if (byFirst.size === 0) return { types: [], covered };
      for (let i = 0; i < ws.length; i++) {
        const candidates = byFirst.get(ws[i]!);
        if (!candidates) continue;
        let longest = 0;
        for (const c of candidates) {
          if (c.tokens.length < longest) break;
          if (i + c.tokens.length <= ws.length && c.tokens.every((t, k) => ws[i + k] === t)) {
            types.add(c.type);
            longest = c.tokens.length;
          }
        }
        for (let k = 0; k < longest; k++) covered.add(i + k);
      }
      return { types: [...types].sort(), covered };
    },
  };
}

/** The feature name of a lexicon type (a unigram-like feature). */
export const lexiconFeature = (type: string): string => `u:@${type}`;
