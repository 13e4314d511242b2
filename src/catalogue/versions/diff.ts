/**
 * What changed between two catalogue versions, per item, as a structured result (for people via
 * `renderDiff`, and for the change-impact assessment via the `weakened` flags). Pure: no IO.
 *
 * Per item: fields (added/removed; type, required, options, validation, when, sensitive, texts),
 * approvals (steps added/removed/renamed; approver, condition, mode, timers), workflow (steps
 * added/removed; action, inputs, when, needs, undo, manual, retry, timeout; order), risk, owner,
 * eligibility (broadened / narrowed), runbooks (`exceptions`), regulatory tags, and any other key
 * (listed generically, so keys added to the schema later still show up).
 *
 * A change WEAKENS controls (listed in `weakenings`, `weakened: true`) when it:
 *  - removes an approval step (a renamed step with the same approver and condition does not count),
 *    or leaves fewer approval steps;
 *  - adds a condition (`when`) to an approval step that had none (it may now be skipped);
 *  - removes a data-owner approval (the step, its data-owner approver, or an owner of a value);
 *  - turns an approval step from `mode: all` to `mode: any`;
 *  - removes a regulatory tag (its policy gate, e.g. SOX approval, no longer applies);
 *  - lowers the risk level (segregation-of-duties rules are per risk);
 *  - broadens eligibility (a restriction dropped or a value added);
 *  - makes a sensitive field not sensitive (it is no longer masked).
 * A changed (not added) approval condition, or a changed approver, is listed but not flagged:
 * whether it is weaker needs a person's judgement.
 */
import type { CatalogueItem, ApprovalStepDef, Approver, Eligibility, FieldDef, WorkflowStepDef } from '../schema.js';
import type { ModelRef } from './snapshot.js';
import { CONNECTORS_PATH, GOVERNANCE_PATH, ALERTS_PATH } from './snapshot.js';

/** One side of a diff. `documents` must hold at least items (and intents/configuration when compared). */
export interface DiffSide {
  label: string;
  documents: { items: CatalogueItem[]; intents?: { intent: string; examples: string[] }[]; connectors?: unknown; governance?: unknown; alerts?: unknown };
  /** Raw files: configuration files are compared by text when given (comments count). */
  files?: Record<string, string>;
  model?: ModelRef | null;
}

export interface AspectChange { aspect: string; from: unknown; to: unknown; text: string; weakens?: boolean }

export interface FieldDiff {
  added: { name: string; type: string; required: boolean }[];
  removed: { name: string; type: string }[];
  changed: { name: string; changes: AspectChange[] }[];
}

export interface ApprovalDiff {
  added: { id: string; approver: string; when?: string }[];
  removed: { id: string; approver: string; when?: string }[];
  /** A step whose id changed but whose approver and condition did not. */
  renamed: { from: string; to: string }[];
  changed: { id: string; changes: AspectChange[] }[];
  reordered: boolean;
  /** Approval steps before → after. */
  count: { from: number; to: number };
  weakened: boolean;
  weakenings: string[];
}

export interface WorkflowDiff {
  added: { id: string; action: string }[];
  removed: { id: string; action: string }[];
  changed: { id: string; changes: AspectChange[] }[];
  reordered: boolean;
}

export interface ItemDiff {
  id: string;
  title: string;
  fields: FieldDiff;
  approvals: ApprovalDiff;
  workflow: WorkflowDiff;
  risk?: { from: string; to: string; lowered: boolean };
  owner?: { from: { team: string; contact: string }; to: { team: string; contact: string } };
  eligibility?: { from: Eligibility | undefined; to: Eligibility | undefined; broadened: string[]; narrowed: string[] };
  exceptions?: { added: string[]; removed: string[]; changed: string[] };
  regulatory?: { added: string[]; removed: string[] };
  /** Any other top-level key that changed (title, description, responseTime, throttle, jit, ...). */
  other: { key: string; from: unknown; to: unknown }[];
  weakened: boolean;
  /** Every weakening of this item, in words. */
  weakenings: string[];
}

export interface ConfigDiff { changed: boolean; added: string[]; removed: string[]; modified: string[] }

export interface CatalogueDiff {
  from: string;
  to: string;
  identical: boolean;
  items: { added: { id: string; title: string }[]; removed: { id: string; title: string }[]; changed: ItemDiff[]; unchanged: number };
  intents: { added: string[]; removed: string[]; changed: { intent: string; added: number; removed: number }[] };
  config: { connectors: ConfigDiff; governance: ConfigDiff; alerts: ConfigDiff; model: { changed: boolean; from: string | null; to: string | null } };
  /** True when any item's controls got weaker (see the module comment). */
  weakened: boolean;
  weakenedItems: string[];
}

/** Stable JSON (sorted keys) for equality and display. */
export function stable(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stable(o[k])}`).join(',')}}`;
}
const same = (a: unknown, b: unknown) => stable(a) === stable(b);
export const short = (v: unknown, max = 60): string => {
  if (v === undefined) return '(none)';
  const s = typeof v === 'string' ? JSON.stringify(v) : stable(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

/** An approver in words: `manager`, `role security`, `data-owner of drive`, ... */
export function approverText(a: Approver): string {
  switch (a.kind) {
    case 'manager': return 'manager';
    case 'role': return `role ${a.role}`;
    case 'group': return `group ${a.group}`;
    case 'person': return `person ${a.email}`;
    case 'data-owner': return `data-owner of ${a.field}`;
  }
}

const optionValues = (f: FieldDef): string[] => (f.options ?? []).map((o) => (typeof o === 'string' ? o : o.value));

function diffFields(a: FieldDef[], b: FieldDef[]): { diff: FieldDiff; weakenings: string[] } {
  const byA = new Map(a.map((f) => [f.name, f]));
  const byB = new Map(b.map((f) => [f.name, f]));
  const weakenings: string[] = [];
  const diff: FieldDiff = {
    added: b.filter((f) => !byA.has(f.name)).map((f) => ({ name: f.name, type: f.type, required: f.required })),
    removed: a.filter((f) => !byB.has(f.name)).map((f) => ({ name: f.name, type: f.type })),
    changed: [],
  };
  for (const fb of b) {
    const fa = byA.get(fb.name);
    if (!fa || same(fa, fb)) continue;
    const changes: AspectChange[] = [];
    const simple = (aspect: keyof FieldDef, label = String(aspect)) => {
      if (!same(fa[aspect], fb[aspect])) changes.push({ aspect: String(aspect), from: fa[aspect], to: fb[aspect], text: `${label} ${short(fa[aspect])} → ${short(fb[aspect])}` });
    };
    simple('type');
    simple('required');
    if (!same(fa.options, fb.options)) {
      const [va, vb] = [optionValues(fa), optionValues(fb)];
      const added = vb.filter((x) => !va.includes(x));
      const removed = va.filter((x) => !vb.includes(x));
      const parts = [...added.map((x) => `+${x}`), ...removed.map((x) => `-${x}`)];
      changes.push({ aspect: 'options', from: va, to: vb, text: `options ${parts.length ? parts.join(' ') : '(labels/aliases changed)'}` });
    }
    if (!same(fa.validation, fb.validation)) {
      const keys = [...new Set([...Object.keys(fa.validation ?? {}), ...Object.keys(fb.validation ?? {})])].sort();
      const parts = keys.filter((k) => !same((fa.validation as Record<string, unknown> | undefined)?.[k], (fb.validation as Record<string, unknown> | undefined)?.[k]))
        .map((k) => `${k} ${short((fa.validation as Record<string, unknown> | undefined)?.[k], 30)} → ${short((fb.validation as Record<string, unknown> | undefined)?.[k], 30)}`);
      changes.push({ aspect: 'validation', from: fa.validation, to: fb.validation, text: `validation: ${parts.join(', ')}` });
    }
    if (!same(fa.when, fb.when)) changes.push({ aspect: 'when', from: fa.when, to: fb.when, text: fa.when === undefined ? `condition added: ${fb.when}` : fb.when === undefined ? `condition removed (was ${fa.when})` : `condition ${fa.when} → ${fb.when}` });
    if (fa.sensitive !== fb.sensitive) {
      const weakens = fa.sensitive && !fb.sensitive;
      changes.push({ aspect: 'sensitive', from: fa.sensitive, to: fb.sensitive, text: `sensitive ${fa.sensitive} → ${fb.sensitive}`, weakens });
      if (weakens) weakenings.push(`field ${fb.name} is no longer sensitive (no longer masked)`);
    }
    for (const k of ['prompt', 'label', 'help'] as const) simple(k);
    const known = new Set(['name', 'type', 'required', 'options', 'validation', 'when', 'sensitive', 'prompt', 'label', 'help']);
    for (const k of new Set([...Object.keys(fa), ...Object.keys(fb)])) {
      if (!known.has(k) && !same((fa as Record<string, unknown>)[k], (fb as Record<string, unknown>)[k])) changes.push({ aspect: k, from: (fa as Record<string, unknown>)[k], to: (fb as Record<string, unknown>)[k], text: `${k} changed` });
    }
    diff.changed.push({ name: fb.name, changes });
  }
  return { diff, weakenings };
}

function diffApprovals(a: ApprovalStepDef[], b: ApprovalStepDef[]): ApprovalDiff {
  const byA = new Map(a.map((s) => [s.id, s]));
  const byB = new Map(b.map((s) => [s.id, s]));
  const summary = (s: ApprovalStepDef) => ({ id: s.id, approver: approverText(s.approver), ...(s.when ? { when: s.when } : {}) });
  let removed = a.filter((s) => !byB.has(s.id));
  let added = b.filter((s) => !byA.has(s.id));
  const renamed: { from: string; to: string }[] = [];
  for (const r of [...removed]) {
    const twin = added.find((x) => same(x.approver, r.approver) && (x.when ?? null) === (r.when ?? null));
    if (!twin) continue;
    renamed.push({ from: r.id, to: twin.id });
    removed = removed.filter((x) => x !== r);
    added = added.filter((x) => x !== twin);
  }
  const weakenings: string[] = [];
  for (const r of removed) {
    weakenings.push(`approval step ${r.id} (${approverText(r.approver)}) removed`);
    if (r.approver.kind === 'data-owner' && !b.some((x) => x.approver.kind === 'data-owner' && x.approver.field === (r.approver as { field: string }).field)) weakenings.push(`no data-owner approval of ${r.approver.field} any more`);
  }
  if (b.length < a.length && !removed.length) weakenings.push(`fewer approval steps (${a.length} → ${b.length})`);
  const changed: ApprovalDiff['changed'] = [];
  for (const sb of b) {
    const sa = byA.get(sb.id) ?? byA.get(renamed.find((x) => x.to === sb.id)?.from ?? '');
    if (!sa || same({ ...sa, id: '' }, { ...sb, id: '' })) continue;
    const changes: AspectChange[] = [];
    if (!same(sa.approver, sb.approver)) {
      const lostOwner = sa.approver.kind === 'data-owner' && sb.approver.kind !== 'data-owner';
      changes.push({ aspect: 'approver', from: approverText(sa.approver), to: approverText(sb.approver), text: `approver ${approverText(sa.approver)} → ${approverText(sb.approver)}`, weakens: lostOwner });
      if (lostOwner) weakenings.push(`approval step ${sb.id}: data-owner approver replaced by ${approverText(sb.approver)}`);
      if (sa.approver.kind === 'data-owner' && sb.approver.kind === 'data-owner') {
        const [oa, ob] = [sa.approver.owners, sb.approver.owners];
        const gone = Object.keys(oa).filter((k) => !(k in ob));
        const moved = Object.keys(oa).filter((k) => k in ob && ob[k] !== oa[k]);
        if (gone.length) weakenings.push(`approval step ${sb.id}: no data owner any more for ${sb.approver.field} = ${gone.join(', ')}`);
        if (moved.length) changes.push({ aspect: 'owners', from: oa, to: ob, text: `data owner changed for ${moved.map((k) => `${k} (${oa[k]} → ${ob[k]})`).join(', ')}` });
      }
    }
    if (!same(sa.when, sb.when)) {
      const addedCond = sa.when === undefined;
      changes.push({ aspect: 'when', from: sa.when, to: sb.when, text: addedCond ? `condition added: ${sb.when} (the step may now be skipped)` : sb.when === undefined ? `condition removed (was ${sa.when}): always asked now` : `condition ${sa.when} → ${sb.when}`, weakens: addedCond });
      if (addedCond) weakenings.push(`approval step ${sb.id}: condition added (${sb.when})`);
    }
    if (sa.mode !== sb.mode) {
      const weakens = sa.mode === 'all' && sb.mode === 'any';
      changes.push({ aspect: 'mode', from: sa.mode, to: sb.mode, text: `mode ${sa.mode} → ${sb.mode}`, weakens });
      if (weakens) weakenings.push(`approval step ${sb.id}: one approver now decides for all (mode all → any)`);
    }
    for (const k of ['label', 'parallel', 'remindAfterHours', 'escalateAfterHours', 'escalateTo', 'timeoutHours', 'onTimeout'] as const) {
      if (!same(sa[k], sb[k])) changes.push({ aspect: k, from: sa[k], to: sb[k], text: `${k} ${short(sa[k])} → ${short(sb[k])}` });
    }
    if (changes.length) changed.push({ id: sb.id, changes });
  }
  const keptA = a.map((s) => renamed.find((r) => r.from === s.id)?.to ?? s.id).filter((id) => byB.has(id));
  const keptB = b.map((s) => s.id).filter((id) => keptA.includes(id));
  return {
    added: added.map(summary), removed: removed.map(summary), renamed, changed, reordered: !same(keptA, keptB),
    count: { from: a.length, to: b.length }, weakened: weakenings.length > 0, weakenings,
  };
}

function diffWorkflow(a: WorkflowStepDef[], b: WorkflowStepDef[]): WorkflowDiff {
  const byA = new Map(a.map((s) => [s.id, s]));
  const byB = new Map(b.map((s) => [s.id, s]));
  const changed: WorkflowDiff['changed'] = [];
  for (const sb of b) {
    const sa = byA.get(sb.id);
    if (!sa || same(sa, sb)) continue;
    const changes: AspectChange[] = [];
    if (sa.action !== sb.action) changes.push({ aspect: 'action', from: sa.action, to: sb.action, text: `action ${sa.action} → ${sb.action}` });
    if (!same(sa.inputs, sb.inputs)) {
      const keys = [...new Set([...Object.keys(sa.inputs), ...Object.keys(sb.inputs)])].sort();
      const parts = keys.filter((k) => !same(sa.inputs[k], sb.inputs[k])).map((k) => (!(k in sa.inputs) ? `+${k}` : !(k in sb.inputs) ? `-${k}` : `${k} ${short(sa.inputs[k], 80)} → ${short(sb.inputs[k], 80)}`));
      changes.push({ aspect: 'inputs', from: sa.inputs, to: sb.inputs, text: `inputs ${parts.join(', ')}` });
    }
    if (!same(sa.when, sb.when)) changes.push({ aspect: 'when', from: sa.when, to: sb.when, text: sa.when === undefined ? `condition added: ${sb.when}` : sb.when === undefined ? `condition removed (was ${sa.when})` : `condition ${sa.when} → ${sb.when}` });
    if (!same(sa.needs, sb.needs)) changes.push({ aspect: 'needs', from: sa.needs, to: sb.needs, text: `needs ${short(sa.needs ?? '(previous step)')} → ${short(sb.needs ?? '(previous step)')}` });
    if (!same(sa.undo, sb.undo)) changes.push({ aspect: 'undo', from: sa.undo, to: sb.undo, text: !sa.undo ? `undo added (${sb.undo!.action})` : !sb.undo ? `undo removed (was ${sa.undo.action}): no compensation` : `undo ${sa.undo.action} → ${sb.undo.action}${same(sa.undo.inputs, sb.undo.inputs) ? '' : ' (inputs changed)'}` });
    for (const k of ['manual', 'retry', 'timeoutMs', 'label'] as const) {
      if (!same(sa[k], sb[k])) changes.push({ aspect: k, from: sa[k], to: sb[k], text: `${k} ${short(sa[k])} → ${short(sb[k])}` });
    }
    const known = new Set(['id', 'action', 'inputs', 'when', 'needs', 'undo', 'manual', 'retry', 'timeoutMs', 'label']);
    for (const k of new Set([...Object.keys(sa), ...Object.keys(sb)])) {
      if (!known.has(k) && !same((sa as Record<string, unknown>)[k], (sb as Record<string, unknown>)[k])) changes.push({ aspect: k, from: (sa as Record<string, unknown>)[k], to: (sb as Record<string, unknown>)[k], text: `${k} changed` });
    }
    changed.push({ id: sb.id, changes });
  }
  const keptA = a.map((s) => s.id).filter((id) => byB.has(id));
  const keptB = b.map((s) => s.id).filter((id) => byA.has(id));
  return {
    added: b.filter((s) => !byA.has(s.id)).map((s) => ({ id: s.id, action: s.action })),
    removed: a.filter((s) => !byB.has(s.id)).map((s) => ({ id: s.id, action: s.action })),
    changed, reordered: !same(keptA, keptB),
  };
}

const ELIGIBILITY_KEYS = ['roles', 'departments', 'employmentTypes', 'locations', 'groups'] as const;

function diffEligibility(a: Eligibility | undefined, b: Eligibility | undefined): { broadened: string[]; narrowed: string[] } {
  const broadened: string[] = [];
  const narrowed: string[] = [];
  for (const k of ELIGIBILITY_KEYS) {
    const [va, vb] = [a?.[k], b?.[k]];
    if (same(va, vb)) continue;
    if (va && !vb) broadened.push(`${k}: restriction to ${va.join(', ')} removed`);
    else if (!va && vb) narrowed.push(`${k}: now only ${vb.join(', ')}`);
    else if (va && vb) {
      const added = vb.filter((x) => !va.includes(x));
      const removed = va.filter((x) => !vb.includes(x));
      if (added.length) broadened.push(`${k}: + ${added.join(', ')}`);
      if (removed.length) narrowed.push(`${k}: - ${removed.join(', ')}`);
    }
  }
  return { broadened, narrowed };
}

const RISK_LEVEL: Record<string, number> = { low: 0, medium: 1, high: 2 };
const HANDLED = new Set(['id', 'fields', 'approvals', 'workflow', 'risk', 'owner', 'eligibility', 'exceptions', 'regulatory']);

/** The differences of one item present in both versions (undefined when identical). */
export function diffItem(a: CatalogueItem, b: CatalogueItem): ItemDiff | undefined {
  if (same(a, b)) return undefined;
  const f = diffFields(a.fields, b.fields);
  const approvals = diffApprovals(a.approvals, b.approvals);
  const weakenings = [...approvals.weakenings, ...f.weakenings];
  const d: ItemDiff = { id: b.id, title: b.title, fields: f.diff, approvals, workflow: diffWorkflow(a.workflow, b.workflow), other: [], weakened: false, weakenings };
  if (a.risk !== b.risk) {
    const lowered = (RISK_LEVEL[b.risk] ?? 0) < (RISK_LEVEL[a.risk] ?? 0);
    d.risk = { from: a.risk, to: b.risk, lowered };
    if (lowered) weakenings.push(`risk lowered (${a.risk} → ${b.risk}): weaker segregation-of-duties rules apply`);
  }
  if (!same(a.owner, b.owner)) d.owner = { from: a.owner, to: b.owner };
  if (!same(a.eligibility, b.eligibility)) {
    const e = diffEligibility(a.eligibility, b.eligibility);
    d.eligibility = { from: a.eligibility, to: b.eligibility, ...e };
    weakenings.push(...e.broadened.map((x) => `eligibility broadened: ${x}`));
  }
  if (!same(a.exceptions, b.exceptions)) {
    const [ea, eb] = [a.exceptions ?? [], b.exceptions ?? []];
    const ta = new Map(ea.map((x) => [x.title, x]));
    const tb = new Map(eb.map((x) => [x.title, x]));
    d.exceptions = {
      added: eb.filter((x) => !ta.has(x.title)).map((x) => x.title),
      removed: ea.filter((x) => !tb.has(x.title)).map((x) => x.title),
      changed: eb.filter((x) => ta.has(x.title) && !same(ta.get(x.title), x)).map((x) => x.title),
    };
  }
  if (!same(a.regulatory, b.regulatory)) {
    const r = { added: b.regulatory.filter((x) => !a.regulatory.includes(x)), removed: a.regulatory.filter((x) => !b.regulatory.includes(x)) };
    d.regulatory = r;
    weakenings.push(...r.removed.map((x) => `regulatory tag ${x} removed (its policy gates no longer apply)`));
  }
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  for (const k of [...new Set([...Object.keys(ra), ...Object.keys(rb)])].sort()) {
    if (!HANDLED.has(k) && !same(ra[k], rb[k])) d.other.push({ key: k, from: ra[k], to: rb[k] });
  }
  d.weakened = weakenings.length > 0;
  return d;
}

function configDiff(a: unknown, b: unknown, textA: string | undefined, textB: string | undefined, childrenOf: (x: unknown) => Record<string, unknown>): ConfigDiff {
  const changed = textA !== undefined || textB !== undefined ? textA !== textB : !same(a, b);
  if (!changed) return { changed: false, added: [], removed: [], modified: [] };
  const [ca, cb] = [childrenOf(a), childrenOf(b)];
  return {
    changed: true,
    added: Object.keys(cb).filter((k) => !(k in ca)).sort(),
    removed: Object.keys(ca).filter((k) => !(k in cb)).sort(),
    modified: Object.keys(cb).filter((k) => k in ca && !same(ca[k], cb[k])).sort(),
  };
}

const topLevel = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {});
const connectorsOf = (x: unknown): Record<string, unknown> => topLevel(topLevel(x).connectors);
const alertChildren = (x: unknown): Record<string, unknown> => {
  const o = topLevel(x);
  const rules = Array.isArray(o.rules) ? Object.fromEntries((o.rules as { id?: string }[]).map((r, i) => [`rules.${r.id ?? i}`, r])) : {};
  return { ...Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'rules')), ...rules };
};

/** Compares two versions (or a version and the dialogs/ folder). */
export function diffCatalogues(a: DiffSide, b: DiffSide): CatalogueDiff {
  const byA = new Map(a.documents.items.map((i) => [i.id, i]));
  const byB = new Map(b.documents.items.map((i) => [i.id, i]));
  const changed: ItemDiff[] = [];
  let unchanged = 0;
  for (const [id, ib] of [...byB].sort(([x], [y]) => x.localeCompare(y))) {
    const ia = byA.get(id);
    if (!ia) continue;
    const d = diffItem(ia, ib);
    if (d) changed.push(d); else unchanged++;
  }
  const ina = new Map((a.documents.intents ?? []).map((d) => [d.intent, d.examples]));
  const inb = new Map((b.documents.intents ?? []).map((d) => [d.intent, d.examples]));
  const intentsChanged = [...inb].filter(([k]) => ina.has(k)).map(([k, ex]) => {
    const before = new Set(ina.get(k)!);
    const after = new Set(ex);
    return { intent: k, added: ex.filter((x) => !before.has(x)).length, removed: [...before].filter((x) => !after.has(x)).length };
  }).filter((x) => x.added || x.removed);
  const diff: CatalogueDiff = {
    from: a.label, to: b.label, identical: false,
    items: {
      added: b.documents.items.filter((i) => !byA.has(i.id)).map((i) => ({ id: i.id, title: i.title })).sort((x, y) => x.id.localeCompare(y.id)),
      removed: a.documents.items.filter((i) => !byB.has(i.id)).map((i) => ({ id: i.id, title: i.title })).sort((x, y) => x.id.localeCompare(y.id)),
      changed, unchanged,
    },
    intents: { added: [...inb.keys()].filter((k) => !ina.has(k)).sort(), removed: [...ina.keys()].filter((k) => !inb.has(k)).sort(), changed: intentsChanged },
    config: {
      connectors: configDiff(a.documents.connectors, b.documents.connectors, a.files?.[CONNECTORS_PATH], b.files?.[CONNECTORS_PATH], connectorsOf),
      governance: configDiff(a.documents.governance, b.documents.governance, a.files?.[GOVERNANCE_PATH], b.files?.[GOVERNANCE_PATH], topLevel),
      alerts: configDiff(a.documents.alerts, b.documents.alerts, a.files?.[ALERTS_PATH], b.files?.[ALERTS_PATH], alertChildren),
      model: { changed: (a.model?.sha256 ?? null) !== (b.model?.sha256 ?? null), from: a.model?.sha256 ?? null, to: b.model?.sha256 ?? null },
    },
    weakened: false,
    weakenedItems: changed.filter((d) => d.weakened).map((d) => d.id),
  };
  diff.weakened = diff.weakenedItems.length > 0;
  const c = diff.config;
  diff.identical = !diff.items.added.length && !diff.items.removed.length && !changed.length && !diff.intents.added.length && !diff.intents.removed.length && !intentsChanged.length
    && !c.connectors.changed && !c.governance.changed && !c.alerts.changed && !c.model.changed
    && (!a.files || !b.files || same(a.files, b.files));
  return diff;
}

export { renderDiff } from './render-diff.js';
