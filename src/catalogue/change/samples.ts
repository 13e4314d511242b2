/**
 * Sample data for the dry run of a change:
 *
 *  - sample answers per field, generated from the schema: the first option (choice), one option
 *    (multichoice), yes (boolean), a number within min/max, a date within the date rules, a person
 *    from the directory, text that satisfies minLength/maxLength and `pattern` (an example taken from
 *    `patternHint` — "an asset tag like LT-01234" — or generated from the regular expression);
 *  - samples given by people, which win over generated ones: `samples:` on an item (when the schema
 *    has it) or `dialogs/_samples.yaml` (versioned with the catalogue like any `dialogs/_*.yaml`):
 *
 *        items:
 *          payroll-change:
 *            answers: { iban: "DE89 3704 0044 0532 0130 00" }
 *            requester: { department: Finance }          # attributes of the sample requester
 *        responses:                                        # recorded backend answers, per operation
 *          idm.resetPassword: { status: 202, body: { id: "t-1" } }
 *
 *  - scenarios: the base answers, then one scenario per other option of each choice field (and
 *    `no` for each yes/no field), optional fields left empty, and a contractor requester when a
 *    condition reads the employment type — so conditional fields and steps are exercised.
 */
import { parse } from 'yaml';
import { holds } from '../condition.js';
import { optionsOf, type CatalogueItem, type FieldDef } from '../schema.js';
import { isoDate } from '../../conversation/answer-parser.js';

export const SAMPLES_PATH = 'dialogs/_samples.yaml';

export interface RecordedResponse { status: number; body?: unknown; headers?: Record<string, string> }

export interface Samples {
  items: Record<string, { answers?: Record<string, unknown>; requester?: Record<string, unknown> }>;
  responses: Record<string, RecordedResponse>;
}

/** `dialogs/_samples.yaml` of a version's files (missing or unreadable = none, with the problem). */
export function samplesOf(files: Record<string, string>): { samples: Samples; problem?: string } {
  const empty: Samples = { items: {}, responses: {} };
  const text = files[SAMPLES_PATH];
  if (text === undefined) return { samples: empty };
  try {
    const doc = (parse(text) ?? {}) as { items?: unknown; responses?: unknown };
    const obj = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {});
    const items: Samples['items'] = {};
    for (const [id, v] of Object.entries(obj(doc.items))) items[id] = { answers: obj(obj(v).answers), requester: obj(obj(v).requester) };
    const responses: Samples['responses'] = {};
    for (const [op, v] of Object.entries(obj(doc.responses))) {
      const r = obj(v);
      responses[op] = { status: typeof r.status === 'number' ? r.status : 200, body: r.body, ...(r.headers ? { headers: obj(r.headers) as Record<string, string> } : {}) };
    }
    return { samples: { items, responses } };
  } catch (e) {
    return { samples: empty, problem: `${SAMPLES_PATH} is not valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
}

// ---------------------------------------------------------------------------------------------
// A string matching a regular expression (the common subset: literals, escapes, classes, groups,
// alternation, quantifiers). Returns undefined for what it does not understand.

type Rx =
  | { t: 'seq'; items: Rx[] }
  | { t: 'alt'; options: Rx[] }
  | { t: 'chars'; pick: string[] }
  | { t: 'rep'; e: Rx; min: number; max: number }
  | { t: 'empty' };

const DIGITS = '0123456789'.split('');
const LOWER = 'abcdefghijklmnopqrstuvwxyz'.split('');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
const WORD = [...LOWER, ...UPPER, ...DIGITS, '_'];
const PRINTABLE = [...LOWER, ...UPPER, ...DIGITS, ' ', '-', '_', '.', '@'];

class RxParser {
  private i = 0;
  constructor(private readonly s: string) {}
  parse(): Rx | undefined {
    const e = this.alt();
    return this.i === this.s.length ? e : undefined;
  }
  private alt(): Rx {
    const options = [this.seq()];
    while (this.s[this.i] === '|') { this.i++; options.push(this.seq()); }
    return options.length === 1 ? options[0]! : { t: 'alt', options };
  }
  private seq(): Rx {
    const items: Rx[] = [];
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.atom();
      if (!atom) throw new Error('unsupported');
      items.push(this.quant(atom));
    }
    return { t: 'seq', items };
  }
  private quant(e: Rx): Rx {
    const c = this.s[this.i];
    let out: Rx = e;
    if (c === '*') { this.i++; out = { t: 'rep', e, min: 0, max: 3 }; }
    else if (c === '+') { this.i++; out = { t: 'rep', e, min: 1, max: 3 }; }
    else if (c === '?') { this.i++; out = { t: 'rep', e, min: 0, max: 1 }; }
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.s.slice(this.i));
      if (!m) throw new Error('unsupported');
      this.i += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] ? Number(m[3]) : min + 3;
      out = { t: 'rep', e, min, max };
    } else return e;
    if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++; // lazy / possessive
    return out;
  }
  private escape(inClass: boolean): string[] {
    const c = this.s[this.i++];
    if (c === undefined) throw new Error('unsupported');
    if (c === 'd') return DIGITS;
    if (c === 'w') return WORD;
    if (c === 's') return [' '];
    if (c === 'D' || c === 'W') return ['-'];
    if (c === 'S') return ['x'];
    if (c === 'b' && !inClass) return [];
    if (c === 'n') return ['\n'];
    if (c === 't') return ['\t'];
    if (/[A-Za-z0-9]/.test(c)) throw new Error('unsupported');
    return [c];
  }
  private klass(): string[] {
    let negate = false;
    if (this.s[this.i] === '^') { negate = true; this.i++; }
    const set: string[] = [];
    let first = true;
    while (this.i < this.s.length && (this.s[this.i] !== ']' || first)) {
      first = false;
      let from: string[];
      if (this.s[this.i] === '\\') { this.i++; from = this.escape(true); } else from = [this.s[this.i++]!];
      if (this.s[this.i] === '-' && this.s[this.i + 1] !== ']' && from.length === 1 && this.i + 1 < this.s.length) {
        this.i++;
        let to: string[];
        if (this.s[this.i] === '\\') { this.i++; to = this.escape(true); } else to = [this.s[this.i++]!];
        if (to.length !== 1) throw new Error('unsupported');
        for (let k = from[0]!.charCodeAt(0); k <= to[0]!.charCodeAt(0); k++) set.push(String.fromCharCode(k));
      } else set.push(...from);
    }
    if (this.s[this.i] !== ']') throw new Error('unsupported');
    this.i++;
    return negate ? PRINTABLE.filter((c) => !set.includes(c)) : set;
  }
  private atom(): Rx | undefined {
    const c = this.s[this.i];
    if (c === '^' || c === '$') { this.i++; return { t: 'empty' }; }
    if (c === '(') {
      this.i++;
      if (this.s.startsWith('?:', this.i)) this.i += 2;
      else if (this.s[this.i] === '?') throw new Error('unsupported'); // lookarounds, named groups
      const e = this.alt();
      if (this.s[this.i] !== ')') throw new Error('unsupported');
      this.i++;
      return e;
    }
    if (c === '[') { this.i++; return { t: 'chars', pick: this.klass() }; }
    if (c === '.') { this.i++; return { t: 'chars', pick: ['a'] }; }
    if (c === '\\') { this.i++; const p = this.escape(false); return p.length ? { t: 'chars', pick: p } : { t: 'empty' }; }
    if (c === undefined) return undefined;
    this.i++;
    return { t: 'chars', pick: [c] };
  }
}

function generate(e: Rx, reps: 'min' | 'more'): string {
  switch (e.t) {
    case 'empty': return '';
    case 'chars': return e.pick.find((c) => /[A-Za-z0-9]/.test(c)) ?? e.pick[0] ?? '';
    case 'seq': return e.items.map((x) => generate(x, reps)).join('');
    case 'alt': return generate(e.options[0]!, reps);
    case 'rep': {
      const n = reps === 'min' ? Math.max(e.min, 0) : Math.min(e.max, Math.max(e.min, 1) + 2);
      return Array.from({ length: n }, () => generate(e.e, reps)).join('');
    }
  }
}

/** Strings that match `pattern` (a few lengths), or [] when it is beyond the generator. */
export function stringsMatching(pattern: string): string[] {
  let rx: Rx | undefined;
  try { rx = new RxParser(pattern).parse(); } catch { return []; }
  if (!rx) return [];
  const re = new RegExp(pattern);
  return [...new Set([generate(rx, 'min'), generate(rx, 'more')])].filter((s) => re.test(s));
}

/** Example values a pattern hint gives: "an asset tag like LT-01234", "e.g. CHG004512". */
export function hintExamples(hint: string | undefined): string[] {
  if (!hint) return [];
  const out: string[] = [];
  for (const m of hint.matchAll(/\b(?:like|e\.g\.|such as|for example)\s+(.+?)(?=\s*(?:,|;| or |\)|$))/gi)) {
    const whole = m[1]!.trim().replace(/^["'`]|["'`.]$/g, '');
    out.push(whole, ...whole.split(/\s+/));
  }
  for (const m of hint.matchAll(/["'`]([^"'`]+)["'`]/g)) out.push(m[1]!);
  out.push(...hint.split(/[\s,;()]+/).filter((w) => w.length > 1));
  return [...new Set(out.filter(Boolean))];
}

// ---------------------------------------------------------------------------------------------

export interface SampleContext {
  today: Date;
  /** E-mail of a directory person to answer `person` fields with. */
  person: string;
}

const SAMPLE_TEXT = 'Dry run sample answer for the change check';

/** A valid sample answer for `f` (in the form an API client would send it), or an error. */
export function sampleAnswer(f: FieldDef, ctx: SampleContext): { value: unknown } | { error: string } {
  const v = f.validation ?? {};
  switch (f.type) {
    case 'choice': {
      const o = optionsOf(f)[0];
      return o ? { value: o.value } : { error: 'no options' };
    }
    case 'multichoice': {
      const o = optionsOf(f)[0];
      return o ? { value: [o.value] } : { error: 'no options' };
    }
    case 'boolean': return { value: true };
    case 'number': {
      let n = v.min ?? (v.max !== undefined ? Math.min(1, v.max) : 1);
      if (v.max !== undefined && n > v.max) return { error: `validation min ${v.min} is above max ${v.max}` };
      if (!Number.isFinite(n)) n = 1;
      return { value: n };
    }
    case 'date': {
      const d = new Date(ctx.today.getTime() + 86_400_000);
      return { value: isoDate(d) };
    }
    case 'person': return { value: ctx.person };
    case 'text': {
      const fits = (s: string) => (v.minLength === undefined || s.length >= v.minLength) && (v.maxLength === undefined || s.length <= v.maxLength)
        && (!v.pattern || new RegExp(v.pattern).test(s));
      if (v.pattern) {
        const candidates = [...hintExamples(v.patternHint), ...stringsMatching(v.pattern)];
        const hit = candidates.find(fits);
        return hit !== undefined ? { value: hit } : { error: `no sample matches the pattern ${v.pattern}${v.minLength || v.maxLength ? ' within the length limits' : ''}: give one in ${SAMPLES_PATH} (items.<id>.answers.${f.name})` };
      }
      let s = SAMPLE_TEXT;
      if (v.minLength !== undefined && s.length < v.minLength) s = s.padEnd(v.minLength, '.');
      if (v.maxLength !== undefined && s.length > v.maxLength) s = s.slice(0, v.maxLength);
      return fits(s) ? { value: s } : { error: 'no sample text fits the length limits' };
    }
  }
}

export interface Scenario {
  /** In words: "base", "access = write", "optional fields left empty", "contractor requester". */
  name: string;
  answers: Record<string, unknown>;
  /** Requester attributes to override on the sample requester. */
  requester: Record<string, unknown>;
  /** Fields for which no valid sample could be made. */
  problems: string[];
}

/**
 * Sample answers for the fields visible under `requester`, in order (later fields see earlier
 * answers), with `fixed` values winning over generated ones and `skipOptional` leaving optional
 * fields empty.
 */
export function fillAnswers(item: CatalogueItem, requester: Record<string, unknown>, ctx: SampleContext, fixed: Record<string, unknown>, skipOptional = false): { answers: Record<string, unknown>; problems: string[] } {
  const answers: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const f of item.fields) {
    if (!holds(f.when, { fields: answers, requester })) continue;
    if (f.name in fixed) { answers[f.name] = fixed[f.name]; continue; }
    if (!f.required && skipOptional) continue;
    const s = sampleAnswer(f, ctx);
    if ('error' in s) problems.push(`field ${f.name}: ${s.error}`);
    else answers[f.name] = s.value;
  }
  return { answers, problems };
}

/** The scenarios of an item's dry run (at most `max`). */
export function scenariosOf(item: CatalogueItem, requester: Record<string, unknown>, ctx: SampleContext, given: Record<string, unknown> = {}, max = 24): Scenario[] {
  const out: Scenario[] = [];
  const seen = new Set<string>();
  const add = (name: string, fixed: Record<string, unknown>, req: Record<string, unknown> = {}, skipOptional = false) => {
    if (out.length >= max) return;
    const r = fillAnswers(item, { ...requester, ...req }, ctx, fixed, skipOptional);
    const key = JSON.stringify([r.answers, req]);
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ name, answers: r.answers, requester: req, problems: r.problems });
  };
  add('base', given);
  const base = out[0]!;
  for (const f of item.fields) {
    if (f.name in given) continue;
    if (f.type === 'choice') for (const o of optionsOf(f).slice(1)) add(`${f.name} = ${o.value}`, { ...given, ...prefix(item, base.answers, f.name), [f.name]: o.value });
    if (f.type === 'boolean') add(`${f.name} = no`, { ...given, ...prefix(item, base.answers, f.name), [f.name]: false });
  }
  if (item.fields.some((f) => !f.required)) add('optional fields left empty', given, {}, true);
  const readsEmployment = [...item.fields.map((f) => f.when), ...item.approvals.map((a) => a.when), ...item.workflow.map((s) => s.when)].some((w) => w?.includes('requester.employmentType'));
  const allowsContractor = !item.eligibility?.employmentTypes || item.eligibility.employmentTypes.some((t) => t.toLowerCase() === 'contractor');
  if (readsEmployment && allowsContractor && requester.employmentType !== 'contractor') add('contractor requester', given, { employmentType: 'contractor' });
  return out;
}

/** The answers of the fields before `name` (so a variation keeps what came before it). */
function prefix(item: CatalogueItem, answers: Record<string, unknown>, name: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of item.fields) {
    if (f.name === name) break;
    if (f.name in answers) out[f.name] = answers[f.name];
  }
  return out;
}
