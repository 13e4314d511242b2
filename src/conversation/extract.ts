/**
 * Takes values already present in the first message, so the dialog asks only for what is missing.
 * Conservative: a mention that could mean two things is left to the dialog, and only values that
 * pass the field's validation are kept. Per field type (details in ./extract/*):
 *
 * - choice / multichoice: options named by value, label or alias, tolerating case, punctuation,
 *   plurals, joined/split words and small typos in long names ("two Monitors", "vscode",
 *   "tablaeu"); a choice of durations ("1h", "4h", "8h") also takes "for 4 hours".
 * - date: "until 31 March", "next Friday", "in two weeks", "by end of month", "from 3 to 5 March"
 *   (start and end fields), "for two weeks" (an end date); the wording must fit the field
 *   ("until …" fills an end/until field, "by …" a due date, "on …" a start or plain date).
 * - number: durations for fields counted in a unit ("durationHours": "for 4 hours", "2h",
 *   "until 6pm"); amounts for money fields ("$1,200", "1.2k", "EUR 300", "300 euros", "£50",
 *   "it's free"; not in another currency or period than the field's); counts for fields naming a
 *   noun ("two monitors", "a monitor"); otherwise a number next to the field's name or label.
 * - person: e-mail addresses, @handles and names ("for Mark Manager", "on behalf of @mark",
 *   "John Smith is leaving"), looked up with `options.resolvePerson`; "add me" with `options.self`.
 * - text and boolean fields are never taken from the first message.
 */
import type { FieldDef } from '../catalogue/schema.js';
import { optionsOf } from '../catalogue/schema.js';
import { checkValidation } from './answer-parser.js';
import { extractDates } from './extract/dates.js';
import { convert, durationUnit, findDurations, optionDuration, sameDuration, type Duration } from './extract/durations.js';
import { extractCount, extractMoney, extractNearLabel, isCountField, isMoneyField } from './extract/numbers.js';
import { findOptions } from './extract/options.js';
import { extractPeople, type PersonRef, type PersonResolver } from './extract/people.js';
import { textTokens, type Tok } from './extract/text.js';

export { personMentions, type PersonRef, type PersonResolver } from './extract/people.js';

export interface ExtractOptions {
  /** Looks up a person mention; only a single match is used. Without it, person fields stay empty (except "me" with `self`). */
  resolvePerson?: PersonResolver;
  /** The requester, for "add me to …". */
  self?: PersonRef;
}

/** E-mail addresses and @handles blanked out (same length), so their digits and words are not numbers or dates. */
const maskContacts = (text: string): string =>
  text.replace(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|(?<![\w@.])@[A-Za-z][\w.-]*/g, (m) => ' '.repeat(m.length));

const unique = <T>(xs: T[]): T | undefined => (xs.length > 0 && xs.every((x) => x === xs[0]) ? xs[0] : undefined);

function choiceValue(f: FieldDef, toks: Tok[], durations: Duration[]): unknown {
  const named = new Set(findOptions(f, toks).map((h) => h.value));
  const timed = optionsOf(f).map((o) => ({ value: o.value, d: optionDuration(o.value) ?? optionDuration(o.label) }));
  if (timed.filter((o) => o.d).length >= 2) {
    for (const d of durations) for (const o of timed) if (o.d && sameDuration(d, o.d)) named.add(o.value);
  }
  const values = optionsOf(f).map((o) => o.value).filter((v) => named.has(v));
  if (f.type === 'choice') return values.length === 1 ? values[0] : undefined;
  return values.length > 0 ? values : undefined;
}

function numberValue(f: FieldDef, all: FieldDef[], text: string, durations: Duration[]): number | undefined {
  const unit = durationUnit(f.name, f.label);
  if (unit) {
    const values = durations.map((d) => convert(d, unit));
    return values.includes(undefined) ? undefined : unique(values);
  }
  if (isMoneyField(f)) return extractMoney(f, text);
  if (isCountField(f, all)) return extractCount(f, all, text) ?? extractNearLabel(f, text);
  return extractNearLabel(f, text);
}

/** Longer messages are read on their first MAX_EXTRACT_CHARS characters (as the classifier does), so the work per message is bounded. */
export const MAX_EXTRACT_CHARS = 2000;

/** Values for `fields` found in `text` (its first MAX_EXTRACT_CHARS characters); only values that pass the field's validation are kept. */
export function extractValues(fields: FieldDef[], fullText: string, today: Date, options: ExtractOptions = {}): Record<string, unknown> {
  const text = fullText.slice(0, MAX_EXTRACT_CHARS);
  const masked = maskContacts(text);
  const toks = textTokens(text); // e-mail addresses may name options ("billing@…", "hr-enquiries@…")
  const durations = findDurations(masked, today);
  const found: Record<string, unknown> = {
    ...extractDates(fields.filter((f) => f.type === 'date'), masked, today, durations),
    ...extractPeople(fields.filter((f) => f.type === 'person'), text, options.resolvePerson, options.self),
  };
  for (const f of fields) {
    if (f.type === 'choice' || f.type === 'multichoice') found[f.name] = choiceValue(f, toks, durations);
    else if (f.type === 'number') found[f.name] = numberValue(f, fields, masked, durations);
  }
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = found[f.name];
    if (v !== undefined && checkValidation(f, v, today) === undefined) out[f.name] = v;
  }
  return out;
}
