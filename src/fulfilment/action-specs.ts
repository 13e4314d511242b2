/**
 * The built-in fulfilment actions and the inputs each one requires. The catalogue loader checks
 * workflow steps against this list; the action implementations validate rendered inputs with zod.
 */
export const ACTION_INPUTS: Record<string, { required: string[]; optional: string[] }> = {
  'directory.createAccount': { required: ['email', 'name'], optional: ['department', 'manager', 'role', 'title'] },
  'directory.addToGroup': { required: ['person', 'group'], optional: ['until'] },
  'directory.removeFromGroup': { required: ['person', 'group'], optional: [] },
  'directory.disableAccount': { required: ['person'], optional: ['reason'] },
  notify: { required: ['to', 'text'], optional: [] },
  'case.create': { required: ['title'], optional: ['description', 'queue', 'priority', 'person'] },
  'http.request': { required: ['method', 'url'], optional: ['headers', 'body', 'expectStatus'] },
};

export const ACTION_NAMES = Object.keys(ACTION_INPUTS);
