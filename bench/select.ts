/**
 * Choosing the decision (threshold, margin) on validation data — the same procedure for every classifier.
 *
 * Score maximised: in-scope accuracy + OOS recall on the validation messages (each 0..1, so the
 * 100 OOS validation messages weigh as much as the 3,000 in-scope ones; the paper's own criterion,
 * accuracy over all 151 classes, would let the in-scope part dominate). Ties go to the higher
 * threshold, then the larger margin (the safer choice, as in src/nlu/evaluate.ts tuneDecision).
 */
import { MARGIN_GRID } from '../src/nlu/evaluate.js';
import type { IntentExamples } from '../src/nlu/model.js';
import { OUT_OF_SCOPE } from '../src/nlu/model.js';
import { applyDecision, type Contender, type Decision, type Raw } from './contenders.js';
import type { Labelled } from './data.js';

/** 0.00, 0.01, …, 0.99 */
export const BENCH_THRESHOLDS = Array.from({ length: 100 }, (_, i) => i / 100);
export const BENCH_MARGINS = MARGIN_GRID; // 0, 0.05, 0.1, 0.15, 0.2

export interface Selection extends Decision {
  /** Validation in-scope accuracy + OOS recall at the chosen point (0..2). */
  score: number;
  valInScopeAccuracy: number;
  valOosRecall: number;
}

export function selectDecision(scored: readonly { label: string | null; raw: Raw }[]): Selection {
  const inScope = scored.filter((s) => s.label !== null).length;
  const oos = scored.length - inScope;
  let best: Selection | undefined;
  for (const threshold of BENCH_THRESHOLDS) {
    for (const margin of BENCH_MARGINS) {
      let ok = 0;
      let rejected = 0;
      for (const s of scored) {
        const got = applyDecision(s.raw, { threshold, margin });
        if (s.label === null) { if (got === null) rejected++; } else if (got === s.label) ok++;
      }
      const acc = inScope ? ok / inScope : 0;
      const rec = oos ? rejected / oos : 0;
      const score = acc + rec;
      if (!best || score >= best.score - 1e-12) best = { threshold, margin, score, valInScopeAccuracy: acc, valOosRecall: rec };
    }
  }
  return best!;
}

/** Raw scores of every validation message. */
export async function scoreMessages(raw: (t: string) => Raw | Promise<Raw>, messages: readonly Labelled[]): Promise<{ label: string | null; raw: Raw }[]> {
  const out: { label: string | null; raw: Raw }[] = [];
  for (const m of messages) out.push({ label: m.label, raw: await raw(m.text) });
  return out;
}

/** Out-of-fold raw scores by k-fold cross-validation on the training data (fold of example i = i mod k, per class). */
export async function crossValidatedRaw(contender: Contender, data: readonly IntentExamples[], folds = 5, extra?: Parameters<Contender['train']>[2]): Promise<{ label: string | null; raw: Raw }[]> {
  const out: { label: string | null; raw: Raw }[] = [];
  for (let k = 0; k < folds; k++) {
    const train = data.map((d) => ({ intent: d.intent, examples: d.examples.filter((_, i) => i % folds !== k) })).filter((d) => d.examples.length > 0);
    const held: Labelled[] = data.flatMap((d) =>
      d.examples.filter((_, i) => i % folds === k).map((text) => ({ text, label: d.intent === OUT_OF_SCOPE ? null : d.intent })),
    );
    const trained = await contender.train(train, undefined, extra);
    out.push(...(await scoreMessages((t) => trained.raw(t), held)));
  }
  return out;
}
