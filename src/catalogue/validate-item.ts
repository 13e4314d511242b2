/**
 * Cross-reference checks on a structurally valid catalogue item: conditions parse and name known
 * fields, fields are not used before they are asked, options exist where needed, actions exist
 * with their required inputs, templates name known fields and earlier steps, ids are unique.
 */
import { compileCondition, ConditionSyntaxError } from './condition.js';
import type { CatalogueItem } from './schema.js';
import { templatePaths } from './template.js';
import { ACTION_INPUTS } from '../fulfilment/action-specs.js';
import { ancestors, graphIssues } from '../fulfilment/engine/workflow-graph.js';
import { crossCheckChecks } from '../requests/checks/validate.js';

export interface ItemIssue { path: string; message: string }

const REQUESTER_ATTRS = new Set(['email', 'name', 'department', 'role', 'roles', 'manager', 'groups', 'employmentType', 'location', 'title']);
const REQUEST_ATTRS = new Set(['ref', 'id', 'itemId', 'title']);

/** Returns every cross-reference problem of `item` (empty when it is consistent). */
/** Connector operations (`<connector id>.<operation>`) that exist besides the built-in actions. */
export type KnownOperations = Set<string>;

export function crossCheckItem(item: CatalogueItem, connectorOps: KnownOperations = new Set()): ItemIssue[] {
  const issues: ItemIssue[] = [];
  const fieldNames = item.fields.map((f) => f.name);
  const known = new Set(fieldNames);

  const checkCondition = (source: string, path: string, allowed: Set<string>, allowedLabel: string) => {
    try {
      const c = compileCondition(source);
      for (const f of c.fieldRefs) {
        if (!known.has(f)) issues.push({ path, message: `condition "${source}" refers to unknown field "${f}"; known fields: ${fieldNames.join(', ') || '(none)'}` });
        else if (!allowed.has(f)) issues.push({ path, message: `condition "${source}" refers to field "${f}", which is ${allowedLabel}` });
      }
      for (const a of c.requesterRefs) {
        if (!REQUESTER_ATTRS.has(a)) issues.push({ path, message: `condition "${source}" refers to unknown requester attribute "${a}"; expected one of ${[...REQUESTER_ATTRS].join(', ')}` });
      }
    } catch (e) {
      if (e instanceof ConditionSyntaxError) issues.push({ path, message: `invalid condition: ${e.message}` });
      else throw e;
    }
  };

  const seen = new Set<string>();
  item.fields.forEach((f, i) => {
    const path = `fields[${i}]`;
    if (seen.has(f.name)) issues.push({ path: `${path}.name`, message: `duplicate field name "${f.name}"` });
    seen.add(f.name);
    const hasOptions = (f.options?.length ?? 0) > 0;
    if ((f.type === 'choice' || f.type === 'multichoice') && !hasOptions) issues.push({ path: `${path}.options`, message: `a ${f.type} field needs options` });
    if (f.type !== 'choice' && f.type !== 'multichoice' && hasOptions) issues.push({ path: `${path}.options`, message: `options are only allowed on choice and multichoice fields, not on ${f.type}` });
    if (f.validation?.pattern) {
      try { new RegExp(f.validation.pattern); } catch { issues.push({ path: `${path}.validation.pattern`, message: `"${f.validation.pattern}" is not a valid regular expression` }); }
    }
    if (f.when) checkCondition(f.when, `${path}.when`, new Set(fieldNames.slice(0, i)), 'asked later (a field can only depend on earlier fields)');
  });

  const stepIds = new Set<string>();
  item.approvals.forEach((a, i) => {
    const path = `approvals[${i}]`;
    if (stepIds.has(a.id)) issues.push({ path: `${path}.id`, message: `duplicate approval step id "${a.id}"` });
    stepIds.add(a.id);
    if (a.when) checkCondition(a.when, `${path}.when`, known, 'unknown');
    if (a.approver.kind === 'data-owner' && !known.has(a.approver.field)) {
      issues.push({ path: `${path}.approver.field`, message: `data-owner approver refers to unknown field "${a.approver.field}"` });
    }
  });

  if (item.jit) {
    const f = item.fields.find((x) => x.name === item.jit!.durationField);
    if (!f || f.type !== 'number') issues.push({ path: 'jit.durationField', message: `"${item.jit.durationField}" must name a number field (hours)` });
    else if (f.validation?.max === undefined || f.validation.max > item.jit.maxHours) issues.push({ path: `fields`, message: `field "${f.name}" needs validation.max of at most jit.maxHours (${item.jit.maxHours})` });
    if (!item.workflow.some((s) => s.undo)) issues.push({ path: 'jit', message: 'a just-in-time item needs at least one workflow step with undo (how the access is revoked)' });
  }
  const earlier = new Set<string>();
  const graph = graphIssues(item.workflow);
  issues.push(...graph);
  const checkAction = (action: string, inputs: Record<string, unknown>, path: string) => {
    const spec = ACTION_INPUTS[action];
    if (!spec) {
      if (!connectorOps.has(action)) issues.push({ path: `${path}.action`, message: `unknown action "${action}"; expected one of ${[...Object.keys(ACTION_INPUTS), ...connectorOps].join(', ')}` });
      return;
    }
    for (const r of spec.required) if (!(r in inputs)) issues.push({ path: `${path}.inputs`, message: `action ${action} needs input "${r}"` });
    for (const k of Object.keys(inputs)) {
      if (!spec.required.includes(k) && !spec.optional.includes(k)) issues.push({ path: `${path}.inputs.${k}`, message: `action ${action} takes no input "${k}"; expected ${[...spec.required, ...spec.optional].join(', ')}` });
    }
  };
  item.workflow.forEach((s, i) => {
    const path = `workflow[${i}]`;
    if (earlier.has(s.id)) issues.push({ path: `${path}.id`, message: `duplicate workflow step id "${s.id}"` });
    checkAction(s.action, s.inputs, path);
    if (s.undo) checkAction(s.undo.action, s.undo.inputs, `${path}.undo`);
    if (s.when) checkCondition(s.when, `${path}.when`, known, 'unknown');
    const readable = graph.length ? earlier : ancestors(item.workflow, s.id);
    const undoReadable = new Set([...readable, s.id]);
    for (const [p, allowed] of [...templatePaths(s.inputs).map((x) => [x, readable] as const), ...templatePaths(s.undo?.inputs ?? {}).map((x) => [x, undoReadable] as const)]) {
      const [scope, name] = p.split('.');
      const bad = (msg: string) => issues.push({ path: `${path}.inputs`, message: `template {{${p}}}: ${msg}` });
      if (scope === 'fields') { if (!name || !known.has(name)) bad(`unknown field "${name ?? ''}"`); }
      else if (scope === 'requester') { if (!name || !REQUESTER_ATTRS.has(name)) bad(`unknown requester attribute "${name ?? ''}"`); }
      else if (scope === 'request') { if (!name || !REQUEST_ATTRS.has(name)) bad(`unknown request attribute "${name ?? ''}"; expected ${[...REQUEST_ATTRS].join(', ')}`); }
      else if (scope === 'steps') { if (!name || !allowed.has(name)) bad(`step "${name ?? ''}" is not a step this one waits for (add it to needs)`); }
      else bad('expected requester.*, fields.*, request.* or steps.*');
    }
    earlier.add(s.id);
  });
  issues.push(...crossCheckChecks(item, connectorOps));
  return issues;
}
