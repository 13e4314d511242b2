/**
 * Benchmark datasets: the CLINC150 variants (read from ../shared/bench/clinc150/ at run time, never
 * copied into the repository) and our own fixed held-out split of intents/.
 *
 * Every dataset is turned into the same shape: training data as `IntentExamples[]` in which the
 * out-of-scope examples form the class OUT_OF_SCOPE, and labelled validation / test messages whose
 * label is null for an out-of-scope message.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadIntents } from '../src/nlu/intents.js';
import { loadLexicon, type Lexicon } from '../src/nlu/lexicon.js';
import { splitHeldOut } from '../src/nlu/evaluate.js';
import { OUT_OF_SCOPE, type IntentExamples } from '../src/nlu/model.js';

/** One message and its expected intent (null: out of scope). */
export interface Labelled { text: string; label: string | null }

export interface BenchDataset {
  /** Key in the JSON output, e.g. clinc150_full, own_heldout. */
  key: string;
  /** Training data; the out-of-scope examples are the class OUT_OF_SCOPE. */
  train: IntentExamples[];
  /** Validation messages for choosing the decision; null → choose it by k-fold cross-validation on `train`. */
  val: Labelled[] | null;
  test: Labelled[];
  /** Human description of the sizes and of where the data came from. */
  description: string;
  /** Product lexicon (own data only: intents/_lexicon.yaml), given to errand; NLP.js has no counterpart. */
  lexicon?: Lexicon;
}

export const CLINC_VARIANTS = ['full', 'small', 'imbalanced', 'oos_plus'] as const;
export type ClincVariant = (typeof CLINC_VARIANTS)[number];

type Pair = [string, string];
interface ClincFile { train: Pair[]; val: Pair[]; test: Pair[]; oos_train: Pair[]; oos_val: Pair[]; oos_test: Pair[] }

/** The CLINC150 folder, or null when it is missing. */
export async function findClincDir(repoRoot: string): Promise<string | null> {
  const dir = process.env['CLINC150_DIR'] ?? path.resolve(repoRoot, '..', 'shared', 'bench', 'clinc150');
  try {
    return (await stat(dir)).isDirectory() ? dir : null;
  } catch {
    return null;
  }
}

function isPairs(x: unknown): x is Pair[] {
  return Array.isArray(x) && x.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string');
}

const count = (ds: readonly IntentExamples[]): number => ds.reduce((n, d) => n + d.examples.length, 0);

export async function loadClinc(dir: string, variant: ClincVariant): Promise<BenchDataset> {
  const file = path.join(dir, `data_${variant}.json`);
  const raw = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  for (const k of ['train', 'val', 'test', 'oos_train', 'oos_val', 'oos_test']) {
    if (!isPairs(raw[k])) throw new Error(`${file}: key "${k}" is missing or not a list of [text, label] pairs`);
  }
  const d = raw as unknown as ClincFile;
  // Intents in order of first appearance; the out-of-scope class last.
  const byIntent = new Map<string, string[]>();
  for (const [text, label] of d.train) {
    if (label === 'oos') continue; // never in `train`, but be safe
    let list = byIntent.get(label);
    if (!list) byIntent.set(label, (list = []));
    list.push(text);
  }
  const train: IntentExamples[] = [...byIntent].map(([intent, examples]) => ({ intent, examples }));
  train.push({ intent: OUT_OF_SCOPE, examples: d.oos_train.map(([t]) => t) });
  const lab = (pairs: Pair[]): Labelled[] => pairs.map(([text, label]) => ({ text, label: label === 'oos' ? null : label }));
  const val = [...lab(d.val), ...lab(d.oos_val)];
  const test = [...lab(d.test), ...lab(d.oos_test)];
  return {
    key: `clinc150_${variant}`,
    train,
    val,
    test,
    description:
      `CLINC150 ${variant}: train ${count(train) - d.oos_train.length} in-scope (${byIntent.size} intents) + ${d.oos_train.length} OOS; ` +
      `val ${d.val.length} + ${d.oos_val.length} OOS; test ${d.test.length} + ${d.oos_test.length} OOS`,
  };
}

/** Our own data: train on the non-held-out 80 % of intents/, test on the held-out 20 % (splitHeldOut). */
export async function loadOwn(repoRoot: string): Promise<BenchDataset> {
  const data = await loadIntents(path.join(repoRoot, 'intents'));
  const lexicon = await loadLexicon(path.join(repoRoot, 'intents'));
  const { train, test } = splitHeldOut(data);
  const testMessages: Labelled[] = test.flatMap((d) => d.examples.map((text) => ({ text, label: d.intent === OUT_OF_SCOPE ? null : d.intent })));
  const oosTrain = train.find((d) => d.intent === OUT_OF_SCOPE)?.examples.length ?? 0;
  const oosTest = testMessages.filter((m) => m.label === null).length;
  return {
    key: 'own_heldout',
    train,
    ...(lexicon ? { lexicon } : {}),
    val: null,
    test: testMessages,
    description:
      `own intents/ held-out split: train ${count(train) - oosTrain} in-scope (${train.length - (oosTrain ? 1 : 0)} intents) + ${oosTrain} OOS; ` +
      `no val split (decision chosen by 5-fold CV on train); test ${testMessages.length - oosTest} + ${oosTest} OOS`,
  };
}
