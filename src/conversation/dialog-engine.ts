/**
 * The guided dialog for one catalogue item, as a state machine over a persisted `DialogState`.
 *
 *   idle ──start──► collecting ──(all visible fields answered)──► confirming ──confirm──► (submit effect) idle
 *                     │  ▲  answer invalid ×3                         │ edit / change <field>
 *                     ▼  │ "keep trying"                              ▼
 *                  handover-offer ──"hand over"──► (handover effect) idle
 *
 * At any point: "cancel" ends the dialog, "back" re-asks the previous field, "change <field>"
 * re-asks that field (then returns to the summary), "help" explains. A field is asked only while
 * its `when` condition holds over the requester and earlier answers; answers of fields that became
 * hidden are dropped. The engine decides and returns messages and effects; it does no IO except the
 * directory lookup passed in for `person` fields.
 */
import { randomUUID } from 'node:crypto';
import { holds } from '../catalogue/condition.js';
import { optionsOf, type CatalogueItem, type FieldDef } from '../catalogue/schema.js';
import { isSkip, parseAnswer, type PersonLookup } from './answer-parser.js';
import { extractValues } from './extract.js';
import type { Button, Choice, FieldLine, OutMessage } from './messages.js';

export const MAX_FAILURES = 3;

export interface DialogData {
  /** Unique per dialog: makes its submission idempotent (a retried confirm finds the first request). */
  id: string;
  itemId: string;
  answers: Record<string, unknown>;
  /** Fields asked so far, in order (for "back"). */
  history: string[];
  asking: string | null;
  failures: number;
  originalText?: string;
  confidence?: number;
  triageId?: string;
  /** Set after "change <field>": return to the summary once that field is answered. */
  returnToConfirm?: boolean;
}

export type DialogState =
  | { mode: 'idle' }
  | { mode: 'collecting' | 'confirming' | 'handover-offer'; d: DialogData }
  | { mode: 'awaiting-deny-reason'; approvalId: string };

export type DialogEffect =
  | { type: 'submit'; d: DialogData }
  | { type: 'handover'; d: DialogData; reason: string }
  | { type: 'cancelled'; d: DialogData };

export interface DialogResult { state: DialogState; messages: OutMessage[]; effect?: DialogEffect }

/**
 * What a pre-validation check (catalogue `checks:`, src/requests/checks) says about the answers so far:
 * `fail` = the answer to `field` is not accepted (it is asked again, offering `alternatives`); `warn` =
 * accepted, the message is shown (with `alternatives` as buttons that change `field`).
 */
export interface CheckFeedback { outcome: 'fail' | 'warn'; field?: string; message: string; alternatives?: Choice[] }
/** Runs the checks that become ready once `answered` are given (`start`: every ready check, at the dialog's start). */
export type AnswerChecker = (item: CatalogueItem, answers: Record<string, unknown>, answered: string[] | 'start') => Promise<CheckFeedback[]>;

export interface DialogDeps { today: Date; findPeople: PersonLookup; checkAnswers?: AnswerChecker }

export interface DialogInput { text?: string; action?: { id: string; value?: string } }

const label = (f: FieldDef): string => f.label ?? f.name;

function visible(item: CatalogueItem, f: FieldDef, answers: Record<string, unknown>, requester: Record<string, unknown>): boolean {
  return holds(f.when, { fields: answers, requester });
}

/** Fields currently asked for (their `when` holds), in catalogue order. */
export function visibleFields(item: CatalogueItem, answers: Record<string, unknown>, requester: Record<string, unknown>): FieldDef[] {
  const out: FieldDef[] = [];
  const seen: Record<string, unknown> = {};
  for (const f of item.fields) {
    if (visible(item, f, seen, requester)) {
      out.push(f);
      if (f.name in answers) seen[f.name] = answers[f.name];
    }
  }
  return out;
}

/** Formats an answer for people (dates as given, lists joined, booleans Yes/No). */
export function formatAnswer(f: FieldDef | undefined, v: unknown): string {
  if (v === undefined || v === null || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  const opts = f ? optionsOf(f) : [];
  const lbl = (x: unknown) => opts.find((o) => o.value === x)?.label ?? String(x);
  return Array.isArray(v) ? v.map(lbl).join(', ') : lbl(v);
}

/** The summary lines of a request's answers (only fields that are visible). */
export function summaryLines(item: CatalogueItem, answers: Record<string, unknown>, requester: Record<string, unknown>): FieldLine[] {
  return visibleFields(item, answers, requester).map((f) => ({ label: label(f), value: formatAnswer(f, answers[f.name]) }));
}

function promptFor(f: FieldDef, prefix?: string): OutMessage {
  const opt = f.required ? '' : ' (optional: say "skip" to leave it empty)';
  const msg: OutMessage = { kind: 'prompt', text: `${prefix ? `${prefix}\n` : ''}${f.prompt}${opt}` };
  if (f.type === 'choice' || f.type === 'multichoice') {
    msg.choices = { options: optionsOf(f).map((o) => ({ value: o.value, label: o.label })), multi: f.type === 'multichoice' };
  } else if (f.type === 'boolean') {
    msg.choices = { options: [{ value: 'yes', label: 'Yes' }, { value: 'no', label: 'No' }], multi: false };
  } else {
    msg.input = { type: f.type === 'date' ? 'date' : f.type === 'number' ? 'number' : f.type === 'person' ? 'person' : 'text' };
  }
  return msg;
}

function summary(item: CatalogueItem, d: DialogData, requester: Record<string, unknown>): OutMessage {
  return {
    kind: 'summary',
    text: `Please check your ${item.title} request:`,
    fields: summaryLines(item, d.answers, requester),
    buttons: [
      { id: 'dialog:confirm', label: 'Confirm', style: 'primary' },
      { id: 'dialog:edit', label: 'Edit' },
      { id: 'dialog:cancel', label: 'Cancel', style: 'danger' },
    ],
  };
}

/** Moves to the next missing field, or to the summary when everything visible is answered. */
function advance(item: CatalogueItem, d: DialogData, requester: Record<string, unknown>, prefix?: string): DialogResult {
  const fields = visibleFields(item, d.answers, requester);
  const names = new Set(fields.map((f) => f.name));
  const answers = Object.fromEntries(Object.entries(d.answers).filter(([k]) => names.has(k)));
  const nd: DialogData = { ...d, answers, failures: 0 };
  const missing = nd.returnToConfirm ? undefined : fields.find((f) => !(f.name in answers));
  const stillMissing = missing ?? fields.find((f) => !(f.name in answers));
  if (stillMissing) {
    nd.asking = stillMissing.name;
    if (nd.history[nd.history.length - 1] !== stillMissing.name) nd.history = [...nd.history, stillMissing.name];
    return { state: { mode: 'collecting', d: nd }, messages: [promptFor(stillMissing, prefix)] };
  }
  nd.asking = null;
  nd.returnToConfirm = false;
  const msgs: OutMessage[] = prefix ? [{ kind: 'info', text: prefix }] : [];
  return { state: { mode: 'confirming', d: nd }, messages: [...msgs, summary(item, nd, requester)] };
}

/**
 * Starts the dialog for `item`, taking what the first message already says. `resolvePerson` (optional,
 * synchronous: e.g. a directory snapshot, or answers looked up ahead for `personMentions(text)`) lets
 * person fields be taken too; "add me" is the requester (their `email`).
 */
export function startDialog(
  item: CatalogueItem, requester: Record<string, unknown>,
  opts: { text?: string; confidence?: number; triageId?: string; today: Date; resolvePerson?: import('./extract.js').PersonResolver },
): DialogResult {
  const fields = item.fields.filter((f) => f.type !== 'text' && f.type !== 'boolean');
  const self = typeof requester.email === 'string' ? { id: requester.email, name: typeof requester.name === 'string' ? requester.name : requester.email } : undefined;
  const found = opts.text ? extractValues(fields, opts.text, opts.today, { resolvePerson: opts.resolvePerson, self }) : {};
  const d: DialogData = { id: randomUUID(), itemId: item.id, answers: {}, history: [], asking: null, failures: 0, originalText: opts.text, confidence: opts.confidence, triageId: opts.triageId };
  // keep extracted values only for fields that are visible given the others
  for (const f of visibleFields(item, found, requester)) if (f.name in found) d.answers[f.name] = found[f.name];
  const taken = Object.keys(d.answers).map((k) => item.fields.find((f) => f.name === k)!).map((f) => `${label(f)}: ${formatAnswer(f, d.answers[f.name])}`);
  const intro = `I can help with that: ${item.title}.${taken.length ? ` I've noted ${taken.join('; ')}.` : ''} (You can say "cancel", "back", "change <field>" or "help" at any time.)`;
  return advance(item, d, requester, intro);
}

function helpText(item: CatalogueItem, f: FieldDef | undefined): OutMessage {
  const lines = [
    `You're requesting: ${item.title}. ${item.description}`,
    ...(f ? [`Current question: ${f.prompt}${f.help ? ` (${f.help})` : ''}`] : []),
    'Commands: "cancel" stops without submitting; "back" goes to the previous question; "change <field>" edits an answer; "help" shows this.',
  ];
  return { kind: 'info', text: lines.join('\n') };
}

function findField(item: CatalogueItem, name: string): FieldDef | undefined {
  const n = name.trim().toLowerCase();
  return item.fields.find((f) => f.name.toLowerCase() === n || label(f).toLowerCase() === n)
    ?? item.fields.find((f) => label(f).toLowerCase().includes(n) || f.name.toLowerCase().includes(n));
}

function editMessage(item: CatalogueItem, d: DialogData, requester: Record<string, unknown>): OutMessage {
  const buttons: Button[] = visibleFields(item, d.answers, requester).map((f) => ({ id: `dialog:change:${f.name}`, label: label(f) }));
  return { kind: 'prompt', text: 'Which answer do you want to change? (or say "change <field>")', buttons };
}

/** Re-asks `field` (for "change <field>" and the Edit buttons). */
function changeField(item: CatalogueItem, d: DialogData, requester: Record<string, unknown>, name: string): DialogResult {
  const f = findField(item, name);
  const vis = visibleFields(item, d.answers, requester);
  if (!f || !vis.includes(f)) {
    return { state: { mode: d.asking ? 'collecting' : 'confirming', d }, messages: [{ kind: 'error', text: `There is no question "${name}" here. You can change: ${vis.map(label).join(', ')}.` }] };
  }
  const answers = { ...d.answers };
  delete answers[f.name];
  const nd: DialogData = { ...d, answers, asking: f.name, failures: 0, returnToConfirm: true, history: [...d.history.filter((h) => h !== f.name), f.name] };
  return { state: { mode: 'collecting', d: nd }, messages: [promptFor(f)] };
}

/** A warning (or a failure not about the field being asked) as a message; alternatives become buttons that change the field. */
function checkNote(f: CheckFeedback, kind: OutMessage['kind'] = 'info'): OutMessage {
  const msg: OutMessage = { kind, text: f.message };
  if (f.field && f.alternatives?.length) msg.choices = { options: f.alternatives, multi: false, actionId: `dialog:set:${f.field}` };
  return msg;
}

/** Takes a parsed answer: runs the checks it completes; a failing one sends the question back with the reason. */
async function accept(item: CatalogueItem, d: DialogData, field: FieldDef, value: unknown, requester: Record<string, unknown>, deps: DialogDeps): Promise<DialogResult> {
  const answers = { ...d.answers, [field.name]: value };
  const feedback = deps.checkAnswers ? await deps.checkAnswers(item, answers, [field.name]) : [];
  const fail = feedback.find((f) => f.outcome === 'fail');
  if (fail) {
    const nd: DialogData = { ...d, asking: field.name, history: d.history.at(-1) === field.name ? d.history : [...d.history, field.name] };
    if (fail.field && fail.field !== field.name) return { state: { mode: 'collecting', d: nd }, messages: [checkNote(fail, 'error'), promptFor(field)] };
    const msg: OutMessage = { ...promptFor(field), kind: 'error', text: `${fail.message}\n${field.prompt}` };
    if (fail.alternatives?.length) msg.choices = { options: fail.alternatives, multi: field.type === 'multichoice' };
    return { state: { mode: 'collecting', d: nd }, messages: [msg] };
  }
  const res = advance(item, { ...d, answers }, requester);
  return feedback.length ? { ...res, messages: [...feedback.map((f) => checkNote(f)), ...res.messages] } : res;
}

/**
 * Runs the checks that are ready when a dialog starts (those with no fields, and those whose fields
 * the first message already answered). A failure about no field ends the dialog (like eligibility);
 * a failure about an extracted answer drops that answer so it is asked, with the reason.
 */
export async function checkDialogStart(item: CatalogueItem, r: DialogResult, requester: Record<string, unknown>, check: AnswerChecker): Promise<DialogResult> {
  if (r.state.mode !== 'collecting' && r.state.mode !== 'confirming') return r;
  const d = r.state.d;
  const feedback = await check(item, d.answers, 'start');
  if (!feedback.length) return r;
  const fail = feedback.find((f) => f.outcome === 'fail');
  const notes = feedback.filter((f) => f.outcome === 'warn').map((f) => checkNote(f));
  if (fail && !fail.field) return { state: { mode: 'idle' }, messages: [{ kind: 'error', text: `You can't request ${item.title} right now: ${fail.message}` }] };
  if (fail) {
    const answers = { ...d.answers };
    delete answers[fail.field!];
    const res = advance(item, { ...d, answers }, requester);
    const asked = res.state.mode === 'collecting' && res.state.d.asking === fail.field;
    const prompt = res.messages.at(-1);
    if (asked && prompt && fail.alternatives?.length) prompt.choices = { options: fail.alternatives, multi: item.fields.find((f) => f.name === fail.field)?.type === 'multichoice' };
    const intro: OutMessage = { kind: 'info', text: `I can help with that: ${item.title}. (You can say "cancel", "back", "change <field>" or "help" at any time.)` };
    return { ...res, messages: [intro, asked ? { kind: 'error', text: fail.message } : checkNote(fail, 'error'), ...notes, ...res.messages] };
  }
  return { ...r, messages: [...r.messages.slice(0, -1), ...notes, ...r.messages.slice(-1)] };
}

const CANCEL = /^(cancel|stop|abort|quit|exit|never ?mind|forget it)$/i;
const MISCLASSIFIED = /^(that'?s not what i (meant|want(ed)?)|not what i meant|wrong (request|item|thing)|that'?s wrong)[.!]*$/i;
const CONFIRM = /^(yes|y|confirm|submit|ok|okay|correct|looks good|send)$/i;

/** Handles one user input while a dialog is active. */
export async function continueDialog(
  state: Extract<DialogState, { d: DialogData }>,
  item: CatalogueItem,
  requester: Record<string, unknown>,
  input: DialogInput,
  deps: DialogDeps,
): Promise<DialogResult> {
  const d = state.d;
  const text = (input.text ?? '').trim();
  const act = input.action?.id;

  if (act === 'dialog:cancel' || CANCEL.test(text)) {
    return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: `Cancelled: nothing was submitted for ${item.title}.` }], effect: { type: 'cancelled', d } };
  }
  if (MISCLASSIFIED.test(text)) {
    // the classifier picked the wrong item: a person routes it, and their decision becomes a training label
    return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: `Sorry about that. I've passed "${d.originalText ?? item.title}" to the service desk, who will pick the right request and continue with you here.` }], effect: { type: 'handover', d, reason: 'misclassified' } };
  }
  if (/^(help|\?)$/i.test(text)) {
    return { state, messages: [helpText(item, item.fields.find((f) => f.name === d.asking))] };
  }
  if (act?.startsWith('dialog:set:')) {
    // an alternative offered by a check: answer that field with the value (then back to where we were)
    const f = item.fields.find((x) => x.name === act.slice('dialog:set:'.length));
    if (!f || !visibleFields(item, d.answers, requester).includes(f)) return { state, messages: [{ kind: 'error', text: 'That choice belongs to a question that is no longer asked.' }] };
    const parsed = await parseAnswer(f, input.action?.value ?? '', deps);
    if (!parsed.ok) return { state, messages: [{ kind: 'error', text: parsed.error }] };
    return accept(item, { ...d, failures: 0, returnToConfirm: state.mode === 'confirming' || d.returnToConfirm }, f, parsed.value, requester, deps);
  }
  const change = act?.startsWith('dialog:change:') ? act.slice('dialog:change:'.length) : /^(?:change|edit)\s+(.+)$/i.exec(text)?.[1];
  if (change) return changeField(item, d, requester, change);

  if (state.mode === 'handover-offer') {
    if (act === 'dialog:handover' || /^(yes|y|hand ?over|person|human|agent)$/i.test(text)) {
      return { state: { mode: 'idle' }, messages: [{ kind: 'info', text: 'I have handed your request to the service desk; a person will pick it up and contact you.' }], effect: { type: 'handover', d, reason: `could not answer "${d.asking}" after ${MAX_FAILURES} tries` } };
    }
    if (act === 'dialog:retry' || /^(no|n|retry|keep trying|try again)$/i.test(text)) {
      const f = item.fields.find((x) => x.name === d.asking);
      return { state: { mode: 'collecting', d: { ...d, failures: 0 } }, messages: f ? [promptFor(f)] : [] };
    }
    return { state, messages: [handoverOffer()] };
  }

  if (/^back$/i.test(text)) {
    const hist = d.history.slice(0, -1);
    const prev = hist[hist.length - 1];
    if (!prev) return { state, messages: [{ kind: 'info', text: 'This is the first question, there is nothing to go back to.' }] };
    const answers = { ...d.answers };
    delete answers[prev];
    const f = item.fields.find((x) => x.name === prev)!;
    return { state: { mode: 'collecting', d: { ...d, answers, asking: prev, history: hist, failures: 0 } }, messages: [promptFor(f)] };
  }

  if (state.mode === 'confirming') {
    if (act === 'dialog:confirm' || CONFIRM.test(text)) {
      return { state: { mode: 'idle' }, messages: [], effect: { type: 'submit', d } };
    }
    if (act === 'dialog:edit' || /^(edit|change|no)$/i.test(text)) return { state, messages: [editMessage(item, d, requester)] };
    return { state, messages: [{ kind: 'info', text: 'Please confirm, edit or cancel the request.' }, summary(item, d, requester)] };
  }

  // collecting: the input answers the current question
  const field = item.fields.find((f) => f.name === d.asking);
  if (!field) return advance(item, d, requester);
  const answerText = act === 'answer' ? input.action?.value ?? '' : text;
  if (!field.required && isSkip(answerText)) {
    return advance(item, { ...d, answers: { ...d.answers, [field.name]: null } }, requester);
  }
  const parsed = await parseAnswer(field, answerText, deps);
  if (!parsed.ok) {
    const failures = d.failures + 1;
    if (failures >= MAX_FAILURES) {
      return { state: { mode: 'handover-offer', d: { ...d, failures } }, messages: [{ kind: 'error', text: parsed.error }, handoverOffer()] };
    }
    const msg: OutMessage = { ...promptFor(field), kind: 'error', text: `${parsed.error}\n${field.prompt}` };
    if (parsed.candidates) msg.choices = { options: parsed.candidates, multi: false };
    return { state: { mode: 'collecting', d: { ...d, failures } }, messages: [msg] };
  }
  return accept(item, d, field, parsed.value, requester, deps);
}

function handoverOffer(): OutMessage {
  return {
    kind: 'prompt',
    text: 'This seems hard to answer here. Shall I hand your request to a person at the service desk?',
    buttons: [{ id: 'dialog:handover', label: 'Hand over to a person', style: 'primary' }, { id: 'dialog:retry', label: 'Keep trying' }],
  };
}
