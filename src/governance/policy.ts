/**
 * Governance policy (`dialogs/_governance.yaml`, optional): segregation of duties per risk level and
 * the entitlement conflict matrix. Validated with zod; a missing file means the defaults below.
 *
 *   segregationOfDuties:
 *     high: { approverMayFulfil: false, requesterMayFulfil: false }
 *   entitlementConflicts:
 *     - entitlements: [ap-clerk, ap-approver]
 *       policy: refuse                 # or security-approval
 *   securityApproverRole: security
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { z } from 'zod';

const sodRule = z.object({ approverMayFulfil: z.boolean().default(true), requesterMayFulfil: z.boolean().default(true) }).strict();

export const policySchema = z.object({
  segregationOfDuties: z.object({ low: sodRule.optional(), medium: sodRule.optional(), high: sodRule.optional() }).strict().default({}),
  entitlementConflicts: z.array(z.object({
    entitlements: z.array(z.string().min(1)).length(2, 'exactly two entitlements that must not be held together'),
    policy: z.enum(['refuse', 'security-approval']).default('refuse'),
    reason: z.string().optional(),
  }).strict()).default([]),
  securityApproverRole: z.string().min(1).default('security'),
  /** Handling rules per regulatory tag; `retentionDays`: personal data of finished requests is purged after it. */
  regulatory: z.record(z.string(), z.object({
    retentionDays: z.number().int().min(1).optional(),
    /** Items with this tag always get an approval by this role when no data-owner step applies (e.g. sox). */
    requireApprovalByRole: z.string().min(1).optional(),
  }).strict()).default({ gdpr: { retentionDays: 365 }, sox: { requireApprovalByRole: 'data-owner' } }),
  /** Keeps the local directory current from an identity source (a connector operation returning {people: [...]}). */
  identitySync: z.object({
    action: z.string().regex(/^[a-z][a-z0-9-]*\.[A-Za-z][A-Za-z0-9_-]*$/, 'a connector operation like "hrdir.listPeople"'),
    everyMinutes: z.number().int().min(1).default(60),
    deactivateMissing: z.boolean().default(false),
  }).strict().optional(),
  /** How often an access review campaign starts. */
  accessReviewEveryDays: z.number().int().min(1).default(90),
  /** Roles held through directory groups (besides roles set on the person). */
  roleGroups: z.record(z.string(), z.array(z.string().min(1))).default({}),
}).strict();

export type GovernancePolicy = z.infer<typeof policySchema>;

export const DEFAULT_POLICY: GovernancePolicy = policySchema.parse({
  segregationOfDuties: { high: { approverMayFulfil: false, requesterMayFulfil: false } },
});

export class PolicyError extends Error {
  readonly code = 'POLICY_INVALID';
}

/** Reads the policy file; missing = defaults; invalid = PolicyError naming each problem. */
export async function loadPolicy(file: string): Promise<GovernancePolicy> {
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_POLICY;
    throw e;
  }
  const r = policySchema.safeParse(parse(text) ?? {});
  if (!r.success) throw new PolicyError(`${file} is invalid:\n${r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
  return { ...r.data, segregationOfDuties: { ...DEFAULT_POLICY.segregationOfDuties, ...r.data.segregationOfDuties } };
}

/** The SoD rule for a risk level (everything allowed when the policy is silent). */
export function sodFor(p: GovernancePolicy, risk: 'low' | 'medium' | 'high'): { approverMayFulfil: boolean; requesterMayFulfil: boolean } {
  return p.segregationOfDuties[risk] ?? { approverMayFulfil: true, requesterMayFulfil: true };
}
