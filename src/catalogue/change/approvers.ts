/**
 * Who must approve a change (all steps open at once; any listed approver decides a step; any
 * denial denies the change):
 *
 *  - owner:<contact>   per owner contact of the touched items (before and after, so an ownership
 *                      move needs both): the person with that e-mail, or the members of the
 *                      directory group named after it (as src/reporting/access.ts ownedItems);
 *  - catalogue-admin   when no item is touched (configuration, intents or model only);
 *  - security          for a high-risk item, weaker controls (approvals, eligibility, risk,
 *                      masking, regulatory tags) or any governance policy change — the role named
 *                      by the CURRENT version's policy (securityApproverRole), never the draft's;
 *  - emergency-admin   for an emergency change (the one kind that may publish inside a freeze).
 *
 * The author is never an approver. A step that matches nobody else falls back to the
 * catalogue-admin role, then admin (and says so); with nobody at all the change cannot be created.
 */
import type { Queryable } from '../../db/database.js';
import { normEmail, peopleWithRole } from '../../directory/directory.repository.js';
import type { ImpactAssessment } from './impact.js';

export interface PlannedApproval { stepId: string; label: string; why: string; approvers: string[]; fallback?: string }

/** Active people who own `contact`: the person with that e-mail, or members of the group of that name. */
export async function ownersOf(q: Queryable, contact: string): Promise<string[]> {
  const c = normEmail(contact);
  const r = await q.query<{ email: string }>(
    `SELECT p.email FROM people p WHERE p.active AND (p.email = $1 OR EXISTS (SELECT 1 FROM group_memberships g
       WHERE g.person_email = p.email AND lower(g.group_name) = $1 AND (g.until IS NULL OR g.until >= CURRENT_DATE))) ORDER BY p.email`, [c]);
  return r.rows.map((x) => x.email);
}

async function withFallback(q: Queryable, stepId: string, found: string[], author: string, what: string, fallbackRoles = ['catalogue-admin', 'admin']): Promise<{ approvers: string[]; fallback?: string }> {
  const eligible = (xs: string[]) => [...new Set(xs.map(normEmail))].filter((e) => e !== normEmail(author));
  const approvers = eligible(found);
  if (approvers.length) return { approvers };
  for (const role of fallbackRoles) {
    const fb = eligible((await peopleWithRole(q, role)).map((p) => p.email));
    if (fb.length) return { approvers: fb, fallback: `no eligible ${what} (the author cannot approve); routed to role ${role}` };
  }
  return { approvers: [], fallback: `no eligible approver for ${stepId}` };
}

export async function planApprovals(q: Queryable, o: { impact: ImpactAssessment; author: string; emergency: boolean; securityRole: string }): Promise<PlannedApproval[]> {
  const steps: PlannedApproval[] = [];
  const byContact = new Map<string, { team: string; items: string[] }>();
  for (const it of o.impact.items) {
    for (const owner of it.owners) {
      const k = normEmail(owner.contact);
      const e = byContact.get(k) ?? { team: owner.team, items: [] };
      if (!e.items.includes(it.id)) e.items.push(it.id);
      byContact.set(k, e);
    }
  }
  for (const [contact, e] of [...byContact].sort(([a], [b]) => a.localeCompare(b))) {
    const r = await withFallback(q, `owner:${contact}`, await ownersOf(q, contact), o.author, `owner for ${contact}`);
    steps.push({ stepId: `owner:${contact}`, label: `Owner approval: ${e.team} (${e.items.join(', ')})`, why: `owner (${contact}) of ${e.items.join(', ')}`, ...r });
  }
  if (!byContact.size) {
    const r = await withFallback(q, 'catalogue-admin', (await peopleWithRole(q, 'catalogue-admin')).map((p) => p.email), o.author, 'catalogue admin', ['admin']);
    steps.push({ stepId: 'catalogue-admin', label: 'Catalogue admin review', why: 'no catalogue item is touched: configuration, intents or model only', ...r });
  }
  if (o.impact.security.required) {
    const r = await withFallback(q, 'security', (await peopleWithRole(q, o.securityRole)).map((p) => p.email), o.author, `security approver (role ${o.securityRole})`, ['admin']);
    steps.push({ stepId: 'security', label: 'Security review', why: o.impact.security.reasons.join('; '), ...r });
  }
  if (o.emergency) {
    const r = await withFallback(q, 'emergency-admin', (await peopleWithRole(q, 'admin')).map((p) => p.email), o.author, 'admin', []);
    steps.push({ stepId: 'emergency-admin', label: 'Emergency change: admin approval', why: 'an emergency change may publish inside a freeze window; an admin decides that', ...r });
  }
  return steps;
}
