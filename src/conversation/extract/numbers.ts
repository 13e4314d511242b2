/**
 * Numbers for `number` fields. Money fields (cost/price/amount/budget…): "$1,200", "€300", "£50",
 * "EUR 300", "300 euros", "1.2k", "costs 1200", "it's free" (0); an amount in another currency than
 * the field's ("(EUR)" in its label) or for another period ("per month" for an annual cost) is not
 * taken. Count fields (a noun in the name/label, e.g. "Number of monitors"): "two monitors",
 * "a 27-inch monitor" (1), "dual screens" (2, via the aliases of a matching option), "3x monitor".
 * Any other number field: a number written next to its name or label ("hours: 4").
 */
import { optionsOf, type FieldDef } from '../../catalogue/schema.js';
import { esc, fieldWords, fold, matches, quantity, textTokens, tokens } from './text.js';

const NUM = String.raw`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?`;
const MULT = String.raw`(?:\s?(k|thousand|m|million)(?![a-z]))?`;
const SUFFIX_CUR = String.raw`(€|\$|£|euros?|eur|usd|dollars?|gbp|pounds?|quid|bucks|chf)(?![a-z])`;
const MONEY: { re: RegExp; num: number; mult: number; cur?: number }[] = [
  { re: new RegExp(String.raw`(?<![\w.])([$€£]|(?:eur|usd|gbp|chf)(?=[\s\d]))\s?(${NUM})${MULT}`, 'g'), cur: 1, num: 2, mult: 3 },
  { re: new RegExp(String.raw`(?<![\w.$€£])(${NUM})${MULT}\s?${SUFFIX_CUR}`, 'g'), num: 1, mult: 2, cur: 3 },
  { re: new RegExp(String.raw`(?<![\w.$€£])(${NUM})\s?(k)(?![a-z0-9])`, 'g'), num: 1, mult: 2 },
  {
    re: new RegExp(String.raw`\b(?:cost|costs|costing|price|priced|budget|amount|fee|fees)\b(?:\s+(?:is|are|of|about|around|roughly|approx(?:imately)?|at|will\s+be|would\s+be|be)\b|\s*[:=])*\s*[$€£]?\s?(${NUM})(?:\s?(k|thousand)(?![a-z]))?(?![\d%])`, 'g'),
    num: 1, mult: 2,
  },
];
const CURRENCY: [RegExp, string][] = [[/^(?:€|eur|euros?)$/, 'EUR'], [/^(?:\$|usd|dollars?|bucks)$/, 'USD'], [/^(?:£|gbp|pounds?|quid)$/, 'GBP'], [/^chf$/, 'CHF']];
const currencyOf = (s: string | undefined): string | undefined => (s ? CURRENCY.find(([re]) => re.test(s.trim()))?.[1] : undefined);
const PERIOD = /^\s*(?:(?:\/\s*|per\s+|a\s+|an\s+|each\s+)(year|yr|annum|month|mo)\b|(annually|yearly|monthly))/;
const periodOf = (s: string | undefined): string | undefined => (s ? (/^(?:year|yr|annum|annually|yearly)$/.test(s) ? 'year' : 'month') : undefined);
const FREE = /\b(?:it['’]?s|is|it\s+is|they\s+are|are|completely|totally)\s+free\b|\bfree\s+of\s+charge\b|\bfreeware\b|\bno\s+(?:licen[cs]e\s+)?cost\b|\bcosts?\s+nothing\b/;

/** A field holding an amount of money (its name or label says cost, price, amount, budget, fee, …). */
export function isMoneyField(f: FieldDef): boolean {
  return fieldWords(f.name, f.label).some((w) => /^(?:cost|price|amount|budget|value|fee|spend|salary|eur|usd|gbp|euro|dollar)$/.test(w));
}

/** The one amount the text states that fits the field's currency and period. */
export function extractMoney(f: FieldDef, text: string): number | undefined {
  const t = text.toLowerCase();
  const words = fieldWords(f.name, f.label);
  const fieldCur = words.map((w) => currencyOf(w)).find(Boolean) ?? currencyOf(/[$€£]/.exec(f.label ?? '')?.[0]);
  const fieldPeriod = words.some((w) => /^(?:annual|yearly|year)$/.test(w)) ? 'year' : words.some((w) => /^(?:monthly|month)$/.test(w)) ? 'month' : undefined;
  const found: { start: number; end: number; value: number; cur?: string; period?: string }[] = [];
  for (const { re, num, mult, cur } of MONEY) {
    for (const m of t.matchAll(re)) {
      if (/\d\s*(?:or|to|-|–|and)\s*[$€£]?\s*$/.test(t.slice(0, m.index))) return undefined; // "300 or 400 euros"
      const k = m[mult] ? ({ k: 1e3, thousand: 1e3, m: 1e6, million: 1e6 } as Record<string, number>)[m[mult]!]! : 1;
      const c = cur ? currencyOf(m[cur]) : undefined;
      if (k === 1e6 && !c) continue; // "5m" is minutes or metres unless it is money
      const p = PERIOD.exec(t.slice(m.index + m[0].length));
      found.push({ start: m.index, end: m.index + m[0].length, value: Number(m[num]!.replace(/,/g, '')) * k, cur: c, period: periodOf(p?.[1] ?? p?.[2]) });
    }
  }
  const kept = found.filter((a) => !(fieldCur && a.cur && a.cur !== fieldCur) && !(fieldPeriod && a.period && a.period !== fieldPeriod));
  // the same amount found by two patterns counts once; a dropped (other currency) amount vetoes overlapping ones
  const vetoed = found.filter((a) => !kept.includes(a));
  const values = new Set(kept.filter((a) => !vetoed.some((v) => v.start < a.end && a.start < v.end)).map((a) => Math.round(a.value * 100) / 100));
  if (FREE.test(t)) values.add(0);
  return values.size === 1 ? [...values][0] : undefined;
}

const GENERIC = new Set(['number', 'count', 'of', 'how', 'many', 'quantity', 'qty', 'total', 'amount', 'the', 'new', 'needed', 'required', 'num', 'per', 'no']);
const STOP = new Set(['and', 'or', 'with', 'plus', 'for', 'to', 'from', 'in', 'on', 'at', 'by', 'but', 'also', 'per', 'of', 'my', 'the', 'our', 'your',
  'this', 'that', 'these', 'those', 'his', 'her', 'their', 'i', 'we', 'need', 'want', 'get', 'have', 'has']);
const ONE = new Map([['a', 1], ['an', 1], ['single', 1], ['another', 1], ['dual', 2], ['double', 2], ['triple', 3]]);

/** The nouns a count field counts ("monitorCount"/"Number of monitors" → monitor, plus the aliases of a "monitor" option). */
function countNouns(f: FieldDef, all: FieldDef[]): string[][] {
  const nouns = fieldWords(f.name, f.label).filter((w) => !GENERIC.has(w) && /^[a-z]{3,}$/.test(w));
  const phrases = [...new Set(nouns)].map((n) => [n]);
  for (const other of all) {
    for (const o of optionsOf(other)) {
      if (!nouns.includes(tokens(o.value).join(' '))) continue;
      for (const p of [o.label, ...o.aliases]) if (!/\d/.test(p)) phrases.push(fold(p).split(' ').filter(Boolean));
    }
  }
  return phrases.filter((p) => p.length > 0);
}

/** "two monitors", "a monitor", "dual screens", "monitors x2": the one count stated for the field's noun. */
export function extractCount(f: FieldDef, all: FieldDef[], text: string): number | undefined {
  const toks = textTokens(text);
  const found = new Set<number>();
  for (const p of countNouns(f, all)) {
    for (let i = 0; i + p.length <= toks.length; i++) {
      if (!p.every((w, j) => matches(toks[i + j]!, w))) continue;
      for (let j = i - 1; j >= Math.max(0, i - 4); j--) {
        const tok = toks[j]!.w;
        const q = quantity(tok) ?? ONE.get(tok) ?? (/^(\d+)x$/.exec(tok) ? Number(tok.slice(0, -1)) : undefined);
        if (q !== undefined) { found.add(q); break; }
        if (STOP.has(tok)) break;
      }
      const next = toks.slice(i + p.length, i + p.length + 2).map((t) => t.w).join(' ');
      const x = /^x ?(\d+)\b/.exec(next);
      if (x) found.add(Number(x[1]));
    }
  }
  return found.size === 1 ? [...found][0] : undefined;
}

/** A count field: its name or label has a noun beyond "number"/"count". */
export const isCountField = (f: FieldDef, all: FieldDef[]): boolean => countNouns(f, all).length > 0;

/** A number written right after (or before) the field's name or label: "hours: 4", "4 hours". */
export function extractNearLabel(f: FieldDef, text: string): number | undefined {
  const words = [f.name, ...(f.label ? [f.label] : [])].map((w) => esc(w.toLowerCase()));
  const near = new RegExp(`(?:(?:${words.join('|')})\\D{0,12}?(\\d[\\d,]*(?:\\.\\d+)?))|(?:(\\d[\\d,]*(?:\\.\\d+)?)\\s*(?:${words.join('|')}))`).exec(text.toLowerCase());
  const m = near?.[1] ?? near?.[2];
  return m ? Number(m.replace(/,/g, '')) : undefined;
}
