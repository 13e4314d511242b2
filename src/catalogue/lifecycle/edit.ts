/**
 * Edits of a catalogue version's files for lifecycle changes, as new snapshots (pure: no IO). Only
 * the edited values' text is replaced in the source (found with the `yaml` parser's node ranges),
 * so comments, quoting, folding and layout of everything else survive and a diff of the file shows
 * just the renamed values; the result is parsed again and must equal the intended document, else
 * the file is re-serialised as a whole. Files that do not change keep their exact text.
 *
 *   removeItem(files, id)      without dialogs/<id>.yaml and the intents file(s) of intent <id>
 *   reassign(files, change)    owners, approvers, escalation contacts and eligibility renamed
 */
import { isMap, isScalar, isSeq, parse, parseDocument, Scalar, type Document } from 'yaml';
import { stable } from '../versions/diff.js';
import { DIALOGS, isIntentPath, isItemPath } from '../versions/snapshot.js';

/** Paths of the item's file(s) and of intents files whose `intent` is the item. */
export function filesOfItem(files: Record<string, string>, id: string): { item: string[]; intents: string[] } {
  const item = [`${DIALOGS}/${id}.yaml`, `${DIALOGS}/${id}.yml`].filter((k) => k in files);
  const intents = Object.keys(files).filter((k) => {
    if (!isIntentPath(k)) return false;
    try {
      return (parseDocument(files[k]!).toJS() as { intent?: unknown } | null)?.intent === id;
    } catch {
      return false;
    }
  });
  return { item, intents };
}

/** The files without the item and its intents. */
export function removeItem(files: Record<string, string>, id: string): { files: Record<string, string>; removed: string[] } {
  const { item, intents } = filesOfItem(files, id);
  const removed = [...item, ...intents];
  return { files: Object.fromEntries(Object.entries(files).filter(([k]) => !removed.includes(k))), removed };
}

/**
 * An organisational change: renames applied to every item (or to `items` only, e.g. to split a
 * team). Each pair is optional; at least one is needed.
 *
 *   fromTeam → toTeam          owner.team (compared case-insensitively); with ownerContact, those
 *                              items' owner.contact becomes ownerContact
 *   fromGroup → toGroup        approver {kind: group} entries and eligibility.groups
 *   fromRole → toRole          approver {kind: role} entries and eligibility.roles
 *   fromPerson → toPerson      approver {kind: person}, data-owner owners, escalateTo and owner.contact
 *   fromDepartment → toDepartment   eligibility.departments
 */
export interface OrgChange {
  fromTeam?: string; toTeam?: string; ownerContact?: string;
  fromGroup?: string; toGroup?: string;
  fromRole?: string; toRole?: string;
  fromPerson?: string; toPerson?: string;
  fromDepartment?: string; toDepartment?: string;
  items?: string[];
}

export interface EditLine { item: string; path: string; from: unknown; to: unknown }

export interface ReassignResult {
  files: Record<string, string>;
  /** Every edit, per item and YAML path. */
  changes: EditLine[];
  /** Things a person should look at (e.g. conditions naming the old department). */
  warnings: string[];
}

const PAIRS = [['fromTeam', 'toTeam'], ['fromGroup', 'toGroup'], ['fromRole', 'toRole'], ['fromPerson', 'toPerson'], ['fromDepartment', 'toDepartment']] as const;

/** Problems with a change's shape (pairs incomplete, nothing to do, same value twice). */
export function orgChangeProblems(c: OrgChange): string[] {
  const out: string[] = [];
  for (const [a, b] of PAIRS) {
    if (Boolean(c[a]?.trim()) !== Boolean(c[b]?.trim())) out.push(`give both --${kebab(a)} and --${kebab(b)}`);
    else if (c[a]?.trim() && c[a]!.trim().toLowerCase() === c[b]!.trim().toLowerCase() && !(a === 'fromTeam' && c.ownerContact)) out.push(`--${kebab(a)} and --${kebab(b)} are the same`);
  }
  if (c.ownerContact && !c.fromTeam) out.push('--owner-contact needs --from-team (whose items get the new contact)');
  if (!PAIRS.some(([a]) => c[a]?.trim())) out.push('nothing to change: give --from-team/--to-team, --from-group/--to-group, --from-role/--to-role, --from-person/--to-person or --from-department/--to-department');
  return out;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);

/** A replacement of source text [start, end). */
interface TextEdit { start: number; end: number; text: string }

/** `value` as YAML text in the style of the scalar it replaces (plain when that stays the same string). */
function scalarText(value: string, like: Scalar | undefined, inFlow: boolean): string {
  const plainOk = /^[A-Za-z0-9@._][A-Za-z0-9@._ &/+-]*$/.test(value) && !/ $/.test(value) && parse(value) === value && !(inFlow && /[,[\]{}]/.test(value));
  if (like?.type === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  if (like?.type === Scalar.PLAIN && plainOk) return value;
  return plainOk && !like ? value : JSON.stringify(value);
}

/** Records a text edit replacing the scalar at `path` (when it has a source range). */
function scalarEdit(doc: Document, path: (string | number)[], to: string, edits: TextEdit[], inFlow = false): void {
  const node = doc.getIn(path, true);
  if (isScalar(node) && node.range) edits.push({ start: node.range[0], end: node.range[1], text: scalarText(to, node, inFlow) });
  else edits.push({ start: -1, end: -1, text: '' }); // no range: forces the whole-file fallback
}
const eq = (a: unknown, b: string | undefined) => typeof a === 'string' && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();

/** Renames the entries of a list at `path` equal to `from` (dropping duplicates it creates). */
function renameInList(doc: Document, path: (string | number)[], from: string, to: string, item: string, changes: EditLine[], edits: TextEdit[]): void {
  const node = doc.getIn(path, true);
  if (!isSeq(node)) return;
  const values = node.items.map((n) => (isScalar(n) ? n.value : n));
  const before = [...values];
  const itemEdits: TextEdit[] = [];
  let dropped = false;
  for (let j = values.length - 1; j >= 0; j--) {
    if (!eq(values[j], from)) continue;
    const dup = values.some((v, k) => k !== j && eq(v, to));
    if (dup) { doc.deleteIn([...path, j]); values.splice(j, 1); dropped = true; } else { scalarEdit(doc, [...path, j], to, itemEdits, Boolean(node.flow)); doc.setIn([...path, j], to); values[j] = to; }
  }
  if (stable(before) === stable(values)) return;
  changes.push({ item, path: path.join('.'), from: before, to: values });
  // a dropped duplicate: the whole list is written again, as a flow sequence
  if (dropped && node.range) edits.push({ start: node.range[0], end: node.range[1], text: `[${values.map((v) => scalarText(String(v), undefined, true)).join(', ')}]` });
  else if (dropped) edits.push({ start: -1, end: -1, text: '' });
  else edits.push(...itemEdits);
}

/** The source with the edits applied, when that parses to exactly `expected`; else the whole document re-serialised. */
function applyEdits(source: string, edits: TextEdit[], doc: Document): string {
  if (edits.every((e) => e.start >= 0)) {
    let out = source;
    for (const e of [...edits].sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.text + out.slice(e.end);
    try {
      if (stable(parse(out)) === stable(doc.toJS())) return out;
    } catch { /* fall through */ }
  }
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** Applies an organisational change to the item files; files without a change keep their text. */
export function reassign(files: Record<string, string>, c: OrgChange): ReassignResult {
  const out: Record<string, string> = { ...files };
  const changes: EditLine[] = [];
  const warnings: string[] = [];
  for (const [k, text] of Object.entries(files)) {
    if (!isItemPath(k)) continue;
    const doc = parseDocument(text);
    const raw = doc.toJS() as Record<string, unknown> | null;
    if (!raw || typeof raw.id !== 'string') continue;
    const id = raw.id;
    if (c.items?.length && !c.items.includes(id)) continue;
    const before = changes.length;
    const edits: TextEdit[] = [];
    const set = (path: (string | number)[], from: unknown, to: string) => {
      const parent = doc.getIn(path.slice(0, -1), true);
      scalarEdit(doc, path, to, edits, Boolean((parent as { flow?: boolean } | undefined)?.flow));
      doc.setIn(path, to);
      changes.push({ item: id, path: path.join('.'), from, to });
    };
    const owner = raw.owner as { team?: unknown; contact?: unknown } | undefined;
    if (c.fromTeam && c.toTeam && eq(owner?.team, c.fromTeam)) {
      if (owner!.team !== c.toTeam) set(['owner', 'team'], owner!.team, c.toTeam);
      if (c.ownerContact && !eq(owner!.contact, c.ownerContact)) set(['owner', 'contact'], owner!.contact, c.ownerContact);
    }
    if (c.fromPerson && c.toPerson && eq(owner?.contact, c.fromPerson) && !(c.ownerContact && eq(owner?.team, c.fromTeam))) set(['owner', 'contact'], owner!.contact, c.toPerson);
    const approvals = Array.isArray(raw.approvals) ? (raw.approvals as Record<string, unknown>[]) : [];
    approvals.forEach((s, i) => {
      const a = s.approver as Record<string, unknown> | undefined;
      if (a?.kind === 'group' && c.fromGroup && c.toGroup && eq(a.group, c.fromGroup)) set(['approvals', i, 'approver', 'group'], a.group, c.toGroup);
      if (a?.kind === 'role' && c.fromRole && c.toRole && eq(a.role, c.fromRole)) set(['approvals', i, 'approver', 'role'], a.role, c.toRole);
      if (a?.kind === 'person' && c.fromPerson && c.toPerson && eq(a.email, c.fromPerson)) set(['approvals', i, 'approver', 'email'], a.email, c.toPerson);
      if (a?.kind === 'data-owner' && c.fromPerson && c.toPerson && a.owners && typeof a.owners === 'object') {
        for (const [v, email] of Object.entries(a.owners as Record<string, unknown>)) if (eq(email, c.fromPerson)) set(['approvals', i, 'approver', 'owners', v], email, c.toPerson);
      }
      if (c.fromPerson && c.toPerson && eq(s.escalateTo, c.fromPerson)) set(['approvals', i, 'escalateTo'], s.escalateTo, c.toPerson);
    });
    const elig = raw.eligibility as Record<string, unknown> | undefined;
    if (elig && isMap(doc.getIn(['eligibility'], true))) {
      if (c.fromGroup && c.toGroup) renameInList(doc, ['eligibility', 'groups'], c.fromGroup, c.toGroup, id, changes, edits);
      if (c.fromRole && c.toRole) renameInList(doc, ['eligibility', 'roles'], c.fromRole, c.toRole, id, changes, edits);
      if (c.fromDepartment && c.toDepartment) renameInList(doc, ['eligibility', 'departments'], c.fromDepartment, c.toDepartment, id, changes, edits);
    }
    // conditions are expressions: not rewritten, but named so a person checks them
    if (c.fromDepartment || c.fromGroup || c.fromRole) {
      const words = [c.fromDepartment, c.fromGroup, c.fromRole].filter((x): x is string => Boolean(x));
      const conditions: string[] = [];
      const walk = (v: unknown, path: string) => {
        if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
        else if (v && typeof v === 'object') for (const [kk, vv] of Object.entries(v)) walk(vv, path ? `${path}.${kk}` : kk);
        else if (typeof v === 'string' && /(^|\.)when$/.test(path) && words.some((w) => v.includes(`"${w}"`) || v.includes(`'${w}'`))) conditions.push(`${path}: ${v}`);
      };
      walk(raw, '');
      for (const x of conditions) warnings.push(`${id}: the condition ${x} names the old value; it is not changed automatically`);
    }
    if (changes.length > before) out[k] = applyEdits(text, edits, doc);
  }
  return { files: out, changes, warnings };
}
