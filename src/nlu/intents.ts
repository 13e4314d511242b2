/**
 * Loads the training data: every `intents/*.yaml` file holds `intent: <id>` and `examples: [...]`.
 * The file name must be the intent id (`_out_of_scope.yaml` holds the out-of-scope examples);
 * `_lexicon.yaml` is the product lexicon (lexicon.ts), not an intent.
 * All problems of all files are collected and reported together, each naming its file.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { LEXICON_FILE } from './lexicon.js';
import { OUT_OF_SCOPE, type IntentExamples } from './model.js';

export const intentFileSchema = z.object({
  intent: z
    .string()
    .refine((id) => id === OUT_OF_SCOPE || /^[a-z][a-z0-9-]+$/.test(id), {
      message: `must be a catalogue id matching ^[a-z][a-z0-9-]+$ (like "password-reset"), or "${OUT_OF_SCOPE}"`,
    }),
  examples: z
    .array(z.string().trim().min(1, 'an example must not be empty').max(500, 'an example must be at most 500 characters'))
    .min(1, 'at least one example is needed'),
});

export interface IntentFileError { file: string; path: string; message: string }

export class IntentDataError extends Error {
  readonly code = 'INTENT_DATA_INVALID';
  constructor(readonly errors: IntentFileError[]) {
    super(
      `The intent training data is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'}):\n` +
        errors.map((e) => `  ${e.file}: ${e.path || '(root)'}: ${e.message}`).join('\n'),
    );
    this.name = 'IntentDataError';
  }
}

const zodPath = (p: PropertyKey[]): string =>
  p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('');

/** Parses one intent file's text; `file` is only used in error messages and for the id check. */
export function parseIntentFile(file: string, text: string): { data?: IntentExamples; errors: IntentFileError[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      errors: doc.errors.map((e) => ({
        file,
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
        message: `not valid YAML: ${e.message.split('\n')[0]}`,
      })),
    };
  }
  const parsed = intentFileSchema.safeParse(doc.toJS());
  if (!parsed.success) return { errors: parsed.error.issues.map((i) => ({ file, path: zodPath(i.path), message: i.message })) };
  const errors: IntentFileError[] = [];
  const expected = path.basename(file).replace(/\.ya?ml$/, '');
  if (parsed.data.intent !== expected) {
    errors.push({ file, path: 'intent', message: `intent "${parsed.data.intent}" must match the file name "${expected}"` });
  }
  const seen = new Map<string, number>();
  parsed.data.examples.forEach((ex, i) => {
    const key = ex.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) errors.push({ file, path: `examples[${i}]`, message: `duplicate of examples[${first}]` });
    else seen.set(key, i);
  });
  return errors.length ? { errors } : { data: parsed.data, errors };
}

/**
 * Reads every `*.yaml` / `*.yml` in `dir` (sorted by file name). Throws IntentDataError listing every
 * problem, including an example that appears under two intents.
 */
export async function loadIntents(dir: string): Promise<IntentExamples[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && n !== LEXICON_FILE).sort();
  } catch (e) {
    throw new IntentDataError([{ file: dir, path: '', message: `cannot read the intents folder: ${(e as Error).message}` }]);
  }
  const errors: IntentFileError[] = [];
  if (names.length === 0) errors.push({ file: dir, path: '', message: 'no intent files (*.yaml) found' });
  const out: IntentExamples[] = [];
  const owner = new Map<string, string>(); // example (lower-cased) → file
  const ids = new Map<string, string>();
  for (const name of names) {
    let text: string;
    try {
      text = await readFile(path.join(dir, name), 'utf8');
    } catch (e) {
      errors.push({ file: name, path: '', message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const res = parseIntentFile(name, text);
    errors.push(...res.errors);
    if (!res.data) continue;
    const other = ids.get(res.data.intent);
    if (other) errors.push({ file: name, path: 'intent', message: `intent "${res.data.intent}" is also defined in ${other}` });
    ids.set(res.data.intent, name);
    res.data.examples.forEach((ex, i) => {
      const key = ex.toLowerCase();
      const prev = owner.get(key);
      if (prev !== undefined) errors.push({ file: name, path: `examples[${i}]`, message: `"${ex}" is also an example in ${prev}` });
      else owner.set(key, name);
    });
    out.push(res.data);
  }
  if (errors.length) throw new IntentDataError(errors);
  return out;
}
