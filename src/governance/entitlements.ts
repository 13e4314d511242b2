/**
 * Which entitlements (directory groups) a request would grant, and whether that would give the
 * requester a conflicting combination with what they hold now (the conflict matrix).
 */
import { holds } from '../catalogue/condition.js';
import type { CatalogueItem } from '../catalogue/schema.js';
import { renderTemplate } from '../catalogue/template.js';
import type { GovernancePolicy } from './policy.js';

const GRANTS = /(^|\.)addToGroup$/;

/** Groups the workflow would add the requester to (steps whose `when` holds), rendered from the answers. */
export function grantedEntitlements(item: CatalogueItem, fields: Record<string, unknown>, requester: Record<string, unknown>): string[] {
  const ctx = { requester, fields, request: {}, steps: {} };
  const out = new Set<string>();
  for (const s of item.workflow) {
    if (!GRANTS.test(s.action) || !holds(s.when, { fields, requester })) continue;
    const input = renderTemplate(s.inputs, ctx) as Record<string, unknown>;
    const person = String(input.person ?? input.userName ?? input.email ?? requester.email ?? '').toLowerCase();
    if (person && person !== String(requester.email).toLowerCase()) continue;
    if (typeof input.group === 'string' && input.group) out.add(input.group);
  }
  return [...out];
}

export interface Conflict { pair: [string, string]; policy: 'refuse' | 'security-approval'; reason?: string }

/** Conflicts between current and granted entitlements (at least one of the pair must be new). */
export function conflictsOf(policy: GovernancePolicy, current: string[], granted: string[]): Conflict[] {
  const after = new Set([...current, ...granted]);
  const fresh = new Set(granted.filter((g) => !current.includes(g)));
  return policy.entitlementConflicts
    .filter((c) => c.entitlements.every((e) => after.has(e)) && c.entitlements.some((e) => fresh.has(e)))
    .map((c) => ({ pair: [c.entitlements[0]!, c.entitlements[1]!] as [string, string], policy: c.policy, ...(c.reason ? { reason: c.reason } : {}) }));
}
