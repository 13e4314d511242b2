/**
 * Fuzzing the catalogue parser (parseCatalogueFile: YAML → schema → cross-checks): arbitrary
 * YAML-ish text, and mutations of the real dialogs/*.yaml (values replaced, keys dropped, types
 * changed, text edited). It never throws; it returns an item or a list of errors, each naming the
 * file, the path and what was wrong. An item it accepts must also be usable: every field parses
 * answers without throwing (a broken `pattern`, say, must be caught at load time, not at answer time).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { parseCatalogueFile } from '../../src/catalogue/loader.js';
import { compileCondition, ConditionSyntaxError } from '../../src/catalogue/condition.js';
import { parseAnswer } from '../../src/conversation/answer-parser.js';
import { startDialog } from '../../src/conversation/dialog-engine.js';
import type { CatalogueItem } from '../../src/catalogue/schema.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { hostileString, runs } from '../support/security/fuzz.js';

const DIR = path.join(PROJECT_ROOT, 'dialogs');
const FILES = readdirSync(DIR).filter((n) => /\.ya?ml$/.test(n) && !n.startsWith('_')).sort().map((name) => ({ name, text: readFileSync(path.join(DIR, name), 'utf8') }));
const TODAY = new Date('2026-11-27T10:00:00Z');
const people = async (t: string) => (/mark/i.test(t) ? [{ email: 'mark.manager@example.com', name: 'Mark Manager' }] : []);

/** The parser's contract: no throw; an item and no errors, or no item and well-formed errors. */
async function checkParse(name: string, text: string): Promise<void> {
  let r: ReturnType<typeof parseCatalogueFile>;
  try {
    r = parseCatalogueFile(name, text);
  } catch (e) {
    throw new Error(`parseCatalogueFile threw: ${(e as Error).stack}`);
  }
  if (r.item) {
    expect(r.errors).toEqual([]);
    await usable(r.item);
    return;
  }
  expect(r.errors.length).toBeGreaterThan(0);
  for (const e of r.errors) {
    expect(e.file).toBe(name);
    expect(typeof e.path).toBe('string');
    expect(typeof e.message).toBe('string');
    expect(e.message.trim().length).toBeGreaterThan(0);
  }
}

/** An accepted item works: its dialog starts and each field takes (or refuses) answers without throwing. */
async function usable(item: CatalogueItem): Promise<void> {
  startDialog(item, { email: 'erin.employee@example.com', name: 'Erin', department: 'Finance', roles: ['employee'] }, { text: `I need ${item.title}`, today: TODAY });
  for (const f of item.fields) {
    for (const answer of ['yes', '2027-03-31', '12', 'mark', 'LT-12345', item.fields[0]?.name ?? 'x', 'a, b']) {
      const r = await parseAnswer(f, answer, { today: TODAY, findPeople: people });
      expect(typeof r.ok).toBe('boolean');
    }
  }
}

/** Every path (list of keys) inside a JSON-like value. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

type Mutation = { kind: 'replace'; value: unknown } | { kind: 'delete' } | { kind: 'wrap' } | { kind: 'stringify' } | { kind: 'add'; key: string; value: unknown } | { kind: 'duplicate' };

function mutate(doc: unknown, at: (string | number)[], m: Mutation): unknown {
  const root = structuredClone(doc) as Record<string | number, unknown>;
  if (at.length === 0) return m.kind === 'replace' ? m.value : m.kind === 'wrap' ? [root] : root;
  const parent = at.slice(0, -1).reduce<Record<string | number, unknown>>((o, k) => o[k] as Record<string | number, unknown>, root);
  const key = at[at.length - 1]!;
  switch (m.kind) {
    case 'replace': parent[key] = m.value; break;
    case 'delete': if (Array.isArray(parent)) parent.splice(Number(key), 1); else delete parent[key]; break;
    case 'wrap': parent[key] = [parent[key]]; break;
    case 'stringify': parent[key] = JSON.stringify(parent[key]) ?? 'null'; break;
    case 'add': { const target = parent[key]; if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = m.value; else parent[key] = { [m.key]: m.value }; break; }
    case 'duplicate': if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(key)])); else parent[`${String(key)}2`] = parent[key]; break;
  }
  return root;
}

const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  hostileString(60),
  fc.constantFrom('reason == "replacement"', 'fields.x > 1 and (', 'requester.department in ["Finance"', '{{fields.nope}}', '{{steps.later.x}}', '^(a+)+$', '[', 'env:X', 'directory.addToGroup', 'notify', 'manager', 'choice', 'multichoice', 'date', 'person', -1, 0, 1e9, true, null, []),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), value }),
  fc.constant({ kind: 'delete' as const }),
  fc.constant({ kind: 'wrap' as const }),
  fc.constant({ kind: 'stringify' as const }),
  fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('when', 'validation', 'pattern', 'options', 'sensitive', 'needs', 'undo', 'retry', 'approver', 'unknownKey', '__proto__'), value }),
  fc.constant({ kind: 'duplicate' as const }),
);

// the yaml library warns (process warnings) about odd keys the fuzzer makes; they are expected here
beforeAll(() => { jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined); });

describe('the catalogue parser', () => {
  it('accepts every real dialog file unchanged (the starting point of the mutations)', async () => {
    for (const f of FILES) {
      const r = parseCatalogueFile(f.name, f.text);
      expect({ file: f.name, errors: r.errors }).toEqual({ file: f.name, errors: [] });
      await usable(r.item!);
    }
  });

  it('reports YAML that cannot be built as an error (found by this fuzzer: an unresolved alias threw)', async () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    for (const text of ['approvals: \n- name: *D\ntitle: x', 'id: *nowhere', bomb]) {
      const r = parseCatalogueFile('alias.yaml', text);
      expect(r.item).toBeUndefined();
      expect(r.errors[0]).toMatchObject({ file: 'alias.yaml', path: '', message: expect.stringMatching(/^not valid YAML: /) });
    }
  });

  it('never throws on arbitrary YAML-ish text, and lists what is wrong', async () => {
    const yamlish = fc.oneof(
      hostileString(400),
      fc.jsonValue({ maxDepth: 4 }).map((v) => toYaml(v)),
      fc.array(fc.tuple(fc.constantFrom('id', 'title', 'fields', 'approvals', 'workflow', 'when', '- name', '  - id', 'options', '&a', '*a', '<<', '!!js/function', '? ', '---', '...', '%YAML 1.2', '#', 'id: a\nid: b', '- x: *missing', 'k: !!binary'), hostileString(30)), { maxLength: 20 })
        .map((lines) => lines.map(([k, v]) => `${k}: ${v}`).join('\n')),
    );
    await fc.assert(fc.asyncProperty(yamlish, async (text) => { await checkParse('fuzz-item.yaml', text); }), runs(400));
  });

  it('never throws on mutated real dialogs, and every accepted mutant is usable', async () => {
    const docs = FILES.map((f) => ({ name: f.name, doc: parseYaml(f.text) as unknown }));
    const arb = fc.record({ file: fc.nat(docs.length - 1), steps: fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 4 }) });
    await fc.assert(fc.asyncProperty(arb, async ({ file, steps }) => {
      let doc = docs[file]!.doc;
      for (const [pick, m] of steps) {
        const all = paths(doc);
        doc = mutate(doc, all[pick % all.length]!, m);
      }
      await checkParse(docs[file]!.name, toYaml(doc));
    }), runs(400));
  });

  it('compiles any condition text to a condition or a ConditionSyntaxError (found by this fuzzer: a tab in a string literal threw a JSON SyntaxError)', async () => {
    expect(() => compileCondition('reason == "a\tb"')).toThrow(ConditionSyntaxError);
    expect(() => compileCondition("reason == 'a\\xb'")).toThrow(ConditionSyntaxError);
    const token = fc.oneof(hostileString(12), fc.constantFrom('reason', 'fields.cost', 'requester.department', '==', '!=', '>=', 'in', 'contains', 'and', 'or', 'not', '!', '(', ')', '[', ']', ',', '"x"', "'y'", '"\t"', '1', '1.5', 'true', 'null', '"\\u12"', '"\\"'));
    const source = fc.array(token, { minLength: 1, maxLength: 12 }).map((t) => t.join(' '));
    const ctx = fc.record({ fields: fc.dictionary(fc.constantFrom('reason', 'cost', 'x'), fc.jsonValue({ maxDepth: 1 })), requester: fc.dictionary(fc.constantFrom('department', 'roles'), fc.jsonValue({ maxDepth: 1 })) });
    await fc.assert(fc.asyncProperty(source, ctx, async (src, c) => {
      let cond: ReturnType<typeof compileCondition>;
      try { cond = compileCondition(src); } catch (e) {
        if (e instanceof ConditionSyntaxError) return;
        throw new Error(`compileCondition(${JSON.stringify(src)}) threw ${(e as Error).stack}`);
      }
      expect(typeof cond.evaluate(c as never)).toBe('boolean');
    }), runs(2000));
  });

  it('never throws on textual edits of real dialogs (characters inserted, deleted, swapped)', async () => {
    const edit = fc.tuple(fc.nat(), fc.nat(8), fc.oneof(hostileString(10), fc.constantFrom(':', '-', ' ', '\n', '\t', '"', "'", '[', '{', '#', '&', '*', '|', '>')));
    const arb = fc.record({ file: fc.nat(FILES.length - 1), edits: fc.array(edit, { minLength: 1, maxLength: 5 }) });
    await fc.assert(fc.asyncProperty(arb, async ({ file, edits }) => {
      let text = FILES[file]!.text;
      for (const [at, del, ins] of edits) { const i = at % (text.length + 1); text = text.slice(0, i) + ins + text.slice(i + del); }
      await checkParse(FILES[file]!.name, text);
    }), runs(400));
  });
});
