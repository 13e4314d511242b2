/**
 * Durations in free text: "for 4 hours", "2h", "a 4-hour window", "for a day", "for 3 days", "for the
 * next two weeks", "an hour and a half", and "until 6pm" (hours from now to that time today).
 * Not durations: "in 2 hours" / "2 weeks from now" (dates), "every 2 hours", "8 hours a day" (rates),
 * "five years old". "a"/"an"/"half" count only after "for".
 */
import * as chrono from 'chrono-node';
import { NUMBER_WORD_RE, NUMBER_WORDS, fieldWords } from './text.js';

export type Unit = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
export interface Duration { amount: number; unit: Unit; index: number; length: number; withFor: boolean }

const MINUTES: Partial<Record<Unit, number>> = { minute: 1, hour: 60, day: 1440, week: 10080 };
const MONTHS: Partial<Record<Unit, number>> = { month: 1, year: 12 };

const UNIT_OF: [RegExp, Unit][] = [[/^(?:h|hrs?|hours?)$/, 'hour'], [/^(?:d|days?)$/, 'day'], [/^(?:w|wks?|weeks?)$/, 'week'],
  [/^(?:mins?|minutes?)$/, 'minute'], [/^months?$/, 'month'], [/^(?:yrs?|years?)$/, 'year']];
const unitOf = (u: string): Unit | undefined => UNIT_OF.find(([re]) => re.test(u))?.[1];

const QTY = `\\d+(?:\\.\\d+)?|${NUMBER_WORD_RE}|half\\s+an?|an?`;
const DURATION = new RegExp(
  `(?<![a-z0-9.])(for\\s+(?:(?:about|around|roughly|approximately|just|only|another|at\\s+least|up\\s+to|the\\s+next|next)\\s+)?)?(${QTY})(\\s*-?\\s*)(h|hrs?|hours?|d|days?|w|wks?|weeks?|mins?|minutes?|months?|yrs?|years?)(?![a-z0-9])`,
  'gi',
);
const NOT_BEFORE = /\b(?:in|within|after|every|each|per|than|over|last|past|once|twice)\s*$/i;
const NOT_AFTER = /^\s*(?:ago|later|from|old|before|after|earlier|per|a|an|each|every|trip)\b/i;

/** The durations mentioned in `text` (today: reference instant for "until 6pm"). */
export function findDurations(text: string, today?: Date): Duration[] {
  const out: Duration[] = [];
  for (const m of text.matchAll(DURATION)) {
    const [all, forPart, qtyRaw, gap, unitRaw] = m;
    const qty = qtyRaw!.toLowerCase().replace(/\s+/g, ' ');
    const unit = unitOf(unitRaw!.toLowerCase());
    if (!unit) continue;
    const digits = /^\d/.test(qty);
    if (unitRaw!.length === 1 && (!digits || gap !== '')) continue; // "2h", not "2 h" or "a d"
    if (!digits && !forPart) continue; // "a day" only as "for a day"
    const before = text.slice(0, m.index);
    if ((!forPart && NOT_BEFORE.test(before)) || /\d\s*(?:or|to|-|–)\s*$/i.test(before)) continue; // "in 2 hours", "2-4 hours"
    const rest = text.slice(m.index + all.length);
    if (NOT_AFTER.test(rest)) continue;
    let amount = digits ? Number(qty) : qty.startsWith('half') ? 0.5 : NUMBER_WORDS[qty] ?? 1;
    let length = all.length;
    const half = /^\s+and\s+a\s+half\b/i.exec(rest);
    if (half) { amount += 0.5; length += half[0].length; }
    out.push({ amount, unit, index: m.index, length, withFor: Boolean(forPart) });
  }
  if (today) out.push(...untilTime(text, today));
  return out;
}

/** "until 6pm", "till 17:30 today": whole hours from `today` to that time (rounded up), the same day only. */
function untilTime(text: string, today: Date): Duration[] {
  const out: Duration[] = [];
  for (const r of chrono.parse(text, { instant: today, timezone: 'UTC' }, { forwardDate: true })) {
    if (!r.start.isCertain('hour') || !/\b(?:until|till|til|through|to)\s+$/i.test(text.slice(0, r.index))) continue;
    const at = r.start.date();
    const hours = Math.ceil((at.getTime() - today.getTime()) / 3_600_000);
    if (at.toISOString().slice(0, 10) !== today.toISOString().slice(0, 10) || hours <= 0) continue;
    out.push({ amount: hours, unit: 'hour', index: r.index, length: r.text.length, withFor: false });
  }
  return out;
}

/** `d` in `unit`, when it converts exactly (no months ↔ days); undefined otherwise. */
export function convert(d: Pick<Duration, 'amount' | 'unit'>, unit: Unit): number | undefined {
  const a = MINUTES[d.unit], b = MINUTES[unit], c = MONTHS[d.unit], e = MONTHS[unit];
  const v = a && b ? (d.amount * a) / b : c && e ? (d.amount * c) / e : undefined;
  return v !== undefined && Number.isInteger(v * 2) ? v : undefined;
}

/** The unit a number field is counted in ("durationHours" → hour, "Days needed" → day); undefined if none. */
export function durationUnit(name: string, label?: string): Unit | undefined {
  const words = fieldWords(name, label);
  for (const w of words) {
    const u = unitOf(w);
    if (u && w.length > 1) return u;
  }
  return undefined;
}

/** The one duration an option's value or label states ("4h", "1 day", "a week"), else undefined. */
export function optionDuration(text: string): Pick<Duration, 'amount' | 'unit'> | undefined {
  const found = findDurations(/^\s*(?:an?|half)\b/i.test(text) ? `for ${text}` : text);
  return found.length === 1 ? found[0] : undefined;
}

/** Same length of time (months and years compared as months, the rest as minutes). */
export function sameDuration(a: Pick<Duration, 'amount' | 'unit'>, b: Pick<Duration, 'amount' | 'unit'>): boolean {
  const x = convert(a, 'minute') ?? convert(a, 'month');
  const y = MINUTES[a.unit] ? convert(b, 'minute') : convert(b, 'month');
  return x !== undefined && x === y;
}
