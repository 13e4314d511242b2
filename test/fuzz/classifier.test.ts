/**
 * Fuzzing the first thing free text meets: the intent classifier (the shipped model) and entity
 * extraction from the first message (options, dates, durations, people, amounts) for every item
 * of the real catalogue. Any text — hostile, long, words that are also JavaScript object keys
 * ("constructor", "__proto__": found by this fuzzer, they broke classification) — gets a
 * classification with a confidence in [0, 1] and known intents, and extraction returns only values
 * the field accepts; a long message is read on its first 2,000 characters only.
 */
import path from 'node:path';
import fc from 'fast-check';
import { createClassifier, DEFAULT_THRESHOLD, loadModel, type Classifier } from '../../src/nlu/classifier.js';
import { loadCatalogue } from '../../src/catalogue/loader.js';
import type { CatalogueItem } from '../../src/catalogue/schema.js';
import { extractValues, MAX_EXTRACT_CHARS, personMentions } from '../../src/conversation/extract.js';
import { checkValidation } from '../../src/conversation/answer-parser.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { hostileString, runs } from '../support/security/fuzz.js';

const TODAY = new Date('2026-11-27T10:00:00Z');
const OBJECT_WORDS = ['constructor', '__proto__', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__', 'then'];
let classifier: Classifier;
let items: CatalogueItem[];

beforeAll(async () => {
  classifier = createClassifier(await loadModel(path.join(PROJECT_ROOT, 'models', 'intent-model.json')), { threshold: DEFAULT_THRESHOLD });
  items = (await loadCatalogue(path.join(PROJECT_ROOT, 'dialogs'))).list().sort((a, b) => a.id.localeCompare(b.id));
});

const message = fc.oneof(
  hostileString(400),
  fc.array(fc.oneof(fc.constantFrom(...OBJECT_WORDS, 'I', 'need', 'vpn', 'access', "can't", "won't", 'the', 'finance', 'drive', 'laptop', 'next', 'friday', 'for', '4', 'hours', '@mark', 'EUR', '300', '1.2k', 'two', 'monitors', 'until', '31', 'March'), hostileString(12)), { maxLength: 30 }).map((w) => w.join(' ')),
);

it('classifies any text (object-key words included) with a confidence in [0, 1] and known intents', async () => {
  for (const w of OBJECT_WORDS) expect(() => classifier.classify(`I need a ${w} for the vpn`)).not.toThrow();
  const known = new Set(classifier.intents);
  await fc.assert(fc.asyncProperty(message, async (text) => {
    const c = classifier.classify(text);
    expect(c.confidence).toBeGreaterThanOrEqual(0);
    expect(c.confidence).toBeLessThanOrEqual(1);
    if (c.intent !== null) expect(known.has(c.intent)).toBe(true);
    for (const a of c.alternatives) { expect(known.has(a.intent)).toBe(true); expect(Number.isFinite(a.confidence)).toBe(true); }
  }), runs(1500));
});

it('extracts from any first message only values the fields accept', async () => {
  await fc.assert(fc.asyncProperty(fc.nat(), message, async (n, text) => {
    const item = items[n % items.length]!;
    const fields = item.fields.filter((f) => f.type !== 'text' && f.type !== 'boolean');
    const found = extractValues(fields, text, TODAY, { resolvePerson: (ref) => (/mark/i.test(ref) ? { id: 'mark.manager@example.com', name: 'Mark Manager' } : undefined), self: { id: 'erin.employee@example.com', name: 'Erin' } });
    personMentions(text);
    for (const [k, v] of Object.entries(found)) {
      const f = fields.find((x) => x.name === k);
      expect({ item: item.id, field: k, known: f !== undefined }).toEqual({ item: item.id, field: k, known: true });
      expect({ item: item.id, field: k, v, problem: checkValidation(f!, v, TODAY) }).toEqual({ item: item.id, field: k, v, problem: undefined });
    }
  }), runs(1500));
});

it('reads a long message on its first 2,000 characters only, so the work per message is bounded', () => {
  // speed itself is a benchmark matter (bench/); what is tested is the bound: text past the cap changes nothing
  const head = 'I need Visio and Tableau for my mac from next Friday for 4 hours, ask @mark, EUR 300 '.repeat(40).slice(0, MAX_EXTRACT_CHARS);
  expect(head).toHaveLength(MAX_EXTRACT_CHARS);
  const tail = ' also order two monitors for 31 March please'.repeat(2000);
  for (const item of items) {
    const fields = item.fields.filter((f) => f.type !== 'text' && f.type !== 'boolean');
    const opts = { resolvePerson: (ref: string) => (/mark/i.test(ref) ? { id: 'mark.manager@example.com', name: 'Mark Manager' } : undefined) };
    expect({ item: item.id, found: extractValues(fields, head + tail, TODAY, opts) }).toEqual({ item: item.id, found: extractValues(fields, head, TODAY, opts) });
  }
  expect(personMentions(head + ' @zed'.repeat(5000))).toEqual(personMentions(head));
  const c = classifier.classify(head + tail);
  expect(c).toEqual({ ...classifier.classify(head), text: head + tail });
});
