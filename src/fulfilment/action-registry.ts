/** The registry of fulfilment actions by name (the names the catalogue's workflows use). */
import type { Action } from './action.port.js';
import { ACTION_NAMES } from './action-specs.js';
import { addToGroupAction, createAccount, disableAccountAction, removeFromGroupAction } from './actions/directory-actions.js';
import { httpRequestAction } from './actions/http-action.js';
import { createCaseAction, notifyAction } from './actions/local-actions.js';

export type ActionRegistry = Map<string, Action>;

/** The built-in actions; `extra` adds or replaces actions (e.g. connectors, or tests). */
export function builtinActions(extra: Action[] = []): ActionRegistry {
  const all = [createAccount, addToGroupAction, removeFromGroupAction, disableAccountAction, notifyAction, createCaseAction, httpRequestAction, ...extra];
  const reg = new Map(all.map((a) => [a.name, a]));
  for (const n of ACTION_NAMES) if (!reg.has(n)) throw new Error(`action ${n} is declared in action-specs but not implemented`);
  return reg;
}
