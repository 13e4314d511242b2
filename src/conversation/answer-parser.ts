/**
 * Parses and validates one answer to a catalogue field. Returns the normalised value or an error
 * that says what is expected (the re-prompt shown to the user).
 */
import * as chrono from 'chrono-node';
import { optionsOf, type ChoiceOption, type FieldDef } from '../catalogue/schema.js';

export type ParseResult = { ok: true; value: unknown } | { ok: false; error: string; candidates?: { value: string; label: string }[] };

export interface PersonLookup { (text: string): Promise<{ email: string; name: string }[]> }

const SKIP = /^(skip|none|no|n\/a|na|-|nothing|not needed|no end date|permanent)$/i;

/** True when `text` asks to leave an optional field empty. */
export const isSkip = (text: string): boolean => SKIP.test(text.trim());

const fold = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

/** The option a text names exactly (value, label, alias or 1-based number). */
export function matchOption(options: ChoiceOption[], text: string): ChoiceOption | undefined {
  const t = fold(text);
  if (!t) return undefined;
  if (/^\d+$/.test(t)) return options[Number(t) - 1];
  return options.find((o) => [o.value, o.label, ...o.aliases].some((x) => fold(x) === t));
}

/** Formats a date as YYYY-MM-DD in UTC. */
export const isoDate = (d: Date): string => d.toISOString().slice(0, 10);

function dayDiff(a: string, b: string): number {
  return Math.round((Date.parse(`${a}T00:00:00Z`) - Date.parse(`${b}T00:00:00Z`)) / 86_400_000);
}

/** Parses a date from free text ("2027-03-31", "31 March", "next Friday", "tomorrow"). */
export function parseDate(text: string, today: Date): string | undefined {
  const iso = /\b(\d{4})-(\d{2})-(\d{2})\b/.exec(text);
  if (iso) {
    const d = new Date(`${iso[0]}T00:00:00Z`);
    return Number.isNaN(d.getTime()) || isoDate(d) !== iso[0] ? undefined : iso[0];
  }
  const r = chrono.parse(text, { instant: today, timezone: 'UTC' }, { forwardDate: true })[0];
  if (!r) return undefined;
  const d = r.start.date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** Parses a number, accepting "1,200", "$1200", "1.5k". */
export function parseNumber(text: string): number | undefined {
  const m = /(-?\d[\d,]*(?:\.\d+)?)\s*(k)?\b/i.exec(text.replace(/[$€£]/g, ''));
  if (!m) return undefined;
  const n = Number(m[1]!.replace(/,/g, '')) * (m[2] ? 1000 : 1);
  return Number.isFinite(n) ? n : undefined;
}

function describeOptions(opts: ChoiceOption[]): string {
  return opts.map((o) => o.label).join(', ');
}

/** Validates a parsed value against the field's validation rules. */
export function checkValidation(field: FieldDef, value: unknown, today: Date): string | undefined {
  const v = field.validation;
  if (!v) return undefined;
  if (typeof value === 'string' && field.type === 'text') {
    if (v.minLength !== undefined && value.length < v.minLength) return `Please give at least ${v.minLength} characters.`;
    if (v.maxLength !== undefined && value.length > v.maxLength) return `Please keep it to ${v.maxLength} characters at most (that was ${value.length}).`;
    if (v.pattern && !new RegExp(v.pattern).test(value)) return `That doesn't look right: expected ${v.patternHint ?? `text matching ${v.pattern}`}.`;
  }
  if (typeof value === 'number') {
    if (v.min !== undefined && value < v.min) return `Please give a number of at least ${v.min}.`;
    if (v.max !== undefined && value > v.max) return `Please give a number of at most ${v.max}.`;
  }
  if (field.type === 'date' && typeof value === 'string') {
    const ahead = dayDiff(value, isoDate(today));
    if (v.future && ahead <= 0) return `Please give a date after today (${isoDate(today)}).`;
    if (v.maxDaysAhead !== undefined && ahead > v.maxDaysAhead) return `Please give a date within ${v.maxDaysAhead} days from today.`;
  }
  if (field.type === 'multichoice' && Array.isArray(value) && v.maxItems !== undefined && value.length > v.maxItems) {
    return `Please choose at most ${v.maxItems}.`;
  }
  return undefined;
}

/** Parses `text` as an answer to `field`. */
export async function parseAnswer(field: FieldDef, text: string, ctx: { today: Date; findPeople: PersonLookup }): Promise<ParseResult> {
  const raw = text.replace(/\u0000/g, '').trim(); // PostgreSQL stores no NUL (modal and form values reach here unfiltered)
  if (!raw) return { ok: false, error: 'Please type an answer (or "help").' };
  let value: unknown;
  switch (field.type) {
    case 'text':
      value = raw;
      break;
    case 'choice': {
      const opts = optionsOf(field);
      const o = matchOption(opts, raw);
      if (!o) return { ok: false, error: `Please choose one of: ${describeOptions(opts)}.` };
      value = o.value;
      break;
    }
    case 'multichoice': {
      const opts = optionsOf(field);
      const parts = raw.split(/\s*(?:,|;|\band\b|&)\s*/i).filter(Boolean);
      const picked: string[] = [];
      for (const p of parts) {
        const o = matchOption(opts, p);
        if (!o) return { ok: false, error: `"${p}" is not an option. Choose one or more of: ${describeOptions(opts)} (separate them with commas).` };
        if (!picked.includes(o.value)) picked.push(o.value);
      }
      value = picked;
      break;
    }
    case 'date': {
      const d = parseDate(raw, ctx.today);
      if (!d) return { ok: false, error: 'Please give a date, e.g. 2027-03-31, "31 March" or "next Friday".' };
      value = d;
      break;
    }
    case 'number': {
      const n = parseNumber(raw);
      if (n === undefined) return { ok: false, error: 'Please give a number, e.g. 2 or 1200.' };
      value = n;
      break;
    }
    case 'boolean': {
      if (/^(y|yes|yeah|yep|true|sure|ok|correct)$/i.test(raw)) value = true;
      else if (/^(n|no|nope|false)$/i.test(raw)) value = false;
      else return { ok: false, error: 'Please answer yes or no.' };
      break;
    }
    case 'person': {
      const found = await ctx.findPeople(raw);
      if (found.length === 0) return { ok: false, error: `I couldn't find "${raw}" in the directory. Please give their e-mail address or full name.` };
      if (found.length > 1) {
        return { ok: false, error: `"${raw}" matches ${found.length} people: ${found.map((p) => `${p.name} (${p.email})`).join(', ')}. Which one?`, candidates: found.map((p) => ({ value: p.email, label: p.name })) };
      }
      value = found[0]!.email;
      break;
    }
  }
  const err = checkValidation(field, value, ctx.today);
  return err ? { ok: false, error: err } : { ok: true, value };
}
