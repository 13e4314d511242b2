/**
 * Takes values already present in the first message, so the dialog asks only for what is missing:
 * choice options named in the text ("write access to the finance drive"), a date when the item has
 * one date field ("until 31 March"), a number named next to its field ("cost 1200", "3 monitors"),
 * a quantity with a currency sign for a cost-like field. Ambiguous mentions are left to the dialog.
 */
import { optionsOf, type FieldDef } from '../catalogue/schema.js';
import { checkValidation, parseDate } from './answer-parser.js';

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const mentions = (text: string, word: string): boolean => new RegExp(`(^|[^a-z0-9])${esc(word.toLowerCase())}($|[^a-z0-9])`).test(text);

/** Values for `fields` found in `text`; only values that pass the field's validation are kept. */
export function extractValues(fields: FieldDef[], text: string, today: Date): Record<string, unknown> {
  const t = text.toLowerCase();
  const out: Record<string, unknown> = {};
  const dateFields = fields.filter((f) => f.type === 'date');
  for (const f of fields) {
    let value: unknown;
    if (f.type === 'choice' || f.type === 'multichoice') {
      const hits = optionsOf(f).filter((o) => [o.value, o.label, ...o.aliases].some((w) => w.length > 1 && mentions(t, w)));
      if (f.type === 'choice' && hits.length === 1) value = hits[0]!.value;
      if (f.type === 'multichoice' && hits.length > 0) value = hits.map((h) => h.value);
    } else if (f.type === 'date' && dateFields.length === 1) {
      // Only a phrase that clearly carries a date: an ISO date, a month name, or a weekday/tomorrow.
      if (/\b\d{4}-\d{2}-\d{2}\b|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(tomorrow|monday|tuesday|wednesday|thursday|friday|next week)\b/i.test(text)) {
        value = parseDate(text, today);
      }
    } else if (f.type === 'number') {
      const words = [f.name, ...(f.label ? [f.label] : [])].map((w) => esc(w.toLowerCase()));
      const near = new RegExp(`(?:(?:${words.join('|')})\\D{0,12}?(\\d[\\d,]*(?:\\.\\d+)?))|(?:(\\d[\\d,]*(?:\\.\\d+)?)\\s*(?:${words.join('|')}))`).exec(t);
      const money = /cost|price|amount|budget|value/i.test(f.name) ? /[$€£]\s?(\d[\d,]*(?:\.\d+)?)/.exec(t) : null;
      const m = near?.[1] ?? near?.[2] ?? money?.[1];
      if (m) value = Number(m.replace(/,/g, ''));
    }
    if (value !== undefined && !(Array.isArray(value) && value.length === 0) && checkValidation(f, value, today) === undefined) out[f.name] = value;
  }
  return out;
}
