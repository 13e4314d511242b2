/**
 * Cross-reference rules of an item's `checks:`: ids are unique, conditions parse and name known
 * fields, every field a check names exists (with the right type), products and alternatives are
 * options of their field, http checks call a connector operation (or http.request) with templates
 * naming known fields. Each message names the check. References outside the item (compatibility
 * tables, other catalogue items) are checked at start-up by {@link validateCheckReferences}.
 */
import { compileCondition, ConditionSyntaxError } from '../../catalogue/condition.js';
import type { CatalogueError } from '../../catalogue/loader.js';
import { optionsOf, type CatalogueItem, type FieldDef } from '../../catalogue/schema.js';
import { templatePaths } from '../../catalogue/template.js';
import type { CheckDef } from './schema.js';
import type { CompatibilityTables } from './compatibility.js';

export interface CheckIssue { path: string; message: string }

const REQUESTER_ATTRS = new Set(['email', 'name', 'department', 'role', 'roles', 'manager', 'groups', 'employmentType', 'location', 'title']);
const REQUEST_ATTRS = new Set(['itemId', 'title']);

/** Fields a check reads (its dependencies in the dialog). */
export function checkDependencies(c: CheckDef): string[] {
  const deps = new Set<string>();
  if (c.when) { try { for (const f of compileCondition(c.when).fieldRefs) deps.add(f); } catch { /* reported by validation */ } }
  switch (c.kind) {
    case 'licence': if (c.field) deps.add(c.field); break;
    case 'compatibility': deps.add(c.field); break;
    case 'duplicate': for (const f of c.keyFields) deps.add(f); break;
    case 'conflict': if (c.subjectField) deps.add(c.subjectField); break;
    case 'http':
      if (c.fields) for (const f of c.fields) deps.add(f);
      else for (const p of templatePaths(c.inputs)) { const [scope, name] = p.split('.'); if (scope === 'fields' && name) deps.add(name); }
      break;
  }
  return [...deps];
}

/** Every problem of `item.checks` (empty when consistent). */
export function crossCheckChecks(item: CatalogueItem, connectorOps: Set<string>): CheckIssue[] {
  const issues: CheckIssue[] = [];
  const fields = new Map(item.fields.map((f) => [f.name, f]));
  const names = () => [...fields.keys()].join(', ') || '(none)';
  const seen = new Set<string>();
  (item.checks ?? []).forEach((c, i) => {
    const at = `checks[${i}]`;
    const bad = (path: string, message: string) => issues.push({ path: `${at}${path}`, message: `check "${c.id}": ${message}` });
    if (seen.has(c.id)) bad('.id', `duplicate check id "${c.id}"`);
    seen.add(c.id);
    const field = (name: string, path: string, types?: FieldDef['type'][]): FieldDef | undefined => {
      const f = fields.get(name);
      if (!f) { bad(path, `refers to unknown field "${name}"; known fields: ${names()}`); return undefined; }
      if (types && !types.includes(f.type)) { bad(path, `field "${name}" is a ${f.type} field; expected ${types.join(' or ')}`); return undefined; }
      return f;
    };
    const option = (f: FieldDef, value: string, path: string) => {
      const opts = optionsOf(f).map((o) => o.value);
      if (!opts.includes(value)) bad(path, `"${value}" is not an option of field "${f.name}"; options: ${opts.join(', ')}`);
    };
    if (c.when) {
      try {
        const cond = compileCondition(c.when);
        for (const f of cond.fieldRefs) if (!fields.has(f)) bad('.when', `condition "${c.when}" refers to unknown field "${f}"; known fields: ${names()}`);
        for (const a of cond.requesterRefs) if (!REQUESTER_ATTRS.has(a)) bad('.when', `condition "${c.when}" refers to unknown requester attribute "${a}"`);
      } catch (e) {
        if (e instanceof ConditionSyntaxError) bad('.when', `invalid condition: ${e.message}`);
        else throw e;
      }
    }
    switch (c.kind) {
      case 'licence': {
        if (c.product && (c.field || c.products)) bad('', 'give either product (one pool for the item) or field + products, not both');
        else if (!c.product && !(c.field && c.products)) bad('', 'needs product (one pool for the item) or field + products (answer value → pool)');
        const f = c.field ? field(c.field, '.field', ['choice']) : undefined;
        if (f) {
          for (const v of Object.keys(c.products ?? {})) option(f, v, `.products.${v}`);
          for (const [v, alts] of Object.entries(c.alternatives ?? {})) {
            option(f, v, `.alternatives.${v}`);
            for (const a of alts) option(f, a, `.alternatives.${v}`);
          }
        } else if (c.alternatives && !c.field) bad('.alternatives', 'alternatives need field (they are other answers to it)');
        break;
      }
      case 'compatibility':
        field(c.field, '.field', ['choice', 'multichoice']);
        break;
      case 'duplicate':
        c.keyFields.forEach((k, j) => field(k, `.keyFields[${j}]`));
        break;
      case 'conflict':
        if (c.subjectField) field(c.subjectField, '.subjectField', ['person']);
        break;
      case 'http': {
        if (c.action !== 'http.request' && !connectorOps.has(c.action)) {
          bad('.action', `unknown action "${c.action}"; expected http.request or a connector operation of dialogs/_connectors.yaml${connectorOps.size ? ` (${[...connectorOps].join(', ')})` : ' (none configured)'}`);
        }
        for (const p of templatePaths(c.inputs)) {
          const [scope, name] = p.split('.');
          if (scope === 'fields') { if (!name || !fields.has(name)) bad('.inputs', `template {{${p}}}: unknown field "${name ?? ''}"`); }
          else if (scope === 'requester') { if (!name || !REQUESTER_ATTRS.has(name)) bad('.inputs', `template {{${p}}}: unknown requester attribute "${name ?? ''}"`); }
          else if (scope === 'request') { if (!name || !REQUEST_ATTRS.has(name)) bad('.inputs', `template {{${p}}}: a check runs before the request exists; expected request.itemId or request.title`); }
          else bad('.inputs', `template {{${p}}}: expected requester.*, fields.* or request.itemId|title`);
        }
        (c.fields ?? []).forEach((k, j) => field(k, `.fields[${j}]`));
        break;
      }
    }
  });
  return issues;
}

/**
 * References that reach outside one item: compatibility tables must exist (and their alternatives
 * be options of the check's field); conflict checks must name an existing item (and a person field
 * of it). Returned as catalogue errors (`<id>.yaml: checks[i]...`), so start-up lists them like others.
 */
export function validateCheckReferences(items: CatalogueItem[], tables: CompatibilityTables, tablesFile: string): CatalogueError[] {
  const errors: CatalogueError[] = [];
  const byId = new Map(items.map((i) => [i.id, i]));
  for (const item of items) {
    (item.checks ?? []).forEach((c, i) => {
      const bad = (path: string, message: string) => errors.push({ file: `${item.id}.yaml`, path: `checks[${i}]${path}`, message: `check "${c.id}": ${message}` });
      if (c.kind === 'compatibility') {
        const t = tables[c.table];
        if (!t) { bad('.table', `no table "${c.table}" in ${tablesFile}; tables: ${Object.keys(tables).join(', ') || '(none: the file is missing or empty)'}`); return; }
        const f = item.fields.find((x) => x.name === c.field);
        const opts = f ? optionsOf(f).map((o) => o.value) : [];
        for (const [value, entry] of Object.entries(t.entries)) {
          if (!opts.includes(value)) continue;
          for (const a of entry.alternatives ?? []) if (!opts.includes(a)) bad('.table', `${tablesFile}: ${c.table}.entries.${value}.alternatives: "${a}" is not an option of field "${c.field}"`);
        }
      }
      if (c.kind === 'conflict') {
        const other = byId.get(c.item);
        if (!other) { bad('.item', `no catalogue item "${c.item}"`); return; }
        if (c.personField && other.fields.find((f) => f.name === c.personField)?.type !== 'person') bad('.personField', `"${c.personField}" is not a person field of ${c.item}; its person fields: ${other.fields.filter((f) => f.type === 'person').map((f) => f.name).join(', ') || '(none)'}`);
      }
    });
  }
  return errors;
}
