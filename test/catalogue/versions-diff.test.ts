/**
 * The catalogue diff (src/catalogue/versions/diff.ts) on crafted changes: per-item field, approval,
 * workflow, risk, owner, eligibility and runbook changes, intents, configuration, and the
 * `weakened` flags the change-impact assessment relies on.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { catalogueItemSchema, type CatalogueItem } from '../../src/catalogue/schema.js';
import { PROJECT_ROOT } from '../../src/config.js';
import { diffCatalogues, diffItem, renderDiff, type DiffSide } from '../../src/catalogue/versions/diff.js';

let drive: CatalogueItem;
let vpn: CatalogueItem;
const load = async (id: string) => catalogueItemSchema.parse(parse(await readFile(path.join(PROJECT_ROOT, 'dialogs', `${id}.yaml`), 'utf8')));
const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const side = (label: string, items: CatalogueItem[], extra: Partial<DiffSide['documents']> = {}): DiffSide => ({ label, documents: { items, ...extra } });

beforeAll(async () => {
  drive = await load('shared-drive-access');
  vpn = await load('vpn-access');
});

it('an identical catalogue is identical', () => {
  const d = diffCatalogues(side('v1', [drive, vpn]), side('v2', [clone(drive), clone(vpn)]));
  expect(d.identical).toBe(true);
  expect(d.weakened).toBe(false);
  expect(renderDiff(d)).toMatch(/^catalogue v1 → v2: identical/);
});

it('lists added and removed items and intents', () => {
  const d = diffCatalogues(side('v1', [drive], { intents: [{ intent: 'shared-drive-access', examples: ['a', 'b'] }] }), side('v2', [vpn], { intents: [{ intent: 'vpn-access', examples: ['c'] }] }));
  expect(d.items.added).toEqual([{ id: 'vpn-access', title: vpn.title }]);
  expect(d.items.removed).toEqual([{ id: 'shared-drive-access', title: drive.title }]);
  expect(d.intents).toEqual({ added: ['vpn-access'], removed: ['shared-drive-access'], changed: [] });
  const text = renderDiff(d);
  expect(text).toContain('+ vpn-access (VPN access): new item');
  expect(text).toContain('- shared-drive-access (Shared drive access): removed');
  expect(text).toMatch(/intents: 1 intent added \(vpn-access\), 1 removed \(shared-drive-access\)/);
});

it('field changes: added, removed, required, options, validation, when', () => {
  const b = clone(drive);
  b.fields = b.fields.filter((f) => f.name !== 'justification');
  b.fields.push({ name: 'ticket', type: 'text', prompt: 'Ticket?', required: true, sensitive: false });
  const until = b.fields.find((f) => f.name === 'until')!;
  until.required = true;
  until.validation = { ...until.validation, maxDaysAhead: 90 };
  until.when = 'access == "write"';
  const dr = b.fields.find((f) => f.name === 'drive')!;
  dr.options = [...dr.options!.filter((o) => (typeof o === 'string' ? o : o.value) !== 'marketing'), { value: 'legal', label: 'Legal' }];
  const d = diffItem(drive, b)!;
  expect(d.fields.added).toEqual([{ name: 'ticket', type: 'text', required: true }]);
  expect(d.fields.removed).toEqual([{ name: 'justification', type: 'text' }]);
  const aspects = Object.fromEntries(d.fields.changed.map((f) => [f.name, f.changes.map((c) => c.aspect)]));
  expect(aspects).toEqual({ drive: ['options'], until: ['required', 'validation', 'when'] });
  const text = renderDiff(diffCatalogues(side('v1', [drive]), side('v2', [b])));
  expect(text).toContain('fields: +ticket (text, required); -justification; drive: options +legal -marketing; until: required false → true, validation: maxDaysAhead 365 → 90, condition added: access == "write"');
  expect(d.weakened).toBe(false);
});

it('a removed approval step weakens the item, and so does a data-owner approval going away', () => {
  const b = clone(drive);
  b.approvals = b.approvals.filter((s) => s.id !== 'data-owner');
  const d = diffItem(drive, b)!;
  expect(d.approvals.removed).toEqual([{ id: 'data-owner', approver: 'data-owner of drive', when: 'access == "write"' }]);
  expect(d.approvals.weakened).toBe(true);
  expect(d.weakenings).toEqual(['approval step data-owner (data-owner of drive) removed', 'no data-owner approval of drive any more']);
  const all = diffCatalogues(side('v1', [drive, vpn]), side('v2', [b, vpn]));
  expect(all.weakened).toBe(true);
  expect(all.weakenedItems).toEqual(['shared-drive-access']);
  const text = renderDiff(all);
  expect(text).toContain('~ shared-drive-access (Shared drive access)  [WEAKER]');
  expect(text).toContain('approvals: -data-owner (data-owner of drive when access == "write") [WEAKER]; 2 → 1 steps');
  expect(text).toContain('WARNING: controls got weaker in shared-drive-access:');
});

it('a condition added to an approval step weakens; a changed condition or approver is listed, not flagged', () => {
  const b = clone(drive);
  b.approvals[0]!.when = 'access == "write"';
  let d = diffItem(drive, b)!;
  expect(d.approvals.changed).toEqual([{ id: 'manager', changes: [expect.objectContaining({ aspect: 'when', weakens: true })] }]);
  expect(d.weakenings).toEqual(['approval step manager: condition added (access == "write")']);

  const c = clone(drive);
  c.approvals[1]!.when = 'access == "write" or drive == "hr"';
  c.approvals[0]!.approver = { kind: 'role', role: 'security' };
  d = diffItem(drive, c)!;
  expect(d.weakened).toBe(false);
  expect(d.approvals.changed.map((x) => [x.id, x.changes.map((y) => y.text)])).toEqual([
    ['manager', ['approver manager → role security']],
    ['data-owner', ['condition access == "write" → access == "write" or drive == "hr"']],
  ]);
});

it('data-owner replaced, an owner dropped, mode all → any: each weakens', () => {
  const b = clone(drive);
  const owner = b.approvals[1]!;
  if (owner.approver.kind !== 'data-owner') throw new Error('fixture');
  delete owner.approver.owners.hr;
  b.approvals[0]!.mode = 'any';
  const a = clone(drive);
  a.approvals[0]!.mode = 'all';
  let d = diffItem(a, b)!;
  expect(d.weakenings).toEqual(['approval step manager: one approver now decides for all (mode all → any)', 'approval step data-owner: no data owner any more for drive = hr']);
  const c = clone(drive);
  c.approvals[1]!.approver = { kind: 'manager' };
  d = diffItem(drive, c)!;
  expect(d.weakenings).toEqual(['approval step data-owner: data-owner approver replaced by manager']);
});

it('a renamed step with the same approver and condition is not a weakening', () => {
  const b = clone(drive);
  b.approvals[0]!.id = 'line-manager';
  const d = diffItem(drive, b)!;
  expect(d.approvals.renamed).toEqual([{ from: 'manager', to: 'line-manager' }]);
  expect(d.approvals.removed).toEqual([]);
  expect(d.weakened).toBe(false);
});

it('workflow: steps added and removed, action and inputs changed', () => {
  const b = clone(drive);
  b.workflow[0]!.action = 'directory.removeFromGroup';
  b.workflow[0]!.inputs = { person: '{{requester.email}}', group: 'drive-{{fields.drive}}' };
  b.workflow = [b.workflow[0]!, { id: 'audit-owner', action: 'notify', inputs: { to: 'x@example.com', text: 'hi' }, manual: 'never' }];
  const d = diffItem(drive, b)!;
  expect(d.workflow.added).toEqual([{ id: 'audit-owner', action: 'notify' }]);
  expect(d.workflow.removed).toEqual([{ id: 'tell-requester', action: 'notify' }]);
  expect(d.workflow.changed).toEqual([{ id: 'grant', changes: [
    expect.objectContaining({ aspect: 'action', text: 'action directory.addToGroup → directory.removeFromGroup' }),
    expect.objectContaining({ aspect: 'inputs', text: 'inputs group "drive-{{fields.drive}}-{{fields.access}}" → "drive-{{fields.drive}}", -until' }),
  ] }]);
  expect(renderDiff(diffCatalogues(side('a', [drive]), side('b', [b])))).toContain('workflow: +audit-owner (notify); -tell-requester (notify); grant: action directory.addToGroup → directory.removeFromGroup, inputs group');
});

it('risk lowered, eligibility broadened, sensitive dropped and a regulatory tag removed weaken; owner and runbooks are listed', () => {
  const a = clone(drive);
  a.eligibility = { departments: ['Finance'], employmentTypes: ['employee'] };
  a.fields[3]!.sensitive = true;
  const b = clone(a);
  b.risk = 'low';
  b.eligibility = { departments: ['Finance', 'IT'] };
  b.fields[3]!.sensitive = false;
  b.regulatory = [];
  b.owner = { team: 'Storage', contact: 'storage@example.com' };
  b.exceptions = [{ title: 'Group missing', symptom: 'the drive group does not exist', steps: ['Create it in AD'] }];
  b.description = 'Changed words.';
  const d = diffItem(a, b)!;
  expect(d.risk).toEqual({ from: 'medium', to: 'low', lowered: true });
  expect(d.eligibility!.broadened).toEqual(['departments: + IT', 'employmentTypes: restriction to employee removed']);
  expect(d.owner!.to).toEqual({ team: 'Storage', contact: 'storage@example.com' });
  expect(d.exceptions).toEqual({ added: ['Group missing'], removed: [], changed: [] });
  expect(d.other.map((o) => o.key)).toEqual(['description']);
  expect(d.weakenings).toEqual([
    'field justification is no longer sensitive (no longer masked)',
    'risk lowered (medium → low): weaker segregation-of-duties rules apply',
    'eligibility broadened: departments: + IT',
    'eligibility broadened: employmentTypes: restriction to employee removed',
    'regulatory tag gdpr removed (its policy gates no longer apply)',
  ]);
  const text = renderDiff(diffCatalogues(side('a', [a]), side('b', [b])));
  expect(text).toContain('risk: medium → low [WEAKER]');
  expect(text).toContain('owner: Infrastructure <infra@example.com> → Storage <storage@example.com>');
  expect(text).toContain('runbooks: +"Group missing"');
  expect(text).toContain('eligibility: departments: + IT [broader]; employmentTypes: restriction to employee removed [broader]');
});

it('configuration and model changes are named', () => {
  const files = (c: string) => ({ 'dialogs/_connectors.yaml': c, 'dialogs/_governance.yaml': 'x: 1\n' });
  const a: DiffSide = { label: 'v1', documents: { items: [vpn], connectors: { connectors: { idm: { type: 'http' } } }, governance: {} }, files: files('connectors:\n  idm: {type: http}\n'), model: { path: 'm', sha256: 'a'.repeat(64), bytes: 1, classes: [] } };
  const b: DiffSide = { label: 'v2', documents: { items: [vpn], connectors: { connectors: { idm: { type: 'scim' }, hr: { type: 'http' } } }, governance: {} }, files: files('connectors:\n  idm: {type: scim}\n  hr: {type: http}\n'), model: { path: 'm', sha256: 'b'.repeat(64), bytes: 1, classes: [] } };
  const d = diffCatalogues(a, b);
  expect(d.identical).toBe(false);
  expect(d.config.connectors).toEqual({ changed: true, added: ['hr'], removed: [], modified: ['idm'] });
  expect(d.config.governance.changed).toBe(false);
  expect(d.config.model.changed).toBe(true);
  expect(renderDiff(d)).toContain('configuration: connectors changed +hr ~idm; governance unchanged; alerts unchanged; model changed (aaaaaaaaaaaa → bbbbbbbbbbbb)');
});
