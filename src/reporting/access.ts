/**
 * Who may read the reports, and which items they see:
 *
 * - admin, auditor, catalogue-admin: every item (and requests of items no longer in the catalogue)
 * - service owner: the items they own: the item's `owner.contact` is their e-mail, or a directory
 *   group of theirs is named after it (team mailboxes kept as groups, e.g. `iam@example.com`)
 * - fulfiller: failures only (to review and change root-cause categories), every item
 *
 * Everyone else is refused. Roles are the directory's (own roles plus those held through groups).
 */
import type { Catalogue } from '../catalogue/loader.js';
import type { Person } from '../directory/directory.repository.js';

export type ReportKind = 'overview' | 'cycle-time' | 'bottlenecks' | 'failures' | 'forecast' | 'service-review';

export type ReportAccess = { ok: true; role: 'admin' | 'auditor' | 'catalogue-admin' | 'service-owner' | 'fulfiller'; items: string[] | null } | { ok: false; message: string };

/** The items a person owns as service owner. */
export function ownedItems(person: Person, catalogue: Catalogue): string[] {
  return catalogue.list().filter((i) => {
    const contact = i.owner.contact.toLowerCase();
    return contact === person.email || person.groups.some((g) => g.toLowerCase() === contact);
  }).map((i) => i.id).sort();
}

/** What `person` may see of report `kind`: every item (`items: null`), some, or nothing. */
export function reportAccess(person: Person | undefined, catalogue: Catalogue, kind: ReportKind): ReportAccess {
  if (!person || !person.active) return { ok: false, message: 'Unknown or inactive person: send ?actor=<your e-mail>.' };
  for (const role of ['admin', 'auditor', 'catalogue-admin'] as const) if (person.roles.includes(role)) return { ok: true, role, items: null };
  const owned = ownedItems(person, catalogue);
  if (owned.length) return { ok: true, role: 'service-owner', items: owned };
  if (kind === 'failures' && person.roles.includes('fulfiller')) return { ok: true, role: 'fulfiller', items: null };
  return { ok: false, message: 'Reports are for admins, auditors, catalogue admins and service owners (their own items); fulfillers see failures.' };
}

/** Narrows the scope to `item` when given; undefined when the item is outside it. */
export function narrow(items: string[] | null, item: string | undefined): string[] | null | undefined {
  if (!item) return items;
  if (items && !items.includes(item)) return undefined;
  return [item];
}
