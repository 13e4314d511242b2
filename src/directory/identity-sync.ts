/**
 * Identity sync: pulls people from an identity source through a connector operation (e.g. an http
 * connector over SCIM /Users with a JSONata mapping to {people: [...]}) and keeps the local
 * directory current: new people added, department/title/manager/location/employment type updated,
 * group memberships that came from the source added and removed, people marked inactive disabled
 * (which makes the JIT pass revoke their grants). errand's own roles are never overwritten.
 */
import { z } from 'zod';
import { audit } from '../audit/audit.repository.js';
import type { Database } from '../db/database.js';
import type { ActionInvoker } from '../fulfilment/engine/invoker.js';
import { addToGroup, createPersonIfAbsent, disableAccount, findPerson, normEmail } from './directory.repository.js';

const personSchema = z.object({
  email: z.string().email(), name: z.string().min(1), department: z.string().nullish(), title: z.string().nullish(), manager: z.string().email().nullish(),
  location: z.string().nullish(), employmentType: z.string().nullish(), active: z.boolean().default(true), groups: z.array(z.string()).default([]),
}).passthrough();
const outputSchema = z.object({ people: z.array(personSchema) });

export interface SyncResult { created: number; updated: number; disabled: number; groupsAdded: number; groupsRemoved: number; rejected: string[] }

export async function syncIdentities(db: Database, invoker: ActionInvoker, o: { action: string; deactivateMissing: boolean }): Promise<SyncResult> {
  const raw = await invoker.invoke(o.action, {}, { idempotencyKey: `identity-sync:${Date.now()}`, requestId: 'identity-sync', requestRef: 'identity-sync', db, signal: AbortSignal.timeout(120_000) });
  const parsed = outputSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`identity sync: ${o.action} must return {people: [...]}: ${parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const res: SyncResult = { created: 0, updated: 0, disabled: 0, groupsAdded: 0, groupsRemoved: 0, rejected: [] };
  const seen = new Set<string>();
  for (const p of parsed.data.people) {
    const email = normEmail(p.email);
    seen.add(email);
    await db.transaction(async (tx) => {
      const before = await findPerson(tx, email);
      if (!before) {
        await createPersonIfAbsent(tx, { email, name: p.name, department: p.department ?? null, title: p.title ?? null, manager: p.manager ?? null, location: p.location ?? null, employmentType: p.employmentType ?? 'employee', roles: ['employee'] }, 'identity-sync');
        res.created++;
      } else {
        const u = await tx.query(
          `UPDATE people SET name = $2, department = $3, title = $4, manager = $5, location = $6, employment_type = COALESCE($7, employment_type)
           WHERE email = $1 AND (name, department, title, manager, location, employment_type) IS DISTINCT FROM ($2, $3, $4, $5, $6, COALESCE($7, employment_type))`,
          [email, p.name, p.department ?? null, p.title ?? null, p.manager ? normEmail(p.manager) : null, p.location ?? null, p.employmentType ?? null]);
        if (u.rowCount) res.updated++;
      }
      if (!p.active && (await disableAccount(tx, email, 'inactive in the identity source'))) res.disabled++;
      for (const g of p.groups) if (await addToGroup(tx, email, g, null, 'identity-sync')) res.groupsAdded++;
      const removed = await tx.query(`DELETE FROM group_memberships WHERE person_email = $1 AND added_by = 'identity-sync' AND NOT (group_name = ANY($2))`, [email, p.groups]);
      res.groupsRemoved += removed.rowCount ?? 0;
    });
  }
  if (o.deactivateMissing) {
    const missing = await db.query<{ email: string }>(`SELECT email FROM people WHERE active AND NOT (email = ANY($1)) AND created_by IS DISTINCT FROM 'seed'`, [[...seen]]);
    for (const m of missing.rows) if (await disableAccount(db, m.email, 'not in the identity source')) res.disabled++;
  }
  await audit(db, { actor: 'identity-sync', action: 'directory.synced', subject: o.action, detail: { ...res } });
  return res;
}
