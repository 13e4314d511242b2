/**
 * `errand train` and `errand classify`: the intent classifier from the command line.
 *
 *   errand train [--eval] [--tune] [--with-feedback] [--threshold X] [--margin X]
 *       reads <root>/intents/*.yaml, trains on every example, writes <root>/models/intent-model.json and
 *       prints counts, training time and the held-out evaluation (trained on 80 %, measured on the fixed
 *       20 %). --eval: only the evaluation, with per-intent figures and the misclassified examples, and
 *       nothing written. --tune: also the cross-validated threshold × margin sweep that chose the defaults.
 *   errand classify [--threshold X] [--margin X] "text"
 *       ranked intents with confidences, human readable.
 *   errand classify --jsonl [--threshold X] [--margin X]
 *       one message per stdin line → one JSON object per stdout line:
 *       {"text","intent","confidence","route","alternatives"}. Blank lines are skipped; a line that fails
 *       still gets a line (intent null, route triage) and an error on stderr.
 */
import { once } from 'node:events';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import {
  createClassifier,
  DEFAULT_MARGIN,
  DEFAULT_THRESHOLD,
  loadIntents,
  loadModel,
  OUT_OF_SCOPE,
  type Classification,
  type Classifier,
} from '../nlu/classifier.js';
import { evaluateHeldOut, HOLDOUT_EVERY, MISROUTE_COST, tuneDecision, splitHeldOut, type Metrics } from '../nlu/evaluate.js';
import { serialiseModel } from '../nlu/model.js';
import { CALIBRATION_FOLDS, trainCalibratedModel } from '../nlu/train.js';
import { LEXICON_FILE, loadLexicon } from '../nlu/lexicon.js';

export const MODEL_PATH = path.join('models', 'intent-model.json');
export const INTENTS_DIR = 'intents';

export interface NluIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = `usage:
  errand train [--eval] [--tune] [--with-feedback] [--threshold X] [--margin X]
  errand classify [--threshold X] [--margin X] "text"
  errand classify --jsonl [--threshold X] [--margin X]    (one message per stdin line)
`;

class UsageError extends Error {}

interface Parsed { flags: Set<string>; values: Map<string, string>; rest: string[] }

function parseArgs(args: readonly string[], booleans: readonly string[], valued: readonly string[]): Parsed {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { rest.push(...args.slice(i + 1)); break; }
    if (!a.startsWith('--')) { rest.push(a); continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (booleans.includes(name) && eq < 0) flags.add(name);
    else if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      values.set(name, v);
    } else throw new UsageError(`unknown option ${a}`);
  }
  return { flags, values, rest };
}

function unitOption(p: Parsed, name: string, fallback: number): number {
  const raw = p.values.get(name);
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(x) || x < 0 || x > 1) throw new UsageError(`--${name} must be a number between 0 and 1, got "${raw}"`);
  return x;
}

const pct = (x: number): string => x.toFixed(3);

function formatMetrics(m: Metrics, indent = '  '): string {
  const inOk = Math.round(m.inScopeAccuracy * m.inScopeExamples);
  const oosOk = Math.round(m.oosRecall * m.outOfScopeExamples);
  return [
    `${indent}in-scope accuracy   ${pct(m.inScopeAccuracy)}  (${inOk}/${m.inScopeExamples}; a rejection counts as an error)`,
    `${indent}out-of-scope recall ${pct(m.oosRecall)}  (${oosOk}/${m.outOfScopeExamples})`,
    `${indent}macro-F1            ${pct(m.macroF1)}  (in-scope intents + "null")`,
    `${indent}misroute rate       ${pct(m.misrouteRate)}  (routed to a wrong intent)`,
  ].join('\n');
}

/** Folds reviewed, accepted labels from the database into intents/ before training. */
async function foldFeedback(root: string, out: (s: string) => void): Promise<void> {
  const { withConfiguredDatabase } = await import('./with-database.js');
  const { foldAccepted } = await import('../nlu/feedback.js');
  const r = await withConfiguredDatabase((db) => foldAccepted(db, path.join(root, INTENTS_DIR)), { migrate: true });
  out(`feedback: ${r.added} accepted example(s) added to intents/, ${r.skipped} already there${r.unknown.length ? `; unknown intents: ${r.unknown.join(', ')}` : ''}`);
}

async function train(args: readonly string[], root: string, io: NluIo): Promise<number> {
  const p = parseArgs(args, ['eval', 'tune', 'with-feedback'], ['threshold', 'margin']);
  if (p.rest.length) throw new UsageError(`unexpected argument ${p.rest[0]}`);
  if (p.flags.has('with-feedback')) await foldFeedback(root, (s) => void io.stdout.write(`${s}\n`));
  const decision = { threshold: unitOption(p, 'threshold', DEFAULT_THRESHOLD), margin: unitOption(p, 'margin', DEFAULT_MARGIN) };
  const out = (s: string): void => void io.stdout.write(`${s}\n`);

  const data = await loadIntents(path.join(root, INTENTS_DIR));
  const lexicon = await loadLexicon(path.join(root, INTENTS_DIR));
  const trainOpts = lexicon ? { lexicon } : {};
  const total = data.reduce((n, d) => n + d.examples.length, 0);
  const oos = data.find((d) => d.intent === OUT_OF_SCOPE)?.examples.length ?? 0;
  out(`intents: ${data.filter((d) => d.intent !== OUT_OF_SCOPE).length} in scope${oos ? ` + ${OUT_OF_SCOPE}` : ' (no out-of-scope examples)'}; examples: ${total} (${total - oos} in scope, ${oos} out of scope)`);
  if (lexicon) out(`lexicon: ${Object.keys(lexicon).length} entity types, ${Object.values(lexicon).reduce((n, l) => n + l.length, 0)} names (${INTENTS_DIR}/${LEXICON_FILE})`);

  if (!p.flags.has('eval')) {
    const t0 = performance.now();
    const model = trainCalibratedModel(data, trainOpts);
    const ms = performance.now() - t0;
    const file = path.join(root, MODEL_PATH);
    const text = serialiseModel(model);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, text);
    await rename(tmp, file);
    out(`trained on all ${model.training.examples} examples in ${Math.round(ms)} ms: ${Object.keys(model.weights).length} features × ${model.classes.length} classes`);
    const cal = model.calibration!;
    out(`calibration: temperature ${cal.temperature} fitted on ${cal.examples} out-of-fold predictions (${CALIBRATION_FOLDS}-fold); expected calibration error ${cal.eceBefore} → ${cal.eceAfter}`);
    out(`wrote ${path.relative(root, file) || file} (${(Buffer.byteLength(text) / 1024).toFixed(0)} KB)`);
  }

  const report = evaluateHeldOut(data, decision, trainOpts);
  const m = report.metrics;
  out(`held-out evaluation: trained on ${report.trainExamples} examples (${Math.round(report.trainMs)} ms), tested on the fixed ${report.testExamples} (every ${HOLDOUT_EVERY}th example of each file); threshold ${decision.threshold}, margin ${decision.margin}`);
  out(formatMetrics(m));
  out(`  calibration         temperature ${report.calibration.temperature}; held-out expected calibration error ${report.calibration.heldOut.ece.toFixed(3)}`);
  out(`  classify latency    mean ${report.latency.meanMs.toFixed(3)} ms, p99 ${report.latency.p99Ms.toFixed(3)} ms, max ${report.latency.maxMs.toFixed(3)} ms`);

  if (p.flags.has('eval')) {
    out('per label (precision / recall / F1 / support):');
    for (const [label, s] of Object.entries(m.perLabel)) {
      out(`  ${label.padEnd(22)} ${pct(s.precision)} / ${pct(s.recall)} / ${pct(s.f1)} / ${s.support}`);
    }
    out('reliability on the held-out part (top-class confidence bin: messages, mean confidence → share right):');
    for (const b of report.calibration.heldOut.bins) {
      if (b.count) out(`  ${b.from.toFixed(1)}–${b.to.toFixed(1)}  ${String(b.count).padStart(4)}  ${pct(b.meanConfidence)} → ${pct(b.accuracy)}`);
    }
    out(`misclassified (${m.errors.length}):`);
    for (const e of m.errors) {
      out(`  ${(e.expected ?? 'null').padEnd(20)} → ${(e.got ?? `null (${e.reason ?? ''})`).padEnd(30)} ${e.confidence.toFixed(2)}  ${JSON.stringify(e.text)}`);
    }
  }

  if (p.flags.has('tune')) {
    const t = tuneDecision(splitHeldOut(data).train, { trainOpts });
    out(`threshold × margin sweep (5-fold cross-validation on the training part only; utility = right − ${MISROUTE_COST} × misrouted, per message):`);
    out('  threshold margin  utility macroF1 inScopeAcc oosRecall misroute');
    for (const g of t.grid) {
      const mark = g.threshold === t.threshold && g.margin === t.margin ? '  ← best' : '';
      out(`  ${g.threshold.toFixed(2).padStart(9)} ${g.margin.toFixed(2).padStart(6)}  ${g.utility.toFixed(3).padStart(7)} ${pct(g.macroF1).padStart(7)} ${pct(g.inScopeAccuracy).padStart(10)} ${pct(g.oosRecall).padStart(9)} ${pct(g.misrouteRate).padStart(8)}${mark}`);
    }
    out(`best: threshold ${t.threshold}, margin ${t.margin} (utility ${t.utility.toFixed(3)}); defaults in src/nlu/classifier.ts: threshold ${DEFAULT_THRESHOLD}, margin ${DEFAULT_MARGIN}`);
  }
  return 0;
}

function describe(c: Classification): string {
  const lines: string[] = [];
  if (c.intent !== null) lines.push(`→ ${c.intent}  (fulfil, confidence ${c.confidence.toFixed(3)})`);
  else if (c.reason === 'no-known-words') lines.push('→ triage: no word of the message is known to the model');
  else lines.push(`→ triage: ${c.reason ?? 'rejected'} (best in-scope confidence ${c.confidence.toFixed(3)})`);
  const ranked = c.intent !== null ? [{ intent: c.intent, confidence: c.confidence }, ...c.alternatives] : c.alternatives;
  ranked.forEach((s, i) => {
    const bar = '█'.repeat(Math.round(s.confidence * 20));
    lines.push(`  ${i + 1}. ${s.intent.padEnd(22)} ${s.confidence.toFixed(3)} ${bar}`);
  });
  return lines.join('\n');
}

/** The JSONL record: exactly these keys, in this order. */
function jsonRecord(c: Pick<Classification, 'text' | 'intent' | 'confidence' | 'route' | 'alternatives'>): string {
  return JSON.stringify({
    text: c.text,
    intent: c.intent,
    confidence: c.confidence,
    route: c.route,
    alternatives: c.alternatives.map((a) => ({ intent: a.intent, confidence: a.confidence })),
  });
}

async function classifyJsonl(classifier: Classifier, io: NluIo): Promise<number> {
  const rl = createInterface({ input: io.stdin, crlfDelay: Infinity });
  let failures = 0;
  let lineNo = 0;
  let outputError: Error | undefined;
  const onError = (e: Error): void => {
    outputError = e; // e.g. EPIPE when the reader went away: stop quietly
    rl.close();
  };
  io.stdout.on('error', onError);
  try {
    for await (const raw of rl) {
      if (outputError) break;
      lineNo++;
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() === '') continue;
      let line: string;
      try {
        line = jsonRecord(classifier.classify(text));
      } catch (e) {
        failures++;
        io.stderr.write(`line ${lineNo}: classification failed: ${(e as Error).message}\n`);
        line = jsonRecord({ text, intent: null, confidence: 0, route: 'triage', alternatives: [] });
      }
      if (!io.stdout.write(`${line}\n`)) {
        try {
          await once(io.stdout, 'drain'); // rejects if the stream errors meanwhile
        } catch (e) {
          outputError ??= e as Error;
          break;
        }
      }
    }
  } finally {
    io.stdout.off('error', onError);
  }
  if (outputError && (outputError as NodeJS.ErrnoException).code !== 'EPIPE') {
    io.stderr.write(`errand classify: cannot write the output: ${outputError.message}\n`);
  }
  return failures || outputError ? 1 : 0;
}

async function classify(args: readonly string[], root: string, io: NluIo): Promise<number> {
  const p = parseArgs(args, ['jsonl'], ['threshold', 'margin']);
  const threshold = unitOption(p, 'threshold', DEFAULT_THRESHOLD);
  const margin = unitOption(p, 'margin', DEFAULT_MARGIN);
  if (p.flags.has('jsonl') && p.rest.length) throw new UsageError('--jsonl reads the messages from stdin; give no text argument');
  if (!p.flags.has('jsonl') && p.rest.length === 0) throw new UsageError('classify needs a message (or --jsonl)');
  const model = await loadModel(path.join(root, MODEL_PATH));
  const classifier = createClassifier(model, { threshold, margin });
  if (p.flags.has('jsonl')) return classifyJsonl(classifier, io);
  const text = p.rest.join(' ');
  io.stdout.write(`${JSON.stringify(text)}\n${describe(classifier.classify(text))}\n`);
  return 0;
}

/** Entry point used by src/cli/main.ts; returns the process exit code. */
export async function runNluCommand(
  cmd: string,
  args: string[],
  rootDir: string,
  io: NluIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    if (cmd === 'train') return await train(args, rootDir, io);
    if (cmd === 'classify') return await classify(args, rootDir, io);
    throw new UsageError(`unknown command ${cmd}`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`errand ${cmd}: ${e.message}\n${USAGE}`);
      return 2;
    }
    io.stderr.write(`errand ${cmd}: ${(e as Error).message}\n`);
    return 1;
  }
}
