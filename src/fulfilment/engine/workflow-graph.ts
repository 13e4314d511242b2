/**
 * A workflow as a dependency graph: each step's `needs` (default: the previous step), validated
 * for unknown steps and cycles, with the ancestors of each step (what its templates may read).
 */
import type { WorkflowStepDef } from '../../catalogue/schema.js';

export interface GraphIssue { path: string; message: string }

/** The steps each step waits for, with the sequential default applied. */
export function dependencies(workflow: WorkflowStepDef[]): Map<string, string[]> {
  return new Map(workflow.map((s, i) => [s.id, s.needs ?? (i > 0 ? [workflow[i - 1]!.id] : [])]));
}

/** Unknown `needs`, self-dependencies and cycles, each with the path of the step that names it. */
export function graphIssues(workflow: WorkflowStepDef[]): GraphIssue[] {
  const issues: GraphIssue[] = [];
  const ids = new Set(workflow.map((s) => s.id));
  const deps = dependencies(workflow);
  workflow.forEach((s, i) => {
    for (const n of s.needs ?? []) {
      if (n === s.id) issues.push({ path: `workflow[${i}].needs`, message: `step "${s.id}" cannot need itself` });
      else if (!ids.has(n)) issues.push({ path: `workflow[${i}].needs`, message: `unknown step "${n}"; steps are: ${[...ids].join(', ')}` });
    }
  });
  if (issues.length) return issues;
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const n of deps.get(id) ?? []) { const c = visit(n); if (c) return c; }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const s of workflow) {
    const cycle = visit(s.id);
    if (cycle) {
      const i = workflow.findIndex((w) => w.id === cycle[0]);
      issues.push({ path: `workflow[${i}].needs`, message: `dependency cycle: ${cycle.join(' → ')}` });
      break;
    }
  }
  return issues;
}

/** Every step `id` transitively waits for. */
export function ancestors(workflow: WorkflowStepDef[], id: string): Set<string> {
  const deps = dependencies(workflow);
  const out = new Set<string>();
  const walk = (x: string) => { for (const n of deps.get(x) ?? []) if (!out.has(n)) { out.add(n); walk(n); } };
  walk(id);
  return out;
}
