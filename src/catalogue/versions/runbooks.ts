/**
 * Runbook entries (`exceptions:` of a catalogue item) for the people who handle what automation
 * could not: on manual tasks and cases (the entries about the failed step first), in triage (for
 * the suggested item) and in GET /api/requests/:ref. The item given is the request's own version
 * (its snapshot), so a fulfiller reads the runbook that matches the workflow the request runs.
 */
import type { CatalogueItem, ExceptionEntry } from '../schema.js';
import type { FieldLine } from '../../conversation/messages.js';

/** The entries relevant to `stepId` (those about it first, then those about the whole item); all without a step. */
export function runbooksFor(item: Pick<CatalogueItem, 'exceptions'>, stepId?: string): ExceptionEntry[] {
  const all = item.exceptions ?? [];
  if (!stepId) return all;
  return [...all.filter((x) => x.appliesTo?.includes(stepId)), ...all.filter((x) => !x.appliesTo)];
}

/** One entry as text: title, symptom, numbered steps, link. */
export function runbookText(x: ExceptionEntry): string {
  return [`${x.title} (when: ${x.symptom})`, ...x.steps.map((s, i) => `  ${i + 1}. ${s}`), ...(x.link ? [`  More: ${x.link}`] : [])].join('\n');
}

/** The entries as a text block for case descriptions and chat messages ('' when there are none). */
export function runbookBlock(entries: ExceptionEntry[]): string {
  return entries.length ? `\nRunbook:\n${entries.map(runbookText).join('\n')}` : '';
}

/** The entries as card field lines (label = title). */
export function runbookFields(entries: ExceptionEntry[]): FieldLine[] {
  return entries.map((x) => ({ label: `Runbook: ${x.title}`, value: [`When: ${x.symptom}`, ...x.steps.map((s, i) => `${i + 1}. ${s}`), ...(x.link ? [x.link] : [])].join('\n') }));
}

/** The entries as returned by the API. */
export function runbooksJson(entries: ExceptionEntry[]): { title: string; symptom: string; steps: string[]; link: string | null; appliesTo: string[] | null }[] {
  return entries.map((x) => ({ title: x.title, symptom: x.symptom, steps: x.steps, link: x.link ?? null, appliesTo: x.appliesTo ?? null }));
}
