/**
 * Dates in free text (chrono-node, in UTC, forward-looking): "31 March", "next Friday", "in two weeks",
 * "by end of month", "2027-01-10", ranges "from 3 to 5 March" / "Monday to Friday". The words before a
 * date give its role: "from/starting/effective" a start, "until/till/through" an end, "by/before" a
 * deadline, "on" or nothing a plain date. A field takes a date of a role it can hold (its name/label
 * says start, end/until/return, due/needed by, or nothing); "for two weeks" ends two weeks after the
 * start (or today). Vague or risky phrases are left out: a month alone ("in March"), "next week",
 * "now", times of day, "sat"/"sun", durations ("for 3 days" is not a date), d/m vs m/d ("3/4").
 */
import * as chrono from 'chrono-node';
import type { FieldDef } from '../../catalogue/schema.js';
import type { Duration } from './durations.js';
import { NUMBER_WORD_RE, fieldWords } from './text.js';

export type DateRole = 'start' | 'end' | 'due' | 'plain';
/** `vague`: one of several dates given as alternatives ("3 or 10 December"): fills no field. */
interface DateMention { start: string; end?: string; cue: DateRole; vague?: boolean }

const CUES: [RegExp, DateRole][] = [
  [/^(?:from|starting|start|starts|started|beginning|begins|since|effective|commencing|joining|joins|join)$/, 'start'],
  [/^(?:until|till|til|through|thru|to|ending|ends|expiring|expires|expiry)$/, 'end'],
  [/^(?:by|before)$/, 'due'],
  [/^(?:on|at|is|was|for|be)$/, 'plain'],
];

const VAGUE = new RegExp([
  '^(?:right\\s+)?now$', '^last\\s+(?:day|night)$', 'weekend', '^(?:(?:this|next|last|the|coming)\\s+)?(?:week|month|year|quarter)$',
  '^(?:on\\s+)?(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\\.?$', '^24/7$',
  `^(?:for\\s+)?(?:the\\s+next\\s+)?(?:\\d+(?:\\.\\d+)?|${NUMBER_WORD_RE}|an?|half\\s+an?)\\s*-?\\s*(?:days?|weeks?|months?|years?|hours?|minutes?)$`,
].join('|'), 'i');

const ymd = (y: number, m: number, d: number): string => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
const comp = (c: chrono.ParsedComponents): string => ymd(c.get('year')!, c.get('month')!, c.get('day')!);
const dayKnown = (c: chrono.ParsedComponents): boolean => c.isCertain('day') || c.isCertain('weekday');

function cueBefore(before: string): DateRole {
  const words = before.toLowerCase().split(/[^a-z]+/).filter(Boolean).slice(-3).reverse();
  if (/\bas\s+of\s*$/i.test(before)) return 'start';
  if (/\bno\s+later\s+than\s*$/i.test(before)) return 'due';
  for (const w of words) for (const [re, role] of CUES) if (re.test(w)) return role;
  return 'plain';
}

/** The dates mentioned in `text`, with the role their wording gives them. */
export function findDates(text: string, today: Date): DateMention[] {
  const out: DateMention[] = [];
  for (const r of chrono.parse(text, { instant: today, timezone: 'UTC' }, { forwardDate: true })) {
    const t = r.text.trim();
    if (r.tags().has('result/relativeDateAndTime') || VAGUE.test(t) || !dayKnown(r.start)) continue;
    const slash = /(\d{1,2})[/.](\d{1,2})(?![/.]?\d)/.exec(t);
    if (slash && Number(slash[1]) <= 12 && Number(slash[2]) <= 12) continue; // 3/4: March 4 or 3 April?
    const lead = /^(?:(?:on|from|until|till|by|for|starting|since)\s+)+/i.exec(t)?.[0] ?? '';
    const before = text.slice(0, r.index);
    const cue = cueBefore(`${before} ${lead}`);
    const end = r.end && dayKnown(r.end) ? comp(r.end) : undefined;
    // "10 March until 2 March" is not a year-long range unless the year is said
    if (end && !r.end!.isCertain('year') && Date.parse(end) - Date.parse(comp(r.start)) > 183 * 86_400_000) continue;
    const vague = /\d(?:st|nd|rd|th)?\s*(?:or|and|,|-|–)\s*$/i.test(before);
    out.push({ start: comp(r.start), end, cue, vague });
  }
  return out;
}

/** What a date field holds, from its name and label. */
export function dateRole(f: FieldDef): DateRole {
  const w = new Set(fieldWords(f.name, f.label));
  const has = (...xs: string[]) => xs.some((x) => w.has(x));
  if (has('end', 'until', 'till', 'expiry', 'expire', 'expiration', 'return', 'valid')) return 'end';
  if (has('start', 'from', 'begin', 'beginning', 'since', 'effective')) return 'start';
  if (has('due', 'deadline', 'needed', 'need', 'required', 'by', 'delivery')) return 'due';
  return 'plain';
}

/** `date` plus a whole number of days, weeks, months or years (month ends clamp: 31 Jan + 1 month = 28/29 Feb). */
export function addDuration(date: string, d: Pick<Duration, 'amount' | 'unit'>): string | undefined {
  if (!Number.isInteger(d.amount)) return undefined;
  const [y, m, day] = date.split('-').map(Number) as [number, number, number];
  if (d.unit === 'day' || d.unit === 'week') {
    return new Date(Date.UTC(y, m - 1, day + d.amount * (d.unit === 'week' ? 7 : 1))).toISOString().slice(0, 10);
  }
  if (d.unit !== 'month' && d.unit !== 'year') return undefined;
  const months = m - 1 + d.amount * (d.unit === 'year' ? 12 : 1);
  const last = new Date(Date.UTC(y, months + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, months, Math.min(day, last))).toISOString().slice(0, 10);
}

const one = <T>(xs: T[]): T | undefined => (new Set(xs).size === 1 ? xs[0] : undefined);

/** Values for the date fields: one date per field, only when its role and the wording agree. */
export function extractDates(fields: FieldDef[], text: string, today: Date, durations: Duration[]): Record<string, string> {
  const mentions = findDates(text, today);
  const roles = fields.map((f) => ({ f, role: dateRole(f) }));
  const clash = (role: DateRole) => roles.filter((r) => r.role === role).length > 1;
  const out: Record<string, string> = {};
  if (mentions.some((m) => m.vague)) return {};
  const plain = mentions.filter((m) => !m.end);
  const ranges = mentions.filter((m) => m.end);
  for (const { f, role } of roles) {
    if (clash(role)) continue;
    let values: string[] = [];
    if (role === 'start') values = [...plain.filter((m) => m.cue === 'start' || m.cue === 'plain').map((m) => m.start), ...ranges.map((m) => m.start)];
    if (role === 'end') values = [...plain.filter((m) => m.cue === 'end').map((m) => m.start), ...ranges.map((m) => m.end!)];
    if (role === 'due') values = plain.filter((m) => m.cue === 'due' || m.cue === 'plain').map((m) => m.start);
    if (role === 'plain' && fields.length === 1 && ranges.length === 0) values = plain.map((m) => m.start);
    const v = one(values);
    if (v) out[f.name] = v;
  }
  // "for two weeks": an end that many days after the start (or today when the item has no start date)
  const end = roles.find((r) => r.role === 'end' && !clash('end'));
  if (end && !(end.f.name in out) && !mentions.some((m) => m.cue === 'end' || m.end)) {
    const spans = durations.filter((d) => d.withFor && ['day', 'week', 'month', 'year'].includes(d.unit));
    const startField = roles.find((r) => r.role === 'start');
    const base = startField ? out[startField.f.name] : today.toISOString().slice(0, 10);
    const d = spans.length > 0 && spans.every((s) => s.amount === spans[0]!.amount && s.unit === spans[0]!.unit) ? spans[0] : undefined;
    const v = base && d ? addDuration(base, d) : undefined;
    if (v) out[end.f.name] = v;
  }
  const s = roles.find((r) => r.role === 'start' && r.f.name in out), e = roles.find((r) => r.role === 'end' && r.f.name in out);
  if (s && e && out[e.f.name]! < out[s.f.name]!) { delete out[s.f.name]; delete out[e.f.name]; }
  return out;
}
