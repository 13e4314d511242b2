/**
 * The YAML edits behind organisational changes and removals (src/catalogue/lifecycle/edit.ts): only
 * the renamed values change in the text (comments, quoting, folding and flow style survive), lists
 * drop the duplicates a merge creates, and removing an item takes its intents file with it.
 */
import { parse } from 'yaml';
import { orgChangeProblems, reassign, removeItem } from '../../src/catalogue/lifecycle/edit.js';

const ITEM = `# Owned by Hardware until the merge
id: kit-request
title: Kit request
description: >-
  Folded text that is long enough to be folded over more than one line by any YAML writer that
  re-serialises the whole file.
category: hardware
owner:
  team: Hardware & Logistics   # the team, not a group
  contact: "hardware@example.com"
responseTime: 2d
risk: low
fulfilment: automated
eligibility:
  groups: [field-staff, office-staff]
  departments:
    - Finance
    - 'Finance Ops'
approvals:
  - id: budget
    approver: { kind: person, email: ivan.itlead@example.com }
    escalateTo: ivan.itlead@example.com
  - id: owner
    when: requester.department == "Finance"
    approver:
      kind: data-owner
      field: kit
      owners: { laptop: ivan.itlead@example.com, phone: 'olga.owner@example.com' }
  - id: staff
    approver: { kind: group, group: field-staff }
workflow:
  - id: tell
    action: notify
    inputs: { to: "{{requester.email}}", text: done }
`;
const files = { 'dialogs/kit-request.yaml': ITEM, 'dialogs/other.yaml': 'id: other\n', 'intents/kit.yaml': 'intent: kit-request\nexamples: [a]\n', 'intents/other.yaml': 'intent: other\nexamples: [b]\n' };

const changedLines = (a: string, b: string) => {
  const [x, y] = [a.split('\n'), b.split('\n')];
  return y.map((l, i) => [x[i], l]).filter(([p, l]) => p !== l);
};

it('renames owners, person approvers, data owners and escalation contacts in place', () => {
  const r = reassign(files, { fromTeam: 'hardware & logistics', toTeam: 'Workplace Services', ownerContact: 'workplace@example.com', fromPerson: 'ivan.itlead@example.com', toPerson: 'dana.director@example.com' });
  const out = r.files['dialogs/kit-request.yaml']!;
  expect(changedLines(ITEM, out)).toEqual([
    ['  team: Hardware & Logistics   # the team, not a group', '  team: Workplace Services   # the team, not a group'],
    ['  contact: "hardware@example.com"', '  contact: "workplace@example.com"'],
    ['    approver: { kind: person, email: ivan.itlead@example.com }', '    approver: { kind: person, email: dana.director@example.com }'],
    ['    escalateTo: ivan.itlead@example.com', '    escalateTo: dana.director@example.com'],
    ["      owners: { laptop: ivan.itlead@example.com, phone: 'olga.owner@example.com' }", "      owners: { laptop: dana.director@example.com, phone: 'olga.owner@example.com' }"],
  ]);
  expect(r.changes.map((c) => c.path)).toEqual(['owner.team', 'owner.contact', 'approvals.0.approver.email', 'approvals.0.escalateTo', 'approvals.1.approver.owners.laptop']);
  expect(r.files['dialogs/other.yaml']).toBe(files['dialogs/other.yaml']);
  expect(r.files['intents/kit.yaml']).toBe(files['intents/kit.yaml']);
});

it('merges groups and departments: approvers and eligibility renamed, duplicates dropped, conditions only flagged', () => {
  const r = reassign(files, { fromGroup: 'field-staff', toGroup: 'office-staff', fromDepartment: 'Finance', toDepartment: 'Finance Ops' });
  const doc = parse(r.files['dialogs/kit-request.yaml']!) as { eligibility: { groups: string[]; departments: string[] }; approvals: { approver: { group?: string } }[]; description: string };
  expect(doc.eligibility).toEqual({ groups: ['office-staff'], departments: ['Finance Ops'] });
  expect(doc.approvals[2]!.approver.group).toBe('office-staff');
  expect(doc.description).toMatch(/^Folded text that is long enough/);
  expect(r.files['dialogs/kit-request.yaml']).toContain('description: >-\n  Folded text'); // untouched parts keep their text
  expect(r.warnings).toEqual(['kit-request: the condition approvals[1].when: requester.department == "Finance" names the old value; it is not changed automatically']);
  expect(r.changes.find((c) => c.path === 'eligibility.groups')).toEqual({ item: 'kit-request', path: 'eligibility.groups', from: ['field-staff', 'office-staff'], to: ['office-staff'] });
});

it('limits a change to some items (a split) and checks the shape of a change', () => {
  expect(reassign(files, { fromTeam: 'Hardware & Logistics', toTeam: 'X', items: ['other'] }).changes).toEqual([]);
  expect(orgChangeProblems({ fromTeam: 'a' })).toEqual(['give both --from-team and --to-team']);
  expect(orgChangeProblems({ ownerContact: 'x@example.com' })).toEqual(['--owner-contact needs --from-team (whose items get the new contact)', expect.stringMatching(/^nothing to change/)]);
  expect(orgChangeProblems({ fromRole: 'hr', toRole: 'HR' })).toEqual(['--from-role and --to-role are the same']);
  expect(orgChangeProblems({ fromTeam: 'a', toTeam: 'a', ownerContact: 'x@example.com' })).toEqual([]);
});

it('removes an item with the intents files whose intent it is', () => {
  const r = removeItem(files, 'kit-request');
  expect(r.removed).toEqual(['dialogs/kit-request.yaml', 'intents/kit.yaml']);
  expect(Object.keys(r.files)).toEqual(['dialogs/other.yaml', 'intents/other.yaml']);
});
