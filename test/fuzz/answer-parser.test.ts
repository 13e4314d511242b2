/**
 * Fuzzing dialog answers: arbitrary strings into the answer parser for every field of the real
 * catalogue (every field type: text with patterns and lengths, choice, multichoice, date, number,
 * boolean, person), and random walks through every item's dialog mixing valid answers, commands,
 * buttons and hostile text. The parser never throws, answers within a second (no catastrophic
 * regular expressions), returns a value of the field's type that passes the field's own validation
 * or a message saying what is expected; the dialog never throws, always says something, and what it
 * submits passes the same server-side validation the API applies.
 */
import path from 'node:path';
import fc from 'fast-check';
import { loadCatalogue, type Catalogue } from '../../src/catalogue/loader.js';
import { optionsOf, type CatalogueItem, type FieldDef } from '../../src/catalogue/schema.js';
import { checkValidation, parseAnswer } from '../../src/conversation/answer-parser.js';
import { continueDialog, startDialog, type DialogResult, type DialogState } from '../../src/conversation/dialog-engine.js';
import { validateAnswers } from '../../src/requests/validate-answers.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { hostileString, runs } from '../support/security/fuzz.js';

const TODAY = new Date('2026-11-27T10:00:00Z');
const PEOPLE = [
  { email: 'mark.manager@example.com', name: 'Mark Manager' }, { email: 'mary.smith@example.com', name: 'Mary Smith' }, { email: 'sam.smith@example.com', name: 'Sam Smith' },
];
const findPeople = async (t: string) => {
  const q = t.trim().toLowerCase();
  if (!q || q.length > 200) return [];
  return PEOPLE.filter((p) => p.email === q || p.name.toLowerCase().includes(q) || q.includes(p.name.split(' ')[1]!.toLowerCase()));
};
const deps = { today: TODAY, findPeople };
const REQUESTER = { email: 'erin.employee@example.com', name: 'Erin Employee', department: 'Finance', title: 'Accountant', roles: ['employee'], role: 'employee', manager: 'mark.manager@example.com', groups: ['all-staff', 'finance-team'], employmentType: 'employee', location: 'Berlin' };

let catalogue: Catalogue;
let items: CatalogueItem[];
let fields: { item: CatalogueItem; field: FieldDef }[];
beforeAll(async () => {
  catalogue = await loadCatalogue(path.join(PROJECT_ROOT, 'dialogs'));
  items = catalogue.list().sort((a, b) => a.id.localeCompare(b.id));
  fields = items.flatMap((item) => item.fields.map((field) => ({ item, field })));
});

/** The parsed value has the field's type and passes its validation. */
function checkValue(f: FieldDef, v: unknown): void {
  const opts = optionsOf(f).map((o) => o.value);
  switch (f.type) {
    case 'text': expect(typeof v).toBe('string'); expect((v as string).length).toBeGreaterThan(0); expect(v as string).not.toContain('\u0000'); break;
    case 'choice': expect(opts).toContain(v); break;
    case 'multichoice': expect(Array.isArray(v)).toBe(true); for (const x of v as unknown[]) expect(opts).toContain(x); break;
    case 'date': expect(v).toMatch(/^\d{4}-\d{2}-\d{2}$/); expect(Number.isNaN(Date.parse(`${v as string}T00:00:00Z`))).toBe(false); break;
    case 'number': expect(typeof v).toBe('number'); expect(Number.isFinite(v)).toBe(true); break;
    case 'boolean': expect(typeof v).toBe('boolean'); break;
    case 'person': expect(PEOPLE.map((p) => p.email)).toContain(v); break;
  }
  expect(checkValidation(f, v, TODAY)).toBeUndefined();
}

/** Answers that often are right for a field (the walk needs to get past questions, not only fail them). */
const PATTERN_SAMPLES = ['LT-12345', 'DT-54321', 'CHG123456', '1234', 'web-01', 'new-channel', 'team-list', 'jane.doe@example.com', 'DE89370400440532013000', 'abc'];
function goodAnswer(f: FieldDef, pick: number): string {
  const opts = optionsOf(f);
  switch (f.type) {
    case 'choice': { const o = opts[pick % opts.length]!; return [o.value, o.label, ...o.aliases, String((pick % opts.length) + 1)][pick % (2 + o.aliases.length)]!; }
    case 'multichoice': return opts.filter((_, i) => (pick >> i) & 1 || i === pick % opts.length).slice(0, f.validation?.maxItems ?? 99).map((o) => o.label).join(', ');
    case 'date': return new Date(TODAY.getTime() + (1 + (pick % 60)) * 86_400_000).toISOString().slice(0, 10);
    case 'number': { const min = f.validation?.min ?? 0, max = f.validation?.max ?? min + 100; return String(min + (pick % (max - min + 1))); }
    case 'boolean': return pick % 2 ? 'yes' : 'no';
    case 'person': return ['mark.manager@example.com', 'Mark Manager', 'smith', 'nobody'][pick % 4]!;
    default: {
      const p = f.validation?.pattern;
      if (p) return PATTERN_SAMPLES.find((s) => new RegExp(p).test(s)) ?? 'abc';
      return 'x'.repeat(Math.max(f.validation?.minLength ?? 1, 12)).slice(0, f.validation?.maxLength ?? 500);
    }
  }
}

describe('the answer parser', () => {
  it('parses or explains any text, for every field of the real catalogue', async () => {
    const arb = fc.tuple(fc.nat(), fc.oneof(hostileString(300).map((text) => ({ text })), fc.nat().map((pick) => ({ pick }))));
    await fc.assert(fc.asyncProperty(arb, async ([i, a]) => {
      const { item, field } = fields[i % fields.length]!;
      const text = 'text' in a ? a.text : goodAnswer(field, a.pick);
      const r = await parseAnswer(field, text, deps);
      if (r.ok) checkValue(field, r.value);
      else { expect(typeof r.error).toBe('string'); expect(r.error.trim().length).toBeGreaterThan(0); }
    }), runs(3000));
  });

  it('accepts the answers a person would give (the generator of good answers is right)', async () => {
    let ok = 0, all = 0;
    for (const { field } of fields) for (let pick = 0; pick < 4; pick++) {
      if (field.type === 'person' && pick >= 2) continue;
      all++;
      const r = await parseAnswer(field, goodAnswer(field, pick), deps);
      if (r.ok) { ok++; checkValue(field, r.value); }
    }
    expect(ok / all).toBeGreaterThan(0.9);
  });
});

type Step = { kind: 'text'; text: string } | { kind: 'good'; pick: number } | { kind: 'command'; text: string } | { kind: 'action'; id: string; value?: string };

describe('dialog walks', () => {
  it('never throws, always answers, and submits only answers the server accepts', async () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      { arbitrary: fc.record({ kind: fc.constant('good' as const), pick: fc.nat() }), weight: 6 },
      { arbitrary: fc.record({ kind: fc.constant('text' as const), text: hostileString(120) }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('command' as const), text: fc.constantFrom('skip', 'back', 'help', '?', 'yes', 'no', 'edit', 'confirm', 'hand over', 'keep trying', "that's not what I meant") }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('action' as const), id: fc.constantFrom('dialog:confirm', 'dialog:edit', 'dialog:handover', 'dialog:retry', 'answer', 'dialog:change:__FIELD__', 'dialog:set:__FIELD__', 'dialog:change:nope', 'start:vpn-access'), value: fc.option(hostileString(40), { nil: undefined }) }), weight: 2 },
    );
    let submitted = 0;
    const arb = fc.record({ item: fc.nat(), first: fc.oneof(fc.constant(undefined), hostileString(200)), steps: fc.array(step, { minLength: 1, maxLength: 14 }) });
    await fc.assert(fc.asyncProperty(arb, async ({ item: n, first, steps }) => {
      const item = items[n % items.length]!;
      let r: DialogResult = startDialog(item, REQUESTER, { today: TODAY, ...(first !== undefined ? { text: first } : {}) });
      let state: DialogState = r.state;
      expect(r.messages.length).toBeGreaterThan(0);
      for (const s of steps) {
        if (state.mode !== 'collecting' && state.mode !== 'confirming' && state.mode !== 'handover-offer') break;
        const d = state.d;
        const asking = item.fields.find((f) => f.name === d.asking) ?? item.fields[0];
        const someField = item.fields[(s.kind === 'good' ? s.pick : 0) % Math.max(1, item.fields.length)]?.name ?? 'x';
        const input = s.kind === 'good' ? { text: asking ? goodAnswer(asking, s.pick) : 'yes' }
          : s.kind === 'action' ? { action: { id: s.id.replace('__FIELD__', someField), ...(s.value !== undefined ? { value: s.value } : {}) } }
          : { text: s.text };
        r = await continueDialog(state, item, REQUESTER, input, deps);
        expect(r.messages.length + (r.effect ? 1 : 0)).toBeGreaterThan(0);
        for (const m of r.messages) expect(typeof m.text).toBe('string');
        if (r.effect?.type === 'submit') {
          submitted++;
          const checked = await validateAnswers(item, REQUESTER, r.effect.d.answers, deps);
          expect({ item: item.id, answers: r.effect.d.answers, checked }).toEqual({ item: item.id, answers: r.effect.d.answers, checked: expect.objectContaining({ ok: true }) });
        }
        state = r.state;
      }
    }), runs(1500));
    expect(submitted).toBeGreaterThan(runs(1500).numRuns! / 50); // the walks do reach the summary and submit
  }, 120000);
});
