/** Errors of lifecycle operations, with a code callers map to exit codes and HTTP statuses. */
import type { Queryable } from '../../db/database.js';
import { findPerson, type Person } from '../../directory/directory.repository.js';

export type LifecycleErrorCode = 'NOT_FOUND' | 'INVALID' | 'CONFLICT' | 'FORBIDDEN';

export class LifecycleError extends Error {
  constructor(readonly code: LifecycleErrorCode, message: string, readonly details: Record<string, unknown> = {}) { super(message); this.name = 'LifecycleError'; }
}

export const HTTP_STATUS: Record<LifecycleErrorCode, number> = { NOT_FOUND: 404, INVALID: 400, CONFLICT: 409, FORBIDDEN: 403 };

/** Who may change the catalogue's lifecycle (deprecate, reassign, re-route). */
export const CHANGERS = ['admin', 'catalogue-admin'];
/** Who may read usage and deprecations (changers, and auditors). */
export const READERS = [...CHANGERS, 'auditor'];

/** The acting person when they are active and hold one of `roles`; throws FORBIDDEN otherwise. */
export async function actorWithRole(q: Queryable, email: string | undefined, roles: string[]): Promise<Person> {
  const p = email ? await findPerson(q, email) : undefined;
  if (!p?.active || !p.roles.some((r) => roles.includes(r))) {
    throw new LifecycleError('FORBIDDEN', `Only ${roles.join(', ')} may do this${email ? ` (${email} may not)` : ': give the actor (an e-mail)'}.`);
  }
  return p;
}
