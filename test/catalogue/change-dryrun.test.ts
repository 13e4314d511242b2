/**
 * The dry run of catalogue changes (src/catalogue/change/dry-run.ts, samples.ts) on a real database:
 * every item of the shipped catalogue passes it; sample answers come from the schema (pattern hints
 * or the pattern itself), or from dialogs/_samples.yaml; it fails — naming the reason — on a
 * workflow input that reads a field the scenario did not ask, an unknown action, an http connector
 * operation whose path needs an input the step does not give, a response mapping that does not
 * produce what a later step reads; it runs the connector's response mapping on a recorded response;
 * and nothing it does stays in the database.
 */
import { loadConfig } from '../../src/config.js';
import { pathsFromConfig } from '../../src/catalogue/versions/snapshot.js';
import { readAndValidate, type CatalogueDocuments } from '../../src/catalogue/versions/validate.js';
import { catalogueItemSchema, type CatalogueItem } from '../../src/catalogue/schema.js';
import { dryRun } from '../../src/catalogue/change/dry-run.js';
import { hintExamples, sampleAnswer, scenariosOf, stringsMatching } from '../../src/catalogue/change/samples.js';
import { createTestDb, type TestDb } from '../support/test-db.js';

let tdb: TestDb;
let shipped: { documents: CatalogueDocuments; files: Record<string, string> };
const now = new Date('2026-03-02T09:00:00Z');

const item = (over: Record<string, unknown>): CatalogueItem => catalogueItemSchema.parse({
  id: 'dry-test', title: 'Dry test', description: 'Dry run test item.', category: 'test', owner: { team: 'QA', contact: 'qa@example.com' },
  responseTime: '1d', risk: 'low', fulfilment: 'automated',
  fields: [
    { name: 'access', type: 'choice', label: 'Access', prompt: 'Which access?', options: ['read', 'write'] },
    { name: 'team', type: 'text', label: 'Team', prompt: 'Which team?', when: 'access == "write"' },
  ],
  workflow: [{ id: 'grant', action: 'directory.addToGroup', inputs: { person: '{{requester.email}}', group: 'dry-{{fields.access}}' } }],
  ...over,
});
const run = (items: CatalogueItem[], o: { connectors?: Record<string, unknown>; files?: Record<string, string> } = {}) =>
  dryRun({ documents: { items, connectors: o.connectors ?? null }, files: o.files ?? {} }, items.map((i) => i.id), { db: tdb.db, now });

beforeAll(async () => {
  tdb = await createTestDb();
  const r = await readAndValidate(pathsFromConfig(loadConfig({ LOG_LEVEL: 'silent' })));
  expect(r.errors).toEqual([]);
  shipped = { documents: r.documents!, files: r.snapshot.files };
});
afterAll(async () => { await tdb?.drop(); });

describe('sample answers', () => {
  it('take pattern examples from the hint, or generate them from the pattern', () => {
    expect(hintExamples('a hostname like app-stg-03 or an asset tag like LT-01234')).toEqual(expect.arrayContaining(['app-stg-03', 'LT-01234']));
    expect(hintExamples('an IBAN like DE89 3704 0044 0532 0130 00')[0]).toBe('DE89 3704 0044 0532 0130 00');
    expect(stringsMatching('^CHG[0-9]{6}$')).toContain('CHG000000');
    expect(stringsMatching('^[a-z]+(?:[.-][a-z]+)+@example\\.com$')[0]).toBe('a.a@example.com');
    for (const p of ['^[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}$', '^[a-z0-9][a-z0-9_-]{1,79}$', '^(red|green)-\\d+$']) {
      const s = stringsMatching(p);
      expect(s.length).toBeGreaterThan(0);
      for (const x of s) expect(x).toMatch(new RegExp(p));
    }
    const f = { name: 'tag', type: 'text' as const, prompt: 'Tag?', required: true, sensitive: false, validation: { pattern: '^LT-[0-9]{5}$', patternHint: 'an asset tag like LT-01234' } };
    expect(sampleAnswer(f, { today: now, person: 'x@example.com' })).toEqual({ value: 'LT-01234' });
    expect(sampleAnswer({ ...f, type: 'number', validation: { min: 4, max: 8 } }, { today: now, person: 'x@example.com' })).toEqual({ value: 4 });
    expect(sampleAnswer({ ...f, type: 'date', validation: { future: true, maxDaysAhead: 30 } }, { today: now, person: 'x@example.com' })).toEqual({ value: '2026-03-03' });
  });

  it('cover every option of choice fields, optional fields left empty and a contractor when a condition reads it', () => {
    const it2 = item({ fields: [
      { name: 'access', type: 'choice', prompt: 'Which access?', options: ['read', 'write', 'admin'] },
      { name: 'until', type: 'date', prompt: 'Until?', when: 'requester.employmentType == "contractor"', required: false },
    ] });
    const names = scenariosOf(it2, { employmentType: 'employee' }, { today: now, person: 'x@example.com' }).map((s) => s.name);
    expect(names).toEqual(['base', 'access = write', 'access = admin', 'contractor requester']);
  });
});

describe('the dry run', () => {
  it('passes every item of the shipped catalogue, in every scenario, and leaves nothing behind', async () => {
    const before = await tdb.db.query(`SELECT (SELECT count(*) FROM people)::int AS people, (SELECT count(*) FROM group_memberships)::int AS groups, (SELECT count(*) FROM messages)::int AS messages, (SELECT count(*) FROM cases)::int AS cases, (SELECT count(*) FROM audit_log)::int AS audit`);
    const r = await dryRun(shipped, shipped.documents.items.map((i) => i.id), { db: tdb.db, now });
    expect(r.problems).toEqual([]);
    expect(r.items.filter((i) => !i.ok).map((i) => [i.id, i.problems])).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.items).toHaveLength(shipped.documents.items.length);
    expect(r.items.find((i) => i.id === 'vpn-access')!.scenarios).toEqual(expect.arrayContaining(['base', 'profile = infrastructure', 'device = personal', 'contractor requester']));
    expect(r.summary).toMatch(/^passed: 17 item\(s\), \d+ scenario\(s\), \d+ step run\(s\)/);
    const after = await tdb.db.query(`SELECT (SELECT count(*) FROM people)::int AS people, (SELECT count(*) FROM group_memberships)::int AS groups, (SELECT count(*) FROM messages)::int AS messages, (SELECT count(*) FROM cases)::int AS cases, (SELECT count(*) FROM audit_log)::int AS audit`);
    expect(after.rows).toEqual(before.rows);
  });

  it('fails on an input that reads a field this scenario did not ask, saying why', async () => {
    const r = await run([item({ workflow: [{ id: 'grant', action: 'directory.addToGroup', inputs: { person: '{{requester.email}}', group: '{{fields.team}}' } }] })]);
    expect(r.ok).toBe(false);
    expect(r.items[0]!.problems).toEqual([
      'step grant (directory.addToGroup): input group is empty: {{fields.team}}: field team was not asked in this scenario (when: access == "write")',
    ]);
    expect(r.summary).toBe('FAILED: 1 problem(s) in dry-test');
  });

  it('fails on an unknown action and on inputs the action refuses', async () => {
    const r = await run([item({ workflow: [
      { id: 'grant', action: 'directory.addToGroup', inputs: { person: '{{fields.access}}', group: 'g' } },
      { id: 'ticket', action: 'itsm.createTicket', inputs: { title: 'x' } },
    ] })]);
    expect(r.items[0]!.problems).toEqual([
      expect.stringMatching(/^step grant \(directory\.addToGroup\): invalid input: person: /),
      expect.stringMatching(/^step ticket \(itsm\.createTicket\): unknown action "itsm\.createTicket"; expected one of directory\.createAccount, /),
    ]);
  });

  it('maps http connector calls with the connector\'s own mapping code, and runs the response mapping on a recorded response', async () => {
    const connectors = { connectors: { idm: { type: 'http', config: {
      baseUrl: 'https://idm.example.com/api', auth: { type: 'apiKey', key: 'env:IDM_KEY' },
      operations: {
        createUser: { method: 'POST', path: '/users/{{input.user}}', body: '{"name": input.name, "team": $uppercase(input.team)}', response: '{"id": body.id, "login": body.login}', expectStatus: 201 },
      },
    } } } };
    const wf = (inputs: Record<string, unknown>, tell = '{{steps.create.id}}') => item({ workflow: [
      { id: 'create', action: 'idm.createUser', inputs },
      { id: 'tell', action: 'notify', inputs: { to: '{{requester.email}}', text: `account ${tell} is ready` } },
    ] });

    // the step does not give the input the path needs
    let r = await run([wf({ login: '{{requester.email}}', name: '{{requester.name}}' })], { connectors });
    expect(r.items[0]!.problems).toEqual(['step create (idm.createUser): path needs input.user, which is missing']);

    // no recorded response: mapped, not sent, later steps read placeholders (a note, not a failure)
    r = await run([wf({ user: '{{requester.email}}', name: '{{requester.name}}', team: '{{fields.access}}' })], { connectors });
    expect(r.ok).toBe(true);
    expect(r.items[0]!.notes).toEqual([expect.stringMatching(/^idm\.createUser: request mapped \(POST \/api\/users\/dry-run\.requester%40example\.invalid\), not sent; no recorded response/)]);

    // a recorded response: its status is judged and the response mapping gives the output later steps read
    const files = { 'dialogs/_samples.yaml': 'responses:\n  idm.createUser: { status: 201, body: { id: "u-42", login: "dry" } }\n' };
    r = await run([wf({ user: '{{requester.email}}', name: '{{requester.name}}', team: '{{fields.access}}' })], { connectors, files });
    expect(r.items[0]).toMatchObject({ ok: true, notes: [] });
    // a later step reads what the recorded response does not give
    const wf2 = item({ workflow: [
      { id: 'create', action: 'idm.createUser', inputs: { user: '{{requester.email}}', name: '{{requester.name}}', team: '{{fields.access}}' } },
      { id: 'tell', action: 'notify', inputs: { to: '{{requester.email}}', text: '{{steps.create.ticket}}' } },
    ] });
    r = await run([wf2], { connectors, files });
    expect(r.items[0]!.problems).toEqual(['step tell (notify): input text is empty: {{steps.create.ticket}}: the output of step create has no ticket (it has: id, login)']);
    // a recorded response the operation does not accept
    r = await run([wf({ user: '{{requester.email}}', name: '{{requester.name}}', team: '{{fields.access}}' })], { connectors, files: { 'dialogs/_samples.yaml': 'responses:\n  idm.createUser: { status: 200, body: {} }\n' } });
    expect(r.items[0]!.problems).toEqual(["step create (idm.createUser): the recorded response's status 200 is not a success (expected 201)"]);
  });

  it('asks for a sample when it cannot make a valid answer, and takes it from dialogs/_samples.yaml', async () => {
    const odd = item({ fields: [{ name: 'code', type: 'text', prompt: 'Code?', validation: { pattern: '^(?=X)X\\d{3}$' } }], workflow: [{ id: 'tell', action: 'notify', inputs: { to: '{{requester.email}}', text: 'code {{fields.code}}' } }] });
    let r = await run([odd]);
    expect(r.items[0]!.problems).toEqual([expect.stringMatching(/^dialog: field code: no sample matches the pattern .*: give one in dialogs\/_samples\.yaml \(items\.<id>\.answers\.code\)$/)]);
    r = await run([odd], { files: { 'dialogs/_samples.yaml': 'items:\n  dry-test:\n    answers: { code: X123 }\n' } });
    expect(r.items[0]).toMatchObject({ ok: true, problems: [] });
    r = await run([odd], { files: { 'dialogs/_samples.yaml': 'items:\n  dry-test:\n    answers: { code: Y1 }\n' } });
    expect(r.items[0]!.problems).toEqual([expect.stringMatching(/^dialog: field code: That doesn't look right/)]);
  });
});
