/**
 * People named in free text, for `person` fields: an e-mail address, an @handle, a capitalised full
 * name ("John Smith's account", "for Mark Manager"), a capitalised first name after a cue word
 * ("add John to", "for Mark"), a lower-case name after "on behalf of", and "me" after add/remove/
 * subscribe ("add me to …"; only with `self`). Each mention is looked up with the caller's resolver
 * and kept only when it names exactly one person. A person goes to the field whose role word (the
 * label's last word: "owner", "co-owner", "delegate", "leaver", "member") is within three words in
 * the same clause ("Dana Director as owner", "John is leaving"); one person without such a word goes
 * to the first required person field. Anything else (two people for one field, one person cued to
 * two fields, two unplaced people) is left to the dialog.
 */
import type { FieldDef } from '../../catalogue/schema.js';
import { fieldWords, isCue } from './text.js';

/** A directory entry: `id` is the value stored in the field (the directory e-mail in errand). */
export interface PersonRef { id: string; name: string }
/** Looks a mention up (exact name, e-mail, handle or first name; not a substring search); several results = ambiguous. */
export type PersonResolver = (mention: string) => PersonRef | readonly PersonRef[] | undefined;

interface Mention { start: number; end: number; candidates: string[]; self?: boolean }

const NAME = String.raw`[A-Z][a-z]+(?:-[A-Z]?[a-z]+|['’][A-Z][a-z]+)?`;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const HANDLE = /(?<![\w@.])@([A-Za-z](?:[\w.-]*[A-Za-z0-9])?)/g;
const RUN = new RegExp(String.raw`(?<![\w@.'’-])${NAME}(?:\s+${NAME}){1,2}(?![\w@])`, 'g');
const either = (w: string): string => `[${w[0]}${w[0]!.toUpperCase()}]${w.slice(1)}`;
const CUES = ['for', 'of', 'add', 'remove', 'include', 'subscribe', 'unsubscribe', 'with', 'to', 'from', 'cc', 'and', 'is', 'owner', 'delegate', 'colleague', 'user'];
const CUED_NAME = new RegExp(String.raw`\b(${CUES.map(either).join('|')})\s+(${NAME})(?![\w@-]|\s+[A-Z])`, 'g');
/** Capitalised words that start a sentence or a request rather than a name ("Add John", "Hi Mark Manager"). */
const STARTERS = /^(?:add|remove|include|subscribe|unsubscribe|please|hi|hello|hey|dear|for|with|ask|make|give|can|could|thanks|cc|and|new|our|my|the)$/i;
const BEHALF = /\bon\s+behalf\s+of\s+([a-z]+)(?:\s+([a-z]+))?(?![\w.@])/g;
const SELF = /\b(?:add|remove|subscribe|unsubscribe|include|put|take)\s+(me|myself)\b|\b(me|myself)(?=\s+as\b)/gi;
const NOT_NAMES = /^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july|august|september|october|november|december|today|tomorrow|please|thanks)$/i;
const SMALL = new Set(['please', 'for', 'to', 'and', 'the', 'who', 'she', 'he', 'they', 'as', 'in', 'on', 'i', 'we', 'need', 'needs', 'can', 'could', 'would', 'will', 'with', 'from', 'is', 'asap', 'today']);
const GENERIC = new Set(['list', 'name', 'person', 'user', 'new', 'contact', 'and', 'files', 'mailbox']);

function findMentions(text: string): Mention[] {
  const out: Mention[] = [];
  const add = (start: number, end: number, candidates: string[], self = false) => {
    if (candidates.length && !out.some((m) => m.start < end && start < m.end)) out.push({ start, end, candidates, self });
  };
  for (const m of text.matchAll(EMAIL)) add(m.index, m.index + m[0].length, [m[0].toLowerCase()]);
  for (const m of text.matchAll(HANDLE)) add(m.index, m.index + m[0].length, [m[1]!]);
  for (const m of text.matchAll(RUN)) {
    const all = m[0].split(/\s+/);
    if (all.some((x) => NOT_NAMES.test(x))) continue;
    let skip = 0;
    while (skip < all.length - 1 && STARTERS.test(all[skip]!)) skip++;
    const w = all.slice(skip);
    const start = m.index + m[0].length - w.join(' ').length;
    add(start, m.index + m[0].length, w.length === 3 ? [w.join(' '), w.slice(0, 2).join(' '), w.slice(1).join(' ')] : [w.join(' ')]);
  }
  for (const m of text.matchAll(SELF)) add(m.index, m.index + m[0].length, ['me'], true);
  for (const m of text.matchAll(CUED_NAME)) {
    const start = m.index + m[0].length - m[2]!.length;
    if (/^[A-Z]/.test(m[2]!) && !NOT_NAMES.test(m[2]!)) add(start, start + m[2]!.length, [m[2]!]);
  }
  for (const m of text.matchAll(BEHALF)) {
    const [first, second] = [m[1]!, m[2]];
    const c = second && !SMALL.has(second) ? [`${first} ${second}`] : SMALL.has(first) ? [] : [first];
    add(m.index, m.index + m[0].length, c);
  }
  return out.sort((a, b) => a.start - b.start);
}

/**
 * Every string the resolver may be asked for `text` (to look them up ahead, e.g. asynchronously):
 * from its first 2,000 characters, the part extractValues reads (MAX_EXTRACT_CHARS).
 */
export function personMentions(text: string): string[] {
  return [...new Set(findMentions(text.slice(0, 2000)).filter((m) => !m.self).flatMap((m) => m.candidates))];
}

function resolve(m: Mention, resolver: PersonResolver | undefined, self: PersonRef | undefined): PersonRef | undefined {
  if (m.self) return self;
  for (const c of m.candidates) {
    const r = resolver?.(c);
    const list = r === undefined ? [] : Array.isArray(r) ? (r as readonly PersonRef[]) : [r as PersonRef];
    if (list.length === 1) return list[0];
    if (list.length > 1) return undefined; // ambiguous: not a shorter guess either
  }
  return undefined;
}

/** The field's role word: its label's last word ("Co-owner" → co-owner, "List owner" → owner), else its name's parts. */
const roleWords = (f: FieldDef): string[] => {
  const label = (f.label ?? '').toLowerCase().split(/[^a-z-]+/).filter((w) => /[a-z]/.test(w));
  const words = label.length ? label.slice(-1) : fieldWords(f.name);
  return words.filter((w) => w.length >= 4 && !GENERIC.has(w));
};

/** Values for the person fields (catalogue order): the resolved person's id. */
export function extractPeople(fields: FieldDef[], text: string, resolver?: PersonResolver, self?: PersonRef): Record<string, string> {
  if (fields.length === 0 || (!resolver && !self)) return {};
  const words = (s: string) => s.toLowerCase().split(/[^a-z-]+/).filter((w) => /[a-z]/.test(w));
  const people = new Map<string, Set<string>>(); // person id → fields its mentions are cued to ('' = uncued)
  for (const m of findMentions(text)) {
    const p = resolve(m, resolver, self);
    if (!p) continue;
    // role words count within three words, in the same clause
    const before = text.slice(0, m.start).split(/[,;!?\n]|\.\s/).pop()!, after = text.slice(m.end).split(/[,;!?\n]|\.\s/)[0]!;
    const near = [...words(before).slice(-3), ...words(after).slice(0, 3)];
    const cued = fields.filter((f) => roleWords(f).some((r) => near.some((w) => isCue(w, r)))).map((f) => f.name);
    const set = people.get(p.id) ?? new Set<string>();
    for (const c of cued.length ? cued : ['']) set.add(c);
    people.set(p.id, set);
  }
  const out: Record<string, string> = {};
  const byField = new Map<string, string[]>();
  const uncued: string[] = [];
  for (const [id, set] of people) {
    const named = [...set].filter(Boolean);
    if (named.length > 1) continue; // cued to two fields
    if (named.length === 1) byField.set(named[0]!, [...(byField.get(named[0]!) ?? []), id]);
    else uncued.push(id);
  }
  for (const [name, ids] of byField) if (ids.length === 1) out[name] = ids[0]!;
  const primary = fields.find((f) => f.required && !byField.has(f.name));
  if (primary && uncued.length === 1) out[primary.name] = uncued[0]!;
  return out;
}
