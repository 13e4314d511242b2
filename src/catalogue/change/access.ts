/** Who may do what with catalogue changes, their error type, and the author's status messages. */
import type { OutMessage } from '../../conversation/messages.js';
import { postMessage } from '../../conversation/outbox.repository.js';
import type { Queryable } from '../../db/database.js';
import type { Person } from '../../directory/directory.repository.js';
import type { ChangeRequest } from './model.js';

export type ChangeErrorCode = 'NOT_FOUND' | 'INVALID' | 'FORBIDDEN' | 'CONFLICT' | 'NO_APPROVER';

export class ChangeError extends Error {
  constructor(readonly code: ChangeErrorCode, message: string) { super(message); this.name = 'ChangeError'; }
}

/** Roles that may read every change. */
export const READERS = ['admin', 'catalogue-admin', 'auditor', 'security'];
/** Roles that may create changes and add freeze windows. */
export const CREATORS = ['admin', 'catalogue-admin'];

export const hasRole = (p: Person | undefined, roles: string[]): boolean => Boolean(p?.active && p.roles.some((r) => roles.includes(r)));

/** A status message to a change's author (once per key); internal authors (`system`) get none. */
export async function tellAuthor(q: Queryable, c: ChangeRequest, text: string, key: string, kind: OutMessage['kind'] = 'status'): Promise<void> {
  if (!c.author.includes('@')) return;
  await postMessage(q, c.author, { kind, text }, { key: `${c.id}:${key}` });
}
