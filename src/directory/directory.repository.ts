/**
 * The local directory: people, their roles, manager and group memberships, in PostgreSQL.
 * Every channel identity maps to a person by e-mail (lower-cased).
 */
import type { Queryable } from '../db/database.js';

export interface Person {
  email: string;
  name: string;
  department: string | null;
  title: string | null;
  roles: string[];
  manager: string | null;
  employmentType: string;
  location: string | null;
  groups: string[];
  active: boolean;
}

/** Roles of a person: those set on them plus those held through a group (role_groups). */
const ROLES = `(p.roles || COALESCE((SELECT array_agg(DISTINCT rg.role) FROM role_groups rg JOIN group_memberships gm ON gm.group_name = rg.group_name
  WHERE gm.person_email = p.email AND (gm.until IS NULL OR gm.until >= CURRENT_DATE) AND NOT rg.role = ANY(p.roles)), '{}'))`;
const SELECT = `SELECT p.email, p.name, p.department, p.title, ${ROLES} AS roles, p.manager, p.employment_type, p.location, p.active,
  COALESCE((SELECT array_agg(g.group_name ORDER BY g.group_name) FROM group_memberships g
  WHERE g.person_email = p.email AND (g.until IS NULL OR g.until >= CURRENT_DATE)), '{}') AS groups FROM people p`;

function toPerson(r: Record<string, unknown>): Person {
  return {
    email: r.email as string,
    name: r.name as string,
    department: (r.department as string | null) ?? null,
    title: (r.title as string | null) ?? null,
    roles: (r.roles as string[]) ?? [],
    manager: (r.manager as string | null) ?? null,
    employmentType: r.employment_type as string,
    location: (r.location as string | null) ?? null,
    groups: (r.groups as string[]) ?? [],
    active: r.active as boolean,
  };
}

export const normEmail = (e: string): string => e.trim().toLowerCase();

/** The person with this e-mail (any case), or undefined; undefined too for text no e-mail can be (a NUL, which PostgreSQL would refuse). */
export async function findPerson(q: Queryable, email: string): Promise<Person | undefined> {
  if (typeof email !== 'string' || email.includes('\u0000')) return undefined;
  const r = await q.query(`${SELECT} WHERE p.email = $1`, [normEmail(email)]);
  return r.rows[0] ? toPerson(r.rows[0]) : undefined;
}

export async function listPeople(q: Queryable): Promise<Person[]> {
  return (await q.query(`${SELECT} ORDER BY p.name`)).rows.map(toPerson);
}

export async function peopleWithRole(q: Queryable, role: string): Promise<Person[]> {
  return (await q.query(`${SELECT} WHERE $1 = ANY(${ROLES}) AND p.active ORDER BY p.email`, [role])).rows.map(toPerson);
}

export async function peopleInGroup(q: Queryable, group: string): Promise<Person[]> {
  return (await q.query(`${SELECT} WHERE p.active AND EXISTS (SELECT 1 FROM group_memberships g WHERE g.person_email = p.email AND g.group_name = $1
    AND (g.until IS NULL OR g.until >= CURRENT_DATE)) ORDER BY p.email`, [group])).rows.map(toPerson);
}

/** Finds people by e-mail or by (part of) their name, for `person` fields. */
export async function searchPeople(q: Queryable, text: string): Promise<Person[]> {
  const t = text.trim().toLowerCase();
  if (!t) return [];
  return (await q.query(`${SELECT} WHERE p.email = $1 OR lower(p.name) = $1 OR lower(p.name) LIKE '%' || $1 || '%' ORDER BY p.name LIMIT 5`, [t])).rows.map(toPerson);
}

export interface NewPerson {
  email: string; name: string; department?: string | null; title?: string | null; roles?: string[];
  manager?: string | null; employmentType?: string; location?: string | null; groups?: string[];
}

/** Inserts or updates a person (by e-mail) and adds their listed groups. Returns whether it was new. */
export async function upsertPerson(q: Queryable, p: NewPerson, actor = 'system'): Promise<boolean> {
  const r = await q.query<{ inserted: boolean }>(
    `INSERT INTO people (email, name, department, title, roles, manager, employment_type, location, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name, department = EXCLUDED.department, title = EXCLUDED.title,
       roles = EXCLUDED.roles, manager = EXCLUDED.manager, employment_type = EXCLUDED.employment_type, location = EXCLUDED.location
     RETURNING (xmax = 0) AS inserted`,
    [normEmail(p.email), p.name, p.department ?? null, p.title ?? null, p.roles ?? ['employee'], p.manager ? normEmail(p.manager) : null,
      p.employmentType ?? 'employee', p.location ?? null, actor],
  );
  for (const g of p.groups ?? []) await addToGroup(q, p.email, g, null, actor);
  return r.rows[0]?.inserted ?? false;
}

/** Creates a person only if absent; returns false when the e-mail already existed (idempotent). */
export async function createPersonIfAbsent(q: Queryable, p: NewPerson, actor: string): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO people (email, name, department, title, roles, manager, employment_type, location, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (email) DO NOTHING`,
    [normEmail(p.email), p.name, p.department ?? null, p.title ?? null, p.roles ?? ['employee'], p.manager ? normEmail(p.manager) : null,
      p.employmentType ?? 'employee', p.location ?? null, actor],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Adds a membership (idempotent: an existing one keeps its first `added_at`, `until` is updated). */
export async function addToGroup(q: Queryable, email: string, group: string, until: string | null, actor: string): Promise<boolean> {
  const r = await q.query<{ inserted: boolean }>(
    `INSERT INTO group_memberships (person_email, group_name, until, added_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (person_email, group_name) DO UPDATE SET until = EXCLUDED.until RETURNING (xmax = 0) AS inserted`,
    [normEmail(email), group, until, actor],
  );
  return r.rows[0]?.inserted ?? false;
}

export async function removeFromGroup(q: Queryable, email: string, group: string): Promise<boolean> {
  const r = await q.query('DELETE FROM group_memberships WHERE person_email = $1 AND group_name = $2', [normEmail(email), group]);
  return (r.rowCount ?? 0) > 0;
}

/** Disables an account (idempotent: returns false when it was already disabled). */
export async function disableAccount(q: Queryable, email: string, reason: string | null): Promise<boolean> {
  const r = await q.query('UPDATE people SET active = false, disabled_at = now(), disabled_reason = $2 WHERE email = $1 AND active', [normEmail(email), reason]);
  return (r.rowCount ?? 0) > 0;
}

/** The attributes conditions and templates see as `requester.*`. */
export function requesterAttributes(p: Person): Record<string, unknown> {
  return {
    email: p.email, name: p.name, department: p.department, title: p.title, roles: p.roles, role: p.roles[p.roles.length - 1] ?? 'employee',
    manager: p.manager, groups: p.groups, employmentType: p.employmentType, location: p.location,
  };
}

/** Replaces the role ← group mapping (from the governance policy). */
export async function syncRoleGroups(q: Queryable, roleGroups: Record<string, string[]>): Promise<void> {
  await q.query('DELETE FROM role_groups');
  for (const [role, groups] of Object.entries(roleGroups)) for (const g of groups) await q.query('INSERT INTO role_groups (role, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [role, g]);
}
